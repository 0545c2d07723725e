"""Online top-up by card: the console collects the card for a PaymentIntent this starts.

The webhook (shared.services.stripe_webhooks) completes it: a `stripe` payment, the wallet credit and
the `stripe` payment settings with the values chosen here (shared.domain.settings.online_top_up_settings: the
amounts, the top-up mode and target balance; the organization's own guardrails are kept).
"""

from __future__ import annotations

from collections.abc import Callable

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.cursor import Owner
from shared.domain.card_amounts import check_chargeable
from shared.domain.guardrails import check_target_for_card
from shared.domain.organization import OnlineTopUp, Organization
from shared.errors import Conflict
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.repositories.keys import hashed
from shared.repositories.organizations import OrganizationRepository
from shared.repositories.store import Store
from shared.repositories.stripe_markers import StripeMarker
from shared.responses.accounts import OnlineTopUpOut, OnlineTopUpPage
from shared.services.common import audit, cursor_scope, list_scope, once, organization_for, with_retries
from shared.stripe_gateway import StripeGateway
from shared.top_up_models import OnlineTopUpIn

REQUEST_TTL_SECONDS = 2 * 86_400  # beyond the idempotency record's 24 h: a key reused in between is refused


class OnlineTopUpService:
    def __init__(self, store: Store, idempotency: Idempotency, gateway: StripeGateway,
                 organizations: OrganizationRepository, clock: Callable[[], float]):
        self.store, self.idempotency, self.gateway, self.organizations = store, idempotency, gateway, organizations
        self._clock = clock

    def list(self, principal: Principal, org_id: str, limit: int, cursor: str | None) -> OnlineTopUpPage:
        """The organization's online top-ups by card, newest first: a declined card leaves a record a person reads
        (`decline_code`, `failure_message`). The first page reads the organization (404 for another partner's);
        a cursor carries its owner (shared.services.common)."""
        codec, route = self.store.cursors, "online_top_ups"
        if cursor is None:
            org = organization_for(self.store, principal, org_id)
            scope = list_scope(principal, route, owner=Owner(org.partner_id, org.id))
        else:
            scope = cursor_scope(codec, principal, route, org_id, cursor)
        items, next_cursor = self.organizations.online_top_ups_page(org_id, limit=limit, cursor=cursor, scope=scope)
        return OnlineTopUpPage(items=[OnlineTopUpOut.of_record(r) for r in items], next_cursor=next_cursor)

    def start(self, principal: Principal, org_id: str, body: OnlineTopUpIn, key: str | None) -> OnlineTopUpOut:
        """Returns the top-up with the PaymentIntent's `client_secret` for the console (Stripe.js).

        Nothing is recorded unless Stripe made the PaymentIntent: an amount Stripe could not charge is refused
        first (422 `card_amount_not_allowed`), Stripe's refusal is 422 `payment_provider_refused`, and no answer
        is 503 `payment_provider_unavailable`. The top-up's id (the PaymentIntent's idempotency key) is kept for the
        `Idempotency-Key` when there is one, so a retry after a 503 resumes the same PaymentIntent."""

        def attempt(complete: Completion | None) -> OnlineTopUpOut:
            org = organization_for(self.store, principal, org_id)
            principal.check_top_up(org.partner_id, org.id)  # the partner's finance admin, or the org's own admin
            # the trigger too, once set (auto_trigger needs one above 0): a trigger Stripe could never charge fails here
            check_chargeable({"amount": body.amount} | ({"trigger_amount": body.trigger_amount}
                                                      if body.trigger_amount else {}), org.currency)
            check_target_for_card(body.top_up_mode, body.target_balance, body.limit_threshold, org.currency)
            customer_id = org.stripe_customer_id or self._customer(org)
            at = utc_now_str()
            # made before the call: it is the PaymentIntent's idempotency key
            record_id = self._record_id(org, key, at) if key is not None else new_id("otu")
            intent = self.gateway.start_online_payment(top_up_id=record_id, org_id=org.id,
                                                       partner_id=org.partner_id, customer_id=customer_id,
                                                       amount=body.amount, currency=org.currency)
            record = OnlineTopUp(id=record_id, org_id=org.id, partner_id=org.partner_id, amount=body.amount,
                                 currency=org.currency, trigger_amount=body.trigger_amount,
                                 limit_threshold=body.limit_threshold, auto_trigger=body.auto_trigger,
                                 top_up_mode=body.top_up_mode, target_balance=body.target_balance,
                                 customer_id=customer_id, payment_intent_id=intent.id, created_at=at,
                                 created_by=principal.sub, updated_at=at)
            result = OnlineTopUpOut.of_record(record, client_secret=intent.client_secret)
            uow = self.store.unit_of_work().create(record).create(audit(
                principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                action="online_top_up.started", at=at,
                changes={"online_top_up_id": record.id, "amount": body.amount, "payment_intent": intent.id,
                         "trigger_amount": body.trigger_amount, "limit_threshold": body.limit_threshold,
                         "auto_trigger": body.auto_trigger, "top_up_mode": body.top_up_mode,
                         "target_balance": body.target_balance}))
            return uow.commit_returning(result, complete)

        return once(self.idempotency, principal, f"online_top_up.start:{org_id}", key, body, OnlineTopUpOut,
                    attempt, tenant=principal.tenant if principal.is_customer else None)

    def _record_id(self, org: Organization, key: str, at: str) -> str:
        """The top-up id an Idempotency-Key started (kept 2 days), or a new one written for it now: a retry after a
        503 resumes the PaymentIntent Stripe may have made, and ids stay ordered by time."""
        request = hashed(f"{org.partner_id}|{org.id}|{key}")
        marker = self.store.get(StripeMarker, "online_top_up_request", request)
        if marker is None:
            marker = StripeMarker(kind="online_top_up_request", stripe_id=request, org_id=org.id, at=at,
                                  online_top_up_id=new_id("otu"), expiration=int(self._clock()) + REQUEST_TTL_SECONDS)
            self.store.unit_of_work().create(marker).commit()  # a racing twin is held off by the idempotency record
        assert marker.online_top_up_id is not None
        if self.store.get(OnlineTopUp, org.id, marker.online_top_up_id) is not None:
            # its first answer is no longer remembered (24 h), and Stripe may have forgotten its key too
            raise Conflict("idempotency_key_reused", "This Idempotency-Key started an online top-up over a day "
                                                     "ago; start a new one with a new key.")
        return marker.online_top_up_id

    def _customer(self, org: Organization) -> str:
        """The organization's Stripe customer, created once: the key `customer:{org}` makes a racing or
        retried creation return the same customer, and only the first id is stored."""
        customer_id = self.gateway.create_customer(org_id=org.id, partner_id=org.partner_id, name=org.name)

        def store() -> str:
            current = self.store.get(Organization, org.id)
            assert current is not None
            if current.stripe_customer_id:
                return current.stripe_customer_id
            updated = current.model_copy(update={"stripe_customer_id": customer_id, "version": current.version + 1})
            self.store.unit_of_work().save(updated, current.version).commit()
            return customer_id

        return with_retries(store)

"""The worker: one organization's automatic top-up for one business date, at most once (the attempt's
state machine). See docs/auto-top-up.md.

  1. claim: the attempt is created `claimed` by a conditional write before any side effect; a delivery
     finding it final is a duplicate; finding it `claimed` means an earlier delivery crashed after its
     claim, and this one carries on (recovery, no lost top-up);
  2. fund: on one consistent read of the claim, the organization and its month's sum, the amount is decided
     (fixed or target mode, reduced to what the monthly cap leaves: shared.domain.guardrails); the
     organization's funding method (shared.services.funding) commits the side effect and the attempt's
     outcome in one transaction conditioned on the claim (no double top-up), on the organization as read
     and on the cap (shared.services.guardrails); a lost race re-reads all and decides again;
  3. a `charge_pending` card attempt is completed by the charge (also on a redelivery that finds it
     without a PaymentIntent);
  4. the outcome's domain event is published (shared.services.domain_events).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.clock import utc_now_str
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.guardrails import MonthlyAutoTopUps, capped_amount, month_of, requested_amount
from shared.domain.organization import Organization
from shared.errors import Conflict
from shared.repositories.store import Store
from shared.services.common import with_retries
from shared.services.domain_events import DomainEvents
from shared.services.funding import CardFunding, Claim, Funding
from shared.services.guardrails import Guardrails
from shared.vocabulary import SettingsMethod


class _Claimed(Conflict):
    def __init__(self) -> None:
        super().__init__("attempt_claimed", "This organization's top-up of this date is already claimed.")


class AutoTopUpWorker:
    def __init__(self, store: Store, funding: Mapping[SettingsMethod, Funding], card: CardFunding,
                 events: DomainEvents, guardrails: Guardrails):
        self.store, self.funding, self.card, self.events = store, funding, card, events
        self.guardrails = guardrails

    def top_up(self, org_id: str, business_date: str) -> str:
        """Top one organization up for one business date, at most once; returns the outcome."""
        org = self.store.get(Organization, org_id)
        if org is None:
            return "unknown_organization"
        attempt = self._claim(org, business_date)
        if attempt.status == "charge_pending" and attempt.payment_intent_id is None:
            return self.card.complete(attempt).status  # an earlier delivery did not learn the charge's outcome
        if attempt.status != "claimed":
            self.events.publish(attempt)  # a duplicate delivery; publishes only if an earlier publish failed
            return f"already_{attempt.status}"
        final = with_retries(lambda: self._fund(org_id, business_date))
        if final.status == "charge_pending":
            final = self.card.complete(final)
        self.events.publish(final)
        return final.status

    def _claim(self, org: Organization, business_date: str) -> AutoTopUpAttempt:
        existing = self.store.get(AutoTopUpAttempt, org.id, business_date)
        if existing:
            return existing
        at = utc_now_str()
        attempt = AutoTopUpAttempt(org_id=org.id, partner_id=org.partner_id, business_date=business_date,
                                   method=org.settings.method, top_up_mode=org.settings.top_up_mode,
                                   amount=requested_amount(org.settings, org.balance, org.currency,
                                                           card=org.settings.method == "stripe"),
                                   currency=org.currency, created_at=at, updated_at=at)
        try:
            self.store.unit_of_work().create(attempt, taken=_Claimed()).commit()
        except _Claimed:
            claimed = self.store.get(AutoTopUpAttempt, org.id, business_date)
            assert claimed is not None  # claims are never deleted
            return claimed
        return attempt

    def _fund(self, org_id: str, business_date: str) -> AutoTopUpAttempt:
        """Decide on a fresh, consistent read of the claim, the organization and its month (one round trip). Every
        attempt that does not top up is recorded with its reason: `not_due`, `monthly_cap_reached`, or the funding
        method's own."""
        month = month_of(business_date)
        found = (self.store.batch().add(AutoTopUpAttempt, org_id, business_date).add(Organization, org_id)
                 .add(MonthlyAutoTopUps, org_id, month).fetch())
        attempt, org = found.get(AutoTopUpAttempt, org_id, business_date), found.get(Organization, org_id)
        assert attempt is not None and org is not None  # claimed above; organizations are not deleted
        if attempt.status != "claimed":
            return attempt  # another delivery finished it meanwhile
        summed = found.get(MonthlyAutoTopUps, org_id, month)
        used = summed.total if summed else 0
        card = org.settings.method == "stripe"
        requested = requested_amount(org.settings, org.balance, org.currency, card=card)
        amount = capped_amount(requested, org.settings.monthly_cap, used, org.currency, card=card)
        claim = Claim(org, attempt, business_date, utc_now_str(), self.guardrails, amount, requested, used)
        if not org.due or requested <= 0:  # switched off, or topped up meanwhile: never charged
            return self._skip(claim, "not_due")
        if amount <= 0:
            return self._skip(claim, "monthly_cap_reached")
        return self.funding[org.settings.method].fund(claim)

    def _skip(self, claim: Claim, reason: str) -> AutoTopUpAttempt:
        uow = self.store.unit_of_work()
        final = claim.settle(uow, "skipped", reason=reason)
        uow.commit()
        return final

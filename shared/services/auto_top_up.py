"""The daily automatic top-up: the sweep finds due organizations, the worker tops each up once a day.

Worker, per (organization, business date) - see docs/auto-top-up.md:
  1. claim: the attempt item is created `claimed` by a conditional write before any side effect;
     a delivery finding it final is a duplicate; finding it `claimed` means an earlier delivery
     crashed after its claim, and this one carries on (recovery, no lost top-up);
  2. the side effect and the attempt's outcome are one transaction, conditioned on the attempt
     being still `claimed` (version): two deliveries can never both act (no double top-up);
  3. the outcome's domain event goes to the EventBridge bus; the attempt records that it did, so a
     redelivery after a failed publish publishes it again.

Stripe (card) customers: the side effect is outside DynamoDB, so step 2 is split. The attempt is
moved `claimed` -> `charge_pending` (with the customer and card to charge) *before* the off-session charge, whose
Stripe idempotency key is `auto-top-up:{org}:{business date}`; a delivery finding `charge_pending`
without a PaymentIntent (a crash or error around the call) repeats the same call, which Stripe
answers with the first charge's result instead of charging again. The webhook credits the wallet
(shared.services.stripe_webhooks); a decline is recorded here at once, and by the webhook too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.session import get_session

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.domain.attempt import AutoTopUpAttempt, business_date_of
from shared.domain.invoice import Invoice, InvoiceCounter
from shared.domain.organization import Organization
from shared.domain.wallet import Posting, post, post_partner
from shared.errors import ConcurrentUpdate, Conflict
from shared.repositories.organizations import DUE_SHARDS, OrganizationRepository
from shared.repositories.partner_wallets import PartnerWalletRepository
from shared.repositories.store import Store
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit, with_retries
from shared.services.invoicing import with_free_number, write_invoice
from shared.settings import Settings

SYSTEM = Principal(sub="system:auto-top-up", partner_id=None, groups=frozenset())
BATCH = 10  # SQS SendMessageBatch maximum


class _Claimed(Conflict):
    def __init__(self) -> None:
        super().__init__("attempt_claimed", "This organization's top-up of this date is already claimed.")


class AutoTopUpService:
    def __init__(self, settings: Settings, store: Store, organizations: OrganizationRepository,
                 wallets: PartnerWalletRepository):
        self.settings, self.store, self.organizations, self.wallets = settings, store, organizations, wallets
        # A test hook (fault injection): called between the claim and the side effect.
        self.fault_after_claim: Callable[[str], None] | None = None

    @cached_property
    def sqs(self) -> Any:
        return get_session().create_client("sqs", region_name=self.settings.aws_region,
                                           endpoint_url=self.settings.sqs_endpoint)

    @cached_property
    def stripe(self) -> Any:
        from shared.stripe_gateway import StripeGateway

        return StripeGateway(self.settings)

    @cached_property
    def events(self) -> Any:
        return get_session().create_client("events", region_name=self.settings.aws_region,
                                           endpoint_url=self.settings.events_endpoint)

    # --- the sweep ------------------------------------------------------------------------------------
    def sweep(self, event_time: str) -> dict[str, Any]:
        """Queue every due organization for `event_time`'s business date; reads only the due index."""
        business_date = business_date_of(event_time)
        queries = read = queued = 0
        pending: list[dict[str, str]] = []
        for shard in range(DUE_SHARDS):
            start = None
            while True:
                org_ids, start = self.organizations.due_ids(shard, start)
                queries += 1
                read += len(org_ids)
                pending += [{"org_id": org_id, "business_date": business_date} for org_id in org_ids]
                while len(pending) >= BATCH:
                    queued += self._send(pending[:BATCH])
                    pending = pending[BATCH:]
                if start is None:
                    break
        if pending:
            queued += self._send(pending)
        return {"business_date": business_date, "queries": queries, "items_read": read, "queued": queued}

    def _send(self, messages: list[dict[str, str]]) -> int:
        entries = [{"Id": str(i), "MessageBody": json.dumps(m, sort_keys=True)} for i, m in enumerate(messages)]
        for _ in range(3):
            failed = self.sqs.send_message_batch(QueueUrl=self.settings.queue_url, Entries=entries).get("Failed", [])
            if not failed:
                return len(messages)
            entries = [e for e in entries if e["Id"] in {f["Id"] for f in failed}]
        raise RuntimeError(f"{len(entries)} messages could not be queued")  # the schedule retries the sweep

    # --- the worker -----------------------------------------------------------------------------------
    def top_up(self, org_id: str, business_date: str) -> str:
        """Top one organization up for one business date, at most once; returns the outcome."""
        org = self.store.get(Organization, org_id)
        if org is None:
            return "unknown_organization"
        attempt = self._claim(org, business_date)
        if attempt.status == "charge_pending" and attempt.payment_intent_id is None:
            return self._charge(attempt).status  # an earlier delivery did not learn the charge's outcome
        if attempt.status != "claimed":
            self._publish(attempt)  # a duplicate delivery; publishes only if an earlier publish failed
            return f"already_{attempt.status}"
        if self.fault_after_claim:
            self.fault_after_claim(org_id)
        final = with_retries(lambda: self._act(org_id, business_date))
        if final.status == "charge_pending":
            final = self._charge(final)
        self._publish(final)
        return final.status

    def _claim(self, org: Organization, business_date: str) -> AutoTopUpAttempt:
        existing = self.store.get(AutoTopUpAttempt, org.id, business_date)
        if existing:
            return existing
        at = utc_now_str()
        attempt = AutoTopUpAttempt(org_id=org.id, partner_id=org.partner_id, business_date=business_date,
                                   method=org.settings.method, amount=org.settings.trigger_amount,
                                   currency=org.currency, created_at=at, updated_at=at)
        try:
            self.store.unit_of_work().create(attempt, taken=_Claimed()).commit()
        except _Claimed:
            claimed = self.store.get(AutoTopUpAttempt, org.id, business_date)
            assert claimed is not None  # claims are never deleted
            return claimed
        return attempt

    def _act(self, org_id: str, business_date: str) -> AutoTopUpAttempt:
        """Decide on a fresh, consistent read of the claim and the organization (one round trip)."""
        found = self.store.batch().add(AutoTopUpAttempt, org_id, business_date).add(Organization, org_id).fetch()
        attempt, org = found.get(AutoTopUpAttempt, org_id, business_date), found.get(Organization, org_id)
        assert attempt is not None and org is not None  # claimed above; organizations are not deleted
        if attempt.status != "claimed":
            return attempt  # another delivery finished it meanwhile
        at = utc_now_str()
        uow = self.store.unit_of_work()

        def outcome(status: str, **fields: Any) -> AutoTopUpAttempt:
            final = attempt.model_copy(update={"status": status, "updated_at": at, "version": attempt.version + 1,
                                               "method": org.settings.method, "amount": org.settings.trigger_amount,
                                               **fields})
            uow.save(final, attempt.version)  # still claimed: no other delivery has acted
            return final

        if not org.due:
            final = outcome("skipped", reason="not_due")
        elif org.settings.method == "cheque_or_tt":
            return self._issue_invoice(org, attempt, business_date)
        elif org.settings.method == "master_account":
            final = self._transfer(uow, org, business_date, at, outcome)
        elif not (org.stripe_customer_id and org.stripe_payment_method_id):
            final = outcome("failed", reason="no_saved_card")
        else:  # stripe: recorded before the call (see the module's docstring)
            final = outcome("charge_pending", customer_id=org.stripe_customer_id,
                            payment_method_id=org.stripe_payment_method_id)
        uow.commit()
        return final

    def _charge(self, attempt: AutoTopUpAttempt) -> AutoTopUpAttempt:
        """The off-session charge of a `charge_pending` attempt, and what Stripe answered."""
        from shared.stripe_gateway import CardDeclined

        if not (attempt.customer_id and attempt.payment_method_id):
            raise RuntimeError(f"attempt {attempt.org_id}/{attempt.business_date} has no card to charge")
        try:
            intent = self.stripe.charge_off_session(
                org_id=attempt.org_id, partner_id=attempt.partner_id, business_date=attempt.business_date,
                customer_id=attempt.customer_id, payment_method_id=attempt.payment_method_id,
                amount=attempt.amount, currency=attempt.currency)
            update: dict[str, Any] = {"payment_intent_id": intent.id}
        except CardDeclined as declined:
            update = {"status": "failed", "reason": declined.reason, "payment_intent_id": declined.payment_intent_id}

        def record() -> AutoTopUpAttempt:
            current = self.store.get(AutoTopUpAttempt, attempt.org_id, attempt.business_date)
            assert current is not None
            if current.status != "charge_pending" or current.payment_intent_id:
                return current  # the webhook got there first
            final = current.model_copy(update={**update, "updated_at": utc_now_str(), "version": current.version + 1})
            self.store.unit_of_work().save(final, current.version).commit()
            return final

        return with_retries(record)

    def _issue_invoice(self, org: Organization, attempt: AutoTopUpAttempt, business_date: str) -> AutoTopUpAttempt:
        previous = self.store.get(Invoice, org.last_auto_invoice_id) if org.last_auto_invoice_id else None
        at = utc_now_str()
        if previous is not None and previous.status in ("unpaid", "partially_paid"):
            final = attempt.model_copy(update={"status": "skipped", "reason": "previous_invoice_unpaid",
                                               "invoice_id": previous.id, "updated_at": at,
                                               "version": attempt.version + 1})
            self.store.unit_of_work().save(final, attempt.version).commit()
            return final

        def write(skip: int) -> AutoTopUpAttempt:
            uow = self.store.unit_of_work()
            invoice = write_invoice(uow, org=org, counter=self.store.get(InvoiceCounter, org.partner_id),
                                    number=None, skip=skip, type_="top_up", amount=org.settings.trigger_amount,
                                    issued_date=business_date, due_date=None, actor=SYSTEM.sub, at=at, automatic=True)
            uow.save(org.model_copy(update={"last_auto_invoice_id": invoice.id, "version": org.version + 1}),
                     org.version)
            final = attempt.model_copy(update={"status": "invoice_issued", "invoice_id": invoice.id, "updated_at": at,
                                               "version": attempt.version + 1})
            uow.save(final, attempt.version)
            uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.issued_automatically", at=at,
                             changes={"business_date": business_date, "amount": invoice.amount}))
            uow.commit()
            return final

        return with_free_number(write, number_given=False)  # a lost race: _act's caller re-reads and retries

    def _transfer(self, uow: UnitOfWork, org: Organization, business_date: str, at: str,
                  outcome: Callable[..., AutoTopUpAttempt]) -> AutoTopUpAttempt:
        """Partner master wallet -> organization wallet, in the same transaction as the outcome."""
        amount = org.settings.trigger_amount
        wallet = self.wallets.get(org.partner_id, org.currency)
        if wallet.balance < amount:
            return outcome("failed", reason="partner_insufficient_funds")
        reference = f"auto-top-up:{org.id}:{business_date}"
        debited, partner_entry = post_partner(wallet, "auto_credit", -amount, reference, actor=SYSTEM.sub, at=at)
        credited, entries = post(org, [Posting("auto_credit", amount, reference)], actor=SYSTEM.sub, at=at)
        uow.save(debited, wallet.version).create(partner_entry).save(credited, org.version)
        for entry in entries:
            uow.create(entry)
        uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action="wallet.auto_credited", at=at,
                         changes={"amount": amount, "business_date": business_date, "from": "partner_master_wallet",
                                  "balance": {"from": org.balance, "to": credited.balance}}))
        return outcome("credited")

    def _publish(self, attempt: AutoTopUpAttempt) -> None:
        """The outcome's domain event, once it is published (notifications subscribe on the bus)."""
        kinds = {"invoice_issued": "AutoTopUpInvoiceIssued", "credited": "AutoTopUpCredited"}
        if attempt.status not in kinds or attempt.event_published or not self.settings.event_bus_name:
            return
        detail = {"org_id": attempt.org_id, "partner_id": attempt.partner_id, "business_date": attempt.business_date,
                  "method": attempt.method, "amount": attempt.amount, "currency": attempt.currency,
                  "invoice_id": attempt.invoice_id}
        res = self.events.put_events(Entries=[{
            "Source": "payments.auto-top-up", "DetailType": kinds[attempt.status], "Detail": json.dumps(detail),
            "EventBusName": self.settings.event_bus_name}])
        if res.get("FailedEntryCount"):
            raise RuntimeError("the domain event was not accepted")  # the message is retried, and so is this
        published = attempt.model_copy(update={"event_published": True, "version": attempt.version + 1})
        try:
            self.store.unit_of_work().save(published, attempt.version).commit()
        except ConcurrentUpdate:
            pass  # a concurrent duplicate recorded it

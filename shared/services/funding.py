"""The three ways an automatic top-up is funded, behind one small interface.

Each `fund(claim)` commits its side effect together with the attempt's outcome in one transaction that
is conditioned on the attempt still being `claimed` (its version), so two deliveries can never both act.
The card is the exception the contract makes: its money moves outside DynamoDB, so `fund` only records
`charge_pending` (with the customer and card) and `complete` makes the off-session charge afterwards,
with Stripe's idempotency key `auto-top-up:{org}:{business date}`; the webhook credits the wallet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.auth import Principal
from shared.clock import rfc3339
from shared.domain.attempt import AutoTopUpAttempt, card_failure
from shared.domain.invoice import Invoice, InvoiceCounter
from shared.domain.organization import Organization
from shared.domain.reconciling import key_expired
from shared.domain.wallet import Posting, post, post_partner
from shared.repositories.partner_wallets import PartnerWalletRepository
from shared.repositories.store import Store
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit, with_retries
from shared.services.invoicing import with_free_number, write_invoice
from shared.stripe_gateway import ProviderRefused, StripeGateway

SYSTEM = Principal(sub="system:auto-top-up", partner_id=None, groups=frozenset())
LOOKUP_MARGIN_SECONDS = 3600  # Stripe's `created` and ours come from two clocks


@dataclass(frozen=True)
class Claim:
    """A claimed attempt and its organization, as read together; what a funding method acts on."""

    org: Organization
    attempt: AutoTopUpAttempt
    business_date: str
    at: str

    def outcome(self, status: str, **fields: Any) -> AutoTopUpAttempt:
        return self.attempt.model_copy(update={
            "status": status, "updated_at": self.at, "version": self.attempt.version + 1,
            "method": self.org.settings.method, "amount": self.org.settings.trigger_amount, **fields})

    def settle(self, uow: UnitOfWork, status: str, **fields: Any) -> AutoTopUpAttempt:
        """Add the outcome to `uow`, guarded by the claim's version (still claimed: no other delivery acted)."""
        final = self.outcome(status, **fields)
        uow.save(final, self.attempt.version)
        return final


class Funding(Protocol):
    def fund(self, claim: Claim) -> AutoTopUpAttempt: ...


class InvoiceFunding:
    """`cheque_or_tt`: a `top_up` invoice of the trigger amount, unless the previous one is still unpaid."""

    def __init__(self, store: Store):
        self.store = store

    def fund(self, claim: Claim) -> AutoTopUpAttempt:
        org = claim.org
        previous = self.store.get(Invoice, org.last_auto_invoice_id) if org.last_auto_invoice_id else None
        if previous is not None and previous.status in ("unpaid", "partially_paid"):
            uow = self.store.unit_of_work()
            final = claim.settle(uow, "skipped", reason="previous_invoice_unpaid", invoice_id=previous.id)
            uow.commit()
            return final

        def write(after: int) -> AutoTopUpAttempt:
            uow = self.store.unit_of_work()
            invoice = write_invoice(uow, org=org, counter=self.store.get(InvoiceCounter, org.partner_id), number=None,
                                    after=after, type_="top_up", amount=org.settings.trigger_amount,
                                    issued_date=claim.business_date, due_date=None, actor=SYSTEM.sub, at=claim.at,
                                    automatic=True)
            uow.save(org.model_copy(update={"last_auto_invoice_id": invoice.id, "version": org.version + 1}),
                     org.version)
            final = claim.settle(uow, "invoice_issued", invoice_id=invoice.id)
            uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.issued_automatically", at=claim.at,
                             changes={"business_date": claim.business_date, "amount": invoice.amount}))
            uow.commit()
            return final

        return with_free_number(write, number_given=False)  # a lost race: the worker re-reads and retries


class MasterWalletFunding:
    """`master_account`: the partner's master wallet -> the organization's wallet, in one transaction."""

    def __init__(self, store: Store, wallets: PartnerWalletRepository):
        self.store, self.wallets = store, wallets

    def fund(self, claim: Claim) -> AutoTopUpAttempt:
        org, at, amount = claim.org, claim.at, claim.org.settings.trigger_amount
        uow = self.store.unit_of_work()
        wallet = self.wallets.get(org.partner_id, org.currency)
        if wallet.balance < amount:
            final = claim.settle(uow, "failed", reason="partner_insufficient_funds")
            uow.commit()
            return final
        reference = f"auto-top-up:{org.id}:{claim.business_date}"
        debited, partner_entry = post_partner(wallet, "auto_credit", -amount, reference, actor=SYSTEM.sub, at=at)
        credited, entries = post(org, [Posting("auto_credit", amount, reference)], actor=SYSTEM.sub, at=at)
        uow.save(debited, wallet.version).create(partner_entry).save(credited, org.version)
        for entry in entries:
            uow.create(entry)
        uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action="wallet.auto_credited", at=at,
                         changes={"amount": amount, "business_date": claim.business_date,
                                  "from": "partner_master_wallet",
                                  "balance": {"from": org.balance, "to": credited.balance}}))
        final = claim.settle(uow, "credited")
        uow.commit()
        return final


class CardFunding:
    """`stripe`: recorded `charge_pending` before the off-session charge (see the module's docstring)."""

    def __init__(self, store: Store, gateway: Callable[[], StripeGateway], clock: Callable[[], float]):
        self.store, self._gateway, self._clock = store, gateway, clock

    def fund(self, claim: Claim) -> AutoTopUpAttempt:
        org = claim.org
        uow = self.store.unit_of_work()
        if not (org.stripe_customer_id and org.stripe_payment_method_id):
            final = claim.settle(uow, "failed", reason="no_saved_card")
        else:  # the charge is sent right after this commit: its send time, at the latest
            final = claim.settle(uow, "charge_pending", customer_id=org.stripe_customer_id,
                                 payment_method_id=org.stripe_payment_method_id, charge_sent_at=claim.at)
        uow.commit()
        return final

    def complete(self, attempt: AutoTopUpAttempt, now: datetime | None = None) -> AutoTopUpAttempt:
        """The off-session charge of a `charge_pending` attempt, and what Stripe answered. Repeating it (a
        crash or error around the call) sends the same request with the same key: no second charge. Past the
        key's lifetime (a redriven message, a late look) it is never resent: the charge is looked up instead.
        Stripe's refusal fails the attempt at once; no answer raises PaymentProviderError (it stays pending)."""
        if not (attempt.customer_id and attempt.payment_method_id):
            raise RuntimeError(f"attempt {attempt.org_id}/{attempt.business_date} has no card to charge")
        moment = now or datetime.fromtimestamp(self._clock(), UTC)
        sent_at = attempt.charge_sent_at or attempt.created_at
        if key_expired(sent_at, moment):
            update = self._looked_up(attempt, sent_at)
        else:
            try:
                intent = self._gateway().charge_off_session(
                    org_id=attempt.org_id, partner_id=attempt.partner_id, business_date=attempt.business_date,
                    customer_id=attempt.customer_id, payment_method_id=attempt.payment_method_id,
                    amount=attempt.amount, currency=attempt.currency)
                update = {"payment_intent_id": intent.id}
            except ProviderRefused as refused:  # a decline, or any other refusal: failed now, as the webhook reads it
                update = {"status": "failed", "payment_intent_id": refused.payment_intent_id,
                          **card_failure(refused.stripe_error())}

        def record() -> AutoTopUpAttempt:
            current = self.store.get(AutoTopUpAttempt, attempt.org_id, attempt.business_date)
            assert current is not None  # attempts are never deleted
            if current.status != "charge_pending" or current.payment_intent_id:
                return current  # the webhook got there first
            final = current.model_copy(update={**update, "updated_at": rfc3339(moment),
                                               "version": current.version + 1})
            self.store.unit_of_work().save(final, current.version).commit()
            return final

        return with_retries(record)

    def _looked_up(self, attempt: AutoTopUpAttempt, sent_at: str) -> dict[str, Any]:
        """The charge Stripe made for this attempt, found by its metadata among the customer's PaymentIntents
        since it was first sent; none found: Stripe never made it, and it is failed `charge_unconfirmed`."""
        since = int(datetime.fromisoformat(sent_at.upper()).timestamp()) - LOOKUP_MARGIN_SECONDS
        try:
            intents = self._gateway().payment_intents_of(attempt.customer_id or "", since)
        except ProviderRefused as refused:  # e.g. the customer deleted in Stripe: nothing of it can be charged now
            return {"status": "failed", **card_failure(refused.stripe_error())}
        for intent in intents:
            metadata = intent.get("metadata") or {}
            if (metadata.get("purpose"), metadata.get("org_id"), metadata.get("business_date")) == (
                    "auto_top_up", attempt.org_id, attempt.business_date):
                # settled from Stripe by the reconciliation's next run (a new schedule: due at once, even if an
                # earlier one had stopped looking)
                return {"payment_intent_id": str(intent["id"]), "reconciling": None}
        return {"status": "failed", "reason": "charge_unconfirmed",
                "failure_message": "Stripe has no charge of this attempt, and its request can no longer be resent."}

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

from shared.clock import rfc3339
from shared.domain.attempt import AutoTopUpAttempt, card_failure
from shared.domain.guardrails import COUNTED, AutoCreditDay, AutoCreditLimit, within_daily_limit
from shared.domain.invoice import Invoice, InvoiceCounter
from shared.domain.organization import Organization
from shared.domain.partner_wallet import PartnerWallet
from shared.domain.reconciling import key_expired
from shared.domain.wallet import Posting, post, post_partner
from shared.repositories.guardrails import GuardrailRepository, day_expiration
from shared.repositories.store import Store
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit, with_retries
from shared.services.guardrails import SYSTEM, Guardrails
from shared.services.invoicing import with_free_number, write_invoice
from shared.stripe_gateway import ProviderRefused, StripeGateway

__all__ = ["SYSTEM", "CardFunding", "Claim", "Funding", "InvoiceFunding", "MasterWalletFunding"]
LOOKUP_MARGIN_SECONDS = 3600  # Stripe's `created` and ours come from two clocks


@dataclass(frozen=True)
class Claim:
    """A claimed attempt and its organization, as read together (with the month's sum), and the amount decided on
    that read: what the top-up mode asks for (`requested`), reduced to what the monthly cap leaves (`amount`)."""

    org: Organization
    attempt: AutoTopUpAttempt
    business_date: str
    at: str
    guardrails: Guardrails
    amount: int
    requested: int
    used: int = 0  # the month's automatic top-ups so far, as read

    def outcome(self, status: str, **fields: Any) -> AutoTopUpAttempt:
        return self.attempt.model_copy(update={
            "status": status, "updated_at": self.at, "version": self.attempt.version + 1,
            "method": self.org.settings.method, "top_up_mode": self.org.settings.top_up_mode, "amount": self.amount,
            "requested_amount": self.requested, **fields})

    def settle(self, uow: UnitOfWork, status: str, org: Organization | None = None, **fields: Any) -> AutoTopUpAttempt:
        """Add the outcome to `uow`, guarded by the claim's version (still claimed: no other delivery acted), with
        the guardrails' part: the organization (`org`: the funding's own change of it) with its failure count, or
        held as read; the month's sum counted within the cap, or held for a `monthly_cap_reached` skip."""
        final = self.outcome(status, **fields)
        uow.save(final, self.attempt.version)
        self.guardrails.settle_org(uow, self.org, org, status, self.at)
        if status in COUNTED:
            self.guardrails.count(uow, self.org, self.business_date, self.amount, self.at)
        elif fields.get("reason") == "monthly_cap_reached":
            self.guardrails.still_full(uow, self.org, self.business_date, self.used)
        return final


class Funding(Protocol):
    def fund(self, claim: Claim) -> AutoTopUpAttempt: ...


class InvoiceFunding:
    """`cheque_or_tt`: a `top_up` invoice of the claim's amount, unless the previous one is still unpaid."""

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
                                    after=after, type_="top_up", amount=claim.amount,
                                    issued_date=claim.business_date, due_date=None, actor=SYSTEM.sub, at=claim.at,
                                    automatic=True)
            final = claim.settle(uow, "invoice_issued", org.model_copy(update={
                "last_auto_invoice_id": invoice.id, "version": org.version + 1}), invoice_id=invoice.id)
            uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="invoice", entity_id=invoice.id,
                             action="invoice.issued_automatically", at=claim.at,
                             changes={"business_date": claim.business_date, "amount": invoice.amount}))
            uow.commit()
            return final

        return with_free_number(write, number_given=False)  # a lost race: the worker re-reads and retries


class MasterWalletFunding:
    """`master_account`: the partner's master wallet -> the organization's wallet, in one transaction, within the
    partner's daily limit of automatic credits in that currency (its day's sum changed in the same transaction)."""

    def __init__(self, store: Store, limits: GuardrailRepository):
        self.store, self.limits = store, limits

    def fund(self, claim: Claim) -> AutoTopUpAttempt:
        org, at, amount, date = claim.org, claim.at, claim.amount, claim.business_date
        found = (self.store.batch().add(PartnerWallet, org.partner_id, org.currency)
                 .add(AutoCreditLimit, org.partner_id, org.currency)
                 .add(AutoCreditDay, org.partner_id, org.currency, date).fetch())
        wallet = found.get(PartnerWallet, org.partner_id, org.currency) or PartnerWallet(
            partner_id=org.partner_id, currency=org.currency, updated_at="")
        limit = found.get(AutoCreditLimit, org.partner_id, org.currency)
        uow = self.store.unit_of_work()
        if not within_daily_limit(limit, found.get(AutoCreditDay, org.partner_id, org.currency, date), amount):
            final = claim.settle(uow, "failed", reason="partner_daily_limit_reached")
            uow.raw(self.limits.limit_unchanged(org.partner_id, org.currency, limit)).commit()
            return final
        if wallet.balance < amount:
            final = claim.settle(uow, "failed", reason="partner_insufficient_funds")
            uow.raw(self.limits.wallet_unchanged(wallet)).commit()
            return final
        reference = f"auto-top-up:{org.id}:{date}"
        debited, partner_entry = post_partner(wallet, "auto_credit", -amount, reference, actor=SYSTEM.sub, at=at)
        credited, entries = post(org, [Posting("auto_credit", amount, reference)], actor=SYSTEM.sub, at=at)
        uow.save(debited, wallet.version).create(partner_entry)
        for entry in entries:
            uow.create(entry)
        uow.create(audit(SYSTEM, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                         action="wallet.auto_credited", at=at,
                         changes={"amount": amount, "business_date": date, "from": "partner_master_wallet",
                                  "balance": {"from": org.balance, "to": credited.balance}}))
        final = claim.settle(uow, "credited", credited)
        expires = day_expiration(int(datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()))
        uow.raw(self.limits.add_to_day(org.partner_id, org.currency, date, amount,
                                       limit.daily_limit if limit else None, expires))
        uow.raw(self.limits.limit_unchanged(org.partner_id, org.currency, limit))
        uow.commit()
        return final


class CardFunding:
    """`stripe`: recorded `charge_pending` before the off-session charge (see the module's docstring)."""

    def __init__(self, store: Store, gateway: StripeGateway, clock: Callable[[], float],
                 guardrails: Guardrails):
        self.store, self.gateway, self._clock, self.guardrails = store, gateway, clock, guardrails

    def fund(self, claim: Claim) -> AutoTopUpAttempt:
        org = claim.org
        uow = self.store.unit_of_work()
        if not (org.stripe_customer_id and org.stripe_payment_method_id):
            final = claim.settle(uow, "failed", reason="no_saved_card")
        else:  # reserved in its month; the charge is sent right after this commit: its send time, at the latest
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
        elif not chargeable(self.store.get(Organization, attempt.org_id), attempt):
            # switched off, another method or card, or topped up meanwhile (a redelivery, the reconciliation): never
            # sent now; a charge an earlier try made is found and settled, else the attempt is withdrawn
            update = self._looked_up(attempt, sent_at, withdrawn=True)
        else:
            try:
                intent = self.gateway.charge_off_session(
                    org_id=attempt.org_id, partner_id=attempt.partner_id, business_date=attempt.business_date,
                    customer_id=attempt.customer_id, payment_method_id=attempt.payment_method_id,
                    amount=attempt.amount, currency=attempt.currency)
                update = {"payment_intent_id": intent.id}
            except ProviderRefused as refused:  # a decline, or any other refusal: failed now, as the webhook reads it
                update = {"status": "failed", "payment_intent_id": refused.payment_intent_id,
                          **card_failure(refused.stripe_error())}

        def record() -> AutoTopUpAttempt:
            found = (self.store.batch().add(AutoTopUpAttempt, attempt.org_id, attempt.business_date)
                     .add(Organization, attempt.org_id).fetch())
            current, org = found.get(AutoTopUpAttempt, attempt.org_id, attempt.business_date), found.get(
                Organization, attempt.org_id)
            assert current is not None and org is not None  # attempts and organizations are never deleted
            if current.status != "charge_pending" or current.payment_intent_id:
                return current  # the webhook got there first
            at = rfc3339(moment)
            final = current.model_copy(update={**update, "updated_at": at, "version": current.version + 1})
            uow = self.store.unit_of_work().save(final, current.version)
            if final.status == "failed":  # its reservation leaves the month; the failure counts (maybe switching off)
                self.guardrails.card_attempt_failed(uow, org, current, at)
            elif final.status == "skipped":  # never sent: its reservation leaves the month, no failure counted
                self.guardrails.card_attempt_withdrawn(uow, current, at)
            uow.commit()
            return final

        return with_retries(record)

    def _looked_up(self, attempt: AutoTopUpAttempt, sent_at: str, *, withdrawn: bool = False) -> dict[str, Any]:
        """The charge Stripe made for this attempt, found by its metadata among the customer's PaymentIntents
        since it was first sent; none found: Stripe never made it, and it is failed `charge_unconfirmed` (or, when
        the organization may no longer be charged, `skipped` `not_due`: withdrawn, never sent)."""
        since = int(datetime.fromisoformat(sent_at.upper()).timestamp()) - LOOKUP_MARGIN_SECONDS
        try:
            intents = self.gateway.payment_intents_of(attempt.customer_id or "", since)
        except ProviderRefused as refused:  # e.g. the customer deleted in Stripe: nothing of it can be charged now
            return {"status": "failed", **card_failure(refused.stripe_error())}
        for intent in intents:
            metadata = intent.get("metadata") or {}
            if (metadata.get("purpose"), metadata.get("org_id"), metadata.get("business_date")) == (
                    "auto_top_up", attempt.org_id, attempt.business_date):
                # settled from Stripe by the reconciliation's next run (a new schedule: due at once, even if an
                # earlier one had stopped looking)
                return {"payment_intent_id": str(intent["id"]), "reconciling": None}
        if withdrawn:
            return {"status": "skipped", "reason": "not_due"}
        return {"status": "failed", "reason": "charge_unconfirmed",
                "failure_message": "Stripe has no charge of this attempt, and its request can no longer be resent."}


def chargeable(org: Organization | None, attempt: AutoTopUpAttempt) -> bool:
    """May the attempt's card charge be sent now: the organization still on `stripe` with auto-trigger on, due, and
    the same card the attempt recorded."""
    return (org is not None and org.settings.method == "stripe" and org.due
            and org.stripe_payment_method_id == attempt.payment_method_id)

"""Money that comes back (contract: "Money that comes back"): credit notes, void invoices, bounced payments and
withdrawals. Pure functions, as in shared.domain.allocation: given what was read, what to write, or the rule
that refuses it.

An invoice's credit notes reduce what is still due first; what is left credits the wallet. That wallet credit is
a function of the money, `Invoice.wallet_credit = max(0, amount_paid - (amount - amount_credited))`, so every
change knows how much it adds or takes back without a separate record of it (docs/decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.domain.allocation import InvoiceChange, bump
from shared.domain.invoice import CreditNote, CreditNoteRef, Invoice
from shared.domain.payment import Payment
from shared.errors import Conflict, Unprocessable
from shared.money import format_amount
from shared.vocabulary import CreditNoteReason

# An invoice lists its credit notes inside its item: bounded, like its allocations (docs/data-model.md).
MAX_CREDIT_NOTES_PER_INVOICE = 50


# --- credit notes ---------------------------------------------------------------------------------------
def credit(invoice: Invoice, *, credit_note_id: str, number: str, amount: int, reason: CreditNoteReason,
           memo: str | None, actor: str, at: str) -> tuple[Invoice, CreditNote]:
    """The invoice after a credit note of `amount`, and the credit note (how much of it reduced what was due and
    how much goes to the wallet: their sum is the amount)."""
    if invoice.type != "standard":
        raise Conflict("credit_note_not_allowed", "Only a standard invoice takes a credit note; a top-up invoice "
                                                  "buys prepaid credit.")
    if invoice.voided_at:
        raise Conflict("credit_note_not_allowed", "A void invoice takes no credit note.")
    creditable = invoice.amount - invoice.amount_credited
    if amount > creditable:
        raise Conflict("credit_exceeds_invoice",
                       f"At most {format_amount(creditable, invoice.currency)} of this invoice can still be credited.",
                       details=[{"invoice_id": invoice.id, "creditable": creditable, "requested": amount}])
    if len(invoice.credit_notes) >= MAX_CREDIT_NOTES_PER_INVOICE:
        raise Conflict("credit_note_limit_reached",
                       f"An invoice can take at most {MAX_CREDIT_NOTES_PER_INVOICE} credit notes.",
                       details=[{"invoice_id": invoice.id, "limit": MAX_CREDIT_NOTES_PER_INVOICE}])
    ref = CreditNoteRef(id=credit_note_id, number=number, amount=amount, reason=reason, created_at=at)
    after = bump(invoice, at, amount_credited=invoice.amount_credited + amount,
                  credit_notes=[*invoice.credit_notes, ref])
    wallet_credited = after.wallet_credit - invoice.wallet_credit
    note = CreditNote(id=credit_note_id, number=number, partner_id=invoice.partner_id, invoice_id=invoice.id,
                      org_id=invoice.org_id, amount=amount, currency=invoice.currency, reason=reason, memo=memo,
                      due_reduced=amount - wallet_credited, wallet_credited=wallet_credited, created_at=at,
                      created_by=actor)
    return after, note


# --- void invoices -------------------------------------------------------------------------------------
def void(invoice: Invoice, reason: str, at: str) -> Invoice:
    if invoice.voided_at:
        raise Conflict("invoice_void", "The invoice is already void.")
    if invoice.allocations or invoice.amount_paid or invoice.credit_notes:
        raise Conflict("invoice_has_allocations", "Only an invoice with nothing allocated and no credit note can be "
                                                  "voided; release its allocations first.")
    return bump(invoice, at, voided_at=at, void_reason=reason)


# --- bounced payments ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bounce:
    payment: Payment  # bounced, nothing allocated
    changes: list[InvoiceChange]  # every invoice allocation released
    reversed: list[dict[str, Any]]  # what the wallet gives back, item by item (the audit's breakdown)

    @property
    def reversal(self) -> int:
        """The one `reversal` ledger entry's amount (positive: what is debited)."""
        return sum(r["amount"] for r in self.reversed)


def bounce(payment: Payment, invoices: dict[str, Invoice], *, bounced_date: str, reason: str, at: str) -> Bounce:
    """Undo every allocation of the payment at once: invoices get their paid amounts back, a provisioned top-up
    invoice loses its provisioning (its credit leaves the wallet), a wallet top-up leaves the wallet, and a credit
    note's wallet credit that stood on this payment's money leaves it too."""
    if payment.bounced_date is not None:
        raise Conflict("payment_bounced", "The payment has already bounced.")
    if payment.method == "stripe":
        raise Conflict("stripe_payment_locked", "A Stripe payment cannot bounce; it is refunded or disputed.")
    if bounced_date < payment.received_date:
        raise Unprocessable("bounced_date cannot be before the payment was received.", code="validation_error",
                            details=[{"field": "bounced_date", "message": "is before received_date"}])
    changes: list[InvoiceChange] = []
    reversed_: list[dict[str, Any]] = []
    for a in payment.allocations:
        if a.invoice_id is None:
            reversed_.append({"kind": "wallet_top_up", "amount": a.amount})
            continue
        invoice = invoices[a.invoice_id]
        change = InvoiceChange(invoice, payment.id, None, unprovision=bool(invoice.provisioned_at))
        changes.append(change)
        if invoice.provisioned_at:
            reversed_.append({"kind": "provisioned_invoice", "invoice_id": invoice.id, "amount": invoice.amount})
        if (taken := change.wallet_credit_taken_back) > 0:
            reversed_.append({"kind": "credit_note_credit", "invoice_id": invoice.id, "amount": taken})
    bounced = bump(payment, at, allocations=[], bounced_date=bounced_date, bounce_reason=reason)
    return Bounce(bounced, changes, reversed_)

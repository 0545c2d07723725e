"""Assignment, allocation, release, wallet top-up and provisioning (contract: Assignment and allocation).

Pure functions: given what was read, they return what to write, or raise the rule that refuses it.
Field problems (422) are checked before state rules (409).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.domain.payments import MAX_ASSIGNMENT_EDITS, check_assignable_currency
from shared.errors import Conflict, NotFound, Unprocessable
from shared.repositories.entities import Allocation, Invoice, InvoiceAllocation, Organization, Payment

MAX_INVOICES_PER_REQUEST = 40


def _bump(payment: Payment, at: str, **changes: object) -> Payment:
    return payment.model_copy(update={**changes, "updated_at": at, "version": payment.version + 1})


def _bump_invoice(invoice: Invoice, at: str, **changes: object) -> Invoice:
    return invoice.model_copy(update={**changes, "updated_at": at, "version": invoice.version + 1})


def check_organization(org: Organization | None, partner_id: str) -> Organization:
    if org is None or org.partner_id != partner_id:
        raise Unprocessable("The organization does not exist.", code="organization_not_found",
                            details=[{"field": "org_id", "message": "unknown organization"}])
    return org


def _limit(payment: Payment) -> None:
    if payment.assignment_edits >= MAX_ASSIGNMENT_EDITS:
        raise Conflict("assignment_edit_limit_reached",
                       f"The assignment of a payment can be edited {MAX_ASSIGNMENT_EDITS} times; "
                       "this one has no edits left.")


def assign(payment: Payment, org: Organization | None, at: str) -> Payment | None:
    """The payment assigned to `org`, or None when it already is (a no-op that costs no edit)."""
    org = check_organization(org, payment.partner_id)
    check_assignable_currency(payment.currency, org.currency)
    if payment.org_id == org.id:
        return None
    if payment.org_id is not None:
        raise Conflict("already_assigned", "The payment is assigned to another organization; un-assign it first.")
    _limit(payment)
    return _bump(payment, at, org_id=org.id, assignment_edits=payment.assignment_edits + 1)


def _require_assigned(payment: Payment) -> str:
    if payment.org_id is None:
        raise Conflict("payment_not_assigned", "Assign the payment to an organization first.")
    return payment.org_id


def unassign(payment: Payment, invoices: dict[str, Invoice], at: str) -> tuple[Payment, list[Invoice]]:
    """The payment un-assigned, with every invoice allocation released in the same step."""
    _require_assigned(payment)
    _limit(payment)
    if any(a.kind == "wallet_top_up" for a in payment.allocations) or any(
            invoices[a.invoice_id].provisioned_at for a in payment.allocations if a.invoice_id):
        raise Conflict("payment_credit_delivered",
                       "Some of this payment's money has reached the wallet; it cannot be un-assigned.")
    released = [_without(invoices[a.invoice_id], payment.id, at) for a in payment.allocations if a.invoice_id]
    updated = _bump(payment, at, org_id=None, allocations=[], assignment_edits=payment.assignment_edits + 1)
    return updated, released


def _without(invoice: Invoice, payment_id: str, at: str) -> Invoice:
    return _bump_invoice(invoice, at, allocations=[a for a in invoice.allocations if a.payment_id != payment_id])


@dataclass
class AllocationResult:
    payment: Payment
    invoices: list[Invoice]
    provisioned: list[Invoice] = field(default_factory=list)  # top-up invoices this request fully paid


def allocate(payment: Payment, invoices: dict[str, Invoice | None], requested: list[tuple[str, int]],
             at: str) -> AllocationResult:
    """Allocate `requested` (invoice id, amount) from the payment, all or nothing."""
    org_id = _require_assigned(payment)
    problems = []
    for invoice_id, _ in requested:
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.partner_id != payment.partner_id:
            problems.append({"invoice_id": invoice_id, "code": "invoice_not_found"})
        elif invoice.org_id != org_id:
            problems.append({"invoice_id": invoice_id, "code": "invoice_not_in_organization"})
        elif invoice.currency != payment.currency:
            problems.append({"invoice_id": invoice_id, "code": "currency_mismatch"})
    if problems:
        first = problems[0]["code"]
        messages = {"invoice_not_found": "An invoice does not exist.",
                    "invoice_not_in_organization": "An invoice belongs to another organization than the payment.",
                    "currency_mismatch": "An invoice is in another currency than the payment."}
        raise Unprocessable(messages[first], code=first, details=problems)
    total = sum(amount for _, amount in requested)
    if total > payment.unallocated_amount:
        raise Conflict("over_allocation", f"The payment has {payment.unallocated_amount} unallocated; "
                                          f"{total} was requested.")
    overpaid = [{"invoice_id": i, "amount_due": invoices[i].amount_due, "requested": a}  # type: ignore[union-attr]
                for i, a in requested if a > invoices[i].amount_due]  # type: ignore[union-attr]
    if overpaid:
        raise Conflict("invoice_overpaid", "An invoice would be paid beyond its amount.", details=overpaid)

    allocations = list(payment.allocations)
    result_invoices, provisioned = [], []
    for invoice_id, amount in requested:
        invoice = invoices[invoice_id]
        assert invoice is not None
        allocations = _add_to(allocations, invoice_id, amount, at)
        inv_allocs = list(invoice.allocations)
        existing = next((i for i, a in enumerate(inv_allocs) if a.payment_id == payment.id), None)
        if existing is None:
            inv_allocs.append(InvoiceAllocation(payment_id=payment.id, amount=amount, allocated_at=at))
        else:
            inv_allocs[existing] = inv_allocs[existing].model_copy(
                update={"amount": inv_allocs[existing].amount + amount})
        updated = _bump_invoice(invoice, at, allocations=inv_allocs)
        if updated.type == "top_up" and updated.amount_paid == updated.amount:
            updated = updated.model_copy(update={"provisioned_at": at})
            provisioned.append(updated)
        result_invoices.append(updated)
    return AllocationResult(_bump(payment, at, allocations=allocations), result_invoices, provisioned)


def _add_to(allocations: list[Allocation], invoice_id: str, amount: int, at: str) -> list[Allocation]:
    for i, a in enumerate(allocations):
        if a.kind == "invoice" and a.invoice_id == invoice_id:
            return [*allocations[:i], a.model_copy(update={"amount": a.amount + amount}), *allocations[i + 1:]]
    return [*allocations, Allocation(invoice_id=invoice_id, kind="invoice", amount=amount, allocated_at=at)]


def release(payment: Payment, invoice: Invoice | None, invoice_id: str, at: str) -> tuple[Payment, Invoice]:
    """Release the payment's allocation to one invoice."""
    if invoice is None or not any(a.kind == "invoice" and a.invoice_id == invoice_id for a in payment.allocations):
        raise NotFound("The payment has no allocation to this invoice.", code="allocation_not_found")
    if invoice.provisioned_at:
        raise Conflict("invoice_provisioned",
                       "The invoice is provisioned: its credit is in the wallet and cannot be released.")
    updated = _bump(payment, at, allocations=[a for a in payment.allocations
                                              if not (a.kind == "invoice" and a.invoice_id == invoice_id)])
    return updated, _without(invoice, payment.id, at)


def top_up(payment: Payment, amount: int, at: str) -> Payment:
    """The payment with `amount` of its unallocated money allocated to its organization's wallet."""
    _require_assigned(payment)
    if amount > payment.unallocated_amount:
        raise Conflict("over_allocation", f"The payment has {payment.unallocated_amount} unallocated; "
                                          f"{amount} was requested.")
    return _bump(payment, at, allocations=[*payment.allocations, Allocation(
        invoice_id=None, kind="wallet_top_up", amount=amount, allocated_at=at)])

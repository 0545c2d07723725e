"""Assignment, allocation, release, wallet top-up and provisioning (contract: Assignment and allocation).

Pure functions: given what was read, they return what to write, or raise the rule that refuses it.
Field problems (422) are checked before state rules (409).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.domain.invoice import Invoice, InvoiceAllocation
from shared.domain.organization import Organization
from shared.domain.payment import Allocation, Payment
from shared.domain.payments import MAX_ASSIGNMENT_EDITS, check_assignable_currency
from shared.errors import Conflict, NotFound, Unprocessable

MAX_INVOICES_PER_REQUEST = 40
# Items that stay bounded (docs/data-model.md): a payment holds at most this many invoice allocations and an
# invoice allocations from at most this many payments, so neither item nor a 50-item list page of them can
# grow toward DynamoDB's 400 KB item or Lambda's 6 MB response. Wallet top-ups add to one allocation.
# A payment's invoices are also bounded by one transaction: un-assigning or bouncing it releases every one of
# them in one TransactWriteItems of at most 100 items (the invoices, the payment, the wallet, one ledger entry,
# two audit records and the idempotency record: 90 + 6).
MAX_INVOICES_PER_PAYMENT = 90
MAX_PAYMENTS_PER_INVOICE = 200


def bump[R: (Invoice, Payment)](record: R, at: str, **changes: object) -> R:
    """The record's next version: `changes`, stamped `at` (payments and invoices, in every money rule)."""
    return record.model_copy(update={**changes, "updated_at": at, "version": record.version + 1})


@dataclass(frozen=True)
class InvoiceChange:
    """What one payment does to one invoice: its entry there becomes `entry` (None: released).

    Written as a conditional update (the invoice storage module), never as a rewrite of the
    invoice, so that payments allocating to the same invoice do not conflict unless one of them
    would overpay it.
    """

    invoice: Invoice  # as read
    payment_id: str
    entry: InvoiceAllocation | None
    provision: bool = False
    unprovision: bool = False  # a bounce takes a provisioned top-up invoice's payment back

    @property
    def prior(self) -> InvoiceAllocation | None:
        return next((a for a in self.invoice.allocations if a.payment_id == self.payment_id), None)

    @property
    def delta(self) -> int:
        return (self.entry.amount if self.entry else 0) - (self.prior.amount if self.prior else 0)

    def after(self, at: str) -> Invoice:
        others = [a for a in self.invoice.allocations if a.payment_id != self.payment_id]
        return self.invoice.model_copy(update={
            "allocations": others + ([self.entry] if self.entry else []),
            "amount_paid": self.invoice.amount_paid + self.delta, "updated_at": at,
            "version": self.invoice.version + 1,
            "provisioned_at": at if self.provision else None if self.unprovision else self.invoice.provisioned_at})

    @property
    def wallet_credit_taken_back(self) -> int:
        """How much of its credit notes' wallet credit the change takes back (a release lowers the paid amount
        that stood above the net amount)."""
        paid = self.invoice.amount_paid + self.delta
        return self.invoice.wallet_credit - max(0, paid - self.invoice.net_amount)


def check_organization(org: Organization | None, partner_id: str) -> Organization:
    if org is None or org.partner_id != partner_id:
        raise Unprocessable("The organization does not exist.", code="organization_not_found",
                            details=[{"field": "org_id", "message": "unknown organization"}])
    return org


def check_not_bounced(payment: Payment) -> None:
    if payment.bounced_date is not None:
        raise Conflict("payment_bounced", "The payment bounced: it cannot be assigned, allocated, edited, bounced "
                                          "again or deleted.")


def _credit_delivered(change: InvoiceChange) -> bool:
    return bool(change.invoice.provisioned_at) or change.wallet_credit_taken_back > 0


def _limit(payment: Payment) -> None:
    if payment.assignment_edits >= MAX_ASSIGNMENT_EDITS:
        raise Conflict("assignment_edit_limit_reached",
                       f"The assignment of a payment can be edited {MAX_ASSIGNMENT_EDITS} times; "
                       "this one has no edits left.")


def assign(payment: Payment, org: Organization | None, at: str) -> Payment | None:
    """The payment assigned to `org`, or None when it already is (a no-op that costs no edit)."""
    check_not_bounced(payment)
    org = check_organization(org, payment.partner_id)
    check_assignable_currency(payment.currency, org.currency)
    if payment.org_id == org.id:
        return None
    # The limit before `already_assigned`: with no edit left, "un-assign it first" would send the caller to an
    # edit the limit refuses too (issue 26). A no-op assignment to its own organization stays 200 either way.
    _limit(payment)
    if payment.org_id is not None:
        raise Conflict("already_assigned", "The payment is assigned to another organization; un-assign it first.")
    return bump(payment, at, org_id=org.id, assignment_edits=payment.assignment_edits + 1)


def _require_assigned(payment: Payment) -> str:
    if payment.org_id is None:
        raise Conflict("payment_not_assigned", "Assign the payment to an organization first.")
    return payment.org_id


def unassign(payment: Payment, invoices: dict[str, Invoice], at: str) -> tuple[Payment, list[InvoiceChange]]:
    """The payment un-assigned, with every invoice allocation released in the same step."""
    check_not_bounced(payment)
    _require_assigned(payment)
    _limit(payment)
    released = [InvoiceChange(invoices[a.invoice_id], payment.id, None) for a in payment.allocations if a.invoice_id]
    if any(a.kind == "wallet_top_up" for a in payment.allocations) or any(map(_credit_delivered, released)):
        raise Conflict("payment_credit_delivered",
                       "Some of this payment's money has reached the wallet; it cannot be un-assigned.")
    updated = bump(payment, at, org_id=None, allocations=[], assignment_edits=payment.assignment_edits + 1)
    return updated, released


@dataclass
class AllocationResult:
    payment: Payment
    changes: list[InvoiceChange]
    provisioned: list[Invoice] = field(default_factory=list)  # top-up invoices this request fully paid


def allocate(payment: Payment, invoices: dict[str, Invoice | None], requested: list[tuple[str, int]],
             at: str) -> AllocationResult:
    """Allocate `requested` (invoice id, amount) from the payment, all or nothing."""
    check_not_bounced(payment)
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
    void = [{"invoice_id": i} for i, _ in requested if invoices[i].voided_at]  # type: ignore[union-attr]
    if void:
        raise Conflict("invoice_void", "A void invoice takes no allocation.", details=void)
    total = sum(amount for _, amount in requested)
    if total > payment.unallocated_amount:
        raise Conflict("over_allocation", f"The payment has {payment.unallocated_amount} unallocated; "
                                          f"{total} was requested.")
    overpaid = [{"invoice_id": i, "amount_due": invoices[i].amount_due, "requested": a}  # type: ignore[union-attr]
                for i, a in requested if a > invoices[i].amount_due]  # type: ignore[union-attr]
    if overpaid:
        raise Conflict("invoice_overpaid", "An invoice would be paid beyond its amount.", details=overpaid)
    _check_allocation_limits(payment, {i: invoice for i, _ in requested if (invoice := invoices[i]) is not None})

    allocations = list(payment.allocations)
    changes, provisioned = [], []
    for invoice_id, amount in requested:
        invoice = invoices[invoice_id]
        assert invoice is not None
        allocations = _add_to(allocations, invoice_id, amount, at, invoice.number)
        prior = next((a for a in invoice.allocations if a.payment_id == payment.id), None)
        entry = (prior.model_copy(update={"amount": prior.amount + amount}) if prior else
                 InvoiceAllocation(payment_id=payment.id, amount=amount, allocated_at=at))
        completes = invoice.type == "top_up" and invoice.amount_paid + amount == invoice.amount
        change = InvoiceChange(invoice, payment.id, entry, provision=completes)
        changes.append(change)
        if completes:
            provisioned.append(change.after(at))
    return AllocationResult(bump(payment, at, allocations=allocations), changes, provisioned)


def _check_allocation_limits(payment: Payment, invoices: dict[str, Invoice]) -> None:
    """A new invoice for the payment, or a new payment for an invoice, only below the item caps."""
    held = {a.invoice_id for a in payment.allocations if a.kind == "invoice"}
    if len(held | set(invoices)) > MAX_INVOICES_PER_PAYMENT:
        raise Conflict("allocation_limit_reached",
                       f"A payment can be allocated to at most {MAX_INVOICES_PER_PAYMENT} invoices; this one has "
                       f"{len(held)}.", details=[{"payment_id": payment.id, "limit": MAX_INVOICES_PER_PAYMENT}])
    full = [{"invoice_id": i, "limit": MAX_PAYMENTS_PER_INVOICE} for i, invoice in invoices.items()
            if len(invoice.allocations) >= MAX_PAYMENTS_PER_INVOICE
            and all(a.payment_id != payment.id for a in invoice.allocations)]
    if full:
        raise Conflict("allocation_limit_reached",
                       f"An invoice can take allocations from at most {MAX_PAYMENTS_PER_INVOICE} payments.",
                       details=full)


def _add_to(allocations: list[Allocation], invoice_id: str | None, amount: int, at: str,
            number: str | None = None) -> list[Allocation]:
    """Allocating again adds to the allocation: one per invoice, and one wallet top-up (invoice_id None). An
    invoice's allocation carries its number (one made before numbers were kept gets it when added to)."""
    kind = "invoice" if invoice_id else "wallet_top_up"
    for i, a in enumerate(allocations):
        if a.kind == kind and a.invoice_id == invoice_id:
            added = a.model_copy(update={"amount": a.amount + amount, "invoice_number": number or a.invoice_number})
            return [*allocations[:i], added, *allocations[i + 1:]]
    return [*allocations, Allocation(invoice_id=invoice_id, invoice_number=number, kind=kind, amount=amount,
                                     allocated_at=at)]


def release(payment: Payment, invoice: Invoice | None, invoice_id: str, at: str) -> tuple[Payment, InvoiceChange]:
    """Release the payment's allocation to one invoice."""
    check_not_bounced(payment)
    if invoice is None or not any(a.kind == "invoice" and a.invoice_id == invoice_id for a in payment.allocations):
        raise NotFound("The payment has no allocation to this invoice.", code="allocation_not_found")
    if invoice.provisioned_at:
        raise Conflict("invoice_provisioned",
                       "The invoice is provisioned: its credit is in the wallet and cannot be released.")
    change = InvoiceChange(invoice, payment.id, None)
    if change.wallet_credit_taken_back > 0:
        raise Conflict("payment_credit_delivered",
                       "A credit note put this invoice's overpaid amount in the wallet; the allocation cannot be "
                       "released.")
    updated = bump(payment, at, allocations=[a for a in payment.allocations
                                              if not (a.kind == "invoice" and a.invoice_id == invoice_id)])
    return updated, change


def top_up(payment: Payment, amount: int, at: str) -> Payment:
    """The payment with `amount` of its unallocated money allocated to its organization's wallet.

    Every top-up adds to the payment's one `wallet_top_up` allocation (each is its own ledger entry and
    audit record), so a payment topped up in 5,000 small steps keeps an item of constant size."""
    check_not_bounced(payment)
    _require_assigned(payment)
    if amount > payment.unallocated_amount:
        raise Conflict("over_allocation", f"The payment has {payment.unallocated_amount} unallocated; "
                                          f"{amount} was requested.")
    return bump(payment, at, allocations=_add_to(payment.allocations, None, amount, at))

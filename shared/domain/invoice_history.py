"""What an invoice's history holds of the records written elsewhere: one record per invoice for each allocation,
release and provisioning recorded on a payment or an organization (pure; the stream consumer stores them).

An allocation of 40 invoices, or the release of 90 when a payment is un-assigned or bounces, already fills most of
one TransactWriteItems (100 items), so those transactions write one audit record, on the payment or the
organization; the invoice's own records are derived from it afterwards (`invoice_records`), each with an id made
from the source record's id and the invoice's (`derived_id`): derived twice, they are the same records.

  payment.allocated            -> invoice.allocated            {payment_id, amount}
  payment.allocation_released  -> invoice.allocation_released  {payment_id, amount}
  payment.unassigned           -> invoice.payment_unassigned   {payment_id, amount}  (its allocation released)
  payment.bounced              -> invoice.payment_bounced      {payment_id, amount, bounced_date, reason}
  wallet.provisioned           -> invoice.provisioned          {org_id, amount}      (the wallet credited with it)

Each keeps the source's partner, actor and time; `amount` is the invoice's share of the source (an allocation's or
release's amount, or the invoice's amount credited to the wallet), in the invoice's currency's minor units.
"""

from __future__ import annotations

from typing import Any

from shared.domain.audit import AuditRecord
from shared.ids import derived_id

# source action -> the action of the records derived from it
DERIVED = {"payment.allocated": "invoice.allocated", "payment.allocation_released": "invoice.allocation_released",
           "payment.unassigned": "invoice.payment_unassigned", "payment.bounced": "invoice.payment_bounced",
           "wallet.provisioned": "invoice.provisioned"}
SOURCES = tuple(DERIVED)


def _lines(source: AuditRecord) -> list[tuple[str | None, str, dict[str, Any]]]:
    """(invoice id, derived action, changes) for each invoice the source names, in the order it names them."""
    changes, subject = source.changes, source.entity_id
    match source.action:
        case "payment.allocated":
            return [(a.get("invoice_id"), DERIVED[source.action], {"payment_id": subject, "amount": a.get("amount")})
                    for a in changes.get("allocations", [])]
        case "payment.allocation_released":
            return [(changes.get("invoice_id"), DERIVED[source.action],
                     {"payment_id": subject, "amount": changes.get("amount")})]
        case "payment.unassigned":
            return [(a.get("invoice_id"), DERIVED[source.action],
                     {"payment_id": subject, "amount": a.get("amount")}) for a in changes.get("released", [])]
        case "payment.bounced":
            return [(a.get("invoice_id"), DERIVED[source.action],
                     {"payment_id": subject, "amount": a.get("amount"), "bounced_date": changes.get("bounced_date"),
                      "reason": changes.get("reason")}) for a in changes.get("released", [])]
        case "wallet.provisioned":
            return [(i.get("invoice_id"), DERIVED[source.action], {"org_id": subject, "amount": i.get("amount")})
                    for i in changes.get("invoices", [])]
    return []


def invoice_records(source: AuditRecord) -> list[AuditRecord]:
    """The records the source adds to the histories of the invoices it names (none for any other record; a wallet
    top-up's line names no invoice), one per invoice: the first line naming it, if one names it twice."""
    if source.entity_type == "invoice":
        return []  # an invoice's own record (or one derived here) is already in its history
    out: dict[str, AuditRecord] = {}
    for invoice_id, action, changes in _lines(source):
        if invoice_id and invoice_id not in out:
            out[invoice_id] = AuditRecord(id=derived_id(source.id, invoice_id), partner_id=source.partner_id,
                                          entity_type="invoice", entity_id=invoice_id, action=action,
                                          actor=source.actor, at=source.at, changes=changes)
    return list(out.values())

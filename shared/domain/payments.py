"""Payment rules (contract: Payments)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from shared.domain.payment import Payment
from shared.errors import Conflict, PreconditionFailed, Unprocessable

MAX_ASSIGNMENT_EDITS = 5
# A received date may be at most one day ahead of UTC today (the partner may be a time zone ahead).
FUTURE_TOLERANCE = timedelta(days=1)


def check_date_range(start: str | None, end: str | None, field: str) -> None:
    """A list filter's inclusive range `{field}_from`..`{field}_to` must not run backwards."""
    if start and end and start > end:
        raise Unprocessable(f"{field}_from must not be after {field}_to.", code="invalid_date_range")


def check_not_future(value: str, today: date, field: str, code: str = "validation_error") -> None:
    """A date the caller reports (received, bounced) may be at most FUTURE_TOLERANCE ahead of UTC today."""
    if date.fromisoformat(value) > today + FUTURE_TOLERANCE:
        raise Unprocessable(f"{field} cannot be in the future.", code=code,
                            details=[{"field": field, "message": "is in the future"}])


def check_received_date(received: str, today: date) -> None:
    check_not_future(received, today, "received_date", "received_date_in_future")


def check_assignable_currency(payment_currency: str, org_currency: str) -> None:
    if payment_currency != org_currency:
        raise Unprocessable(f"The organization's currency is {org_currency}; the payment is in "
                            f"{payment_currency}.", code="currency_mismatch",
                            details=[{"field": "currency", "message": f"must be {org_currency}"}])


def parse_if_match(header: str | None) -> int | None:
    """`If-Match: 3`, `If-Match: "3"` or a weak `W/"3"`; None when absent."""
    if header is None:
        return None
    text = header.strip().removeprefix("W/").strip('"')
    if not (text.isascii() and text.isdigit()) or len(text) > 12:  # '²' passes isdigit()
        raise PreconditionFailed("If-Match must carry the payment's version number.")
    return int(text)


def check_version(payment: Payment, expected: int | None) -> None:
    if expected is not None and expected != payment.version:
        raise PreconditionFailed(f"The payment is at version {payment.version}, not {expected}; "
                                 "reload it and try again.")


# What Stripe received is Stripe's: the card money, its PaymentIntent (refunds and disputes follow it) and
# its date. Finance may still write a remark and an invoice number on it.
STRIPE_LOCKED = frozenset({"amount", "currency", "method", "reference", "received_date"})


def apply_patch(payment: Payment, changes: dict[str, Any], at: str) -> tuple[Payment, dict[str, Any]]:
    """The payment after the edit and the audit diff; the rule that refuses it otherwise."""
    diff = {k: {"from": getattr(payment, k), "to": v} for k, v in changes.items() if getattr(payment, k) != v}
    if not diff:
        return payment, {}
    if payment.bounced_date is not None:
        raise Conflict("payment_bounced", "The payment bounced: it cannot be edited.")
    locked = sorted(STRIPE_LOCKED & diff.keys()) if payment.method == "stripe" else []
    if locked:
        raise Conflict("stripe_payment_locked", "A Stripe payment's amount, method, reference and received date "
                       "are what Stripe received and cannot be changed.",
                       details=[{"field": f, "message": "set by Stripe"} for f in locked])
    new_amount = changes.get("amount", payment.amount)
    if new_amount < payment.allocated_amount:
        raise Conflict("amount_below_allocated",
                       f"The amount cannot go below the {payment.allocated_amount} already allocated.")
    updated = payment.model_copy(update={**{k: d["to"] for k, d in diff.items()},
                                         "updated_at": at, "version": payment.version + 1})
    return updated, diff


def check_deletable(payment: Payment) -> None:
    if payment.bounced_date is not None:  # it stays, with its history, as the record of what bounced
        raise Conflict("payment_bounced", "The payment bounced: it stays on record and cannot be deleted.")
    if payment.method == "stripe":
        raise Conflict("stripe_payment_locked", "A Stripe payment records money Stripe received; it cannot be deleted.")
    if payment.allocated_amount > 0:
        raise Conflict("payment_has_allocations",
                       "Release the payment's allocations before deleting it.")

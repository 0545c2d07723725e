"""What the use cases share: audit records, output mapping, list scopes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from shared.auth import Principal
from shared.cursor import CursorCodec, Owner, invalid_cursor, owned_scope
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.audit import AuditRecord, history_view
from shared.domain.invoice import CreditNote, Invoice
from shared.domain.organization import LedgerEntry, Organization, Withdrawal
from shared.domain.partner_wallet import PartnerLedgerEntry
from shared.domain.payment import Payment
from shared.errors import ConcurrentUpdate, Conflict, NotFound
from shared.idempotency import Completion, DictCompletion, Idempotency
from shared.ids import new_id
from shared.repositories.store import Store
from shared.vocabulary import AuditedEntity


def audit(principal: Principal, *, partner_id: str, entity_type: AuditedEntity, entity_id: str, action: str, at: str,
          changes: dict[str, Any]) -> AuditRecord:
    return AuditRecord(id=new_id("aud"), partner_id=partner_id, entity_type=entity_type, entity_id=entity_id,
                       action=action, actor=principal.sub, at=at, changes=changes)


def organization_for(store: Store, principal: Principal, org_id: str, *, write: bool = False) -> Organization:
    """The organization, if the caller may read it (or write to it); another partner's is not found."""
    org = store.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    if write:
        principal.check_write(org.partner_id, "Organization")
    else:
        principal.check_read(org.partner_id, "Organization")
    return org


def list_scope(principal: Principal, route: str, *, owner: Owner | None = None, **filters: Any) -> str:
    """Binds a cursor to its owner, the caller's tenant, the list and its filters. `owner`: the partner whose
    rows the list holds and the organization or payment it belongs to; a partner-wide list (None) belongs to the
    caller's own partner (403 for a token that names none)."""
    principal.require_member()
    owner = owner or Owner(principal.home_partner())
    return owned_scope(owner, principal.partner_id or f"platform:{principal.sub}", route, filters)


# The scope a first page of an owned list is read under until its rows show the owner; a cursor under it is never
# handed out (`issued` re-signs it), and one that were would carry no owner: 400.
FIRST_PAGE = "first-page"


def cursor_scope(codec: CursorCodec, principal: Principal, route: str, resource: str, cursor: str) -> str:
    """A cursor page of a list that belongs to `resource` (an organization or payment): the scope to read it
    under, once the cursor is known to be this resource's and the caller may read its owner's partner. Every
    refusal is 400 invalid_cursor, as for a forged cursor: a foreign one tells nothing, not even that its owner
    exists (the first page, read with no cursor, answers 404 like the resource)."""
    principal.require_member()
    owner = codec.owner(cursor)
    if owner.resource != resource or not principal.can_read(owner.partner_id):
        raise invalid_cursor()
    return list_scope(principal, route, owner=owner)


def issued(codec: CursorCodec, principal: Principal, route: str, owner: Owner, next_cursor: str | None) -> str | None:
    """A first page's next cursor (read under FIRST_PAGE), re-signed for the owner its rows showed."""
    return codec.reissue(next_cursor, FIRST_PAGE, list_scope(principal, route, owner=owner))


def page(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


def organization_out(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "currency": org.currency, "partner_id": org.partner_id,
            "created_at": org.created_at}


def wallet_out(org: Organization) -> dict[str, Any]:
    return {"org_id": org.id, "currency": org.currency, "balance": org.balance, "refund_held": org.refund_held,
            "updated_at": org.wallet_updated_at}


def ledger_out(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "type": entry.type, "amount": entry.amount, "balance_after": entry.balance_after,
            "reference": entry.reference, "created_at": entry.created_at}


def attempt_out(a: AutoTopUpAttempt) -> dict[str, Any]:
    # Only a Stripe claim is listed while in flight (see OrganizationRepository.attempts_page).
    status = "charge_pending" if a.status == "claimed" else a.status
    return {"business_date": a.business_date, "method": a.method, "amount": a.amount, "status": status,
            "reason": a.reason, "failure_code": a.failure_code, "failure_message": a.failure_message,
            "invoice_id": a.invoice_id, "payment_id": a.payment_id, "created_at": a.created_at}


def partner_ledger_out(entry: PartnerLedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "type": entry.type, "currency": entry.currency, "amount": entry.amount,
            "balance_after": entry.balance_after, "reference": entry.reference, "created_at": entry.created_at}


def settings_out(org: Organization) -> dict[str, Any]:
    return org.settings.model_dump(mode="json")


def payment_out(p: Payment) -> dict[str, Any]:
    from shared.domain.payments import MAX_ASSIGNMENT_EDITS

    return {
        "id": p.id, "org_id": p.org_id, "amount": p.amount, "currency": p.currency,
        "received_date": p.received_date, "method": p.method, "reference": p.reference,
        "invoice_number": p.invoice_number, "remark": p.remark, "status": p.status,
        "allocated_amount": p.allocated_amount, "unallocated_amount": p.unallocated_amount,
        "assignment_edits": p.assignment_edits,
        "assignment_edits_remaining": MAX_ASSIGNMENT_EDITS - p.assignment_edits,
        "allocations": [a.model_dump(mode="json") for a in p.allocations],
        "bounced_date": p.bounced_date, "bounce_reason": p.bounce_reason,
        "refunded_amount": p.refunded_amount, "disputed_amount": p.disputed_amount,
        "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
        "version": p.version,
    }


def audit_out(record: AuditRecord) -> dict[str, Any]:
    return history_view(record)  # the one audit shape of every history route, older records mapped to it


def invoice_out(inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id, "number": inv.number, "org_id": inv.org_id, "org_name": inv.org_name, "type": inv.type,
        "amount": inv.amount, "currency": inv.currency, "amount_paid": inv.amount_paid,
        "amount_credited": inv.amount_credited, "amount_due": inv.amount_due, "status": inv.status,
        "issued_date": inv.issued_date, "due_date": inv.due_date,
        "allocations": [a.model_dump(mode="json") for a in inv.allocations],
        "credit_notes": [c.model_dump(mode="json") for c in inv.credit_notes],
        "voided_at": inv.voided_at, "void_reason": inv.void_reason,
        "created_at": inv.created_at, "updated_at": inv.updated_at, "version": inv.version,
    }


def once[M: BaseModel](idempotency: Idempotency, principal: Principal, operation: str, key: str | None,
                       body: BaseModel, model: type[M], attempt: Callable[[Completion | None], M], *,
                       tenant: str | None = None) -> M:
    """A POST that moves money or creates a record: done once per Idempotency-Key (scoped to the
    caller's partner, or `tenant`, and the operation with its target, e.g. `payment.allocate:pay_...`), each
    attempt re-read and decided again after a lost race. The one way the services apply idempotency: a replay
    answers the first response as its `model` (validated back from what the first request saved)."""
    scope = tenant or principal.require_writer()
    return idempotency.run(scope=f"{scope}#{operation}", key=key, body=body.model_dump(mode="json"), model=model,
                           action=lambda complete: with_retries(lambda: attempt(complete)))


def once_dict(idempotency: Idempotency, principal: Principal, operation: str, key: str | None, body: BaseModel,
              attempt: Callable[[DictCompletion | None], dict[str, Any]], *,
              tenant: str | None = None) -> dict[str, Any]:
    """`once` for a use case that still answers a plain dict."""
    scope = tenant or principal.require_writer()
    return idempotency.run_dict(scope=f"{scope}#{operation}", key=key, body=body.model_dump(mode="json"),
                                action=lambda complete: with_retries(lambda: attempt(complete)))


def with_retries[T](attempt: Callable[[], T], attempts: int = 30) -> T:
    """Run an optimistic read-decide-write until it wins its race (re-reading each time). Full jitter, capped
    at 128 ms: 30 tries outlast a burst of a few dozen writers on one item (a partner's invoice counter)."""
    for n in range(attempts):
        try:
            return attempt()
        except ConcurrentUpdate:
            time.sleep(random.uniform(0, 0.004 * 2 ** min(n, 5)))  # noqa: S311 - jitter, not crypto
    raise Conflict("concurrent_update", "Too many simultaneous changes; please try again.")


def credit_note_out(note: CreditNote) -> dict[str, Any]:
    return {"id": note.id, "number": note.number, "invoice_id": note.invoice_id, "org_id": note.org_id,
            "amount": note.amount, "currency": note.currency, "reason": note.reason, "memo": note.memo,
            "due_reduced": note.due_reduced, "wallet_credited": note.wallet_credited, "created_at": note.created_at,
            "created_by": note.created_by}


def withdrawal_out(w: Withdrawal) -> dict[str, Any]:
    return {"id": w.id, "org_id": w.org_id, "amount": w.amount, "currency": w.currency, "method": w.method,
            "reference": w.reference, "remark": w.remark, "ledger_entry_id": w.ledger_entry_id,
            "created_at": w.created_at, "created_by": w.created_by}

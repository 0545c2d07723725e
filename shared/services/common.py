"""What the use cases share: audit records, output mapping, list scopes."""

from __future__ import annotations

from typing import Any

from shared.auth import Principal
from shared.cursor import scope_of
from shared.ids import new_id
from shared.repositories.entities import AuditRecord, LedgerEntry, Organization, Payment

MAX_WRITE_RETRIES = 3  # optimistic writes re-read and retry this often after losing a race


def audit(principal: Principal, *, partner_id: str, entity_type: str, entity_id: str, action: str, at: str,
          changes: dict[str, Any]) -> AuditRecord:
    return AuditRecord(id=new_id("aud"), partner_id=partner_id, entity_type=entity_type, entity_id=entity_id,
                       action=action, actor=principal.sub, at=at, changes=changes)


def list_scope(principal: Principal, route: str, **filters: Any) -> str:
    """Binds a cursor to the caller's tenant, the list and its filters."""
    principal.require_member()
    return scope_of(principal.partner_id or f"platform:{principal.sub}", route, filters)


def page(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


def organization_out(org: Organization) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "currency": org.currency, "partner_id": org.partner_id,
            "created_at": org.created_at}


def wallet_out(org: Organization) -> dict[str, Any]:
    return {"org_id": org.id, "currency": org.currency, "balance": org.balance,
            "updated_at": org.wallet_updated_at}


def ledger_out(entry: LedgerEntry) -> dict[str, Any]:
    return {"id": entry.id, "type": entry.type, "amount": entry.amount, "balance_after": entry.balance_after,
            "reference": entry.reference, "created_at": entry.created_at}


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
        "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
        "version": p.version,
    }


def audit_out(record: AuditRecord) -> dict[str, Any]:
    return {"id": record.id, "action": record.action, "actor": record.actor, "at": record.at,
            "changes": record.changes}

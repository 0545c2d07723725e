"""Storage of credit notes and the partner's credit note numbers.

  CN#{crn}       META                 credit note (its invoice lists it too: Invoice.credit_notes)
  PTN#{ptn}      COUNTER#CREDIT_NOTE  the partner's last credit note number (gap-free)
  GSI1 P#{ptn}#CN -> {created}#{crn}; GSI2 P#{ptn}#ORGCN#{org} -> {created}#{crn};
  GSI3 P#{ptn}#INVCN#{inv} -> {created}#{crn}      (every list is the caller's partner's by its key)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.cursor import CursorCodec
from shared.domain.invoice import CreditNote, CreditNoteCounter
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import META, Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, register
from shared.repositories.pages import PageQuery, read_page


@register
class CreditNoteMapper(Mapper[CreditNote]):
    record, entity = CreditNote, "credit_note"

    def key(self, *ids: str) -> Key:
        return key(join("CN", ids[0]), META)

    def key_of(self, record: CreditNote) -> Key:
        return self.key(record.id)

    def attributes(self, record: CreditNote) -> dict[str, Any]:
        order = f"{record.created_at}#{record.id}"
        return {"gsi1pk": join("P", record.partner_id, "CN"), "gsi1sk": order,
                "gsi2pk": join("P", record.partner_id, "ORGCN", record.org_id), "gsi2sk": order,
                "gsi3pk": join("P", record.partner_id, "INVCN", record.invoice_id), "gsi3sk": order}


@register
class CreditNoteCounterMapper(Mapper[CreditNoteCounter]):
    record, entity = CreditNoteCounter, "counter"

    def key(self, *ids: str) -> Key:
        return key(join("PTN", ids[0]), join("COUNTER", "CREDIT_NOTE"))

    def key_of(self, record: CreditNoteCounter) -> Key:
        return self.key(record.partner_id)


CREDIT_NOTES = CreditNoteMapper()


@dataclass(frozen=True)
class CreditNoteFilters:
    org_id: str | None = None
    invoice_id: str | None = None


class CreditNoteRepository:
    def __init__(self, db: Dynamo, cursors: CursorCodec):
        self.db = db
        self.cursors = cursors

    def search(self, partner_id: str, f: CreditNoteFilters, *, limit: int, cursor: str | None,
               scope: str) -> tuple[list[CreditNote], str | None]:
        """Newest first, one Query: by invoice (filtered by organization if both are given), by organization, or
        all of the partner's."""
        try:
            if f.invoice_id:
                index, pk = "GSI3", join("P", partner_id, "INVCN", f.invoice_id)
            elif f.org_id:
                index, pk = "GSI2", join("P", partner_id, "ORGCN", f.org_id)
            else:
                index, pk = "GSI1", join("P", partner_id, "CN")
        except UnsafeKeyPart:
            return [], None
        names: dict[str, str] = {}
        vals = values(pk=pk)
        filter_expression = None
        if f.invoice_id and f.org_id:
            names, filter_expression = {"#org": "org_id"}, "#org = :org"
            vals |= values(org=f.org_id)
        query = PageQuery(f"{index.lower()}pk = :pk", names, vals, index=index, forward=False,
                          filter_expression=filter_expression)
        items, next_cursor = read_page(self.db, self.cursors, query, scope=scope, limit=limit, cursor=cursor)
        return [CREDIT_NOTES.from_item(i) for i in items], next_cursor

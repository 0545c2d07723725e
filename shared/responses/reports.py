"""The aged receivables report (contract, "Aged receivables"): its JSON body, declared once, and the same report as
CSV (`Accept: text/csv`), a file a spreadsheet opens as it is."""

from __future__ import annotations

import csv
import io
from typing import Literal, Self

from shared.domain.receivables import AgedRow, AgedTotal
from shared.responses.base import Out

CSV_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell (OWASP: CSV injection)


class AgedTotalOut(Out):
    currency: str
    current: int
    days_1_30: int
    days_31_60: int
    days_61_90: int
    days_over_90: int
    total: int
    invoices: int


class AgedRowOut(AgedTotalOut):
    org_id: str
    org_name: str
    oldest_due_date: str


ROW_FIELDS = ("org_id", "org_name", "currency", "current", "days_1_30", "days_31_60", "days_61_90", "days_over_90",
              "total", "invoices", "oldest_due_date")


def _cell(value: object) -> object:
    """Numbers as numbers; text quoted, and text a spreadsheet would take for a formula led by a quote."""
    if isinstance(value, int):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class AgedReceivablesOut(Out):
    as_of: str
    basis: Literal["due_date", "issued_date"]
    rows: list[AgedRowOut]
    totals: list[AgedTotalOut]

    @classmethod
    def of(cls, as_of: str, basis: Literal["due_date", "issued_date"], rows: list[AgedRow],
           totals: list[AgedTotal]) -> Self:
        return cls(as_of=as_of, basis=basis, rows=[AgedRowOut.mirror(r) for r in rows],
                   totals=[AgedTotalOut.mirror(t) for t in totals])

    def csv_name(self) -> str:
        """The CSV's file name: its date, and its basis when not the default (two bases of a day are two files)."""
        return f"aged-receivables-{self.as_of}{'-by-issued-date' if self.basis == 'issued_date' else ''}.csv"

    def csv(self) -> str:
        """A header row of the JSON row's field names, one row per organization and currency, then one `TOTAL` row
        per currency (RFC 4180: CRLF, text quoted, numbers bare)."""
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        writer.writerow(ROW_FIELDS)
        for row in self.rows:
            writer.writerow([_cell(getattr(row, name)) for name in ROW_FIELDS])
        for total in self.totals:
            cells = {**total.model_dump(), "org_id": "TOTAL", "org_name": "", "oldest_due_date": ""}
            writer.writerow([_cell(cells[name]) for name in ROW_FIELDS])
        return out.getvalue()

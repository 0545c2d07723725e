"""The invoice's history of allocations, releases and provisioning, derived from the records that hold them (the
payment's or the organization's) as they are written: the consumer of the table's stream."""

from __future__ import annotations

from typing import Any

from shared.domain.invoice_history import invoice_records
from shared.repositories.audit import AuditLog, audit_of_image


class InvoiceHistoryProjection:
    def __init__(self, log: AuditLog):
        self.log = log

    def project(self, new_image: dict[str, Any]) -> int:
        """Write the invoices' records derived from the audit record a stream record carries (DynamoDB's
        attribute-value form); any other item, or a record naming no invoice, writes nothing. Delivered again, it
        writes nothing again (the derived ids are the same). Returns how many records were new."""
        source = audit_of_image(new_image)
        if source is None:
            return 0
        return self.log.add_once(invoice_records(source))

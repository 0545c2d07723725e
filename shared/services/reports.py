"""Reports: the aged receivables (contract, "Aged receivables"): the partner's finance staff only (a customer's staff:
403, the route is not theirs), read from the receivables index (shared.repositories.receivables), aged by the pure
rules of shared.domain.receivables."""

from __future__ import annotations

from shared.auth import Principal
from shared.clock import now
from shared.domain.receivables import Basis, aged
from shared.errors import NotFound
from shared.repositories.receivables import ReceivablesRepository
from shared.repositories.store import Store
from shared.responses.reports import AgedReceivablesOut
from shared.services.common import organization_for


class ReportService:
    def __init__(self, store: Store, receivables: ReceivablesRepository):
        self.store = store
        self.receivables = receivables

    def aged_receivables(self, principal: Principal, *, as_of: str | None, basis: Basis, currency: str | None,
                         org_id: str | None) -> AgedReceivablesOut:
        partner_id = principal.home_partner()
        if org_id is not None and organization_for(self.store, principal, org_id).partner_id != partner_id:
            raise NotFound("Organization not found.")  # a platform administrator's look at another partner's
        day = as_of or now().date().isoformat()
        invoices = self.receivables.due_on_or_after(partner_id, day, currency=currency, org_id=org_id)
        rows, totals = aged(invoices, day, basis, currency=currency, org_id=org_id)
        return AgedReceivablesOut.of(day, basis, rows, totals)

"""What every route answers: the response bodies as pydantic models, each declared once (the body, its check and
its OpenAPI schema all come from it), and the responses each route declares in the OpenAPI document (its success
status and body, and the contract's errors: shared.documented).

The services make these models from their domain records (`Model.of_record(record)`) and return them; a route
hands the model to `shared.api.json_response`, which dumps it. The models live by resource in the modules of this
package, each imported on first use of one of its names here (`R.PaymentOut`): a BaseModel class costs ~1 ms at
import, and a function's cold start pays only for the modules its routes name. Schemas are built on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from shared.documented import ERRORS, FORBID, ErrorDetail, ErrorOut, documented

if TYPE_CHECKING:
    from shared.responses.accounts import (
        AttemptOut,
        AttemptPage,
        Balance,
        LedgerEntryOut,
        LedgerEntryPage,
        OnlineTopUpOut,
        OnlineTopUpPage,
        OrganizationOut,
        OrganizationPage,
        PartnerLedgerEntryOut,
        PartnerWalletOut,
        SettingsOut,
        WalletOut,
        WithdrawalOut,
        WithdrawalPage,
    )
    from shared.responses.audit import AuditChange, AuditOut, AuditPage
    from shared.responses.invoices import (
        CreditNoteOut,
        CreditNotePage,
        InvoiceAllocationOut,
        InvoiceCreditNoteOut,
        InvoiceOut,
        InvoicePage,
    )
    from shared.responses.limits import AutoCreditLimitOut, AutoCreditLimitPage
    from shared.responses.payments import PaymentAllocationOut, PaymentOut, PaymentPage, RefundListOut, RefundOut
    from shared.responses.reports import AgedReceivablesOut, AgedRowOut, AgedTotalOut
    from shared.responses.runs import ReconciliationRun, SweepRun, WebhookOutcome

_HOME = {
    "accounts": ("AttemptOut", "AttemptPage", "Balance", "LedgerEntryOut", "LedgerEntryPage", "OnlineTopUpOut",
                 "OnlineTopUpPage", "OrganizationOut", "OrganizationPage", "PartnerLedgerEntryOut", "PartnerWalletOut",
                 "SettingsOut", "WalletOut", "WithdrawalOut", "WithdrawalPage"),
    "audit": ("AuditChange", "AuditOut", "AuditPage"),
    "invoices": ("CreditNoteOut", "CreditNotePage", "InvoiceAllocationOut", "InvoiceCreditNoteOut", "InvoiceOut",
                 "InvoicePage"),
    "payments": ("PaymentAllocationOut", "PaymentOut", "PaymentPage", "RefundListOut", "RefundOut"),
    "reports": ("AgedReceivablesOut", "AgedRowOut", "AgedTotalOut"),
    "limits": ("AutoCreditLimitOut", "AutoCreditLimitPage"),
    "runs": ("ReconciliationRun", "SweepRun", "WebhookOutcome"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [  # noqa: RUF022 - the documented helpers, then the models
    "ERRORS", "FORBID", "ErrorDetail", "ErrorOut", "documented",
    "AttemptOut", "AttemptPage", "AuditChange", "AuditOut", "AuditPage", "Balance", "CreditNoteOut", "CreditNotePage",
    "InvoiceAllocationOut", "InvoiceCreditNoteOut", "InvoiceOut", "InvoicePage", "LedgerEntryOut", "LedgerEntryPage",
    "OnlineTopUpOut", "OnlineTopUpPage", "OrganizationOut", "OrganizationPage", "PartnerLedgerEntryOut",
    "PartnerWalletOut", "PaymentAllocationOut", "PaymentOut", "PaymentPage", "RefundListOut", "RefundOut",
    "SettingsOut", "WalletOut", "WithdrawalOut", "WithdrawalPage", "ReconciliationRun", "SweepRun", "WebhookOutcome",
    "AgedReceivablesOut", "AgedRowOut", "AgedTotalOut", "AutoCreditLimitOut", "AutoCreditLimitPage",
]


def __getattr__(name: str) -> Any:
    """A response model, from the module of its resource (imported now if it was not yet)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

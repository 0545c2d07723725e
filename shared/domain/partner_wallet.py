"""The partner wallet aggregate: a partner's master wallet in one currency and its ledger."""

from __future__ import annotations

from shared.domain.base import Record
from shared.vocabulary import PartnerLedgerType


class PartnerWallet(Record):
    """Credited by a platform admin, spent by the daily automatic top-up of `master_account` customers."""

    partner_id: str
    currency: str
    balance: int = 0
    ledger_seq: int = 0
    updated_at: str
    version: int = 0  # 0: not stored yet


class PartnerLedgerEntry(Record):
    id: str
    partner_id: str
    currency: str
    seq: int
    type: PartnerLedgerType
    amount: int
    balance_after: int
    reference: str | None = None
    created_at: str
    created_by: str

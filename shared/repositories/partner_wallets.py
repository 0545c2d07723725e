"""Storage of partners' master wallets, one item per currency, and their ledger.

  PTN#{ptn}      WALLET#{cur}         the partner's master wallet in one currency
  PTN#{ptn}      LEDGER#{cur}#{seq}   its ledger entry
"""

from __future__ import annotations

from shared.domain.partner_wallet import PartnerLedgerEntry, PartnerWallet
from shared.repositories.dynamo import Dynamo, values
from shared.repositories.keys import Key, UnsafeKeyPart, join, key
from shared.repositories.mapping import Mapper, register

WALLET = "WALLET"


def partner_pk(partner_id: str) -> str:
    return join("PTN", partner_id)


@register
class PartnerWalletMapper(Mapper[PartnerWallet]):
    record, entity = PartnerWallet, "partner_wallet"

    def key(self, *ids: str) -> Key:
        partner_id, currency = ids
        return key(partner_pk(partner_id), join(WALLET, currency))

    def key_of(self, record: PartnerWallet) -> Key:
        return self.key(record.partner_id, record.currency)


@register
class PartnerLedgerMapper(Mapper[PartnerLedgerEntry]):
    record, entity = PartnerLedgerEntry, "partner_ledger_entry"

    def key(self, *ids: str) -> Key:
        partner_id, currency, seq = ids
        return key(partner_pk(partner_id), join("LEDGER", currency, f"{int(seq):012d}"))

    def key_of(self, record: PartnerLedgerEntry) -> Key:
        return self.key(record.partner_id, record.currency, str(record.seq))


WALLETS = PartnerWalletMapper()


class PartnerWalletRepository:
    def __init__(self, db: Dynamo):
        self.db = db

    def all(self, partner_id: str) -> list[PartnerWallet]:
        """Every currency of a partner's master wallet, in one Query."""
        try:
            pk = partner_pk(partner_id)
        except UnsafeKeyPart:
            return []
        items = self.db.query_all(key_condition="pk = :pk AND begins_with(sk, :w)", names={},
                                  vals=values(pk=pk, w=f"{WALLET}#"), consistent=True)
        return [WALLETS.from_item(i) for i in items]

    def get(self, partner_id: str, currency: str) -> PartnerWallet:
        """The wallet, or an empty one not yet stored (version 0)."""
        item = self.db.get(WALLETS.key(partner_id, currency))
        return WALLETS.from_item(item) if item else PartnerWallet(partner_id=partner_id, currency=currency,
                                                                   updated_at="")

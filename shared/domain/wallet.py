"""The wallet: every balance change is a ledger entry carrying the balance after it.

A card refund asked for here holds its amount (`refund_held`) until Stripe answers: no other debit may spend
it meanwhile, so the reversal that follows Stripe's confirmation never finds the money gone.

Invariant: an organization's balance equals the sum of its ledger entries' amounts, and goes below zero
only by a `reversal` (money that never arrived or was taken back); a wallet below zero refuses every other
debit, and takes credits (it stays below zero until they cover it). Entries are numbered by the
organization's `ledger_seq`, so a ledger entry and the balance it produced are written together or not at
all.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.organization import LedgerEntry, Organization
from shared.domain.partner_wallet import PartnerLedgerEntry, PartnerWallet
from shared.errors import Conflict
from shared.ids import new_id
from shared.money import MAX_AMOUNT, format_amount
from shared.vocabulary import LedgerType, PartnerLedgerType


@dataclass(frozen=True)
class Posting:
    type: LedgerType
    amount: int  # signed: credits positive, debits negative
    reference: str | None


def check_limit(balance: int, currency: str) -> None:
    """Every balance stays within MAX_AMOUNT (10^15 minor units, below 2^53: exact as a JSON number in any
    client that reads numbers as doubles)."""
    if balance > MAX_AMOUNT:
        raise Conflict("balance_limit_exceeded",
                       f"The wallet may hold at most {format_amount(MAX_AMOUNT, currency)}.")


def _insufficient(balance: int, org: Organization, amount: int) -> str:
    held = (f", of which {format_amount(org.refund_held, org.currency)} is held for card refunds"
            if org.refund_held else "")
    return (f"The wallet holds {format_amount(balance, org.currency)}{held}; "
            f"{format_amount(amount, org.currency)} would take it below zero.")


def post(org: Organization, postings: list[Posting], *, actor: str, at: str) -> tuple[Organization, list[LedgerEntry]]:
    """The organization after the postings, and their ledger entries (in order)."""
    balance, seq, entries = org.balance, org.ledger_seq, []
    for posting in postings:
        if posting.amount == 0:
            raise ValueError("a posting moves money")
        balance += posting.amount
        if balance - org.refund_held < 0 and posting.amount < 0 and posting.type != "reversal":
            raise Conflict("insufficient_balance", _insufficient(balance - posting.amount, org, -posting.amount))
        check_limit(balance, org.currency)
        seq += 1
        entries.append(LedgerEntry(id=new_id("txn"), org_id=org.id, partner_id=org.partner_id, seq=seq,
                                   type=posting.type, amount=posting.amount, balance_after=balance,
                                   currency=org.currency, reference=posting.reference, created_at=at,
                                   created_by=actor))
    updated = org.model_copy(update={"balance": balance, "ledger_seq": seq, "version": org.version + 1,
                                     "wallet_updated_at": at})
    return updated, entries


def post_partner(wallet: PartnerWallet, type_: PartnerLedgerType, amount: int, reference: str | None, *, actor: str,
                 at: str) -> tuple[PartnerWallet, PartnerLedgerEntry]:
    """The partner's master wallet after one signed posting, and its ledger entry."""
    balance = wallet.balance + amount
    if balance < 0:
        raise Conflict("partner_insufficient_funds",
                       f"The partner's master wallet holds {format_amount(wallet.balance, wallet.currency)}.")
    check_limit(balance, wallet.currency)
    seq = wallet.ledger_seq + 1
    entry = PartnerLedgerEntry(id=new_id("txn"), partner_id=wallet.partner_id, currency=wallet.currency, seq=seq,
                               type=type_, amount=amount, balance_after=balance, reference=reference,
                               created_at=at, created_by=actor)
    return wallet.model_copy(update={"balance": balance, "ledger_seq": seq, "version": wallet.version + 1,
                                     "updated_at": at}), entry

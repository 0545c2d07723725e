"""The sparse due index: an organization is in it exactly when its automatic top-up is due."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.organization import Organization, PaymentSettings
from shared.ids import new_id
from shared.repositories.organizations import DUE_SHARDS, due_shard
from shared.repositories.registry import item_of

AT = "2026-11-21T00:00:00.000Z"


def org(balance: int, threshold: int, auto: bool) -> Organization:
    settings = PaymentSettings(method="cheque_or_tt", trigger_amount=1, limit_threshold=threshold, auto_trigger=auto,
                               updated_at=AT)
    return Organization(id=new_id("org"), partner_id="ptn_a", name="A", currency="SGD", created_at=AT, created_by="a",
                        wallet_updated_at=AT, settings=settings, balance=balance)


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.booleans())
def test_in_the_index_exactly_when_due(balance, threshold, auto):
    # Invariant: the item carries the due keys iff auto-trigger is on and balance <= threshold.
    item = item_of(org(balance, threshold, auto))
    assert ("gsi3pk" in item) == (auto and balance <= threshold)
    if "gsi3pk" in item:
        assert item["gsi3pk"] == f"DUE#{due_shard(item['id'])}" and item["gsi3sk"] == item["id"]


def test_shards_spread_evenly():
    counts = Counter(due_shard(new_id("org")) for _ in range(16_000))
    assert set(counts) == set(range(DUE_SHARDS))
    assert max(counts.values()) < 1.25 * min(counts.values())

"""The keys of Idempotency-Key records (issue 31), pinned, and the format before it, as that code wrote it.

Invariants: (K1) every (scope, key) pair has its own record, in its own partition `IDEMPOTENCY#{64 hex}`, whatever
the key holds (the separator `#`, any character); (K2) the format before issue 31 is re-computed exactly as the code
it replaces wrote it through Powertools 3.37 (the literals below were read from that code's PutItem).
"""

from __future__ import annotations

import hashlib
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from shared.idempotency_legacy import legacy_hash, legacy_sk
from shared.idempotency_store import Claim, body_hash, record_pk

SCOPES = st.text(min_size=1, max_size=40)
KEYS = st.text(min_size=1, max_size=255)


def test_k1_the_record_key_is_the_sha256_of_the_json_pair():
    # Given a scope and a key, Then the record's partition key is pinned (a change would orphan every live record)
    assert record_pk("ptn_1#payment.create", "k1") == (
        "IDEMPOTENCY#11d1c96055e878d9c56516afe29862689c37388acd5bbeaaf89d3a34258030a7")
    assert record_pk("ptn_1#payment.create", "k1") == "IDEMPOTENCY#" + hashlib.sha256(
        json.dumps(["ptn_1#payment.create", "k1"]).encode()).hexdigest()
    # And the body's hash is the SHA-256 of its canonical JSON (keys sorted, no spaces)
    assert body_hash({"b": 1, "a": "é"}) == hashlib.sha256(b'{"a":"\\u00e9","b":1}').hexdigest()


@given(SCOPES, KEYS, SCOPES, KEYS)
def test_k1_distinct_pairs_name_distinct_records_in_their_own_partitions(scope, key, other_scope, other_key):
    # Given two (scope, key) pairs, When their records are keyed, Then they share a record only if they are one pair
    first, second = record_pk(scope, key), record_pk(other_scope, other_key)
    assert (first == second) == ((scope, key) == (other_scope, other_key))
    assert re.fullmatch(r"IDEMPOTENCY#[0-9a-f]{64}", first)


def test_k1_a_separator_in_the_key_cannot_name_another_scopes_record():
    assert record_pk("ptn_1#op", "a#b") != record_pk("ptn_1#op#a", "b")


def test_k1_each_claim_carries_its_own_marker():
    first, second = Claim.new("s", "k", {}), Claim.new("s", "k", {})
    assert (first.pk, first.body_hash) == (second.pk, second.body_hash) and first.marker != second.marker


def test_k2_the_format_before_issue_31_is_the_one_that_code_wrote():
    # Given the code before issue 31 running `payment.create` of ptn_1 with key k1 outside Lambda ("test-func"),
    # Then its record's sort key and body hash were these
    assert legacy_sk("ptn_1#payment.create", "k1", "test-func") == (
        "test-func.shared.idempotency.Idempotency._run.<locals>.once#5d9120453f0cb3c6bb3091732d8d8e9a")
    assert legacy_hash({"amount": 5, "x": "é"}) == "d2dc2706dc6b746c8e2d36f8ab6a53b6"

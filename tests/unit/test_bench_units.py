"""The capacity plan's write units (bench/units.py) follow DynamoDB's documented rules.

Invariants: (U1) an item's size is its names and values in bytes, numbers by significant digits, maps and lists
with their overhead; (U2) a write costs ceil(size / 1 KB) of the larger of before and after, twice in a
transaction; (U3) a GSI is written when an item enters it or its projection changes, deleted when it leaves, both
when its key changes, never when neither; an INCLUDE projection ignores attributes it does not hold; (U4) the
indexes are read from template.yaml as declared.
"""

from __future__ import annotations

from bench.units import Indexes, partition_class, size, write_units
from local.template import Template

INDEXES = Indexes(Template.load())


def s(text: str) -> dict[str, str]:
    return {"S": text}


def org(**extra: dict) -> dict:
    return {"pk": s("ORG#org_1"), "sk": s("META"), "gsi1pk": s("P#ptn_1#ORG"), "gsi1sk": s("acme#org_1"), **extra}


def test_sizes_count_names_and_values_as_dynamodb_does():
    # Given items of each attribute type (U1)
    # When they are sized / Then: UTF-8 bytes of names and strings; numbers 1 byte per 2 significant digits + 1
    assert size({"ab": s("héllo")}) == 2 + 6
    assert size({"n": {"N": "12345"}}) == 1 + 4  # 3 bytes for 5 digits, + 1
    assert size({"n": {"N": "1000"}}) == 1 + 2  # trailing zeroes do not count: 1 digit
    assert size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert size({"m": {"M": {"k": s("v")}}}) == 1 + 3 + (1 + 1 + 1)
    assert size({"l": {"L": [s("ab"), s("c")]}}) == 1 + 3 + (2 + 1) + (1 + 1)
    assert size(None) == 0


def test_a_write_costs_its_larger_side_per_kb_and_twice_in_a_transaction():
    # Given an organization growing from under 1 KB to over 1 KB (U2)
    before, after = org(pad=s("x" * 100)), org(pad=s("x" * 1500))
    # When it is written alone, then in a transaction
    alone = write_units(INDEXES, before, after, transactional=False)
    in_transaction = write_units(INDEXES, before, after, transactional=True)
    # Then the table pays 2 units for the 1.5 KB side, 4 in a transaction
    assert (alone["table"], in_transaction["table"]) == (2, 4)
    assert alone["pk:ORG#*"] == 2


def test_a_gsi_is_written_only_when_entered_changed_or_left():
    # Given an organization in GSI1 (ALL), entering and leaving the due index GSI3 (U3)
    out_of_due = org(balance={"N": "5000"})
    due = org(balance={"N": "0"}, gsi3pk=s("DUE#3"), gsi3sk=s("org_1"))
    # When it is created, changed, rewritten as it was, and made due, then no longer due
    created = write_units(INDEXES, None, out_of_due, transactional=False)
    unchanged = write_units(INDEXES, out_of_due, out_of_due, transactional=False)
    entered = write_units(INDEXES, out_of_due, due, transactional=False)
    left = write_units(INDEXES, due, out_of_due, transactional=False)
    # Then GSI1 is written on creation and on each change, never for an identical rewrite; GSI3 once on entering
    # and once on leaving; each index's partition is named by its key's shape
    assert (created["GSI1"], created["GSI3"]) == (1, 0)
    assert (unchanged["GSI1"], unchanged["GSI3"]) == (0, 0)
    assert (entered["GSI1"], entered["GSI3"], entered["GSI3:DUE#*"]) == (1, 1, 1)
    assert (left["GSI1"], left["GSI3"]) == (1, 1)
    assert entered["write"] == entered["table"] + entered["GSI1"] + entered["GSI3"]


def test_a_moved_index_key_is_a_delete_and_a_put_and_include_ignores_other_attributes():
    # Given an invoice in GSI4 (INCLUDE: a few attributes) whose key moves, and one whose unprojected field changes
    keys = {"pk": s("INV#inv_1"), "sk": s("META"), "gsi4pk": s("P#ptn_1#AR#7"), "amount": {"N": "100"}}
    due, settled = keys | {"gsi4sk": s("~#2026-11-01")}, keys | {"gsi4sk": s("2026-11-20#2026-11-01")}
    # When the key moves, and when only an attribute GSI4 does not hold changes
    moved = write_units(INDEXES, due, settled, transactional=False)
    other = write_units(INDEXES, due, due | {"remark": s("late")}, transactional=False)
    # Then the move costs two index writes, the unprojected change none (U3)
    assert moved["GSI4"] == 2
    assert other["GSI4"] == 0


def test_the_indexes_are_the_templates():
    # Given template.yaml's table / Then its four GSIs with their keys, GSI4 projecting a list (U4)
    assert sorted(INDEXES.gsis) == ["GSI1", "GSI2", "GSI3", "GSI4"]
    assert INDEXES.gsis["GSI1"] == (["gsi1pk", "gsi1sk"], None)
    assert INDEXES.gsis["GSI4"][1] is not None and "amount" in INDEXES.gsis["GSI4"][1]


def test_partition_shapes_hide_ids_and_keep_words():
    assert partition_class("PTN#ptn_demo#X") == "PTN#*#X"
    assert partition_class("IDEMPOTENCY") == "IDEMPOTENCY"
    assert partition_class("DUE#12") == "DUE#*"
    assert partition_class("INVNUM#ptn_1#" + "ab" * 32) == "INVNUM#*#*"

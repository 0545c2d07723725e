"""The invoice's records derived from a payment's or organization's audit record (shared.domain.invoice_history),
and the local stream delivery's filter (local/streams.py), as pure functions.

  IR1 exactly one record per distinct invoice the source names (none for a line without an invoice), each the
      invoice's, with the source's partner, actor and time, and the amount the source gave that invoice;
  IR2 derived again, the records are equal (same ids): a redelivered stream record is written once;
  IR3 ids are valid audit ids, distinct across invoices and across sources, and sort with their source's time;
  IR4 the template's filter lets through exactly the audit records the rules derive from, as Lambda matches it.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from local.streams import matches
from local.template import Template
from shared.domain.audit import AuditRecord
from shared.domain.invoice_history import SOURCES, invoice_records
from shared.ids import is_id, new_id
from shared.repositories.audit import AUDITS
from shared.repositories.dynamo import to_av

invoice_ids = st.sampled_from([new_id("inv") for _ in range(6)])
amounts = st.integers(min_value=1, max_value=10**12)
lines = st.lists(st.tuples(st.one_of(st.none(), invoice_ids), amounts), max_size=12)


def source(action: str, named: list[tuple[str | None, int]]) -> AuditRecord:
    entity, owner = ("organization", new_id("org")) if action == "wallet.provisioned" else ("payment", new_id("pay"))
    changes: dict = {
        "payment.allocated": {"allocations": [{"invoice_id": i, "amount": a} for i, a in named]},
        "payment.unassigned": {"released": [{"invoice_id": i, "amount": a} for i, a in named]},
        "payment.bounced": {"bounced_date": "2026-11-25", "reason": "returned",
                            "released": [{"invoice_id": i, "kind": "invoice" if i else "wallet_top_up", "amount": a}
                                         for i, a in named]},
        "wallet.provisioned": {"invoices": [{"invoice_id": i, "amount": a} for i, a in named],
                               "balance": {"from": 0, "to": 1}},
        "payment.allocation_released": {"invoice_id": named[0][0], "amount": named[0][1]} if named else {},
    }[action]
    return AuditRecord(id=new_id("aud"), partner_id="ptn_a", entity_type=entity, entity_id=owner, action=action,
                       actor="ann@example.com", at="2026-11-21T09:30:00.000Z", changes=changes)


@settings(max_examples=300)
@given(st.sampled_from(SOURCES), lines)
def test_ir1_one_record_per_invoice_named_with_the_sources_actor_time_and_amount(action, named):
    if action == "payment.allocation_released":
        named = named[:1]
    src = source(action, named)
    out = invoice_records(src)
    first_amount: dict[str, int] = {}
    for invoice_id, amount in named:
        if invoice_id:
            first_amount.setdefault(invoice_id, amount)
    assert [r.entity_id for r in out] == list(first_amount)  # IR1: one each, in the order named
    for r in out:
        assert (r.entity_type, r.partner_id, r.actor, r.at) == ("invoice", src.partner_id, src.actor, src.at)
        assert r.changes["amount"] == first_amount[r.entity_id]
        assert r.changes.get("payment_id", r.changes.get("org_id")) == src.entity_id
    assert invoice_records(src) == out  # IR2
    assert all(is_id(r.id, "aud") and r.id[4:14] == src.id[4:14] for r in out)  # IR3
    assert len({r.id for r in out}) == len(out)


@given(invoice_ids, amounts)
def test_ir3_two_sources_naming_one_invoice_give_two_records(invoice_id, amount):
    a, b = source("payment.allocated", [(invoice_id, amount)]), source("payment.allocated", [(invoice_id, amount)])
    assert invoice_records(a)[0].id != invoice_records(b)[0].id


def test_ir1_records_of_invoices_and_other_actions_derive_nothing():
    own = AuditRecord(id=new_id("aud"), partner_id="ptn_a", entity_type="invoice", entity_id=new_id("inv"),
                      action="invoice.allocated", actor="a", at="2026-11-21T09:30:00.000Z",
                      changes={"payment_id": new_id("pay"), "amount": 1})
    other = source("payment.allocated", [(new_id("inv"), 5)]).model_copy(update={"action": "payment.updated"})
    assert invoice_records(own) == invoice_records(other) == []


def stream_record(item: dict, event: str = "INSERT") -> dict:
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": to_av(item)}}


[STREAM] = Template.load().functions()["InvoiceHistoryFunction"].events.values()
[PATTERN] = [json.loads(f["Pattern"]) for f in STREAM["Properties"]["FilterCriteria"]["Filters"]]


@given(st.sampled_from([*SOURCES, "payment.created", "invoice.allocated", "wallet.reversed"]), lines)
def test_ir4_the_templates_filter_passes_exactly_the_records_the_rules_derive_from(action, named):
    pattern = PATTERN
    src = source(action if action in SOURCES else "payment.allocated", named)
    src = src.model_copy(update={"action": action})
    assert matches(pattern, stream_record(AUDITS.to_item(src))) is (action in SOURCES)
    assert not matches(pattern, stream_record(AUDITS.to_item(src), "MODIFY"))  # an audit record is never edited
    payment_item = {"pk": "PAY#x", "sk": "META", "entity": "payment", "action": action}
    assert not matches(pattern, stream_record(payment_item))


def test_ir4_the_local_matcher_knows_prefix_exists_and_anything_but():
    record = {"dynamodb": {"Keys": {"sk": {"S": "AUDIT#2026"}}}}
    assert matches({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "AUDIT#"}]}}}}, record)
    assert not matches({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "META"}]}}}}, record)
    assert matches({"dynamodb": {"OldImage": [{"exists": False}]}}, record)
    assert not matches({"dynamodb": {"Keys": [{"exists": False}]}}, record)
    assert matches({"dynamodb": {"Keys": {"sk": {"S": [{"anything-but": ["META"]}]}}}}, record)

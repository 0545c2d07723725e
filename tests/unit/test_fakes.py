"""The in-memory fakes of tests/fakes.py keep the unit of work's promises, so that a service test passing on
them means what it would mean on DynamoDB: real keys, version guards, not-exists, all or nothing."""

from __future__ import annotations

import pytest

from shared.domain.audit import AuditRecord
from shared.domain.payment import Allocation, Payment
from shared.errors import ConcurrentUpdate, Conflict
from shared.repositories.registry import item_of, key_of
from tests.fakes import FakeIdempotency, FakeStore

AT = "2026-11-21T00:00:00.000Z"


def payment(pid: str = "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V", **fields) -> Payment:
    base = {"id": pid, "partner_id": "ptn_a", "amount": 10_000, "currency": "SGD", "received_date": "2026-11-20",
            "method": "cheque", "created_at": AT, "created_by": "seed", "updated_at": AT}
    return Payment(**(base | fields))


def audit(aid: str = "aud_01JZ8Q5V4K7W3M2N1P0R9S8T7V") -> AuditRecord:
    return AuditRecord(id=aid, partner_id="ptn_a", entity_type="payment", entity_id="pay_x", action="payment.created",
                       actor="a", at=AT)


def test_records_are_stored_under_their_mappers_keys_in_their_item_layout():
    stored = payment(org_id="org_01JZ8Q5V4K7W3M2N1P0R9S8T7V")
    store = FakeStore(stored)
    key = key_of(Payment, stored.id)
    assert list(store.items) == [(key["pk"], key["sk"])]
    assert store.get(Payment, stored.id) == stored
    item = store.batch().add(Payment, stored.id).fetch().items[(key["pk"], key["sk"])]
    assert item == item_of(stored)  # the index keys and derived attributes included


def test_reads_by_ids_that_cannot_be_keys_or_are_missing_find_nothing():
    store = FakeStore(payment())
    assert store.get(Payment, "pay_x#META") is None and store.get(Payment, "pay_missing") is None
    assert store.get_many(Payment, ["pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "pay_missing", "a#b"]) == {
        "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V": payment()}
    assert store.batch().add(Payment, "a#b").fetch().get(Payment, "a#b") is None


def test_save_replaces_only_at_the_version_read():
    store = FakeStore(payment(version=2))
    store.unit_of_work().save(payment(version=3, amount=1), read_version=2).commit()
    assert store.get(Payment, payment().id) == payment(version=3, amount=1)
    before = store.snapshot()
    with pytest.raises(ConcurrentUpdate):
        store.unit_of_work().save(payment(version=3, amount=2), read_version=2).commit()
    with pytest.raises(ConcurrentUpdate):  # nothing to replace
        store.unit_of_work().save(payment("pay_01JZ8Q5V4K7W3M2N1P0R9S8T7W"), read_version=1).commit()
    assert store.snapshot() == before and store.commits == 1


def test_create_refuses_a_taken_key_with_the_callers_error_or_a_lost_race():
    store = FakeStore(audit())
    before = store.snapshot()
    taken = Conflict("name_taken", "taken")
    with pytest.raises(Conflict) as refused:
        store.unit_of_work().create(audit(), taken=taken).commit()
    assert refused.value is taken
    with pytest.raises(ConcurrentUpdate):
        store.unit_of_work().create(audit()).commit()
    assert store.snapshot() == before and store.commits == 0


def test_a_commit_applies_all_of_its_writes_or_none():
    store = FakeStore(payment(version=1))
    before = store.snapshot()
    uow = store.unit_of_work().create(audit("aud_01JZ8Q5V4K7W3M2N1P0R9S8T7W")).save(payment(version=2), read_version=7)
    with pytest.raises(ConcurrentUpdate):
        uow.commit()
    assert store.snapshot() == before
    store.unit_of_work().create(audit("aud_01JZ8Q5V4K7W3M2N1P0R9S8T7W")).save(payment(version=2), 1).commit()
    assert len(store.records(AuditRecord)) == 1 and store.get(Payment, payment().id).version == 2


def test_delete_holds_to_its_version_and_condition():
    allocated = payment(version=4, org_id="org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", allocations=[
        Allocation(invoice_id="inv_01JZ8Q5V4K7W3M2N1P0R9S8T7V", kind="invoice", amount=1, allocated_at=AT)])
    store = FakeStore(allocated)
    before = store.snapshot()
    for read_version, condition in ((4, "allocated_amount = :zero"), (3, "")):
        with pytest.raises(ConcurrentUpdate):
            store.unit_of_work().delete(allocated, read_version, condition).commit()
    assert store.snapshot() == before
    store.unit_of_work().delete(allocated, 4).commit()
    assert store.items == {}
    with pytest.raises(NotImplementedError):
        store.unit_of_work().delete(allocated, 4, "attribute_not_exists(x)")


def test_a_competing_write_lands_just_before_the_next_commit_only():
    store = FakeStore(payment(version=1))
    store.before_next_commit(lambda: store.put(payment(version=2, remark="theirs")))
    with pytest.raises(ConcurrentUpdate):
        store.unit_of_work().save(payment(version=2, remark="ours"), 1).commit()
    assert store.get(Payment, payment().id).remark == "theirs"
    store.unit_of_work().save(payment(version=3, remark="ours"), 2).commit()
    assert store.get(Payment, payment().id).remark == "ours"


def test_what_only_dynamodb_can_answer_is_refused_not_guessed():
    store = FakeStore()
    with pytest.raises(NotImplementedError):
        store.unit_of_work().raw({"Update": {}})
    with pytest.raises(NotImplementedError):  # an idempotency completion is a raw item
        store.unit_of_work().create(audit()).commit_returning({}, lambda result: {"Put": {}})
    assert store.items == {}
    with pytest.raises(ValueError, match="twice"):
        store.unit_of_work().create(audit()).create(audit()).commit()
    idempotency = FakeIdempotency()
    assert idempotency.run(scope="s", key=None, body={}, action=lambda complete: {"complete": complete}) == {
        "complete": None}
    with pytest.raises(NotImplementedError):
        idempotency.run(scope="s", key="k", body={}, action=lambda complete: {})
    assert idempotency.scopes == ["s"]

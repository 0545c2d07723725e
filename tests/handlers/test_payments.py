"""PaymentsFunction: record, list, view, edit, delete and history of payments."""

from __future__ import annotations

import json
import secrets

from local.lambdas import LambdaContext
from shared.container import Container
from shared.domain.payment import Allocation, Payment
from shared.repositories.registry import item_of
from tests.conftest import load_event
from tests.handlers.conftest import NO_KEY, admin, create_org, record, viewer


def give_allocation(payment_id: str, amount: int) -> None:
    """Given-step: the payment has `amount` allocated (as the allocation function will store it)."""
    deps = Container.from_env()
    stored = deps.store.get(Payment, payment_id)
    allocated = stored.model_copy(update={
        "allocations": [Allocation(invoice_id="inv_01JZ8Q5V4K7W3M2N1P0R9S8T7V", kind="invoice", amount=amount,
                                   allocated_at="2026-11-21T00:00:00.000Z")], "version": stored.version + 1})
    deps.db.transact([deps.db.put_if(item_of(allocated), "attribute_exists(pk)", {})])


def test_record_unassigned_and_assigned_payments(lambdas, partner):
    org = create_org(lambdas, partner)
    # When a payment is recorded without an organization
    free = record(lambdas, partner, reference="CHQ-1", remark="walk-in")
    # Then it is unassigned, nothing allocated, five edits left
    assert (free["status"], free["org_id"], free["assignment_edits"], free["assignment_edits_remaining"]) == (
        "unassigned", None, 0, 5)
    assert free["allocated_amount"] == 0 and free["unallocated_amount"] == 12_550 and free["version"] == 1
    # When recorded with an organization it is assigned at once, counting as the first edit
    assigned = record(lambdas, partner, org_id=org["id"])
    assert (assigned["status"], assigned["assignment_edits"], assigned["assignment_edits_remaining"]) == (
        "assigned", 1, 4)
    status, got = lambdas.payments("get_payment", path={"payment_id": assigned["id"]}, **viewer(partner))
    assert status == 200 and got == assigned


def test_assigning_at_creation_checks_organization_and_currency(lambdas, partner):
    org = create_org(lambdas, partner, currency="USD")
    foreign = create_org(lambdas, f"{partner}x")
    before = lambdas.snapshot()
    body = {"amount": 100, "received_date": "2026-11-20", "method": "cash"}
    for extra, code in (({"org_id": org["id"], "currency": "SGD"}, "currency_mismatch"),
                        ({"org_id": foreign["id"], "currency": "SGD"}, "organization_not_found"),
                        ({"org_id": "org_01JZ8Q5V4K7W3M2N1P0R9S8T7V", "currency": "SGD"}, "organization_not_found")):
        status, res = lambdas.payments("create_payment", body={**body, **extra}, headers=NO_KEY, **admin(partner))
        assert (status, res["error"]["code"]) == (422, code)
    assert lambdas.snapshot() == before


def test_list_filters_and_newest_received_first(lambdas, partner):
    org = create_org(lambdas, partner)
    a = record(lambdas, partner, received_date="2026-10-01", method="cash", reference="A")
    b = record(lambdas, partner, received_date="2026-11-05", method="cheque", reference="B", org_id=org["id"])
    c = record(lambdas, partner, received_date="2026-11-15", method="cheque", reference="C")

    def ids(query):
        status, page = lambdas.payments("list_payments", query=query, **viewer(partner))
        assert status == 200, page
        return [p["id"] for p in page["items"]]

    assert ids({}) == [c["id"], b["id"], a["id"]]
    assert ids({"org_id": org["id"]}) == [b["id"]]
    assert ids({"status": "unassigned"}) == [c["id"], a["id"]]
    assert ids({"method": "cheque"}) == [c["id"], b["id"]]
    assert ids({"received_from": "2026-11-01", "received_to": "2026-11-05"}) == [b["id"]]
    assert ids({"received_from": "2026-11-05"}) == [c["id"], b["id"]]
    assert ids({"received_to": "2026-10-31"}) == [a["id"]]
    assert ids({"reference": "C"}) == [c["id"]]
    assert ids({"status": "assigned", "method": "cash"}) == []


def test_filtered_list_pages_through_sparse_matches(lambdas, partner):
    # Given 7 payments of which every third is cash
    made = [record(lambdas, partner, method="cash" if i % 3 == 0 else "cheque",
                   received_date=f"2026-11-{i + 1:02d}") for i in range(7)]
    cash = [p["id"] for p in reversed(made) if p["method"] == "cash"]
    # When listing cash payments one per page
    seen, cursor = [], None
    for _ in range(10):
        query = {"method": "cash", "limit": "1", **({"cursor": cursor} if cursor else {})}
        _, page = lambdas.payments("list_payments", query=query, **viewer(partner))
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Then every match is seen once, in order
    assert seen == cash


def test_patch_with_if_match_and_audit(lambdas, partner):
    payment = record(lambdas, partner)
    path = {"payment_id": payment["id"]}
    # When edited at its current version
    status, edited = lambdas.payments("patch_payment", path=path, body={"amount": 13_000, "remark": "fixed"},
                                      headers={"if-match": '"1"'}, **admin(partner))
    assert status == 200 and edited["amount"] == 13_000 and edited["remark"] == "fixed" and edited["version"] == 2
    # When edited again with the stale version: 412 and nothing written
    before = lambdas.snapshot()
    status, body = lambdas.payments("patch_payment", path=path, body={"amount": 1}, headers={"if-match": "1"},
                                    **admin(partner))
    assert status == 412 and body["error"]["code"] == "version_mismatch"
    assert lambdas.snapshot() == before
    # And the history shows who changed what
    _, history = lambdas.payments("payment_history", path=path, **viewer(partner))
    actions = [(h["action"], h["actor"]) for h in history["items"]]
    assert actions == [("payment.updated", "admin@example.com"), ("payment.created", "admin@example.com")]
    assert history["items"][0]["changes"] == {"amount": {"from": 12_550, "to": 13_000},
                                              "remark": {"from": None, "to": "fixed"}}


def test_patch_can_clear_optional_text_but_not_required_fields(lambdas, partner):
    payment = record(lambdas, partner, reference="R1")
    path = {"payment_id": payment["id"]}
    status, edited = lambdas.payments("patch_payment", path=path, body={"reference": None}, headers={"if-match": None},
                                      **admin(partner))
    assert status == 200 and edited["reference"] is None
    for body in ({"amount": None}, {"method": None}, {"currency": "USD"}, {"org_id": "org_x"}, {"amount": 0}):
        status, res = lambdas.payments("patch_payment", path=path, body=body, headers={"if-match": None},
                                       **admin(partner))
        assert status == 422 and res["error"]["code"] == "validation_error", body


def test_amount_may_not_go_below_allocated_and_allocated_payment_cannot_be_deleted(lambdas, partner):
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=10_000)
    give_allocation(payment["id"], 6_000)
    path = {"payment_id": payment["id"]}
    before = lambdas.snapshot()
    status, body = lambdas.payments("patch_payment", path=path, body={"amount": 5_999}, headers={"if-match": None},
                                    **admin(partner))
    assert status == 409 and body["error"]["code"] == "amount_below_allocated"
    status, body = lambdas.payments("delete_payment", path=path, **admin(partner))
    assert status == 409 and body["error"]["code"] == "payment_has_allocations"
    assert lambdas.snapshot() == before
    status, edited = lambdas.payments("patch_payment", path=path, body={"amount": 6_000}, headers={"if-match": None},
                                      **admin(partner))
    assert status == 200 and edited["status"] == "allocated" and edited["unallocated_amount"] == 0


def test_delete_keeps_the_audit_history(lambdas, partner):
    payment = record(lambdas, partner)
    path = {"payment_id": payment["id"]}
    status, body = lambdas.payments("delete_payment", path=path, **admin(partner))
    assert status == 204 and body is None
    status, _ = lambdas.payments("get_payment", path=path, **admin(partner))
    assert status == 404
    status, history = lambdas.payments("payment_history", path=path, **viewer(partner))
    assert status == 200 and [h["action"] for h in history["items"]] == ["payment.deleted", "payment.created"]
    # And another partner cannot read the deleted payment's history either
    status, _ = lambdas.payments("payment_history", path=path, **viewer(f"{partner}x"))
    assert status == 404


def test_idempotency_key_replays_and_refuses_reuse(lambdas, partner):
    body = {"amount": 5_000, "currency": "SGD", "received_date": "2026-11-20", "method": "cash"}
    key = {"idempotency-key": f"key-{partner}"}
    # When the same key and body are sent twice
    s1, first = lambdas.payments("create_payment", body=body, headers=key, **admin(partner))
    after_first = lambdas.snapshot()
    s2, second = lambdas.payments("create_payment", body=body, headers=key, **admin(partner))
    # Then one payment exists and the same response comes back
    assert (s1, s2) == (201, 201) and first == second
    assert lambdas.snapshot() == after_first
    _, page = lambdas.payments("list_payments", query={}, **viewer(partner))
    assert [p["id"] for p in page["items"]] == [first["id"]]
    # When the key is reused with another body: 409 and nothing written
    s3, third = lambdas.payments("create_payment", body={**body, "amount": 5_001}, headers=key, **admin(partner))
    assert s3 == 409 and third["error"]["code"] == "idempotency_key_reused"
    assert lambdas.snapshot() == after_first
    # And the same key from another partner is another request
    s4, other = lambdas.payments("create_payment", body=body, headers=key, **admin(f"{partner}x"))
    assert s4 == 201 and other["id"] != first["id"]


def test_refused_idempotent_request_leaves_no_record(lambdas, partner):
    # A request refused by a rule releases its key (Powertools deletes the INPROGRESS record).
    foreign = create_org(lambdas, f"{partner}x")
    before = lambdas.snapshot()
    body = {"amount": 5_000, "currency": "SGD", "received_date": "2026-11-20", "method": "cash",
            "org_id": foreign["id"]}
    status, _ = lambdas.payments("create_payment", body=body, headers={"idempotency-key": "k-refused"},
                                 **admin(partner))
    assert status == 422
    assert lambdas.snapshot() == before


def test_a_decimal_amount_is_refused_with_a_word_of_minor_units(lambdas, partner):
    # Given a payment sent with its amount as a decimal, as a person reads it (issue 26)
    body = {"amount": 125.50, "currency": "SGD", "received_date": "2026-11-20", "method": "cheque"}
    # When it is recorded
    status, res = lambdas.payments("create_payment", body=body, headers=NO_KEY, **admin(partner))
    # Then 422 says amounts are integers in minor units, with an example, not only "a valid integer"
    assert (status, res["error"]["code"]) == (422, "validation_error"), res
    assert res["error"]["details"] == [{"field": "amount", "type": "minor_units", "message": (
        "amount must be an integer number of minor units (cents), not 125.5: 125.50 SGD is 12550")}]


def test_an_idempotent_replay_counts_no_business_metric_again(lambdas, partner):
    # Given the payments function in this process, its metrics counted (issue 26: a replay counted again)
    module = lambdas.host.load_module("PaymentsFunction")
    counted: list[tuple[str, float]] = []
    module.metrics.add_metric = lambda name, unit, value, **_: counted.append((name, value))
    event = load_event("payments/create_payment.json", headers={"idempotency-key": secrets.token_hex(8)},
                       body={"amount": 12_550, "currency": "SGD", "received_date": "2026-11-20", "method": "cheque"},
                       **admin(partner))
    # When the same POST is sent twice with the same Idempotency-Key
    first = module.lambda_handler(event, LambdaContext("PaymentsFunction", 512, 30, "r1"))
    second = module.lambda_handler(event, LambdaContext("PaymentsFunction", 512, 30, "r2"))
    # Then the replay answers the same payment, and PaymentRecorded was counted once
    assert first["statusCode"] == second["statusCode"] == 201, (first, second)
    assert json.loads(first["body"])["id"] == json.loads(second["body"])["id"]
    assert counted == [("PaymentRecorded", 1)]

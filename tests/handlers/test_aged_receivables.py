"""GET /reports/aged-receivables (contract, "Aged receivables") through the real handlers against DynamoDB Local:
random books of invoices, allocations, releases, bounces, credit notes and voids, each report (random `as_of`, both
bases) checked against a straightforward recomputation; tenancy, roles, bad inputs, the CSV read back, and the
receivables index's invariant (docs/data-model.md, "Aged receivables")."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.aws import TABLE_NAME
from tests.handlers.conftest import NO_KEY, admin, create_org, record, viewer
from tests.handlers.test_allocation import assign, invoice

BUCKETS = ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90")
CUSTOMER = {"groups": "[org-viewer]"}


def report(lambdas, partner, who=None, csv_=False, **query) -> tuple[int, Any]:
    event = lambdas.host.invoke("ReportsFunction", _event(partner, who, csv_, query))
    body = event.get("body")
    if csv_ and event["statusCode"] == 200:
        assert event["headers"]["Content-Type"] == "text/csv; charset=utf-8"
        # named by its date, and by its basis when not the default (two bases of a day are two files)
        by = "-by-issued-date" if query.get("basis") == "issued_date" else ""
        name = f"aged-receivables-{query.get('as_of', today().isoformat())}{by}.csv"
        assert event["headers"]["Content-Disposition"] == f'attachment; filename="{name}"'
        return 200, list(csv.reader(io.StringIO(body)))
    return event["statusCode"], json.loads(body)


def _event(partner, who, csv_, query):
    from tests.conftest import load_event
    claims = (who or admin(partner))["claims"]
    return load_event("reports/aged_receivables.json", query={k: str(v) for k, v in query.items()},
                      headers={"accept": "text/csv" if csv_ else "application/json"}, claims=claims)


def today() -> date:
    return datetime.now(UTC).date()


def expected_due(inv: dict[str, Any], as_of: str, moved_on: str) -> int:
    """The recomputation: every money move of this test happened on `moved_on` (today), so before it an invoice owed
    its whole amount, and from it what it owes now (as the invoice itself answers)."""
    if inv["status"] == "void" or inv["issued_date"] > as_of:
        return 0
    return inv["amount"] if as_of < moved_on else inv["amount_due"]


def expected_bucket(inv: dict[str, Any], as_of: str, basis: str) -> str:
    since = inv["issued_date"] if basis == "issued_date" else (inv["due_date"] or inv["issued_date"])
    days = (date.fromisoformat(as_of) - date.fromisoformat(since)).days
    return ("current" if days <= 0 else "days_1_30" if days <= 30 else "days_31_60" if days <= 60
            else "days_61_90" if days <= 90 else "days_over_90")


def index_entries(lambdas, partner) -> dict[str, str]:
    """The receivables index of the partner, read from the table, every shard (invoice id -> its sort key); each
    invoice in the shard its id hashes to."""
    from shared.repositories.receivables_index import RECEIVABLES_SHARDS, receivables_shard
    entries = {}
    for shard in range(RECEIVABLES_SHARDS):
        res = lambdas.ddb.query(TableName=TABLE_NAME, IndexName="GSI4", KeyConditionExpression="gsi4pk = :p",
                                ExpressionAttributeValues={":p": {"S": f"P#{partner}#AR#{shard}"}})
        for i in res["Items"]:
            assert receivables_shard(i["id"]["S"]) == shard
            entries[i["id"]["S"]] = i["gsi4sk"]["S"]
    return entries


OPS = st.sampled_from(["none", "pay_part", "pay_full", "credit", "credit_full", "void", "release", "bounce",
                       "pay_then_credit"])
INVOICE = st.tuples(st.integers(0, 2), st.integers(1, 50_000), st.integers(-150, 5), st.none() | st.integers(0, 60),
                    OPS)


class Book:
    def __init__(self, lambdas, partner: str):
        self.lambdas, self.partner = lambdas, partner
        self.orgs = [create_org(lambdas, partner, name=n, currency=c)
                     for n, c in (("Acme", "SGD"), ("=cmd|calc", "USD"), ("Beta, \"Ltd\"", "SGD"))]
        self.invoices: list[str] = []

    def add(self, org: int, amount: int, issued: int, due: int | None, op: str) -> None:
        lam, who, o = self.lambdas, admin(self.partner), self.orgs[org]
        issued_date = (today() + timedelta(days=issued)).isoformat()
        extra = {} if due is None else {"due_date": (today() + timedelta(days=issued + due)).isoformat()}
        inv = invoice(lam, self.partner, o, amount=amount, issued=issued_date, **extra)
        self.invoices.append(inv["id"])
        if op in ("pay_part", "pay_full", "release", "bounce", "pay_then_credit"):
            paid = amount if op == "pay_full" else max(1, amount // 2)
            pay = record(lam, self.partner, amount=paid, currency=o["currency"],
                         received_date=today().isoformat())
            assert assign(lam, self.partner, pay, o)[0] == 200
            status, res = lam.allocation("allocate_payment", path={"payment_id": pay["id"]}, headers=NO_KEY,
                                         body={"allocations": [{"invoice_id": inv["id"], "amount": paid}]}, **who)
            assert status == 200, res
            if op == "release":
                assert lam.allocation("release_allocation", path={"payment_id": pay["id"], "invoice_id": inv["id"]},
                                      **who)[0] == 200
            if op == "bounce":
                status, res = lam.allocation("bounce_payment", path={"payment_id": pay["id"]}, headers=NO_KEY,
                                             body={"bounced_date": today().isoformat(), "reason": "returned"}, **who)
                assert status == 200, res
        if op in ("credit", "credit_full", "pay_then_credit"):
            status, res = lam.allocation("create_credit_note", path={"invoice_id": inv["id"]}, headers=NO_KEY,
                                         body={"amount": amount if op == "credit_full" else max(1, amount // 3),
                                               "reason": "billing_error"}, **who)
            assert status == 201, res
        if op == "void":
            status, res = lam.allocation("void_invoice", path={"invoice_id": inv["id"]}, headers=NO_KEY,
                                         body={"reason": "issued twice"}, **who)
            assert status == 200, res

    def read(self) -> list[dict[str, Any]]:
        out = []
        for invoice_id in self.invoices:
            status, inv = self.lambdas.allocation("get_invoice", path={"invoice_id": invoice_id},
                                                  **viewer(self.partner))
            assert status == 200
            out.append(inv)
        return out


COUNTER = iter(range(1_000_000))


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(ours=st.lists(INVOICE, min_size=1, max_size=9), theirs=st.lists(INVOICE, min_size=1, max_size=3),
       days=st.lists(st.integers(-200, 40), min_size=2, max_size=3))
def test_every_report_adds_up_to_what_was_due_on_as_of(lambdas, ours, theirs, days):
    n = next(COUNTER)
    stamp = datetime.now(UTC).strftime("%H%M%S%f")
    partner, other = f"ptn_ar{n}_{stamp}", f"ptn_arx{n}_{stamp}"
    book, foreign = Book(lambdas, partner), Book(lambdas, other)
    for spec in ours:
        book.add(*spec)
    for spec in theirs:
        foreign.add(*spec)
    invoices, moved_on = book.read(), today().isoformat()
    for as_of in [(today() + timedelta(days=d)).isoformat() for d in days]:
        for basis in ("due_date", "issued_date"):
            status, body = report(lambdas, partner, as_of=as_of, basis=basis)
            assert status == 200, body
            assert body["as_of"] == as_of and body["basis"] == basis
            # the recomputation, row by row
            want: dict[tuple[str, str], dict[str, int]] = {}
            for inv in invoices:
                due = expected_due(inv, as_of, moved_on)
                if due:
                    row = want.setdefault((inv["org_id"], inv["currency"]), dict.fromkeys((*BUCKETS, "invoices"), 0))
                    row[expected_bucket(inv, as_of, basis)] += due
                    row["invoices"] += 1
            got = {(r["org_id"], r["currency"]): {k: r[k] for k in (*BUCKETS, "invoices")} for r in body["rows"]}
            assert got == want
            for row in body["rows"]:
                assert sum(row[b] for b in BUCKETS) == row["total"]
            for total in body["totals"]:
                rows = [r for r in body["rows"] if r["currency"] == total["currency"]]
                for name in (*BUCKETS, "total", "invoices"):
                    assert total[name] == sum(r[name] for r in rows)
            assert sum(t["total"] for t in body["totals"]) == sum(expected_due(i, as_of, moved_on) for i in invoices)
            assert {r["org_id"] for r in body["rows"]} <= {o["id"] for o in book.orgs}  # never another partner's
            # the CSV is the same report
            status, table = report(lambdas, partner, csv_=True, as_of=as_of, basis=basis)
            assert table[0] == ["org_id", "org_name", "currency", *BUCKETS, "total", "invoices", "oldest_due_date"]
            assert len(table) == 1 + len(body["rows"]) + len(body["totals"])
            for line, row in zip(table[1:], body["rows"], strict=False):
                assert line[0] == row["org_id"] and float(line[8]) == row["total"]
                assert line[1] == ("'" + row["org_name"] if row["org_name"].startswith("=") else row["org_name"])
            for line, total in zip(table[1 + len(body["rows"]):], body["totals"], strict=True):
                assert line[0] == "TOTAL" and line[2] == total["currency"] and float(line[8]) == total["total"]
    # the index's invariant: void never in it; due now last (`~`); settled under the day of its last change
    index = index_entries(lambdas, partner)
    for inv in invoices:
        if inv["status"] == "void":
            assert inv["id"] not in index
        elif inv["amount_due"] > 0:
            assert index[inv["id"]] == f"~#{inv['issued_date']}#{inv['id']}"
        else:
            assert index[inv["id"]] == f"{inv['updated_at'][:10]}#{inv['issued_date']}#{inv['id']}"
    assert set(index) <= set(book.invoices)
    # tenancy: another partner's organization is not found; a customer's staff may not read the report
    assert report(lambdas, partner, org_id=foreign.orgs[0]["id"])[0] == 404
    customer = {"claims": {"partner_id": partner, "org_id": book.orgs[0]["id"], "sub": "c@x", **CUSTOMER}}
    assert report(lambdas, partner, who=customer)[0] == 403


def test_filters_roles_and_bad_inputs(lambdas):
    partner = f"ptn_arf_{datetime.now(UTC).strftime('%H%M%S%f')}"
    book = Book(lambdas, partner)
    book.add(0, 1_000, -40, 10, "pay_part")   # Acme SGD, 500 due, 30 days overdue
    book.add(1, 2_000, -100, None, "none")    # "=cmd|calc" USD, 2,000 due, 100 days overdue
    book.add(2, 3_000, -5, 30, "void")        # void: never counts
    status, body = report(lambdas, partner, who=viewer(partner))
    assert status == 200 and body["as_of"] == today().isoformat() and body["basis"] == "due_date"
    assert [(r["org_name"], r["currency"], r["total"]) for r in body["rows"]] == [
        ("=cmd|calc", "USD", 2_000), ("Acme", "SGD", 500)]
    assert body["rows"][0]["days_over_90"] == 2_000 and body["rows"][1]["days_1_30"] == 500
    assert [t["currency"] for t in body["totals"]] == ["SGD", "USD"]
    assert [r["currency"] for r in report(lambdas, partner, currency="USD")[1]["rows"]] == ["USD"]
    assert [r["org_id"] for r in report(lambdas, partner, org_id=book.orgs[0]["id"])[1]["rows"]] == [
        book.orgs[0]["id"]]
    status, table = report(lambdas, partner, csv_=True)
    assert table[1][1] == "'=cmd|calc"  # a spreadsheet reads it as text, never as a formula
    assert table[-2][0] == table[-1][0] == "TOTAL"
    for query in ({"as_of": "2026-02-30"}, {"basis": "paid_date"}, {"currency": "sgd"}, {"org_id": "nope"}):
        status, body = report(lambdas, partner, **query)
        assert status == 422 and body["error"]["code"] == "validation_error", (query, body)
    missing = "org_01JZ8Q6A1B2C3D4E5F6G7H8J9K"
    assert report(lambdas, partner, org_id=missing)[1]["error"]["code"] == "not_found"


def test_the_backfill_keys_and_seeds_invoices_stored_before_the_index_once(lambdas):
    from shared.container import Container
    from shared.repositories.receivables import backfill

    partner = f"ptn_arb_{datetime.now(UTC).strftime('%H%M%S%f')}"
    book = Book(lambdas, partner)
    for org, op in ((0, "none"), (0, "pay_part"), (1, "pay_full"), (2, "void")):
        book.add(org, 1_000, -10, 5, op)
    # Given invoices as they were stored before the index: no receivables keys, no paid log
    for invoice_id in book.invoices:
        lambdas.ddb.update_item(TableName=TABLE_NAME, Key={"pk": {"S": f"INV#{invoice_id}"}, "sk": {"S": "META"}},
                                UpdateExpression="REMOVE gsi4pk, gsi4sk, paid_by_day")
    assert index_entries(lambdas, partner) == {}
    db = Container.from_env().db
    assert backfill(db, partner) == (4, 4, 0)
    assert backfill(db, partner) == (4, 0, 0)  # idempotent
    invoices = book.read()
    index = index_entries(lambdas, partner)
    assert set(index) == {i["id"] for i in invoices if i["status"] != "void"}
    paid = next(i for i in invoices if i["status"] == "paid")
    assert index[paid["id"]].startswith(paid["updated_at"][:10])
    status, body = report(lambdas, partner)
    assert status == 200 and sum(t["total"] for t in body["totals"]) == 1_000 + 500
    # the next money move of a seeded invoice adds to its log
    part = next(i for i in invoices if i["status"] == "partially_paid")
    item = lambdas.ddb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": f"INV#{part['id']}"}, "sk": {"S": "META"}})
    assert item["Item"]["paid_by_day"]["M"][today().isoformat()]["N"] == "500"


def test_the_backfill_mends_a_log_that_misses_a_change_made_by_the_previous_code(lambdas):
    from shared.container import Container
    from shared.repositories.receivables import backfill

    # Given an invoice paid in part today, then changed as code before the paid log would (during a deploy): 200
    # more paid, the log left as it was, the version moved on
    partner = f"ptn_arm_{datetime.now(UTC).strftime('%H%M%S%f')}"
    book = Book(lambdas, partner)
    book.add(0, 1_000, -10, 5, "pay_part")
    (invoice_id,) = book.invoices
    key = {"pk": {"S": f"INV#{invoice_id}"}, "sk": {"S": "META"}}
    lambdas.ddb.update_item(TableName=TABLE_NAME, Key=key,
                            UpdateExpression="SET amount_paid = amount_paid + :d, version = version + :one",
                            ExpressionAttributeValues={":d": {"N": "200"}, ":one": {"N": "1"}})
    # When the backfill runs
    db = Container.from_env().db
    assert backfill(db, partner) == (1, 1, 0)
    # Then the log adds up to what was paid, the missing part dated the invoice's last change, and today's report
    # counts what is due now (1,000 - 700); a second run changes nothing
    item = lambdas.ddb.get_item(TableName=TABLE_NAME, Key=key)["Item"]
    log = {day: int(v["N"]) for day, v in item["paid_by_day"]["M"].items()}
    assert sum(log.values()) == int(item["amount_paid"]["N"]) == 700
    assert log[item["updated_at"]["S"][:10]] >= 200
    status, body = report(lambdas, partner)
    assert status == 200 and [t["total"] for t in body["totals"]] == [300]
    assert backfill(db, partner) == (1, 0, 0)

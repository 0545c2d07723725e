"""The Payment tab over HTTP on the local stack: the help article's scenario, and races.

Race invariants (8+ concurrent clients, each request in its own execution environment (process), against
DynamoDB Local with no lock in front of it):
- a payment is never allocated beyond its amount;
- an invoice is never paid beyond its amount;
- a payment's assignment is never edited more than five times;
- a top-up invoice paid by racing payments is provisioned (and the wallet credited) exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from tests.conftest import new_partner
from tests.e2e.conftest import as_admin

PAYMENT = {"currency": "SGD", "received_date": "2026-11-20", "method": "telegraphic_transfer"}


def race(n: int, work) -> list:
    """Run work(i) in n threads released together; return their results."""
    barrier, results, lock = threading.Barrier(n), [], threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        out = work(i)
        with lock:
            results.append(out)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def setup(stack, name="Acme Telecom"):
    partner = new_partner()
    api = as_admin(stack, partner)
    org = api("POST", "/organizations", {"name": name, "currency": "SGD"}).json()
    return api, org


def new_invoice(api, org, amount, type_="standard", issued="2026-11-01"):
    res = api("POST", "/invoices", {"org_id": org["id"], "type": type_, "amount": amount, "currency": "SGD",
                                    "issued_date": issued})
    assert res.status_code == 201, res.text
    return res.json()


def test_help_article_scenario(stack):
    api, org = setup(stack)
    inv_a = new_invoice(api, org, 30_000, issued="2026-11-02")
    inv_b = new_invoice(api, org, 50_000, issued="2026-11-03")
    top = new_invoice(api, org, 20_000, "top_up", issued="2026-11-04")
    # Record a payment received from the customer (not yet assigned)
    pay = api("POST", "/payments", {**PAYMENT, "amount": 100_000, "reference": "TT-884",
                                    "invoice_number": inv_a["number"], "remark": "November"}).json()
    assert pay["status"] == "unassigned"
    # Search the organization's invoices by organization name and issued date
    found = api("GET", "/invoices", params={"org_name": "acme", "issued_from": "2026-11-01",
                                            "issued_to": "2026-11-03"}).json()["items"]
    assert [i["id"] for i in found] == [inv_b["id"], inv_a["id"]]
    # Assign, then allocate across two invoices (one partially)
    assert api("PUT", f"/payments/{pay['id']}/assignment", {"org_id": org["id"]}).json()["assignment_edits"] == 1
    res = api("POST", f"/payments/{pay['id']}/allocations",
              {"allocations": [{"invoice_id": inv_a["id"], "amount": 30_000},
                               {"invoice_id": inv_b["id"], "amount": 50_000 - 20_000}]})
    assert res.status_code == 200 and res.json()["unallocated_amount"] == 40_000
    statuses = {i: api("GET", f"/invoices/{i}").json()["status"] for i in (inv_a["id"], inv_b["id"])}
    assert statuses == {inv_a["id"]: "paid", inv_b["id"]: "partially_paid"}
    # Allocate the rest: 20,000 to the top-up invoice (provisioned: wallet credited once), 20,000 to B
    res = api("POST", f"/payments/{pay['id']}/allocations",
              {"allocations": [{"invoice_id": top["id"], "amount": 20_000},
                               {"invoice_id": inv_b["id"], "amount": 20_000}]})
    assert res.status_code == 200 and res.json()["status"] == "allocated"
    assert api("GET", f"/invoices/{top['id']}").json()["status"] == "provisioned"
    assert api("GET", f"/invoices/{inv_b['id']}").json()["status"] == "paid"
    wallet = api("GET", f"/organizations/{org['id']}/wallet").json()
    entries = api("GET", f"/organizations/{org['id']}/wallet/transactions").json()["items"]
    assert wallet["balance"] == 20_000 and [(e["type"], e["amount"]) for e in entries] == [("provision", 20_000)]
    # The invoice list shows the allocation
    assert api("GET", "/invoices", params={"status": "provisioned"}).json()["items"][0]["allocations"][0][
        "payment_id"] == pay["id"]
    # A delivered payment cannot be un-assigned
    res = api("DELETE", f"/payments/{pay['id']}/assignment")
    assert res.status_code == 409 and res.json()["error"]["code"] == "payment_credit_delivered"


def test_assign_unassign_five_times_then_the_sixth_is_refused(stack):
    api, org = setup(stack)
    pay = api("POST", "/payments", {**PAYMENT, "amount": 1_000}).json()
    path = f"/payments/{pay['id']}/assignment"
    steps = [("PUT", {"org_id": org["id"]}), ("DELETE", None)] * 2 + [("PUT", {"org_id": org["id"]})]
    for n, (method, body) in enumerate(steps, start=1):
        res = api(method, path, body)
        assert res.status_code == 200 and res.json()["assignment_edits"] == n
    res = api("DELETE", path)
    assert res.status_code == 409 and res.json()["error"]["code"] == "assignment_edit_limit_reached"
    assert api("GET", f"/payments/{pay['id']}").json()["assignment_edits_remaining"] == 0


def test_race_allocations_on_one_payment_never_over_allocate(stack):
    # Given a payment of 10,000 and 8 invoices of 3,000
    api, org = setup(stack)
    pay = api("POST", "/payments", {**PAYMENT, "amount": 10_000, "org_id": org["id"]}).json()
    invoices = [new_invoice(api, org, 3_000) for _ in range(8)]
    # When 8 clients each allocate 3,000 of it to their own invoice at once
    results = race(8, lambda i: api("POST", f"/payments/{pay['id']}/allocations",
                                    {"allocations": [{"invoice_id": invoices[i]["id"], "amount": 3_000}]}))
    codes = Counter(r.status_code if r.status_code == 200 else r.json()["error"]["code"] for r in results)
    # Then exactly three fit and the rest are refused as over-allocation
    print(f"\nrace one payment, 8 clients: {dict(codes)}")
    assert codes == {200: 3, "over_allocation": 5}
    final = api("GET", f"/payments/{pay['id']}").json()
    assert final["allocated_amount"] == 9_000 <= final["amount"]
    paid = sum(api("GET", f"/invoices/{i['id']}").json()["amount_paid"] for i in invoices)
    assert paid == final["allocated_amount"]


def test_race_payments_on_one_invoice_never_overpay(stack):
    # Given one invoice of 10,000 and 10 payments of 3,000
    api, org = setup(stack)
    inv = new_invoice(api, org, 10_000)
    pays = [api("POST", "/payments", {**PAYMENT, "amount": 3_000, "org_id": org["id"]}).json() for _ in range(10)]
    # When all allocate 3,000 to it at once
    results = race(10, lambda i: api("POST", f"/payments/{pays[i]['id']}/allocations",
                                     {"allocations": [{"invoice_id": inv["id"], "amount": 3_000}]}))
    codes = Counter(r.status_code if r.status_code == 200 else r.json()["error"]["code"] for r in results)
    print(f"\nrace one invoice, 10 clients: {dict(codes)}")
    # Then three succeed, the invoice is paid 9,000 of 10,000, and nobody overpaid it
    assert codes == {200: 3, "invoice_overpaid": 7}
    got = api("GET", f"/invoices/{inv['id']}").json()
    assert got["amount_paid"] == 9_000 and len(got["allocations"]) == 3


def test_race_assign_unassign_never_exceeds_five_edits(stack):
    # Given a payment and two organizations
    api, org = setup(stack)
    other = api("POST", "/organizations", {"name": "Other", "currency": "SGD"}).json()
    pay = api("POST", "/payments", {**PAYMENT, "amount": 1_000}).json()
    path = f"/payments/{pay['id']}/assignment"
    # When 12 clients assign and un-assign at once, round after round until five edits are used
    codes: Counter = Counter()
    rounds = 0
    while api("GET", f"/payments/{pay['id']}").json()["assignment_edits"] < 5 and rounds < 20:
        rounds += 1
        results = race(12, lambda i: api("PUT", path, {"org_id": (org, other)[i % 2]["id"]}) if i % 3 else
                       api("DELETE", path))
        codes.update(r.status_code if r.status_code == 200 else r.json()["error"]["code"] for r in results)
    final = api("GET", f"/payments/{pay['id']}").json()
    history = api("GET", f"/payments/{pay['id']}/history").json()["items"]
    edits = [h for h in history if h["action"] in ("payment.assigned", "payment.unassigned")]
    print(f"\nrace assignment, {rounds * 12} requests: {dict(codes)}; edits made {len(edits)}")
    # Then exactly five edits were made, however the requests interleaved
    assert final["assignment_edits"] == len(edits) == 5
    # And a further racing round changes nothing: each request is refused or a same-organization no-op
    after = race(12, lambda i: api("PUT", path, {"org_id": (org, other)[i % 2]["id"]}) if i % 3 else
                 api("DELETE", path))
    assert all(r.status_code in (200, 409) for r in after)
    assert api("GET", f"/payments/{pay['id']}").json() == final
    sixth = api("DELETE", path)
    assert sixth.status_code == 409 and sixth.json()["error"]["code"] == "assignment_edit_limit_reached"


def test_race_top_up_invoice_paid_by_racing_payments_is_provisioned_once(stack):
    # Given a top-up invoice of 9,000 and 9 payments of 1,000
    api, org = setup(stack)
    top = new_invoice(api, org, 9_000, "top_up")
    pays = [api("POST", "/payments", {**PAYMENT, "amount": 1_000, "org_id": org["id"]}).json() for _ in range(9)]
    # When they all pay it at once
    results = race(9, lambda i: api("POST", f"/payments/{pays[i]['id']}/allocations",
                                    {"allocations": [{"invoice_id": top["id"], "amount": 1_000}]}))
    print(f"\nrace top-up invoice, 9 clients: {Counter(r.status_code for r in results)}")
    assert all(r.status_code == 200 for r in results)
    # Then it is provisioned, and the wallet holds exactly one provision of 9,000
    assert api("GET", f"/invoices/{top['id']}").json()["status"] == "provisioned"
    entries = api("GET", f"/organizations/{org['id']}/wallet/transactions").json()["items"]
    assert [(e["type"], e["amount"]) for e in entries] == [("provision", 9_000)]
    assert api("GET", f"/organizations/{org['id']}/wallet").json()["balance"] == 9_000
    # And the invoice's history, once the stream is delivered (about a second), shows nine allocations, one
    # provisioning, and nothing twice
    actions: Counter = Counter()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        items = api("GET", f"/invoices/{top['id']}/history?limit=100").json()["items"]
        actions = Counter(i["action"] for i in items)
        if actions["invoice.allocated"] == 9 and actions["invoice.provisioned"] == 1:
            break
        time.sleep(0.2)
    assert actions == {"invoice.created": 1, "invoice.allocated": 9, "invoice.provisioned": 1}
    assert sum(i["changes"]["amount"]["to"] for i in items if i["action"] == "invoice.allocated") == 9_000


def test_race_debits_never_take_the_wallet_below_zero(stack):
    api, org = setup(stack)
    pay = api("POST", "/payments", {**PAYMENT, "amount": 1_000, "org_id": org["id"]}).json()
    api("POST", f"/payments/{pay['id']}/top-ups", {"amount": 1_000})
    results = race(8, lambda i: api("POST", f"/organizations/{org['id']}/wallet/debits",
                                    {"amount": 300, "reference": f"cdr-{i}"}))
    codes = Counter(r.status_code if r.status_code == 201 else r.json()["error"]["code"] for r in results)
    print(f"\nrace debits, 8 clients: {dict(codes)}")
    assert codes == {201: 3, "insufficient_balance": 5}
    wallet = api("GET", f"/organizations/{org['id']}/wallet").json()
    entries = api("GET", f"/organizations/{org['id']}/wallet/transactions").json()["items"]
    assert wallet["balance"] == 100 == sum(e["amount"] for e in entries)

"""Money that comes back, over HTTP on the local stack (what `make run` serves): a finance team's week of
corrections, every route of issue 10 once, with the money checked at each step.

Invariant M1 (checked after each step): a wallet's balance is the sum of its ledger entries, and only a
`reversal` takes it below zero.
"""

from __future__ import annotations

from tests.conftest import new_partner
from tests.e2e.conftest import as_admin, as_viewer, table_of

PAYMENT = {"currency": "SGD", "received_date": "2026-11-20", "method": "cheque"}


def ledger(api, org):
    res = api("GET", f"/organizations/{org['id']}/wallet/transactions", params={"limit": 100})
    assert res.status_code == 200, res.text
    return res.json()["items"]


def wallet_holds(api, org, expected):
    balance = api("GET", f"/organizations/{org['id']}/wallet").json()["balance"]
    entries = ledger(api, org)
    assert balance == expected == sum(e["amount"] for e in entries)  # M1
    assert all(e["balance_after"] >= 0 for e in entries if e["amount"] < 0 and e["type"] != "reversal")  # M1
    return entries


def test_credit_notes_voids_withdrawals_and_a_bounced_cheque_over_http(stack):
    partner = new_partner()
    api, viewer = as_admin(stack, partner), as_viewer(stack, partner)
    org = api("POST", "/organizations", {"name": "Acme Telecom", "currency": "SGD"}).json()

    def invoice(amount, type_="standard"):
        res = api("POST", "/invoices", {"org_id": org["id"], "type": type_, "amount": amount, "currency": "SGD",
                                        "issued_date": "2026-11-01"})
        assert res.status_code == 201, res.text
        return res.json()

    # Given a cheque of SGD 300 paying an invoice of SGD 100 in full and a top-up invoice of SGD 50, with SGD 80
    # topped up into the wallet
    standard, top_up = invoice(10_000), invoice(5_000, "top_up")
    cheque = api("POST", "/payments", {**PAYMENT, "amount": 30_000, "org_id": org["id"]}).json()
    res = api("POST", f"/payments/{cheque['id']}/allocations", {"allocations": [
        {"invoice_id": standard["id"], "amount": 10_000}, {"invoice_id": top_up["id"], "amount": 5_000}]})
    assert res.status_code == 200, res.text
    assert api("POST", f"/payments/{cheque['id']}/top-ups", {"amount": 8_000}).status_code == 200
    wallet_holds(api, org, 13_000)

    # When the paid invoice is credited SGD 30 (a billing error): nothing was due, so all of it goes to the wallet
    res = api("POST", f"/invoices/{standard['id']}/credit-notes", {"amount": 3_000, "reason": "billing_error",
                                                                     "memo": "double-billed"},
              headers={"Idempotency-Key": "cn-1"})
    assert res.status_code == 201, res.text
    note = res.json()
    assert (note["number"], note["due_reduced"], note["wallet_credited"]) == ("CN-000001", 0, 3_000)
    # and the same request again (the console retried) replays it
    again = api("POST", f"/invoices/{standard['id']}/credit-notes", {"amount": 3_000, "reason": "billing_error",
                                                                       "memo": "double-billed"},
                headers={"Idempotency-Key": "cn-1"})
    assert again.status_code == 201 and again.json() == note
    entries = wallet_holds(api, org, 16_000)
    assert (entries[0]["type"], entries[0]["amount"], entries[0]["reference"]) == ("credit_note", 3_000, note["id"])
    inv = api("GET", f"/invoices/{standard['id']}").json()
    assert (inv["amount_credited"], inv["amount_due"], inv["status"]) == (3_000, 0, "paid")
    assert [c["number"] for c in inv["credit_notes"]] == ["CN-000001"]
    assert viewer("GET", "/credit-notes", params={"invoice_id": standard["id"]}).json()["items"] == [note]
    assert viewer("GET", f"/credit-notes/{note['id']}").json() == note

    # When SGD 20 is paid back to the customer by telegraphic transfer
    res = api("POST", f"/organizations/{org['id']}/wallet/withdrawals",
              {"amount": 2_000, "method": "telegraphic_transfer", "reference": "TT-1"})
    assert res.status_code == 201, res.text
    withdrawal = res.json()
    wallet_holds(api, org, 14_000)
    assert viewer("GET", f"/organizations/{org['id']}/wallet/withdrawals").json()["items"] == [withdrawal]
    # and more than the wallet holds is refused, writing nothing
    before = table_of(stack)
    res = api("POST", f"/organizations/{org['id']}/wallet/withdrawals", {"amount": 14_001, "method": "cash"})
    assert res.status_code == 409 and res.json()["error"]["code"] == "insufficient_balance"
    assert table_of(stack) == before

    # When an invoice issued by mistake is voided
    mistake = invoice(7_000)
    res = api("POST", f"/invoices/{mistake['id']}/void", {"reason": "issued to the wrong customer"})
    assert res.status_code == 200 and (res.json()["status"], res.json()["amount_due"]) == ("void", 0), res.text
    listed = viewer("GET", "/invoices", params={"status": "void"}).json()["items"]
    assert [i["id"] for i in listed] == [mistake["id"]]

    # When the cheque bounces
    res = api("POST", f"/payments/{cheque['id']}/bounce", {"bounced_date": "2026-11-27", "reason": "NSF"})
    assert res.status_code == 200, res.text
    bounced = res.json()
    assert (bounced["status"], bounced["allocations"], bounced["bounce_reason"]) == ("bounced", [], "NSF")
    # Then everything its money did comes back in one reversal: the provisioned top-up invoice (50), the top-up
    # (80) and the credit note's credit that stood on its money (30); the wallet goes below zero by it
    entries = wallet_holds(api, org, 14_000 - 16_000)
    assert (entries[0]["type"], entries[0]["amount"], entries[0]["reference"]) == ("reversal", -16_000, cheque["id"])
    inv = api("GET", f"/invoices/{standard['id']}").json()
    assert (inv["amount_paid"], inv["amount_due"], inv["status"]) == (0, 7_000, "unpaid")
    top = api("GET", f"/invoices/{top_up['id']}").json()
    assert (top["amount_paid"], top["status"]) == (0, "unpaid")
    # And the bounced cheque stays on record, refusing everything
    assert [p["id"] for p in viewer("GET", "/payments", params={"status": "bounced"}).json()["items"]] == [cheque["id"]]
    history = viewer("GET", f"/payments/{cheque['id']}/history").json()["items"]
    assert history[0]["action"] == "payment.bounced"
    before = table_of(stack)
    for method, path, body in (("POST", f"/payments/{cheque['id']}/bounce", {"bounced_date": "2026-11-27",
                                                                             "reason": "again"}),
                               ("POST", f"/payments/{cheque['id']}/top-ups", {"amount": 1}),
                               ("DELETE", f"/payments/{cheque['id']}", None)):
        res = api(method, path, body)
        assert res.status_code == 409 and res.json()["error"]["code"] == "payment_bounced", (path, res.text)
    # And the wallet below zero refuses a withdrawal
    res = api("POST", f"/organizations/{org['id']}/wallet/withdrawals", {"amount": 1, "method": "cash"})
    assert res.status_code == 409 and res.json()["error"]["code"] == "insufficient_balance"
    assert table_of(stack) == before

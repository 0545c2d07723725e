"""Demo data for one demo partner, written through the public API with that partner's token only."""

from __future__ import annotations

from typing import Any

import requests

from local.auth import mint

DEMO_PARTNER = "ptn_demo"

ORGANIZATIONS = [("Acme Telecom", "SGD"), ("Blue Harbour Logistics", "SGD"), ("Cedar Health", "USD")]
PAYMENTS = [  # (organization index or None, amount, method, reference, received_date)
    (0, 125_000, "telegraphic_transfer", "TT-2026-0001", "2026-11-02"),
    (0, 50_000, "cheque", "CHQ-884213", "2026-11-09"),
    (1, 80_050, "cheque", "CHQ-551200", "2026-11-12"),
    (2, 250_000, "telegraphic_transfer", "TT-US-7781", "2026-11-15"),
    (None, 30_000, "cash", "CASH-0042", "2026-11-18"),
]


def seed(api_url: str) -> dict[str, Any]:
    token = mint("demo-seed@example.com", DEMO_PARTNER, ["finance-admin"])
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    orgs = []
    for i, (name, currency) in enumerate(ORGANIZATIONS):
        res = session.post(f"{api_url}/organizations", json={"name": name, "currency": currency},
                           headers={"Idempotency-Key": f"seed-org-{i}"}, timeout=10)
        res.raise_for_status()
        orgs.append(res.json())
    session.put(f"{api_url}/organizations/{orgs[0]['id']}/payment-settings", timeout=10,
                json={"method": "cheque_or_tt", "trigger_amount": 100_000, "limit_threshold": 20_000,
                      "auto_trigger": True}).raise_for_status()
    payments = []
    for i, (org, amount, method, reference, received) in enumerate(PAYMENTS):
        body: dict[str, Any] = {"amount": amount, "currency": orgs[org]["currency"] if org is not None else "SGD",
                                "received_date": received, "method": method, "reference": reference}
        if org is not None:
            body["org_id"] = orgs[org]["id"]
        res = session.post(f"{api_url}/payments", json=body, headers={"Idempotency-Key": f"seed-pay-{i}"},
                           timeout=10)
        res.raise_for_status()
        payments.append(res.json())
    _money_back(session, api_url, orgs, payments)
    return {"partner_id": DEMO_PARTNER, "organizations": orgs, "payments": payments}


def _money_back(session: requests.Session, api_url: str, orgs: list[dict[str, Any]],
                payments: list[dict[str, Any]]) -> None:
    """Issue 10 in the demo: Blue Harbour's cheque pays its invoice, a credit note then puts SGD 50 in its wallet
    and SGD 20 of it is paid back; an invoice of Acme's issued by mistake is void; Acme's second cheque bounced;
    two of Acme's invoices are open."""
    def post(path: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        res = session.post(f"{api_url}{path}", json=body, headers={"Idempotency-Key": key}, timeout=10)
        res.raise_for_status()
        return res.json()

    harbour, acme = orgs[1], orgs[0]
    invoice = post("/invoices", {"org_id": harbour["id"], "type": "standard", "amount": 80_050, "currency": "SGD",
                                 "issued_date": "2026-11-01", "due_date": "2026-11-30"}, "seed-inv-harbour")
    post(f"/payments/{payments[2]['id']}/allocations",
         {"allocations": [{"invoice_id": invoice["id"], "amount": 80_050}]}, "seed-alloc-harbour")
    post(f"/invoices/{invoice['id']}/credit-notes", {"amount": 5_000, "reason": "service_issue",
                                                      "memo": "SMS outage on 2026-11-05"}, "seed-cn-harbour")
    post(f"/organizations/{harbour['id']}/wallet/withdrawals",
         {"amount": 2_000, "method": "cheque", "reference": "CHQ-OUT-0001"}, "seed-wdr-harbour")
    mistake = post("/invoices", {"org_id": acme["id"], "type": "standard", "amount": 12_000, "currency": "SGD",
                                 "issued_date": "2026-11-03"}, "seed-inv-acme")
    post(f"/invoices/{mistake['id']}/void", {"reason": "issued to the wrong organization"}, "seed-void-acme")
    bounced = post(f"/payments/{payments[1]['id']}/bounce",
                   {"bounced_date": "2026-11-16", "reason": "cheque returned: insufficient funds"}, "seed-bounce-acme")
    payments[1] = bounced
    # Open invoices of Acme's for its unallocated transfer (TT-2026-0001): the console's Assign & Allocate
    post("/invoices", {"org_id": acme["id"], "type": "standard", "amount": 90_000, "currency": "SGD",
                       "issued_date": "2026-11-01", "due_date": "2026-12-01"}, "seed-inv-acme-open")
    post("/invoices", {"org_id": acme["id"], "type": "top_up", "amount": 20_000, "currency": "SGD",
                       "issued_date": "2026-11-10"}, "seed-inv-acme-top-up")

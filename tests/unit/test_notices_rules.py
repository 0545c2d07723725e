"""The notices' rules, pure (shared.domain.notices, shared.domain.notices_delivery): what a change of an item means
to a partner, the retry schedule, the signature and where a notice may be sent.

  N1 each notice type comes from the one change that means it, with the item after the change;
  N2 a change that changed nothing a notice reports derives nothing (a redelivered, unchanged or removed item, an
     insert of an organization): no notice for a change that did not happen;
  N3 a wallet's low balance is told once per crossing: staying low, or low again without having been above, is
     silent; each crossing has its own id;
  N4 the same change derives the same ids (a stream record delivered twice writes nothing twice);
  N5 retries: 30 s, then doubling, at most an hour apart, for three days, then `failed`;
  N6 the signature is HMAC-SHA256 of "<t>.<raw body>" keyed with the whole secret, as documented;
  N7 deployed, only https to public addresses; the loopback setting adds http://127.0.0.1:<port>/ only.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.notices import derive
from shared.domain.notices_delivery import (
    UrlRefused,
    WebhookDelivery,
    address_allowed,
    check_url_shape,
    retried,
    signature,
    tried_and_failed,
)
from shared.errors import Conflict

AT, LATER = "2026-11-21T09:30:00.000Z", "2026-11-21T09:31:00.000Z"


def org(balance: int, threshold: int = 1_000, *, version: int = 1, auto: bool = True, **settings: Any) -> dict:
    return {"id": "org_01KB9Z3K2N5P7Q9R1S3T5V7W9X", "partner_id": "ptn_a", "name": "Acme", "currency": "SGD",
            "created_at": AT, "created_by": "a", "version": version, "balance": balance, "ledger_seq": version,
            "wallet_updated_at": LATER, "entity": "organization", "pk": "ORG#x", "sk": "META",
            "settings": {"method": "cheque_or_tt", "trigger_amount": 500, "limit_threshold": threshold,
                         "auto_trigger": auto, "updated_at": LATER, **settings}}


def attempt(status: str) -> dict:
    return {"org_id": "org_01KB9Z3K2N5P7Q9R1S3T5V7W9X", "partner_id": "ptn_a", "business_date": "2026-11-21",
            "method": "cheque_or_tt", "amount": 500, "currency": "SGD", "status": status, "created_at": AT,
            "updated_at": LATER, "invoice_id": "inv_01KB9Z1A2B3C4D5E6F7G8H9J0K" if status == "invoice_issued" else None}


def payment(**fields: Any) -> dict:
    return {"id": "pay_01KB9Z3K2N5P7Q9R1S3T5V7W9X", "partner_id": "ptn_a", "org_id": "org_01KB9Z3K2N5P7Q9R1S3T5V7W9X",
            "amount": 10_000, "currency": "SGD", "received_date": "2026-11-20", "method": "stripe", "created_at": AT,
            "created_by": "a", "updated_at": LATER, **fields}


def refund(status: str, rid: str = "rfd_1") -> dict:
    return {"id": rid, "amount": 2_000, "status": status, "origin": "api", "created_at": AT, "created_by": "a",
            "updated_at": LATER}


def dispute(did: str) -> dict:
    return {"id": did, "amount": 10_000, "status": "needs_response", "created_at": LATER, "updated_at": LATER}


def types(entity: str, old: dict | None, new: dict | None) -> list[str]:
    return [n.type for n in derive(entity, old, new)]


def test_n1_each_type_comes_from_the_change_that_means_it():
    # A debit takes the wallet from above its threshold to it
    [low] = derive("organization", org(1_500), org(1_000, version=2))
    assert (low.type, low.partner_id, low.org_id, low.created_at) == ("wallet.low_balance", "ptn_a", org(0)["id"],
                                                                       LATER)
    assert low.subject.balance == 1_000  # the record after the change
    # The system switches the automatic top-up off after its failures
    assert types("organization", org(500, version=3),
                 org(500, version=4, auto=False, disabled_reason="consecutive_failures", consecutive_failures=3)) == [
        "auto_top_up.disabled"]
    # An attempt reaches each final status (from claimed, or written so)
    for status in ("invoice_issued", "credited", "failed", "skipped"):
        assert types("auto_top_up_attempt", attempt("claimed"), attempt(status)) == [f"auto_top_up.{status}"]
        assert types("auto_top_up_attempt", None, attempt(status)) == [f"auto_top_up.{status}"]
    # A payment bounces, a refund succeeds, a dispute opens
    assert types("payment", payment(), payment(bounced_date="2026-11-22", bounce_reason="nsf")) == ["payment.bounced"]
    [refunded] = derive("payment", payment(refunds=[refund("pending")]), payment(refunds=[refund("succeeded")]))
    assert (refunded.type, refunded.part_id) == ("payment.refunded", "rfd_1")
    [disputed] = derive("payment", payment(disputes=[dispute("dp_1")]),
                        payment(disputes=[dispute("dp_1"), dispute("dp_2")]))
    assert (disputed.type, disputed.part_id) == ("payment.disputed", "dp_2")


def test_n2_a_change_that_did_not_happen_derives_nothing():
    same = org(900, version=2)
    assert types("organization", same, same) == []  # delivered again, or rewritten unchanged
    assert types("organization", None, org(0)) == []  # a new organization (0 at threshold 0) fell from nowhere
    assert types("organization", org(1_500), None) == []  # removed
    # switched off by a person (no disabled_reason), or still off
    assert types("organization", org(500), org(500, version=2, auto=False)) == []
    off = org(500, auto=False, disabled_reason="consecutive_failures")
    assert types("organization", off, {**off, "version": 2}) == []
    assert types("auto_top_up_attempt", attempt("credited"), attempt("credited")) == []
    assert types("auto_top_up_attempt", None, attempt("claimed")) == []
    assert types("auto_top_up_attempt", attempt("claimed"), attempt("charge_pending")) == []
    bounced = payment(bounced_date="2026-11-22")
    assert types("payment", bounced, bounced) == []
    assert types("payment", payment(refunds=[refund("succeeded")]), payment(refunds=[refund("succeeded")])) == []
    assert types("payment", payment(refunds=[refund("pending")]), payment(refunds=[refund("failed")])) == []
    assert types("payment", payment(disputes=[dispute("dp_1")]), payment(disputes=[dispute("dp_1")])) == []
    assert types("invoice", {"id": "inv_1"}, {"id": "inv_1", "status": "paid"}) == []  # not an item notices watch


def test_n3_a_low_balance_is_told_once_per_crossing():
    # Given a wallet crossing its threshold, debited again while low, topped up above it, and debited below again
    steps = [org(1_500, version=1), org(1_000, version=2), org(200, version=3), org(5_000, version=4),
             org(800, version=5)]
    told = [n for old, new in itertools.pairwise(steps) for n in derive("organization", old, new)]
    # Then it was told at the two crossings only, each with its own id
    assert [n.subject.version for n in told] == [2, 5] and told[0].id != told[1].id
    # And a threshold raised above the balance is a crossing too (each image against its own threshold)
    assert types("organization", org(1_500, 1_000), org(1_500, 2_000, version=2)) == ["wallet.low_balance"]
    assert types("organization", org(900, 1_000), org(900, 800, version=2)) == []  # lowered below it: not low now


def test_n4_the_same_change_derives_the_same_ids():
    old, new = org(1_500), org(1_000, version=2)
    assert [n.id for n in derive("organization", old, new)] == [n.id for n in derive("organization", old, new)]
    [notice] = derive("organization", old, new)
    assert notice.id.startswith("evt_")
    other = derive("organization", org(1_500, version=7), org(1_000, version=8))[0]
    assert other.id != notice.id


def delivery(started: datetime) -> WebhookDelivery:
    at = started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return WebhookDelivery(id="whd_1", partner_id="ptn_a", event_id="evt_1", endpoint_id="whe_1",
                           type="wallet.low_balance", body="{}", window_started_at=at, next_attempt_at=at,
                           created_at=at, updated_at=at)


def test_n5_retries_double_up_to_an_hour_for_three_days_then_fail():
    start = datetime(2026, 11, 21, tzinfo=UTC)
    d, now, waits = delivery(start), start, []
    while d.status == "pending":
        d = tried_and_failed(d, now, 500, "http_500")
        if d.status == "pending":
            nxt = datetime.fromisoformat(d.next_attempt_at.replace("Z", "+00:00"))
            waits.append(int((nxt - now).total_seconds()))
            now = nxt
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert set(waits[8:]) == {3600}
    assert now <= start + timedelta(days=3) and d.status == "failed" and d.next_attempt_at is None
    assert d.attempts == len(waits) + 1 and d.last_status_code == 500
    # A person's retry of a failed one gives it three more days; of any other, 409
    again = retried(d, now)
    assert again.status == "pending" and again.window_started_at == again.next_attempt_at
    # and starts the schedule again: its next failure waits 30 s, not an hour
    after = tried_and_failed(again, now, 500, "http_500")
    assert after.next_attempt_at is not None and after.attempts == d.attempts + 1
    assert datetime.fromisoformat(after.next_attempt_at.replace("Z", "+00:00")) - now == timedelta(seconds=30)
    with pytest.raises(Conflict) as refused:
        retried(again, now)
    assert refused.value.code == "webhook_delivery_not_failed"


def test_n6_the_signature_is_the_documented_hmac():
    secret, body, t = "whsec_abc", b'{"id":"evt_1"}', 1_763_717_400
    header = signature(secret, t, body)
    expected = hmac.new(secret.encode("utf-8"), b"1763717400." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1763717400,v1={expected}"


@pytest.mark.parametrize("url", ["http://example.com/hook", "ftp://example.com/", "https:///nohost",
                                 "https://user:pw@example.com/", "https://example.com/#frag", "not a url",
                                 "http://127.0.0.1:8080/hook", "https://example.com:99999/", "x" * 3_000])
def test_n7_deployed_only_https_urls_pass_the_shape(url):
    with pytest.raises(UrlRefused):
        check_url_shape(url, allow_loopback=False)


def test_n7_the_loopback_setting_adds_http_to_127_0_0_1_with_a_port_only():
    assert check_url_shape("http://127.0.0.1:8080/hook", allow_loopback=True) == ("127.0.0.1", 8080)
    assert check_url_shape("https://hooks.example.com/x", allow_loopback=False) == ("hooks.example.com", 443)
    for url in ("http://127.0.0.1/hook", "http://localhost:8080/hook", "http://10.0.0.1:8080/"):
        with pytest.raises(UrlRefused):
            check_url_shape(url, allow_loopback=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
                                     "224.0.0.1"])
def test_n7_private_loopback_and_link_local_addresses_are_refused(address):
    assert not address_allowed(address, allow_loopback=False)


def test_n7_public_addresses_pass_and_loopback_only_with_the_setting():
    assert address_allowed("93.184.216.34", allow_loopback=False)
    assert address_allowed("2606:2800:220:1:248:1893:25c8:1946", allow_loopback=False)
    assert address_allowed("127.0.0.1", allow_loopback=True)
    assert not address_allowed("127.0.0.2", allow_loopback=True) and not address_allowed("10.0.0.1",
                                                                                         allow_loopback=True)

"""Notices to a partner's own systems (issue 30): webhook endpoints through WebhookEndpointsFunction, notices derived
from the table's stream by NoticesFunction and POSTed by NoticeDeliveryFunction, each run as the local stack runs it
(the stream and the queue delivered by local/streams.py and local/queues.py), to real receivers on 127.0.0.1.

  W1 an endpoint is registered (its secret shown in that answer only), listed without secrets, deleted;
  W2 a bad URL, a URL that is not https or leads to a private, loopback or link-local address (loopback setting
     off), an unknown type: 422 and nothing written;
  W3 writes are the partner's finance admins' (a viewer: 403); another partner's endpoints and deliveries answer 404;
  W4 a partner's endpoints receive its own notices only; a refused change sends none;
  W5 end to end: a receiver answering 500 then 200 gets the same event twice, both signed as documented, and the
     log shows the delivery delivered after two tries;
  W6 a delivery environment killed mid-try loses nothing: the message comes back and the notice is delivered;
  W7 a slow or down endpoint does not delay another endpoint's delivery;
  W8 a failed delivery is sent again by a person (only a failed one); the log filters by endpoint and status;
  W9 a stream record delivered twice writes nothing twice.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from local.processes import kill_group
from local.queues import QueueDelivery
from local.stripe import overrides as stripe_overrides
from local.template import Template
from shared.container import Container
from tests.conftest import load_event, new_partner
from tests.handlers.conftest import NO_KEY, PLATFORM, admin, create_org, record, viewer
from tests.handlers.notices_support import Receiver, pump, verified
from tests.handlers.test_money_back import bounced, debit, top_up

FUNCTION = "WebhookEndpointsFunction"


def call(lambdas, name: str, partner: str, who: dict[str, Any] | None = None, **kw: Any) -> tuple[int, Any]:
    path = {"partner_id": partner, **kw.pop("path", {})}
    return lambdas.call(FUNCTION, load_event(f"webhook_endpoints/{name}.json", path=path, **(who or admin(partner)),
                                             **kw))


def register(lambdas, partner: str, url: str, events: list[str] | None = None) -> dict[str, Any]:
    status, body = call(lambdas, "create_endpoint", partner, body={"url": url,
                                                                   "events": events or ["wallet.low_balance"]})
    assert status == 201, body
    return body


def deliveries(lambdas, partner: str, **query: str) -> list[dict[str, Any]]:
    status, body = call(lambdas, "list_deliveries", partner, who=viewer(partner), query={"limit": "100", **query})
    assert status == 200, body
    return body["items"]


@pytest.fixture(scope="module")
def queue(lambdas) -> Iterator[QueueDelivery]:
    """The delivery queue to NoticeDeliveryFunction, in environments of their own whose first retry waits 1 s (not
    30: the schedule itself is tested in tests/unit/test_notices_rules.py)."""
    from local.lambdas import FunctionHost

    template = Template.load()
    host = FunctionHost(template, {**lambdas.aws.overrides("ERROR"), **stripe_overrides(lambdas.stripe),
                                   "WEBHOOK_FIRST_RETRY_SECONDS": "1"})
    delivery = QueueDelivery(lambdas.aws, host, template)
    try:
        yield delivery
    finally:
        host.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def low_wallet(lambdas, partner: str, name: str = "Notices Telecom") -> dict[str, Any]:
    """An organization with SGD 20.00 in its wallet and a limit threshold of SGD 10.00 (above it)."""
    org = create_org(lambdas, partner, name)
    status, body = lambdas.accounts("put_payment_settings", path={"org_id": org["id"]}, headers=NO_KEY,
                                    body={"method": "cheque_or_tt", "trigger_amount": 0, "limit_threshold": 1_000,
                                          "auto_trigger": False}, **admin(partner))
    assert status == 200, body
    top_up(lambdas, partner, record(lambdas, partner, org_id=org["id"], amount=2_000), 2_000)
    return org


def test_w1_an_endpoint_is_registered_listed_without_its_secret_and_deleted(lambdas, partner):
    # Given a finance admin registering an endpoint
    status, created = call(lambdas, "create_endpoint", partner, body={
        "url": "http://127.0.0.1:9/hooks", "events": ["wallet.low_balance", "payment.bounced", "wallet.low_balance"]})
    # Then it is answered with its signing secret, once
    assert status == 201, created
    assert created["secret"].startswith("whsec_") and created["id"].startswith("whe_")
    assert created["events"] == ["wallet.low_balance", "payment.bounced"] and created["url"] == "http://127.0.0.1:9/hooks"
    # And listed (to its viewer too) without the secret
    status, page = call(lambdas, "list_endpoints", partner, who=viewer(partner))
    assert status == 200 and page["next_cursor"] is None
    assert page["items"] == [{k: v for k, v in created.items() if k != "secret"}]
    # When it is deleted, it is gone; deleted again, 404
    path = {"endpoint_id": created["id"]}
    assert call(lambdas, "delete_endpoint", partner, path=path) == (204, None)
    assert call(lambdas, "list_endpoints", partner)[1]["items"] == []
    assert call(lambdas, "delete_endpoint", partner, path=path)[0] == 404


@pytest.mark.parametrize(("url", "events", "code"), [
    ("not a url", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("http://partner.example/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("http://127.0.0.1:8080/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://127.0.0.1/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://localhost/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://10.1.2.3/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://169.254.169.254/latest", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://[::1]/hooks", ["wallet.low_balance"], "webhook_url_not_allowed"),
    ("https://93.184.216.34/hooks", ["wallet.exploded"], "validation_error"),
    ("https://93.184.216.34/hooks", [], "validation_error"),
])
def test_w2_a_url_that_may_not_receive_notices_or_an_unknown_type_is_422(lambdas, deployed, url, events, code):
    # Given the functions as deployed (the loopback setting off)
    before = lambdas.snapshot()
    # When an endpoint is registered with it
    event = load_event("webhook_endpoints/create_endpoint.json", path={"partner_id": "ptn_w2"},
                       body={"url": url, "events": events}, **admin("ptn_w2"))
    res = deployed.invoke(FUNCTION, event)
    # Then 422 with its code, and nothing is written
    assert res["statusCode"] == 422, res
    assert json.loads(res["body"])["error"]["code"] == code
    assert lambdas.snapshot() == before


@pytest.fixture(scope="module")
def deployed(lambdas) -> Iterator[Any]:
    """WebhookEndpointsFunction as deployed: WEBHOOK_ALLOW_LOOPBACK off."""
    from local.lambdas import FunctionHost

    overrides = {**lambdas.aws.overrides("ERROR"), **stripe_overrides(lambdas.stripe)}
    overrides.pop("WEBHOOK_ALLOW_LOOPBACK")
    host = FunctionHost(Template.load(), overrides)
    yield host
    host.stop()


def test_w3_writes_are_the_partners_admins_and_another_partner_sees_404(lambdas, partner):
    mine = register(lambdas, partner, "http://127.0.0.1:9/hooks")
    other = new_partner()
    body = {"url": "http://127.0.0.1:9/x", "events": ["payment.bounced"]}
    before = lambdas.snapshot()
    # A viewer may not write (403); another partner's admin finds nothing (404), nor a platform admin may write (403)
    assert call(lambdas, "create_endpoint", partner, who=viewer(partner), body=body)[0] == 403
    assert call(lambdas, "create_endpoint", partner, who=admin(other), body=body)[0] == 404
    assert call(lambdas, "create_endpoint", partner, who=PLATFORM, body=body)[0] == 403
    assert call(lambdas, "delete_endpoint", partner, who=admin(other), path={"endpoint_id": mine["id"]})[0] == 404
    assert call(lambdas, "delete_endpoint", partner, who=viewer(partner), path={"endpoint_id": mine["id"]})[0] == 403
    assert call(lambdas, "list_endpoints", partner, who=admin(other))[0] == 404
    assert call(lambdas, "list_deliveries", partner, who=admin(other))[0] == 404
    customer = {"claims": {"partner_id": partner, "groups": "[org-admin]", "sub": "c@x", "org_id": "org_" + "0" * 26}}
    assert call(lambdas, "list_endpoints", partner, who=customer)[0] == 403
    assert lambdas.snapshot() == before
    # The platform reads any partner's endpoints
    status, page = call(lambdas, "list_endpoints", partner, who=PLATFORM)
    assert status == 200 and [e["id"] for e in page["items"]] == [mine["id"]]


def test_w4_a_partner_receives_its_own_notices_only_and_none_for_a_refused_change(lambdas, queue):
    # Given two partners, each with an endpoint for low balances, and a wallet of each above its threshold
    a, b = new_partner(), new_partner()
    receivers = {a: Receiver(), b: Receiver()}
    try:
        endpoints = {p: register(lambdas, p, receivers[p].url) for p in (a, b)}
        orgs = {p: low_wallet(lambdas, p) for p in (a, b)}
        # When B's wallet is debited to its threshold, and A's debit is refused (more than its balance)
        assert debit(lambdas, b, orgs[b], 1_000)[0] == 201
        assert debit(lambdas, a, orgs[a], 5_000)[0] == 409
        pump(lambdas.deliver_stream, queue, lambda: bool(receivers[b].received))
        time.sleep(0.5)
        pump(lambdas.deliver_stream, queue, lambda: True)
        # Then B's endpoint got B's notice, signed with B's secret, and A's endpoint got nothing
        [got] = receivers[b].received
        notice = got.json
        assert (notice["type"], notice["partner_id"], notice["data"]["org_id"]) == ("wallet.low_balance", b,
                                                                                     orgs[b]["id"])
        assert notice["data"]["wallet"]["balance"] == 1_000 and verified(got, endpoints[b]["secret"])
        assert receivers[a].received == []
        # And each partner's log holds its own deliveries only
        assert [d["event_id"] for d in deliveries(lambdas, b)] == [notice["id"]] and deliveries(lambdas, a) == []
    finally:
        for r in receivers.values():
            r.stop()


def test_w5_a_500_is_retried_with_the_same_event_id_signed_each_time(lambdas, queue, partner):
    # Given an endpoint that answers 500 once, then 200
    receiver = Receiver(answers=[500])
    try:
        endpoint = register(lambdas, partner, receiver.url, ["wallet.low_balance", "payment.bounced"])
        org = low_wallet(lambdas, partner)
        # When the wallet falls to its threshold and the notice is delivered
        assert debit(lambdas, partner, org, 1_500)[0] == 201
        pump(lambdas.deliver_stream, queue, lambda: len(receiver.received) >= 2)
        # Then the same event arrived twice, each try signed as documented
        first, second = receiver.received
        assert first.json["id"] == second.json["id"] and first.body == second.body
        assert verified(first, endpoint["secret"]) and verified(second, endpoint["secret"])
        assert second.at - first.at >= 0.9  # the first retry waited (1 s in this test's setting, 30 s deployed)
        # And the log shows it delivered after two tries
        pump(lambdas.deliver_stream, queue, lambda: deliveries(lambdas, partner)[0]["status"] == "delivered")
        [logged] = deliveries(lambdas, partner)
        assert logged == {**logged, "event_id": first.json["id"], "endpoint_id": endpoint["id"], "attempts": 2,
                          "last_status_code": 200, "status": "delivered", "next_attempt_at": None,
                          "type": "wallet.low_balance", "last_error": None}
    finally:
        receiver.stop()


def test_w6_a_delivery_environment_killed_mid_try_loses_nothing(lambdas, queue, partner):
    # Given an endpoint that holds the first request until the delivery environment is killed, and a queue whose
    # messages come back after 1 s (180 s deployed: six times the function's timeout)
    hold = threading.Event()
    receiver = Receiver(hold=hold)
    url = lambdas.aws.queue_urls["WebhookDeliveryQueue"]
    sqs = queue.sqs
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    try:
        endpoint = register(lambdas, partner, receiver.url)
        org = low_wallet(lambdas, partner)
        assert debit(lambdas, partner, org, 1_500)[0] == 201
        lambdas.deliver_stream()
        # When the delivery function is killed while the endpoint holds its request
        worker = threading.Thread(target=lambda: pump(lambdas.deliver_stream, queue, lambda: True))
        worker.start()
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.received, "the delivery never reached the endpoint"
        for pid in queue.host.pids():
            kill_group(pid, signal.SIGKILL)
        worker.join(30)
        receiver.hold = None
        hold.set()
        # Then the message comes back and the notice is delivered, under the same event id
        pump(lambdas.deliver_stream, queue, lambda: deliveries(lambdas, partner)[0]["status"] == "delivered")
        assert len(receiver.received) >= 2 and len({r.json["id"] for r in receiver.received}) == 1
        assert all(verified(r, endpoint["secret"]) for r in receiver.received)
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "180"})
        receiver.stop()


def test_w7_a_slow_endpoint_does_not_delay_another(lambdas, queue, partner):
    # Given two endpoints of the partner: one down (it answers 503 after 3 s), one up
    down, up = Receiver(default=503, delay=3.0), Receiver()
    try:
        register(lambdas, partner, down.url)
        register(lambdas, partner, up.url)
        org = low_wallet(lambdas, partner)
        # When a notice goes to both
        assert debit(lambdas, partner, org, 1_500)[0] == 201
        pump(lambdas.deliver_stream, queue, lambda: bool(up.received) and bool(down.answered))
        # Then the one up had it before the one down had even answered
        assert up.received[0].at < down.answered[0][1] - 2
        # And the one down waits for its retry, pending, while the other is delivered
        by_status = {d["status"] for d in deliveries(lambdas, partner)}
        assert by_status == {"pending", "delivered"}
    finally:
        down.stop()
        up.stop()


def fail_for_three_days(lambdas, partner: str, delivery_id: str) -> None:
    """Given a delivery that has been failing for three days (its window moved back; the schedule's own test is
    tests/unit/test_notices_rules.py)."""
    repo = Container.from_env().notices
    d = repo.get_delivery(partner, delivery_id)
    assert d is not None
    started = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert repo.save_delivery(d.model_copy(update={"window_started_at": started, "version": d.version + 1}))


def test_w8_a_failed_delivery_is_sent_again_by_a_person(lambdas, queue, partner):
    # Given an endpoint down for three days, and another endpoint up
    receiver = Receiver(default=500)
    other = Receiver()
    try:
        endpoint = register(lambdas, partner, receiver.url)
        second = register(lambdas, partner, other.url)
        org = low_wallet(lambdas, partner)
        assert debit(lambdas, partner, org, 1_500)[0] == 201
        pump(lambdas.deliver_stream, queue, lambda: bool(receiver.received) and bool(other.received))
        [pending] = deliveries(lambdas, partner, endpoint_id=endpoint["id"])
        fail_for_three_days(lambdas, partner, pending["id"])
        pump(lambdas.deliver_stream, queue,
             lambda: deliveries(lambdas, partner, endpoint_id=endpoint["id"])[0]["status"] == "failed")
        # Then the log filters it by endpoint and by status
        [failed] = deliveries(lambdas, partner, status="failed")
        assert failed["id"] == pending["id"] and failed["next_attempt_at"] is None and failed["attempts"] >= 2
        assert [d["endpoint_id"] for d in deliveries(lambdas, partner, status="delivered")] == [second["id"]]
        assert call(lambdas, "list_deliveries", partner, query={"status": "lost"})[0] == 422
        assert call(lambdas, "list_deliveries", partner, query={"endpoint_id": "nope"})[0] == 422
        # When a viewer or another partner tries to send it again: 403, 404
        path = {"delivery_id": failed["id"]}
        assert call(lambdas, "retry_delivery", partner, who=viewer(partner), path=path)[0] == 403
        assert call(lambdas, "retry_delivery", new_partner(), path=path)[0] == 404
        # When the endpoint is up again and a finance admin sends it again
        receiver.default = 200
        status, body = call(lambdas, "retry_delivery", partner, path=path)
        assert status == 202 and body["status"] == "pending", body
        pump(lambdas.deliver_stream, queue, lambda: receiver.answered[-1][0] == 200)
        # Then it is delivered, the same event again; a delivered one is not sent again (409)
        assert len({r.json["id"] for r in receiver.received}) == 1
        pump(lambdas.deliver_stream, queue,
             lambda: deliveries(lambdas, partner, endpoint_id=endpoint["id"])[0]["status"] == "delivered")
        status, body = call(lambdas, "retry_delivery", partner, path=path)
        assert (status, body["error"]["code"]) == (409, "webhook_delivery_not_failed")
    finally:
        receiver.stop()
        other.stop()


def test_w9_a_stream_record_delivered_twice_writes_nothing_twice(lambdas, partner):
    # Given an endpoint, and the stream record of a wallet crossing its threshold (events/notices/)
    register(lambdas, partner, "http://127.0.0.1:9/hooks")
    event = load_event("notices/stream_batch.json")
    for image in ("OldImage", "NewImage"):
        event["Records"][0]["dynamodb"][image]["partner_id"] = {"S": partner}
    # When it is delivered, then delivered again
    assert lambdas.host.invoke("NoticesFunction", event) == {"batchItemFailures": []}
    once = lambdas.snapshot()
    assert lambdas.host.invoke("NoticesFunction", event) == {"batchItemFailures": []}
    # Then the notice and its delivery were written the first time only
    assert lambdas.snapshot() == once
    written = [i for i in once if i["pk"]["S"] == f"WEBHOOKS#{partner}" and not i["sk"]["S"].startswith("ENDPOINT")]
    assert sorted(i["entity"]["S"] for i in written) == ["notice", "webhook_delivery"]


def test_w10_a_bounced_payment_is_told_with_the_payment_in_the_apis_shape(lambdas, queue, partner, receiver):
    # Given an endpoint for bounced payments, and an organization's cheque allocated nowhere yet
    endpoint = register(lambdas, partner, receiver.url, ["payment.bounced"])
    org = create_org(lambdas, partner, "Bounce Notices Telecom")
    payment = record(lambdas, partner, org_id=org["id"])
    # When the cheque bounces
    body = bounced(lambdas, partner, payment)
    pump(lambdas.deliver_stream, queue, lambda: bool(receiver.received))
    # Then the notice holds the payment as GET /payments/{id} shows it
    [got] = receiver.received
    assert verified(got, endpoint["secret"])
    notice = got.json
    assert (notice["type"], notice["data"]["org_id"]) == ("payment.bounced", org["id"])
    status, shown = lambdas.payments("get_payment", path={"payment_id": payment["id"]}, **viewer(partner))
    assert status == 200 and notice["data"]["payment"] == shown == body


def test_w11_an_automatic_top_up_that_fails_and_switches_off_is_told_by_the_worker_end_to_end(lambdas, queue, partner,
                                                                                              receiver):
    from tests.handlers.test_auto_top_up_guardrails import AutoTopUp, configure, work

    # Given an endpoint for automatic top-ups' failures and switch-offs, and a master-account organization due for
    # its top-up, one failure allowed, whose partner's master wallet is empty
    endpoint = register(lambdas, partner, receiver.url, ["auto_top_up.failed", "auto_top_up.disabled",
                                                         "auto_top_up.credited"])
    org = create_org(lambdas, partner, "Switch-off Notices Telecom")
    configure(lambdas, partner, org["id"], trigger_amount=2_000, max_consecutive_failures=1)
    # When the daily worker tops it up (the queue's message, as the sweep sends it)
    work(AutoTopUp(lambdas), org["id"], "2026-11-21")
    pump(lambdas.deliver_stream, queue, lambda: len(receiver.received) >= 2)
    time.sleep(0.5)
    pump(lambdas.deliver_stream, queue, lambda: True)
    # Then the partner is told both, signed: the attempt that failed, in the API's shape, and the switch-off
    told = {r.json["type"]: r for r in receiver.received}
    assert sorted(told) == ["auto_top_up.disabled", "auto_top_up.failed"] and len(receiver.received) == 2
    assert all(verified(r, endpoint["secret"]) for r in receiver.received)
    failed, disabled = told["auto_top_up.failed"].json, told["auto_top_up.disabled"].json
    status, attempts = lambdas.accounts("list_auto_top_ups", path={"org_id": org["id"]}, **viewer(partner))
    assert status == 200 and failed["data"] == {"org_id": org["id"], "auto_top_up": attempts["items"][0]}
    assert failed["data"]["auto_top_up"]["reason"] == "partner_insufficient_funds"
    settings = disabled["data"]["payment_settings"]
    assert (disabled["data"]["org_id"], settings["auto_trigger"], settings["disabled_reason"]) == (
        org["id"], False, "consecutive_failures")
    # And the next day's run (switched off: not due) tells nothing more
    work(AutoTopUp(lambdas), org["id"], "2026-11-22")
    time.sleep(0.5)
    pump(lambdas.deliver_stream, queue, lambda: True)
    assert len(receiver.received) == 2

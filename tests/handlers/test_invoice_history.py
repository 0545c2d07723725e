"""An invoice's history holds its allocations, their releases and its provisioning (issue 26, "Reading back"):
derived from the payment's or organization's record by the table's stream consumer (InvoiceHistoryFunction),
delivered here as Lambda's event source mapping delivers it (local/streams.py).

  IH1 each allocation, release (by hand, by un-assignment, by a bounce) and provisioning that names an invoice adds
      exactly one record to that invoice's history, with the source's actor and time, the payment (or
      organization) it came from and the invoice's share of the amount;
  IH2 delivered again (a stream redelivers), nothing is written twice;
  IH3 a record the function cannot read is reported alone (partial batch failure): the others are written;
  IH4 the backfill writes what the stream never delivered, under the same ids.
"""

from __future__ import annotations

import json
from typing import Any

from local.aws import TABLE_NAME
from shared.container import Container
from shared.repositories.invoice_history_backfill import backfill
from tests.conftest import EVENTS, load_event
from tests.handlers.conftest import admin, allocate, create_org, record, viewer
from tests.handlers.test_allocation import invoice, unassign
from tests.handlers.test_history import in_one_shape
from tests.handlers.test_money_back import bounced


def history(lambdas, partner, inv) -> list[dict[str, Any]]:
    status, body = lambdas.allocation("invoice_history", path={"invoice_id": inv["id"]}, query={"limit": "100"},
                                      **viewer(partner))
    assert status == 200 and body["next_cursor"] is None, body
    in_one_shape(body["items"])
    return body["items"]


def derived(items: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, actor, changes as plain values) of the records that are not the invoice's own."""
    return [(i["action"], i["actor"], {k: v["to"] for k, v in i["changes"].items()}) for i in items
            if i["action"] not in {"invoice.created", "invoice.credited", "invoice.voided"}]


def test_ih1_allocations_releases_and_provisioning_reach_the_invoices_history(lambdas, partner):
    # Given two invoices and a top-up invoice, one payment allocated to all three, paying the top-up invoice in full
    org = create_org(lambdas, partner, "Invoice History Telecom")
    first, second = invoice(lambdas, partner, org, 5_000), invoice(lambdas, partner, org, 3_000)
    top = invoice(lambdas, partner, org, 1_000, "top_up")
    payment = record(lambdas, partner, org_id=org["id"], amount=9_000)
    allocate(lambdas, partner, payment, (first, 4_000), (second, 3_000), (top, 1_000))
    # And the allocation to the first released by hand, then the payment un-assigned (releasing the second)
    status, body = lambdas.allocation("release_allocation", path={"payment_id": payment["id"],
                                                                  "invoice_id": first["id"]},
                                      **admin(partner, sub="rita@partner.example"))
    assert status == 200, body
    # When the stream is delivered
    lambdas.deliver_stream()
    # Then each invoice's history shows what happened to it, newest first, with who did it
    assert derived(history(lambdas, partner, first)) == [
        ("invoice.allocation_released", "rita@partner.example", {"payment_id": payment["id"], "amount": 4_000}),
        ("invoice.allocated", "admin@example.com", {"payment_id": payment["id"], "amount": 4_000})]
    assert derived(history(lambdas, partner, second)) == [
        ("invoice.allocated", "admin@example.com", {"payment_id": payment["id"], "amount": 3_000})]
    top_history = history(lambdas, partner, top)
    assert sorted(derived(top_history)) == sorted([
        ("invoice.allocated", "admin@example.com", {"payment_id": payment["id"], "amount": 1_000}),
        ("invoice.provisioned", "admin@example.com", {"org_id": org["id"], "amount": 1_000})])
    # And each is the invoice's: entity and entity_id name it
    assert {(i["entity"], i["entity_id"]) for i in top_history} == {("invoice", top["id"])}


def test_ih1_an_unassigned_and_a_bounced_payment_show_on_the_invoices_they_released(lambdas, partner):
    # Given two payments allocated to one invoice
    org = create_org(lambdas, partner, "Released Telecom")
    inv = invoice(lambdas, partner, org, 10_000)
    kept, returned = (record(lambdas, partner, org_id=org["id"], amount=4_000),
                      record(lambdas, partner, org_id=org["id"], amount=5_000))
    allocate(lambdas, partner, kept, (inv, 4_000))
    allocate(lambdas, partner, returned, (inv, 5_000))
    # When one is un-assigned and the other bounces, and the stream is delivered
    status, body = unassign(lambdas, partner, kept)
    assert status == 200, body
    bounced(lambdas, partner, returned, bounced_date="2026-11-25", reason="Cheque returned")
    lambdas.deliver_stream()
    # Then the invoice's history shows both releases, each with its payment and amount
    assert derived(history(lambdas, partner, inv)) == [
        ("invoice.payment_bounced", "admin@example.com", {"payment_id": returned["id"], "amount": 5_000,
                                                          "bounced_date": "2026-11-25", "reason": "Cheque returned"}),
        ("invoice.payment_unassigned", "admin@example.com", {"payment_id": kept["id"], "amount": 4_000}),
        ("invoice.allocated", "admin@example.com", {"payment_id": returned["id"], "amount": 5_000}),
        ("invoice.allocated", "admin@example.com", {"payment_id": kept["id"], "amount": 4_000})]


def test_ih2_a_redelivered_stream_record_writes_nothing_twice(lambdas, partner):
    # Given the sample stream batch: one allocation naming two invoices
    event = json.loads((EVENTS / "invoice_history/stream_batch.json").read_text())
    # When it is delivered, then delivered again
    first = lambdas.host.invoke("InvoiceHistoryFunction", event)
    after_first = lambdas.snapshot()
    second = lambdas.host.invoke("InvoiceHistoryFunction", event)
    # Then both deliveries succeed, and the second changed nothing
    assert first == second == {"batchItemFailures": []}
    assert lambdas.snapshot() == after_first
    # And the two invoices hold one record each, under their own partition
    image = event["Records"][0]["dynamodb"]["NewImage"]
    for line in image["changes"]["M"]["allocations"]["L"]:
        invoice_id = line["M"]["invoice_id"]["S"]
        items = [i for i in after_first if i["pk"]["S"] == f"INV#{invoice_id}"]
        assert [(i["action"]["S"], i["changes"]["M"]["payment_id"]["S"]) for i in items] == [
            ("invoice.allocated", image["entity_id"]["S"])]


def test_ih3_a_record_it_cannot_read_is_reported_alone_and_the_others_are_written(lambdas, partner):
    # Given a batch whose first record carries a fractional amount (never stored by this service) and a good one
    event = json.loads((EVENTS / "invoice_history/stream_batch.json").read_text())
    good = event["Records"][0]
    bad = json.loads(json.dumps(good))
    bad["dynamodb"]["SequenceNumber"] = "111100000000012345678900"
    bad["dynamodb"]["NewImage"]["id"]["S"] = "aud_01KB9Z3M8Q4T6V2X0Y1Z2A3B4D"
    bad["dynamodb"]["NewImage"]["changes"]["M"]["allocations"]["L"][0]["M"]["amount"] = {"N": "100.5"}
    # When the batch is delivered
    result = lambdas.host.invoke("InvoiceHistoryFunction", {"Records": [bad, good]})
    # Then only the bad record is reported, for Lambda to retry from it
    assert result == {"batchItemFailures": [{"itemIdentifier": "111100000000012345678900"}]}
    written = [i["changes"]["M"]["amount"]["N"] for i in lambdas.snapshot()
               if i["sk"]["S"].startswith("AUDIT#") and i["action"]["S"] == "invoice.allocated"
               and i["changes"]["M"]["payment_id"]["S"] == good["dynamodb"]["NewImage"]["entity_id"]["S"]]
    assert sorted(written) == ["10000", "2550"]  # the good record's two invoices, nothing of the bad one


def test_ih3_a_record_that_is_not_an_audit_record_writes_nothing(lambdas, partner):
    # Given a stream record of a payment item (the filter keeps them away; delivered anyway)
    event = json.loads((EVENTS / "invoice_history/stream_batch.json").read_text())
    event["Records"][0]["dynamodb"]["NewImage"]["entity"] = {"S": "payment"}
    before = lambdas.snapshot()
    # When it is delivered, then it succeeds and writes nothing
    assert lambdas.host.invoke("InvoiceHistoryFunction", event) == {"batchItemFailures": []}
    assert lambdas.snapshot() == before


def test_ih4_the_backfill_writes_what_the_stream_did_not_deliver_under_the_same_ids(lambdas, partner):
    # Given an allocation whose stream records were never delivered (the consumer did not exist yet)
    org = create_org(lambdas, partner, "Backfilled Telecom")
    inv = invoice(lambdas, partner, org, 2_000)
    payment = record(lambdas, partner, org_id=org["id"], amount=2_000)
    allocate(lambdas, partner, payment, (inv, 2_000))
    assert derived(history(lambdas, partner, inv)) == []
    # When the backfill runs for the partner (twice: it can run again)
    deps = Container.from_env()
    done = backfill(deps.db, deps.audit_log, partner)
    again = backfill(deps.db, deps.audit_log, partner)
    # Then the invoice's history has its allocation, written once
    assert (done.written, again.written) == (1, 0) and done.derived == again.derived == 1
    items = history(lambdas, partner, inv)
    assert derived(items) == [("invoice.allocated", "admin@example.com", {"payment_id": payment["id"],
                                                                          "amount": 2_000})]
    # And the stream, delivered afterwards, writes nothing more: the same record under the same id
    before = lambdas.snapshot()
    lambdas.deliver_stream()
    assert [i for i in lambdas.snapshot() if i["pk"]["S"] == f"INV#{inv['id']}"] == [
        i for i in before if i["pk"]["S"] == f"INV#{inv['id']}"]


def test_the_sample_event_is_what_load_event_gives(lambdas):
    assert load_event("invoice_history/stream_batch.json")["Records"][0]["eventSource"] == "aws:dynamodb"


def test_ih3_a_record_that_keeps_failing_goes_to_the_on_failure_queue_and_the_shard_reads_on(lambdas, partner):
    # Given an audit record no function can read (a fraction of a cent, written behind the service's back)
    org = create_org(lambdas, partner, "Poisoned Telecom")
    inv = invoice(lambdas, partner, org, 2_000)
    lambdas.deliver_stream()
    poison = {"pk": {"S": "PAY#pay_01KBA0000000000000000000P0"}, "sk": {"S": "AUDIT#2026-11-21T09:30:00.000Z#x"},
              "entity": {"S": "audit"}, "id": {"S": "aud_01KBA0000000000000000000P0"}, "partner_id": {"S": partner},
              "entity_type": {"S": "payment"}, "entity_id": {"S": "pay_01KBA0000000000000000000P0"},
              "action": {"S": "payment.allocated"}, "actor": {"S": "x"}, "at": {"S": "2026-11-21T09:30:00.000Z"},
              "changes": {"M": {"allocations": {"L": [{"M": {"invoice_id": {"S": inv["id"]},
                                                             "amount": {"N": "0.5"}}}]}}}}
    lambdas.ddb.put_item(TableName=TABLE_NAME, Item=poison)
    # And after it, an allocation the function can read
    payment = record(lambdas, partner, org_id=org["id"], amount=2_000)
    allocate(lambdas, partner, payment, (inv, 2_000))
    given_up = lambdas.streams.given_up
    # When the stream is delivered
    lambdas.deliver_stream()
    # Then the bad record was tried 1 + MaximumRetryAttempts times, then its place sent to the on-failure queue
    assert lambdas.streams.given_up == given_up + 1
    sqs = lambdas.streams.sqs
    [message] = sqs.receive_message(QueueUrl=lambdas.aws.queue_urls["InvoiceHistoryDeadLetterQueue"],
                                    MaxNumberOfMessages=10)["Messages"]
    info = json.loads(message["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1
    # And the allocation after it still reached the invoice's history
    assert derived(history(lambdas, partner, inv)) == [
        ("invoice.allocated", "admin@example.com", {"payment_id": payment["id"], "amount": 2_000})]

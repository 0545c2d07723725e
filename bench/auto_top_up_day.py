"""A day's automatic top-ups with their guardrails at scale, on the local stack (`python -m local.stack`).

N organizations (default 10,000, `BENCH_DAY_ORGS`), every one switched on and due, `master_account`, written
straight into the stack's DynamoDB with their partners' master wallets:
  - 90% under partner A (a master wallet that covers them all); a fifth of them capped (`monthly_cap` 5,000 with
    4,700 already topped up this month: the day's 1,000 is cut to the 300 the cap leaves);
  - 5% under partner B, whose master wallet is empty: they fail `partner_insufficient_funds`;
  - 6% under partner C, whose daily auto-credit limit lets exactly a sixth of them through: the rest fail
    `partner_daily_limit_reached` (with B, 10% of all fail).
The sweep is invoked through the Lambda Invoke API (the scheduled event of events/sweep/), the stack's queue
delivery runs the worker until the queue is empty; then the sweep runs again for the same business date. Then
every organization, attempt, month sum and master wallet is read back and checked: one attempt per organization;
no organization credited twice (its balance and ledger are one credit or none, after both sweeps); every capped one
stopped at its cap to the cent; partner C's day at its limit exactly; each master wallet debited exactly what its
organizations received. Wall times are DynamoDB Local's and this machine's (2 cores), not AWS's.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter

import boto3
from botocore.config import Config

from local.aws import TABLE_NAME
from local.dynamodb import LOCAL_CREDENTIALS
from local.process import start_stack
from shared.cursor import CursorCodec
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.guardrails import AutoCreditDay, AutoCreditLimit, MonthlyAutoTopUps
from shared.domain.organization import Organization, PaymentSettings
from shared.domain.partner_wallet import PartnerWallet
from shared.ids import new_id
from shared.repositories.dynamo import Dynamo, to_av
from shared.repositories.registry import item_of
from shared.repositories.store import Store
from shared.settings import Settings

ORGS = int(os.environ.get("BENCH_DAY_ORGS", "10000"))
EVENT = json.loads(open("events/sweep/scheduled.json").read())
DAY = EVENT["time"][:10]
MONTH, AT = DAY[:7], f"{DAY}T00:00:00.000Z"
TRIGGER, THRESHOLD, CAP, USED = 1_000, 500, 5_000, 4_700


def partners() -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {name: f"ptn_day{name}{tag}" for name in "ABC"}


def organization(partner: str, i: int, cap: int | None) -> Organization:
    settings = PaymentSettings(method="master_account", trigger_amount=TRIGGER, limit_threshold=THRESHOLD,
                               auto_trigger=True, monthly_cap=cap, updated_at=AT)
    return Organization(id=new_id("org"), partner_id=partner, name=f"Org {i}", currency="SGD", created_at=AT,
                        created_by="bench", listed_by_lock=True, wallet_updated_at=AT, settings=settings, balance=0)


def seed(ddb, ids: dict[str, str], n: int) -> dict[str, list[Organization]]:
    b, c = n * 5 // 100, n * 6 // 100
    a = n - b - c
    orgs = {"A": [organization(ids["A"], i, CAP if i % 5 == 0 else None) for i in range(a)],
            "B": [organization(ids["B"], i, None) for i in range(b)],
            "C": [organization(ids["C"], i, None) for i in range(c)]}
    records: list = [o for group in orgs.values() for o in group]
    records += [MonthlyAutoTopUps(org_id=o.id, partner_id=o.partner_id, month=MONTH, currency="SGD", total=USED)
                for o in orgs["A"] if o.settings.monthly_cap]
    records += [PartnerWallet(partner_id=ids["A"], currency="SGD", balance=10 ** 12, updated_at=AT, version=1),
                PartnerWallet(partner_id=ids["B"], currency="SGD", balance=0, updated_at=AT, version=1),
                PartnerWallet(partner_id=ids["C"], currency="SGD", balance=10 ** 12, updated_at=AT, version=1),
                AutoCreditLimit(partner_id=ids["C"], currency="SGD", daily_limit=limit_of(c), created_at=AT,
                                updated_at=AT, updated_by="bench")]
    for start in range(0, len(records), 25):
        ddb.batch_write_item(RequestItems={TABLE_NAME: [{"PutRequest": {"Item": to_av(item_of(r))}}
                                                        for r in records[start:start + 25]]})
    return orgs


def limit_of(c: int) -> int:
    return c // 6 * TRIGGER


def sweep(lam, sqs) -> tuple[float, int]:
    """One sweep of the business date, and the worker until the queue is empty: its wall time, and the sweep's
    invocations. A sweep that did not finish (the local SQS, moto, serializes every request: with the worker's five
    pollers beside it, queuing 10,000 messages can outlast the function's 300 s) is invoked again, as EventBridge's
    asynchronous invocation retries a failed one (twice): the worker makes a repeated message harmless."""
    t = time.perf_counter()
    invocations = 0
    while invocations < 3:
        invocations += 1
        if "FunctionError" not in lam.invoke(FunctionName="SweepFunction", Payload=json.dumps(EVENT)):
            break
    url = sqs.get_queue_url(QueueName="AutoTopUpQueue")["QueueUrl"]
    while True:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
            return time.perf_counter() - t, invocations
        time.sleep(0.5)


def read_back(store: Store, orgs: list[Organization]) -> tuple[dict, dict, dict]:
    """Each organization, its attempt of the day and its month's sum, 33 organizations (99 keys) a request."""
    now, attempts, months = {}, {}, {}
    for start in range(0, len(orgs), 33):
        part = orgs[start:start + 33]
        batch = store.batch()
        for o in part:
            batch.add(Organization, o.id).add(AutoTopUpAttempt, o.id, DAY).add(MonthlyAutoTopUps, o.id, MONTH)
        found = batch.fetch()
        for o in part:
            now[o.id] = found.get(Organization, o.id)
            attempts[o.id] = found.get(AutoTopUpAttempt, o.id, DAY)
            months[o.id] = found.get(MonthlyAutoTopUps, o.id, MONTH)
    return now, attempts, months


def check(store: Store, ids: dict[str, str], orgs: dict[str, list[Organization]]) -> tuple[Counter, list[str]]:
    everyone = [o for group in orgs.values() for o in group]
    now, attempts, months = read_back(store, everyone)
    outcomes: Counter = Counter()
    broken: list[str] = []
    given: Counter = Counter()
    for o in everyone:
        attempt, after = attempts[o.id], now[o.id]
        if attempt is None or after is None:
            broken.append(f"{o.id}: no attempt")
            continue
        outcomes[(attempt.status, attempt.reason)] += 1
        credited = attempt.amount if attempt.status == "credited" else 0
        if after.balance != credited or after.ledger_seq != (1 if credited else 0):
            broken.append(f"{o.id}: balance {after.balance}, {after.ledger_seq} ledger entries for {credited}")
        given[o.partner_id] += credited
        if o.settings.monthly_cap and (months[o.id] is None or months[o.id].total != CAP or credited != CAP - USED):
            broken.append(f"{o.id}: capped at {CAP}, month at {months[o.id] and months[o.id].total}")
    day = store.get(AutoCreditDay, ids["C"], "SGD", DAY)
    if day is None or day.total != limit_of(len(orgs["C"])) or given[ids["C"]] != day.total:
        limit = limit_of(len(orgs["C"]))
        broken.append(f"partner C's day: {day and day.total}, limit {limit}, given {given[ids['C']]}")
    for name, start in (("A", 10 ** 12), ("B", 0), ("C", 10 ** 12)):
        wallet = store.get(PartnerWallet, ids[name], "SGD")
        if wallet is None or start - wallet.balance != given[ids[name]]:
            broken.append(f"partner {name}'s master wallet: {wallet and wallet.balance}, gave {given[ids[name]]}")
    return outcomes, broken


def verdict(broken: list[str], same: bool) -> str:
    return ("all hold" + ("" if same else ", but the outcomes changed")) if not broken else f"{len(broken)} broken"


def main() -> list[str]:
    lines = [f"A day's automatic top-ups with guardrails (local stack; {ORGS:,} organizations due, 10% failing)"]
    stack = start_stack("--no-seed")
    try:
        ddb = boto3.client("dynamodb", endpoint_url=stack.dynamodb, **LOCAL_CREDENTIALS)
        sqs = boto3.client("sqs", endpoint_url=stack.sqs, **LOCAL_CREDENTIALS)
        lam = boto3.client("lambda", endpoint_url=stack.lambda_url, **LOCAL_CREDENTIALS,
                           config=Config(read_timeout=900))
        settings = Settings.model_validate({"TABLE_NAME": TABLE_NAME, "DYNAMODB_ENDPOINT": stack.dynamodb,
                                            "CURSOR_SECRET": "bench-" * 6, "AWS_REGION": "us-east-1"})
        os.environ.setdefault("AWS_ACCESS_KEY_ID", LOCAL_CREDENTIALS["aws_access_key_id"])
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", LOCAL_CREDENTIALS["aws_secret_access_key"])
        store = Store(Dynamo(settings), CursorCodec(settings.cursor_secret.get_secret_value().encode()))
        ids = partners()
        t = time.perf_counter()
        orgs = seed(ddb, ids, ORGS)
        seeded = time.perf_counter() - t
        first, invocations = sweep(lam, sqs)
        outcomes, broken = check(store, ids, orgs)
        again, _ = sweep(lam, sqs)
        outcomes_again, broken_again = check(store, ids, orgs)
        failed = sum(n for (status, _), n in outcomes.items() if status == "failed")
        lines += [f"  sweep + worker: {first:.0f} s ({ORGS / first:.1f} organizations/s; the sweep invoked "
                  f"{invocations} time{'s' if invocations > 1 else ''}); the same date again: {again:.0f} s; "
                  f"seeding {seeded:.0f} s",
                  "  outcomes: " + ", ".join(f"{s}{'/' + r if r else ''} {n:,}" for (s, r), n in sorted(
                      outcomes.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))),
                  f"  failed: {failed:,} = {failed / ORGS:.0%}; capped organizations at their cap to the cent: "
                  f"{sum(1 for o in orgs['A'] if o.settings.monthly_cap):,}",
                  f"  checks after the first sweep: {verdict(broken, True)}; after the second: "
                  f"{verdict(broken_again, outcomes_again == outcomes)}"]
        lines += [f"    {b}" for b in (broken + broken_again)[:10]]
    finally:
        stack.stop()
    return lines


if __name__ == "__main__":
    print("\n".join(main()))

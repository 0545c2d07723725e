"""The daily sweep (the producer): every organization due for an automatic top-up, queued for the worker.

It reads the sparse due index only (its cost grows with the due organizations, never with the table) and
sends one message per organization and business date; the worker makes a repeated message harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from shared.domain.attempt import business_date_of
from shared.repositories.organizations import DUE_SHARDS, OrganizationRepository
from shared.responses.runs import SweepRun

BATCH = 10  # SQS SendMessageBatch maximum


class Sweep:
    def __init__(self, organizations: OrganizationRepository, sqs: Callable[[], Any], queue_url: str | None):
        self.organizations, self._sqs, self.queue_url = organizations, sqs, queue_url

    def run(self, event_time: str) -> SweepRun:
        """Queue every due organization for `event_time`'s business date."""
        business_date = business_date_of(event_time)
        queries = read = queued = 0
        pending: list[dict[str, str]] = []
        for shard in range(DUE_SHARDS):
            start = None
            while True:
                org_ids, start = self.organizations.due_ids(shard, start)
                queries += 1
                read += len(org_ids)
                pending += [{"org_id": org_id, "business_date": business_date} for org_id in org_ids]
                while len(pending) >= BATCH:
                    queued += self._send(pending[:BATCH])
                    pending = pending[BATCH:]
                if start is None:
                    break
        if pending:
            queued += self._send(pending)
        return SweepRun(business_date=business_date, queries=queries, items_read=read, queued=queued)

    def _send(self, messages: list[dict[str, str]]) -> int:
        entries = [{"Id": str(i), "MessageBody": json.dumps(m, sort_keys=True)} for i, m in enumerate(messages)]
        for _ in range(3):
            failed = self._sqs().send_message_batch(QueueUrl=self.queue_url, Entries=entries).get("Failed", [])
            if not failed:
                return len(messages)
            entries = [e for e in entries if e["Id"] in {f["Id"] for f in failed}]
        raise RuntimeError(f"{len(entries)} messages could not be queued")  # the schedule retries the sweep

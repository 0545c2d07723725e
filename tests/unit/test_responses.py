"""Each response body is one pydantic model (issue 26): named once in shared.responses, loaded on first use, and
what an idempotent replay validates back from the saved first response is the same body."""

from __future__ import annotations

import importlib
import inspect

import pytest

from shared import responses as R
from shared.domain.organization import OnlineTopUp
from shared.responses.accounts import OnlineTopUpOut
from shared.responses.audit import AuditOut
from shared.responses.base import Out


def test_every_model_of_the_package_is_named_once_and_every_name_is_a_model():
    declared = {}
    for module in sorted(set(R._MODULE_OF.values())):
        loaded = importlib.import_module(f"shared.responses.{module}")
        declared |= {name: module for name, cls in vars(loaded).items()
                     if inspect.isclass(cls) and issubclass(cls, Out) and cls.__module__ == loaded.__name__}
    assert declared == R._MODULE_OF
    assert set(R._MODULE_OF) <= set(R.__all__)
    assert all(issubclass(getattr(R, name), Out) for name in R._MODULE_OF)
    with pytest.raises(AttributeError):
        _ = R.NoSuchOut


def top_up() -> OnlineTopUp:
    return OnlineTopUp(id="otu_1", org_id="org_1", partner_id="p1", amount=5_000, currency="SGD", trigger_amount=0,
                       limit_threshold=0, auto_trigger=False, customer_id="cus_1", payment_intent_id="pi_1",
                       created_at="2026-01-01T00:00:00.000Z", created_by="admin", updated_at="2026-01-01T00:00:00.000Z")


def test_a_listed_online_top_up_has_no_client_secret_and_a_started_one_has_it_even_after_a_replay():
    listed = OnlineTopUpOut.of_record(top_up()).model_dump(mode="json")
    assert "client_secret" not in listed and listed["status"] == "pending"
    started = OnlineTopUpOut.of_record(top_up(), client_secret="pi_1_secret").model_dump(mode="json")
    assert started == {**listed, "client_secret": "pi_1_secret"}
    assert OnlineTopUpOut.model_validate(started).model_dump(mode="json") == started  # the replay's body


def test_an_audit_change_keeps_its_from_key():
    body = {"id": "aud_1", "entity": "payment", "entity_id": "pay_1", "action": "payment.updated",
            "changes": {"amount": {"from": 1, "to": 2}}, "actor": "admin", "at": "2026-01-01T00:00:00.000Z"}
    assert AuditOut.model_validate(body).model_dump(mode="json") == body

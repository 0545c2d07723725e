"""POST /organizations/{org_id}/online-top-ups through the real handler, the real SDK and the local Stripe."""

from __future__ import annotations

import pytest

from tests.conftest import new_partner
from tests.handlers.conftest import admin, viewer
from tests.handlers.stripe_support import card_org, intent_of, start_top_up

BODY = {"amount": 5_000, "trigger_amount": 2_000, "limit_threshold": 1_000, "auto_trigger": True}


def test_it_reuses_the_customer_and_returns_what_the_console_needs(lambdas, partner):
    # Given an organization
    org_id = card_org(lambdas, partner)
    # When two online top-ups start
    first, second = start_top_up(lambdas, partner, org_id), start_top_up(lambdas, partner, org_id, amount=7_000)
    # Then each has its own PaymentIntent (with its client secret) for one Stripe customer
    assert first["payment_intent_id"] != second["payment_intent_id"]
    assert first["client_secret"].startswith(first["payment_intent_id"] + "_secret_")
    one, two = intent_of(lambdas, first["payment_intent_id"]), intent_of(lambdas, second["payment_intent_id"])
    assert one["customer"] == two["customer"] and one["customer"].startswith("cus_")
    assert (one["amount"], one["currency"], one["setup_future_usage"], two["amount"]) == (5_000, "sgd", "off_session",
                                                                                          7_000)
    assert one["metadata"] == {"purpose": "online_top_up", "org_id": org_id, "partner_id": partner,
                               "online_top_up_id": first["id"]}
    # And the settings change only when Stripe confirms the payment
    _, settings = lambdas.accounts("get_payment_settings", path={"org_id": org_id}, **viewer(partner))
    assert settings["method"] == "cheque_or_tt"


def test_the_same_idempotency_key_replays_the_first_top_up(lambdas, partner):
    org_id = card_org(lambdas, partner)
    calls = [lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body=BODY,
                              headers={"idempotency-key": f"k-{org_id}"}, **admin(partner)) for _ in range(3)]
    assert [c[0] for c in calls] == [201, 201, 201]
    assert calls[0][1] == calls[1][1] == calls[2][1]
    other = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body={**BODY, "amount": 1},
                             headers={"idempotency-key": f"k-{org_id}"}, **admin(partner))
    assert (other[0], other[1]["error"]["code"]) == (409, "idempotency_key_reused")


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": 0}, "amount"), ({"amount": 100_000_000}, "amount"), ({"trigger_amount": 0}, "body"),
    ({"limit_threshold": -1}, "limit_threshold"), ({"auto_trigger": "yes"}, "auto_trigger"),
    ({"currency": "SGD"}, "currency"),
])
def test_bad_fields_get_422_and_nothing_is_written(lambdas, partner, change, field):
    org_id = card_org(lambdas, partner)
    before = lambdas.snapshot()
    status, res = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body={**BODY, **change},
                                   headers={"idempotency-key": None}, **admin(partner))
    assert (status, res["error"]["code"]) == (422, "validation_error")
    assert field in {d["field"] for d in res["error"]["details"]}
    assert lambdas.snapshot() == before


def test_viewers_get_403_and_other_partners_404(lambdas, partner):
    org_id = card_org(lambdas, partner)
    before = lambdas.snapshot()
    status, res = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body=BODY,
                                   headers={"idempotency-key": None}, **viewer(partner))
    assert status == 403, res
    status, res = lambdas.accounts("start_online_top_up", path={"org_id": org_id}, body=BODY,
                                   headers={"idempotency-key": None}, **admin(new_partner()))
    assert (status, res["error"]["code"]) == (404, "not_found")
    assert lambdas.snapshot() == before


def test_the_online_top_ups_are_listed_newest_first_and_a_declined_card_leaves_a_record_a_person_reads(lambdas,
                                                                                                      partner):
    from tests.handlers.stripe_support import deliver, pay, stripe_event
    from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE

    # Given an organization whose first online top-up was declined (the card's authentication failed) and a second
    # one not paid yet
    org_id = card_org(lambdas, partner)
    declined = start_top_up(lambdas, partner, org_id)
    intent = pay(lambdas, declined, CARD_ALWAYS_AUTHENTICATE, authenticate=False)
    assert deliver(lambdas, stripe_event("payment_intent.payment_failed", intent))[1]["outcome"] == "failed"
    waiting = start_top_up(lambdas, partner, org_id, amount=7_000)
    # When finance lists them one per page
    path = {"org_id": org_id}
    status, first = lambdas.accounts("list_online_top_ups", path=path, query={"limit": "1"}, **viewer(partner))
    _, second = lambdas.accounts("list_online_top_ups", path=path, query={"limit": "1", "cursor": first["next_cursor"]},
                                 **viewer(partner))
    # Then the newest comes first, pending; the declined one says why, in Stripe's words
    assert status == 200 and [i["id"] for i in first["items"] + second["items"]] == [waiting["id"], declined["id"]]
    assert (first["items"][0]["status"], first["items"][0]["decline_code"]) == ("pending", None)
    failed = second["items"][0]
    assert (failed["status"], failed["decline_code"], failed["amount"]) == (
        "failed", "payment_intent_authentication_failure", 5_000)
    assert failed["failure_message"] and second["next_cursor"] is None
    # And another partner's staff get 404, with no cursor of this list of use to them
    status, other = lambdas.accounts("list_online_top_ups", path=path, **viewer("ptn_someone_else"))
    assert (status, other["error"]["code"]) == (404, "not_found")
    status, foreign = lambdas.accounts("list_online_top_ups", path=path, query={"cursor": first["next_cursor"]},
                                       **viewer("ptn_someone_else"))
    assert (status, foreign["error"]["code"]) == (400, "invalid_cursor")

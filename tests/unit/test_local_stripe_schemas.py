"""The local Stripe (local/stripe.py) against Stripe's own schemas: every object it returns and every event it sends
in the flows this service uses validates against Stripe's published OpenAPI 3.0 description of API version
2023-08-16 (tests/stripe_schemas/), driven through the real stripe SDK. And Stripe's amount rules per currency
(https://docs.stripe.com/currencies): decimals, multiples, minimum and maximum charge amounts.

localstripe's state is per process and shared with other test files: every test makes its own objects and reads
only the events about them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from jsonschema.validators import extend
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from local.stripe import (
    CARD_DISPUTED,
    CARD_REFUND_FAILS,
    STRIPE_CURRENCY_RULES,
    STRIPE_MAX_AMOUNT,
    WEBHOOKS,
    fail_refund,
)
from shared.money import MINOR_UNITS
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, CARD_OK, pay

SPEC_FILE = Path(__file__).parents[1] / "stripe_schemas" / "spec3-2023-08-16-subset.json"
SPEC_URI = "urn:stripe:spec3-2023-08-16"
CARD_DECLINED = "4000000000000002"  # Stripe: declined, decline_code generic_decline
CARD_INSUFFICIENT_FUNDS = "4000000000009995"  # Stripe: declined, decline_code insufficient_funds
# Which schema an object of each `object` value is checked against.
SCHEMA_OF = {"payment_intent": "payment_intent", "charge": "charge", "refund": "refund", "dispute": "dispute",
             "customer": "customer", "payment_method": "payment_method", "balance_transaction": "balance_transaction",
             "event": "event"}


# Stripe's schemas


def _or_null(keyword: str) -> Callable[..., Iterator[Any]]:
    """Stripe's description (OpenAPI 3.0.0) writes a nullable reference as `{anyOf: [{$ref}], nullable: true}` and a
    nullable enumeration as `{enum: [...], nullable: true}`, meaning null is allowed; openapi-schema-validator reads
    `nullable` as OpenAPI 3.0.3 narrowed it (only next to `type`), which would refuse every null Stripe sends there."""
    check = OAS30Validator.VALIDATORS[keyword]

    def validate(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
        if instance is None and schema.get("nullable") is True:
            return
        yield from check(validator, value, instance, schema)

    return validate


StripeValidator = extend(OAS30Validator, {k: _or_null(k) for k in ("anyOf", "oneOf", "allOf", "enum")})


@pytest.fixture(scope="module")
def registry() -> Registry:
    spec = json.loads(SPEC_FILE.read_text())
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))


def problems(registry: Registry, schema: str, instance: Any) -> list[str]:
    """What in `instance` Stripe's schema `schema` refuses (OpenAPI 3.0: nullable, anyOf, $ref in the file)."""
    validator = StripeValidator({"$ref": f"{SPEC_URI}#/components/schemas/{schema}"}, registry=registry)
    return sorted(f"{schema}.{'.'.join(map(str, e.absolute_path))}: {e.message[:300]}"
                  for e in validator.iter_errors(instance))


@pytest.fixture(scope="module")
def conforms(registry: Registry) -> Callable[[str, Any], None]:
    """Assert that `instance` validates against Stripe's schema `schema`; an event's `data.object` against its
    object's own schema too (the `event` schema says only that it is an object)."""

    def check(schema: str, instance: Any) -> None:
        if not isinstance(instance, dict):
            instance = instance.to_dict()
        found = problems(registry, schema, instance)
        if schema == "event":
            inner = instance.get("data", {}).get("object", {})
            assert inner.get("object") in SCHEMA_OF, f"{instance['type']}: an object of no known schema"
            found += problems(registry, SCHEMA_OF[inner["object"]], inner)
        assert found == [], "\n".join(found)

    return check


def new_customer(client: Any) -> Any:
    return client.v1.customers.create({"email": f"{secrets.token_hex(4)}@example.com", "name": "Acme Pte Ltd",
                                       "metadata": {"org_id": "org_1"}})


def top_up_intent(client: Any, customer: str, amount: int = 5000, currency: str = "sgd") -> Any:
    """The PaymentIntent an online top-up creates (docs/stripe.md)."""
    return client.v1.payment_intents.create({
        "amount": amount, "currency": currency, "customer": customer, "setup_future_usage": "off_session",
        "payment_method_types": ["card"], "metadata": {"purpose": "online_top_up", "org_id": "org_1"}})


def card(client: Any, number: str) -> Any:
    return client.v1.payment_methods.create({"type": "card", "card": {"number": number, "exp_month": 12,
                                                                      "exp_year": 2031, "cvc": "123"}})


def declined(confirm: Callable[[], Any]) -> stripe.CardError:
    with pytest.raises(stripe.CardError) as caught:
        confirm()
    assert caught.value.http_status == 402
    return caught.value


def refused(create: Callable[[], Any]) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        create()
    assert caught.value.http_status in (400, 404)
    return caught.value


def events_about(intent: str) -> list[dict[str, Any]]:
    return WEBHOOKS.events(payment_intent=intent)


# PaymentIntents


def test_an_online_top_ups_payment_intent_conforms_created_and_paid(endpoint: str, client: Any,
                                                                     conforms: Callable[[str, Any], None]) -> None:
    # Given a customer (as the online top-up creates it) and its top-up's PaymentIntent
    customer = new_customer(client)
    intent = top_up_intent(client, customer.id)
    # Then both are Stripe's Customer and PaymentIntent, waiting for a card
    conforms("customer", customer)
    conforms("payment_intent", intent)
    assert (intent.status, intent.payment_method_types, intent.confirmation_method) == (
        "requires_payment_method", ["card"], "automatic")
    # When the console confirms it with a card
    paid = pay(endpoint, intent.id, intent.client_secret, CARD_OK)
    # Then the paid PaymentIntent conforms, also with its latest charge expanded, and so does the Charge
    assert paid["status"] == "succeeded"
    conforms("payment_intent", paid)
    expanded = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
    conforms("payment_intent", expanded)
    conforms("charge", expanded.latest_charge)
    assert expanded.latest_charge.billing_details.to_dict().keys() >= {"address", "email", "name", "phone"}
    # And the saved card is Stripe's PaymentMethod, attached to the customer
    method = client.v1.payment_methods.retrieve(paid["payment_method"])
    conforms("payment_method", method)
    assert method.customer == customer.id
    # And every event Stripe sent about it is Stripe's Event around Stripe's object
    events = events_about(intent.id)
    assert [e["type"] for e in events] == ["payment_intent.succeeded"]
    for event in events:
        conforms("event", event)


def test_a_declined_card_conforms_in_the_error_the_payment_intent_and_the_event(
        endpoint: str, client: Any, conforms: Callable[[str, Any], None]) -> None:
    for number, decline_code, message in ((CARD_DECLINED, "generic_decline", "Your card was declined."),
                                          (CARD_INSUFFICIENT_FUNDS, "insufficient_funds",
                                           "Your card has insufficient funds.")):
        # Given a top-up's PaymentIntent and a card Stripe declines
        intent = top_up_intent(client, new_customer(client).id)
        client.v1.payment_intents.update(intent.id, {"payment_method": card(client, number).id})
        # When it is confirmed
        error = declined(lambda intent=intent: client.v1.payment_intents.confirm(intent.id))
        # Then the 402 is Stripe's card error, with the issuer's decline code and the PaymentIntent
        conforms("error", error.json_body)
        assert (error.code, error.json_body["error"]["decline_code"], error.user_message) == (
            "card_declined", decline_code, message)
        conforms("payment_intent", error.json_body["error"]["payment_intent"])
        # And the PaymentIntent says why in its last_payment_error, typed as Stripe types it
        failed = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]})
        conforms("payment_intent", failed)
        conforms("charge", failed.latest_charge)
        assert failed.status == "requires_payment_method"
        assert (failed.last_payment_error.type, failed.last_payment_error.code,
                failed.last_payment_error.decline_code) == ("card_error", "card_declined", decline_code)
        assert (failed.latest_charge.status, failed.latest_charge.failure_code) == ("failed", "card_declined")
        # And payment_intent.payment_failed is Stripe's Event
        events = events_about(intent.id)
        assert [e["type"] for e in events] == ["payment_intent.payment_failed"]
        for event in events:
            conforms("event", event)
        assert events[0]["data"]["object"]["last_payment_error"]["decline_code"] == decline_code


def test_an_off_session_charge_of_the_saved_card_conforms(endpoint: str, client: Any,
                                                           conforms: Callable[[str, Any], None]) -> None:
    # Given a customer whose first top-up saved its card
    customer = new_customer(client)
    first = top_up_intent(client, customer.id)
    method = pay(endpoint, first.id, first.client_secret, CARD_OK)["payment_method"]
    # When the worker charges it off-session (confirm=true), latest_charge expanded
    intent = client.v1.payment_intents.create({
        "amount": 2000, "currency": "sgd", "customer": customer.id, "payment_method": method,
        "off_session": True, "confirm": True, "metadata": {"purpose": "auto_top_up"}, "expand": ["latest_charge"]})
    # Then it succeeded at once, as Stripe's PaymentIntent and Charge
    assert (intent.status, intent.amount_received) == ("succeeded", 2000)
    conforms("payment_intent", intent)
    conforms("charge", intent.latest_charge)
    for event in events_about(intent.id):
        conforms("event", event)


def test_an_off_session_charge_needing_authentication_conforms(endpoint: str, client: Any,
                                                                conforms: Callable[[str, Any], None]) -> None:
    # Given a customer whose saved card always asks for 3-D Secure
    customer = new_customer(client)
    first = top_up_intent(client, customer.id)
    method = pay(endpoint, first.id, first.client_secret, CARD_ALWAYS_AUTHENTICATE)["payment_method"]
    # When it is charged off-session
    error = declined(lambda: client.v1.payment_intents.create({
        "amount": 2000, "currency": "sgd", "customer": customer.id, "payment_method": method,
        "off_session": True, "confirm": True}))
    # Then Stripe's 402 authentication_required, its PaymentIntent and event conform
    conforms("error", error.json_body)
    assert error.code == "authentication_required"
    intent = error.json_body["error"]["payment_intent"]
    conforms("payment_intent", intent)
    conforms("payment_intent", client.v1.payment_intents.retrieve(intent["id"], {"expand": ["latest_charge"]}))
    events = events_about(intent["id"])
    assert [e["type"] for e in events] == ["payment_intent.payment_failed"]
    for event in events:
        conforms("event", event)


# Charges, refunds, disputes


def test_charges_are_listed_by_payment_intent_and_conform(endpoint: str, client: Any,
                                                          conforms: Callable[[str, Any], None]) -> None:
    # Given a paid PaymentIntent and another one
    intent, other = top_up_intent(client, new_customer(client).id), top_up_intent(client, new_customer(client).id)
    pay(endpoint, intent.id, intent.client_secret)
    pay(endpoint, other.id, other.client_secret)
    # When its charges are listed by payment_intent
    listed = client.v1.charges.list({"payment_intent": intent.id})
    # Then only its own charge comes, as Stripe's Charge, also when retrieved alone
    charge = client.v1.payment_intents.retrieve(intent.id, {"expand": ["latest_charge"]}).latest_charge.id
    assert [c.id for c in listed.data] == [charge]
    for found in [*listed.data, client.v1.charges.retrieve(charge)]:
        conforms("charge", found)


def test_refunds_conform_succeeded_and_failed_and_their_events(endpoint: str, client: Any,
                                                               conforms: Callable[[str, Any], None]) -> None:
    # Given a payment with the card whose refunds fail later, partly refunded
    intent = top_up_intent(client, new_customer(client).id)
    pay(endpoint, intent.id, intent.client_secret, CARD_REFUND_FAILS)
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 2000,
                                       "reason": "requested_by_customer", "metadata": {"refund_id": "rfd_1"}})
    # Then the succeeded Refund conforms, as listed and retrieved too, and omits what only a failure has
    assert refund.status == "succeeded"
    for found in [refund, client.v1.refunds.retrieve(refund.id),
                  *client.v1.refunds.list({"payment_intent": intent.id}).data]:
        conforms("refund", found)
        assert "failure_reason" not in found and "failure_balance_transaction" not in found
    # When Stripe fails it
    fail_refund(refund.id)
    # Then the failed Refund conforms, with its reason and the balance transaction giving the money back
    failed = client.v1.refunds.retrieve(refund.id)
    conforms("refund", failed)
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    conforms("balance_transaction", client.v1.balance_transactions.retrieve(failed.failure_balance_transaction))
    # And the Charge with its refunds expanded, and every event (refund.created, charge.refunded, refund.failed,
    # charge.refund.updated) conform
    conforms("charge", client.v1.charges.retrieve(refund.charge, {"expand": ["refunds"]}))
    events = events_about(intent.id)
    assert [e["type"] for e in events] == ["payment_intent.succeeded", "refund.created", "charge.refunded",
                                           "refund.failed", "charge.refund.updated"]
    for event in events:
        conforms("event", event)


def test_a_dispute_conforms_and_its_events(endpoint: str, client: Any, conforms: Callable[[str, Any], None]) -> None:
    # Given a payment with the card Stripe disputes as fraudulent
    intent = top_up_intent(client, new_customer(client).id)
    pay(endpoint, intent.id, intent.client_secret, CARD_DISPUTED)
    # When its dispute is read, listed, answered with winning evidence
    dispute = client.v1.disputes.list({"payment_intent": intent.id}).data[0]
    won = client.v1.disputes.update(dispute.id, {"evidence": {"uncategorized_text": "winning_evidence"}})
    # Then each is Stripe's Dispute, and so is every event about it
    for found in (dispute, client.v1.disputes.retrieve(dispute.id), won):
        conforms("dispute", found)
    assert won.status == "won"
    conforms("charge", client.v1.charges.retrieve(dispute.charge))
    events = events_about(intent.id)
    assert [e["type"] for e in events] == [
        "payment_intent.succeeded", "charge.dispute.created", "charge.dispute.funds_withdrawn",
        "charge.dispute.updated", "charge.dispute.funds_reinstated", "charge.dispute.closed"]
    for event in events:
        conforms("event", event)


# Error bodies


def test_invalid_requests_answer_stripes_error_body(endpoint: str, client: Any,
                                                    conforms: Callable[[str, Any], None]) -> None:
    customer = new_customer(client).id
    # When a PaymentIntent that does not exist is read, a refund has an unknown reason, an amount is too small or
    # too large
    missing = refused(lambda: client.v1.payment_intents.retrieve("pi_missing"))
    reason = refused(lambda: client.v1.refunds.create({"payment_intent": "pi_missing", "reason": "changed_mind"}))
    small = refused(lambda: top_up_intent(client, customer, amount=49))
    large = refused(lambda: top_up_intent(client, customer, amount=STRIPE_MAX_AMOUNT + 1))
    # Then each answer is Stripe's error body
    for error in (missing, reason, small, large):
        conforms("error", error.json_body)
    assert (missing.http_status, missing.code) == (404, "resource_missing")
    assert (small.code, small.param, small.user_message) == ("amount_too_small", "amount",
                                                             "Amount must be at least S$0.50 sgd")
    assert (large.code, large.param, large.user_message) == ("amount_too_large", "amount",
                                                             "Amount must be no more than S$999,999.99")


# Stripe's amount rules per currency


def test_the_currency_table_reads_stripes_page() -> None:
    # Zero-decimal currencies are whole units, ISK charges in hundredths but whole krónur, three-decimal ones in
    # tens; the minimum charge as Stripe's table says in the currency's own units
    assert {c for c, (decimals, _, _) in STRIPE_CURRENCY_RULES.items() if decimals == 0} >= {"JPY", "KRW", "VND",
                                                                                            "CLP", "UGX", "XAF"}
    assert STRIPE_CURRENCY_RULES["ISK"][0::2] == (2, 100)
    assert {c: STRIPE_CURRENCY_RULES[c][0::2] for c in ("BHD", "JOD", "KWD", "OMR", "TND")} == dict.fromkeys(
        ("BHD", "JOD", "KWD", "OMR", "TND"), (3, 10))
    assert {c: STRIPE_CURRENCY_RULES[c] for c in ("USD", "SGD", "GBP", "JPY", "HUF", "TWD", "MXN", "CZK")} == {
        "USD": (2, 50, 1), "SGD": (2, 50, 1), "GBP": (2, 30, 1), "JPY": (0, 50, 1), "HUF": (2, 17500, 1),
        "TWD": (2, STRIPE_CURRENCY_RULES["TWD"][1], 1), "MXN": (2, 1000, 1), "CZK": (2, 1500, 1)}
    # And every currency the service supports has its rules
    assert set(MINOR_UNITS) <= set(STRIPE_CURRENCY_RULES)
    for decimals, minimum, multiple in STRIPE_CURRENCY_RULES.values():
        assert decimals in (0, 2, 3) and minimum % multiple == 0 and 0 < minimum < STRIPE_MAX_AMOUNT


@pytest.mark.parametrize(("currency", "refused_amount", "accepted_amount"), [
    ("sgd", 49, 50), ("jpy", 49, 50), ("usd", 49, 50), ("gbp", 29, 30), ("huf", 17499, 17500)])
def test_below_the_minimum_charge_is_amount_too_small(client: Any, currency: str, refused_amount: int,
                                                      accepted_amount: int,
                                                      conforms: Callable[[str, Any], None]) -> None:
    customer = new_customer(client).id
    # When a PaymentIntent is one unit below the currency's minimum, Then it is refused on `amount`
    error = refused(lambda: top_up_intent(client, customer, refused_amount, currency))
    conforms("error", error.json_body)
    assert (error.http_status, error.code, error.param) == (400, "amount_too_small", "amount")
    assert error.user_message.startswith("Amount must be at least ") and error.user_message.endswith(f" {currency}")
    # And at the minimum it is made
    assert top_up_intent(client, customer, accepted_amount, currency).amount == accepted_amount


def test_isk_charges_whole_kronur_and_its_minimum(client: Any, conforms: Callable[[str, Any], None]) -> None:
    customer = new_customer(client).id
    _, minimum, _ = STRIPE_CURRENCY_RULES["ISK"]
    # When ISK 5 (500 in Stripe's units), ISK 5.50 and the minimum are asked for
    small = refused(lambda: top_up_intent(client, customer, 500, "isk"))
    fraction = refused(lambda: top_up_intent(client, customer, minimum + 50, "isk"))
    # Then ISK 5 is too small, a fraction of a króna is Stripe's no-decimal refusal, and the minimum is made
    assert minimum > 500
    assert small.code == "amount_too_small"
    conforms("error", fraction.json_body)
    assert (fraction.http_status, fraction.code, fraction.param, fraction.user_message) == (
        400, "invalid_charge_amount_no_decimal_compatible", "amount",
        "Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts must be evenly "
        "divisible by 100.")
    assert top_up_intent(client, customer, minimum, "isk").amount == minimum


def test_three_decimal_currencies_charge_in_tens(client: Any, conforms: Callable[[str, Any], None]) -> None:
    customer = new_customer(client).id
    # When KWD 1.005 (1005) is asked for, Then it is refused: Stripe charges three-decimal currencies in tens
    error = refused(lambda: top_up_intent(client, customer, 1005, "kwd"))
    conforms("error", error.json_body)
    assert (error.http_status, error.code, error.param) == (400, "invalid_charge_amount", "amount")
    # And KWD 1.010 is made
    assert top_up_intent(client, customer, 1010, "kwd").amount == 1010


def test_above_eight_digits_is_amount_too_large(client: Any) -> None:
    customer = new_customer(client).id
    # When 100,000,000 Stripe units are asked for, in a zero-decimal currency or not, Then it is too large
    for currency in ("sgd", "jpy"):
        error = refused(lambda currency=currency: top_up_intent(client, customer, 100_000_000, currency))
        assert (error.code, error.param) == ("amount_too_large", "amount")
    # And 99,999,999 is made
    assert top_up_intent(client, customer, STRIPE_MAX_AMOUNT, "sgd").amount == STRIPE_MAX_AMOUNT


def test_zero_or_less_is_not_an_amount(client: Any, conforms: Callable[[str, Any], None]) -> None:
    customer = new_customer(client).id
    # When 0 is asked for, Then Stripe's integer refusal on `amount`
    error = refused(lambda: top_up_intent(client, customer, 0))
    conforms("error", error.json_body)
    assert (error.code, error.param) == ("parameter_invalid_integer", "amount")

"""The local Stripe (local/stripe.py) as Stripe.js meets it: what a publishable key may do, and the stand-in script.

Stripe.js authenticates with the publishable key (`key` in the form-encoded POST data). Stripe lets it make a card a
PaymentMethod (`POST /v1/payment_methods`) and confirm a PaymentIntent whose `client_secret` it holds
(`POST /v1/payment_intents/{id}/confirm`), and nothing else the service meets: every other call needs the secret key.
localstripe's own 3-D Secure step (`/_authenticate`, its stand-in for Stripe's authentication page) also takes it,
with the client_secret. The answers are Stripe's, and validate against Stripe's schemas (tests/stripe_schemas/).

localstripe's state is per process and shared with other test files: every test makes its own objects.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from local.stripe import DEFAULT_API_KEY, STRIPE_JS, WEBHOOKS
from tests.stripe_console import CARD_ALWAYS_AUTHENTICATE, CARD_OK
from tests.unit.test_local_stripe_schemas import SPEC_FILE, SPEC_URI, problems

PUBLISHABLE_KEY = "pk_test_local"  # the console's local configuration (local/console.py)
CARD_DECLINED = "4000000000000002"  # Stripe: declined, decline_code generic_decline
SECRET_KEY_ONLY = ("This API call cannot be made with a publishable API key. Please use a secret API key. You can "
                   "find a list of your API keys at https://dashboard.stripe.com/account/apikeys.")
WRONG_CLIENT_SECRET = "The client_secret provided does not match the client_secret associated with the PaymentIntent."


@pytest.fixture(scope="module")
def conforms() -> Callable[[str, Any], None]:
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(json.loads(SPEC_FILE.read_text()),
                                                                         default_specification=DRAFT4))

    def check(schema: str, instance: Any) -> None:
        found = problems(registry, schema, instance)
        assert found == [], "\n".join(found)

    return check


def as_stripe_js(endpoint: str, path: str, key: str | None = PUBLISHABLE_KEY, **data: str) -> requests.Response:
    """A POST as Stripe.js sends it: form-encoded, the publishable key as `key`, no Authorization header."""
    body = {"key": key, **data} if key is not None else data
    return requests.post(f"{endpoint}{path}", data=body, headers={"Origin": "http://127.0.0.1:3000"}, timeout=10)


def card_fields(number: str) -> dict[str, str]:
    return {"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2031",
            "card[cvc]": "123", "billing_details[address][postal_code]": "12345"}


def new_intent(client: Any, amount: int = 5000) -> Any:
    """An online top-up's PaymentIntent, made with the secret key as the service makes it (docs/stripe.md)."""
    customer = client.v1.customers.create({"email": f"{secrets.token_hex(4)}@example.com"})
    return client.v1.payment_intents.create({
        "amount": amount, "currency": "sgd", "customer": customer.id, "setup_future_usage": "off_session",
        "payment_method_types": ["card"], "metadata": {"purpose": "online_top_up"}})


def new_card(endpoint: str, number: str = CARD_OK) -> str:
    made = as_stripe_js(endpoint, "/v1/payment_methods", **card_fields(number))
    assert made.status_code == 200, made.text
    return str(made.json()["id"])


def refusal(response: requests.Response) -> tuple[int, dict[str, Any]]:
    return response.status_code, response.json()["error"]


# What the publishable key may do


def test_a_publishable_key_makes_a_card_a_payment_method(endpoint: str, client: Any,
                                                         conforms: Callable[[str, Any], None]) -> None:
    # When Stripe.js posts a card with the publishable key, from the console's origin
    made = as_stripe_js(endpoint, "/v1/payment_methods", **card_fields(CARD_OK))
    # Then it is Stripe's PaymentMethod, with the postal code as billing address, answered to that origin
    assert made.status_code == 200, made.text
    method = made.json()
    conforms("payment_method", method)
    assert (method["type"], method["card"]["last4"], method["billing_details"]["address"]["postal_code"]) == (
        "card", "4242", "12345")
    assert made.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    # And the secret key reads the same PaymentMethod
    assert client.v1.payment_methods.retrieve(method["id"]).card.last4 == "4242"


def test_a_publishable_key_confirms_a_payment_intent_with_its_client_secret(
        endpoint: str, client: Any, conforms: Callable[[str, Any], None]) -> None:
    # Given an online top-up's PaymentIntent and a card Stripe.js made a PaymentMethod
    intent = new_intent(client)
    method = new_card(endpoint)
    # When Stripe.js confirms it with the card, the publishable key and the PaymentIntent's client_secret
    confirmed = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", client_secret=intent.client_secret,
                             payment_method=method)
    # Then the PaymentIntent succeeded with that card, as Stripe's PaymentIntent
    assert confirmed.status_code == 200, confirmed.text
    conforms("payment_intent", confirmed.json())
    assert (confirmed.json()["status"], confirmed.json()["payment_method"]) == ("succeeded", method)
    # And the card is saved to the customer (setup_future_usage), and Stripe says it succeeded
    assert client.v1.payment_methods.retrieve(method).customer == intent.customer
    assert [e["type"] for e in WEBHOOKS.events(payment_intent=intent.id)] == ["payment_intent.succeeded"]


def test_a_card_asking_for_3d_secure_is_authenticated_with_the_publishable_key(endpoint: str, client: Any) -> None:
    # Given a PaymentIntent confirmed by Stripe.js with a card that asks for 3-D Secure
    intent = new_intent(client)
    confirmed = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", client_secret=intent.client_secret,
                             payment_method=new_card(endpoint, CARD_ALWAYS_AUTHENTICATE))
    assert (confirmed.status_code, confirmed.json()["status"]) == (200, "requires_action")
    # When the customer completes it (localstripe's 3-D Secure step, the publishable key and the client_secret)
    authenticated = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/_authenticate?success=true",
                                 client_secret=intent.client_secret)
    # Then the PaymentIntent succeeded
    assert (authenticated.status_code, authenticated.json()["status"]) == (200, "succeeded")
    # And the 3-D Secure step with another client_secret is refused
    other = new_intent(client)
    as_stripe_js(endpoint, f"/v1/payment_intents/{other.id}/confirm", client_secret=other.client_secret,
                 payment_method=new_card(endpoint, CARD_ALWAYS_AUTHENTICATE))
    assert as_stripe_js(endpoint, f"/v1/payment_intents/{other.id}/_authenticate?success=true",
                        client_secret=intent.client_secret).status_code == 401


def test_a_declined_card_is_stripes_card_error_and_another_card_may_follow(
        endpoint: str, client: Any, conforms: Callable[[str, Any], None]) -> None:
    # Given an online top-up's PaymentIntent
    intent = new_intent(client)
    # When Stripe.js confirms it with a card the issuer declines
    declined = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", client_secret=intent.client_secret,
                            payment_method=new_card(endpoint, CARD_DECLINED))
    # Then the answer is Stripe's 402 card error, with the decline code, the message and the PaymentIntent
    status, error = refusal(declined)
    conforms("error", declined.json())
    assert (status, error["type"], error["code"], error["decline_code"], error["message"]) == (
        402, "card_error", "card_declined", "generic_decline", "Your card was declined.")
    assert (error["payment_intent"]["id"], error["payment_intent"]["status"]) == (intent.id, "requires_payment_method")
    # When Stripe.js confirms the same PaymentIntent again with another card
    retried = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", client_secret=intent.client_secret,
                           payment_method=new_card(endpoint, CARD_OK))
    # Then it succeeds, as at Stripe
    assert (retried.status_code, retried.json()["status"]) == (200, "succeeded")
    # And a PaymentIntent that succeeded cannot be confirmed again
    again = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", client_secret=intent.client_secret,
                         payment_method=new_card(endpoint, CARD_OK))
    assert (again.status_code, again.json()["error"]["code"]) == (400, "payment_intent_unexpected_state")


# The client_secret


@pytest.mark.parametrize("given", ["missing", "wrong", "another intent's"])
def test_a_confirmation_with_the_publishable_key_needs_the_intents_own_client_secret(
        endpoint: str, client: Any, conforms: Callable[[str, Any], None], given: str) -> None:
    # Given an online top-up's PaymentIntent and a card
    intent = new_intent(client)
    method = new_card(endpoint)
    secret = {"missing": None, "wrong": f"{intent.id}_secret_{secrets.token_hex(8)}",
              "another intent's": new_intent(client).client_secret}[given]
    # When Stripe.js confirms it with the publishable key and no client_secret, or one not the PaymentIntent's
    extra = {"client_secret": secret} if secret is not None else {}
    answer = as_stripe_js(endpoint, f"/v1/payment_intents/{intent.id}/confirm", payment_method=method, **extra)
    # Then Stripe refuses it: without one, as any call the publishable key may not make (401); with another, 400 on
    # `client_secret`
    conforms("error", answer.json())
    if secret is None:
        assert refusal(answer) == (401, {"type": "invalid_request_error", "message": SECRET_KEY_ONLY})
    else:
        assert refusal(answer) == (400, {"type": "invalid_request_error", "code": "payment_intent_invalid_parameter",
                                         "param": "client_secret", "message": WRONG_CLIENT_SECRET})
    # And nothing happened to the PaymentIntent
    after = client.v1.payment_intents.retrieve(intent.id)
    assert (after.status, after.payment_method) == ("requires_payment_method", None)
    assert WEBHOOKS.events(payment_intent=intent.id) == []


def test_a_payment_intent_that_does_not_exist_is_stripes_404_to_the_publishable_key(endpoint: str) -> None:
    # When Stripe.js confirms a PaymentIntent Stripe does not have
    answer = as_stripe_js(endpoint, "/v1/payment_intents/pi_missing/confirm", client_secret="pi_missing_secret_x",
                          payment_method=new_card(endpoint))
    # Then it is Stripe's resource_missing
    status, error = refusal(answer)
    assert (status, error["code"]) == (404, "resource_missing")


def test_the_secret_key_confirms_with_a_card_and_its_client_secret_is_checked_too(endpoint: str, client: Any) -> None:
    # Given an online top-up's PaymentIntent
    intent = new_intent(client)
    method = client.v1.payment_methods.create({"type": "card", "card": {
        "number": CARD_OK, "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
    # When the secret key confirms it with another PaymentIntent's client_secret
    wrong = requests.post(f"{endpoint}/v1/payment_intents/{intent.id}/confirm", auth=(DEFAULT_API_KEY, ""),
                          data={"payment_method": method.id, "client_secret": new_intent(client).client_secret},
                          timeout=10)
    # Then it is refused on `client_secret`
    assert (wrong.status_code, wrong.json()["error"].get("param")) == (400, "client_secret")
    # When it confirms it with a card and no client_secret (the SDK's way)
    paid = client.v1.payment_intents.confirm(intent.id, {"payment_method": method.id})
    # Then it succeeded
    assert (paid.status, paid.payment_method) == ("succeeded", method.id)


# Everything else needs the secret key


def secret_key_calls(intent: str, method: str, customer: str) -> list[tuple[str, str, dict[str, str]]]:
    """Calls the service makes with its secret key (and localstripe's other publishable ones: tokens, sources)."""
    return [("GET", f"/v1/payment_intents/{intent}", {}),
            ("GET", f"/v1/payment_intents/{intent}", {"client_secret": "x"}),
            ("POST", "/v1/payment_intents", {"amount": "5000", "currency": "sgd"}),
            ("POST", f"/v1/payment_intents/{intent}", {"payment_method": method}),
            ("POST", f"/v1/payment_intents/{intent}/cancel", {}),
            ("GET", "/v1/payment_intents", {}),
            ("GET", f"/v1/payment_methods/{method}", {}),
            ("POST", f"/v1/payment_methods/{method}/attach", {"customer": customer}),
            ("POST", "/v1/customers", {"email": "x@example.com"}),
            ("GET", f"/v1/customers/{customer}", {}),
            ("POST", "/v1/refunds", {"payment_intent": intent}),
            ("GET", "/v1/refunds", {}),
            ("GET", "/v1/charges", {}),
            ("GET", "/v1/disputes", {}),
            ("POST", "/v1/tokens", {"card[number]": CARD_OK, "card[exp_month]": "12", "card[exp_year]": "2031",
                                    "card[cvc]": "123"}),
            ("POST", "/v1/sources", {"type": "card"})]


@pytest.mark.parametrize("where", ["key in the POST data", "Authorization header"])
def test_every_other_call_is_refused_to_the_publishable_key(endpoint: str, client: Any, where: str) -> None:
    # Given a PaymentIntent, a PaymentMethod and a customer
    intent = new_intent(client)
    method = new_card(endpoint)
    for method_, path, data in secret_key_calls(intent.id, method, intent.customer):
        # When the publishable key makes any other call, in the POST data (as Stripe.js) or as the bearer
        if where == "Authorization header":
            answer = requests.request(method_, f"{endpoint}{path}", data=data or None, timeout=10,
                                      headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"})
        elif method_ == "POST":
            answer = as_stripe_js(endpoint, path, **data)
        else:
            answer = requests.get(f"{endpoint}{path}", params={"key": PUBLISHABLE_KEY, **data}, timeout=10)
        # Then Stripe refuses it (401), in its words when the publishable key was read
        assert answer.status_code == 401, (method_, path, answer.text)
        assert answer.json()["error"]["type"] == "invalid_request_error"
        if method_ == "POST" or where == "Authorization header":
            assert answer.json()["error"]["message"] == SECRET_KEY_ONLY, (method_, path)
    # And nothing was done: the PaymentIntent waits for its card
    assert client.v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"


def test_the_two_calls_with_the_publishable_key_as_bearer_are_taken_too(endpoint: str, client: Any) -> None:
    # Given an online top-up's PaymentIntent
    intent = new_intent(client)
    bearer = {"Authorization": f"Bearer {PUBLISHABLE_KEY}"}
    # When the publishable key, as the bearer, makes the card a PaymentMethod and confirms with the client_secret
    made = requests.post(f"{endpoint}/v1/payment_methods", data=card_fields(CARD_OK), headers=bearer, timeout=10)
    confirmed = requests.post(f"{endpoint}/v1/payment_intents/{intent.id}/confirm", headers=bearer, timeout=10,
                              data={"payment_method": made.json()["id"], "client_secret": intent.client_secret})
    # Then both are done, as with `key` in the POST data
    assert (made.status_code, confirmed.status_code, confirmed.json()["status"]) == (200, 200, "succeeded")


def test_no_key_or_a_key_that_is_none_is_refused(endpoint: str) -> None:
    # When a call comes with no key at all, or with a key that is neither secret nor publishable
    none = as_stripe_js(endpoint, "/v1/payment_methods", key=None, **card_fields(CARD_OK))
    odd = requests.post(f"{endpoint}/v1/payment_methods", data=card_fields(CARD_OK), timeout=10,
                        headers={"Authorization": "Bearer rk_test_something_else"})
    odd_in_data = as_stripe_js(endpoint, "/v1/payment_methods", key="sk_test_in_the_body", **card_fields(CARD_OK))
    # Then each is Stripe's 401
    assert refusal(none)[0] == refusal(odd)[0] == refusal(odd_in_data)[0] == 401
    assert refusal(none)[1]["message"].startswith("You did not provide an API key.")
    assert refusal(odd)[1]["message"].startswith("Invalid API Key provided: rk_test_")


# The stand-in script


def test_the_stand_in_script_is_localstripes_with_confirm_card_payment_completed(endpoint: str) -> None:
    import localstripe

    # When the console loads Stripe.js from the local Stripe, with no key (as from js.stripe.com)
    served = requests.get(f"{endpoint}/js.stripe.com/v3/", timeout=10)
    # Then it is localstripe's script followed by ours, as JavaScript
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("application/javascript")
    own = (Path(localstripe.__file__).parent / "localstripe-v3.js").read_text(encoding="utf-8")
    assert served.text == own + "\n" + STRIPE_JS.read_text(encoding="utf-8")
    # And ours replaces only confirmCardPayment, with the two calls Stripe.js makes with the publishable key
    ours = STRIPE_JS.read_text(encoding="utf-8")
    assert re.findall(r"\bstripe\.(\w+) = ", ours) == ["confirmCardPayment"]
    for call in ("'/v1/payment_methods'", "/v1/payment_intents/${intentId}/confirm", "key: apiKey",
                 "client_secret: clientSecret"):
        assert call in ours, call

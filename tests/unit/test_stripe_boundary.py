"""The Stripe boundary without the local Stripe: the SDK's own HTTP client interface answered with
responses shaped as Stripe documents them (api.stripe.com, API version 2026-10-28), for the calls
localstripe cannot answer as Stripe does (`setup_future_usage`, an off-session 402 decline), and
our signature check held against the SDK's own.

Invariant S1: every signature the SDK accepts within 300 s in the past, ours accepts; ours refuses
everything the SDK refuses, and also timestamps more than 300 s in the future.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import stripe
import urllib3
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.edge import status_of
from shared.settings import Settings
from shared.stripe_gateway import (
    TRY_SECONDS,
    CardDeclined,
    Deadline,
    PaymentProviderError,
    ProviderRefused,
    StripeGateway,
)
from shared.stripe_signature import SignatureError, header_for, verify

PAYMENT_INTENT = {  # https://docs.stripe.com/api/payment_intents/object (trimmed to what is relevant)
    "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent", "amount": 5000, "amount_capturable": 0,
    "amount_received": 0, "capture_method": "automatic_async", "client_secret":
    "pi_3MtwBwLkdIwHu7ix28a3tqPa_secret_YrKJUKribcBjcG8HVhfZluoGH", "confirmation_method": "automatic",
    "created": 1680800504, "currency": "sgd", "customer": "cus_NffrFeUfNV2Hib", "last_payment_error": None,
    "latest_charge": None, "livemode": False, "metadata": {}, "payment_method": None,
    "payment_method_types": ["card"], "setup_future_usage": "off_session", "status": "requires_payment_method",
}
DECLINE_402 = {"error": {  # https://docs.stripe.com/payments/save-and-reuse#charge-saved-payment-method
    "charge": "ch_1NirD82eZvKYlo2CIvbtLWuY", "code": "card_declined", "decline_code": "insufficient_funds",
    "doc_url": "https://stripe.com/docs/error-codes/card-declined", "message": "Your card has insufficient funds.",
    "payment_intent": {**PAYMENT_INTENT, "id": "pi_3NirD82eZvKYlo2C1Yz5iZkX", "status": "requires_payment_method",
                       "setup_future_usage": None, "last_payment_error": {"code": "card_declined",
                                                                           "decline_code": "insufficient_funds"}},
    "type": "card_error"}}


class StripeShaped(stripe.HTTPClient):
    """The SDK's HTTP client interface, answering like api.stripe.com and recording what was sent."""

    name = "stripe-shaped"

    def __init__(self, answers: list[tuple[int, dict[str, Any]] | Exception]):
        super().__init__()
        self.answers, self.sent, self.slept, self.timeouts = answers, [], [], []

    def for_a_try(self, timeout: tuple[float, float]) -> StripeShaped:
        self.timeouts.append(timeout)
        return self

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.sent.append({"method": method, "url": url, "headers": dict(headers or {}),
                          "params": parse_qs(post_data or "")})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):  # as the SDK's RequestsClient raises a network failure
            raise stripe.APIConnectionError("Unexpected error communicating with Stripe.",
                                            should_retry=True) from answer
        status, body, *extra = answer
        return json.dumps(body), status, {"Request-Id": "req_test", "Idempotency-Key":
                                          (headers or {}).get("Idempotency-Key", ""), **(extra[0] if extra else {})}


def gateway(answers, deadline: Deadline | None = None):
    http = StripeShaped(answers)
    settings_ = Settings.model_validate({"TABLE_NAME": "t-x", "CURSOR_SECRET": "x" * 16, "STRIPE_API_KEY": "sk_test_1"})
    gw = StripeGateway(settings_, deadline, sleep=http.slept.append, http_client=http.for_a_try)
    return gw, http


def test_the_online_top_up_asks_stripe_to_save_the_card_for_off_session_use():
    # Given Stripe answering the PaymentIntent as documented
    gw, http = gateway([(200, PAYMENT_INTENT)])
    # When the online top-up starts
    intent = gw.start_online_payment(top_up_id="otu_1", org_id="org_1", partner_id="ptn_1",
                                     customer_id="cus_NffrFeUfNV2Hib", amount=5000, currency="SGD")
    # Then the request saves the card off-session, carries our metadata and a deterministic key
    [sent] = http.sent
    assert sent["url"] == "https://api.stripe.com/v1/payment_intents"
    assert sent["headers"]["Idempotency-Key"] == "online-top-up:otu_1"
    p = sent["params"]
    assert (p["setup_future_usage"], p["customer"], p["amount"], p["currency"]) == (
        ["off_session"], ["cus_NffrFeUfNV2Hib"], ["5000"], ["sgd"])
    assert p["metadata[purpose]"] == ["online_top_up"] and p["metadata[online_top_up_id]"] == ["otu_1"]
    assert (intent.id, intent.client_secret) == (PAYMENT_INTENT["id"], PAYMENT_INTENT["client_secret"])


def test_an_off_session_decline_is_stripes_reason_and_the_retry_sends_the_same_key():
    # Given Stripe declining the off-session charge (402), twice (a retried delivery)
    gw, http = gateway([(402, DECLINE_402), (402, DECLINE_402)])
    charge = dict(org_id="org_1", partner_id="ptn_1", business_date="2026-11-21", customer_id="cus_1",
                  payment_method_id="pm_1", amount=2000, currency="SGD")
    for _ in range(2):
        with pytest.raises(CardDeclined) as declined:
            gw.charge_off_session(**charge)
        # Then the reason is the decline code and the PaymentIntent is known
        assert (declined.value.decline_code, declined.value.payment_intent_id) == (
            "insufficient_funds", "pi_3NirD82eZvKYlo2C1Yz5iZkX")
        assert declined.value.details == [{"code": "card_declined", "decline_code": "insufficient_funds",
                                           "message": "Your card has insufficient funds."}]
    # And both calls carried the key of (organization, business date) and off_session + confirm
    assert {s["headers"]["Idempotency-Key"] for s in http.sent} == {"auto-top-up:org_1:2026-11-21"}
    assert all(s["params"]["off_session"] == ["true"] and s["params"]["confirm"] == ["true"] for s in http.sent)


def test_stripe_refusing_is_a_422_with_its_code_and_an_outage_a_503_after_the_same_request_is_tried_again():
    # Given Stripe refusing the amount (400)
    gw, http = gateway([(400, {"error": {"type": "invalid_request_error", "code": "amount_too_small",
                                         "message": "Amount must be at least $0.50 usd", "param": "amount"}})])
    with pytest.raises(ProviderRefused) as refused:
        gw.start_online_payment(top_up_id="otu_1", org_id="o", partner_id="p", customer_id="c", amount=1,
                                currency="SGD")
    # Then it is 422 payment_provider_refused with Stripe's code and message, asked once
    assert (status_of(refused.value), refused.value.code) == (422, "payment_provider_refused")
    assert refused.value.details == [{"code": "amount_too_small", "message": "Amount must be at least $0.50 usd",
                                      "param": "amount"}]
    assert len(http.sent) == 1
    # Given Stripe answering 500 three times
    outage = [(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}})] * 3
    gw, http = gateway(list(outage))
    with pytest.raises(PaymentProviderError) as unavailable:
        gw.create_customer(org_id="o", partner_id="p", name="n")
    # Then the same request was tried three times with one key, waiting 0.5 s then 1 s, and it is 503 + Retry-After
    assert [s["headers"]["Idempotency-Key"] for s in http.sent] == ["customer:o"] * 3 and http.slept == [0.5, 1.0]
    assert (status_of(unavailable.value), unavailable.value.code) == (503, "payment_provider_unavailable")
    assert unavailable.value.headers() == {"Retry-After": "5"} and not unavailable.value.sent  # 5xx: an answer
    # Given a 429 then an answer
    too_many = {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}
    gw, http = gateway([(429, too_many), (200, {"id": "cus_1", "object": "customer"})])
    # Then the second try's answer is the result
    assert gw.create_customer(org_id="o", partner_id="p", name="n") == "cus_1" and len(http.sent) == 2


def test_no_answer_says_whether_stripe_may_have_acted_and_no_try_starts_without_time_to_record_it():
    # Given Stripe never reached (the connection refused, then timing out while connecting)
    refused = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(
        None, "/v1/refunds", urllib3.exceptions.NewConnectionError(None, "Connection refused")))
    gw, http = gateway([refused, requests.exceptions.ConnectTimeout(), refused])
    with pytest.raises(PaymentProviderError) as never:
        gw.refund(refund_id="rfd_1", payment_id="pay_1", org_id="org_1", intent_id="pi_1", amount=500,
                  currency="SGD", reason=None)
    # Then it was not sent
    assert not never.value.sent and len(http.sent) == 3
    # Given a request sent and never answered (a read timeout), then refused connections
    gw, http = gateway([requests.exceptions.ReadTimeout(), refused, refused])
    with pytest.raises(PaymentProviderError) as unanswered:
        gw.refund(refund_id="rfd_1", payment_id="pay_1", org_id="org_1", intent_id="pi_1", amount=500,
                  currency="SGD", reason=None)
    # Then Stripe may have acted on it
    assert unanswered.value.sent
    # Given an invocation with 9 s left, a timeout on the first try (6 s, the longest a try takes)
    now = [0.0]
    deadline = Deadline(clock=lambda: now[0])
    deadline.start(9_000)

    gw, http = gateway([requests.exceptions.ReadTimeout()], deadline)
    original = http.request

    def slow(*args: Any, **kwargs: Any) -> Any:
        now[0] += TRY_SECONDS
        return original(*args, **kwargs)

    http.request = slow
    with pytest.raises(PaymentProviderError):
        gw.charge_off_session(org_id="o", partner_id="p", business_date="2026-12-05", customer_id="c",
                              payment_method_id="pm", amount=500, currency="SGD")
    # Then no second try starts (3 s left: a try needs 2 s to connect and 1 s to read, and 2 s to record after it)
    assert len(http.sent) == 1 and deadline.left() == 3.0 and http.timeouts == [(2.0, 4.0)]
    # And with less than that left, Stripe is not called at all
    gw, http = gateway([], deadline)
    with pytest.raises(PaymentProviderError) as no_time:
        gw.payment_intent("pi_1")
    assert http.sent == [] and not no_time.value.sent
    # And with 6 s left, a try reads for 2 s only (it and the recording of its outcome end within the 6 s)
    now[0] = 0.0
    deadline.start(6_000)
    gw, http = gateway([(200, PAYMENT_INTENT)], deadline)
    gw.payment_intent("pi_1")
    assert http.timeouts == [(2.0, 2.0)]


def test_what_says_nothing_about_the_request_is_never_a_refusal():
    # Given Stripe refusing our key (401), then a key it holds another request under (400 idempotency_error)
    gw, http = gateway([(401, {"error": {"type": "invalid_request_error",
                                         "message": "Invalid API Key provided: sk_live_****1234"}})])
    with pytest.raises(PaymentProviderError) as key:
        gw.charge_off_session(org_id="o", partner_id="p", business_date="2026-12-05", customer_id="c",
                              payment_method_id="pm", amount=500, currency="SGD")
    # Then it is Stripe being unavailable to us (503, the attempt left pending), and the key's words are not shown
    assert (key.value.code, "sk_live" in key.value.message) == ("stripe_not_configured", False)
    gw, http = gateway([(400, {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests "
                                         "can only be used with the same parameters they were first used with."}})])
    with pytest.raises(PaymentProviderError) as other:
        gw.refund(refund_id="rfd_1", payment_id="pay_1", org_id="o", intent_id="pi_1", amount=500, currency="SGD",
                  reason=None)
    # And a request held under the same key may have been acted on: sent, never a refusal
    assert other.value.sent and len(http.sent) == 1
    # Given a 500 that Stripe says a retry would only repeat (it saved it for the key)
    gw, http = gateway([(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}},
                         {"Stripe-Should-Retry": "false"})])
    with pytest.raises(PaymentProviderError):
        gw.create_customer(org_id="o", partner_id="p", name="n")
    # Then it is not tried again
    assert len(http.sent) == 1


@pytest.mark.parametrize(("currency", "amount", "sent"), [("ISK", 500, "50000"), ("SGD", 500, "500"),
                                                          ("JPY", 500, "500"), ("KWD", 5_000, "5000")])
def test_amounts_reach_stripe_in_stripes_units(currency, amount, sent):
    # Given an ISK online top-up of ISK 500 (Stripe's ISK is two-decimal), and the same figure in other currencies
    gw, http = gateway([(200, PAYMENT_INTENT), (200, {**PAYMENT_INTENT, "status": "succeeded"}),
                        (200, {"id": "re_1", "object": "refund", "amount": 1, "status": "succeeded"})])
    gw.start_online_payment(top_up_id="otu_1", org_id="o", partner_id="p", customer_id="c", amount=amount,
                            currency=currency)
    gw.charge_off_session(org_id="o", partner_id="p", business_date="2026-12-05", customer_id="c",
                          payment_method_id="pm", amount=amount, currency=currency)
    gw.refund(refund_id="rfd_1", payment_id="pay_1", org_id="o", intent_id="pi_1", amount=amount, currency=currency,
              reason=None)
    # Then Stripe is asked for the amount in its own units, each time
    assert [s["params"]["amount"] for s in http.sent] == [[sent]] * 3


payloads = st.text(max_size=300).map(str.encode)  # Stripe sends UTF-8 JSON (the SDK decodes it)
secrets_ = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=8, max_size=40)


@settings(max_examples=300, deadline=None)
@given(payload=payloads, secret=secrets_, other=secrets_, age=st.integers(-600, 600), tamper=st.booleans(),
       wrong_secret=st.booleans())
def test_our_verification_agrees_with_the_sdks(payload, secret, other, age, tamper, wrong_secret):
    now = 1_800_000_000
    header = header_for(payload, other if wrong_secret else secret, now - age)
    body = payload + b"x" if tamper else payload
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, tolerance=300)
        sdk_ok = True
    except stripe.SignatureVerificationError:
        sdk_ok = False
    try:
        verify(body, header, secret, now=now)
        ours_ok = True
    except SignatureError:
        ours_ok = False
    signed_right = not tamper and (not wrong_secret or other == secret)
    assert ours_ok == (signed_right and abs(age) <= 300)
    assert not ours_ok or sdk_ok  # we never accept what the SDK refuses
    assert sdk_ok == signed_right  # (the SDK reads the real clock, before `now`: no age refuses there)

"""The local stack's Stripe: localstripe (PyPI, a stateful Stripe emulator that sends signed webhooks)
on loopback, completed where it falls short of what this service calls.

localstripe as published binds every interface and pickles its state to /tmp; here it serves one
thread's event loop on 127.0.0.1 and keeps its state in memory. What it lacks, and is added here
the way Stripe documents it (each one covered by tests against Stripe-shaped responses too):
  - `Idempotency-Key`: Stripe replays the first response of a key (for 24 h), and answers 400
    `idempotency_error` when the key comes back with other parameters; localstripe ignores the header.
  - `setup_future_usage` on PaymentIntents: refused by localstripe; accepted and echoed here, and on
    success the card is attached to the customer (as Stripe saves it for later off-session use).
  - `off_session=true` with a card that always requires authentication (4000002760003184): Stripe
    fails it with a 402 `authentication_required` (and sends `payment_intent.payment_failed`);
    localstripe would leave it waiting for 3-D Secure.
  - `amount_received` on PaymentIntents (what the webhook credits) and the PaymentIntent in a 402's
    error body, both part of Stripe's responses.
  - Refunds (https://docs.stripe.com/api/refunds/object): `reason` (duplicate, fraudulent,
    requested_by_customer; anything else a 400 on `reason`), both `charge` and `payment_intent` whichever the
    refund was made with, and Stripe's refusals: more than is left (400 on `amount`, worded as Stripe words it),
    nothing left (`charge_already_refunded`), a charged-back charge (`charge_disputed`), an amount below 1
    (`parameter_invalid_integer`). Each refund sends `refund.created` (the Refund) and `charge.refunded` (the
    Charge, with its cumulative `amount_refunded`). `GET /v1/refunds?payment_intent=` lists every refund of
    it, newest first, in pages. localstripe refunded beyond the charge, took no reason and sent no event.
  - The Charge: `amount_captured` and `disputed`; `amount_refunded`/`refunded` count no failed refund; and
    `refunds` only when expanded (`expand[]=refunds`, `latest_charge.refunds`), as since API 2022-11-15.
  - The test card 4000000000005126: its refund answers `succeeded`, then fails (`expired_or_canceled_card`,
    a `failure_balance_transaction` giving the money back, the charge's `amount_refunded` down again) with
    `refund.failed` and `charge.refund.updated`. Stripe fails it "some time later": here fail_refund(id) (or
    POST /_config/refunds/{id}/fail) fails it now, and fail_refunds_automatically(after) after `after` s.
  - Disputes (https://docs.stripe.com/api/disputes/object), none in localstripe: the test card
    4000000000000259 has its charge disputed as fraudulent once its PaymentIntent succeeds (the whole amount,
    `needs_response`, a balance transaction of `-amount` and a 1500 fee, `reporting_category: dispute`),
    with `charge.dispute.created` then `charge.dispute.funds_withdrawn`. `GET /v1/disputes/{id}`,
    `GET /v1/disputes?charge=&payment_intent=`, `POST /v1/disputes/{id}` (evidence; Stripe's test values of
    `evidence[uncategorized_text]`: `winning_evidence` wins it, with a `dispute_reversal` transaction,
    `charge.dispute.funds_reinstated` and `.closed`; `losing_evidence` loses it) and `POST .../close` (lost).
  - Events as Stripe POSTs them: the SDK's API version, `pending_webhooks`, and the `request` (`id`, the
    `Request-Id` of the response, and `idempotency_key`) that caused them, null for what Stripe does later.
  - WEBHOOKS records every event (events(types, since, payment_intent)) and holds back, drops, releases
    (in any order, signed at sending) or discards deliveries, for the delivery-order tests; over HTTP too:
    POST /_config/webhooks/{hold,drop,release,discard,reset}, GET /_config/webhooks, GET /_config/events.
    Nothing held, delivery is localstripe's: one signed POST per endpoint, 1 s after the event.
  - Stripe's own schemas: what it returns and sends validates against Stripe's OpenAPI description of API
    2023-08-16 (tests/stripe_schemas/, tests/unit/test_local_stripe_schemas.py). PaymentIntents carry
    `payment_method_types` (default ["card"]) and `confirmation_method` (automatic); `last_payment_error` is typed
    (`card_error`, with `decline_code`, `doc_url` and the PaymentMethod); Charges and PaymentMethods have Stripe's
    `billing_details`; a Refund has `failure_reason`/`failure_balance_transaction` only once failed (Stripe omits
    them before); `GET /v1/charges?payment_intent=` lists its charges (localstripe answered 500); an object that does
    not exist is Stripe's 404 `resource_missing` ("No such payment_intent: 'pi_...'").
  - Stripe's declined test cards (DECLINED_CARDS, https://docs.stripe.com/testing#declined-payments): 4000000000000002
    generic_decline, ...9995 insufficient_funds, ...9987 lost_card, ...9979 stolen_card, ...0069 expired_card,
    ...0127 incorrect_cvc, ...0119 processing_error, ...0341 (attaches, then declined): the 402 `card_error` and the
    PaymentIntent's `last_payment_error` carry Stripe's `code`, `decline_code` and message. localstripe declined only
    4000000000000341, without a decline code.
  - Stripe's amount rules per currency on PaymentIntent create (https://docs.stripe.com/currencies), as the table
    STRIPE_CURRENCY_RULES: ISO code -> (decimals, minimum charge, multiple), in Stripe's units, read from Stripe's
    page and not from the service's own table. Below 1: 400 `parameter_invalid_integer`; above 99,999,999
    (STRIPE_MAX_AMOUNT): 400 `amount_too_large`; ISK not a multiple of 100: 400
    `invalid_charge_amount_no_decimal_compatible`; a three-decimal currency (BHD JOD KWD OMR TND) not a multiple of
    10: 400 `invalid_charge_amount`; below the currency's minimum: 400 `amount_too_small` ("Amount must be at least
    S$0.50 sgd"), all on `amount`. A currency outside the table has no minimum beyond its multiple. Refunds are
    bounded by what is left of their charge, as before (Stripe sets no minimum on a refund).
  - Stripe slower than Lambda, or failing (FAULTS; on a LocalStripe: delay_responses, fail_requests, drop_responses,
    reset_faults), for the API's requests only (`/v1/...`): FAULTS.delay(seconds, path_prefix="/v1/") performs each
    request at once and answers it `seconds` later; FAULTS.fail(status=500, times=1, path_prefix, method) answers the
    next `times` matching requests 429, 500, 503 (any 5xx) without performing them, in Stripe's error shape (5xx:
    `api_error`; 429: `rate_limit`, typed `invalid_request_error` as Stripe sends it and as its schema allows);
    FAULTS.drop(times=1, path_prefix, method, hold=0) performs the next `times` requests, holds the connection `hold`
    seconds and closes it unanswered (a timeout for the client, although Stripe did the work: a retry with the same
    `Idempotency-Key` gets the first answer); FAULTS.reset() clears them. Over HTTP: POST /_config/faults/delay
    {seconds, path_prefix}, /_config/faults/fail {status, times, path_prefix, method}, /_config/faults/drop {times,
    path_prefix, method, hold}, /_config/faults/reset; GET /_config/faults shows them.
  - Stripe.js (the console's online top-up by card): localstripe's stand-in confirmCardPayment ignored the card element
    and localstripe took the publishable key for neither call Stripe.js makes. `GET /js.stripe.com/v3/` serves
    localstripe's script followed by local/stripe_js/confirm-card-payment.js, whose confirmCardPayment does what
    Stripe.js does: the typed card becomes a PaymentMethod (`POST /v1/payment_methods`), the PaymentIntent is confirmed
    with it (`POST /v1/payment_intents/{id}/confirm` with `client_secret` and `payment_method`), 3-D Secure is
    localstripe's modal and `/_authenticate`, and it resolves {paymentIntent} or Stripe's {error}. A publishable key
    (`key` in the POST data, as Stripe.js sends it, or the Authorization header) is taken for those calls only, the
    confirmation only with that PaymentIntent's client_secret (none: 401; another: 400
    `payment_intent_invalid_parameter`); every other call needs the secret key (401 in Stripe's words).
Checkout Sessions are not used by this service (its console confirms a PaymentIntent with Stripe.js).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import string
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_PORT = 8420
DEFAULT_API_KEY = "sk_test_local_payments"
DEFAULT_WEBHOOK_SECRET = "whsec_local_dev"
ALWAYS_AUTHENTICATE = frozenset({"4000002760003184", "4000008260003178", "4000008400001629"})
CARD_REFUND_FAILS = "4000000000005126"  # Stripe: the refund answers `succeeded`, then fails
CARD_DISPUTED = "4000000000000259"  # Stripe: the charge succeeds, then is disputed as fraudulent
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
REFUND_FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
                          "insufficient_funds", "declined", "merchant_request", "unknown")
DISPUTE_FEE = 1500  # Stripe's US dispute fee ($15.00), here in the charge's currency
DISPUTE_EVIDENCE = (  # the Dispute's `evidence` hash, as Stripe's API reference shows it
    "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
    "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation", "duplicate_charge_explanation",
    "duplicate_charge_id", "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address", "shipping_carrier",
    "shipping_date", "shipping_documentation", "shipping_tracking_number", "uncategorized_file", "uncategorized_text")
# Stripe's declined test cards (https://docs.stripe.com/testing#declined-payments): the charge fails with this
# (`code`, `decline_code`, message). 4000000000000341 attaches to a customer but its charges fail; the two that ask
# for 3-D Secure first are declined once authenticated.
DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error", "processing_error",
                         "An error occurred while processing your card. Try again in a little bit."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    "4000008260003178": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000008400001629": ("card_declined", "generic_decline", "Your card was declined."),
}
TEST_EVIDENCE = {"winning_evidence": "won", "losing_evidence": "lost"}  # Stripe's test values of uncategorized_text
_OPEN_DISPUTE = ("needs_response", "warning_needs_response")
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "sgd": "S$"}

# Stripe's amount rules per currency (https://docs.stripe.com/currencies), read independently of the service's own
# table (shared/money.py) so that a mismatch fails a test: ISO code -> (decimals of Stripe's amounts, the minimum
# charge, the multiple a charge must be), amounts in Stripe's units. Zero-decimal currencies are whole units; ISK is
# two-decimal at Stripe but charged in whole krónur (a multiple of 100); three-decimal currencies in tens (the last
# digit 0); HUF and TWD charge as two-decimal. The minimum is Stripe's table where it has one, else the equivalent
# of USD 0.50 at the approximate rate of _USD_RATES, rounded up to the multiple.
STRIPE_MAX_AMOUNT = 99_999_999  # 8 digits, in Stripe's units, whatever the currency
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX",
                                     "VND", "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
_STRIPE_MINIMUMS = {  # Stripe's minimum charge amounts, in the currency's major units
    "USD": "0.50", "AED": "2.00", "AUD": "0.50", "BGN": "1.00", "BRL": "0.50", "CAD": "0.50", "CHF": "0.50",
    "CZK": "15.00", "DKK": "2.50", "EUR": "0.50", "GBP": "0.30", "HKD": "4.00", "HUF": "175.00", "INR": "0.50",
    "JPY": "50", "MXN": "10", "MYR": "2", "NOK": "3.00", "NZD": "0.50", "PLN": "2.00", "RON": "2.00", "SEK": "3.00",
    "SGD": "0.50", "THB": "10"}
_USD_RATES = {  # approximate units of the currency per US dollar, for the others' equivalent of USD 0.50
    "BDT": "120", "BHD": "0.376", "CLP": "950", "CNY": "7.2", "EGP": "49", "IDR": "16000", "ILS": "3.7",
    "ISK": "138", "JOD": "0.709", "KES": "129", "KRW": "1380", "KWD": "0.307", "LKR": "300", "NGN": "1500",
    "OMR": "0.385", "PHP": "57", "PKR": "280", "QAR": "3.64", "SAR": "3.75", "TND": "3.1", "TRY": "34",
    "TWD": "32", "UGX": "3700", "VND": "25000", "XAF": "600", "XOF": "600", "ZAR": "18"}


def _currency_rules(code: str) -> tuple[int, int, int]:
    decimals = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    multiple = 100 if code == "ISK" else 10 if decimals == 3 else 1
    major = Decimal(_STRIPE_MINIMUMS[code]) if code in _STRIPE_MINIMUMS else Decimal("0.50") * Decimal(
        _USD_RATES[code])
    units = int((major * 10**decimals).to_integral_value(ROUND_CEILING))
    return decimals, -(-units // multiple) * multiple, multiple


STRIPE_CURRENCY_RULES: dict[str, tuple[int, int, int]] = {
    code: _currency_rules(code) for code in sorted({*_STRIPE_MINIMUMS, *_USD_RATES})}

_patched = False
_SEQUENCE = itertools.count()  # orders objects created within the same second (Stripe lists newest first)
_refund_failure_after: float | None = None  # set by fail_refunds_automatically()
# The API request being served, for the events it causes: Stripe's `request.id` and `request.idempotency_key`.
_REQUEST: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "stripe_request", default=(None, None))


def _patch_localstripe() -> None:
    """Idempotent: localstripe's classes are module state."""
    global _patched
    if _patched:
        return
    _patched = True
    from localstripe import resources as r

    r.store.dump_to_disk = lambda: None  # in memory only
    # Ids from the OS, not the global `random`: a test framework that seeds it (Hypothesis does, per example)
    # would otherwise make localstripe mint the same ids again, as Stripe never does. (Its `random_id` itself is
    # replaced: a test that swaps `resources.random` and puts it back cannot undo this.)
    alphabet = string.ascii_letters + string.digits
    r.random_id = lambda n: "".join(secrets.choice(alphabet) for _ in range(n))

    pi = r.PaymentIntent
    original_init = pi.__init__

    def __init__(self: Any, setup_future_usage: str | None = None, confirmation_method: str | None = None,
                 **kwargs: Any) -> None:
        if setup_future_usage not in (None, "on_session", "off_session"):
            raise r.UserError(400, "Invalid setup_future_usage")
        if confirmation_method not in (None, "automatic", "manual"):
            raise r.UserError(400, "Invalid confirmation_method: must be one of automatic or manual",
                              {"param": "confirmation_method"})
        types = kwargs.get("payment_method_types")
        if types is not None and (not isinstance(types, list) or not types
                                  or not all(t in ("card", "sepa_debit") for t in types)):
            raise r.UserError(400, "Invalid payment_method_types", {"param": "payment_method_types"})
        _check_amount(r, kwargs.get("amount"), kwargs.get("currency"))
        original_init(self, **kwargs)
        self.setup_future_usage = setup_future_usage
        self.confirmation_method = confirmation_method or "automatic"
        self.payment_method_types = list(types or ["card"])

    pi.__init__ = __init__
    pi.amount_received = property(lambda self: self.amount if self.status == "succeeded" else 0)
    pi.last_payment_error = property(_last_payment_error)

    original_on_success = pi._on_success

    def _on_success(self: Any) -> None:
        if getattr(self, "setup_future_usage", None) and self.customer and self.payment_method:
            r.PaymentMethod._api_retrieve(self.payment_method).customer = self.customer  # the card is saved
        original_on_success(self)
        charge = self.latest_charge
        if charge is not None and _card_number(r, charge.payment_method) == CARD_DISPUTED:
            _later(0, dispute._open, charge)  # the network's chargeback comes after the payment, not in its answer

    pi._on_success = _on_success

    original_report_failure = pi._report_failure

    def _report_failure(self: Any) -> None:
        try:
            original_report_failure(self)
        except r.UserError as error:  # Stripe's 402 carries the PaymentIntent and is a card_error
            error.body["error"].update(type="card_error", payment_intent=self._export())
            raise

    pi._report_failure = _report_failure

    original_create = pi._api_create.__func__

    def _api_create(cls: Any, confirm: Any = None, off_session: Any = None, **data: Any) -> Any:
        off = r.try_convert_to_bool(off_session) is True and r.try_convert_to_bool(confirm) is True
        method = r.PaymentMethod._api_retrieve(data["payment_method"]) if off and data.get("payment_method") else None
        if method is None or getattr(method, "_card_number", None) not in ALWAYS_AUTHENTICATE:
            return original_create(cls, confirm=confirm, off_session=off_session, **data)
        intent = original_create(cls, **data)  # Stripe: an off-session charge cannot authenticate
        charge = r.Charge(amount=intent.amount, currency=intent.currency, customer=intent.customer,
                          source=intent.payment_method)
        charge.payment_intent = intent.id
        charge.status, charge.failure_code = "failed", "authentication_required"
        charge.failure_message = "Your card was declined. This transaction requires authentication."
        charge._decline_code = "authentication_required"
        intent.latest_charge = charge
        r.schedule_webhook(r.Event("payment_intent.payment_failed", intent))
        raise r.UserError(402, charge.failure_message, {
            **_card_error(r, charge), "payment_intent": intent._export()})

    pi._api_create = classmethod(_api_create)
    original_error_init = r.UserError.__init__

    def error_init(self: Any, code: int, message: str | None = None, contents: dict[str, Any] | None = None) -> None:
        original_error_init(self, code, message, contents)
        if code == 402:
            self.body["error"]["type"] = "card_error"

    r.UserError.__init__ = error_init

    original_retrieve = r.StripeObject._api_retrieve.__func__

    def _api_retrieve(cls: Any, id: Any) -> Any:
        try:
            return original_retrieve(cls, id)
        except r.UserError as error:
            if error.code == 404 and error.body["error"].get("message") == "Not Found":  # Stripe's words
                raise r.UserError(404, f"No such {cls.object}: '{id}'", {"code": "resource_missing",
                                                                         "param": "id"}) from None
            raise

    r.StripeObject._api_retrieve = classmethod(_api_retrieve)

    _patch_events(r)
    _patch_charges(r)
    _patch_refunds(r)
    dispute = _dispute_class(r)

    from localstripe import server

    server.app.middlewares.insert(0, FAULTS.middleware)  # outermost: a refused request reaches nothing
    server.app.middlewares.insert(1, IDEMPOTENCY.middleware)  # before the app is first frozen
    server.app.middlewares.insert(2, _request_context)  # a replayed response causes no event: inside the replay
    _add_routes(r, server, dispute)
    _serve_stripe_js(r, server)


def _later(delay: float, fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn` on localstripe's loop after the response being built, outside the current request: what Stripe
    does asynchronously is caused by no API request (the events' `request` is null)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)
        return
    loop.call_later(delay, fn, *args, context=contextvars.Context())


def _on_loop[T](fn: Callable[[], T]) -> T:
    """Call `fn` on localstripe's loop (its state belongs to that thread) and wait for it."""
    loop = _loop()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        return fn()

    async def call() -> T:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(30)


def _emit(r: Any, type_: str, obj: Any, previous: dict[str, Any] | None = None) -> None:
    event = r.Event(type_, obj)
    if previous:
        event.data["previous_attributes"] = previous  # Stripe's *.updated events say what changed
    r.schedule_webhook(event)


def _rules(currency: str) -> tuple[int, int, int]:
    """(decimals, minimum, multiple) of a currency, in Stripe's units; one without a USD rate here has no minimum
    beyond its multiple."""
    code = currency.upper()
    if code in STRIPE_CURRENCY_RULES:
        return STRIPE_CURRENCY_RULES[code]
    decimals = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    multiple = 100 if code == "ISK" else 10 if decimals == 3 else 1
    return decimals, multiple, multiple


def _money(amount: int, currency: str) -> str:
    """As Stripe writes an amount in its messages: S$1,000.00, ¥50, 1.010 KWD."""
    decimals = _rules(currency)[0]
    major = f"{Decimal(amount).scaleb(-decimals):,.{decimals}f}"
    symbol = _SYMBOLS.get(currency.lower())
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


def _check_amount(r: Any, amount: Any, currency: Any) -> None:
    """Stripe's amount rules on a charge (https://docs.stripe.com/currencies): at least 1, at most 8 digits, the
    currency's multiple (ISK whole krónur, three-decimal currencies tens) and its minimum charge. What is not an
    integer or a currency is left to localstripe's own checks."""
    amount = r.try_convert_to_int(amount)
    if not isinstance(amount, int) or isinstance(amount, bool) or not isinstance(currency, str) or not currency:
        return
    if amount < 1:
        raise r.UserError(400, "This value must be greater than or equal to 1.",
                          {"param": "amount", "code": "parameter_invalid_integer"})
    if amount > STRIPE_MAX_AMOUNT:
        raise r.UserError(400, f"Amount must be no more than {_money(STRIPE_MAX_AMOUNT, currency)}",
                          {"param": "amount", "code": "amount_too_large"})
    _, minimum, multiple = _rules(currency)
    code = currency.upper()
    if amount % multiple and code == "ISK":
        raise r.UserError(400, "Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts "
                               "must be evenly divisible by 100.",
                          {"param": "amount", "code": "invalid_charge_amount_no_decimal_compatible"})
    if amount % multiple:
        # Stripe documents no code of its own for this; `invalid_charge_amount` is its error code for "the specified
        # amount is invalid" (https://docs.stripe.com/error-codes), the closest there is.
        raise r.UserError(400, f"Invalid amount. Currency {code} is three-decimal and charged amounts must be evenly "
                               f"divisible by {multiple}.", {"param": "amount", "code": "invalid_charge_amount"})
    if amount < minimum:
        raise r.UserError(400, f"Amount must be at least {_money(minimum, currency)} {currency.lower()}",
                          {"param": "amount", "code": "amount_too_small"})


_ADDRESS = ("city", "country", "line1", "line2", "postal_code", "state")


def _billing_details(given: Any) -> dict[str, Any]:
    """A PaymentMethod's (and its Charge's) `billing_details` as Stripe shows them: every field, null when not given."""
    given = given if isinstance(given, dict) else {}
    address = given.get("address") if isinstance(given.get("address"), dict) else {}
    return {"address": {k: address.get(k) for k in _ADDRESS}, "email": given.get("email"),
            "name": given.get("name"), "phone": given.get("phone")}


def _card_error(r: Any, charge: Any) -> dict[str, Any]:
    """What Stripe says of a declined charge, in a 402's `error` and a PaymentIntent's `last_payment_error`."""
    error: dict[str, Any] = {"charge": charge.id, "code": charge.failure_code,
                             "doc_url": f"https://stripe.com/docs/error-codes/{charge.failure_code}",
                             "message": charge.failure_message, "type": "card_error"}
    decline = getattr(charge, "_decline_code", None)
    if decline:
        error["decline_code"] = decline
    try:
        error["payment_method"] = r.PaymentMethod._api_retrieve(charge.payment_method)._export()
    except r.UserError:
        pass
    return error


def _last_payment_error(self: Any) -> dict[str, Any] | None:
    """Stripe's `last_payment_error`: an API error, typed, with the issuer's `decline_code` of a declined card."""
    from localstripe import resources as r

    if self._authentication_failed:
        return {"code": "payment_intent_authentication_failure",
                "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
                "message": "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
                           "or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
                "type": "invalid_request_error"}
    charge = self.latest_charge
    if charge is not None and charge.status == "failed":
        return _card_error(r, charge)
    return None


def _refuse_unknown(r: Any, params: dict[str, Any]) -> None:
    if params:
        name = next(iter(params))
        raise r.UserError(400, f"Received unknown parameter: {name}", {"code": "parameter_unknown", "param": name})


def _card_number(r: Any, method_id: Any) -> str | None:
    if not isinstance(method_id, str):
        return None
    try:
        return getattr(r.PaymentMethod._api_retrieve(method_id), "_card_number", None)
    except r.UserError:
        return None


def _listed(r: Any, url: str, items: Iterable[Any], limit: Any = None, starting_after: Any = None) -> Any:
    """A list object, newest first as Stripe lists (localstripe keeps store order within a second)."""
    listed = r.List(url, limit=limit, starting_after=starting_after)
    listed._list = sorted(items, key=lambda o: (o.created, getattr(o, "_seq", 0)), reverse=True)
    return listed


def _balance_transaction(r: Any, amount: int, currency: str, *, category: str, source: str, type_: str,
                         fee: int = 0, fee_description: str | None = None, description: str | None = None) -> Any:
    """A BalanceTransaction as Stripe shows it; localstripe's constructor knows only charges and refunds."""
    txn = r.BalanceTransaction.__new__(r.BalanceTransaction)
    r.StripeObject.__init__(txn)
    txn.amount, txn.currency, txn.description, txn.source = amount, currency, description, source
    txn.available_on, txn.balance_type, txn.exchange_rate, txn.status = txn.created, "payments", None, "available"
    txn.fee, txn.reporting_category, txn.type = fee, category, type_
    txn.fee_details = [{"amount": fee, "application": None, "currency": currency, "description": fee_description,
                        "type": "stripe_fee"}] if fee else []
    return txn  # `net` is localstripe's property: amount - fee


def _patch_events(r: Any) -> None:
    """Events as Stripe POSTs them: in the endpoint's API version (the SDK's), with `pending_webhooks` and the
    `request` that caused them; every one goes through WEBHOOKS (recorded, held or dropped)."""
    import stripe
    from localstripe import webhooks

    original_init = r.Event.__init__

    def __init__(self: Any, type: str, data: Any) -> None:
        original_init(self, type, data)
        self.api_version = stripe.api_version  # localstripe says 2017-08-15
        self.pending_webhooks = sum(hook.events is None or type in hook.events for hook in webhooks._webhooks.values())
        request_id, key = _REQUEST.get()
        self.request = {"id": request_id, "idempotency_key": key}

    r.Event.__init__ = __init__
    WEBHOOKS._deliver_later = r.schedule_webhook
    r.schedule_webhook = WEBHOOKS._schedule  # resources.py calls it by its module-global name


def _patch_charges(r: Any) -> None:
    """The Charge's refund totals count only refunds that did not fail (a failed refund gives the money back);
    `amount_captured` and `disputed` as Stripe shows them; `refunds` only when expanded (API 2022-11-15)."""
    charge = r.Charge
    charge.refunds = property(lambda self: _listed(r, f"/v1/charges/{self.id}/refunds", getattr(self, "_refunds", [])))
    charge.amount_refunded = property(lambda self: sum(
        x.amount for x in getattr(self, "_refunds", []) if x.status not in ("failed", "canceled")))
    charge.amount_captured = property(lambda self: self.amount if self.captured and self.status == "succeeded" else 0)
    charge.disputed = property(lambda self: getattr(self, "_dispute", None) is not None)

    def billing_details(self: Any) -> dict[str, Any]:
        try:
            method = r.PaymentMethod._api_retrieve(self.payment_method)
        except r.UserError:
            return _billing_details(None)
        return _billing_details(getattr(method, "billing_details", None))

    charge.billing_details = property(billing_details)

    def _set_auth_failure(self: Any) -> None:  # the declined test card's own reason (localstripe: always the same)
        code, decline, message = DECLINED_CARDS.get(_card_number(r, self.payment_method) or "",
                                                    ("card_declined", "generic_decline", "Your card was declined."))
        self.status, self.failure_code, self.failure_message, self._decline_code = "failed", code, message, decline

    charge._set_auth_failure = _set_auth_failure

    def _raise_failure(self: Any) -> None:
        raise r.UserError(402, self.failure_message, _card_error(r, self))

    charge._raise_failure = _raise_failure

    original_declined = r.PaymentMethod._charging_is_declined

    def _charging_is_declined(self: Any) -> bool:
        return bool(original_declined(self)) or getattr(self, "_card_number", None) in DECLINED_CARDS

    r.PaymentMethod._charging_is_declined = _charging_is_declined

    original_method_init = r.PaymentMethod.__init__

    def method_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_method_init(self, *args, **kwargs)
        self.billing_details = _billing_details(self.billing_details)

    r.PaymentMethod.__init__ = method_init

    original_list = charge._api_list_all.__func__

    def _api_list_all(cls: Any, url: str, payment_intent: Any = None, **kwargs: Any) -> Any:
        _refuse_unknown(r, {k: v for k, v in kwargs.items() if k not in ("customer", "created", "limit",
                                                                           "starting_after")})
        if payment_intent is not None and not isinstance(payment_intent, str):
            raise r.UserError(400, "Invalid payment_intent", {"param": "payment_intent"})
        listed = original_list(cls, url, **kwargs)
        return _listed(r, url, (c for c in listed._list if payment_intent in (None, c.payment_intent)),
                       kwargs.get("limit"), kwargs.get("starting_after"))

    charge._api_list_all = classmethod(_api_list_all)

    def _intents_listed(cls: Any, url: str, customer: Any = None, created: Any = None, limit: Any = None,
                        starting_after: Any = None, **kwargs: Any) -> Any:
        """`GET /v1/payment_intents?customer=&created[gte|gt|lte|lt]=` as Stripe lists them, newest first
        (localstripe took no filter)."""
        _refuse_unknown(r, kwargs)
        bounds = created if isinstance(created, dict) else {} if created is None else {"eq": created}
        try:
            limits = {op: int(value) for op, value in bounds.items()}
        except (TypeError, ValueError):
            raise r.UserError(400, "Invalid integer: created", {"param": "created"}) from None
        if set(limits) - {"gte", "gt", "lte", "lt", "eq"}:
            raise r.UserError(400, "Invalid created", {"param": "created"})
        tests = {"gte": lambda c, v: c >= v, "gt": lambda c, v: c > v, "lte": lambda c, v: c <= v,
                 "lt": lambda c, v: c < v, "eq": lambda c, v: c == v}
        found = [i for k, i in r.store.items() if k.startswith("payment_intent:")
                 and customer in (None, i.customer) and all(tests[op](i.created, v) for op, v in limits.items())]
        return _listed(r, url, found, limit, starting_after)

    r.PaymentIntent._api_list_all = classmethod(_intents_listed)

    original_export = r.StripeObject._export

    def _export(self: Any, expand: Any = None) -> dict[str, Any]:
        paths = expand if isinstance(expand, list) else []
        lists = [p for p in paths if isinstance(p, str) and p.rsplit(".", 1)[-1] == "refunds"]
        rest = [p for p in paths if p not in lists] + [p.rsplit(".", 1)[0] for p in lists if "." in p]
        obj: dict[str, Any] = original_export(self, rest if isinstance(expand, list) else expand)
        if isinstance(self, r.Charge):
            obj.pop("refunds", None)
        for path in lists:  # `expand[]=refunds`, `expand[]=latest_charge.refunds`, ...
            _expand_refunds(r, obj, path.split(".")[:-1])
        return obj

    r.StripeObject._export = _export


def _expand_refunds(r: Any, node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _expand_refunds(r, item, path)
    elif isinstance(node, dict) and path:
        if path[0] not in node:
            raise r.UserError(400, f"Bad expand '{path[0]}'")
        _expand_refunds(r, node[path[0]], path[1:])
    elif isinstance(node, dict):
        if node.get("object") != "charge":
            raise r.UserError(400, "Bad expand 'refunds'")
        node["refunds"] = r.Charge._api_retrieve(node["id"]).refunds._export()


def _refunded_charge(r: Any, charge: Any, payment_intent: Any) -> Any:
    if charge is None and payment_intent is None:
        raise r.UserError(400, "Expected charge or payment_intent")
    if charge is not None and payment_intent is not None:
        raise r.UserError(400, "Bad request")
    if payment_intent is not None:
        if not isinstance(payment_intent, str):
            raise r.UserError(400, "Bad request")
        intent = r.PaymentIntent._api_retrieve(payment_intent)
        if intent.latest_charge is None:  # localstripe would fail on None (a 500)
            raise r.UserError(400, f"PaymentIntent {payment_intent} does not have a successful charge to refund.")
        return intent.latest_charge
    if not isinstance(charge, str):
        raise r.UserError(400, "Bad request")
    return r.Charge._api_retrieve(charge)


def _patch_refunds(r: Any) -> None:
    """Refunds as Stripe makes them: `reason`, both `charge` and `payment_intent`, never beyond what is left of the
    charge nor on a charged-back one, Stripe's events, and the test card whose refunds fail later."""
    refund = r.Refund
    original_init = refund.__init__

    def __init__(self: Any, charge: Any = None, payment_intent: Any = None, amount: Any = None, metadata: Any = None,
                 reason: Any = None, **kwargs: Any) -> None:
        if kwargs:
            raise r.UserError(400, "Unexpected " + ", ".join(kwargs))
        if reason is not None and reason not in REFUND_REASONS:
            raise r.UserError(400, "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                              {"param": "reason"})
        amount = r.try_convert_to_int(amount)
        if isinstance(amount, int) and amount < 1:
            raise r.UserError(400, "This value must be greater than or equal to 1.",
                              {"param": "amount", "code": "parameter_invalid_integer"})
        target = _refunded_charge(r, charge, payment_intent)
        dispute = getattr(target, "_dispute", None)
        if dispute is not None and dispute.status != "won":
            raise r.UserError(400, f"Charge {target.id} has been charged back; cannot issue a refund.",
                              {"code": "charge_disputed"})
        before, was_refunded = target.amount_refunded, target.refunded
        left = target.amount - before
        if left <= 0:
            raise r.UserError(400, f"Charge {target.id} has already been refunded.",
                              {"code": "charge_already_refunded"})
        if isinstance(amount, int) and amount > left:
            raise r.UserError(400, f"Refund amount ({_money(amount, target.currency)}) is greater than unrefunded "
                                   f"amount on charge ({_money(left, target.currency)})", {"param": "amount"})
        original_init(self, charge=charge, payment_intent=payment_intent, amount=left if amount is None else amount,
                      metadata=metadata)
        del self.date  # not a Refund field (localstripe sorted by it)
        self.payment_intent = target.payment_intent  # localstripe leaves it null when created with `charge`
        self.reason = reason  # `failure_reason` and `failure_balance_transaction` only once failed, as Stripe
        self.receipt_number = self.source_transfer_reversal = self.transfer_reversal = None
        self._seq = next(_SEQUENCE)
        target._refunds = [*getattr(target, "_refunds", []), self]
        _emit(r, "refund.created", self)
        previous: dict[str, Any] = {"amount_refunded": before}
        if target.refunded != was_refunded:
            previous["refunded"] = was_refunded
        _emit(r, "charge.refunded", target, previous)
        if _refund_failure_after is not None and _card_number(r, target.payment_method) == CARD_REFUND_FAILS:
            _later(_refund_failure_after, _fail_quietly, r, self.id)

    refund.__init__ = __init__

    def _api_retrieve(cls: Any, id: Any) -> Any:
        found = r.store.get(f"refund:{id}")
        if found is None:
            raise r.UserError(404, f"No such refund: '{id}'", {"code": "resource_missing", "param": "id"})
        return found

    refund._api_retrieve = classmethod(_api_retrieve)

    def _api_list_all(cls: Any, url: str, charge: Any = None, payment_intent: Any = None, limit: Any = None,
                      starting_after: Any = None, **kwargs: Any) -> Any:
        _refuse_unknown(r, kwargs)
        if charge is not None:
            r.Charge._api_retrieve(charge)  # Stripe: a charge that does not exist is an error
        if payment_intent is not None:
            r.PaymentIntent._api_retrieve(payment_intent)
        return _listed(r, url, (x for key, x in list(r.store.items()) if key.startswith("refund:")
                                and charge in (None, x.charge) and payment_intent in (None, x.payment_intent)),
                       limit, starting_after)

    refund._api_list_all = classmethod(_api_list_all)


def _fail(r: Any, refund_id: str, failure_reason: str) -> Any:
    """Stripe's asynchronous refund failure: `succeeded` becomes `failed`, the money comes back to the balance
    (`failure_balance_transaction`), the charge's `amount_refunded` goes down, and Stripe says so."""
    if failure_reason not in REFUND_FAILURE_REASONS:
        raise r.UserError(400, f"Invalid failure_reason: must be one of {', '.join(REFUND_FAILURE_REASONS)}")
    refund = r.Refund._api_retrieve(refund_id)
    charge = r.Charge._api_retrieve(refund.charge)
    if _card_number(r, charge.payment_method) != CARD_REFUND_FAILS:
        raise r.UserError(400, f"Refund {refund_id} cannot fail: Stripe fails only the refunds of the test card "
                               f"{CARD_REFUND_FAILS}")
    if refund.status != "succeeded":
        raise r.UserError(400, f"Refund {refund_id} is {refund.status}: only a succeeded refund fails")
    previous = {"failure_balance_transaction": None, "failure_reason": None, "status": refund.status}
    txn = _balance_transaction(r, refund.amount, refund.currency, category="refund_failure", type_="refund_failure",
                               source=refund.id, description="REFUND FAILURE")
    refund.status, refund.failure_reason, refund.failure_balance_transaction = "failed", failure_reason, txn.id
    _emit(r, "refund.failed", refund)
    _emit(r, "charge.refund.updated", refund, previous)
    return refund


def _fail_quietly(r: Any, refund_id: str) -> None:
    try:
        _fail(r, refund_id, "expired_or_canceled_card")
    except r.UserError:
        pass  # failed by hand already


def fail_refund(refund_id: str, failure_reason: str = "expired_or_canceled_card") -> dict[str, Any]:
    """Make a refund of the test card 4000000000005126 fail now (as Stripe does some time after answering it
    `succeeded`); returns the Refund. ValueError when Stripe would not fail it."""
    _patch_localstripe()
    from localstripe import resources as r

    def fail() -> dict[str, Any]:
        try:
            exported: dict[str, Any] = _fail(r, refund_id, failure_reason)._export()
        except r.UserError as error:
            raise ValueError(error.body["error"].get("message")) from None
        return exported

    return _on_loop(fail)


def fail_refunds_automatically(after: float | None = 0.5) -> None:
    """Every refund of the test card 4000000000005126 fails `after` seconds after it is made, as in Stripe's test
    mode; None (the default state) leaves them `succeeded` until fail_refund()."""
    global _refund_failure_after
    _refund_failure_after = after


def _dispute_class(r: Any) -> Any:
    class Dispute(r.StripeObject):
        """Stripe's Dispute (`du_`): opened by the card network (here: the test card 4000000000000259), never by
        the API; answered with evidence (`POST /v1/disputes/{id}`) or accepted (`/close`)."""

        object = "dispute"
        _id_prefix = "du_"

        def __init__(self, charge: Any, reason: str = "fraudulent") -> None:
            super().__init__()
            self.amount, self.currency, self.charge = charge.amount, charge.currency, charge.id
            self.payment_intent, self.reason, self.status = charge.payment_intent, reason, "needs_response"
            self.is_charge_refundable = False  # a chargeback took the money already (only inquiries are refundable)
            self.metadata: dict[str, str] = {}
            self.evidence: dict[str, str | None] = dict.fromkeys(DISPUTE_EVIDENCE)
            due_by = (self.created // 86400 + 20) * 86400 - 1  # Stripe: the end of a day some weeks ahead
            self.evidence_details = {"due_by": due_by, "has_evidence": False, "past_due": False,
                                     "submission_count": 0}
            self.balance_transactions = [_balance_transaction(
                r, -self.amount, self.currency, category="dispute", type_="adjustment", source=self.id,
                fee=DISPUTE_FEE, fee_description="Dispute fee", description=f"Chargeback withdrawal for {charge.id}")]
            self._seq = next(_SEQUENCE)

        @classmethod
        def _open(cls, charge: Any) -> None:
            dispute = cls(charge)
            charge._dispute = dispute
            _emit(r, "charge.dispute.created", dispute)
            _emit(r, "charge.dispute.funds_withdrawn", dispute)  # the amount and the fee leave the balance at once

        @classmethod
        def _api_retrieve(cls, id: Any) -> Any:
            found = r.store.get(f"dispute:{id}")
            if found is None:
                raise r.UserError(404, f"No such dispute: '{id}'", {"code": "resource_missing", "param": "dispute"})
            return found

        @classmethod
        def _api_list_all(cls, url: str, charge: Any = None, payment_intent: Any = None, limit: Any = None,
                          starting_after: Any = None, **kwargs: Any) -> Any:
            _refuse_unknown(r, kwargs)
            return _listed(r, url, (d for key, d in list(r.store.items()) if key.startswith("dispute:")
                                    and charge in (None, d.charge) and payment_intent in (None, d.payment_intent)),
                           limit, starting_after)

        @classmethod
        def _api_update(cls, id: Any, evidence: Any = None, metadata: Any = None, submit: Any = None,
                        **kwargs: Any) -> Any:
            _refuse_unknown(r, kwargs)
            dispute = cls._api_retrieve(id)
            submit = True if submit is None else r.try_convert_to_bool(submit)  # Stripe submits unless told not to
            if not isinstance(evidence or {}, dict) or not isinstance(metadata or {}, dict) or type(submit) is not bool:
                raise r.UserError(400, "Bad request")
            unknown = sorted(set(evidence or {}) - set(DISPUTE_EVIDENCE))
            if unknown:
                raise r.UserError(400, f"Received unknown parameter: evidence[{unknown[0]}]",
                                  {"code": "parameter_unknown", "param": f"evidence[{unknown[0]}]"})
            if evidence and dispute.status not in _OPEN_DISPUTE:
                raise r.UserError(400, f"Dispute {dispute.id} is {dispute.status}: its evidence can no longer be "
                                       "changed.")
            previous: dict[str, Any] = {}
            if metadata:
                previous["metadata"] = dict(dispute.metadata)
                dispute.metadata.update(metadata)
                dispute.metadata = {k: v for k, v in dispute.metadata.items() if v != ""}  # "" unsets, as Stripe
            if evidence:
                previous["evidence"] = {k: dispute.evidence[k] for k in evidence if dispute.evidence[k] != evidence[k]}
                previous["evidence_details"] = dict(dispute.evidence_details)
                dispute.evidence.update(evidence)
                dispute.evidence_details["has_evidence"] = True
                if submit:
                    previous["status"] = dispute.status
                    dispute.evidence_details["submission_count"] += 1
                    dispute.status = dispute.status.replace("needs_response", "under_review")
            _emit(r, "charge.dispute.updated", dispute, previous)
            outcome = TEST_EVIDENCE.get(dispute.evidence["uncategorized_text"] or "")
            if evidence and submit and outcome:  # Stripe's test mode decides on these values
                dispute._close(outcome)
            return dispute

        def _close(self, status: str) -> None:
            self.status = status
            if status == "won":  # the amount and the fee come back
                self.balance_transactions = [*self.balance_transactions, _balance_transaction(
                    r, self.amount, self.currency, category="dispute_reversal", type_="adjustment", source=self.id,
                    fee=-DISPUTE_FEE, fee_description="Dispute fee", description=f"Chargeback reversal for "
                                                                                   f"{self.charge}")]
                _emit(r, "charge.dispute.funds_reinstated", self)
            _emit(r, "charge.dispute.closed", self)

        @classmethod
        def _api_close(cls, id: Any, **kwargs: Any) -> Any:
            _refuse_unknown(r, kwargs)
            dispute = cls._api_retrieve(id)
            if dispute.status not in _OPEN_DISPUTE:
                raise r.UserError(400, f"Dispute {dispute.id} is {dispute.status}: it cannot be closed.")
            dispute._close(dispute.status.replace("needs_response", "closed") if dispute.status.startswith("warning")
                           else "lost")  # accepting it: Stripe's answer is a lost dispute
            return dispute

    return Dispute


@web.middleware
async def _request_context(request: web.Request, handler: Any) -> web.StreamResponse:
    """Stripe's events name the API request that caused them, and its response carries the same `Request-Id`."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    request_id = "req_" + secrets.token_hex(7)
    token = _REQUEST.set((request_id, request.headers.get("Idempotency-Key")))
    try:
        response: web.StreamResponse = await handler(request)
    finally:
        _REQUEST.reset(token)
    response.headers["Request-Id"] = request_id
    return response


def _types(data: dict[str, Any]) -> list[str]:
    value = data.get("types", data.get("type"))
    if isinstance(value, str):
        return [t for t in value.split(",") if t]
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def _add_routes(r: Any, server: Any, dispute: Any) -> None:
    """Stripe's dispute routes, and the local controls, registered as server.py registers its own before the app
    is frozen. aiohttp (>= 3.10) matches the most explicit path first: `/_config/webhooks/hold` is not localstripe's
    `/_config/webhooks/{id}` (which registers an endpoint)."""

    def control(action: Callable[[dict[str, Any], web.Request], Awaitable[Any]]) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            data = dict(server.unflatten_data(request.query) or {})
            if request.method == "POST":
                data.update(await server.get_post_data(request) or {})
            return server.json_response(await action(data, request))
        return handle

    async def hold(data: dict[str, Any], _: web.Request) -> Any:
        WEBHOOKS.hold(*_types(data))
        return WEBHOOKS.state()

    async def drop(data: dict[str, Any], _: web.Request) -> Any:
        WEBHOOKS.drop(*_types(data))
        return WEBHOOKS.state()

    async def release(data: dict[str, Any], _: web.Request) -> Any:
        try:
            events = WEBHOOKS._take(data.get("event_id"))
        except LookupError:
            raise r.UserError(404, f"No held event: '{data.get('event_id')}'") from None
        return {"released": await WEBHOOKS._deliver(events), **WEBHOOKS.state()}  # answered once delivered

    async def discard(data: dict[str, Any], _: web.Request) -> Any:
        try:
            return {"discarded": WEBHOOKS.discard(data.get("event_id")), **WEBHOOKS.state()}
        except LookupError:
            raise r.UserError(404, f"No held event: '{data.get('event_id')}'") from None

    async def reset(data: dict[str, Any], _: web.Request) -> Any:
        WEBHOOKS.reset()
        return WEBHOOKS.state()

    async def state(data: dict[str, Any], _: web.Request) -> Any:
        return {**WEBHOOKS.state(), "held_events": WEBHOOKS.held()}

    async def events(data: dict[str, Any], _: web.Request) -> Any:
        since = data.get("since")
        since = int(since) if isinstance(since, str) and since.isdigit() else since
        try:
            found = WEBHOOKS.events(_types(data) or None, since, data.get("payment_intent"))
        except LookupError:
            raise r.UserError(404, f"No such event: '{since}'") from None
        return {"object": "list", "data": found}

    async def fail(data: dict[str, Any], request: web.Request) -> Any:
        return _fail(r, request.match_info["id"], data.get("failure_reason", "expired_or_canceled_card"))._export()

    async def automatic(data: dict[str, Any], _: web.Request) -> Any:
        after = data.get("after")
        fail_refunds_automatically(float(str(after)) if after not in (None, "", "off") else None)
        return {"after": _refund_failure_after}

    def fault(action: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any], web.Request], Awaitable[Any]]:
        async def handle(data: dict[str, Any], _: web.Request) -> Any:
            try:
                action(data)
            except (TypeError, ValueError) as error:
                raise r.UserError(400, str(error)) from None
            return FAULTS.state()
        return handle

    def option(data: dict[str, Any], name: str, default: Any) -> Any:
        value = data.get(name)
        return default if value in (None, "") else value

    async def faults(data: dict[str, Any], _: web.Request) -> Any:
        return FAULTS.state()

    delay = fault(lambda d: FAULTS.delay(option(d, "seconds", 0), option(d, "path_prefix", "/v1/")))
    fail_ = fault(lambda d: FAULTS.fail(option(d, "status", 500), option(d, "times", 1),
                                        option(d, "path_prefix", "/v1/"), option(d, "method", None)))
    drop_ = fault(lambda d: FAULTS.drop(option(d, "times", 1), option(d, "path_prefix", "/v1/"),
                                        option(d, "method", None), option(d, "hold", 0)))
    clear = fault(lambda d: FAULTS.reset())

    router = server.app.router
    for method, path, handler in (
            ("GET", "/_config/faults", control(faults)),
            ("POST", "/_config/faults/delay", control(delay)),
            ("POST", "/_config/faults/fail", control(fail_)),
            ("POST", "/_config/faults/drop", control(drop_)),
            ("POST", "/_config/faults/reset", control(clear)),
            ("GET", "/v1/disputes", server.api_list_all(dispute, "/v1/disputes")),
            ("GET", "/v1/disputes/{id}", server.api_retrieve(dispute, "/v1/disputes/{id}")),
            ("POST", "/v1/disputes/{id}", server.api_update(dispute, "/v1/disputes/{id}")),
            ("POST", "/v1/disputes/{id}/close", server.api_extra(dispute._api_close, "/v1/disputes/{id}/close")),
            ("GET", "/_config/webhooks", control(state)),
            ("POST", "/_config/webhooks/hold", control(hold)),
            ("POST", "/_config/webhooks/release", control(release)),
            ("POST", "/_config/webhooks/drop", control(drop)),
            ("POST", "/_config/webhooks/discard", control(discard)),
            ("POST", "/_config/webhooks/reset", control(reset)),
            ("GET", "/_config/events", control(events)),
            ("POST", "/_config/refunds/fail_automatically", control(automatic)),
            ("POST", "/_config/refunds/{id}/fail", control(fail))):
        router.add_route(method, path, handler)


# Stripe.js against the local Stripe: the stand-in script, and what Stripe lets a publishable key do.
STRIPE_JS = Path(__file__).with_name("stripe_js") / "confirm-card-payment.js"
_NO_KEY = ("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer "
           "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
           "details, or we can help at https://support.stripe.com/.")
_SECRET_KEY_ONLY = ("This API call cannot be made with a publishable API key. Please use a secret API key. You can "
                    "find a list of your API keys at https://dashboard.stripe.com/account/apikeys.")
_WRONG_CLIENT_SECRET = "The client_secret provided does not match the client_secret associated with the PaymentIntent."
# What Stripe.js may do with the publishable key: make the card a PaymentMethod, confirm a PaymentIntent whose
# client_secret it holds, and (localstripe's own stand-in for Stripe's 3-D Secure page) answer its authentication,
# where localstripe checks the client_secret itself.
_PUBLISHABLE_CALLS = re.compile(
    r"^/v1/payment_methods$|^/v1/payment_intents/(?P<intent>[^/]+)/(?P<action>confirm|_authenticate)$")
_CONFIRM = re.compile(r"^/v1/payment_intents/[^/]+/confirm$")
_CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _header_key(request: web.Request) -> str | None:
    """The API key of the Authorization header (Bearer, or Basic with the key as user name), if any."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0] or None
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _serve_stripe_js(r: Any, server: Any) -> None:
    """Stripe.js's two calls as Stripe takes them (localstripe took neither with a publishable key, and refused a
    `payment_method` or `client_secret` on confirm), and the stand-in script that makes them.

    localstripe's `auth_middleware` is replaced by `authenticate`: a secret key (`sk_...`) may call anything; a
    publishable key (`pk_...`, as Stripe.js sends it: `key` in the POST data, or in the Authorization header) only
    `POST /v1/payment_methods`, `POST /v1/payment_intents/{id}/confirm` with that PaymentIntent's `client_secret`
    (none: 401 as any call a publishable key may not make; another: 400 `payment_intent_invalid_parameter`), and
    localstripe's `POST /v1/payment_intents/{id}/_authenticate` (3-D Secure; it checks the client_secret). Anything
    else is 401 in Stripe's words. `/js.stripe.com/` and `/_config/` need no key, as before.

    `routes` answers two of localstripe's routes itself: `GET /js.stripe.com/v3/` is localstripe's script followed by
    local/stripe_js/confirm-card-payment.js (its confirmCardPayment completed as Stripe.js does it), and
    `POST /v1/payment_intents/{id}/confirm` also takes `client_secret` (checked whatever the key) and
    `payment_method` (set on the PaymentIntent, which may then be confirmed again after a declined card)."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(("/js.stripe.com/", "/_config/")):
            return await handler(request)
        header = _header_key(request)
        if header is not None and header.startswith("sk_") and len(header) > 5:
            return await handler(request)
        data = (await server.get_post_data(request, remove_auth=False) or {}) if request.method == "POST" else {}
        posted = data.get("key")
        publishable = header if header is not None and header.startswith("pk_") else (
            posted if header is None and isinstance(posted, str) and posted.startswith("pk_") else None)
        if publishable is None or len(publishable) <= 5:
            if header is not None:
                raise r.UserError(401, f"Invalid API Key provided: {header[:8]}****{header[-4:]}")
            raise r.UserError(401, _NO_KEY)
        call = _PUBLISHABLE_CALLS.match(request.path) if request.method == "POST" else None
        if call is None:
            raise r.UserError(401, _SECRET_KEY_ONLY)
        if call["action"] == "confirm":
            given = data.get("client_secret")
            if not isinstance(given, str) or not given:
                raise r.UserError(401, _SECRET_KEY_ONLY)
            intent = r.PaymentIntent._api_retrieve(call["intent"])  # 404 resource_missing first, as Stripe
            if not hmac.compare_digest(given.encode(), intent.client_secret.encode()):
                raise r.UserError(400, _WRONG_CLIENT_SECRET, {"code": "payment_intent_invalid_parameter",
                                                              "param": "client_secret"})
        return await handler(request)

    def confirm(id: Any, client_secret: Any = None, payment_method: Any = None, **kwargs: Any) -> Any:
        intent = r.PaymentIntent._api_retrieve(id)
        if client_secret is not None and (not isinstance(client_secret, str) or not hmac.compare_digest(
                client_secret.encode(), intent.client_secret.encode())):
            raise r.UserError(400, _WRONG_CLIENT_SECRET, {"code": "payment_intent_invalid_parameter",
                                                          "param": "client_secret"})
        if payment_method is not None:
            if not isinstance(payment_method, str) or not payment_method:
                raise r.UserError(400, "Invalid string: payment_method", {"param": "payment_method"})
            r.PaymentMethod._api_retrieve(payment_method)  # 404 resource_missing
            if intent.status not in _CONFIRMABLE:
                raise r.UserError(400, f"You cannot confirm this PaymentIntent because it has a status of "
                                       f"{intent.status}. Only a PaymentIntent with one of the following statuses may "
                                       f"be confirmed: {', '.join(sorted(_CONFIRMABLE))}.",
                                  {"code": "payment_intent_unexpected_state"})
            # the new card replaces the one declined or not authenticated: a new attempt, as at Stripe
            intent.payment_method, intent.latest_charge, intent.next_action = payment_method, None, None
            intent._authentication_failed = False
        return r.PaymentIntent._api_confirm(id, **kwargs)  # localstripe's own confirmation

    confirm_route = server.api_extra(confirm, "/v1/payment_intents/{id}/confirm")
    localstripe_js = Path(server.__file__).with_name("localstripe-v3.js")

    @web.middleware
    async def routes(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "GET" and request.path == "/js.stripe.com/v3/":
            script = localstripe_js.read_text(encoding="utf-8") + "\n" + STRIPE_JS.read_text(encoding="utf-8")
            return web.Response(text=script, content_type="application/javascript")
        if request.method == "POST" and _CONFIRM.match(request.path):
            response: web.StreamResponse = await confirm_route(request)
            return response
        return await handler(request)

    middlewares = server.app.middlewares
    at = middlewares.index(server.auth_middleware)
    middlewares[at] = authenticate  # inside localstripe's error_middleware: a refusal is Stripe's error body
    middlewares.insert(at + 1, routes)


class _Webhooks:
    """Every event localstripe schedules, recorded in order as the envelope Stripe POSTs, and its delivery held
    back, dropped or let through (one signed POST per endpoint, 1 s later, as localstripe delivers).

    Holding and dropping last until reset(); release() delivers what is held now (all, or one: in any order),
    discard() forgets it. A type both held and dropped is dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recorded: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}
        self._held: list[Any] = []  # localstripe's Event objects
        self._hold: set[str] = set()
        self._drop: set[str] = set()
        self._hold_all = self._drop_all = False
        self._deliver_later: Callable[[Any], None] | None = None  # localstripe's schedule_webhook
        self._sending: set[asyncio.Future[Any]] = set()

    def _schedule(self, event: Any) -> None:
        envelope = json.loads(json.dumps(event._export()))
        with self._lock:
            self._recorded.append(envelope)
            self._by_id[envelope["id"]] = envelope
            if self._drop_all or event.type in self._drop:
                return
            if self._hold_all or event.type in self._hold:
                self._held.append(event)
                return
        assert self._deliver_later is not None
        self._deliver_later(event)

    def events(self, types: str | Iterable[str] | None = None, since: str | int | None = None,
               payment_intent: str | None = None) -> list[dict[str, Any]]:
        """The recorded envelopes, oldest first: of these `types`, after the event `since` (an id) or created at
        or after it (a timestamp), about this `payment_intent` (the object's `payment_intent`, or its `id`)."""
        wanted = {types} if isinstance(types, str) else None if types is None else set(types)
        with self._lock:
            recorded = list(self._recorded)
        if isinstance(since, str):
            ids = [e["id"] for e in recorded]
            if since not in ids:
                raise LookupError(since)
            recorded = recorded[ids.index(since) + 1:]
        elif since is not None:
            recorded = [e for e in recorded if e["created"] >= since]
        return [copy.deepcopy(e) for e in recorded if (wanted is None or e["type"] in wanted)
                and (payment_intent is None or _payment_intent_of(e) == payment_intent)]

    def hold(self, *types: str) -> None:
        """Keep events of these types (all when none) from being delivered until released."""
        with self._lock:
            self._hold.update(types)
            self._hold_all = self._hold_all or not types

    def drop(self, *types: str) -> None:
        """Never deliver events of these types (all when none), those held included: they stay recorded."""
        with self._lock:
            self._drop.update(types)
            self._drop_all = self._drop_all or not types
            self._held = [e for e in self._held if not (self._drop_all or e.type in self._drop)]

    def held(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(self._by_id[e.id]) for e in self._held]

    def _take(self, event_id: str | None) -> list[Any]:
        with self._lock:
            taken = [e for e in self._held if event_id is None or e.id == event_id]
            if event_id is not None and not taken:
                raise LookupError(event_id)
            self._held = [e for e in self._held if e not in taken]
        return taken

    def release(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """Deliver the held events (all, oldest first, or the one `event_id`) now, and return the deliveries
        (`event`, `type`, `url`, `status`: None when the endpoint did not answer). From localstripe's own thread
        it cannot wait: the deliveries are then under way and [] is returned."""
        events = self._take(event_id)
        try:
            on_loop = asyncio.get_running_loop() is _LOOP
        except RuntimeError:
            on_loop = False
        if on_loop:
            task = asyncio.ensure_future(self._deliver(events))
            self._sending.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._sending.discard)
            return []
        return asyncio.run_coroutine_threadsafe(self._deliver(events), _loop()).result(60)

    def discard(self, event_id: str | None = None) -> list[str]:
        """Forget the held events (all, or one) without delivering them; returns their ids."""
        return [e.id for e in self._take(event_id)]

    def reset(self) -> None:
        """Back to delivering every event; what is held is discarded (the record stays)."""
        with self._lock:
            self._hold, self._drop, self._held = set(), set(), []
            self._hold_all = self._drop_all = False

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"holding": "all" if self._hold_all else sorted(self._hold),
                    "dropping": "all" if self._drop_all else sorted(self._drop),
                    "held": [e.id for e in self._held]}

    async def _deliver(self, events: list[Any]) -> list[dict[str, Any]]:
        """One POST per endpoint and event, one after another in the order given, as localstripe posts them, but
        signed when sent (as Stripe signs each attempt): a held event's creation time may be older than the
        5 minutes a receiver accepts."""
        from localstripe.webhooks import _webhooks

        deliveries: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as session:
            for event in events:
                payload = json.dumps(event._export(), indent=2, sort_keys=True).encode("utf-8")
                for hook in list(_webhooks.values()):
                    if hook.events is not None and event.type not in hook.events:
                        continue
                    at = int(time.time())
                    signature = hmac.new(hook.secret.encode("utf-8"), b"%d.%s" % (at, payload),
                                         hashlib.sha256).hexdigest()
                    headers = {"Content-Type": "application/json; charset=utf-8",
                               "Stripe-Signature": f"t={at},v1={signature}"}
                    status: int | None = None
                    try:
                        async with session.post(hook.url, data=payload, headers=headers) as response:
                            status = response.status
                    except aiohttp.ClientError:
                        pass
                    deliveries.append({"event": event.id, "type": event.type, "url": hook.url, "status": status})
        return deliveries


def _payment_intent_of(envelope: dict[str, Any]) -> str | None:
    obj = envelope.get("data", {}).get("object", {})
    found = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
    return found if isinstance(found, str) else None


WEBHOOKS = _Webhooks()


@dataclass
class _Remembered:
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes
    content_type: str
    at: float = field(default_factory=time.time)


KEY_LIFETIME_S = 24 * 3600  # Stripe: "keys are eligible to be removed ... after they're at least 24 hours old"


@dataclass
class _Idempotency:
    """Stripe's idempotent requests: the first response of a key is replayed, for 24 hours; after that the key is
    forgotten and the same request is performed again. `advance(seconds)` ages every remembered key, as if that
    much time had passed (for the tests of what a service resends after a day)."""

    seen: dict[tuple[str, str], _Remembered] = field(default_factory=dict)

    def advance(self, seconds: float) -> None:
        for remembered in self.seen.values():
            remembered.at -= seconds

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or request.path.startswith("/_config"):
            return await handler(request)
        body = await request.read()
        scope = (request.headers.get("Authorization", ""), key)
        fingerprint = (request.method, request.path, body)
        seen = self.seen.get(scope)
        if seen is not None and time.time() - seen.at >= KEY_LIFETIME_S:
            del self.seen[scope]
            seen = None
        if seen is not None:
            if seen.fingerprint != fingerprint:
                error = {"error": {"type": "idempotency_error", "message": (
                    "Keys for idempotent requests can only be used with the same parameters they were first "
                    f"used with. Try using a key other than '{key}' if you meant to execute a different request.")}}
                return web.json_response(error, status=400)
            return web.Response(status=seen.status, body=seen.body, content_type=seen.content_type,
                                headers={"Idempotent-Replayed": "true"})
        response = await handler(request)
        if isinstance(response, web.Response) and response.status < 500:
            self.seen[scope] = _Remembered(fingerprint, response.status, bytes(response.body or b""),  # type: ignore[arg-type]
                                           response.content_type)
        return response


IDEMPOTENCY = _Idempotency()


_FAULT_BODIES = {  # Stripe's error bodies; a 429 is Stripe's `rate_limit` (typed as its schema allows)
    429: {"type": "invalid_request_error", "code": "rate_limit",
          "message": "Request rate limit exceeded. Learn more about rate limits here "
                     "https://stripe.com/docs/rate-limits."},
    500: {"type": "api_error", "message": "An unknown error occurred"},
    503: {"type": "api_error", "message": "Stripe is temporarily unavailable. Please try again later."},
}


@dataclass
class _Fault:
    kind: str  # "fail": answered `status` without being performed; "drop": performed, never answered
    remaining: int
    path_prefix: str
    method: str | None
    status: int = 0
    hold: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path_prefix) and self.method in (None, method)

    def state(self) -> dict[str, Any]:
        shown = {"kind": self.kind, "remaining": self.remaining, "path_prefix": self.path_prefix,
                 "method": self.method}
        return {**shown, "status": self.status} if self.kind == "fail" else {**shown, "hold": self.hold}


class _Faults:
    """Stripe slower than its callers, or failing: for the API's requests (`/v1/...`, never `/_config`).

    delay(seconds, path_prefix) performs each request at once and answers it `seconds` later; fail(status, times,
    path_prefix, method) answers the next `times` requests `status` in Stripe's error shape without performing
    them; drop(times, path_prefix, method, hold) performs the next `times` requests, then holds the connection
    `hold` seconds and closes it unanswered (the client sees a timeout or a dropped connection although Stripe did
    the work; an `Idempotency-Key` retried then gets the first answer). Faults are taken in the order set, each
    request by the first that matches; reset() clears them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._delays: dict[str, float] = {}
        self._faults: list[_Fault] = []
        self._holding: set[asyncio.Future[Any]] = set()

    def delay(self, seconds: float, path_prefix: str = "/v1/") -> None:
        """Answer every API request whose path starts with `path_prefix` `seconds` late (0 ends it)."""
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("a delay is 0 seconds or more")
        with self._lock:
            if seconds:
                self._delays[path_prefix] = seconds
            else:
                self._delays.pop(path_prefix, None)

    def fail(self, status: int = 500, times: int = 1, path_prefix: str = "/v1/", method: str | None = None) -> None:
        """Answer the next `times` matching API requests `status` (429, 500, 503, any 5xx), not performing them."""
        status = int(status)
        if status != 429 and not 500 <= status <= 599:
            raise ValueError("a failure is 429 or a 5xx status")
        self._add(_Fault("fail", int(times), path_prefix, method.upper() if method else None, status=status))

    def drop(self, times: int = 1, path_prefix: str = "/v1/", method: str | None = None, hold: float = 0.0) -> None:
        """Perform the next `times` matching API requests but close their connections unanswered, after `hold` s."""
        self._add(_Fault("drop", int(times), path_prefix, method.upper() if method else None, hold=float(hold)))

    def _add(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times is 1 or more")
        with self._lock:
            self._faults.append(fault)

    def reset(self) -> None:
        with self._lock:
            self._delays, self._faults = {}, []

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"delays": dict(self._delays), "faults": [f.state() for f in self._faults]}

    def _take(self, method: str, path: str) -> tuple[_Fault | None, float]:
        with self._lock:
            delay = max((s for prefix, s in self._delays.items() if path.startswith(prefix)), default=0.0)
            fault = next((f for f in self._faults if f.matches(method, path)), None)
            if fault is not None:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
            return fault, delay

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/v1/"):
            return await handler(request)
        fault, delay = self._take(request.method, request.path)
        if fault is not None and fault.kind == "fail":
            body = _FAULT_BODIES.get(fault.status, _FAULT_BODIES[500])
            response: web.StreamResponse = web.json_response(
                {"error": dict(body)}, status=fault.status, headers={"Request-Id": "req_" + secrets.token_hex(7)})
        else:
            response = await handler(request)
        if fault is not None and fault.kind == "drop":
            await asyncio.sleep(fault.hold)
            if request.transport is not None:
                request.transport.abort()  # the work is done; the answer never leaves
            raise asyncio.CancelledError
        if delay:
            await asyncio.sleep(delay)
        return response


FAULTS = _Faults()


_LOOP: asyncio.AbstractEventLoop | None = None


def _loop() -> asyncio.AbstractEventLoop:
    """localstripe's aiohttp app is module state bound to the first loop that serves it: one loop, in one
    daemon thread, serves it for the whole process (each LocalStripe is a site on it)."""
    global _LOOP
    if _LOOP is None:
        _LOOP = asyncio.new_event_loop()
        threading.Thread(target=_LOOP.run_forever, name="localstripe", daemon=True).start()
    return _LOOP


class LocalStripe:
    """localstripe on 127.0.0.1 in this process, delivering signed webhooks to `webhook_url`.

    localstripe's state is per process: two LocalStripe at once share it (and its webhook target).
    """

    _runner: web.AppRunner | None = None

    def __init__(self, port: int = DEFAULT_PORT, webhook_url: str | None = None,
                 webhook_secret: str = DEFAULT_WEBHOOK_SECRET):
        self.port, self.webhook_url, self.webhook_secret = port, webhook_url, webhook_secret
        self._site: web.TCPSite | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalStripe:
        _patch_localstripe()
        from localstripe import server

        async def serve() -> int:
            if LocalStripe._runner is None:
                LocalStripe._runner = web.AppRunner(server.app, access_log=None)
                await LocalStripe._runner.setup()
            self._site = web.TCPSite(LocalStripe._runner, "127.0.0.1", self.port)
            await self._site.start()
            return self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        self.port = asyncio.run_coroutine_threadsafe(serve(), _loop()).result(10)
        if self.webhook_url:
            self.deliver_to(self.webhook_url)
        return self

    def deliver_to(self, url: str) -> None:
        """Send every event, signed with the webhook secret, to `url` (as a Stripe webhook endpoint)."""
        from localstripe.webhooks import register_webhook

        self.webhook_url = url
        register_webhook("payments", url, self.webhook_secret, None)

    # Stripe slower than Lambda, or failing (FAULTS; over HTTP: /_config/faults/...).
    def delay_responses(self, seconds: float, path_prefix: str = "/v1/") -> None:
        FAULTS.delay(seconds, path_prefix)

    def fail_requests(self, status: int = 500, times: int = 1, path_prefix: str = "/v1/",
                      method: str | None = None) -> None:
        FAULTS.fail(status, times, path_prefix, method)

    def drop_responses(self, times: int = 1, path_prefix: str = "/v1/", method: str | None = None,
                       hold: float = 0.0) -> None:
        FAULTS.drop(times, path_prefix, method, hold)

    def reset_faults(self) -> None:
        FAULTS.reset()

    def stop(self) -> None:
        if self._site is not None:
            asyncio.run_coroutine_threadsafe(self._site.stop(), _loop()).result(10)


# For a FunctionHost that makes no Stripe call (benchmarks of the other routes, import checks).
NO_STRIPE = {"STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET}


def overrides(stripe: LocalStripe, api_key: str = DEFAULT_API_KEY) -> dict[str, str]:
    return {"STRIPE_API_KEY": api_key, "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "STRIPE_API_BASE": stripe.endpoint}

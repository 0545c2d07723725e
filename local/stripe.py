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
Checkout Sessions are not used by this service (its console confirms a PaymentIntent with Stripe.js).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DEFAULT_PORT = 8420
DEFAULT_API_KEY = "sk_test_local_payments"
DEFAULT_WEBHOOK_SECRET = "whsec_local_dev"
ALWAYS_AUTHENTICATE = frozenset({"4000002760003184", "4000008260003178", "4000008400001629"})

_patched = False


def _patch_localstripe() -> None:
    """Idempotent: localstripe's classes are module state."""
    global _patched
    if _patched:
        return
    _patched = True
    from localstripe import resources as r

    r.store.dump_to_disk = lambda: None  # in memory only

    pi = r.PaymentIntent
    original_init = pi.__init__

    def __init__(self: Any, setup_future_usage: str | None = None, **kwargs: Any) -> None:
        if setup_future_usage not in (None, "on_session", "off_session"):
            raise r.UserError(400, "Invalid setup_future_usage")
        original_init(self, **kwargs)
        self.setup_future_usage = setup_future_usage

    pi.__init__ = __init__
    pi.amount_received = property(lambda self: self.amount if self.status == "succeeded" else 0)

    original_on_success = pi._on_success

    def _on_success(self: Any) -> None:
        if getattr(self, "setup_future_usage", None) and self.customer and self.payment_method:
            r.PaymentMethod._api_retrieve(self.payment_method).customer = self.customer  # the card is saved
        original_on_success(self)

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
        intent.latest_charge = charge
        r.schedule_webhook(r.Event("payment_intent.payment_failed", intent))
        raise r.UserError(402, charge.failure_message, {
            "code": "authentication_required", "decline_code": "authentication_required", "charge": charge.id,
            "payment_intent": intent._export()})

    pi._api_create = classmethod(_api_create)
    original_error_init = r.UserError.__init__

    def error_init(self: Any, code: int, message: str | None = None, contents: dict[str, Any] | None = None) -> None:
        original_error_init(self, code, message, contents)
        if code == 402:
            self.body["error"]["type"] = "card_error"

    r.UserError.__init__ = error_init

    from localstripe import server

    server.app.middlewares.insert(0, IDEMPOTENCY.middleware)  # before the app is first frozen


@dataclass
class _Remembered:
    fingerprint: tuple[str, str, bytes]
    status: int
    body: bytes
    content_type: str


@dataclass
class _Idempotency:
    """Stripe's idempotent requests: the first response of a key is replayed."""

    seen: dict[tuple[str, str], _Remembered] = field(default_factory=dict)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or request.path.startswith("/_config"):
            return await handler(request)
        body = await request.read()
        scope = (request.headers.get("Authorization", ""), key)
        fingerprint = (request.method, request.path, body)
        seen = self.seen.get(scope)
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

    def stop(self) -> None:
        if self._site is not None:
            asyncio.run_coroutine_threadsafe(self._site.stop(), _loop()).result(10)


# For a FunctionHost that makes no Stripe call (benchmarks of the other routes, import checks).
NO_STRIPE = {"STRIPE_API_KEY": DEFAULT_API_KEY, "STRIPE_WEBHOOK_SECRET": DEFAULT_WEBHOOK_SECRET}


def overrides(stripe: LocalStripe, api_key: str = DEFAULT_API_KEY) -> dict[str, str]:
    return {"STRIPE_API_KEY": api_key, "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "STRIPE_API_BASE": stripe.endpoint}

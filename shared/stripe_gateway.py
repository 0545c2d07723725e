"""The Stripe calls this service makes, through the official SDK, each with a deterministic
idempotency key (the SDK would otherwise pick a random one per call, and a retried Lambda or SQS
message would create a second customer or charge the card twice).

`stripe` is imported on first use (~0.5 s here): only the online top-up route and the worker's
Stripe branch pay for it, never the webhook, the other routes or a worker without card customers.

  customer           "customer:{org_id}"                      one Stripe customer per organization
  online top-up      "online-top-up:{online_top_up_id}"       its record's id is made before the call
  automatic charge   "auto-top-up:{org_id}:{business_date}"   at most one charge per organization a day
  refund             "refund:{refund_id}"                      its record (a pending refund) is made before the call

Reads (no key): a PaymentIntent with its latest charge, every refund and dispute of a PaymentIntent, and a
customer's PaymentIntents (the automatic charge looked up once its key has expired).

Amounts: the callers speak this service's ISO minor units; each amount is converted to Stripe's units here
(shared.domain.card_amounts) on the way out. Amounts Stripe shows are converted back where they are read.

Time: no Stripe call outlives its function. Each try is bounded (connect 2 s, read 4 s, or less when the
invocation's `Deadline` leaves less, but never under 1 s to read: then it is not started) and leaves 2 s to record
its outcome; it is tried again (the same request, the same key) only on what may pass on a second try (no
connection, a timeout, 409, 429, 5xx), at most 3 times.
What then still has no answer raises `PaymentProviderError` (503 `payment_provider_unavailable`, `Retry-After`),
which says whether a try was sent and never answered (`sent`: Stripe may be acting on it). Any other refusal by
Stripe raises `ProviderRefused` (422 `payment_provider_refused` with Stripe's code and message), a card's decline
`CardDeclined`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from shared.domain.card_amounts import to_stripe
from shared.settings import Settings
from shared.stripe_errors import CardDeclined as CardDeclined
from shared.stripe_errors import PaymentProviderError as PaymentProviderError
from shared.stripe_errors import ProviderRefused as ProviderRefused
from shared.stripe_errors import decline_reason as decline_reason
from shared.stripe_errors import declined, maybe_sent, refused, should_not_retry
from shared.stripe_errors import declined_top_up as declined_top_up

CONNECT_SECONDS = 2.0
READ_SECONDS = 4.0
MIN_READ_SECONDS = 1.0  # a try with less time than this to read Stripe's answer is not started
TRY_SECONDS = CONNECT_SECONDS + READ_SECONDS  # the longest one try can take
RESERVE_SECONDS = 2.0  # left after the last try, to record what Stripe answered (or that it did not)
BACKOFF_SECONDS = 0.5  # before the second try; doubled before each later one
MAX_TRIES = 3


class Deadline:
    """When the current invocation must be done with Stripe: Lambda's remaining time, set at its start
    (`start`); without one (a script, a test) there is no limit but the tries'."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._ends_at: float | None = None

    def start(self, remaining_ms: int) -> None:
        self._ends_at = self._clock() + remaining_ms / 1000

    def left(self) -> float:
        return float("inf") if self._ends_at is None else self._ends_at - self._clock()

    def timeout_of_a_try(self, after: float = 0.0) -> tuple[float, float] | None:
        """The (connect, read) timeout of a try starting `after` seconds from now: the whole try when it fits
        before the reserve for recording its outcome, a shorter read when only that fits, None when not even a
        short try does."""
        budget = self.left() - after - RESERVE_SECONDS - CONNECT_SECONDS
        return None if budget < MIN_READ_SECONDS else (CONNECT_SECONDS, min(READ_SECONDS, budget))

    def allows_a_try(self) -> bool:
        return self.timeout_of_a_try() is not None


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    client_secret: str | None = None


type HttpClientFactory = Callable[[tuple[float, float]], Any]  # (connect, read) timeout -> the SDK's HTTP client


class StripeGateway:
    def __init__(self, settings: Settings, deadline: Deadline | None = None,
                 sleep: Callable[[float], None] = time.sleep, http_client: HttpClientFactory | None = None):
        self.settings, self.deadline, self._sleep = settings, deadline or Deadline(), sleep
        self._http_client = http_client or self._requests_client
        self._max_tries = MAX_TRIES

    @contextmanager
    def tries(self, most: int) -> Iterator[None]:
        """At most `most` tries a request meanwhile (the reconciliation, once Stripe is known down: no waits)."""
        before, self._max_tries = self._max_tries, most
        try:
            yield
        finally:
            self._max_tries = before

    @cached_property
    def _session(self) -> Any:
        import requests

        return requests.Session()  # one pool of kept-alive connections for every try's client

    def _requests_client(self, timeout: tuple[float, float]) -> Any:
        import stripe

        return stripe.RequestsClient(timeout=timeout, session=self._session)

    def _client(self, timeout: tuple[float, float]) -> Any:
        """The SDK's client for one try: its timeout is the try's (a client costs ~20 us; the session is shared).
        The tries are this gateway's own (bounded by the deadline), never the SDK's."""
        import stripe

        if self.settings.stripe_api_key is None:
            raise PaymentProviderError("Card payments are not configured.", code="stripe_not_configured")
        base: Any = {"api": self.settings.stripe_api_base} if self.settings.stripe_api_base else None
        return stripe.StripeClient(self.settings.stripe_api_key.get_secret_value(), base_addresses=base,
                                   max_network_retries=0, http_client=self._http_client(timeout))

    def _ask(self, call: Callable[[Any], Any]) -> Any:
        """`call(client)`: one request, tried again while it may pass and time allows; raises PaymentProviderError,
        ProviderRefused or CardDeclined (see the module's docstring)."""
        import stripe

        sent, wait = False, 0.0
        for tries in range(1, self._max_tries + 1):
            timeout = self.deadline.timeout_of_a_try(wait)
            if timeout is None:
                break
            if wait:
                self._sleep(wait)
            try:
                return call(self._client(timeout))
            except stripe.CardError as error:
                raise declined(error) from None
            except stripe.APIConnectionError as error:
                sent = sent or maybe_sent(error)
            except (stripe.AuthenticationError, stripe.PermissionError):  # our key, not the request: never final
                raise PaymentProviderError("Card payments are not available now.", code="stripe_not_configured",
                                           sent=False) from None
            except stripe.IdempotencyError:  # Stripe holds another request under this key: it may have acted
                raise PaymentProviderError("Stripe could not answer this request now.", sent=True) from None
            except (stripe.RateLimitError, stripe.APIError) as error:  # 429, 5xx: an answer, if not the one asked for
                if should_not_retry(error):
                    break  # Stripe says a retry would get the same answer (a 5xx it saved for this key)
            except stripe.StripeError as error:
                if error.http_status != 409:  # 409: the same key is still in flight at Stripe
                    raise refused(error) from None
            wait = BACKOFF_SECONDS * 2 ** (tries - 1)
        raise PaymentProviderError("Stripe could not answer now; please try again with the same Idempotency-Key.",
                                   sent=sent)

    def _all(self, resource: Callable[[Any], Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every object of a Stripe list (`resource(client)` is its service, e.g. the refunds), page after page."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._ask(partial(_list_page, resource, {**params, "limit": 100}))
            out += [o.to_dict() for o in page.data]
            if not page.has_more or not page.data:
                return out
            params = {**params, "starting_after": page.data[-1].id}

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        return dict(self._ask(lambda client: client.v1.payment_intents.retrieve(intent_id)).to_dict())

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        return self._all(lambda client: client.v1.refunds, {"payment_intent": intent_id})

    def disputes_of(self, intent_id: str) -> list[dict[str, Any]]:
        return self._all(lambda client: client.v1.disputes, {"payment_intent": intent_id})

    def payment_intents_of(self, customer_id: str, created_from: int) -> list[dict[str, Any]]:
        """The customer's PaymentIntents created at or after `created_from` (Unix seconds)."""
        return self._all(lambda client: client.v1.payment_intents,
                         {"customer": customer_id, "created": {"gte": created_from}})

    def refund(self, *, refund_id: str, payment_id: str, org_id: str, intent_id: str, amount: int, currency: str,
               reason: str | None) -> dict[str, Any]:
        """The refund asked for here; the same refund id always sends the identical request (its key and body)."""
        params: dict[str, Any] = {"payment_intent": intent_id, "amount": to_stripe(amount, currency),
                                  "metadata": {"refund_id": refund_id, "payment_id": payment_id, "org_id": org_id}}
        if reason:
            params["reason"] = reason
        refund = self._ask(lambda client: client.v1.refunds.create(params, {"idempotency_key": f"refund:{refund_id}"}))
        return dict(refund.to_dict())

    def create_customer(self, *, org_id: str, partner_id: str, name: str) -> str:
        params = {"name": name, "metadata": {"org_id": org_id, "partner_id": partner_id}}
        key = f"customer:{org_id}"
        customer = self._ask(lambda client: client.v1.customers.create(params, {"idempotency_key": key}))
        return str(customer.id)

    def start_online_payment(self, *, top_up_id: str, org_id: str, partner_id: str, customer_id: str, amount: int,
                             currency: str) -> Intent:
        """A PaymentIntent the console confirms with the card, which Stripe then saves for off-session use."""
        params = {
            "amount": to_stripe(amount, currency), "currency": currency.lower(), "customer": customer_id,
            "setup_future_usage": "off_session", "payment_method_types": ["card"],
            "metadata": {"purpose": "online_top_up", "online_top_up_id": top_up_id, "org_id": org_id,
                         "partner_id": partner_id},
        }
        key = f"online-top-up:{top_up_id}"
        intent = self._ask(lambda client: client.v1.payment_intents.create(params, {"idempotency_key": key}))
        return Intent(id=str(intent.id), status=str(intent.status), client_secret=intent.client_secret)

    def charge_off_session(self, *, org_id: str, partner_id: str, business_date: str, customer_id: str,
                           payment_method_id: str, amount: int, currency: str) -> Intent:
        """The daily automatic top-up's charge of the saved card; raises CardDeclined or ProviderRefused when
        Stripe refuses it, PaymentProviderError when it did not answer."""
        params = {
            "amount": to_stripe(amount, currency), "currency": currency.lower(), "customer": customer_id,
            "payment_method": payment_method_id, "payment_method_types": ["card"],
            "off_session": True, "confirm": True,
            "metadata": {"purpose": "auto_top_up", "org_id": org_id, "partner_id": partner_id,
                         "business_date": business_date},
        }
        key = f"auto-top-up:{org_id}:{business_date}"
        intent = self._ask(lambda client: client.v1.payment_intents.create(params, {"idempotency_key": key}))
        return Intent(id=str(intent.id), status=str(intent.status))


def _list_page(resource: Callable[[Any], Any], query: dict[str, Any], client: Any) -> Any:
    return resource(client).list(query)

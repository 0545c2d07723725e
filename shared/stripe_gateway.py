"""The Stripe calls this service makes, through the official SDK, each with a deterministic
idempotency key (the SDK would otherwise pick a random one per call, and a retried Lambda or SQS
message would create a second customer or charge the card twice).

`stripe` is imported on first use (~0.5 s here): only the online top-up route and the worker's
Stripe branch pay for it, never the webhook, the other routes or a worker without card customers.

  customer           "customer:{org_id}"                      one Stripe customer per organization
  online top-up      "online-top-up:{online_top_up_id}"       its record's id is made before the call
  automatic charge   "auto-top-up:{org_id}:{business_date}"   at most one charge per organization a day
  refund             "refund:{refund_id}"                      its record (a pending refund) is made before the call

Reads (no key): a PaymentIntent with its latest charge, and every refund and dispute of a PaymentIntent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from shared.errors import Unprocessable, UpstreamFailure
from shared.settings import Settings


class PaymentProviderError(UpstreamFailure):
    code = "payment_provider_error"


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    client_secret: str | None = None


class CardDeclined(Exception):
    """Stripe refused an off-session charge (HTTP 402); `reason` is its decline code."""

    def __init__(self, reason: str, message: str, payment_intent_id: str | None):
        super().__init__(message)
        self.reason, self.message, self.payment_intent_id = reason, message, payment_intent_id


def decline_reason(error: dict[str, Any] | None) -> str:
    """Stripe's reason for a failed payment: the decline code when there is one, else the error code."""
    error = error or {}
    return str(error.get("decline_code") or error.get("code") or "payment_failed")


class StripeGateway:
    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def client(self) -> Any:
        import stripe

        if self.settings.stripe_api_key is None:
            raise PaymentProviderError("Card payments are not configured.", code="stripe_not_configured")
        base: Any = {"api": self.settings.stripe_api_base} if self.settings.stripe_api_base else None
        # The SDK retries network errors and 409/429/5xx itself, with the same idempotency key.
        return stripe.StripeClient(self.settings.stripe_api_key.get_secret_value(), base_addresses=base,
                                   max_network_retries=2)

    def _call(self, fn: Any, params: dict[str, Any], key: str) -> Any:
        import stripe

        try:
            return fn(params, {"idempotency_key": key})
        except stripe.InvalidRequestError as error:
            if error.code in ("amount_too_small", "amount_too_large"):
                raise Unprocessable(error.user_message or "Stripe refused the amount.",
                                    details=[{"field": "amount", "message": error.user_message or "",
                                              "type": error.code}]) from None
            raise PaymentProviderError(f"Stripe refused the request ({error.code or 'invalid_request'}): "
                                       f"{error.user_message or ''}") from None
        except stripe.CardError:
            raise
        except stripe.StripeError as error:
            raise PaymentProviderError(f"Stripe did not answer as expected ({type(error).__name__}); "
                                       "please try again.") from None

    def _read(self, fn: Any, *args: Any) -> Any:
        import stripe

        try:
            return fn(*args)
        except stripe.StripeError as error:
            raise PaymentProviderError(f"Stripe did not answer as expected ({type(error).__name__}); "
                                       "please try again.") from None

    def _all(self, fn: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every object of a Stripe list, page after page (100 a page)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._read(fn, {**params, "limit": 100})
            out += [o.to_dict() for o in page.data]
            if not page.has_more or not page.data:
                return out
            params = {**params, "starting_after": page.data[-1].id}

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        return dict(self._read(self.client.v1.payment_intents.retrieve, intent_id).to_dict())

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        return self._all(self.client.v1.refunds.list, {"payment_intent": intent_id})

    def disputes_of(self, intent_id: str) -> list[dict[str, Any]]:
        return self._all(self.client.v1.disputes.list, {"payment_intent": intent_id})

    def refund(self, *, refund_id: str, payment_id: str, org_id: str, intent_id: str, amount: int,
               reason: str | None) -> dict[str, Any]:
        """The refund asked for here; the same refund id always sends the identical request (its key and body).
        Stripe's refusal (400: already refunded, disputed) comes back as a failed Refund; raises
        PaymentProviderError when Stripe could not be asked."""
        import stripe

        params: dict[str, Any] = {"payment_intent": intent_id, "amount": amount,
                                  "metadata": {"refund_id": refund_id, "payment_id": payment_id, "org_id": org_id}}
        if reason:
            params["reason"] = reason
        try:
            return dict(self.client.v1.refunds.create(params, {"idempotency_key": f"refund:{refund_id}"}).to_dict())
        except stripe.InvalidRequestError as error:
            return {"object": "refund", "id": None, "amount": amount, "status": "failed",
                    "failure_reason": error.code or "invalid_request", "metadata": params["metadata"],
                    "message": error.user_message or ""}
        except stripe.StripeError as error:
            raise PaymentProviderError(f"Stripe did not answer as expected ({type(error).__name__}); "
                                       "please try again.") from None

    def create_customer(self, *, org_id: str, partner_id: str, name: str) -> str:
        customer = self._call(self.client.v1.customers.create,
                              {"name": name, "metadata": {"org_id": org_id, "partner_id": partner_id}},
                              f"customer:{org_id}")
        return str(customer.id)

    def start_online_payment(self, *, top_up_id: str, org_id: str, partner_id: str, customer_id: str, amount: int,
                             currency: str) -> Intent:
        """A PaymentIntent the console confirms with the card, which Stripe then saves for off-session use."""
        intent = self._call(self.client.v1.payment_intents.create, {
            "amount": amount, "currency": currency.lower(), "customer": customer_id,
            "setup_future_usage": "off_session", "payment_method_types": ["card"],
            "metadata": {"purpose": "online_top_up", "online_top_up_id": top_up_id, "org_id": org_id,
                         "partner_id": partner_id},
        }, f"online-top-up:{top_up_id}")
        return Intent(id=str(intent.id), status=str(intent.status), client_secret=intent.client_secret)

    def charge_off_session(self, *, org_id: str, partner_id: str, business_date: str, customer_id: str,
                           payment_method_id: str, amount: int, currency: str) -> Intent:
        """The daily automatic top-up's charge of the saved card; raises CardDeclined when refused."""
        import stripe

        try:
            intent = self._call(self.client.v1.payment_intents.create, {
                "amount": amount, "currency": currency.lower(), "customer": customer_id,
                "payment_method": payment_method_id, "payment_method_types": ["card"],
                "off_session": True, "confirm": True,
                "metadata": {"purpose": "auto_top_up", "org_id": org_id, "partner_id": partner_id,
                             "business_date": business_date},
            }, f"auto-top-up:{org_id}:{business_date}")
        except stripe.CardError as error:
            json_body: dict[str, Any] = error.json_body if isinstance(error.json_body, dict) else {}
            body = json_body.get("error") or {}
            intent_id = (body.get("payment_intent") or {}).get("id")
            raise CardDeclined(decline_reason(body), error.user_message or "The card was declined.",
                               intent_id) from None
        return Intent(id=str(intent.id), status=str(intent.status))

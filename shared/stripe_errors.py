"""What Stripe answered, as this service's errors: no answer (`PaymentProviderError`, 503 with `Retry-After`, saying
whether a try was sent and never answered), a refusal (`ProviderRefused`, 422 with Stripe's code and message) or a
card's decline (`CardDeclined`), read from the SDK's errors; and a failed payment's reason and words
(shared.stripe_gateway makes the calls)."""

from __future__ import annotations

from typing import Any

from shared.errors import Unavailable, Unprocessable


class PaymentProviderError(Unavailable):
    """Stripe did not answer (unreachable, a timeout, 409, 429 or 5xx, or no time left to ask). `sent`: a try was
    sent and never answered (a timeout, a connection lost after sending), so Stripe may be acting on it now."""

    code = "payment_provider_unavailable"

    def __init__(self, message: str, *, sent: bool = False, code: str | None = None):
        super().__init__(message, code=code)
        self.sent = sent


class ProviderRefused(Unprocessable):
    """Stripe refused the request (a 4xx other than 409 and 429): its code and message, as Stripe gave them."""

    code = "payment_provider_refused"
    stripe_type = "invalid_request_error"

    def __init__(self, stripe_code: str, message: str, *, decline_code: str | None = None,
                 payment_intent_id: str | None = None, param: str | None = None):
        detail: dict[str, Any] = {"code": stripe_code, "message": message}
        if decline_code:
            detail["decline_code"] = decline_code
        if param:
            detail["param"] = param
        super().__init__(f"Stripe refused the request: {message}", details=[detail])
        self.stripe_code, self.stripe_message, self.decline_code = stripe_code, message, decline_code
        self.payment_intent_id = payment_intent_id

    def stripe_error(self) -> dict[str, Any]:
        """The refusal in the shape of Stripe's error object (what `last_payment_error` holds), for the rules that
        read either one (shared.domain.attempt.card_failure)."""
        return {"type": self.stripe_type, "code": self.stripe_code, "decline_code": self.decline_code,
                "message": self.stripe_message}


class CardDeclined(ProviderRefused):
    """Stripe declined the card (HTTP 402): `decline_code` is the issuer's reason where Stripe gives one."""

    stripe_type = "card_error"


def decline_reason(error: dict[str, Any] | None) -> str:
    """Stripe's reason for a failed payment: the decline code when there is one, else the error code."""
    error = error or {}
    return str(error.get("decline_code") or error.get("code") or "payment_failed")


def declined_top_up(error: dict[str, Any] | None) -> dict[str, Any]:
    """An online top-up's failure from the PaymentIntent's `last_payment_error`: its reason (the decline code, else
    the error code) and what a person reads of it."""
    error = error if isinstance(error, dict) else {}
    reason = decline_reason(error)
    return {"reason": reason, "decline_code": reason, "failure_message": str(error.get("message") or "") or None}


def maybe_sent(error: Exception) -> bool:
    """Whether a request that got no answer may have reached Stripe: only a connection never made was not sent."""
    import requests

    cause = error.__cause__
    if isinstance(cause, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(cause, requests.exceptions.ConnectionError):
        import urllib3

        reason = getattr(cause.args[0], "reason", None) if cause.args else None
        return not isinstance(reason, urllib3.exceptions.NewConnectionError)
    return True


def should_not_retry(error: Any) -> bool:
    headers = error.headers if isinstance(getattr(error, "headers", None), dict) else {}
    return str({k.lower(): v for k, v in headers.items()}.get("stripe-should-retry", "")).lower() == "false"


def _body(error: Any) -> dict[str, Any]:
    json_body = error.json_body if isinstance(error.json_body, dict) else {}
    body = json_body.get("error")
    return body if isinstance(body, dict) else {}


def _intent_id(body: dict[str, Any]) -> str | None:
    intent = body.get("payment_intent")
    return str(intent["id"]) if isinstance(intent, dict) and intent.get("id") else None


def declined(error: Any) -> CardDeclined:
    body = _body(error)
    return CardDeclined(str(body.get("code") or error.code or "card_declined"),
                        str(body.get("message") or error.user_message or "The card was declined."),
                        decline_code=str(body.get("decline_code") or body.get("code") or "generic_decline"),
                        payment_intent_id=_intent_id(body), param=body.get("param"))


def refused(error: Any) -> ProviderRefused:
    body = _body(error)
    return ProviderRefused(str(body.get("code") or error.code or body.get("type") or "invalid_request"),
                           str(body.get("message") or error.user_message or "Stripe refused the request."),
                           payment_intent_id=_intent_id(body), param=body.get("param"))

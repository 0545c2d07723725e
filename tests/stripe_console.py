"""What the finance console does with Stripe.js, done with the real SDK against the local Stripe: the
card entered into the PaymentIntent, confirmed, and 3-D Secure answered when the card asks for it."""

from __future__ import annotations

from typing import Any

import stripe

from local.stripe import DEFAULT_API_KEY

CARD_OK = "4242424242424242"
CARD_ALWAYS_AUTHENTICATE = "4000002760003184"  # 3-D Secure on every payment: declined off-session


def stripe_client(endpoint: str) -> Any:
    return stripe.StripeClient(DEFAULT_API_KEY, base_addresses={"api": endpoint}, max_network_retries=0)


def pay(endpoint: str, intent_id: str, client_secret: str, card: str = CARD_OK,
        authenticate: bool = True) -> dict[str, Any]:
    """Returns the PaymentIntent afterwards."""
    client = stripe_client(endpoint)
    method = client.v1.payment_methods.create({"type": "card", "card": {"number": card, "exp_month": 12,
                                                                        "exp_year": 2031, "cvc": "123"}})
    client.v1.payment_intents.update(intent_id, {"payment_method": method.id})
    if client.v1.payment_intents.confirm(intent_id).status == "requires_action":
        client.raw_request("post", f"/v1/payment_intents/{intent_id}/_authenticate", client_secret=client_secret,
                           success="true" if authenticate else "false")
    return client.v1.payment_intents.retrieve(intent_id).to_dict()

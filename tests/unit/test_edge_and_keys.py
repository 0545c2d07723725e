"""One error contract and key parts that cannot smuggle a key.

Invariants: (E1) every error kind answers its one status, mapped at the edge, in the contract's shape;
(K1) no key builder accepts a part holding the separator, so no input can name another aggregate's key.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.organization import Organization
from shared.domain.payment import Payment
from shared.edge import proxy_response, status_of
from shared.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unprocessable,
    error_body,
)
from shared.repositories.keys import UnsafeKeyPart, join
from shared.repositories.registry import key_of
from shared.services.stripe_webhooks import InvalidSignature
from shared.stripe_gateway import PaymentProviderError


@pytest.mark.parametrize(("error", "status", "code"), [
    (BadRequest("m"), 400, "bad_request"), (Unauthorized("m"), 401, "unauthorized"),
    (Forbidden("m"), 403, "forbidden"), (NotFound("m"), 404, "not_found"),
    (Conflict("insufficient_balance", "m"), 409, "insufficient_balance"),
    (PreconditionFailed("m"), 412, "version_mismatch"), (Unprocessable("m"), 422, "validation_error"),
    (InvalidSignature("m"), 400, "invalid_signature"), (PaymentProviderError("m"), 503, "payment_provider_unavailable"),
    (ApiError("m"), 500, "internal_error"),
])
def test_each_error_kind_answers_its_status_in_the_contract_shape(error, status, code):
    # When the edge answers an error (E1)
    response = proxy_response(status_of(error), error.body())
    # Then the status is the kind's and the body the contract's shape with the rule's code
    assert response["statusCode"] == status
    assert error.body() == {"error": {"code": code, "message": "m", "details": []}}


def test_the_error_body_carries_details():
    details = [{"field": "x"}]
    assert error_body("c", "m", details) == {"error": {"code": "c", "message": "m", "details": details}}


@given(st.text(min_size=0, max_size=20), st.text(min_size=0, max_size=20))
def test_no_key_part_may_hold_the_separator(left, right):
    # Given any text with the separator in it, or an empty part (K1)
    part = f"{left}#{right}"
    # Then the key builders refuse it, whichever aggregate's key it would be
    for build in (lambda: join("ORG", part), lambda: key_of(Organization, part), lambda: key_of(Payment, part)):
        with pytest.raises(UnsafeKeyPart):
            build()
    with pytest.raises(UnsafeKeyPart):
        join("ORG", "")


def test_a_safe_part_makes_the_expected_key():
    assert key_of(Organization, "org_1") == {"pk": "ORG#org_1", "sk": "META"}
    assert join("P", "ptn_1", "ORGPAY", "org_1") == "P#ptn_1#ORGPAY#org_1"

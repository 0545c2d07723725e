"""Cognito's pre token generation trigger (V2_0): the contract's claims into the access token and the ID token."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.token_claims import claims_for

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("request") or {}
    group_configuration = request.get("groupConfiguration") or {}
    claims = claims_for(request.get("userAttributes") or {}, group_configuration.get("groupsToOverride") or [])
    # The same claims for both tokens, nothing suppressed; the request's group configuration is handed back as it
    # came, which is how Cognito leaves `cognito:groups` as it is (an empty or null one would suppress it)
    details: dict[str, Any] = {
        "idTokenGeneration": {"claimsToAddOrOverride": dict(claims)},
        "accessTokenGeneration": {"claimsToAddOrOverride": dict(claims)},
    }
    if group_configuration:
        details["groupOverrideDetails"] = group_configuration
    event["response"] = {"claimsAndScopeOverrideDetails": details}
    # no user attribute is logged (the email is personal data): only what was decided
    logger.info("token claims", extra={"trigger": event.get("triggerSource"), "partner": "partner_id" in claims,
                                       "groups": claims.get("groups", []), "org": "org_id" in claims})
    return event

"""The deployed finance console (template.yaml): Cognito only when no issuer is given, the authorizer following it,
a public PKCE client whose callback is the console, a private bucket read only through the distribution, strict
security headers, and one origin for the console and every route of the API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import types
from typing import Any

import pytest

from local.template import Template

template = Template.load()
resources = template.resources
distribution = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
COGNITO_TYPES = ("AWS::Cognito::",)
API_ORIGIN, CONSOLE_ORIGIN = "api", "console"


def cloudfront_matches(pattern: str, path: str) -> bool:
    """CloudFront's path pattern: `*` any run of characters (slashes too), `?` exactly one, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, path) is not None


def behavior_for(path: str) -> dict[str, Any]:
    """The behavior CloudFront picks: the first cache behavior whose pattern matches, else the default."""
    for behavior in distribution["CacheBehaviors"]:
        if cloudfront_matches(behavior["PathPattern"], path):
            return behavior
    return distribution["DefaultCacheBehavior"]


def api_behaviors() -> list[dict[str, Any]]:
    return [b for b in distribution["CacheBehaviors"] if b["TargetOriginId"] == API_ORIGIN]


def sub_text(value: Any) -> str:
    """The text of a `Fn::Sub` (its template string), or the value itself."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return value


# --- Cognito, only when JwtIssuer is left empty -------------------------------------------------------------------
def test_cognito_is_used_only_when_no_issuer_is_given():
    # Given the template's parameters and conditions
    assert template.parameter_default("JwtIssuer") == ""
    assert template.raw["Conditions"]["UseCognito"] == {"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}
    # Then every Cognito resource, the trigger, its permission and the client helper exist only under UseCognito
    cognito = {name for name, r in resources.items() if r["Type"].startswith(COGNITO_TYPES)}
    assert {"UserPool", "UserPoolClient", "UserPoolDomain", "FinanceAdminGroup", "FinanceViewerGroup",
            "PlatformAdminGroup", "OrgAdminGroup", "OrgViewerGroup"} <= cognito
    conditional = cognito | {"PreTokenFunction", "PreTokenInvokePermission", "PreTokenLogs", "ConsoleSignIn",
                             "ConsoleSignInFunction", "ConsoleSignInRole", "ConsoleSignInLogs"}
    assert {name: resources[name].get("Condition") for name in conditional} == dict.fromkeys(conditional, "UseCognito")
    # And so are the outputs that name them
    outputs = template.raw["Outputs"]
    for name in ("UserPoolId", "UserPoolClientId", "CognitoAuthority", "CognitoLogoutUrl"):
        assert outputs[name]["Condition"] == "UseCognito", name
    for name in ("ConsoleUrl", "ConsoleBucketName", "ConsoleDistributionId", "StripeWebhookUrl"):
        assert "Condition" not in outputs[name], name


def test_the_authorizer_trusts_the_pool_and_its_client_or_the_given_issuer():
    # Given the HttpApi's JWT authorizer
    jwt_config = resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]["FinanceJwt"]["JwtConfiguration"]
    # Then with Cognito its issuer is the pool and its audience the app client (Cognito access tokens carry
    # client_id and no aud); otherwise JwtIssuer and JwtAudience as given
    assert jwt_config["issuer"] == {"Fn::If": [
        "UseCognito", {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"},
        {"Ref": "JwtIssuer"}]}
    assert jwt_config["audience"] == [{"Fn::If": ["UseCognito", {"Ref": "UserPoolClient"}, {"Ref": "JwtAudience"}]}]
    assert template.raw["Outputs"]["CognitoAuthority"]["Value"] == jwt_config["issuer"]["Fn::If"][1]


def test_the_pool_is_admin_created_email_sign_in_with_immutable_tenant_attributes():
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["UserPoolTier"] in {"ESSENTIALS", "PLUS"}  # access-token customization (V2_0) needs one of them
    password = pool["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12 and all(
        password[k] is True for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))
    custom = {a["Name"]: a for a in pool["Schema"] if a["Name"] in {"partner_id", "org_id"}}
    assert {name: (a["AttributeDataType"], a["Mutable"]) for name, a in custom.items()} == {
        "partner_id": ("String", False), "org_id": ("String", False)}
    groups = {r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"finance-admin", "finance-viewer", "platform-admin", "org-admin", "org-viewer"}


def test_the_console_client_is_public_code_flow_only_with_its_callback_under_console():
    # Given the app client (it only allocates the id) and ConsoleSignIn, which applies all its settings
    client = resources["UserPoolClient"]["Properties"]
    settings = resources["ConsoleSignIn"]["Properties"]
    # Then it has no secret (a browser app: the authorization code flow with PKCE)
    assert client["GenerateSecret"] is False and "GenerateSecret" not in settings
    assert settings["ClientId"] == {"Ref": "UserPoolClient"} and settings["UserPoolId"] == {"Ref": "UserPool"}
    # And its only OAuth flow is the authorization code, with the console's scopes, through the pool's own sign-in
    assert settings["AllowedOAuthFlowsUserPoolClient"] is True
    assert settings["AllowedOAuthFlows"] == ["code"]
    assert settings["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert settings["SupportedIdentityProviders"] == ["COGNITO"]
    assert not {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"} & set(settings["ExplicitAuthFlows"])
    # And it signs in and out to the console on the distribution
    console = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}/console/"}
    assert settings["CallbackURLs"] == settings["LogoutURLs"] == [console]
    assert template.raw["Outputs"]["ConsoleUrl"]["Value"] == console
    # And the helper may do exactly one thing, to this pool
    [statement] = resources["ConsoleSignInRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == (
        "cognito-idp:UpdateUserPoolClient", {"Fn::GetAtt": ["UserPool", "Arn"]})


def test_console_sign_in_applies_every_setting_typed_and_always_answers_cloudformation(monkeypatch):
    # Given the helper's inline code, with Cognito and CloudFormation's answer recorded
    code = resources["ConsoleSignInFunction"]["Properties"]["Code"]["ZipFile"]
    calls: list[dict[str, Any]] = []
    answers: list[tuple[str, str, str | None]] = []

    class Cognito:
        def update_user_pool_client(self, **kwargs: Any) -> None:
            if kwargs["ClientId"] == "broken":
                raise RuntimeError("AccessDenied")
            calls.append(kwargs)

    boto3 = types.SimpleNamespace(client=lambda name: Cognito())
    cfnresponse = types.SimpleNamespace(SUCCESS="SUCCESS", FAILED="FAILED",
                                        send=lambda e, c, status, data, physical, reason=None:
                                        answers.append((status, physical, reason)))
    monkeypatch.setitem(sys.modules, "boto3", boto3)
    monkeypatch.setitem(sys.modules, "cfnresponse", cfnresponse)
    namespace: dict[str, Any] = {}
    exec(compile(code, "ConsoleSignInFunction", "exec"), namespace)  # the template's own inline code
    # And the properties as CloudFormation sends them (scalars as strings)
    props = {"ServiceToken": "arn:fn", "UserPoolId": "pool", "ClientId": "client1", "AllowedOAuthFlows": ["code"],
             "AllowedOAuthFlowsUserPoolClient": "true", "EnableTokenRevocation": "false", "AccessTokenValidity": "60",
             "CallbackURLs": ["https://d1.cloudfront.net/console/"]}
    # When it is created, then updated, then deleted, and when Cognito refuses
    for kind in ("Create", "Update", "Delete"):
        namespace["handler"]({"RequestType": kind, "ResourceProperties": props}, None)
    namespace["handler"]({"RequestType": "Update", "ResourceProperties": {**props, "ClientId": "broken"}}, None)
    # Then Create and Update set every setting, numbers and flags typed back, and Delete changes nothing
    expected = {"UserPoolId": "pool", "ClientId": "client1", "AllowedOAuthFlows": ["code"],
                "AllowedOAuthFlowsUserPoolClient": True, "EnableTokenRevocation": False, "AccessTokenValidity": 60,
                "CallbackURLs": ["https://d1.cloudfront.net/console/"]}
    assert calls == [expected, expected]
    # And CloudFormation always gets its answer, the failure with Cognito's reason
    assert answers == [("SUCCESS", "client1", None)] * 3 + [("FAILED", "broken", "AccessDenied")]


def test_the_trigger_is_v2_on_the_pre_token_function_with_no_data_access():
    trigger = resources["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"]
    assert trigger == {"LambdaArn": {"Fn::GetAtt": ["PreTokenFunction", "Arn"]}, "LambdaVersion": "V2_0"}
    fn = template.functions()["PreTokenFunction"]
    assert fn.code_uri.name == "pre_token" and (fn.code_uri / "app.py").exists()
    assert resources["PreTokenFunction"]["Properties"]["Policies"] == []
    permission = resources["PreTokenInvokePermission"]["Properties"]
    assert permission["Principal"] == "cognito-idp.amazonaws.com"
    assert permission["FunctionName"] == {"Fn::GetAtt": ["PreTokenFunction", "Arn"]}
    assert permission["SourceArn"] == {"Fn::GetAtt": ["UserPool", "Arn"]}


# --- hosting: a private bucket read only through the distribution --------------------------------------------------
def test_the_bucket_is_private_encrypted_and_owner_enforced():
    bucket = resources["ConsoleBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True)
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert "WebsiteConfiguration" not in bucket


def test_only_the_distribution_reads_the_bucket_through_its_origin_access_control():
    # Given the bucket policy's grants
    statements = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    # Then the one grant is s3:GetObject to CloudFront, for this distribution only (AWS:SourceArn)
    assert len(allows) == 1
    [grant] = allows
    assert grant["Principal"] == {"Service": "cloudfront.amazonaws.com"} and grant["Action"] == "s3:GetObject"
    assert sub_text(grant["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        ":distribution/${ConsoleDistribution}")
    # And the distribution signs its requests to the bucket with SigV4 (OAC), no legacy identity, no website
    oac = resources["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3", "always", "sigv4")
    [s3] = [o for o in distribution["Origins"] if o["Id"] == CONSOLE_ORIGIN]
    assert s3["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert s3["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert s3["DomainName"] == {"Fn::GetAtt": ["ConsoleBucket", "RegionalDomainName"]}


def test_the_distribution_is_https_only_http2_and_3_with_no_default_root_object_or_error_pages():
    assert distribution["HttpVersion"] == "http2and3"
    assert not distribution.get("DefaultRootObject")
    assert "CustomErrorResponses" not in distribution  # they would turn the API's 403/404 into the page
    for behavior in [distribution["DefaultCacheBehavior"], *distribution["CacheBehaviors"]]:
        assert behavior["ViewerProtocolPolicy"] in {"redirect-to-https", "https-only"}
    [api] = [o for o in distribution["Origins"] if o["Id"] == API_ORIGIN]
    assert api["DomainName"] == {"Fn::Sub": "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"


# --- the console's security headers ---------------------------------------------------------------------------------
def csp() -> dict[str, list[str]]:
    headers = resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    text = sub_text(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in text.split(";")) if d}


def test_the_csp_allows_no_inline_code_no_framing_and_stripe_only():
    policy = csp()
    assert not any("'unsafe-inline'" in v or "'unsafe-eval'" in v for v in policy.values())
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'", "https://js.stripe.com"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-src"] == ["https://js.stripe.com", "https://hooks.stripe.com"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    # connect-src: the API on the same origin, the identity provider (filled in below), Stripe's API
    assert policy["connect-src"] == ["'self'", "${Identity}", "https://api.stripe.com"]
    identity = resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"][1]["Identity"]["Fn::If"]
    assert identity[0] == "UseCognito" and identity[2] == {"Ref": "JwtIssuer"}
    assert sub_text(identity[1]).split() == ["https://cognito-idp.${AWS::Region}.amazonaws.com",
                                             "https://${Prefix}.auth.${AWS::Region}.amazoncognito.com"]


def test_the_console_sends_nosniff_deny_hsts_and_no_referrer():
    headers = resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["ContentTypeOptions"]["Override"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    for behavior in (behavior_for("/console/"), behavior_for("/console/payments/pay_1"), behavior_for("/")):
        assert behavior["ResponseHeadersPolicyId"] == {"Ref": "ConsoleHeaders"}


# --- one origin: every API route to API Gateway, everything of the console to the bucket ----------------------------
ROUTE_PATHS = sorted({r.path for r in template.routes()})


@pytest.mark.parametrize("path", ROUTE_PATHS)
def test_every_route_of_the_http_api_goes_to_api_gateway_uncached(path):
    # Given a request to the route, its path parameters filled in
    concrete = re.sub(r"\{\w+\}", "pay_01JZ8Q5V4K7W3M2N1P0R9S8T7V", path)
    # Then an API behavior matches it, and it is the one CloudFront picks (no console behavior before it)
    assert any(cloudfront_matches(b["PathPattern"], concrete) for b in api_behaviors()), path
    behavior = behavior_for(concrete)
    assert behavior["TargetOriginId"] == API_ORIGIN, path
    # And it is never cached, reaches API Gateway with every viewer header but Host (Authorization, Idempotency-Key,
    # If-Match, Content-Type) and every query string, by any method
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # managed CachingDisabled
    assert behavior["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
    assert sorted(behavior["AllowedMethods"]) == sorted(["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"])


@pytest.mark.parametrize("path", ["/console/", "/console/anything", "/console/payments/pay_1", "/console/index.html",
                                  "/console/config.json", "/console/assets/app-3f2a.js", "/openapi.json", "/"])
def test_no_console_path_reaches_the_api(path):
    # Then no API behavior matches a path of the console (or the published OpenAPI document)
    assert not any(cloudfront_matches(b["PathPattern"], path) for b in api_behaviors()), path
    assert behavior_for(path)["TargetOriginId"] == CONSOLE_ORIGIN


def test_the_pattern_matcher_follows_cloudfronts_wildcards():
    assert cloudfront_matches("/payments*", "/payments") and cloudfront_matches("/payments*", "/payments/a/b")
    assert cloudfront_matches("/a?c", "/abc") and not cloudfront_matches("/a?c", "/ac")
    assert not cloudfront_matches("/partners/*", "/partners") and not cloudfront_matches("/Payments*", "/payments")


# --- the single page: its routes are index.html, nothing else is rewritten -------------------------------------------
def run_routing(uris: list[str]) -> dict[str, str]:
    """The viewer-request function itself, run by node on each URI: the URI CloudFront then asks the bucket for,
    or the redirect it answers."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (installed with npm, which `make test` needs for DynamoDB Local) runs the function")
    code = resources["ConsoleRouting"]["Properties"]["FunctionCode"]
    script = code + textwrap.dedent("""
        const out = {};
        for (const uri of JSON.parse(process.argv[1])) {
          const r = handler({request: {uri: uri, method: 'GET', querystring: {code: {value: 'c'}}, headers: {}}});
          out[uri] = r.statusCode ? r.statusCode + ' ' + r.headers.location.value : r.uri;
        }
        console.log(JSON.stringify(out));
    """)
    done = subprocess.run([node, "-e", script, json.dumps(uris)], capture_output=True, text=True, timeout=30,
                          check=True)
    return json.loads(done.stdout)


def test_the_console_routes_are_its_index_and_its_files_are_themselves():
    # When the function sees the console's routes, its files, the root and another path
    routed = run_routing(["/console/", "/console/payments/pay_1", "/console/v1.2/x", "/console/config.json",
                          "/console/assets/app-3f2a.js", "/", "/console", "/openapi.json"])
    # Then a route (no dot in its last segment) is the page, a file is itself, / and /console go to /console/
    assert routed == {"/console/": "/console/index.html", "/console/payments/pay_1": "/console/index.html",
                      "/console/v1.2/x": "/console/index.html", "/console/config.json": "/console/config.json",
                      "/console/assets/app-3f2a.js": "/console/assets/app-3f2a.js", "/": "302 /console/",
                      "/console": "302 /console/", "/openapi.json": "/openapi.json"}
    # And the function runs on the console's requests only (never on the API's)
    for path in ("/console/x", "/"):
        [association] = behavior_for(path)["FunctionAssociations"]
        assert association == {"EventType": "viewer-request",
                               "FunctionARN": {"Fn::GetAtt": ["ConsoleRouting", "FunctionMetadata.FunctionARN"]}}
    assert all("FunctionAssociations" not in b for b in api_behaviors())
    assert resources["ConsoleRouting"]["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"


def test_the_hosted_ui_prefix_is_one_rule_for_the_domain_the_csp_and_the_logout_url():
    # Given where the hosted UI's domain prefix is written
    domain = resources["UserPoolDomain"]["Properties"]["Domain"]
    identity = resources["ConsoleHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"][
        "ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"][1]["Identity"]["Fn::If"][1]["Fn::Sub"][1]
    logout = template.raw["Outputs"]["CognitoLogoutUrl"]["Value"]["Fn::Sub"]
    # Then all three are the same rule: the parameter, else <stack name>-<account id>
    assert domain == identity["Prefix"] == logout[1]["Prefix"] == {"Fn::If": [
        "HasConsoleDomainPrefix", {"Ref": "ConsoleDomainPrefix"}, {"Fn::Sub": "${AWS::StackName}-${AWS::AccountId}"}]}
    assert logout[0] == "https://${Prefix}.auth.${AWS::Region}.amazoncognito.com/logout"

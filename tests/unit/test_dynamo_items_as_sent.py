"""Query's and Scan's items taken as DynamoDB sent them (shared.repositories.dynamo.items_as_sent) are exactly what
botocore's own parse gives, for every type the table holds."""

from __future__ import annotations

import json

from botocore.parsers import create_parser
from botocore.session import get_session
from hypothesis import given
from hypothesis import strategies as st

from shared.repositories.dynamo import items_as_sent, serialize

MODEL = get_session().get_service_model("dynamodb")

values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**15, 10**15) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
    max_leaves=20)
items = st.lists(st.dictionaries(st.text(min_size=1, max_size=8), values, min_size=1, max_size=6), max_size=5)


def parsed(operation: str, body: dict, hook: bool) -> dict:
    response = {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()}
    custom: dict = {}
    if hook:
        items_as_sent(response, custom)
    out = create_parser("json").parse(response, MODEL.operation_model(operation).output_shape)
    out.update(custom)
    out.pop("ResponseMetadata", None)
    return out


@given(items)
def test_a_query_or_scan_page_parses_alike_with_and_without_the_hook(rows):
    # Given a page as DynamoDB sends it: items of every type the table holds, counts and the next page's key
    body = {"Items": [{k: serialize(v) for k, v in row.items()} for row in rows], "Count": len(rows),
            "ScannedCount": len(rows) + 3, "LastEvaluatedKey": {"pk": {"S": "ORG#1"}, "sk": {"S": "META"}},
            "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.5}}
    for operation in ("Query", "Scan"):
        # Then the hook's answer is botocore's own
        assert parsed(operation, body, hook=True) == parsed(operation, body, hook=False)


def test_an_error_or_a_page_without_items_is_left_to_botocore():
    response = {"status_code": 400, "headers": {}, "body": b'{"__type":"x#ValidationException","message":"m"}'}
    custom: dict = {}
    items_as_sent(response, custom)
    assert custom == {} and response["body"] == b'{"__type":"x#ValidationException","message":"m"}'
    response = {"status_code": 200, "headers": {}, "body": b'{"Count": 0}'}
    items_as_sent(response, custom)
    assert custom == {} and response["body"] == b'{"Count": 0}'

"""DynamoDB Local, the stack's DynamoDB (no lock in front of it): transactions are all or nothing, and
concurrent conditional writes and updates behave as DynamoDB's do."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError

from local.dynamodb import DynamoDBLocal, client, ensure_table

TABLE = "unit-local-ddb"


@pytest.fixture(scope="module")
def ddb():
    server = DynamoDBLocal().start()
    ensure_table(server.endpoint, TABLE)
    yield client(server.endpoint)
    server.stop()
    assert server.proc is not None and server.proc.poll() is not None  # stopped by pid


def put(pk, **attrs):
    return {"Put": {"TableName": TABLE, "Item": {"pk": {"S": pk}, "sk": {"S": "META"}, **attrs},
                    "ConditionExpression": "attribute_not_exists(pk)"}}


def get(ddb, pk):
    return ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": "META"}}, ConsistentRead=True).get("Item")


def test_a_failed_condition_anywhere_writes_nothing_and_names_the_item(ddb):
    ddb.transact_write_items(TransactItems=[put("exists")])
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[put("a1"), put("a2"), put("exists")])
    codes = [r["Code"] for r in err.value.response["CancellationReasons"]]
    assert codes == ["None", "None", "ConditionalCheckFailed"]
    assert get(ddb, "a1") is None and get(ddb, "a2") is None


def test_conditions_see_the_state_before_the_transaction(ddb):
    # Item 2's condition reads item 1's key as it was before item 1 is written (DynamoDB semantics).
    ddb.transact_write_items(TransactItems=[put("b1", n={"N": "1"})])
    update = {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "b1"}, "sk": {"S": "META"}},
                         "UpdateExpression": "SET n = n + :one", "ConditionExpression": "n = :one",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    ddb.transact_write_items(TransactItems=[update, put("b2")])
    assert get(ddb, "b1")["n"] == {"N": "2"} and get(ddb, "b2") is not None


def test_a_write_failing_midway_is_rolled_back(ddb):
    ddb.transact_write_items(TransactItems=[put("c1", n={"N": "5"})])
    change = {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "c1"}, "sk": {"S": "META"}},
                         "UpdateExpression": "SET n = :six", "ExpressionAttributeValues": {":six": {"N": "6"}}}}
    bad = {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "c2"}, "sk": {"S": "META"}},
                      "UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[change, put("c3"), bad])
    assert get(ddb, "c1")["n"] == {"N": "5"} and get(ddb, "c3") is None and get(ddb, "c2") is None


def test_two_operations_on_one_item_are_refused(ddb):
    with pytest.raises(ClientError) as err:
        plain = {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "d1"}, "sk": {"S": "META"}}}}
        ddb.transact_write_items(TransactItems=[plain, plain])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert get(ddb, "d1") is None


def test_racing_conditional_writes_let_exactly_one_win(ddb):
    # Invariant: N concurrent attribute_not_exists puts of one key (each in a transaction): one wins.
    wins, barrier = [], threading.Barrier(12)

    def race(i):
        c = client(f"http://127.0.0.1:{ddb.meta.endpoint_url.rsplit(':', 1)[1]}")
        barrier.wait()
        try:
            c.transact_write_items(TransactItems=[put("hot", who={"N": str(i)}), put(f"side-{i}")])
            wins.append(i)
        except ClientError:
            pass

    threads = [threading.Thread(target=race, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and get(ddb, "hot")["who"] == {"N": str(wins[0])}
    assert [get(ddb, f"side-{i}") is not None for i in range(12)].count(True) == 1


def test_concurrent_updates_are_atomic(ddb):
    # Invariant: 8 threads x 25 unconditional `ADD n :one` updates of one item leave n = 200 (no lost update)
    ddb.transact_write_items(TransactItems=[put("counter", n={"N": "0"})])
    endpoint = ddb.meta.endpoint_url

    def add(_):
        c = client(endpoint)
        for _ in range(25):
            c.update_item(TableName=TABLE, Key={"pk": {"S": "counter"}, "sk": {"S": "META"}},
                          UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}})

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert get(ddb, "counter")["n"] == {"N": "200"}


def test_a_list_page_cut_by_the_1_mb_limit_reads_on_until_full(ddb):
    """Invariant P1: every list page is full or the last one, and a page that is not the last carries a
    cursor, also when DynamoDB stops a Query at 1 MB before its Limit."""
    from shared.cursor import CursorCodec
    from shared.repositories.dynamo import Dynamo
    from shared.repositories.pages import PageQuery, read_page
    from shared.settings import Settings

    # Given 9 items of ~300 KB in one partition (a Query returns at most 3-4 of them per 1 MB page)
    blob = {"S": "x" * 300_000}
    for n in range(9):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "big"}, "sk": {"S": f"ITEM#{n}"}, "blob": blob})
    first = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
        ":pk": {"S": "big"}}, Limit=6)
    assert len(first["Items"]) < 6 and "LastEvaluatedKey" in first  # DynamoDB Local cuts as DynamoDB does
    db = Dynamo(Settings(TABLE_NAME=TABLE, CURSOR_SECRET="p" * 16, DYNAMODB_ENDPOINT="unused"),
                client_factory=lambda: ddb)
    codec = CursorCodec(b"p" * 16)
    query = PageQuery("pk = :pk", {}, {":pk": {"S": "big"}}, consistent=True)
    # When they are listed 5 a page
    pages, cursor = [], None
    while True:
        items, cursor = read_page(db, codec, query, scope="test", limit=5, cursor=cursor)
        pages.append([i["sk"] for i in items])
        if cursor is None:
            break
    # Then the first page is full (not cut at 1 MB), the second holds the rest, and nothing is lost or repeated
    assert pages == [[f"ITEM#{n}" for n in range(5)], [f"ITEM#{n}" for n in range(5, 9)]]

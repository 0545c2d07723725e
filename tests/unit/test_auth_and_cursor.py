"""Claims parsing, tenant rules, and tamper-proof cursors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.auth import Principal, parse_groups, principal_from_event
from shared.cursor import CursorCodec, Owner, owned_scope, scope_of
from shared.errors import BadRequest, Forbidden, NotFound, Unauthorized


@pytest.mark.parametrize(("raw", "groups"), [
    (["finance-admin", "finance-viewer"], {"finance-admin", "finance-viewer"}),
    ("[finance-admin finance-viewer]", {"finance-admin", "finance-viewer"}),
    ("[finance-admin]", {"finance-admin"}),
    ('["finance-admin","platform-admin"]', {"finance-admin", "platform-admin"}),
    ("finance-viewer", {"finance-viewer"}),
    ("[]", set()), ("", set()), (None, set()), (7, set()),
])
def test_groups_as_list_or_api_gateway_flattened_string(raw, groups):
    assert parse_groups(raw) == groups


def event(claims):
    return {"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}


def test_principal_needs_a_subject():
    with pytest.raises(Unauthorized):
        principal_from_event({"requestContext": {}})
    with pytest.raises(Unauthorized):
        principal_from_event(event({"partner_id": "ptn_a"}))


def test_tenant_rules():
    admin = principal_from_event(event({"sub": "a", "partner_id": "ptn_a", "groups": "[finance-admin]"}))
    viewer = Principal("v", "ptn_a", frozenset({"finance-viewer"}))
    platform = Principal("p", None, frozenset({"platform-admin"}))
    nobody = Principal("n", "ptn_a", frozenset())
    assert admin.require_writer() == "ptn_a"
    with pytest.raises(Forbidden):
        viewer.require_writer()
    # Another partner's record is "not found" for reads and writes alike
    with pytest.raises(NotFound):
        admin.check_read("ptn_b", "Payment")
    with pytest.raises(NotFound):
        admin.check_write("ptn_b", "Payment")
    with pytest.raises(Forbidden):
        viewer.check_write("ptn_a", "Payment")
    with pytest.raises(NotFound):
        nobody.check_read("ptn_a", "Payment")
    platform.check_read("ptn_b", "Payment")
    with pytest.raises(Forbidden):
        platform.check_write("ptn_b", "Payment")


codec = CursorCodec(b"0123456789abcdef0123456789abcdef")
keys = st.dictionaries(st.sampled_from(["pk", "sk", "gsi1pk", "gsi1sk"]), st.text(max_size=60), min_size=1)


@given(keys, st.text(max_size=20))
def test_cursor_round_trips_within_its_scope(key, filt):
    scope = scope_of("ptn_a", "payments", {"method": filt})
    assert codec.decode(codec.encode(key, scope), scope) == key


@given(keys, st.integers(min_value=0, max_value=200), st.characters(codec="ascii"))
def test_any_altered_cursor_is_refused(key, position, char):
    # Invariant: changing any character of a cursor makes it invalid (HMAC over the payload).
    scope = scope_of("ptn_a", "payments", {})
    cursor = codec.encode(key, scope)
    position %= len(cursor)
    if cursor[position] == char:
        return
    forged = cursor[:position] + char + cursor[position + 1:]
    with pytest.raises(BadRequest):
        codec.decode(forged, scope)


def test_cursor_for_the_longest_real_key_fits():
    # Found by the round-trip property: a page ending on an organization with a long non-Latin name.
    name = "\U0001f600" * 200  # 200 four-byte characters, the longest organization name
    key = {"pk": "ORG#org_01M802HDVRG1XCDBGDKS3WNG78", "sk": "META", "gsi1pk": "P#ptn_0123456789ab#ORG",
           "gsi1sk": f"{name}#org_01M802HDVRG1XCDBGDKS3WNG78"}
    scope = scope_of("ptn_a", "organizations", {"name": None})
    assert codec.decode(codec.encode(key, scope), scope) == key


def test_cursor_of_another_scope_or_secret_is_refused():
    scope = scope_of("ptn_a", "payments", {})
    cursor = codec.encode({"pk": "x", "sk": "y"}, scope)
    for other_codec, other_scope in ((codec, scope_of("ptn_b", "payments", {})),
                                     (CursorCodec(b"another-secret-of-32-bytes-long!"), scope)):
        with pytest.raises(BadRequest) as err:
            other_codec.decode(cursor, other_scope)
        assert err.value.code == "invalid_cursor"
    for garbage in ("", ".", "abc", "a.b.c", "x" * 9000, ".\u0098\u0093", "é.é"):  # non-ASCII: found by schemathesis
        with pytest.raises(BadRequest):
            codec.decode(garbage, scope)


@given(keys, st.sampled_from([None, "org_01JZ8Q6A1B2C3D4E5F6G7H8J9K", "pay_01JZ8Q6A1B2C3D4E5F6G7H8J9K"]))
def test_a_cursor_carries_the_owner_it_was_issued_for(key, resource):
    # Invariant (issue 25, finding 6): the owner read back from a cursor is the one it was issued for, and its
    # scope still binds it (another owner's scope refuses it)
    owner = Owner("ptn_a", resource)
    scope = owned_scope(owner, "ptn_home", "wallet_transactions", {})
    cursor = codec.encode(key, scope)
    assert codec.owner(cursor) == owner
    assert codec.decode(cursor, scope) == key
    with pytest.raises(BadRequest):
        codec.decode(cursor, owned_scope(Owner("ptn_b", resource), "ptn_home", "wallet_transactions", {}))


def test_a_cursor_without_an_owner_or_not_ours_names_none():
    # Given a cursor whose scope names no owner, a forged one, and one under another secret
    plain = codec.encode({"pk": "x"}, scope_of("ptn_a", "payments", {}))
    foreign = CursorCodec(b"another-secret-of-32-bytes-long!").encode({"pk": "x"}, owned_scope(Owner("ptn_a"), "r"))
    for cursor in (plain, plain[:-1] + ("A" if plain[-1] != "A" else "B"), foreign, ""):
        # Then asking for its owner is 400 invalid_cursor
        with pytest.raises(BadRequest) as err:
            codec.owner(cursor)
        assert err.value.code == "invalid_cursor"


def test_a_first_pages_cursor_is_reissued_for_its_owner():
    # Given a first page's cursor read under a provisional scope
    cursor = codec.encode({"pk": "x", "sk": "y"}, "first-page")
    owned = owned_scope(Owner("ptn_a", "org_1"), "ptn_home", "withdrawals", {})
    # When it is reissued for the owner its rows showed
    again = codec.reissue(cursor, "first-page", owned)
    # Then it resumes at the same key under the owner's scope, and the provisional scope no longer opens it
    assert again is not None and codec.decode(again, owned) == {"pk": "x", "sk": "y"}
    assert codec.owner(again) == Owner("ptn_a", "org_1")
    with pytest.raises(BadRequest):
        codec.decode(again, "first-page")
    assert codec.reissue(None, "first-page", owned) is None

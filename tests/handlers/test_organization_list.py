"""The organization list on the organizations' name locks (GSI1 `P#{ptn}#ORG`): a debit writes nothing to it, the
list keeps its order, name-prefix search and paging, also over organizations stored before the move (their keys on
META) and while `organizations_backfill` moves them; real events and DynamoDB Local."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.domain.organization import Organization, name_key
from shared.domain.settings import default_settings
from shared.ids import new_id
from shared.repositories.dynamo import Dynamo, to_av, values
from shared.repositories.organizations import (
    NAME_LOCKS,
    ORGANIZATIONS,
    OrganizationNameLock,
    list_keys,
    partner_index_pk,
)
from shared.repositories.organizations_backfill import backfill
from shared.repositories.registry import item_of
from shared.settings import get_settings
from tests.conftest import new_partner
from tests.handlers.conftest import NO_KEY, admin, create_org, record

AT = "2026-11-01T00:00:00.000Z"


def db() -> Dynamo:
    return Dynamo(get_settings())


def stored_before_the_move(partner: str, name: str, *, lock_listed: bool = False) -> dict[str, Any]:
    """An organization as the code before the move wrote it: the list's keys on META, none on the name lock (or,
    `lock_listed`, as the expand release's backfill leaves it: on both)."""
    org = Organization(id=new_id("org"), partner_id=partner, name=name, currency="SGD", created_at=AT, created_by="t",
                       wallet_updated_at=AT, settings=default_settings(AT))
    lock = {k: v for k, v in item_of(OrganizationNameLock(partner_id=partner, name=name, org_id=org.id)).items()
            if lock_listed or not k.startswith("gsi1")}
    d = db()
    d.transact([d.put_new(item_of(org) | list_keys(partner, name, org.id)), d.put_new(lock)])
    return {"id": org.id, "name": name}


def rename(org: dict[str, Any], to: str) -> dict[str, Any]:
    """What a rename would write (the API has none yet: docs/decisions.md), in one transaction: the new name's lock
    (with the list's keys, as every lock is written), the old one deleted, the organization under its new name."""
    d = db()
    current = ORGANIZATIONS.from_item(d.get(ORGANIZATIONS.key(org["id"])) or {})
    renamed = current.model_copy(update={"name": to, "version": current.version + 1})
    d.transact([d.put_new(item_of(OrganizationNameLock(partner_id=current.partner_id, name=to, org_id=current.id))),
                d.delete_if(NAME_LOCKS.key(current.partner_id, current.name), "org_id = :org", values(org=current.id)),
                d.put_if(item_of(renamed), "version = :v", values(v=current.version))])
    return {"id": current.id, "name": to}


def list_entries(partner: str) -> list[dict[str, Any]]:
    """The partner's list partition as GSI1 holds it (every item, whole: GSI1 projects ALL)."""
    return db().query_all(key_condition="gsi1pk = :pk", names={}, index="GSI1",
                          vals={":pk": {"S": partner_index_pk(partner)}})


def listed(lambdas, partner: str, prefix: str | None = None, limit: int = 50) -> list[list[str]]:
    """Every page of the organization list (ids), following its cursors, as the partner's admin reads it."""
    pages, query = [], {"limit": str(limit)} | ({"name": prefix} if prefix is not None else {})
    while True:
        status, body = lambdas.accounts("list_organizations", query=query, **admin(partner))
        assert status == 200, body
        pages.append([o["id"] for o in body["items"]])
        if body["next_cursor"] is None:
            return pages
        query = query | {"cursor": body["next_cursor"]}


def expected(orgs: list[dict[str, Any]], prefix: str | None = None) -> list[str]:
    """The list's promise: by name (case- and space-folded), then id, as its index's sort key `{name}#{id}` orders them
    ("a b" before "a": " " is before "#"); a prefix keeps the names it folds to."""
    folded = name_key(prefix or "")
    return [o["id"] for o in sorted(orgs, key=lambda o: f"{name_key(o['name'])}#{o['id']}")
            if name_key(o["name"]).startswith(folded)]


def test_a_debit_writes_nothing_to_the_organization_list_index(lambdas, partner):
    # Given an organization with money in its wallet (a payment topped it up)
    org = create_org(lambdas, partner)
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": 5_000},
                                   headers=NO_KEY, **admin(partner))
    assert status == 200
    before, entries_before = {_key(i): i for i in lambdas.snapshot()}, list_entries(partner)
    # When the rating system debits it through the handler
    status, entry = lambdas.accounts("debit_wallet", path={"org_id": org["id"]}, headers=NO_KEY,
                                     body={"amount": 1_200, "reference": "cdr"}, **admin(partner))
    assert status == 201 and entry["balance_after"] == 3_800
    # Then no item it wrote (the organization, its ledger entry) carries GSI1's keys: GSI1 was not written
    after = {_key(i): i for i in lambdas.snapshot()}
    written = [i for k, i in after.items() if before.get(k) != i]
    assert {i["sk"]["S"].split("#")[0] for i in written} >= {"META", "LEDGER"}
    assert [i for i in written if "gsi1pk" in i or "gsi1sk" in i] == []
    # And the partner's list partition is as it was: the name lock's entry alone, unchanged
    assert list_entries(partner) == entries_before
    assert [e["entity"] for e in entries_before] == ["organization_name"]
    # And the list still shows the organization
    assert listed(lambdas, partner) == [[org["id"]]]


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["pk"]["S"], item["sk"]["S"]


NAMES = st.lists(st.text(alphabet="aAbB ", min_size=1, max_size=4).filter(lambda n: n.strip()), min_size=1,
                 max_size=7, unique_by=name_key)
STATES = st.sampled_from(["new", "renamed", "before", "moving"])


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(names=NAMES, states=st.lists(STATES, min_size=7, max_size=7), prefix=st.sampled_from([None, "a", "A b", " B"]),
       limit=st.integers(1, 3), debited=st.booleans())
def test_the_list_is_by_name_prefix_searched_and_paged_whatever_each_organization_s_storage(
        lambdas, names, states, prefix, limit, debited):
    # Invariant: the pages, followed to the end, hold each of the partner's organizations whose folded name starts
    # with the folded prefix exactly once, in (folded name, id) order, whether the organization was created after the
    # move (listed by its lock), renamed since (listed by its new lock only), created before the move (listed by META)
    # or is being moved (listed by both), and whether, moved, a write of META since (a debit, a settings change) took
    # its old keys off.
    # Given a partner's organizations in each of those states
    partner, orgs = new_partner(), []
    for name, state in zip(names, states, strict=False):
        if state in ("new", "renamed"):  # a rename gives a name no other has ("z" is not in NAMES' alphabet)
            created = create_org(lambdas, partner, f"z{name}" if state == "renamed" else name)
            orgs.append(rename(created, name) if state == "renamed" else created)
            continue
        orgs.append(stored_before_the_move(partner, name, lock_listed=state == "moving"))
        if state == "moving" and debited:  # moved (META marked listed by its lock) and written since: META's old
            d = db()                      # keys are gone, the lock alone lists it
            current = ORGANIZATIONS.from_item(d.get(ORGANIZATIONS.key(orgs[-1]["id"])) or {})
            moved = current.model_copy(update={"version": 2, "listed_by_lock": True})
            d.transact([d.put_if(item_of(moved), "version = :v", values(v=1))])
    # When every page is read, `limit` at a time
    pages = listed(lambdas, partner, prefix, limit)
    # Then they hold what the list promises, each once, and no page is longer than the limit
    assert [i for page in pages for i in page] == expected(orgs, prefix)
    assert all(len(page) <= limit for page in pages)


def test_the_backfill_moves_the_list_onto_the_locks_and_the_list_is_whole_before_during_and_after(lambdas, partner):
    # Given five organizations stored before the move (their list keys on META), two of them half-moved (their locks
    # listed too, as a run stopped midway leaves them), and one created after the move
    orgs = [stored_before_the_move(partner, n, lock_listed=n in ("alpha", "Echo"))
            for n in ("Delta", "alpha", "Charlie", "bravo", "Echo")]
    orgs.append(create_org(lambdas, partner, "Alpine"))
    whole = expected(orgs)
    assert len(list_entries(partner)) == 8
    # Then before the backfill the list is whole and has no duplicates, at every page size and with a prefix
    for limit in (1, 2, 50):
        assert [i for p in listed(lambdas, partner, limit=limit) for i in p] == whole
    assert [i for p in listed(lambdas, partner, "al", 1) for i in p] == expected(orgs, "al")
    # When the backfill runs
    moved = backfill(db(), partner)
    # Then each lock is listed, each META item left the list, the locks alone list the organizations, the same list
    assert (moved.found, moved.listed, moved.removed, moved.gave_up) == (5, 3, 5, 0)
    assert [e["entity"] for e in list_entries(partner)] == ["organization_name"] * 6
    assert [i for p in listed(lambdas, partner, limit=2) for i in p] == whole
    # And a second run finds nothing to do
    again = backfill(db(), partner)
    assert (again.found, again.listed, again.removed, again.gave_up) == (0, 0, 0, 0)


def test_an_organization_stored_before_the_move_stays_listed_through_its_writes_until_the_backfill_moves_it(
        lambdas, partner):
    # Given an organization stored before the move (its list entry on META, its lock not listed) and money in it
    org = stored_before_the_move(partner, "Before")
    payment = record(lambdas, partner, org_id=org["id"], amount=5_000)
    status, _ = lambdas.allocation("top_up_from_payment", path={"payment_id": payment["id"]}, body={"amount": 5_000},
                                   headers=NO_KEY, **admin(partner))
    assert status == 200
    # When this release debits it before any backfill has run (the deploy first, the backfill after)
    status, body = lambdas.accounts("debit_wallet", path={"org_id": org["id"]},
                                    body={"amount": 1_000, "reference": "usage-1"}, headers=NO_KEY, **admin(partner))
    assert status == 201, body
    # Then META, rewritten, keeps the list's keys: the organization is still listed (it would vanish for good
    # otherwise: no lock entry, and the backfill finds organizations through that list)
    meta = db().get(ORGANIZATIONS.key(org["id"])) or {}
    assert {k: meta.get(k) for k in ("gsi1pk", "gsi1sk")} == list_keys(partner, "Before", org["id"])
    assert "listed_by_lock" not in meta
    assert listed(lambdas, partner) == [[org["id"]]]
    # When the backfill runs, and the organization is debited again
    moved = backfill(db(), partner)
    assert (moved.found, moved.listed, moved.removed, moved.gave_up) == (1, 1, 1, 0)
    status, body = lambdas.accounts("debit_wallet", path={"org_id": org["id"]},
                                    body={"amount": 1_000, "reference": "usage-2"}, headers=NO_KEY, **admin(partner))
    assert status == 201, body
    # Then META is written without the keys from then on, and the lock alone lists it, once
    meta = db().get(ORGANIZATIONS.key(org["id"])) or {}
    assert "gsi1pk" not in meta and meta["listed_by_lock"] is True
    assert [e["entity"] for e in list_entries(partner)] == ["organization_name"]
    assert listed(lambdas, partner) == [[org["id"]]]


def test_the_backfill_gives_up_on_a_lock_that_is_missing_and_leaves_that_organization_listed_on_meta(lambdas, partner):
    # Given an organization stored before the move whose name lock is gone (never so written: a damaged item)
    org = stored_before_the_move(partner, "Orphan")
    d = db()
    d.client.delete_item(TableName=d.table, Key=to_av(NAME_LOCKS.key(partner, "Orphan")))
    # When the backfill runs
    moved = backfill(d, partner)
    # Then it gives up on it (the command exits 1), and leaves META listed: the organization is not lost from the list
    assert (moved.found, moved.listed, moved.removed, moved.gave_up) == (1, 0, 0, 1)
    assert listed(lambdas, partner) == [[org["id"]]]

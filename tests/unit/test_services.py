"""Use cases of shared/services on the in-memory store of tests/fakes.py: each rule that needs no DynamoDB,
pinned where the service applies it (what the service writes, and that a refused request writes nothing).

The same rules are also checked through the real handlers on DynamoDB Local in tests/handlers; what only
DynamoDB can answer (keyed idempotency, a repository's own conditional updates, lists) is tested there only.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from shared.auth import Principal
from shared.domain.audit import AuditRecord
from shared.domain.organization import LedgerEntry, Organization, PaymentSettings
from shared.domain.payment import Allocation, Payment
from shared.domain.settings import default_settings
from shared.errors import ApiError, Conflict, Forbidden, NotFound, PreconditionFailed, Unprocessable
from shared.ids import new_id
from shared.models import DebitIn, OrganizationCreate, PaymentCreate, PaymentPatch
from shared.repositories.organizations import OrganizationNameLock
from shared.responses.payments import PaymentOut
from shared.services.accounts import AccountService
from shared.services.payments import PaymentService
from shared.top_up_models import PaymentSettingsIn
from tests.fakes import FakeIdempotency, FakeStore

PARTNER, OTHER_PARTNER = "ptn_0a1b2c3d4e5f", "ptn_5f4e3d2c1b0a"
ADMIN = Principal(sub="admin@example.com", partner_id=PARTNER, groups=frozenset({"finance-admin"}))
VIEWER = Principal(sub="viewer@example.com", partner_id=PARTNER, groups=frozenset({"finance-viewer"}))
OTHER_ADMIN = Principal(sub="admin@other.example", partner_id=OTHER_PARTNER, groups=frozenset({"finance-admin"}))
AT = "2026-11-21T00:00:00.000Z"
NO_KEY = None  # no Idempotency-Key: keyed requests are Powertools' on DynamoDB (tests/handlers)


def json_of(answer: Any) -> Any:
    """A service's answer as its JSON body (a response model dumped; anything else as it is)."""
    return answer.model_dump(mode="json") if isinstance(answer, BaseModel) else answer


def payment_out(payment: Payment) -> dict[str, Any]:
    return PaymentOut.of_record(payment).model_dump(mode="json")


# --- given-steps -----------------------------------------------------------------------------------------
def organization(**fields: Any) -> Organization:
    base = {"id": new_id("org"), "partner_id": PARTNER, "name": "Acme Telecom", "currency": "SGD",
            "created_at": AT, "created_by": "seed", "wallet_updated_at": AT, "settings": default_settings(AT)}
    return Organization(**(base | fields))


def payment(**fields: Any) -> Payment:
    base = {"id": new_id("pay"), "partner_id": PARTNER, "amount": 10_000, "currency": "SGD",
            "received_date": "2026-11-20", "method": "cheque", "created_at": AT, "created_by": "seed",
            "updated_at": AT}
    return Payment(**(base | fields))


def allocated(amount: int, **fields: Any) -> Payment:
    """An assigned payment with `amount` allocated to an invoice."""
    return payment(org_id=new_id("org"), allocations=[Allocation(invoice_id=new_id("inv"), kind="invoice",
                                                                 amount=amount, allocated_at=AT)], **fields)


def stripe_settings(**fields: Any) -> PaymentSettings:
    """What a successful online top-up left: the `stripe` method with the values chosen during it."""
    return PaymentSettings(**({"method": "stripe", "trigger_amount": 20_000, "limit_threshold": 5_000,
                               "auto_trigger": True, "updated_at": AT} | fields))


def payments_of(store: FakeStore, idempotency: FakeIdempotency | None = None) -> PaymentService:
    return PaymentService(store, None, idempotency or FakeIdempotency())  # type: ignore[arg-type]  # lists only


def accounts_of(store: FakeStore, idempotency: FakeIdempotency | None = None) -> AccountService:
    return AccountService(store, None, None, None, idempotency or FakeIdempotency())  # type: ignore[arg-type]


def refused(error: type[ApiError], code: str, store: FakeStore, call: Any) -> ApiError:
    """The call is refused with `code`, and the store is left as it was (nothing committed)."""
    before, commits = store.snapshot(), store.commits
    with pytest.raises(error) as raised:
        call()
    assert raised.value.code == code
    assert store.snapshot() == before and store.commits == commits
    return raised.value


def audits(store: FakeStore) -> list[tuple[str, str, str]]:
    return sorted((r.action, r.entity_id, r.actor) for r in store.records(AuditRecord))


def new_payment(**fields: Any) -> PaymentCreate:
    return PaymentCreate.model_validate({"amount": 12_550, "currency": "SGD", "received_date": "2026-11-20",
                                         "method": "cheque", **fields})


def settings_in(**fields: Any) -> PaymentSettingsIn:
    return PaymentSettingsIn.model_validate({"method": "master_account", "trigger_amount": 50_000,
                                             "limit_threshold": 10_000, "auto_trigger": True, **fields})


# --- PaymentService.create -------------------------------------------------------------------------------
def test_create_without_a_key_records_an_unassigned_payment_and_its_audit_once():
    # Given an empty store
    store, idempotency = FakeStore(), FakeIdempotency()
    # When a finance admin records a payment without an Idempotency-Key
    out = json_of(payments_of(store, idempotency).create(ADMIN, new_payment(reference="CHQ-1"), NO_KEY))
    # Then it is unassigned, at version 1, nothing allocated, five assignment edits left
    assert (out["status"], out["org_id"], out["version"], out["allocated_amount"], out["unallocated_amount"],
            out["assignment_edits"], out["assignment_edits_remaining"]) == ("unassigned", None, 1, 0, 12_550, 0, 5)
    # And the payment and its audit record were written in one commit, under the caller's partner
    [stored] = store.records(Payment)
    assert payment_out(stored) == out and stored.partner_id == PARTNER and stored.created_by == ADMIN.sub
    assert audits(store) == [("payment.created", out["id"], ADMIN.sub)]
    assert store.commits == 1
    # And it went through idempotency once, scoped to the partner and the operation
    assert idempotency.scopes == [f"{PARTNER}#payment.create"]


def test_create_for_an_organization_assigns_it_at_once_as_the_first_edit():
    org = organization()
    store = FakeStore(org)
    out = json_of(payments_of(store).create(ADMIN, new_payment(org_id=org.id), NO_KEY))
    assert (out["status"], out["org_id"], out["assignment_edits"], out["assignment_edits_remaining"]) == (
        "assigned", org.id, 1, 4)


def test_create_refuses_an_unknown_or_foreign_organization_and_another_currency_writing_nothing():
    usd, foreign = organization(currency="USD"), organization(partner_id=OTHER_PARTNER)
    store = FakeStore(usd, foreign)
    service = payments_of(store)
    for org_id, code in ((usd.id, "currency_mismatch"), (foreign.id, "organization_not_found"),
                         (new_id("org"), "organization_not_found")):
        refused(Unprocessable, code, store, lambda o=org_id: service.create(ADMIN, new_payment(org_id=o), NO_KEY))


def test_a_viewer_may_not_record_a_payment():
    store = FakeStore()
    refused(Forbidden, "forbidden", store, lambda: payments_of(store).create(VIEWER, new_payment(), NO_KEY))


# --- PaymentService.patch --------------------------------------------------------------------------------
def test_patch_without_if_match_edits_bumps_the_version_and_audits_the_diff():
    # Given a payment at version 1
    stored = payment()
    store = FakeStore(stored)
    # When its amount and remark are edited without If-Match
    out = json_of(payments_of(store).patch(ADMIN, stored.id, PaymentPatch.model_validate({"amount": 13_000,
                                                                                  "remark": "fixed"}), None))
    # Then the stored payment is the edited one, at version 2
    assert (out["amount"], out["remark"], out["version"]) == (13_000, "fixed", 2)
    assert payment_out(store.get(Payment, stored.id)) == out
    # And one audit record says who changed what
    [record] = store.records(AuditRecord)
    assert (record.action, record.actor, record.entity_id) == ("payment.updated", ADMIN.sub, stored.id)
    assert record.changes == {"amount": {"from": 10_000, "to": 13_000}, "remark": {"from": None, "to": "fixed"}}


def test_patch_that_changes_nothing_writes_nothing():
    stored = payment(remark="same")
    store = FakeStore(stored)
    out = json_of(payments_of(store).patch(ADMIN, stored.id, PaymentPatch.model_validate({"remark": "same"}), '"1"'))
    assert out == payment_out(stored) and store.commits == 0


def test_patch_at_the_current_version_is_accepted_and_a_stale_if_match_is_412_writing_nothing():
    # Given a payment at version 3
    stored = payment(version=3)
    store = FakeStore(stored)
    service = payments_of(store)
    # When edited with If-Match: "3": accepted, now at version 4
    assert service.patch(ADMIN, stored.id, PaymentPatch.model_validate({"amount": 11_000}), '"3"').version == 4
    # When edited again with If-Match 3 (stale): 412 version_mismatch and nothing written
    stale = PaymentPatch.model_validate({"amount": 1})
    refused(PreconditionFailed, "version_mismatch", store, lambda: service.patch(ADMIN, stored.id, stale, "3"))
    refused(PreconditionFailed, "version_mismatch", store, lambda: service.patch(ADMIN, stored.id, stale, 'W/"2"'))
    assert store.get(Payment, stored.id).amount == 11_000


def test_patch_with_if_match_that_loses_a_race_is_reread_and_answers_412():
    # Given a payment at version 1, and another request that commits its edit (version 2) just before ours
    stored = payment()
    theirs = stored.model_copy(update={"remark": "theirs", "version": 2})
    store = FakeStore(stored)
    store.before_next_commit(lambda: store.put(theirs))
    # When it is edited with If-Match: 1
    with pytest.raises(PreconditionFailed):
        payments_of(store).patch(ADMIN, stored.id, PaymentPatch.model_validate({"amount": 9_000}), "1")
    # Then the lost race was re-read, the version no longer matched, and only their edit is stored
    assert store.get(Payment, stored.id) == theirs and store.records(AuditRecord) == [] and store.commits == 0


def test_patch_without_if_match_that_loses_a_race_is_applied_to_the_reread_payment():
    stored = payment()
    store = FakeStore(stored)
    store.before_next_commit(lambda: store.put(stored.model_copy(update={"remark": "theirs", "version": 2})))
    out = json_of(payments_of(store).patch(ADMIN, stored.id, PaymentPatch.model_validate({"amount": 9_000}), None))
    # Both edits survive: ours was decided again on their version
    assert (out["amount"], out["remark"], out["version"]) == (9_000, "theirs", 3)
    assert payment_out(store.get(Payment, stored.id)) == out
    [record] = store.records(AuditRecord)
    assert record.changes == {"amount": {"from": 10_000, "to": 9_000}}


def test_amount_may_not_go_below_what_is_allocated():
    # Given a payment of 10,000 with 6,000 allocated
    stored = allocated(6_000)
    store = FakeStore(stored)
    service = payments_of(store)
    # When its amount is set to 5,999: 409 amount_below_allocated, nothing written
    below = PaymentPatch.model_validate({"amount": 5_999})
    refused(Conflict, "amount_below_allocated", store, lambda: service.patch(ADMIN, stored.id, below, None))
    # When set to exactly the allocated 6,000: accepted, and fully allocated
    out = json_of(service.patch(ADMIN, stored.id, PaymentPatch.model_validate({"amount": 6_000}), None))
    assert (out["amount"], out["status"], out["unallocated_amount"]) == (6_000, "allocated", 0)


def test_another_partners_payment_is_not_found_and_a_viewer_may_not_edit():
    stored = payment()
    store = FakeStore(stored)
    service, edit = payments_of(store), PaymentPatch.model_validate({"amount": 1_000})
    refused(NotFound, "not_found", store, lambda: service.patch(OTHER_ADMIN, stored.id, edit, None))
    refused(NotFound, "not_found", store, lambda: service.delete(OTHER_ADMIN, stored.id, None))
    refused(NotFound, "not_found", store, lambda: service.patch(ADMIN, new_id("pay"), edit, None))
    refused(Forbidden, "forbidden", store, lambda: service.patch(VIEWER, stored.id, edit, None))


# --- PaymentService.delete -------------------------------------------------------------------------------
def test_delete_is_refused_while_anything_is_allocated_and_writes_nothing():
    stored = allocated(1)
    store = FakeStore(stored)
    refused(Conflict, "payment_has_allocations", store, lambda: payments_of(store).delete(ADMIN, stored.id, None))
    assert store.get(Payment, stored.id) == stored


def test_delete_removes_the_payment_and_keeps_its_audit_history():
    stored = payment()
    store = FakeStore(stored)
    payments_of(store).delete(ADMIN, stored.id, '"1"')
    assert store.get(Payment, stored.id) is None
    [record] = store.records(AuditRecord)
    assert (record.action, record.entity_id, record.changes) == ("payment.deleted", stored.id,
                                                                 {"payment": payment_out(stored)})


def test_delete_with_a_stale_if_match_is_412_writing_nothing():
    stored = payment(version=2)
    store = FakeStore(stored)
    refused(PreconditionFailed, "version_mismatch", store, lambda: payments_of(store).delete(ADMIN, stored.id, "1"))


def test_delete_that_races_an_allocation_is_decided_again_and_refused():
    # Given an unallocated payment, and an allocation committed just before our delete
    stored = payment(org_id=new_id("org"))
    theirs = stored.model_copy(update={"version": 2, "allocations": [
        Allocation(invoice_id=new_id("inv"), kind="invoice", amount=100, allocated_at=AT)]})
    store = FakeStore(stored)
    store.before_next_commit(lambda: store.put(theirs))
    # When it is deleted: the re-read payment has allocations
    with pytest.raises(Conflict) as err:
        payments_of(store).delete(ADMIN, stored.id, None)
    assert err.value.code == "payment_has_allocations"
    # Then the payment stays as the allocation left it, and no deletion was audited
    assert store.get(Payment, stored.id) == theirs and store.records(AuditRecord) == []


# --- AccountService.create_organization ------------------------------------------------------------------
def test_create_organization_writes_it_with_its_name_lock_and_audit():
    store, idempotency = FakeStore(), FakeIdempotency()
    out = json_of(accounts_of(store, idempotency).create_organization(
        ADMIN, OrganizationCreate(name="Acme Telecom", currency="SGD"), NO_KEY))
    [org] = store.records(Organization)
    assert out == {"id": org.id, "name": "Acme Telecom", "currency": "SGD", "partner_id": PARTNER,
                   "created_at": org.created_at}
    assert (org.balance, org.settings.method, org.settings.auto_trigger) == (0, "cheque_or_tt", False)
    assert [(lock.partner_id, lock.org_id) for lock in store.records(OrganizationNameLock)] == [(PARTNER, org.id)]
    assert audits(store) == [("organization.created", org.id, ADMIN.sub)]
    assert idempotency.scopes == [f"{PARTNER}#organization.create"] and store.commits == 1


def test_organization_names_are_unique_per_partner_case_and_space_insensitively():
    # Given an organization "Acme Telecom"
    store = FakeStore()
    service = accounts_of(store)
    service.create_organization(ADMIN, OrganizationCreate(name="Acme Telecom", currency="SGD"), NO_KEY)
    # When the same partner creates "  ACME   telecom " (in another currency, even): 409, nothing written
    for name in ("  ACME   telecom ", "acme telecom"):
        body = OrganizationCreate(name=name, currency="USD")
        refused(Conflict, "organization_name_taken", store,
                lambda b=body: service.create_organization(ADMIN, b, NO_KEY))
    # But another partner may use the name
    other = service.create_organization(OTHER_ADMIN, OrganizationCreate(name="Acme Telecom", currency="SGD"), NO_KEY)
    assert other.partner_id == OTHER_PARTNER and len(store.records(Organization)) == 2


# --- AccountService.put_settings -------------------------------------------------------------------------
def test_put_settings_writes_the_change_with_its_audit_and_a_repeat_writes_nothing():
    org = organization()
    store = FakeStore(org)
    service = accounts_of(store)
    wanted = settings_in()
    out = json_of(service.put_settings(ADMIN, org.id, wanted))
    assert {k: out[k] for k in ("method", "trigger_amount", "limit_threshold", "auto_trigger")} == wanted.model_dump(
        exclude_unset=True)
    stored = store.get(Organization, org.id)
    assert stored.settings.model_dump(mode="json") == out and stored.version == 2
    [record] = store.records(AuditRecord)
    assert (record.action, record.changes["method"]) == ("payment_settings.updated",
                                                        {"from": "cheque_or_tt", "to": "master_account"})
    commits = store.commits
    assert json_of(service.put_settings(ADMIN, org.id, wanted)) == out and store.commits == commits


def test_stripe_is_set_by_an_online_top_up_not_by_put_settings():
    org = organization()
    store = FakeStore(org)
    refused(Conflict, "stripe_set_by_online_top_up", store,
            lambda: accounts_of(store).put_settings(ADMIN, org.id, settings_in(method="stripe")))


def test_stripe_settings_are_locked_but_auto_trigger_and_the_method_can_change():
    # Given a Stripe customer with trigger 20,000 at threshold 5,000
    org = organization(settings=stripe_settings())
    store = FakeStore(org)
    service = accounts_of(store)
    # When the trigger or the threshold is changed under `stripe`: 409 stripe_settings_locked, nothing written
    for change in ({"trigger_amount": 30_000}, {"limit_threshold": 4_999}):
        body = settings_in(**({"method": "stripe", "trigger_amount": 20_000, "limit_threshold": 5_000} | change))
        refused(Conflict, "stripe_settings_locked", store, lambda b=body: service.put_settings(ADMIN, org.id, b))
    # When only auto_trigger is switched: accepted
    off = settings_in(method="stripe", trigger_amount=20_000, limit_threshold=5_000, auto_trigger=False)
    assert service.put_settings(ADMIN, org.id, off).auto_trigger is False
    # When the method is changed to another one: accepted, with new values
    out = json_of(service.put_settings(ADMIN, org.id, settings_in(method="cheque_or_tt", trigger_amount=1,
                                                                  limit_threshold=0)))
    assert (out["method"], out["trigger_amount"], out["limit_threshold"]) == ("cheque_or_tt", 1, 0)
    assert store.get(Organization, org.id).version == 3


def test_put_settings_of_another_partners_organization_is_not_found():
    org = organization(partner_id=OTHER_PARTNER)
    store = FakeStore(org)
    refused(NotFound, "not_found", store, lambda: accounts_of(store).put_settings(ADMIN, org.id, settings_in()))


# --- AccountService.debit --------------------------------------------------------------------------------
def test_a_debit_may_take_the_wallet_to_exactly_zero():
    # Given a wallet holding 5,000 after one ledger entry
    org = organization(balance=5_000, ledger_seq=1)
    store, idempotency = FakeStore(org), FakeIdempotency()
    # When 5,000 of usage is debited
    out = json_of(accounts_of(store, idempotency).debit(ADMIN, org.id, DebitIn(amount=5_000, reference="cdr"), NO_KEY))
    # Then the entry takes it to zero, and the wallet and its ledger move together
    assert (out["type"], out["amount"], out["balance_after"], out["reference"]) == ("usage", -5_000, 0, "cdr")
    stored = store.get(Organization, org.id)
    assert (stored.balance, stored.ledger_seq, stored.version) == (0, 2, 2)
    [entry] = store.records(LedgerEntry)
    assert (entry.id, entry.seq, entry.amount, entry.balance_after) == (out["id"], 2, -5_000, 0)
    assert idempotency.scopes == [f"{PARTNER}#wallet.debit:{org.id}"] and store.commits == 1


def test_a_debit_below_zero_is_refused_and_writes_nothing():
    org = organization(balance=5_000, ledger_seq=1)
    store = FakeStore(org)
    refused(Conflict, "insufficient_balance", store,
            lambda: accounts_of(store).debit(ADMIN, org.id, DebitIn(amount=5_001, reference="cdr"), NO_KEY))
    assert store.get(Organization, org.id) == org


def test_only_the_partners_own_finance_admins_may_debit():
    org = organization(balance=5_000, ledger_seq=1)
    store = FakeStore(org)
    service, usage = accounts_of(store), DebitIn(amount=1, reference="cdr")
    platform = Principal(sub="ops@platform.example", partner_id=OTHER_PARTNER,
                         groups=frozenset({"finance-admin", "platform-admin"}))
    refused(Forbidden, "forbidden", store, lambda: service.debit(VIEWER, org.id, usage, NO_KEY))
    refused(NotFound, "not_found", store, lambda: service.debit(OTHER_ADMIN, org.id, usage, NO_KEY))
    refused(Forbidden, "forbidden", store, lambda: service.debit(platform, org.id, usage, NO_KEY))  # reads, not writes


def test_a_debit_that_loses_a_race_is_decided_again_on_the_new_balance():
    # Given a wallet of 5,000, and another debit of 3,000 committed just before ours
    org = organization(balance=5_000, ledger_seq=1)
    theirs = org.model_copy(update={"balance": 2_000, "ledger_seq": 2, "version": 2})
    store = FakeStore(org)
    store.before_next_commit(lambda: store.put(theirs))
    service = accounts_of(store)
    # When 3,000 more is debited: re-read, it no longer fits, and nothing of ours is written
    with pytest.raises(Conflict) as err:
        service.debit(ADMIN, org.id, DebitIn(amount=3_000, reference="cdr"), NO_KEY)
    assert err.value.code == "insufficient_balance"
    assert store.get(Organization, org.id) == theirs and store.records(LedgerEntry) == []
    # When 2,000 is debited after another race: it fits the re-read balance, numbered after their entry
    store.put(org)
    store.before_next_commit(lambda: store.put(theirs))
    out = json_of(service.debit(ADMIN, org.id, DebitIn(amount=2_000, reference="cdr"), NO_KEY))
    assert out["balance_after"] == 0
    stored = store.get(Organization, org.id)
    assert (stored.balance, stored.ledger_seq, stored.version) == (0, 3, 3)
    assert [(e.seq, e.balance_after) for e in store.records(LedgerEntry)] == [(3, 0)]

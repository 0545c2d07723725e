"""Organizations, their wallets and payment settings."""

from __future__ import annotations

from shared.auth import Principal
from shared.clock import utc_now_str
from shared.cursor import Owner
from shared.domain.organization import Organization
from shared.domain.settings import change_settings, customer_switch_only, default_settings, settings_changed
from shared.domain.wallet import Posting, post, post_partner
from shared.errors import Conflict, NotFound
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.models import DebitIn, OrganizationCreate, PartnerCreditIn
from shared.repositories.attempts import AttemptRepository
from shared.repositories.organizations import OrganizationNameLock, OrganizationRepository
from shared.repositories.partner_wallets import PartnerWalletRepository
from shared.repositories.store import Store
from shared.responses.accounts import (
    AttemptOut,
    AttemptPage,
    LedgerEntryOut,
    LedgerEntryPage,
    OrganizationOut,
    OrganizationPage,
    PartnerLedgerEntryOut,
    PartnerWalletOut,
    SettingsOut,
    WalletOut,
)
from shared.services.common import (
    FIRST_PAGE,
    audit,
    cursor_scope,
    issued,
    list_scope,
    once,
    organization_for,
    with_retries,
)
from shared.top_up_models import PaymentSettingsIn


class AccountService:
    def __init__(self, store: Store, organizations: OrganizationRepository, attempts: AttemptRepository,
                 wallets: PartnerWalletRepository, idempotency: Idempotency):
        self.store = store
        self.organizations = organizations
        self.attempts = attempts
        self.wallets = wallets
        self.idempotency = idempotency

    def auto_top_ups(self, principal: Principal, org_id: str, limit: int, cursor: str | None) -> AttemptPage:
        if cursor is None:  # the owner is read first; a cursor carries it (checked before the page is read)
            org = self._organization(principal, org_id)
            scope = list_scope(principal, "auto_top_ups", owner=Owner(org.partner_id, org_id))
        else:
            scope = cursor_scope(self.store.cursors, principal, "auto_top_ups", org_id, cursor)
        attempts, next_cursor = self.attempts.page(org_id, limit=limit, cursor=cursor, scope=scope)
        return AttemptPage(items=[AttemptOut.of_record(a) for a in attempts], next_cursor=next_cursor)

    # --- partners' master wallets -----------------------------------------------------------------------
    def partner_wallet(self, principal: Principal, partner_id: str) -> PartnerWalletOut:
        principal.check_read(partner_id, "Partner")
        return PartnerWalletOut.of_wallets(partner_id, self.wallets.all(partner_id))

    def credit_partner(self, principal: Principal, partner_id: str, body: PartnerCreditIn,
                       key: str | None) -> PartnerLedgerEntryOut:
        """A platform admin credits a partner's master wallet; the ledger entry is the audit record."""
        principal.require_platform_admin()

        def attempt(complete: Completion | None) -> PartnerLedgerEntryOut:
            wallet = self.wallets.get(partner_id, body.currency)
            credited, entry = post_partner(wallet, "credit", body.amount, body.reference, actor=principal.sub,
                                           at=utc_now_str())
            uow = self.store.unit_of_work()
            uow.create(credited) if wallet.version == 0 else uow.save(credited, wallet.version)
            uow.create(entry)
            return uow.commit_returning(PartnerLedgerEntryOut.mirror(entry), complete)

        return once(self.idempotency, principal, f"partner_wallet.credit:{partner_id}", key, body,
                    PartnerLedgerEntryOut, attempt, tenant=f"platform:{principal.sub}")

    def _organization(self, principal: Principal, org_id: str, *, write: bool = False) -> Organization:
        return organization_for(self.store, principal, org_id, write=write)

    def create_organization(self, principal: Principal, body: OrganizationCreate,
                            idempotency_key: str | None) -> OrganizationOut:
        partner_id = principal.require_writer()

        def create(complete: Completion | None) -> OrganizationOut:
            at = utc_now_str()
            org = Organization(id=new_id("org"), partner_id=partner_id, name=body.name, currency=body.currency,
                               created_at=at, created_by=principal.sub, wallet_updated_at=at,
                               settings=default_settings(at), listed_by_lock=True)
            result = OrganizationOut.mirror(org)
            record = audit(principal, partner_id=partner_id, entity_type="organization", entity_id=org.id,
                           action="organization.created", at=at,
                           changes={"name": body.name, "currency": body.currency})
            taken = Conflict("organization_name_taken", f"An organization named {org.name!r} already exists.")
            uow = self.store.unit_of_work().create(org).create(
                OrganizationNameLock(partner_id=partner_id, name=org.name, org_id=org.id), taken=taken).create(record)
            return uow.commit_returning(result, complete)

        return once(self.idempotency, principal, "organization.create", idempotency_key, body, OrganizationOut, create)

    def get_organization(self, principal: Principal, org_id: str) -> OrganizationOut:
        return OrganizationOut.mirror(self._organization(principal, org_id))

    def list_organizations(self, principal: Principal, name: str | None, limit: int,
                           cursor: str | None) -> OrganizationPage:
        partner_id, own = principal.list_owner()
        if own is not None:  # a customer's staff: their organization, if the name filter keeps it
            org = self.store.get(Organization, own)
            kept = (org is not None and principal.can_read_owned(org.partner_id, org.id)
                    and (name is None or org.name.casefold().startswith(name.strip().casefold())))
            return OrganizationPage(items=[OrganizationOut.mirror(org)] if kept and org else [], next_cursor=None)
        scope = list_scope(principal, "organizations", name=name)
        orgs, next_cursor = self.organizations.list_by_name(partner_id, name, limit=limit, cursor=cursor,
                                                            scope=scope)
        return OrganizationPage(items=[OrganizationOut.mirror(o) for o in orgs], next_cursor=next_cursor)

    def get_wallet(self, principal: Principal, org_id: str) -> WalletOut:
        return WalletOut.of_record(self._organization(principal, org_id))

    def wallet_transactions(self, principal: Principal, org_id: str, limit: int,
                            cursor: str | None) -> LedgerEntryPage:
        codec, route = self.store.cursors, "wallet_transactions"
        scope = FIRST_PAGE if cursor is None else cursor_scope(codec, principal, route, org_id, cursor)
        org, entries, next_cursor = self.organizations.ledger_page(org_id, limit=limit, cursor=cursor,
                                                                   scope=scope)
        if cursor is None:  # the first page reads the owner with the entries; its cursor carries it
            if org is None:
                raise NotFound("Organization not found.")
            principal.check_read_owned(org.partner_id, org.id, "Organization")
            next_cursor = issued(codec, principal, route, Owner(org.partner_id, org_id), next_cursor)
        return LedgerEntryPage(items=[LedgerEntryOut.mirror(e) for e in entries], next_cursor=next_cursor)

    def get_settings(self, principal: Principal, org_id: str) -> SettingsOut:
        return SettingsOut.of_record(self._organization(principal, org_id))

    def put_settings(self, principal: Principal, org_id: str, body: PaymentSettingsIn) -> SettingsOut:
        """A person's change of the settings (a guardrail left out keeps its value); audited with what changed,
        also what switching auto_trigger on cleared (the failure count and why the system had switched it off)."""
        guardrails = body.guardrails()

        def attempt() -> SettingsOut:
            org = self._organization(principal, org_id, write=not principal.is_customer)
            if principal.is_customer:
                principal.check_top_up(org.partner_id, org.id)
                customer_switch_only(org.settings, body.method, body.trigger_amount, body.limit_threshold,
                                     **guardrails)
            at = utc_now_str()
            wanted = change_settings(org.settings, method=body.method, trigger_amount=body.trigger_amount,
                                     limit_threshold=body.limit_threshold, auto_trigger=body.auto_trigger,
                                     at=at, **guardrails)
            diff = settings_changed(org.settings, wanted)
            if not diff:
                return SettingsOut.of_record(org)
            updated = org.model_copy(update={"settings": wanted, "version": org.version + 1})
            record = audit(principal, partner_id=org.partner_id, entity_type="organization", entity_id=org.id,
                           action="payment_settings.updated", at=at, changes=diff)
            self.store.unit_of_work().save(updated, org.version).create(record).commit()
            return SettingsOut.of_record(updated)

        return with_retries(attempt)

    def debit(self, principal: Principal, org_id: str, body: DebitIn, key: str | None) -> LedgerEntryOut:
        """Usage charged by the rating system; the ledger entry is the wallet's audit record."""

        def attempt(complete: Completion | None) -> LedgerEntryOut:
            org = self._organization(principal, org_id, write=True)
            debited, entries = post(org, [Posting("usage", -body.amount, body.reference)], actor=principal.sub,
                                    at=utc_now_str())
            result = LedgerEntryOut.mirror(entries[0])
            uow = self.store.unit_of_work().save(debited, org.version).create(entries[0])
            return uow.commit_returning(result, complete)

        return once(self.idempotency, principal, f"wallet.debit:{org_id}", key, body, LedgerEntryOut, attempt)

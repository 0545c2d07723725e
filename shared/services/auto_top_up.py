"""The worker: one organization's automatic top-up for one business date, at most once (the attempt's
state machine). See docs/auto-top-up.md.

  1. claim: the attempt is created `claimed` by a conditional write before any side effect; a delivery
     finding it final is a duplicate; finding it `claimed` means an earlier delivery crashed after its
     claim, and this one carries on (recovery, no lost top-up);
  2. fund: the organization's funding method (shared.services.funding) commits the side effect and the
     attempt's outcome in one transaction conditioned on the claim (no double top-up); a lost race
     re-reads both and decides again;
  3. a `charge_pending` card attempt is completed by the charge (also on a redelivery that finds it
     without a PaymentIntent);
  4. the outcome's domain event is published (shared.services.domain_events).
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.clock import utc_now_str
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.organization import Organization
from shared.errors import Conflict
from shared.repositories.store import Store
from shared.services.common import with_retries
from shared.services.domain_events import DomainEvents
from shared.services.funding import CardFunding, Claim, Funding
from shared.vocabulary import SettingsMethod


class _Claimed(Conflict):
    def __init__(self) -> None:
        super().__init__("attempt_claimed", "This organization's top-up of this date is already claimed.")


class AutoTopUpWorker:
    def __init__(self, store: Store, funding: Mapping[SettingsMethod, Funding], card: CardFunding,
                 events: DomainEvents):
        self.store, self.funding, self.card, self.events = store, funding, card, events

    def top_up(self, org_id: str, business_date: str) -> str:
        """Top one organization up for one business date, at most once; returns the outcome."""
        org = self.store.get(Organization, org_id)
        if org is None:
            return "unknown_organization"
        attempt = self._claim(org, business_date)
        if attempt.status == "charge_pending" and attempt.payment_intent_id is None:
            return self.card.complete(attempt).status  # an earlier delivery did not learn the charge's outcome
        if attempt.status != "claimed":
            self.events.publish(attempt)  # a duplicate delivery; publishes only if an earlier publish failed
            return f"already_{attempt.status}"
        final = with_retries(lambda: self._fund(org_id, business_date))
        if final.status == "charge_pending":
            final = self.card.complete(final)
        self.events.publish(final)
        return final.status

    def _claim(self, org: Organization, business_date: str) -> AutoTopUpAttempt:
        existing = self.store.get(AutoTopUpAttempt, org.id, business_date)
        if existing:
            return existing
        at = utc_now_str()
        attempt = AutoTopUpAttempt(org_id=org.id, partner_id=org.partner_id, business_date=business_date,
                                   method=org.settings.method, amount=org.settings.trigger_amount,
                                   currency=org.currency, created_at=at, updated_at=at)
        try:
            self.store.unit_of_work().create(attempt, taken=_Claimed()).commit()
        except _Claimed:
            claimed = self.store.get(AutoTopUpAttempt, org.id, business_date)
            assert claimed is not None  # claims are never deleted
            return claimed
        return attempt

    def _fund(self, org_id: str, business_date: str) -> AutoTopUpAttempt:
        """Decide on a fresh, consistent read of the claim and the organization (one round trip)."""
        found = self.store.batch().add(AutoTopUpAttempt, org_id, business_date).add(Organization, org_id).fetch()
        attempt, org = found.get(AutoTopUpAttempt, org_id, business_date), found.get(Organization, org_id)
        assert attempt is not None and org is not None  # claimed above; organizations are not deleted
        if attempt.status != "claimed":
            return attempt  # another delivery finished it meanwhile
        claim = Claim(org, attempt, business_date, utc_now_str())
        if not org.due:
            uow = self.store.unit_of_work()
            final = claim.settle(uow, "skipped", reason="not_due")
            uow.commit()
            return final
        return self.funding[org.settings.method].fund(claim)

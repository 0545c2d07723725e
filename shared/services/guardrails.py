"""The automatic top-up's guardrails inside the transaction of an attempt's outcome (docs/auto-top-up.md):

  - the organization's write: a `credited` / `invoice_issued` outcome clears the failure count, a `failed` one
    counts it and, at `max_consecutive_failures`, switches auto_trigger off (`disabled_reason:
    "consecutive_failures"`, audited by `system:auto-top-up`); any other outcome holds the organization as read
    (a ConditionCheck on its version), so a switch, a cap or a balance changed meanwhile makes it decide again;
  - the month's sum: counted, reserved, released or held, with the cap as the update's condition.

The worker's funding methods (shared.services.funding) call `settle_org` / `count`; the Stripe webhook's settlement
of an automatic charge calls `card_attempt_failed` / `card_attempt_credited`.
"""

from __future__ import annotations

from shared.auth import Principal
from shared.domain.attempt import AutoTopUpAttempt
from shared.domain.guardrails import SUCCEEDED, after_failure, after_success, month_of
from shared.domain.organization import Organization, PaymentSettings
from shared.domain.settings import settings_changed
from shared.repositories.guardrails import GuardrailRepository
from shared.repositories.unit_of_work import UnitOfWork
from shared.services.common import audit

SYSTEM = Principal(sub="system:auto-top-up", partner_id=None, groups=frozenset())
DISABLED = "payment_settings.auto_top_up_disabled"


class Guardrails:
    def __init__(self, repo: GuardrailRepository):
        self.repo = repo

    # --- the organization ---------------------------------------------------------------------------------
    def settle_org(self, uow: UnitOfWork, before: Organization, after: Organization | None, status: str,
                   at: str) -> Organization:
        """Add the organization's part of an outcome to `uow`: `after` (the funding's own change of it, already
        at version + 1) or `before` with the failure count applied, saved against the version read; or, when
        nothing of it changes, a check that it is still as read. Returns the organization as committed."""
        base = after or before
        if status in SUCCEEDED:
            settings, switched = after_success(base.settings), False
        elif status == "failed":
            settings, switched = after_failure(base.settings, at)
        else:
            settings, switched = base.settings, False
        if after is None and settings == before.settings:
            uow.raw(self.repo.organization_unchanged(before))
            return before
        final = base.model_copy(update={"settings": settings, "version": before.version + 1})
        uow.save(final, before.version)
        self._audit(uow, before, settings, switched, at)
        return final

    def _audit(self, uow: UnitOfWork, before: Organization, settings: PaymentSettings, switched: bool,
               at: str) -> None:
        """The settings' change the system made (the failure count, the switch-off), audited as `system:auto-top-up`."""
        changes = settings_changed(before.settings, settings)
        if changes:
            uow.create(audit(SYSTEM, partner_id=before.partner_id, entity_type="organization", entity_id=before.id,
                             action=DISABLED if switched else "payment_settings.updated", at=at, changes=changes))

    # --- the month's sum ----------------------------------------------------------------------------------
    def count(self, uow: UnitOfWork, org: Organization, business_date: str, amount: int, at: str) -> None:
        """The attempt's amount joins its month (reserved while a card charge is pending), within the cap."""
        uow.raw(self.repo.add_to_month(org, month_of(business_date), amount, org.settings.monthly_cap, at))

    def still_full(self, uow: UnitOfWork, org: Organization, business_date: str, used: int) -> None:
        """A `monthly_cap_reached` skip holds only while the month's sum is still what it was read as (or more)."""
        uow.raw(self.repo.month_still_full(org.id, month_of(business_date), used))

    # --- a card charge settled by Stripe (the webhook, or the worker learning Stripe's refusal) --------------
    def card_attempt_failed(self, uow: UnitOfWork, org: Organization, attempt: AutoTopUpAttempt,
                            at: str) -> Organization | None:
        """A `charge_pending` attempt's card charge failed: its reservation leaves the month and the failure is
        counted (switching off at the max), in `uow` with the attempt's own save. An attempt already `failed` (a
        repeated failure event) changes nothing here. Returns the organization as committed (None: untouched)."""
        if attempt.status != "charge_pending":  # a claim reserves nothing; a failed one was released already
            return None
        self._release(uow, attempt, at)
        return self.settle_org(uow, org, None, "failed", at)

    def card_attempt_withdrawn(self, uow: UnitOfWork, attempt: AutoTopUpAttempt, at: str) -> None:
        """A `charge_pending` attempt whose charge was never sent (the organization switched off, or no longer
        due, before it went): its reservation leaves the month; no failure is counted."""
        if attempt.status == "charge_pending":
            self._release(uow, attempt, at)

    def _release(self, uow: UnitOfWork, attempt: AutoTopUpAttempt, at: str) -> None:
        """Only what was reserved: an attempt written before the caps (no `requested_amount`) reserved nothing."""
        if attempt.requested_amount is not None:
            uow.raw(self.repo.release_from_month(attempt.org_id, month_of(attempt.business_date), attempt.amount,
                                                 at))

    def card_attempt_credited(self, uow: UnitOfWork, credited: Organization, attempt: AutoTopUpAttempt,
                              at: str) -> Organization:
        """An automatic card charge succeeded: returns `credited` (the organization the webhook saves, its wallet
        credited) with the failure count cleared, and adds that change's audit record. Its month keeps the
        reservation; an attempt already marked `failed` (its reservation released) is counted again, whatever the
        cap: Stripe took the money."""
        if attempt.status == "failed":
            uow.raw(self.repo.add_to_month(credited, month_of(attempt.business_date), attempt.amount, None, at))
        settings = after_success(credited.settings)
        if settings != credited.settings:
            self._audit(uow, credited, settings, False, at)
        return credited.model_copy(update={"settings": settings})

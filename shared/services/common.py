"""What the use cases share: audit records, list scopes, idempotency and retries. (The bodies they answer are
shared.responses' models, each made from its domain record by the model itself.)"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from shared.auth import Principal
from shared.cursor import CursorCodec, Owner, invalid_cursor, owned_scope
from shared.domain.audit import AuditRecord
from shared.domain.organization import Organization
from shared.errors import ConcurrentUpdate, Conflict, NotFound
from shared.idempotency import Completion, Idempotency
from shared.ids import new_id
from shared.repositories.store import Store
from shared.vocabulary import AuditedEntity


def audit(principal: Principal, *, partner_id: str, entity_type: AuditedEntity, entity_id: str, action: str, at: str,
          changes: dict[str, Any]) -> AuditRecord:
    return AuditRecord(id=new_id("aud"), partner_id=partner_id, entity_type=entity_type, entity_id=entity_id,
                       action=action, actor=principal.sub, at=at, changes=changes)


def organization_for(store: Store, principal: Principal, org_id: str, *, write: bool = False) -> Organization:
    """The organization, if the caller may read it (or write to it); another partner's is not found."""
    org = store.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    if write:
        principal.check_write(org.partner_id, "Organization")
    else:
        principal.check_read_owned(org.partner_id, org.id, "Organization")
    return org


def list_scope(principal: Principal, route: str, *, owner: Owner | None = None, **filters: Any) -> str:
    """Binds a cursor to its owner, the caller's tenant, the list and its filters. `owner`: the partner whose
    rows the list holds and the organization or payment it belongs to; a partner-wide list (None) belongs to the
    caller's own partner (403 for a token that names none)."""
    principal.require_member()
    owner = owner or Owner(principal.list_owner()[0])
    return owned_scope(owner, principal.tenant, route, filters)


class OrgFiltered(Protocol):
    """A list's filters (a dataclass) with an organization."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def org_id(self) -> str | None: ...


def held[F: OrgFiltered](principal: Principal, filters: F) -> tuple[str, F]:
    """The partner a list reads and its filters, held to a customer's own organization whatever they say."""
    partner_id, org_id = principal.list_owner()
    return partner_id, (replace(filters, org_id=org_id) if org_id else filters)


# The scope a first page of an owned list is read under until its rows show the owner; a cursor under it is never
# handed out (`issued` re-signs it), and one that were would carry no owner: 400.
FIRST_PAGE = "first-page"


def cursor_scope(codec: CursorCodec, principal: Principal, route: str, resource: str, cursor: str) -> str:
    """A cursor page of a list that belongs to `resource` (an organization or payment): the scope to read it
    under, once the cursor is known to be this resource's and the caller may read its owner's partner. Every
    refusal is 400 invalid_cursor, as for a forged cursor: a foreign one tells nothing, not even that its owner
    exists (the first page, read with no cursor, answers 404 like the resource)."""
    principal.require_member()
    owner = codec.owner(cursor)
    if owner.resource != resource or not principal.may_page(owner.partner_id):
        raise invalid_cursor()
    return list_scope(principal, route, owner=owner)


def issued(codec: CursorCodec, principal: Principal, route: str, owner: Owner, next_cursor: str | None) -> str | None:
    """A first page's next cursor (read under FIRST_PAGE), re-signed for the owner its rows showed."""
    return codec.reissue(next_cursor, FIRST_PAGE, list_scope(principal, route, owner=owner))


def once[M: BaseModel](idempotency: Idempotency, principal: Principal, operation: str, key: str | None,
                       body: BaseModel, model: type[M], attempt: Callable[[Completion | None], M], *,
                       tenant: str | None = None) -> M:
    """A POST that moves money or creates a record: done once per Idempotency-Key (scoped to the
    caller's partner, or `tenant`, and the operation with its target, e.g. `payment.allocate:pay_...`), each
    attempt re-read and decided again after a lost race. The one way the services apply idempotency: a replay
    answers the first response as its `model` (validated back from what the first request saved)."""
    scope = tenant or principal.require_writer()
    return idempotency.run(scope=f"{scope}#{operation}", key=key, body=body.model_dump(mode="json"), model=model,
                           action=lambda complete: with_retries(lambda: attempt(complete)))


def with_retries[T](attempt: Callable[[], T], attempts: int = 30) -> T:
    """Run an optimistic read-decide-write until it wins its race (re-reading each time). Full jitter, capped
    at 128 ms: 30 tries outlast a burst of a few dozen writers on one item (a partner's invoice counter)."""
    for n in range(attempts):
        try:
            return attempt()
        except ConcurrentUpdate:
            time.sleep(random.uniform(0, 0.004 * 2 ** min(n, 5)))  # noqa: S311 - jitter, not crypto
    raise Conflict("concurrent_update", "Too many simultaneous changes; please try again.")

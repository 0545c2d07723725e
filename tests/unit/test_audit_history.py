"""The one audit shape (shared.domain.audit): how records written before it read back."""

from __future__ import annotations

from shared.domain.audit import AuditRecord, history_view, normalized_changes


def record(action: str, entity_type: str = "organization", **changes: object) -> AuditRecord:
    return AuditRecord(id="aud_1", partner_id="ptn_a", entity_type=entity_type, entity_id="org_1",  # type: ignore
                       action=action, actor="system:auto-top-up", at="2026-11-21T01:00:00.000Z", changes=changes)


def test_a_from_to_change_is_kept_and_a_bare_value_is_what_the_action_set():
    # Given a record that mixes both shapes (payment.assigned: org_id from/to, assignment_edits the new count)
    changes = {"org_id": {"from": None, "to": "org_1"}, "assignment_edits": 2, "released": [{"amount": 5}]}
    # When it is normalized
    # Then the from/to change stays, and bare values (numbers, lists) are values set from nothing
    assert normalized_changes("payment.assigned", changes) == {
        "org_id": {"from": None, "to": "org_1"}, "assignment_edits": {"from": None, "to": 2},
        "released": {"from": None, "to": [{"amount": 5}]}}


def test_a_deletion_takes_its_bare_values_away():
    # Given a deletion, which recorded the payment as it was
    # Then the value is what was there before, and nothing after
    assert normalized_changes("payment.deleted", {"payment": {"id": "pay_1"}}) == {
        "payment": {"from": {"id": "pay_1"}, "to": None}}


def test_a_dict_with_other_keys_than_from_and_to_is_a_bare_value():
    # Given a value that is a dict but not a change
    # Then it is a value set, not mistaken for a change
    assert normalized_changes("x.y", {"v": {"from": 1, "to": 2, "by": 3}}) == {
        "v": {"from": None, "to": {"from": 1, "to": 2, "by": 3}}}


def test_the_entity_is_the_actions_subject_and_the_system_actor_is_kept():
    # Given an organization's records about its wallet, its settings, an online top-up and itself
    seen = {a: history_view(record(a))["entity"] for a in (
        "wallet.auto_credited", "payment_settings.updated", "online_top_up.started", "organization.created")}
    # Then each names what changed, in the organization's history
    assert seen == {"wallet.auto_credited": "wallet", "payment_settings.updated": "payment_settings",
                    "online_top_up.started": "wallet", "organization.created": "organization"}
    view = history_view(record("wallet.auto_credited", amount=5_000))
    assert view == {"id": "aud_1", "entity": "wallet", "entity_id": "org_1", "action": "wallet.auto_credited",
                    "changes": {"amount": {"from": None, "to": 5_000}}, "actor": "system:auto-top-up",
                    "at": "2026-11-21T01:00:00.000Z"}

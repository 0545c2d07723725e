"""The service's vocabulary: the words the contract gives fields (methods, statuses, types).

API models, the domain and storage all import these; none of them owns them.
"""

from __future__ import annotations

from typing import Literal

SettingsMethod = Literal["cheque_or_tt", "master_account", "stripe"]
TopUpMode = Literal["fixed", "target"]  # top up by `trigger_amount`, or up to `target_balance`
DisabledReason = Literal["consecutive_failures"]  # why the system switched an automatic top-up off
PaymentMethod = Literal["cheque", "telegraphic_transfer", "cash", "card", "stripe", "other"]
PaymentStatus = Literal["unassigned", "assigned", "partially_allocated", "allocated", "bounced"]
AllocationKind = Literal["invoice", "wallet_top_up"]
InvoiceType = Literal["standard", "top_up"]
InvoiceStatus = Literal["unpaid", "partially_paid", "paid", "provisioned", "void"]
LedgerType = Literal["top_up", "provision", "auto_credit", "usage", "reversal", "credit_note", "withdrawal",
                     "reinstatement"]
PartnerLedgerType = Literal["credit", "auto_credit"]
AttemptStatus = Literal["claimed", "invoice_issued", "credited", "charge_pending", "failed", "skipped"]
OnlineTopUpStatus = Literal["requires_payment", "succeeded", "failed"]
StripeMarkerKind = Literal["payment_intent", "event", "online_top_up_request"]
AuditedEntity = Literal["payment", "organization", "invoice"]
# What an audit record says changed (an organization's history holds its wallet's and its settings' too)
AuditEntity = Literal["payment", "organization", "wallet", "payment_settings", "invoice"]
CreditNoteReason = Literal["duplicate", "billing_error", "service_issue", "goodwill", "other"]
WithdrawalMethod = Literal["cheque", "telegraphic_transfer", "cash", "other"]
RefundReason = Literal["duplicate", "fraudulent", "requested_by_customer"]  # Stripe's refund reasons
RefundStatus = Literal["pending", "succeeded", "failed"]
RefundOrigin = Literal["api", "stripe"]  # asked for here, or seen in Stripe first (its Dashboard)

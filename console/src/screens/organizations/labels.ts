// The words the help articles and the API reference give the organization's values, shown instead of the codes.
export const SETTINGS_METHODS: [string, string][] = [
  ["cheque_or_tt", "Cheque or Telegraphic Transfer"],
  ["master_account", "Issue from your master account"],
  ["stripe", "Online payment by Stripe"],
];

export const WITHDRAWAL_METHODS: [string, string][] = [
  ["telegraphic_transfer", "Telegraphic transfer"],
  ["cheque", "Cheque"],
  ["cash", "Cash"],
  ["other", "Other"],
];

export const LEDGER_TYPES: [string, string][] = [
  ["top_up", "Top-up"],
  ["provision", "Top-up invoice provisioned"],
  ["auto_credit", "Automatic credit"],
  ["credit_note", "Credit note"],
  ["reinstatement", "Reinstatement"],
  ["usage", "Usage"],
  ["withdrawal", "Withdrawal"],
  ["reversal", "Reversal"],
];

export const ATTEMPT_STATUSES: [string, string][] = [
  ["claimed", "In progress"],
  ["invoice_issued", "Invoice issued"],
  ["credited", "Credited"],
  ["charge_pending", "Card charge waiting for Stripe"],
  ["failed", "Failed"],
  ["skipped", "Skipped"],
];

export const ATTEMPT_REASONS: [string, string][] = [
  ["previous_invoice_unpaid", "The previous top-up invoice is still unpaid"],
  ["monthly_cap_reached", "The monthly cap is reached"],
  ["not_due", "Not due: the wallet is above the limit threshold"],
  ["partner_insufficient_funds", "The master account's wallet is short"],
  ["partner_daily_limit_reached", "The partner's daily auto-credit limit is reached"],
  ["no_saved_card", "No saved card"],
  ["card_declined", "Card declined"],
  ["provider_refused", "Stripe refused the charge"],
  ["charge_unconfirmed", "Stripe never confirmed the charge"],
];

export const TOP_UP_MODES: [string, string][] = [
  ["fixed", "Fixed amount"],
  ["target", "Up to a target balance"],
];

export const TOP_UP_STATUSES: [string, string][] = [
  ["pending", "Pending"],
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
];

/** The label of a value, or the value itself when it has none (a code added later reads as itself). */
export function label(pairs: [string, string][], value: string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return pairs.find(([v]) => v === value)?.[1] ?? value;
}

export const METHODS: [string, string][] = [
  ["cheque", "Cheque"],
  ["telegraphic_transfer", "Telegraphic transfer"],
  ["cash", "Cash"],
  ["card", "Card"],
  ["other", "Other"],
];

export const STATUSES: [string, string][] = [
  ["unassigned", "Unassigned"],
  ["assigned", "Assigned"],
  ["partially_allocated", "Partially allocated"],
  ["allocated", "Allocated"],
  ["bounced", "Bounced"],
];

export function label(pairs: [string, string][], value: string | null | undefined): string {
  return pairs.find(([v]) => v === value)?.[1] ?? (value === "stripe" ? "Card (Stripe)" : (value ?? "—"));
}

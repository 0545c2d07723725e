// The Invoices tab's words for the API's values (the API's values stay in the URL and the CSV).
export const STATUSES: [string, string][] = [
  ["unpaid", "Unpaid"],
  ["partially_paid", "Partially paid"],
  ["paid", "Paid"],
  ["provisioned", "Provisioned"],
  ["void", "Void"],
];

export const TYPES: [string, string][] = [
  ["standard", "Standard"],
  ["top_up", "Top-up"],
];

export const REASONS: [string, string][] = [
  ["duplicate", "Duplicate"],
  ["billing_error", "Billing error"],
  ["service_issue", "Service issue"],
  ["goodwill", "Goodwill"],
  ["other", "Other"],
];

export function label(pairs: [string, string][], value: string | null | undefined): string {
  return pairs.find(([v]) => v === value)?.[1] ?? value ?? "—";
}

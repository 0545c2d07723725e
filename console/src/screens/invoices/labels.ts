// The Invoices tab's words for the API's values (the API's values stay in the URL and the CSV).
export const STATUSES: [string, string][] = [
  ["unpaid", "Unpaid"],
  ["partially_paid", "Partially paid"],
  ["paid", "Paid"],
  ["provisioned", "Provisioned"],
  ["void", "Void"],
];

/** The Status filter's choices: each status, and what is still due (the aged receivables' drill-down). */
export const STATUS_FILTERS: [string, string][] = [
  ["unpaid,partially_paid", "Due (unpaid or partially paid)"],
  ...STATUSES,
];

/** The list's orders: the API's `sort` ("" leaves it out: the newest issued first). */
export const ORDERS: [string, string][] = [
  ["", "Newest issued first"],
  ["due_date", "Oldest due first"],
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

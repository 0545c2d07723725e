// The Reports tab's words for the API's values (the API's values stay in the URL and the CSV).
import type { Schemas } from "../../api";

export type AgedReport = Schemas["AgedReceivablesOut"];
export type AgedRow = Schemas["AgedRowOut"];
export type AgedTotal = Schemas["AgedTotalOut"];
export type Basis = AgedReport["basis"];

/** The contract's bases: days past the due date (the API's default), or days since the invoice was issued. */
export const BASES: [Basis, string][] = [
  ["due_date", "Due date"],
  ["issued_date", "Issued date"],
];

/** The report's buckets, in the API's order: each is a field of a row and of a total, in minor units. */
export type Bucket = "current" | "days_1_30" | "days_31_60" | "days_61_90" | "days_over_90";

export const BUCKETS: [Bucket, string][] = [
  ["current", "Current"],
  ["days_1_30", "1–30 days"],
  ["days_31_60", "31–60 days"],
  ["days_61_90", "61–90 days"],
  ["days_over_90", "Over 90 days"],
];

export function isBasis(value: string | null): value is Basis {
  return BASES.some(([basis]) => basis === value);
}

// Money in the browser: integers of minor units from the API, typed and shown in major units with the
// currency. Conversions are exact string and BigInt arithmetic by the currency's digits: never a float.
import { MINOR_UNITS } from "./generated/currencies";

export const MAX_AMOUNT = 10n ** 15n; // the API's bound: inside the integers a JavaScript number holds exactly

export function digitsOf(currency: string): number {
  const digits = MINOR_UNITS[currency];
  if (digits === undefined) throw new Error(`Unknown currency ${currency}`);
  return digits;
}

/** "SGD 1,250.50" for (125050, "SGD"); "JPY 1,000" for (1000, "JPY"); negative amounts keep their sign. */
export function formatMoney(minor: number, currency: string): string {
  return `${currency} ${formatAmount(minor, currency)}`;
}

export function formatAmount(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new Error(`Not an integer amount: ${minor}`);
  const digits = digitsOf(currency);
  const negative = minor < 0;
  const text = (negative ? -minor : minor).toString().padStart(digits + 1, "0");
  const whole = text.slice(0, text.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const fraction = digits ? `.${text.slice(text.length - digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** The amount as a person types it back: "1250.50" (no separators). */
export function toInput(minor: number, currency: string): string {
  return formatAmount(minor, currency).replaceAll(",", "");
}

export type Parsed = { ok: true; minor: number } | { ok: false; message: string };

/** What a person typed ("1,250.5", "1000") as minor units of `currency`, or why it is not an amount. */
export function parseMoney(typed: string, currency: string, { allowZero = false } = {}): Parsed {
  const digits = digitsOf(currency);
  const text = typed.trim().replaceAll(",", "");
  const match = /^(\d+)(?:\.(\d*))?$/.exec(text);
  if (!match) return { ok: false, message: `Enter an amount in ${currency}, e.g. ${example(currency)}.` };
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? "";
  if (fraction.length > digits) {
    return {
      ok: false,
      message: digits
        ? `${currency} has ${digits} decimal places: at most ${digits} after the point.`
        : `${currency} has no decimal places.`,
    };
  }
  const minor = BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, "0") || "0");
  if (minor === 0n && !allowZero) return { ok: false, message: "Enter an amount above zero." };
  if (minor > MAX_AMOUNT) return { ok: false, message: "That amount is too large." };
  return { ok: true, minor: Number(minor) };
}

function example(currency: string): string {
  const digits = digitsOf(currency);
  return digits ? `125.${"50".padEnd(digits, "0").slice(0, digits)}` : "1000";
}

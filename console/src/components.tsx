// The pieces every screen shares: labelled fields whose refusal is shown beside them, alerts, money, pages
// of a list, a history. User data is only ever rendered as text (JSX children), never as HTML.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { ApiError, AuditRecord } from "./api";
import { formatMoney } from "./money";

export function Money({ amount, currency }: { amount: number; currency: string }) {
  return <span class="money">{formatMoney(amount, currency)}</span>;
}

type InputProps = JSX.InputHTMLAttributes<HTMLInputElement>;

/** A labelled input; `error` (the API's or the form's words) is shown under it and read with it. */
export function Field(props: { label: string; error?: string | undefined; hint?: string } & InputProps) {
  const { label, error, hint, ...input } = props;
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} aria-invalid={error ? "true" : undefined} aria-describedby={described || undefined} {...input} />
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} class="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

export function Select(
  props: { label: string; error?: string | undefined; hint?: string; options: [string, string][] } & JSX.SelectHTMLAttributes<HTMLSelectElement>,
) {
  const { label, error, hint, options, ...select } = props;
  const id = useId();
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <select id={id} aria-invalid={error ? "true" : undefined} aria-describedby={described || undefined} {...select}>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
      {error && (
        <small id={`${id}-error`} class="field-error">
          {error}
        </small>
      )}
    </div>
  );
}

/** The API's refusal of an action, next to the action (role=alert: read out when it appears). */
export function Refusal({ error }: { error: ApiError | string | undefined | null }) {
  if (!error) return null;
  const text = typeof error === "string" ? error : error.message;
  const details =
    typeof error === "string"
      ? []
      : error.details.filter((d) => d.message && d.message !== text).map((d) => String(d.message));
  return (
    <div class="refusal" role="alert">
      <p>{text}</p>
      {details.length > 0 && (
        <ul>
          {details.map((d, i) => (
            <li key={i}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <div class="notice" role="status">
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

/** A list's page controls: the API's cursors are forward-only, so "Next page" and "First page". */
export function Pager(props: {
  next: string | null | undefined;
  cursor: string | undefined;
  onPage: (cursor?: string) => void;
  label?: string; // several lists on one screen: "Pages of the ledger", ...
}) {
  if (!props.next && !props.cursor) return null;
  return (
    <nav class="pager" aria-label={props.label ?? "Pages"}>
      {props.cursor && (
        <button type="button" class="secondary" onClick={() => props.onPage(undefined)}>
          First page
        </button>
      )}
      {props.next && (
        <button type="button" class="secondary" onClick={() => props.onPage(props.next ?? undefined)}>
          Next page
        </button>
      )}
    </nav>
  );
}

// The audit fields that hold money (integers of minor units): shown with the currency when it is known.
const MONEY_FIELDS = new Set(["amount", "balance", "trigger_amount", "limit_threshold", "refund_held", "amount_paid",
  "amount_credited", "allocated_amount", "unallocated_amount", "target_balance", "monthly_cap", "daily_limit"]);

type Change = { from?: unknown; to?: unknown };

/** A change that holds changes (a top-up's `payment_settings`: each field from -> to). */
function nestedChanges(value: object): [string, Change][] | null {
  const entries = Object.entries(value);
  const isChange = (c: unknown): c is Change => typeof c === "object" && c !== null && ("from" in c || "to" in c);
  return entries.length > 0 && entries.every(([, c]) => isChange(c)) ? (entries as [string, Change][]) : null;
}

function shown(value: unknown, field: string, currency: string | undefined): string {
  if (value === null || value === undefined) return "—";
  if (currency && MONEY_FIELDS.has(field) && typeof value === "number") return formatMoney(value, currency);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return String(value);
  const nested = typeof value === "object" ? nestedChanges(value) : null;
  if (nested) {
    return nested.map(([name, c]) => `${name}: ${shown(c.from, name, currency)} → ${shown(c.to, name, currency)}`).join("; ");
  }
  return JSON.stringify(value);
}

/** An audit history: newest first, who, what, each change from -> to (append-only, as the API keeps it). */
export function History({ items, caption, currency }: { items: AuditRecord[]; caption: string; currency?: string }) {
  return (
    <table class="history">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Who</th>
          <th scope="col">What</th>
          <th scope="col">Changes</th>
        </tr>
      </thead>
      <tbody>
        {items.length === 0 && (
          <tr>
            <td colSpan={4}>Nothing recorded yet.</td>
          </tr>
        )}
        {items.map((item) => (
          <tr key={item.id}>
            <td>{item.at}</td>
            <td>{item.actor}</td>
            <td>{item.action}</td>
            <td>
              <ul class="changes">
                {Object.entries(item.changes).map(([field, change]) => (
                  <li key={field}>
                    <span class="field-name">{field}</span>: {shown(change.from, field, currency)} → {shown(change.to, field, currency)}
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A CSV file of rows (every cell quoted; a cell starting with = + - @ is prefixed with ' against formula
 * injection when opened in a spreadsheet), offered as a download. */
export function downloadCsv(name: string, header: string[], rows: (string | number | null | undefined)[][]): void {
  const cell = (value: string | number | null | undefined) => {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^-\d+(\.\d+)?$/.test(text)) text = `'${text}`;
    return `"${text.replaceAll('"', '""')}"`;
  };
  const csv = [header, ...rows].map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}

/** A destructive action asked twice: `label` opens the question with `confirm` and Cancel beside it (focus moves to
 * `confirm`; Cancel or Escape closes it and returns focus to `label`). `onConfirm` rejecting keeps it open. */
export function Confirm(props: {
  label: string;
  name?: string; // the button's accessible name when `label` alone is not unique on the page (it contains `label`)
  question: string;
  confirm: string;
  onConfirm: () => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const opener = useRef<HTMLButtonElement>(null);
  const yes = useRef<HTMLButtonElement>(null);
  const id = useId();
  useEffect(() => {
    if (open) yes.current?.focus();
  }, [open]);
  function close() {
    setOpen(false);
    setTimeout(() => opener.current?.focus());
  }
  if (!open) {
    return (
      <button type="button" class="secondary" ref={opener} aria-label={props.name} onClick={() => setOpen(true)}>
        {props.label}
      </button>
    );
  }
  return (
    <div
      class="confirm"
      role="group"
      aria-labelledby={id}
      onKeyDown={(e) => {
        if (e.key === "Escape" && !busy) close();
      }}
    >
      <span id={id}>{props.question}</span>
      <button
        type="button"
        class="danger"
        ref={yes}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          try {
            await props.onConfirm();
          } finally {
            setBusy(false);
          }
        }}
      >
        {props.confirm}
      </button>
      <button type="button" class="secondary" onClick={close} disabled={busy}>
        Cancel
      </button>
    </div>
  );
}

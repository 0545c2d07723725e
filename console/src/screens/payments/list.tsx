// The Payment tab: payments newest first, filtered by what the URL holds (status, method, organization,
// received dates, reference), paged by the API's cursors, exported as CSV (the filtered view, every page).
import { useEffect, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type Payment, api, call, useLoad } from "../../api";
import type { paths } from "../../generated/api";
import { Loading, Money, Pager, Refusal, Select, downloadCsv } from "../../components";
import { toInput } from "../../money";
import { useOrganizations } from "../../orgs";
import { Link, navigate, withQuery } from "../../router";
import { canWrite } from "../../session";
import { METHODS, STATUSES, label } from "./labels";

const FILTERS = ["status", "method", "org_id", "received_from", "received_to", "reference"] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function filtersOf(query: URLSearchParams): Filters {
  return Object.fromEntries(FILTERS.map((name) => [name, query.get(name) ?? undefined]).filter(([, v]) => v));
}

type Query = paths["/payments"]["get"]["parameters"]["query"];

function apiQuery(filters: Filters, cursor?: string, limit = 50): Query {
  return { ...filters, cursor, limit } as Query;
}

export function Payments({ session, query }: ScreenProps) {
  const filters = filtersOf(query);
  const cursor = query.get("cursor") ?? undefined;
  const orgs = useOrganizations();
  const page = useLoad(() => call(api.GET("/payments", { params: { query: apiQuery(filters, cursor) } })), [
    query.toString(),
  ]);
  const [exporting, setExporting] = useState<string | null>(null);
  // What is typed but not yet applied survives the list's reloads; the URL resets it when it changes.
  const [draft, setDraft] = useState<Filters>(filters);
  useEffect(() => setDraft(filtersOf(query)), [query.toString()]);
  const edit = (name: keyof Filters) => (event: Event) =>
    setDraft((d) => ({ ...d, [name]: (event.currentTarget as HTMLInputElement | HTMLSelectElement).value }));

  function apply(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const next: Record<string, string> = {};
    for (const name of FILTERS) {
      const value = String(form.get(name) ?? "").trim();
      if (value) next[name] = value;
    }
    navigate(withQuery("/payments", next));
  }

  async function exportCsv() {
    setExporting("Exporting…");
    try {
      const rows: Payment[] = [];
      let next: string | undefined;
      do {
        const got = await call(api.GET("/payments", { params: { query: apiQuery(filters, next, 100) } }));
        rows.push(...got.items);
        next = got.next_cursor ?? undefined;
      } while (next);
      downloadCsv(
        "payments.csv",
        ["id", "received_date", "customer", "currency", "amount", "unallocated", "method", "reference", "invoice_number", "status", "remark"],
        rows.map((p) => [
          p.id,
          p.received_date,
          p.org_id ? (orgs.get(p.org_id)?.name ?? p.org_id) : "",
          p.currency,
          toInput(p.amount, p.currency),
          toInput(p.unallocated_amount, p.currency),
          p.method,
          p.reference,
          p.invoice_number,
          p.status,
          p.remark,
        ]),
      );
      setExporting(`Exported ${rows.length} payments.`);
    } catch (error) {
      setExporting((error as Error).message);
    }
  }

  return (
    <section aria-labelledby="payments-title">
      <div class="title-row">
        <h1 id="payments-title">Payments</h1>
        {canWrite(session) && (
          <Link href="/payments/new" class="button">
            + New Payment
          </Link>
        )}
      </div>
      <form class="filters" onSubmit={apply} aria-label="Filter payments">
        <Select
          label="Status"
          name="status"
          value={draft.status ?? ""}
          onChange={edit("status")}
          options={[["", "Any status"], ...STATUSES]}
        />
        <Select label="Method" name="method" value={draft.method ?? ""} onChange={edit("method")} options={[["", "Any method"], ...METHODS, ["stripe", "Card (Stripe)"]]} />
        <Select
          label="Customer"
          name="org_id"
          value={draft.org_id ?? ""}
          onChange={edit("org_id")}
          options={[["", "Any customer"], ...[...orgs.values()].map((o): [string, string] => [o.id, o.name])]}
        />
        <div class="field">
          <label for="received_from">Received from</label>
          <input id="received_from" name="received_from" type="date" value={draft.received_from ?? ""} onInput={edit("received_from")} />
        </div>
        <div class="field">
          <label for="received_to">Received to</label>
          <input id="received_to" name="received_to" type="date" value={draft.received_to ?? ""} onInput={edit("received_to")} />
        </div>
        <div class="field">
          <label for="reference">Reference</label>
          <input id="reference" name="reference" value={draft.reference ?? ""} onInput={edit("reference")} />
        </div>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={() => navigate("/payments")}>
            Clear filters
          </button>
          <button type="button" class="secondary" onClick={exportCsv}>
            Export CSV
          </button>
        </div>
      </form>
      {exporting && <p role="status">{exporting}</p>}
      <Refusal error={page.error} />
      {page.loading && !page.data ? (
        <Loading what="payments" />
      ) : (
        <table>
          <caption>Payments{Object.keys(filters).length ? " (filtered)" : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Customer name</th>
              <th scope="col" class="num">Amount</th>
              <th scope="col" class="num">Unallocated</th>
              <th scope="col">Method</th>
              <th scope="col">Reference</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.data?.items.length === 0 && (
              <tr>
                <td colSpan={8}>No payments match.</td>
              </tr>
            )}
            {page.data?.items.map((p) => (
              <tr key={p.id}>
                <td>{p.received_date}</td>
                <td>{p.org_id ? (orgs.get(p.org_id)?.name ?? p.org_id) : "Not assigned"}</td>
                <td class="num">
                  <Money amount={p.amount} currency={p.currency} />
                </td>
                <td class="num">
                  <Money amount={p.unallocated_amount} currency={p.currency} />
                </td>
                <td>{label(METHODS, p.method)}</td>
                <td>{p.reference ?? "—"}</td>
                <td>{label(STATUSES, p.status)}</td>
                <td>
                  <Link href={`/payments/${p.id}`} aria-label={`View payment ${p.reference ?? p.id}`}>
                    View
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager
        next={page.data?.next_cursor}
        cursor={cursor}
        onPage={(c) => navigate(withQuery("/payments", { ...filters, cursor: c }))}
      />
    </section>
  );
}

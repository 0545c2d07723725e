// The Invoices tab: invoices newest issued first, searched by what the URL holds (organization name, invoice
// number, issued dates, status, type), newest issued first or oldest due first, paged by the API's cursors, exported
// as CSV (the filtered view, every page).
import { useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, type Invoice, api, call, useLoad } from "../../api";
import { Field, Loading, Money, Pager, Refusal, Select, downloadCsv } from "../../components";
import type { paths } from "../../generated/api";
import { toInput } from "../../money";
import { OrganizationPicker } from "../../orgs";
import { Link, navigate, withQuery } from "../../router";
import { canWrite, isCustomer } from "../../session";
import { ORDERS, STATUSES, STATUS_FILTERS, TYPES, label } from "./labels";

// org_id is not in the form: it is kept when a link (an organization's invoices) brings it in the URL.
const FILTERS = ["org_name", "number", "issued_from", "issued_to", "status", "type", "org_id", "sort"] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

/** The oldest-due-first order is one organization's (the API refuses it over a partner's whole book). */
function filtersOf(query: URLSearchParams): Filters {
  const filters: Filters = Object.fromEntries(
    FILTERS.map((name) => [name, query.get(name) ?? undefined]).filter(([, v]) => v),
  );
  if (!filters.org_id) delete filters.sort;
  return filters;
}

type Query = paths["/invoices"]["get"]["parameters"]["query"];

function apiQuery(filters: Filters, cursor?: string, limit = 50): Query {
  return { ...filters, cursor, limit } as Query;
}

/** Every invoice the filters select, page after page of 100. */
async function everyInvoice(filters: Filters): Promise<Invoice[]> {
  const rows: Invoice[] = [];
  let next: string | undefined;
  do {
    const got = await call(api.GET("/invoices", { params: { query: apiQuery(filters, next, 100) } }));
    rows.push(...got.items);
    next = got.next_cursor ?? undefined;
  } while (next);
  return rows;
}

const CSV_HEADER = [
  "id",
  "number",
  "organization",
  "type",
  "status",
  "currency",
  "amount",
  "amount_paid",
  "amount_credited",
  "amount_due",
  "issued_date",
  "due_date",
];

function csvRow(i: Invoice): (string | number | null)[] {
  return [
    i.id,
    i.number,
    i.org_name,
    i.type,
    i.status,
    i.currency,
    toInput(i.amount, i.currency),
    toInput(i.amount_paid, i.currency),
    toInput(i.amount_credited, i.currency),
    toInput(i.amount_due, i.currency),
    i.issued_date,
    i.due_date,
  ];
}

export function Invoices({ session, query }: ScreenProps) {
  const filters = filtersOf(query);
  const cursor = query.get("cursor") ?? undefined;
  const page = useLoad(() => call(api.GET("/invoices", { params: { query: apiQuery(filters, cursor) } })), [
    query.toString(),
  ]);
  const [exporting, setExporting] = useState<string | null>(null);
  const [exportError, setExportError] = useState<ApiError | null>(null);

  async function exportCsv() {
    setExporting("Exporting…");
    setExportError(null);
    try {
      const rows = await everyInvoice(filters);
      downloadCsv("invoices.csv", CSV_HEADER, rows.map(csvRow));
      setExporting(`Exported ${rows.length} invoice${rows.length === 1 ? "" : "s"}.`);
    } catch (error) {
      setExporting(null);
      setExportError(error as ApiError);
    }
  }

  const filtered = Object.keys(filters).some((name) => name !== "sort");
  const order = filters.sort === "due_date" ? "oldest due first" : "newest issued first";
  return (
    <section aria-labelledby="invoices-title">
      <div class="title-row">
        <h1 id="invoices-title">Invoices</h1>
        {canWrite(session) && (
          <Link href="/invoices/new" class="button">
            + New Invoice
          </Link>
        )}
      </div>
      {/* keyed by the URL: Back, a reload or "Clear filters" show the filters the list was read with */}
      <SearchForm
        key={query.toString()}
        filters={filters}
        error={page.error}
        onExport={exportCsv}
        byOrganization={!isCustomer(session)}
      />
      {exporting && <p role="status">{exporting}</p>}
      <Refusal error={exportError} />
      <Refusal error={page.error} />
      {page.loading && !page.data ? (
        <Loading what="invoices" />
      ) : (
        page.data && (
          <table>
            <caption>
              Invoices{filtered ? " (filtered)" : ""}, {order}
            </caption>
            <thead>
              <tr>
                <th scope="col">Number</th>
                <th scope="col">Organization</th>
                <th scope="col">Type</th>
                <th scope="col">Issued</th>
                <th scope="col">Due date</th>
                <th scope="col" class="num">Amount</th>
                <th scope="col" class="num">Due</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {page.data.items.length === 0 && (
                <tr>
                  <td colSpan={9}>No invoices match.</td>
                </tr>
              )}
              {page.data.items.map((i) => (
                <tr key={i.id}>
                  <td>{i.number}</td>
                  <td>{i.org_name}</td>
                  <td>{label(TYPES, i.type)}</td>
                  <td>{i.issued_date}</td>
                  <td>{i.due_date ?? "—"}</td>
                  <td class="num">
                    <Money amount={i.amount} currency={i.currency} />
                  </td>
                  <td class="num">
                    <Money amount={i.amount_due} currency={i.currency} />
                  </td>
                  <td>{label(STATUSES, i.status)}</td>
                  <td>
                    <Link href={`/invoices/${i.id}`} aria-label={`View ${i.number}`}>
                      View
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
      <Pager
        next={page.data?.next_cursor}
        cursor={cursor}
        onPage={(c) => navigate(withQuery("/invoices", { ...filters, cursor: c }))}
      />
    </section>
  );
}

/** `byOrganization` false (a customer's staff: their invoices are one organization's): no organization name. */
function SearchForm(props: {
  filters: Filters;
  error: ApiError | undefined;
  onExport: () => void;
  byOrganization: boolean;
}) {
  const { filters, error } = props;
  const [orgName, setOrgName] = useState(filters.org_name ?? "");
  const [number, setNumber] = useState(filters.number ?? "");
  const [issuedFrom, setIssuedFrom] = useState(filters.issued_from ?? "");
  const [issuedTo, setIssuedTo] = useState(filters.issued_to ?? "");
  const [status, setStatus] = useState(filters.status ?? "");
  const [type, setType] = useState(filters.type ?? "");
  const [sort, setSort] = useState(filters.sort ?? "");
  const range = error?.code === "invalid_date_range" ? error.message : undefined;

  function apply(event: Event) {
    event.preventDefault();
    navigate(
      withQuery("/invoices", {
        org_name: orgName.trim(),
        number: number.trim(),
        issued_from: issuedFrom,
        issued_to: issuedTo,
        status,
        type,
        org_id: filters.org_id,
        sort: filters.org_id ? sort : "",
      }),
    );
  }

  return (
    <form class="filters" onSubmit={apply} aria-label="Search invoices" noValidate>
      {props.byOrganization && (
        <OrganizationPicker
          label="Organization name"
          value={orgName}
          onInput={setOrgName}
          error={error?.about("org_name")}
        />
      )}
      <Field
        label="Invoice number"
        value={number}
        onInput={(e) => setNumber(e.currentTarget.value)}
        error={error?.about("number")}
      />
      <Field
        label="Issued from"
        type="date"
        value={issuedFrom}
        onInput={(e) => setIssuedFrom(e.currentTarget.value)}
        error={error?.about("issued_from") ?? range}
      />
      <Field
        label="Issued to"
        type="date"
        value={issuedTo}
        onInput={(e) => setIssuedTo(e.currentTarget.value)}
        error={error?.about("issued_to")}
      />
      <Select
        label="Status"
        value={status}
        onChange={(e) => setStatus(e.currentTarget.value)}
        options={[["", "Any status"], ...STATUS_FILTERS]}
      />
      <Select
        label="Type"
        value={type}
        onChange={(e) => setType(e.currentTarget.value)}
        options={[["", "Any type"], ...TYPES]}
      />
      {filters.org_id && (
        <Select label="Order" value={sort} onChange={(e) => setSort(e.currentTarget.value)} options={ORDERS} />
      )}
      <div class="actions">
        <button type="submit">Search</button>
        <button type="button" class="secondary" onClick={() => navigate("/invoices")}>
          Clear filters
        </button>
        <button type="button" class="secondary" onClick={props.onExport}>
          Export CSV
        </button>
      </div>
    </form>
  );
}

// The Reports tab: the aged receivables of the partner for a chosen As of date, Basis, Currency and Organization
// (kept in the URL like every list's filters), one table per currency (organizations, each bucket and the row's
// total, the TOTAL row), amounts as the API gives them (integers of minor units); Download CSV saves the API's own
// CSV of exactly the report shown; an organization's row opens its open invoices in the Invoices tab.
import { useEffect, useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, api, call, errorOf, useLoad } from "../../api";
import { Field, Loading, Money, Refusal, Select } from "../../components";
import { OrganizationPicker, byName, useOrganizations } from "../../orgs";
import { Link, navigate, withQuery } from "../../router";
import { type ReportQuery, reportCsv, save } from "./download";
import { type AgedReport, type AgedRow, type AgedTotal, BASES, BUCKETS, isBasis } from "./labels";

/** Today's UTC date: the API's own default for `as_of`. */
function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** What the URL asks for: only what it holds (the API defaults the rest: today, due_date, every currency and
 * organization). */
function queryOf(query: URLSearchParams): ReportQuery {
  const basis = query.get("basis");
  return {
    as_of: query.get("as_of") || undefined,
    basis: isBasis(basis) ? basis : undefined,
    currency: query.get("currency") || undefined,
    org_id: query.get("org_id") || undefined,
  };
}

/** The link of an organization's open invoices: the Invoices tab filtered to it and to what is due (unpaid or
 * partially paid), the oldest due first. */
export function openInvoicesHref(orgId: string): string {
  return withQuery("/invoices", { org_id: orgId, status: "unpaid,partially_paid", sort: "due_date" });
}

/** The report as JSON (the route answers CSV only when asked with Accept: text/csv). */
async function readReport(query: ReportQuery): Promise<AgedReport> {
  const got = await call(api.GET("/reports/aged-receivables", { params: { query } }));
  if (typeof got === "string") throw errorOf(0, { message: "The API answered CSV where the report was expected." });
  return got;
}

export function AgedReceivables({ query }: ScreenProps) {
  const asked = queryOf(query);
  const report = useLoad(() => readReport(asked), [query.toString()]);
  const [downloading, setDownloading] = useState<string | null>(null);
  const [downloadError, setDownloadError] = useState<ApiError | null>(null);
  useEffect(() => {
    setDownloading(null);
    setDownloadError(null);
  }, [query.toString()]);

  async function download(shown: AgedReport) {
    setDownloading("Downloading…");
    setDownloadError(null);
    try {
      // exactly what is shown: the date and basis the API answered with (not "today" again), the same filters
      const { name, file } = await reportCsv({ ...asked, as_of: shown.as_of, basis: shown.basis });
      save(name, file);
      setDownloading(`Downloaded ${name}.`);
    } catch (error) {
      setDownloading(null);
      setDownloadError(error as ApiError);
    }
  }

  const data = report.error ? undefined : report.data;
  return (
    <section aria-labelledby="reports-title">
      <div class="title-row">
        <h1 id="reports-title">Aged receivables</h1>
        {data && (
          <button type="button" class="secondary" onClick={() => void download(data)} disabled={downloading === "Downloading…"}>
            Download CSV
          </button>
        )}
      </div>
      {/* keyed by the URL: Back, a reload or "Reset" show the report's filters as it was read */}
      <ReportForm key={query.toString()} asked={asked} error={report.error} />
      {downloading && <p role="status">{downloading}</p>}
      <Refusal error={downloadError} />
      <Refusal error={report.error} />
      {report.loading && !report.data ? <Loading what="the report" /> : data && <Report report={data} />}
    </section>
  );
}

/** The field a refusal is about, as the API named it: `as_of`, `query.as_of`, ... */
function about(error: ApiError | undefined, field: string): string | undefined {
  if (!error) return undefined;
  if (field === "org_id" && error.status === 404) return error.message; // that organization is not the partner's
  return error.about(field);
}

function ReportForm({ asked, error }: { asked: ReportQuery; error: ApiError | undefined }) {
  const orgs = useOrganizations();
  const [asOf, setAsOf] = useState(asked.as_of ?? today());
  const [basis, setBasis] = useState<string>(asked.basis ?? "due_date");
  const [currency, setCurrency] = useState(asked.currency ?? "");
  const [orgName, setOrgName] = useState<string | null>(null); // null: not typed yet, the URL's organization
  const [orgProblem, setOrgProblem] = useState<string | undefined>(undefined);
  const named = asked.org_id ? orgs.get(asked.org_id)?.name : undefined;
  const shownName = orgName ?? named ?? (asked.org_id && orgs.size > 0 ? asked.org_id : "");

  // the partner's currencies (its organizations'), and the URL's even when none of them has it
  const currencies = [...new Set([...orgs.values()].map((o) => o.currency).concat(asked.currency ? [asked.currency] : []))].sort();

  function apply(event: Event) {
    event.preventDefault();
    const name = shownName.trim();
    let orgId: string | undefined;
    if (name) {
      orgId = byName(orgs, name)?.id ?? (name === asked.org_id ? asked.org_id : undefined);
      if (!orgId) {
        setOrgProblem(`No organization of yours is named “${name}”: choose one of the suggestions, or leave it empty for all.`);
        return;
      }
    }
    setOrgProblem(undefined);
    navigate(
      withQuery("/reports", {
        as_of: asOf,
        basis: basis === "due_date" ? undefined : basis,
        currency,
        org_id: orgId,
      }),
    );
  }

  return (
    <form class="filters" onSubmit={apply} aria-label="Report options" noValidate>
      <Field
        label="As of"
        type="date"
        value={asOf}
        onInput={(e) => setAsOf(e.currentTarget.value)}
        error={about(error, "as_of")}
      />
      <Select
        label="Basis"
        value={basis}
        onChange={(e) => setBasis(e.currentTarget.value)}
        options={BASES}
        error={about(error, "basis")}
      />
      <Select
        label="Currency"
        value={currency}
        onChange={(e) => setCurrency(e.currentTarget.value)}
        options={[["", "All currencies"], ...currencies.map((c): [string, string] => [c, c])]}
        error={about(error, "currency")}
      />
      <OrganizationPicker
        label="Organization"
        value={shownName}
        onInput={(name) => {
          setOrgName(name);
          setOrgProblem(undefined);
        }}
        currency={currency || undefined}
        error={orgProblem ?? about(error, "org_id")}
      />
      <div class="actions">
        <button type="submit">Show report</button>
        <button type="button" class="secondary" onClick={() => navigate("/reports")}>
          Reset
        </button>
      </div>
    </form>
  );
}

function Report({ report }: { report: AgedReport }) {
  const basis = BASES.find(([b]) => b === report.basis)?.[1] ?? report.basis;
  if (report.totals.length === 0) {
    return (
      <p>
        Nothing was due at the end of {report.as_of} (basis: {basis.toLowerCase()}).
      </p>
    );
  }
  return (
    <>
      <p>
        What was still due at the end of <strong>{report.as_of}</strong> (UTC), by days past the{" "}
        {report.basis === "issued_date" ? "issued date" : "due date"}.
      </p>
      {report.totals.map((total) => (
        <CurrencyTable
          key={total.currency}
          total={total}
          rows={report.rows.filter((row) => row.currency === total.currency)}
          asOf={report.as_of}
          basis={report.basis === "issued_date" ? "by issued date" : "by due date"}
        />
      ))}
    </>
  );
}

function CurrencyTable(props: { total: AgedTotal; rows: AgedRow[]; asOf: string; basis: string }) {
  const { total, rows, asOf, basis } = props;
  const currency = total.currency;
  return (
    <table>
      <caption>
        Aged receivables in {currency} as of {asOf} {basis}: {rows.length} organization{rows.length === 1 ? "" : "s"}, {total.invoices} invoice
        {total.invoices === 1 ? "" : "s"}
      </caption>
      <thead>
        <tr>
          <th scope="col">Organization</th>
          {BUCKETS.map(([field, name]) => (
            <th scope="col" class="num" key={field}>
              {name}
            </th>
          ))}
          <th scope="col" class="num">
            Total
          </th>
          <th scope="col" class="num">
            Invoices
          </th>
          <th scope="col">Oldest due</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.org_id}>
            <th scope="row">
              <Link href={openInvoicesHref(row.org_id)} title={`Open invoices of ${row.org_name}`}>
                {row.org_name}
              </Link>
            </th>
            {BUCKETS.map(([field]) => (
              <td class="num" key={field}>
                <Money amount={row[field]} currency={currency} />
              </td>
            ))}
            <td class="num">
              <Money amount={row.total} currency={currency} />
            </td>
            <td class="num">{row.invoices}</td>
            <td>{row.oldest_due_date}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row">TOTAL</th>
          {BUCKETS.map(([field]) => (
            <td class="num" key={field}>
              <Money amount={total[field]} currency={currency} />
            </td>
          ))}
          <td class="num">
            <Money amount={total.total} currency={currency} />
          </td>
          <td class="num">{total.invoices}</td>
          <td />
        </tr>
      </tfoot>
    </table>
  );
}

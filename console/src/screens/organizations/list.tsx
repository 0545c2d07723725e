// The Organization Management tab: the partner's organizations by name (as the API lists them), searched by
// the start of the name (kept in the URL), paged by the API's cursors; a writer creates one with
// + New Organization (Name, Currency), retry-safe with an Idempotency-Key.
import { useState } from "preact/hooks";
import type { ScreenProps } from "../../app";
import { type ApiError, api, call, newKey, useLoad } from "../../api";
import { Field, Loading, Pager, Refusal, Select } from "../../components";
import { MINOR_UNITS } from "../../generated/currencies";
import type { components } from "../../generated/api";
import { forgetOrganizations } from "../../orgs";
import { Link, navigate, withQuery } from "../../router";
import { canWrite } from "../../session";

type Currency = components["schemas"]["OrganizationCreate"]["currency"];

const CURRENCIES: [string, string][] = Object.keys(MINOR_UNITS)
  .sort()
  .map((code): [string, string] => [code, code]);

export function Organizations({ session, query }: ScreenProps) {
  const name = query.get("name") ?? undefined;
  const cursor = query.get("cursor") ?? undefined;
  const page = useLoad(
    () => call(api.GET("/organizations", { params: { query: { name, cursor, limit: 50 } } })),
    [query.toString()],
  );
  const [creating, setCreating] = useState(false);
  const writer = canWrite(session);

  return (
    <section aria-labelledby="organizations-title">
      <div class="title-row">
        <h1 id="organizations-title">Organizations</h1>
        {writer && !creating && (
          <button type="button" onClick={() => setCreating(true)}>
            + New Organization
          </button>
        )}
      </div>
      {writer && creating && <NewOrganization onCancel={() => setCreating(false)} />}
      <NameSearch key={name ?? ""} name={name} />
      <Refusal error={page.error} />
      {page.loading && !page.data ? (
        <Loading what="organizations" />
      ) : (
        <table>
          <caption>Organizations by name{name ? ` starting with “${name}”` : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Currency</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.data?.items.length === 0 && (
              <tr>
                <td colSpan={4}>{name ? "No organization's name starts with this." : "No organizations yet."}</td>
              </tr>
            )}
            {page.data?.items.map((org) => (
              <tr key={org.id}>
                <td>{org.name}</td>
                <td>{org.currency}</td>
                <td>{org.created_at}</td>
                <td>
                  <Link href={`/organizations/${org.id}`} aria-label={`View ${org.name}`}>
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
        onPage={(c) => navigate(withQuery("/organizations", { name, cursor: c }))}
      />
    </section>
  );
}

/** The name search: what is typed is the field's own (a list read finishing does not overwrite it); searching
 * puts it in the URL, and a new URL (Back, a link) starts the field again from it. */
function NameSearch({ name }: { name: string | undefined }) {
  const [typed, setTyped] = useState(name ?? "");
  function search(event: Event) {
    event.preventDefault();
    navigate(withQuery("/organizations", { name: typed.trim() || undefined }));
  }
  return (
    <form class="filters" onSubmit={search} aria-label="Search organizations" role="search">
      <div class="field">
        <label for="org-name-search">Name starts with</label>
        <input
          id="org-name-search"
          name="name"
          value={typed}
          maxLength={200}
          autoComplete="off"
          onInput={(e) => setTyped(e.currentTarget.value)}
        />
      </div>
      <div class="actions">
        <button type="submit">Search</button>
        {name && (
          <button type="button" class="secondary" onClick={() => navigate("/organizations")}>
            Clear search
          </button>
        )}
      </div>
    </form>
  );
}

// A refusal's code that names a field without a `details` entry for it.
const CODE_FIELDS: Record<string, string> = { organization_name_taken: "name" };

function NewOrganization({ onCancel }: { onCancel: () => void }) {
  const [name, setName] = useState("");
  const [currency, setCurrency] = useState("SGD");
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [nameError, setNameError] = useState<string | undefined>();
  const [key] = useState(newKey); // one key for this form: a retried submit creates the organization once
  const [busy, setBusy] = useState(false);

  function about(error: ApiError, field: string): string | undefined {
    return error.about(field) ?? (CODE_FIELDS[error.code] === field ? error.message : undefined);
  }

  async function submit(event: Event) {
    event.preventDefault();
    setRefusal(null);
    if (!name.trim()) {
      setNameError("Enter the organization's name.");
      return;
    }
    setNameError(undefined);
    setBusy(true);
    try {
      const org = await call(
        api.POST("/organizations", {
          params: { header: { "Idempotency-Key": key } },
          body: { name: name.trim(), currency: currency as Currency },
        }),
      );
      forgetOrganizations();
      navigate(`/organizations/${org.id}`);
    } catch (error) {
      const refused = error as ApiError;
      setRefusal(refused);
      setNameError(about(refused, "name"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} class="form" aria-label="New Organization" noValidate>
      <h2>New Organization</h2>
      <Field
        label="Name"
        value={name}
        maxLength={200}
        autoComplete="off"
        onInput={(e) => setName(e.currentTarget.value)}
        error={nameError}
        required
      />
      <Select
        label="Currency"
        value={currency}
        onChange={(e) => setCurrency(e.currentTarget.value)}
        options={CURRENCIES}
      />
      <p class="hint">The wallet's currency, and every payment's and invoice's of it: it cannot be changed later.</p>
      <Refusal error={refusal} />
      <div class="actions">
        <button type="submit" disabled={busy}>
          Create organization
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

// Sign-in. Locally: a Partner and a Role, and for a customer's own staff (org-admin, org-viewer) their
// Organization's id; the API's refusal of a field is shown beside it. Deployed: the identity provider.
import { useState } from "preact/hooks";
import { Field, Refusal, Select } from "../components";
import type { ConsoleConfig } from "../config";
import { type Session, SignInError, localSignIn, oidcSignIn } from "../session";

const ROLES: [string, string][] = [
  ["finance-admin", "finance-admin (records, assigns, allocates)"],
  ["finance-viewer", "finance-viewer (reads only)"],
  ["org-admin", "org-admin (a customer's admin: tops up by card)"],
  ["org-viewer", "org-viewer (a customer's staff: reads only)"],
];

const CUSTOMER_ROLES = new Set(["org-admin", "org-viewer"]);

export function SignIn(props: { config: ConsoleConfig; ended: boolean; onSignedIn: (session: Session) => void }) {
  const [partner, setPartner] = useState("ptn_demo");
  const [role, setRole] = useState("finance-admin");
  const [org, setOrg] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const customer = CUSTOMER_ROLES.has(role);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setFields({});
    try {
      if (props.config.auth.kind === "oidc") await oidcSignIn(props.config);
      else props.onSignedIn(await localSignIn(partner.trim(), role, customer ? org.trim() : undefined));
    } catch (failure) {
      setError((failure as Error).message);
      if (failure instanceof SignInError) setFields(failure.fields);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Finance</h1>
      {props.ended && <p role="status">Your session has ended. Sign in again.</p>}
      {/* noValidate: every refusal is the API's, shown beside its field */}
      <form onSubmit={submit} aria-label="Sign in" noValidate>
        {props.config.auth.kind === "local" ? (
          <>
            <p class="hint">
              Local stack: choose a partner and a role (demo data is under ptn_demo; the stack's banner lists its
              organizations' ids for a customer's roles).
            </p>
            <Field
              label="Partner"
              value={partner}
              onInput={(e) => setPartner(e.currentTarget.value)}
              error={fields["partner_id"]}
              required
            />
            <Select
              label="Role"
              value={role}
              onChange={(e) => {
                setRole(e.currentTarget.value);
                setFields({});
              }}
              options={ROLES}
              error={fields["role"]}
            />
            {customer && (
              <Field
                label="Organization"
                value={org}
                onInput={(e) => setOrg(e.currentTarget.value)}
                hint="Your organization's id: org_…"
                autoComplete="off"
                spellcheck={false}
                error={fields["org_id"]}
                required
              />
            )}
          </>
        ) : (
          <p>Sign in with your organization's account.</p>
        )}
        <Refusal error={error} />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}

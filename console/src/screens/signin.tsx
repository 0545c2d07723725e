import { useState } from "preact/hooks";
import { Field, Refusal, Select } from "../components";
import type { ConsoleConfig } from "../config";
import { type Session, localSignIn, oidcSignIn } from "../session";

export function SignIn(props: { config: ConsoleConfig; ended: boolean; onSignedIn: (session: Session) => void }) {
  const [partner, setPartner] = useState("ptn_demo");
  const [role, setRole] = useState("finance-admin");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (props.config.auth.kind === "oidc") await oidcSignIn(props.config);
      else props.onSignedIn(await localSignIn(partner.trim(), role));
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="signin">
      <h1>Finance</h1>
      {props.ended && <p role="status">Your session has ended. Sign in again.</p>}
      <form onSubmit={submit} aria-label="Sign in">
        {props.config.auth.kind === "local" ? (
          <>
            <p class="hint">Local stack: choose a partner and a role (demo data is under ptn_demo).</p>
            <Field label="Partner" value={partner} onInput={(e) => setPartner(e.currentTarget.value)} required />
            <Select
              label="Role"
              value={role}
              onChange={(e) => setRole(e.currentTarget.value)}
              options={[
                ["finance-admin", "finance-admin (records, assigns, allocates)"],
                ["finance-viewer", "finance-viewer (reads only)"],
              ]}
            />
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

// Who is signed in: the access token and what its claims say, kept in sessionStorage (never localStorage),
// so a token ends with the tab. The claims decide what the console offers; the API decides what is allowed.
import type { ConsoleConfig } from "./config";

const KEY = "finance.session";

export interface Session {
  token: string;
  sub: string;
  partnerId: string;
  groups: string[];
  orgId: string | null; // a customer's own organization (the token's org_id claim)
  expiresAt: number; // seconds since the epoch
}

const WRITERS = new Set(["finance-admin", "platform-admin"]);
const CUSTOMER_GROUPS = new Set(["org-admin", "org-viewer"]);

/** A customer organization's own staff (org-admin or org-viewer): the API treats a token holding a finance group
 * as well as an org group as the customer's, and so does the console. */
export function isCustomer(session: Session): boolean {
  return session.groups.some((group) => CUSTOMER_GROUPS.has(group));
}

/** A customer's admin: tops up its own organization by card and switches its automatic top-up. */
export function isOrgAdmin(session: Session): boolean {
  return isCustomer(session) && session.groups.includes("org-admin");
}

/** May the partner's writes be offered (never to a customer's staff, whose two writes are their own screens'). */
export function canWrite(session: Session): boolean {
  return !isCustomer(session) && session.groups.some((group) => WRITERS.has(group));
}

export function roleOf(session: Session): string {
  if (isCustomer(session)) return isOrgAdmin(session) ? "org-admin" : "org-viewer";
  return session.groups.find((g) => g.startsWith("finance-") || g === "platform-admin") ?? "no role";
}

function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<
    string,
    unknown
  >;
}

export function sessionOf(token: string): Session {
  const claims = claimsOf(token);
  const raw = claims["groups"] ?? claims["cognito:groups"] ?? [];
  const groups = Array.isArray(raw) ? raw.map(String) : String(raw).replace(/^\[|\]$/g, "").split(/[\s,]+/);
  return {
    token,
    sub: String(claims["email"] ?? claims["username"] ?? claims["sub"] ?? ""),
    partnerId: String(claims["partner_id"] ?? ""),
    groups: groups.filter(Boolean),
    orgId: typeof claims["org_id"] === "string" && claims["org_id"] ? claims["org_id"] : null,
    expiresAt: Number(claims["exp"] ?? 0),
  };
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, session.token);
}

export function loadSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  try {
    const session = sessionOf(token);
    return session.expiresAt * 1000 > Date.now() ? session : null;
  } catch {
    return null;
  }
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** A refused sign-in: the message, and each field's own words (`partner_id`, `role`, `org_id`). */
export class SignInError extends Error {
  constructor(
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Refused {
  error?: { message?: string; details?: { field?: string; message?: string }[] };
  message?: string;
}

function refusalOf(status: number, body: Refused | null, field?: string): SignInError {
  const details = body?.error?.details ?? [];
  const message = body?.error?.message ?? body?.message ?? `Sign-in failed (${status}).`;
  const fields: Record<string, string> = {};
  for (const detail of details) {
    const name = detail.field?.split(".").pop();
    if (name && detail.message) fields[name] = detail.message;
  }
  if (field && details.length === 0) fields[field] = message;
  return new SignInError(message, fields);
}

async function json(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/** Local sign-in: the stack mints the token (its secret never reaches the browser). A customer's staff name their
 * organization (`orgId`), which is read with the new token before the session is kept: an organization the partner
 * does not have is refused as the API refuses it. */
export async function localSignIn(partnerId: string, role: string, orgId?: string): Promise<Session> {
  const res = await fetch("/local/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(orgId === undefined ? { partner_id: partnerId, role } : { partner_id: partnerId, role, org_id: orgId }),
  });
  const body = (await json(res)) as ({ token?: string } & Refused) | null;
  if (!res.ok || !body?.token) throw refusalOf(res.status, body);
  const session = sessionOf(body.token);
  if (session.orgId) {
    const org = await fetch(`/organizations/${encodeURIComponent(session.orgId)}`, {
      headers: { Authorization: `Bearer ${session.token}` },
    });
    if (!org.ok) throw refusalOf(org.status, (await json(org)) as Refused | null, "org_id");
  }
  saveSession(session);
  return session;
}

/** Deployed sign-in: the authorization-code flow with PKCE (oidc-client-ts, loaded only when used). */
async function userManager(config: ConsoleConfig) {
  if (config.auth.kind !== "oidc") throw new Error("No identity provider is configured.");
  const { UserManager, WebStorageStateStore } = await import("oidc-client-ts");
  const base = `${window.location.origin}${import.meta.env.BASE_URL}`;
  return new UserManager({
    authority: config.auth.authority,
    client_id: config.auth.client_id,
    redirect_uri: `${base}callback`,
    post_logout_redirect_uri: base,
    response_type: "code",
    scope: config.auth.scope,
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    metadataSeed: { end_session_endpoint: config.auth.logout_url },
  });
}

export async function oidcSignIn(config: ConsoleConfig): Promise<void> {
  await (await userManager(config)).signinRedirect();
}

export async function oidcCallback(config: ConsoleConfig): Promise<Session> {
  const user = await (await userManager(config)).signinRedirectCallback();
  const session = sessionOf(user.access_token);
  saveSession(session);
  return session;
}

export async function signOut(config: ConsoleConfig | null): Promise<void> {
  clearSession();
  if (config?.auth.kind === "oidc") await (await userManager(config)).signoutRedirect();
}

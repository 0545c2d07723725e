// Who is signed in: the access token and what its claims say, kept in sessionStorage (never localStorage),
// so a token ends with the tab. The claims decide what the console offers; the API decides what is allowed.
import type { ConsoleConfig } from "./config";

const KEY = "finance.session";

export interface Session {
  token: string;
  sub: string;
  partnerId: string;
  groups: string[];
  expiresAt: number; // seconds since the epoch
}

const WRITERS = new Set(["finance-admin", "platform-admin"]);

export function canWrite(session: Session): boolean {
  return session.groups.some((group) => WRITERS.has(group));
}

export function roleOf(session: Session): string {
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

/** Local sign-in: the stack mints the token (its secret never reaches the browser). */
export async function localSignIn(partnerId: string, role: string): Promise<Session> {
  const res = await fetch("/local/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ partner_id: partnerId, role }),
  });
  const body = (await res.json()) as { token?: string; error?: { message: string; details?: { message: string }[] } };
  if (!res.ok || !body.token) {
    const details = body.error?.details?.map((d) => d.message).join("; ");
    throw new Error(details ? `${body.error?.message} ${details}` : (body.error?.message ?? "Sign-in failed."));
  }
  const session = sessionOf(body.token);
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

// The console's runtime configuration, read once from /console/config.json: locally the stack serves it
// (local sign-in, the local Stripe's Stripe.js stand-in); deployed it is written from the stack's outputs.
export type AuthConfig =
  | { kind: "local" }
  | { kind: "oidc"; authority: string; client_id: string; scope: string; logout_url: string };

export interface ConsoleConfig {
  api_base: string;
  auth: AuthConfig;
  stripe: { js_url: string; publishable_key: string };
}

let loaded: Promise<ConsoleConfig> | undefined;

export function loadConfig(): Promise<ConsoleConfig> {
  loaded ??= fetch(`${import.meta.env.BASE_URL}config.json`, { cache: "no-store" }).then(async (res) => {
    if (!res.ok) throw new Error(`The console's configuration could not be read (${res.status}).`);
    return (await res.json()) as ConsoleConfig;
  });
  return loaded;
}

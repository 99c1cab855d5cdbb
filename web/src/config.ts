// Where the app runs: read at start from `/config.json`, which the deploy script (or the
// local server) writes, so one bundle serves every stage.

export interface AppConfig {
  /** The API's base URL; empty when it is served beside the app. */
  apiBaseUrl: string;
  /** The identity provider's authorization endpoint (Cognito's Hosted UI, or the local one). */
  authorizeUrl: string;
  /** Its sign-out endpoint. */
  logoutUrl: string;
  /** The app client the token backend exchanges codes for. */
  clientId: string;
  /** The scopes to ask for, space-separated (deployed, the API's own scope among them). */
  scope: string;
  /** Where the identity provider sends the browser back with a code (registered). */
  redirectUri: string;
  /** Where it sends the browser after signing out (registered). */
  logoutRedirectUri: string;
}

const FIELDS = ["apiBaseUrl", "authorizeUrl", "logoutUrl", "clientId", "scope", "redirectUri", "logoutRedirectUri"] as const;

export async function loadConfig(): Promise<AppConfig> {
  // Preloaded by index.html; it is served with `no-cache`, so a new deploy is seen at once.
  const response = await fetch("/config.json");
  if (!response.ok) throw new Error(`the app's settings (/config.json) answered ${response.status}`);
  const raw: unknown = await response.json();
  if (typeof raw !== "object" || raw === null) throw new Error("the app's settings are not an object");
  const record = raw as Record<string, unknown>;
  for (const name of FIELDS) {
    if (typeof record[name] !== "string") throw new Error(`the app's settings lack \`${name}\``);
  }
  return record as unknown as AppConfig;
}

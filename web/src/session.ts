// The session: sign-in with the Authorization Code flow and PKCE through the identity
// provider's hosted pages, then the token-mediating backend (`/auth/*`).
//
// The access token lives in this module's memory and nowhere else. The refresh token never
// reaches the page: the backend keeps it in an HttpOnly cookie, and `/auth/refresh` trades
// it for a fresh access token before this one expires and after a reload. The only thing
// kept in web storage is the pending request's `state` and PKCE verifier, for the length of
// the round trip to the sign-in pages, and removed on return.

import type { AppConfig } from "./config";
import { challengeOf, randomToken } from "./pkce";

const PENDING_KEY = "forecast.pending-sign-in";
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_SECONDS = 60;
/** Tries of one refresh when the backend is busy or failing, and the wait after them. */
const REFRESH_ATTEMPTS = 3;
const RETRY_LATER_SECONDS = 30;
/** A pending sign-in older than this is not completed (the code would have expired). */
const PENDING_MAX_AGE_MS = 10 * 60 * 1000;

interface SessionTokens {
  access_token: string;
  token_type: string;
  expires_in: number;
}

interface PendingSignIn {
  state: string;
  verifier: string;
  returnTo: string;
  createdAt: number;
}

/** Why a sign-in could not be completed, in words for the person. */
export class SignInError extends Error {}

let config: AppConfig | null = null;
let accessToken: string | null = null;
let expiresAt = 0;
let refreshTimer: number | undefined;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<(signedIn: boolean) => void>();
// Sign-out in one tab ends the others' at once (their tokens are revoked server-side too).
const channel = "BroadcastChannel" in window ? new BroadcastChannel("forecast-session") : null;

export function configure(appConfig: AppConfig): void {
  config = appConfig;
  channel?.addEventListener("message", (event: MessageEvent) => {
    if (event.data === "signed-out") forget();
  });
}

function settings(): AppConfig {
  if (!config) throw new Error("the session is not configured");
  return config;
}

/** The access token, if signed in. */
export function token(): string | null {
  return accessToken && Date.now() < expiresAt ? accessToken : null;
}

export function onChange(listener: (signedIn: boolean) => void): void {
  listeners.add(listener);
}

function notify(): void {
  for (const listener of listeners) listener(accessToken !== null);
}

/** Goes to the identity provider's sign-in page; comes back to `returnTo`. */
export async function signIn(returnTo: string): Promise<never> {
  const { authorizeUrl, clientId, redirectUri, scope } = settings();
  const pending: PendingSignIn = { state: randomToken(), verifier: randomToken(48), returnTo, createdAt: Date.now() };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state: pending.state,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  }).toString();
  window.location.assign(url.toString());
  return new Promise<never>(() => {});
}

function takePending(): PendingSignIn | null {
  const text = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  if (!text) return null;
  try {
    const pending = JSON.parse(text) as PendingSignIn;
    return Date.now() - pending.createdAt <= PENDING_MAX_AGE_MS ? pending : null;
  } catch {
    return null;
  }
}

/** Completes a sign-in at the callback URL; returns where to go next. */
export async function completeSignIn(callback: URL): Promise<string> {
  const pending = takePending();
  const params = callback.searchParams;
  const error = params.get("error");
  if (error) {
    throw new SignInError(params.get("error_description") ?? `The sign-in was not completed (${error}).`);
  }
  const code = params.get("code");
  const state = params.get("state");
  // A callback this tab did not start (or started too long ago) is refused: it may be
  // someone else's code, planted to sign this browser in as them.
  if (!pending || !code || !state || state !== pending.state) {
    throw new SignInError("This sign-in link was not started here, or it has expired. Sign in again.");
  }
  const answer = await backend("/auth/token", {
    code,
    code_verifier: pending.verifier,
    redirect_uri: settings().redirectUri,
  });
  if (!answer.ok) throw new SignInError("The sign-in could not be completed: the code was refused or has expired. Sign in again.");
  accept((await answer.json()) as SessionTokens);
  return pending.returnTo;
}

/** Picks up the session after a reload (the cookie is all there is). */
export function resume(): Promise<boolean> {
  return refresh();
}

/** A fresh access token from the cookie's session; false when there is none. Tabs take
 * turns (a Web Lock): the cookie's token is rotated at each use, and the backend treats a
 * token used twice as stolen. */
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    refreshing = inTurn(refreshOnce).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function refreshOnce(): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const answer = await backend("/auth/refresh");
    if (answer.ok) {
      accept((await answer.json()) as SessionTokens);
      return true;
    }
    // A limit or an outage says nothing about the session: wait as told and try again,
    // and while the current token lasts, keep it and try later.
    const transient = answer.status === 429 || answer.status >= 500;
    if (transient && attempt < REFRESH_ATTEMPTS) {
      await new Promise((resume) => window.setTimeout(resume, retryAfterMs(answer)));
      continue;
    }
    if (transient && token()) {
      schedule(RETRY_LATER_SECONDS);
      return true;
    }
    forget();
    return false;
  }
}

/** The answer's `Retry-After`, within reason. */
function retryAfterMs(answer: Response): number {
  const seconds = Number(answer.headers.get("retry-after"));
  return Math.min(Number.isFinite(seconds) && seconds > 0 ? seconds : 2, 15) * 1000;
}

/** Runs `task` while holding the tabs' shared refresh lock (where the browser has one). */
async function inTurn(task: () => Promise<boolean>): Promise<boolean> {
  if (!("locks" in navigator)) return task();
  return await navigator.locks.request("forecast-session-refresh", task);
}

/** Signs out everywhere: the session's refresh token is revoked and every access token the
 * person holds stops working, in every tab and browser; then the provider's own session. */
export async function signOut(): Promise<never> {
  const { logoutUrl, clientId, logoutRedirectUri } = settings();
  const bearer = accessToken;
  try {
    await backend("/auth/logout", undefined, bearer);
  } finally {
    forget();
    channel?.postMessage("signed-out");
  }
  const url = new URL(logoutUrl);
  url.search = new URLSearchParams({ client_id: clientId, logout_uri: logoutRedirectUri }).toString();
  window.location.assign(url.toString());
  return new Promise<never>(() => {});
}

function accept(tokens: SessionTokens): void {
  accessToken = tokens.access_token;
  expiresAt = Date.now() + tokens.expires_in * 1000;
  schedule(Math.max(tokens.expires_in - REFRESH_MARGIN_SECONDS, tokens.expires_in / 2));
  notify();
}

function schedule(seconds: number): void {
  window.clearTimeout(refreshTimer);
  refreshTimer = window.setTimeout(() => void refresh(), seconds * 1000);
}

function forget(): void {
  const was = accessToken !== null;
  accessToken = null;
  expiresAt = 0;
  window.clearTimeout(refreshTimer);
  if (was) notify();
}

/** A call to the token backend: from this origin, with its CSRF header and the cookie. */
function backend(path: string, body?: unknown, bearer?: string | null): Promise<Response> {
  const headers: Record<string, string> = { "x-csrf-token": "1" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  return fetch(`${settings().apiBaseUrl}${path}`, {
    method: "POST",
    credentials: "include",
    headers,
    body: body === undefined ? null : JSON.stringify(body),
  });
}

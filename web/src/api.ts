// Calls to the API with the session's access token. Every refusal arrives as an
// `ApiProblem` carrying the problem+json body, so screens show its words; a 401 tries one
// silent refresh and the call again before it reaches the caller.

import * as session from "./session";

let apiBase = "";

export function configure(base: string): void {
  apiBase = base;
}

/** A refused call: the API's problem+json (RFC 9457), or what stood in for it. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string | null,
    readonly field: string | null,
    readonly instance: string | null,
    readonly type: string | null,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }

  /** The message for the person: what went wrong and, for support, the request's id. */
  describe(): string {
    const parts = [this.detail ?? this.title];
    if (this.field && this.detail && !this.detail.includes(`\`${this.field}\``)) parts.push(`(field: ${this.field})`);
    return parts.join(" ");
  }
}

export interface Answer<T> {
  data: T;
  etag: string | null;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  ifMatch?: string | null;
}

async function send(method: string, path: string, options: CallOptions): Promise<Response> {
  const url = new URL(`${apiBase}${path}`, window.location.origin);
  for (const [name, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  const headers: Record<string, string> = { accept: "application/json, application/problem+json" };
  const bearer = session.token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.ifMatch) headers["if-match"] = options.ifMatch;
  return fetch(url, { method, headers, body: options.body === undefined ? null : JSON.stringify(options.body) });
}

async function call(method: string, path: string, options: CallOptions): Promise<Response> {
  let response = await send(method, path, options);
  if (response.status === 401 && (await session.refresh())) response = await send(method, path, options);
  if (!response.ok) throw await problemOf(response);
  return response;
}

/** A JSON answer. */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const response = await call(method, path, options);
  const etag = response.headers.get("etag");
  if (response.status === 204) return { data: undefined as T, etag };
  return { data: (await response.json()) as T, etag };
}

/** A file the API answers with (exports): saved under the name it gives. */
export async function download(path: string, query: Record<string, string>): Promise<string> {
  const response = await call("GET", path, { query });
  const disposition = response.headers.get("content-disposition") ?? "";
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? "export";
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return name;
}

async function problemOf(response: Response): Promise<ApiProblem> {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      const body = (await response.json()) as Record<string, unknown>;
      const text = (name: string) => (typeof body[name] === "string" ? (body[name] as string) : null);
      return new ApiProblem(response.status, text("title") ?? response.statusText, text("detail"), text("field"), text("instance"), text("type"));
    } catch {
      // Not the JSON it said it was: fall through to the status alone.
    }
  }
  const title = response.status === 429 ? "Too many requests: wait a minute and try again" : response.statusText || "The request failed";
  return new ApiProblem(response.status, title, null, null, null, null);
}

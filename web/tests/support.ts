// What the browser tests share: the server they run against, signing in through the real
// pages, and the checks every screen must pass (no token in web storage or readable
// cookies, no CSP violation, axe-core clean).

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { expect, type BrowserContext, type Page } from "@playwright/test";
import { stateFile } from "./global-setup";

export interface ServerState {
  url: string;
  dataDir: string;
  adminPassword: string;
  binary: string;
  /** A port whose `http://localhost:` origin the server allows. */
  allowedPort: number;
}

export function server(): ServerState {
  return JSON.parse(readFileSync(stateFile, "utf8")) as ServerState;
}

export const ADMIN = "admin@forecast.local";
/** Passwords chosen at first sign-in: they meet the pool's policy. */
export const PASSWORDS = {
  admin: "Quiet harbour lantern 41!",
  analyst: "Copper meadow violin 52!",
  viewer: "Silver orchard kettle 63!",
};

const screensDir = resolve(import.meta.dirname, "..", "test-results", "screens");
const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Watches a page: CSP violations it reports, and every bearer token it sends. */
export class Watched {
  readonly tokens = new Set<string>();
  readonly violations: string[] = [];
  /** Uncaught exceptions in the page: a screen that broke. */
  readonly errors: string[] = [];

  constructor(readonly page: Page) {
    page.on("request", (request) => {
      const header = request.headers().authorization;
      if (header?.startsWith("Bearer ")) this.tokens.add(header.slice(7));
    });
    page.on("pageerror", (error) => this.errors.push(`${error.name}: ${error.message}\n${error.stack ?? ""}`));
    page.on("console", (message) => {
      if (message.type() === "error" && /Content Security Policy|Trusted Type/i.test(message.text())) this.violations.push(message.text());
    });
  }

  static async open(context: BrowserContext): Promise<Watched> {
    // Registered before any script of the page runs, in every document it loads.
    await context.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
      document.addEventListener("securitypolicyviolation", (event) => {
        seen.push(`${event.violatedDirective}: ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber}`);
      });
    });
    return new Watched(await context.newPage());
  }

  /** No violation so far, reported by the page or the console. */
  async expectNoCspViolations(): Promise<void> {
    const reported = await this.page.evaluate(() => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? []);
    expect([...reported, ...this.violations]).toEqual([]);
    expect(this.errors, "uncaught errors in the page").toEqual([]);
  }

  /** No token the page ever sent (nor anything shaped like a JWT) in web storage or in a
   * cookie a script can read; the session cookie is HttpOnly. */
  async expectNoTokenInStorage(): Promise<void> {
    const stored = await this.page.evaluate(() => {
      const dump = (storage: Storage) => Array.from({ length: storage.length }, (_, i) => `${storage.key(i)}=${storage.getItem(storage.key(i) ?? "")}`);
      return { local: dump(localStorage), session: dump(sessionStorage), cookies: document.cookie };
    });
    const text = JSON.stringify(stored);
    expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    for (const token of this.tokens) expect(text).not.toContain(token);
    const cookies = await this.page.context().cookies();
    for (const cookie of cookies) {
      if (/refresh/i.test(cookie.name)) expect(cookie.httpOnly, `${cookie.name} must be HttpOnly`).toBe(true);
    }
  }

  /** axe-core over the page as it is: no serious or critical violations. */
  async expectAccessible(what: string): Promise<void> {
    // Evaluated through the DevTools protocol, not a <script> tag, so the page's CSP is
    // not bent for the checker.
    await this.page.evaluate(axeSource);
    const serious = await this.page.evaluate(async () => {
      const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
      const result = await axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
        .map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(" ")).join(", ")}`);
    });
    expect(serious, `axe on ${what}`).toEqual([]);
  }

  async shot(name: string): Promise<void> {
    mkdirSync(screensDir, { recursive: true });
    await this.page.screenshot({ path: resolve(screensDir, `${name}.png`) });
  }
}

/** Signs in through the app's button and the identity provider's pages, choosing a new
 * password when the account still has its temporary one. */
export async function signIn(page: Page, email: string, password: string, newPassword?: string): Promise<void> {
  await page.goto(`${server().url}/`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (newPassword) {
    await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
    await page.getByLabel("New password").fill(newPassword);
    await page.getByRole("button", { name: "Save and continue" }).click();
  }
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
}

/** The temporary password the local outbox holds for `email` (the newest). */
export function temporaryPassword(email: string): string {
  const { binary, dataDir, url } = server();
  const port = new URL(url).port;
  const outbox = execFileSync(binary, ["outbox", "--data-dir", dataDir, "--port", port], { encoding: "utf8" });
  const messages = outbox.split(/^to: /m).filter((message) => message.startsWith(`${email}\n`));
  const found = /temporary password: (\S+)/.exec(messages[messages.length - 1] ?? "");
  if (!found?.[1]) throw new Error(`no invitation for ${email} in the outbox:\n${outbox}`);
  return found[1];
}

/** A daily series with a weekly pattern and a trend, as a CSV. */
export function dailyCsv(days: number): string {
  const rows = ["date,sales,visits"];
  const start = Date.UTC(2024, 0, 1);
  for (let day = 0; day < days; day++) {
    const date = new Date(start + day * 86_400_000).toISOString().slice(0, 10);
    const sales = 100 + (day % 7) * 6 + day * 0.4 + ((day * 37) % 11) / 2;
    rows.push(`${date},${sales.toFixed(1)},${Math.round(sales * 3 + ((day * 13) % 7))}`);
  }
  return `${rows.join("\n")}\n`;
}

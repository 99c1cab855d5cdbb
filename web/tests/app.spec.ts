// The app in headless Chromium against the local server, as its users meet it: the first
// admin signs in and invites an analyst and a viewer; the analyst uploads, charts,
// forecasts, analyses, exports and shares; the viewer reads; sessions survive reloads,
// refresh before expiry and end everywhere at sign-out. Every screen is checked for tokens
// in web storage, CSP violations and accessibility.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { expect, test, type Browser, type BrowserContext, type Page } from "@playwright/test";
import { freePort } from "./global-setup";
import { ADMIN, dailyCsv, PASSWORDS, server, signIn, temporaryPassword, Watched } from "./support";

test.describe.configure({ mode: "serial" });

const ANALYST = "alice@example.com";
const VIEWER = "victor@example.com";
let datasetUrl = "";
let forecastUrl = "";

const opened: BrowserContext[] = [];

/** A browser of its own (cookies, storage), closed after the file's tests. Each person
 * signs in once and keeps their browser, as people do: a new page picks the session up
 * from its cookie. (Signing in again and again would also run into the per-address limit
 * on sign-in attempts, five a minute.) */
async function session(browser: Browser): Promise<Watched> {
  const context = await browser.newContext();
  opened.push(context);
  return Watched.open(context);
}

const people: Partial<Record<"admin" | "analyst" | "viewer", Watched>> = {};

function person(name: keyof typeof people): Watched {
  const watched = people[name];
  if (!watched) throw new Error(`${name} has not signed in yet (the tests run in order)`);
  return watched;
}

test.afterAll(async () => {
  for (const context of opened.splice(0)) await context.close();
});

function mainNav(page: Page) {
  return page.getByRole("navigation", { name: "Main" });
}

/** Every screen's standing checks. */
async function checked(watched: Watched, what: string): Promise<void> {
  await watched.expectAccessible(what);
  await watched.expectNoCspViolations();
  await watched.expectNoTokenInStorage();
}

function salesCsv(): string {
  // 120 days with a weekly pattern and one spike (an outlier to find).
  return dailyCsv(120).replace(/^(2024-02-20),[\d.]+,/m, "$1,400.0,");
}

test("the first admin signs in with PKCE and a checked state, then invites an analyst and a viewer", async ({ browser }) => {
  const admin = await session(browser);
  people.admin = admin;
  const authorize = admin.page.waitForRequest((request) => request.url().includes("/oauth2/authorize"));
  const signingIn = signIn(admin.page, ADMIN, server().adminPassword, PASSWORDS.admin);
  const url = new URL((await authorize).url());
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  expect(url.searchParams.get("code_challenge")).toMatch(/^[\w-]{43}$/);
  expect(url.searchParams.get("state")).toMatch(/^[\w-]{43}$/);
  expect(url.searchParams.get("response_type")).toBe("code");
  await signingIn;
  // The pending sign-in (state and verifier) is gone once back.
  expect(await admin.page.evaluate(() => sessionStorage.length)).toBe(0);

  await mainNav(admin.page).getByRole("link", { name: "Users" }).click();
  await expect(admin.page.getByRole("heading", { level: 1, name: "Users" })).toBeVisible();
  for (const [email, role] of [
    [ANALYST, "analyst"],
    [VIEWER, "viewer"],
  ] as const) {
    await admin.page.getByLabel("E-mail").fill(email);
    await admin.page.getByLabel("Role", { exact: true }).selectOption(role);
    await admin.page.getByRole("button", { name: "Send invitation" }).click();
    await expect(admin.page.getByRole("heading", { level: 3, name: email })).toBeVisible();
  }
  await admin.shot("users");
  await checked(admin, "users");
});

test("a callback whose state this tab did not start is refused", async ({ browser }) => {
  const stranger = await session(browser);
  const { page } = stranger;
  // A code planted in a tab that never asked for one.
  await page.goto(`${server().url}/callback?code=planted-code&state=not-ours`);
  await expect(page.getByRole("alert")).toContainText("was not started here");
  // A tab that did start a sign-in, brought back with another request's state.
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  const started = await page.evaluate(() => sessionStorage.length);
  expect(started, "the pending sign-in is kept for the round trip").toBe(1);
  await page.goto(`${server().url}/callback?code=planted-code&state=${"A".repeat(43)}`);
  await expect(page.getByRole("alert")).toContainText("was not started here");
  expect(await page.evaluate(() => sessionStorage.length), "and dropped on return").toBe(0);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  await checked(stranger, "a refused callback");
});

test("the analyst uploads CSVs by picking and by dropping, and sees the server's reading or its named problem", async ({ browser }) => {
  const analyst = await session(browser);
  people.analyst = analyst;
  await signIn(analyst.page, ANALYST, temporaryPassword(ANALYST), PASSWORDS.analyst);
  const { page } = analyst;

  await page.getByLabel("CSV file").setInputFiles({ name: "daily-sales.csv", mimeType: "text/csv", buffer: Buffer.from(salesCsv()) });
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("daily-sales");
  await page.getByRole("button", { name: "Upload" }).click();
  const preview = page.getByRole("region", { name: "Uploaded: daily-sales" });
  await expect(preview).toContainText("120 rows, 3 columns");
  await expect(preview).toContainText("Time axis: date, daily (P1D)");
  await expect(preview.getByRole("row", { name: /sales float/ })).toBeVisible();
  await expect(preview.getByRole("row", { name: /date timestamp \(time axis\)/ })).toBeVisible();

  // A refused file: the server's words, not a status code.
  await page.getByLabel("CSV file").setInputFiles({ name: "broken.csv", mimeType: "text/csv", buffer: Buffer.from("date,sales\n2024-01-01\n2024-01-02,3,4\n") });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("heading", { name: "The file was refused" })).toBeVisible();
  await expect(page.getByRole("alert")).toContainText("CSV row 2 has 1 fields; the header has 2");

  // Dropped rather than picked.
  const dropped = await page.evaluateHandle((csv) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([csv], "dropped.csv", { type: "text/csv" }));
    return transfer;
  }, dailyCsv(30));
  await page.locator(".dropzone").dispatchEvent("drop", { dataTransfer: dropped });
  await expect(page.getByText("Chosen: dropped.csv")).toBeVisible();
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.getByRole("region", { name: "Uploaded: dropped" })).toContainText("30 rows");

  await page.getByLabel("Search datasets").fill("daily");
  await expect(page.getByRole("status").filter({ hasText: "datasets shown" })).toContainText("1 of 2 datasets shown");
  await analyst.shot("datasets");
  await checked(analyst, "datasets");

  await page.getByRole("link", { name: "daily-sales", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "daily-sales" })).toBeVisible();
  datasetUrl = page.url();
  const plot = page.getByRole("img", { name: /daily-sales: sales, visits over time/ });
  await expect(plot.locator("canvas")).toBeVisible();
  const before = await plot.screenshot();
  await page.getByRole("button", { name: "Zoom in" }).click();
  expect((await plot.screenshot()).equals(before), "zooming redraws the chart").toBe(false);
  await page.getByRole("button", { name: "Reset zoom" }).click();
  await analyst.shot("dataset");
  await checked(analyst, "a dataset");
});

/** Light-blue pixels of a forecast chart: the interval bands over white. */
async function bandPixels(page: Page): Promise<number> {
  return page.locator(".plot canvas").first().evaluate((canvas: HTMLCanvasElement) => {
    const context = canvas.getContext("2d");
    if (!context) return 0;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      // The canvas is transparent: composite each pixel over the page's white.
      const alpha = (data[i + 3] ?? 0) / 255;
      const [r, g, b] = [0, 1, 2].map((k) => (data[i + k] ?? 0) * alpha + 255 * (1 - alpha)) as [number, number, number];
      if (alpha > 0 && b > 230 && b > r + 15 && b > g + 8 && r > 120) count++;
    }
    return count;
  });
}

test("the owner renames a dataset, then deletes it after confirming", async () => {
  const analyst = person("analyst");
  const { page } = analyst;
  await page.goto(`${server().url}/datasets`);
  await page.getByRole("link", { name: "dropped", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "dropped" })).toBeVisible();
  const rename = page.getByRole("form", { name: "Rename" });
  await rename.getByLabel("Name").fill("thirty days");
  await rename.getByLabel("Description").fill("A month of sales");
  await rename.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "thirty days" })).toBeVisible();
  await expect(page.getByRole("paragraph").filter({ hasText: "A month of sales" })).toBeVisible();

  await page.getByRole("button", { name: "Delete dataset" }).click();
  await expect(page.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "thirty days" })).toBeVisible();
  await page.getByRole("button", { name: "Delete dataset" }).click();
  await page.getByRole("button", { name: "Yes, delete the dataset" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
  await expect(page.getByRole("link", { name: "thirty days" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "daily-sales", exact: true })).toBeVisible();
  await checked(analyst, "after a deletion");
});

test("a forecast shows its progress, then history, forecast and both bands, and every candidate's scores", async () => {
  const analyst = person("analyst");
  const { page } = analyst;
  await page.goto(datasetUrl);
  await page.getByRole("navigation", { name: "Dataset actions" }).getByRole("link", { name: "Forecast" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Forecast daily-sales" })).toBeVisible();
  await page.getByLabel("Target column").selectOption("sales");
  await page.getByLabel("Horizon (steps ahead)").fill("14");
  await page.getByLabel("Model").selectOption("auto");
  await page.getByLabel("Missing values").selectOption("interpolate");
  // A slower network, so the indicator is there to be seen.
  await page.route("**/v1/forecasts", async (route) => {
    await new Promise((resume) => setTimeout(resume, 1500));
    await route.continue();
  });
  await page.getByRole("button", { name: "Run forecast" }).click();
  await expect(page.getByRole("progressbar", { name: "Forecast running" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: "Fitting and backtesting" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Forecast of sales" })).toBeVisible();
  forecastUrl = page.url();
  // The app went there on its own (no link): the header follows.
  await expect(mainNav(page).getByRole("link", { name: "Forecasts" })).toHaveAttribute("aria-current", "page");
  await expect(mainNav(page).getByRole("link", { name: "Datasets" })).not.toHaveAttribute("aria-current", "page");

  const legend = page.locator(".legend");
  for (const label of ["history", "forecast", "95 % interval", "80 % interval"]) await expect(legend).toContainText(label);
  await expect.poll(() => bandPixels(page), { message: "the bands are drawn" }).toBeGreaterThan(500);
  const rows = page.getByRole("table").filter({ hasText: "MASE" }).getByRole("row");
  // The header and four candidates: seasonal naive, AutoETS, damped ETS, Theta (two years
  // of daily data hold no second yearly cycle before the first origin, so no MSTL).
  await expect(rows).toHaveCount(5);
  // The default forecast combines the best candidates: each is marked in the table.
  await expect(page.getByRole("row", { name: /\((chosen|in the combination)\)/ }).first()).toBeVisible();

  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Export CSV" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^forecast-.*\.csv$/);
  const text = readFileSync(await file.path(), "utf8");
  expect(text.split("\n")[0]).toContain("timestamp");
  expect(text.trim().split("\n")).toHaveLength(15);
  await analyst.shot("forecast");
  await checked(analyst, "a forecast");

  await mainNav(page).getByRole("link", { name: "Forecasts" }).click();
  await expect(page.getByRole("link", { name: "sales, 14 steps" })).toBeVisible();
  await checked(analyst, "forecasts");
});

test("the analysis shows each column's seasons, trend and summary, with the outlier and changepoints marked on its chart", async () => {
  const analyst = person("analyst");
  const { page } = analyst;
  await page.goto(datasetUrl);
  await page.getByRole("navigation", { name: "Dataset actions" }).getByRole("link", { name: "Analyse" }).click();
  const sales = page.getByRole("region", { name: "sales", exact: true });
  // What the engine finds is the engine's to get right; the screen shows all of it.
  await expect(sales.getByRole("definition").first()).toContainText(/\d+ steps \(relative power [\d.]+\)/);
  await expect(sales).toContainText("increasing");
  await expect(sales.getByRole("img", { name: /^sales with 1 outliers and [1-9]\d* changepoints marked$/ }).locator("canvas")).toBeVisible();
  await expect(sales.locator(".legend")).toContainText("outlier");
  await expect(sales.locator(".legend")).toContainText("changepoint");
  await expect(sales.getByRole("table", { name: "Summary of the observed values" })).toContainText("400");
  await expect(page.getByRole("region", { name: "visits", exact: true })).toBeVisible();
  await analyst.shot("analysis");
  await checked(analyst, "an analysis");
});

test("shared with the viewer, the dataset and its forecast are read-only for them; others' are not found", async ({ browser }) => {
  const analyst = person("analyst");
  await analyst.page.goto(datasetUrl);
  await analyst.page.getByLabel("Share with").selectOption({ label: `${VIEWER} (viewer)` });
  await analyst.page.getByRole("button", { name: "Share", exact: true }).click();
  await expect(analyst.page.getByRole("button", { name: `Stop sharing with ${VIEWER}` })).toBeVisible();

  const viewer = await session(browser);
  people.viewer = viewer;
  await signIn(viewer.page, VIEWER, temporaryPassword(VIEWER), PASSWORDS.viewer);
  const { page } = viewer;
  await expect(page.getByRole("form", { name: "Upload a CSV" })).toHaveCount(0);
  await expect(mainNav(page).getByRole("link", { name: "Users" })).toHaveCount(0);
  await page.getByRole("link", { name: "daily-sales", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "daily-sales" })).toBeVisible();
  await expect(page.getByText("read-only")).toBeVisible();
  const actions = page.getByRole("navigation", { name: "Dataset actions" });
  await expect(actions.getByRole("button", { name: "Export CSV" })).toBeVisible();
  for (const name of ["Forecast", "Analyse"]) await expect(actions.getByRole("link", { name })).toHaveCount(0);
  for (const name of ["Save", "Share", "Delete dataset"]) await expect(page.getByRole("button", { name, exact: true })).toHaveCount(0);
  await expect(page.getByRole("img", { name: /over time/ }).locator("canvas")).toBeVisible();
  await page.goto(forecastUrl);
  await expect(page.getByRole("heading", { level: 1, name: "Forecast of sales" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Delete forecast" })).toHaveCount(0);
  await checked(viewer, "a shared forecast, as a viewer");

  // The dropped dataset was not shared: it is simply not there.
  await page.goto(`${server().url}/datasets/00000000-0000-4000-8000-000000000000`);
  await expect(page.getByRole("heading", { level: 1, name: "Not found" })).toBeVisible();
  await page.goto(`${server().url}/users`);
  await expect(page.getByRole("heading", { level: 1, name: "You don't have access" })).toBeVisible();
  await checked(viewer, "the refusal pages");
});

test("an admin changes a role, disables and deletes an account, and the API's refusals read as words", async () => {
  const admin = person("admin");
  const { page } = admin;
  await page.goto(`${server().url}/users`);
  const invite = page.getByRole("form", { name: "Invite someone" });
  await invite.getByLabel("E-mail").fill("walter@example.com");
  await invite.getByRole("button", { name: "Send invitation" }).click();
  const walter = page.getByRole("listitem").filter({ has: page.getByRole("heading", { level: 3, name: "walter@example.com" }) });
  await expect(walter).toContainText("invited, not signed in yet");
  await walter.getByLabel("Role of walter@example.com").selectOption("analyst");
  await walter.getByRole("button", { name: "Change role" }).click();
  await expect(page.getByRole("status")).toContainText("walter@example.com is now analyst");
  await expect(walter.getByLabel("Role of walter@example.com")).toHaveValue("analyst");
  await walter.getByRole("button", { name: "Disable" }).click();
  await expect(walter).toContainText("disabled");
  await expect(walter.getByRole("button", { name: "Enable" })).toBeVisible();

  // Inviting the same address again: the API's conflict, in its words.
  await invite.getByLabel("E-mail").fill("walter@example.com");
  await invite.getByRole("button", { name: "Send invitation" }).click();
  await expect(invite.getByRole("alert")).toContainText("an account with this e-mail address exists");
  await expect(invite.getByRole("alert")).toContainText("Reference: urn:request:");

  await walter.getByRole("button", { name: "Delete account" }).click();
  await walter.getByRole("button", { name: "Yes, delete the account" }).click();
  await expect(page.getByRole("heading", { level: 3, name: "walter@example.com" })).toHaveCount(0);
  await checked(admin, "users after changes");
});

test("a session survives a reload and refreshes itself before the token expires", async () => {
  // A new tab of the analyst's browser, with a clock the test can move.
  const analyst = new Watched(await person("analyst").page.context().newPage());
  const { page } = analyst;
  await page.clock.install();
  const resumed = page.waitForResponse((response) => response.url().endsWith("/auth/refresh") && response.status() === 200);
  await page.goto(`${server().url}/datasets`);
  await resumed;
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
  // A reload meets a busy backend first: the app waits as told and tries again, and the
  // person stays signed in.
  let refusals = 0;
  await page.route("**/auth/refresh", async (route) => {
    if (refusals++ === 0) {
      await route.fulfill({ status: 429, headers: { "retry-after": "1", "content-type": "application/problem+json" }, body: '{"type":"about:blank","title":"Too Many Requests","status":429}' });
    } else {
      await route.continue();
    }
  });
  const reloaded = page.waitForResponse((response) => response.url().endsWith("/auth/refresh") && response.status() === 200);
  await page.reload();
  await page.clock.runFor(1500); // the Retry-After
  await reloaded;
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
  expect(refusals).toBe(2);
  await page.unroute("**/auth/refresh");

  const before = new Set(analyst.tokens);
  const refreshed = page.waitForResponse((response) => response.url().endsWith("/auth/refresh") && response.status() === 200);
  await page.clock.fastForward("14:30"); // a minute before the 15-minute token expires
  await refreshed;
  await mainNav(page).getByRole("link", { name: "Forecasts" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  const fresh = [...analyst.tokens].filter((token) => !before.has(token));
  expect(fresh.length, "calls after the refresh carry a new token").toBeGreaterThan(0);
  await checked(analyst, "after a refresh");
  await page.close();
});

test("another origin's page can't use the session: CORS refuses it, and the cookie stays home", async () => {
  const analyst = person("analyst");
  const page = await analyst.page.context().newPage();
  // Pages on two other loopback origins: the server allows the first, not the second.
  const allowed = server().allowedPort;
  const other = await freePort();
  const sites = [allowed, other].map((port) => {
    const site = createServer((_request, response) => response.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>elsewhere</title>"));
    site.listen(port, "127.0.0.1");
    return site;
  });
  const attempt = (target: string) =>
    page.evaluate(async (url) => {
      try {
        const answer = await fetch(url, { method: "POST", credentials: "include", headers: { "x-csrf-token": "1" } });
        return `status ${answer.status}`;
      } catch (error) {
        return `refused: ${(error as Error).name}`;
      }
    }, target);

  await page.goto(`http://localhost:${other}/`);
  expect(await attempt(`${server().url}/auth/refresh`), "an unlisted origin").toBe("refused: TypeError");
  await page.goto(`http://localhost:${allowed}/`);
  // Listed, so the call goes through, but the session cookie belongs to the app's own
  // site and is SameSite=Strict: it is not sent, and there is no session to renew.
  expect(await attempt(`${server().url}/auth/refresh`), "a listed origin on another site").toBe("status 401");
  await page.close();
  for (const site of sites) site.close();
  // The app's own tab is still signed in.
  await analyst.page.goto(`${server().url}/datasets`);
  await expect(analyst.page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
});

test("two tabs renewing the session at once take turns, so neither looks like a stolen token", async () => {
  const context = person("analyst").page.context();
  const tabs = [await context.newPage(), await context.newPage()];
  // Each renewal is held a moment at the network, so that the second tab has long started
  // (its settings fetched) while the first renewal is still on its way: without turns,
  // both would send the same refresh token, and the second use would end the sign-in.
  let inFlight = 0;
  let mostInFlight = 0;
  const settingsFetched: number[] = [];
  const renewalsDone: number[] = [];
  await context.route("**/auth/refresh", async (route) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise((resume) => setTimeout(resume, 1000));
    const response = await route.fetch();
    inFlight--;
    renewalsDone.push(Date.now());
    await route.fulfill({ response });
  });
  for (const tab of tabs) {
    tab.on("request", (request) => request.url().endsWith("/config.json") && settingsFetched.push(Date.now()));
  }
  await Promise.all(tabs.map((tab) => tab.goto(`${server().url}/forecasts`)));
  for (const tab of tabs) await expect(tab.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  await context.unroute("**/auth/refresh");

  expect(settingsFetched).toHaveLength(2);
  expect(renewalsDone).toHaveLength(2);
  expect(Math.max(...settingsFetched), "both tabs were up before the first renewal came back").toBeLessThan(Math.min(...renewalsDone));
  expect(mostInFlight, "the renewals took turns").toBe(1);
  // And the session lives on.
  await tabs[0]?.reload();
  await expect(tabs[0]!.getByRole("heading", { level: 1, name: "Forecasts" })).toBeVisible();
  for (const tab of tabs) await tab.close();
});

test("keyboard only: skip link, navigation order, and focus on each new page's heading", async () => {
  const viewer = person("viewer");
  const { page } = viewer;
  const focused = () => page.evaluate(() => `${document.activeElement?.tagName.toLowerCase()}:${document.activeElement?.textContent?.trim()}`);
  await page.goto(`${server().url}/datasets`);
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeVisible();
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("a:Skip to content");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("a:Forecast");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("a:Datasets");
  await page.keyboard.press("Tab");
  expect(await focused()).toBe("a:Forecasts");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Forecasts" })).toBeFocused();
  // On to the dataset through its link, by keyboard alone.
  await mainNav(page).getByRole("link", { name: "Datasets" }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Datasets" })).toBeFocused();
  await page.getByRole("link", { name: "daily-sales", exact: true }).focus();
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "daily-sales" })).toBeFocused();
  await page.getByRole("button", { name: "Zoom in" }).focus();
  await page.keyboard.press("Enter");
  await checked(viewer, "keyboard use");
});

test("every screen works at 360 px wide", async () => {
  const analyst = person("analyst");
  const { page } = analyst;
  await page.setViewportSize({ width: 360, height: 740 });
  for (const [url, heading] of [
    [`${server().url}/datasets`, "Datasets"],
    [datasetUrl, "daily-sales"],
    [forecastUrl, "Forecast of sales"],
    [`${server().url}/forecasts`, "Forecasts"],
  ] as const) {
    await page.goto(url);
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, `${heading} scrolls sideways`).toBeLessThanOrEqual(0);
    await checked(analyst, `${heading} at 360 px`);
  }
  await analyst.shot("forecast-360");
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("signing out ends every token the person held, and a revoked session leads back to sign-in", async () => {
  const analyst = person("analyst");
  const { page } = analyst;
  await page.goto(datasetUrl);
  await expect(page.getByRole("heading", { level: 1, name: "daily-sales" })).toBeVisible();
  const held = [...analyst.tokens];
  expect(held.length).toBeGreaterThan(0);

  // The way the session is asked for below works while it lasts (the jar's cookie goes).
  const renewed = await page.request.post(`${server().url}/auth/refresh`, { headers: { origin: server().url, "x-csrf-token": "1" } });
  expect(renewed.status()).toBe(200);

  await page.getByRole("button", { name: "Sign out" }).click();
  // The app forgets the session at once and then goes through the provider's logout back to
  // its start page: checks made before that last navigation would lose their page mid-way.
  await page.waitForURL(`${server().url}/`);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
  for (const token of held) {
    const answer = await page.request.get(`${server().url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(answer.status()).toBe(401);
  }
  // The browser's cookie jar, sent as the SPA would send it (its origin, the CSRF header).
  const refresh = await page.request.post(`${server().url}/auth/refresh`, { headers: { origin: server().url, "x-csrf-token": "1" } });
  expect(refresh.status()).toBe(401);
  await checked(analyst, "signed out");

  // Signed in again, then signed out everywhere by an admin: the next call leads to sign-in.
  await signIn(page, ANALYST, PASSWORDS.analyst);
  const admin = person("admin");
  await admin.page.goto(`${server().url}/datasets`);
  await mainNav(admin.page).getByRole("link", { name: "Users" }).click();
  await admin.page.getByRole("listitem").filter({ hasText: ANALYST }).getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(admin.page.getByRole("status")).toContainText(`${ANALYST} is signed out everywhere`);
  await mainNav(page).getByRole("link", { name: "Forecasts" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await expect(page).toHaveURL(/\/oauth2\/authorize/);
});

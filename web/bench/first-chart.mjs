// Time to first chart: from navigation start to the first chart drawn, for a dataset page
// and a forecast page, on the local server, in headless Chromium (each run a new tab of a
// signed-in browser, with caching off, so every file is fetched and every call made again:
// the page, its script and styles, config.json, the session's refresh, /v1/me, the
// resource, its series, and the side lists).
//
// usage: node bench/first-chart.mjs BASE_URL ADMIN_PASSWORD [runs]
// (scripts/bench-web.sh starts a server and passes these.)

import { chromium } from "@playwright/test";

const [base, password, runsText = "20"] = process.argv.slice(2);
const runs = Number(runsText);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" });
const context = await browser.newContext();
const page = await context.newPage();
let bearer = "";
page.on("request", (request) => {
  const header = request.headers().authorization;
  if (header?.startsWith("Bearer ")) bearer = header.slice(7);
});

// Sign in once, through the pages, choosing a password.
await page.goto(`${base}/`);
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByLabel("E-mail").fill("admin@forecast.local");
await page.getByLabel("Password").fill(password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByLabel("New password").fill("Quiet harbour lantern 41!");
await page.getByRole("button", { name: "Save and continue" }).click();
await page.getByRole("heading", { level: 1, name: "Datasets" }).waitFor();

// Two years of daily values with a weekly season, and a forecast of them.
const rows = ["date,sales"];
for (let day = 0; day < 730; day++) {
  rows.push(`${new Date(Date.UTC(2023, 0, 1) + day * 86_400_000).toISOString().slice(0, 10)},${(100 + (day % 7) * 5 + day * 0.05 + ((day * 37) % 11)).toFixed(1)}`);
}
const headers = { authorization: `Bearer ${bearer}` };
const dataset = await (await page.request.post(`${base}/v1/datasets`, { headers, data: { name: "two years", csv: rows.join("\n") } })).json();
const forecast = await (await page.request.post(`${base}/v1/forecasts`, { headers, data: { dataset_id: dataset.id, time_column: "date", target_column: "sales", horizon: 28 } })).json();
if (!dataset.id || !forecast.id) throw new Error(`setting up failed: ${JSON.stringify({ dataset, forecast }).slice(0, 500)}`);
await page.close();

let last = [];

async function measure(path) {
  const times = [];
  for (let run = 0; run < runs; run++) {
    const tab = await context.newPage();
    await tab.route("**/*", (route) => route.continue({ headers: { ...route.request().headers(), "cache-control": "no-cache" } }));
    await tab.goto(`${base}${path}`);
    // Polled with evaluate: the page's Trusted Types forbid the string evaluation that
    // waitForFunction relies on.
    let mark;
    for (let tries = 0; tries < 600 && mark === undefined; tries++) {
      mark = await tab.evaluate(() => performance.getEntriesByName("first-chart")[0]?.startTime);
      if (mark === undefined) await new Promise((resume) => setTimeout(resume, 50));
    }
    if (mark === undefined) throw new Error(`${path}: no chart after 30 s`);
    times.push(mark);
    if (run === runs - 1) {
      last = await tab.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .map((e) => `${new URL(e.name).pathname.replace(/[0-9a-f-]{36}/g, "{id}")} ${e.startTime.toFixed(0)}–${e.responseEnd.toFixed(0)} ms`)
          .concat(performance.getEntriesByType("mark").map((m) => `mark ${m.name} ${m.startTime.toFixed(0)} ms`))
          .concat([`domContentLoaded ${performance.getEntriesByType("navigation")[0]?.domContentLoadedEventStart.toFixed(0)} ms`]),
      );
    }
    await tab.close();
    // Each load renews the session at /auth/refresh, which allows 30 calls a minute per
    // address: pace the runs below that.
    await new Promise((resume) => setTimeout(resume, 2100));
  }
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  return { median: at(0.5), p90: at(0.9), min: times[0], max: times[times.length - 1] };
}

for (const [name, path] of [
  ["dataset page (730 points, 1 series)", `/datasets/${dataset.id}`],
  ["forecast page (730 points + 28 ahead, 2 bands)", `/forecasts/${forecast.id}`],
]) {
  const r = await measure(path);
  console.log(`${name}: median ${r.median.toFixed(0)} ms, p90 ${r.p90.toFixed(0)} ms (min ${r.min.toFixed(0)}, max ${r.max.toFixed(0)}; ${runs} runs)`);
  console.log(`  the last run's requests (start–end after navigation start): ${last.join("; ")}`);
}
await browser.close();

// One dataset: its series on a chart, what it holds, and what its owner can do with it
// (rename, share, delete); everyone who can read it can export it.

import { api } from "../api";
import * as app from "../app";
import { chart } from "../chart";
import { field, formatDate, h, replace, toast } from "../dom";
import * as router from "../router";
import { loadSeries, numericColumns, seriesChart } from "../series";
import { describeFrequency } from "../time";
import type { DatasetView, ForecastSummary, Page, UserView } from "../types";
import { deleteControl, exportButtons } from "./controls";
import { columnsTable } from "./datasets";
import { forecastsTable } from "./forecasts";
import { fetchDataset, screenData } from "./loading";
import { alertFor } from "./problems";

export async function datasetView(params: { id?: string }): Promise<void> {
  const since = router.currentRender();
  const loaded = await screenData(() => fetchDataset(params.id));
  if (!loaded) return;
  const { data: dataset, etag } = loaded;
  const columns = numericColumns(dataset).slice(0, 4);
  const [series, forecasts, users] = await Promise.all([
    loadSeries(dataset, columns).catch(() => null),
    api<Page<ForecastSummary>>("GET", "/v1/forecasts", { query: { dataset_id: dataset.id, limit: 20 } }).then((a) => a.data.items).catch(() => []),
    app.canManage(dataset.owner) ? listUsers() : Promise.resolve([]),
  ]);
  if (router.stale(since)) return;
  const names = new Map(users.map((user) => [user.id, user.email]));
  const manage = app.canManage(dataset.owner);

  replace(
    app.main(),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/datasets", "data-link": true }, "Datasets")),
    h("h1", {}, dataset.name),
    dataset.description ? h("p", {}, dataset.description) : null,
    h(
      "p",
      { class: "meta" },
      `${dataset.row_count.toLocaleString()} rows · ${dataset.columns.length} columns · `,
      dataset.time_axis ? `time axis ${dataset.time_axis.column}, ${describeFrequency(dataset.time_axis.frequency)}` : "no time axis",
      ` · updated ${formatDate(dataset.updated_at)}`,
      manage ? null : " · read-only",
    ),
    h(
      "nav",
      { class: "actions", "aria-label": "Dataset actions" },
      app.canAuthor() && dataset.time_axis ? h("a", { class: "button primary", href: `/datasets/${dataset.id}/forecast`, "data-link": true }, "Forecast") : null,
      app.canAuthor() && dataset.time_axis ? h("a", { class: "button", href: `/datasets/${dataset.id}/analysis`, "data-link": true }, "Analyse") : null,
      exportButtons(`/v1/datasets/${dataset.id}/export`),
    ),
    series && columns.length > 0
      ? h("section", { "aria-labelledby": "series-heading" }, h("h2", { id: "series-heading" }, "Series"), chart(seriesChart(dataset.name, series, columns)))
      : h("p", { class: "hint" }, "No numeric column over a time axis to chart."),
    h("section", { "aria-labelledby": "columns-heading" }, h("h2", { id: "columns-heading" }, "Columns"), columnsTable(dataset)),
    forecasts.length > 0
      ? h("section", { "aria-labelledby": "forecasts-heading" }, h("h2", { id: "forecasts-heading" }, "Forecasts of this dataset"), forecastsTable(forecasts, false))
      : null,
    manage ? renameForm(dataset, etag) : null,
    manage ? sharing(dataset, etag, users, names) : null,
    manage ? deletion(dataset, etag) : null,
  );
}

async function listUsers(): Promise<UserView[]> {
  try {
    return (await api<Page<UserView>>("GET", "/v1/users", { query: { limit: 100 } })).data.items;
  } catch {
    return [];
  }
}

function renameForm(dataset: DatasetView, etag: string | null): HTMLElement {
  const name = h("input", { type: "text", name: "name", value: dataset.name, maxlength: 200, required: true });
  const description = h("textarea", { name: "description", maxlength: 2000, rows: 2 }, dataset.description);
  const outcome = h("div");
  const form = h(
    "form",
    { class: "card", "aria-labelledby": "rename-heading" },
    h("h2", { id: "rename-heading" }, "Rename"),
    field("Name", name),
    field("Description", description),
    h("button", { type: "submit" }, "Save"),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/v1/datasets/${dataset.id}`, { body: { name: name.value.trim(), description: description.value }, ifMatch: etag });
      toast("Saved");
      await router.render();
    } catch (error) {
      outcome.replaceChildren(alertFor(error));
    }
  });
  return form;
}

function sharing(dataset: DatasetView, etag: string | null, users: UserView[], names: Map<string, string>): HTMLElement {
  const shared = dataset.shared_with ?? [];
  const candidates = users.filter((user) => user.id !== dataset.owner && !shared.includes(user.id));
  const picker =
    candidates.length > 0
      ? h("select", { name: "user" }, candidates.map((user) => h("option", { value: user.id }, `${user.email} (${user.role})`)))
      : h("input", { type: "text", name: "user", required: true, autocomplete: "off" });
  const outcome = h("div");
  const form = h("form", { class: "inline" }, field(candidates.length > 0 ? "Share with" : "Share with (user id)", picker), h("button", { type: "submit" }, "Share"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const user = picker.value.trim();
    if (!user) return;
    try {
      await api("PUT", `/v1/datasets/${dataset.id}/shares/${encodeURIComponent(user)}`, { ifMatch: etag });
      toast(`Shared with ${names.get(user) ?? user}`);
      await router.render();
    } catch (error) {
      outcome.replaceChildren(alertFor(error));
    }
  });
  return h(
    "section",
    { class: "card", "aria-labelledby": "share-heading" },
    h("h2", { id: "share-heading" }, "Sharing"),
    shared.length === 0
      ? h("p", {}, "Only you (and admins) can see this dataset.")
      : h(
          "ul",
          { class: "shares" },
          shared.map((user) =>
            h(
              "li",
              {},
              names.get(user) ?? user,
              " ",
              h(
                "button",
                {
                  type: "button",
                  "aria-label": `Stop sharing with ${names.get(user) ?? user}`,
                  onclick: async () => {
                    try {
                      await api("DELETE", `/v1/datasets/${dataset.id}/shares/${encodeURIComponent(user)}`, { ifMatch: etag });
                      toast("No longer shared");
                      await router.render();
                    } catch (error) {
                      outcome.replaceChildren(alertFor(error));
                    }
                  },
                },
                "Stop sharing",
              ),
            ),
          ),
        ),
    form,
    outcome,
  );
}

function deletion(dataset: DatasetView, etag: string | null): HTMLElement {
  return h(
    "section",
    { class: "card", "aria-labelledby": "delete-heading" },
    h("h2", { id: "delete-heading" }, "Delete"),
    deleteControl("dataset", `Delete ${dataset.name}? Its forecasts stay readable, but it can no longer be forecast, analysed or shared.`, async () => {
      await api("DELETE", `/v1/datasets/${dataset.id}`, { ifMatch: etag });
      toast(`Deleted ${dataset.name}`);
      await router.navigate("/datasets");
    }),
  );
}

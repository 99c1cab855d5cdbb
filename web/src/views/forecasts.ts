// The forecasts list.

import { api } from "../api";
import * as app from "../app";
import { formatDate, h, replace, scrollable } from "../dom";
import * as router from "../router";
import type { ForecastSummary, Page } from "../types";
import { alertFor, show } from "./problems";

export function forecastsTable(items: ForecastSummary[], withDataset: boolean): HTMLElement {
  return scrollable(
    "Forecasts",
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ["Forecast", "Model", "Horizon", withDataset ? "Dataset" : null, "Created"].filter(Boolean).map((name) => h("th", { scope: "col" }, name as string)))),
      h(
        "tbody",
        {},
        items.map((item) =>
          h(
            "tr",
            {},
            h("td", {}, h("a", { href: `/forecasts/${item.id}`, "data-link": true }, `${item.target_column}, ${item.horizon} steps`)),
            h("td", {}, item.model),
            h("td", { class: "number" }, item.horizon),
            withDataset ? h("td", {}, h("a", { href: `/datasets/${item.dataset_id}`, "data-link": true }, "Dataset")) : null,
            h("td", {}, formatDate(item.created_at)),
          ),
        ),
      ),
    ),
  );
}

export async function forecastsView(): Promise<void> {
  const since = router.currentRender();
  let page: Page<ForecastSummary>;
  try {
    page = (await api<Page<ForecastSummary>>("GET", "/v1/forecasts", { query: { limit: 50 } })).data;
  } catch (error) {
    return show(error);
  }
  if (router.stale(since)) return;
  const items = [...page.items];
  let cursor = page.next_cursor ?? null;
  const holder = h("div");
  const more = h("button", { type: "button", hidden: cursor === null }, "Load more");
  const draw = () => {
    holder.replaceChildren(
      items.length === 0
        ? h("p", {}, app.canAuthor() ? "No forecasts yet: open a dataset and choose Forecast." : "No forecast has been shared with you yet.")
        : forecastsTable(items, true),
    );
    more.hidden = cursor === null;
  };
  more.addEventListener("click", async () => {
    try {
      const next = (await api<Page<ForecastSummary>>("GET", "/v1/forecasts", { query: { limit: 50, cursor: cursor ?? undefined } })).data;
      items.push(...next.items);
      cursor = next.next_cursor ?? null;
      draw();
    } catch (error) {
      holder.append(alertFor(error));
    }
  });
  draw();
  replace(app.main(), h("h1", {}, "Forecasts"), holder, more);
}

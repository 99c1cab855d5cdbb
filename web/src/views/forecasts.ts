// The forecasts list.

import * as app from "../app";
import { formatDate, h, replace, scrollable } from "../dom";
import type { ForecastSummary } from "../types";
import { Pager, screenData } from "./loading";

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
  const pager = new Pager<ForecastSummary>("/v1/forecasts");
  if ((await screenData(() => pager.next())) === null) return;
  const items = pager.items;
  const holder = h("div");
  const draw = () => {
    holder.replaceChildren(
      items.length === 0
        ? h("p", {}, app.canAuthor() ? "No forecasts yet: open a dataset and choose Forecast." : "No forecast has been shared with you yet.")
        : forecastsTable(items, true),
    );
  };
  const problems = h("div");
  draw();
  replace(app.main(), h("h1", {}, "Forecasts"), holder, problems, pager.moreButton(draw, problems));
}

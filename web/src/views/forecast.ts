// Running a forecast, and a forecast's result: history, forecast and its 80 % and 95 %
// intervals on one chart, and how every candidate model did in the backtest.

import { api } from "../api";
import * as app from "../app";
import { chart, type ChartSpec, type Line } from "../chart";
import { field, formatDate, formatNumber, h, replace, scrollable, toast } from "../dom";
import * as router from "../router";
import { loadSeries, numericColumns, type Series } from "../series";
import { axisOf, describeFrequency } from "../time";
import type { ForecastView, MissingPolicy, ModelChoice } from "../types";
import { deleteControl, exportButtons } from "./controls";
import { fetchDataset, screenData } from "./loading";
import { alertFor } from "./problems";

const MODELS: [ModelChoice, string][] = [
  ["auto", "Automatic: cross-validate every model, combine the best"],
  ["auto_ets", "ETS with seasonality (AutoETS)"],
  ["auto_arima", "Seasonal ARIMA (AutoARIMA)"],
  ["auto_theta", "Theta (AutoTheta)"],
  ["mstl_ets", "Seasonal decomposition + ETS (MSTL)"],
  ["ets_damped", "ETS with a damped trend"],
  ["ets", "ETS (exponential smoothing)"],
  ["seasonal_naive", "Seasonal naive"],
  ["naive", "Naive (last value)"],
  ["croston", "Croston (intermittent demand)"],
  ["tsb", "TSB (intermittent demand)"],
  ["adida", "ADIDA (intermittent demand)"],
];

const MISSING: [MissingPolicy, string][] = [
  ["reject", "Refuse the series if it has gaps, duplicates or empty values"],
  ["interpolate", "Fill gaps by interpolating"],
  ["fill_forward", "Fill gaps with the last value"],
  ["drop", "Leave incomplete points out"],
];

export async function newForecastView(params: { id?: string }): Promise<void> {
  const loaded = await screenData(() => fetchDataset(params.id));
  if (!loaded) return;
  const dataset = loaded.data;
  const timeColumn = dataset.time_axis?.column;
  const targets = numericColumns(dataset);
  const crumbs = h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/datasets", "data-link": true }, "Datasets"), " › ", h("a", { href: `/datasets/${dataset.id}`, "data-link": true }, dataset.name));
  if (!timeColumn || targets.length === 0) {
    replace(app.main(), crumbs, h("h1", {}, `Forecast ${dataset.name}`), h("p", { role: "alert" }, "This dataset has no time axis or no numeric column to forecast."));
    return;
  }
  const target = h("select", { name: "target" }, targets.map((name) => h("option", { value: name }, name)));
  const horizon = h("input", { type: "number", name: "horizon", min: 1, max: Math.min(1000, dataset.row_count), value: Math.max(1, Math.min(14, Math.floor(dataset.row_count / 3))), required: true });
  const model = h("select", { name: "model" }, MODELS.map(([value, label]) => h("option", { value }, label)));
  const missing = h("select", { name: "missing" }, MISSING.map(([value, label]) => h("option", { value }, label)));
  const progress = h("div", { class: "progress", hidden: true }, h("progress", { "aria-label": "Forecast running" }), h("p", { role: "status" }));
  const outcome = h("div");
  const submit = h("button", { type: "submit", class: "primary" }, "Run forecast");
  const form = h(
    "form",
    { class: "card" },
    field("Target column", target),
    field("Horizon (steps ahead)", horizon, `Steps of the dataset's frequency: ${describeFrequency(dataset.time_axis?.frequency)}.`),
    field("Model", model),
    field("Missing values", missing),
    submit,
    progress,
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const steps = Number(horizon.value);
    if (!Number.isInteger(steps) || steps < 1) {
      outcome.replaceChildren(h("p", { class: "alert", role: "alert" }, "The horizon is a whole number of steps, at least 1."));
      horizon.focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    progress.hidden = false;
    outcome.replaceChildren();
    const status = progress.querySelector("p");
    const started = Date.now();
    const tick = () => {
      if (status) status.textContent = `Fitting and backtesting the models… ${Math.round((Date.now() - started) / 1000)} s`;
    };
    tick();
    const timer = window.setInterval(tick, 1000);
    try {
      const created = (
        await api<ForecastView>("POST", "/v1/forecasts", {
          body: { dataset_id: dataset.id, time_column: timeColumn, target_column: target.value, horizon: steps, models: [model.value as ModelChoice], missing: missing.value as MissingPolicy },
        })
      ).data;
      await router.navigate(`/forecasts/${created.id}`);
    } catch (error) {
      outcome.replaceChildren(alertFor(error));
    } finally {
      window.clearInterval(timer);
      progress.hidden = true;
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  replace(app.main(), crumbs, h("h1", {}, `Forecast ${dataset.name}`), form);
}

export async function forecastView(params: { id?: string }): Promise<void> {
  const since = router.currentRender();
  const loaded = await screenData(() => api<ForecastView>("GET", `/v1/forecasts/${encodeURIComponent(params.id ?? "")}`));
  if (!loaded) return;
  const { data: forecast, etag } = loaded;
  // The history is the dataset's, when it can still be read.
  const dataset = await fetchDataset(forecast.dataset_id).then((a) => a.data).catch(() => null);
  const history = dataset ? await loadSeries(dataset, [forecast.request.target_column]).catch(() => null) : null;
  if (router.stale(since)) return;
  const { result } = forecast;
  const combined = (result.members ?? []).map((member) => member.model.kind);
  const chosen = result.model.kind;
  const mark = (model: string) => (combined.includes(model) ? " (in the combination)" : model === chosen ? " (chosen)" : "");

  replace(
    app.main(),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/forecasts", "data-link": true }, "Forecasts"), dataset ? [" › ", h("a", { href: `/datasets/${dataset.id}`, "data-link": true }, dataset.name)] : null),
    h("h1", {}, `Forecast of ${forecast.request.target_column}`),
    h(
      "p",
      { class: "meta" },
      `${result.model.description} · ${forecast.request.horizon} steps ahead, ${describeFrequency(result.frequency)} · created ${formatDate(forecast.created_at)}`,
    ),
    h(
      "nav",
      { class: "actions", "aria-label": "Forecast actions" },
      exportButtons(`/v1/forecasts/${forecast.id}/export`),
      app.canManage(forecast.owner)
        ? deleteControl("forecast", "Delete this forecast? Everyone it was shared with through its dataset loses it too.", async () => {
            await api("DELETE", `/v1/forecasts/${forecast.id}`, { ifMatch: etag });
            toast("Forecast deleted");
            await router.navigate("/forecasts");
          })
        : null,
    ),
    h("section", { "aria-labelledby": "chart-heading" }, h("h2", { id: "chart-heading" }, "History and forecast"), chart(forecastChart(forecast, history))),
    h(
      "section",
      { "aria-labelledby": "accuracy-heading" },
      h("h2", { id: "accuracy-heading" }, "Backtest"),
      h(
        "p",
        {},
        `Each candidate was fitted ${result.backtest.windows ?? 1} times, each time without the points after a cut, and scored on the next ${result.backtest.holdout}; the scores are means over the cuts. MASE below 1 beats the seasonal-naive forecast.`,
      ),
      scrollable(
        "Backtest scores",
        h(
          "table",
          { class: "backtest" },
          h("caption", { class: "visually-hidden" }, "Backtest scores of every candidate model"),
          h("thead", {}, h("tr", {}, ["Model", "MAE", "RMSE", "sMAPE %", "MASE", "Note"].map((name) => h("th", { scope: "col" }, name)))),
          h(
            "tbody",
            {},
            result.backtest.candidates.map((candidate) =>
              h(
                "tr",
                { class: mark(candidate.model) ? "chosen" : "" },
                h("th", { scope: "row" }, candidate.model, mark(candidate.model)),
                h("td", { class: "number" }, formatNumber(candidate.accuracy?.mae)),
                h("td", { class: "number" }, formatNumber(candidate.accuracy?.rmse)),
                h("td", { class: "number" }, formatNumber(candidate.accuracy?.smape, 2)),
                h("td", { class: "number" }, formatNumber(candidate.accuracy?.mase)),
                h("td", {}, candidate.error ?? ""),
              ),
            ),
          ),
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "series-heading" },
      h("h2", { id: "series-heading" }, "The series"),
      h(
        "p",
        {},
        `${forecast.series.rows} rows; ${forecast.series.gaps} gaps, ${forecast.series.duplicates} duplicates, ${forecast.series.missing_values} empty values; ${forecast.series.filled} points filled, ${forecast.series.dropped} left out.`,
      ),
    ),
  );
}

/** History, forecast and bands on one time axis. */
export function forecastChart(forecast: ForecastView, history: Series | null): ChartSpec {
  const { result } = forecast;
  const future = axisOf(result.timestamps);
  const past = history && history.time === (future !== null) ? history : null;
  const pastX = past ? past.x : [];
  const futureX = future ?? result.point.map((_, index) => pastX.length + index);
  const x = [...pastX, ...futureX];
  const pad = (values: number[]) => [...pastX.map(() => null), ...values];
  const observed = past?.columns[forecast.request.target_column] ?? [];
  const lines: Line[] = [];
  if (past) lines.push({ label: "history", values: [...observed, ...futureX.map(() => null)], color: "history" });
  lines.push({ label: "forecast", values: pad(result.point), color: "forecast" });
  const bands: ChartSpec["bands"] = [];
  // Widest first, so the narrower band is drawn over it.
  for (const interval of [...result.intervals].sort((a, b) => b.level - a.level)) {
    const upper = lines.push({ label: `${interval.level} % interval upper`, values: pad(interval.upper), color: "forecast", edge: true }) - 1;
    const lower = lines.push({ label: `${interval.level} % interval lower`, values: pad(interval.lower), color: "forecast", edge: true }) - 1;
    bands.push({ upper, lower, color: interval.level >= 90 ? "band95" : "band80" });
  }
  return {
    title: `${forecast.request.target_column}: history, forecast and prediction intervals (${result.intervals.map((i) => `${i.level} %`).join(", ")})`,
    x,
    time: future !== null,
    lines,
    bands,
    markers: past && futureX[0] !== undefined ? [{ x: futureX[0], label: "forecast starts" }] : [],
  };
}

// A dataset's analysis: per numeric column, its statistics, seasonal periods and trend,
// with outliers and changepoints marked on the chart of the series.

import { api } from "../api";
import * as app from "../app";
import { chart, colorFor, type ChartSpec } from "../chart";
import { formatNumber, formatStamp, h, replace, scrollable } from "../dom";
import * as router from "../router";
import { loadSeries, numericColumns, type Series } from "../series";
import { describeFrequency, toEpochSeconds } from "../time";
import type { AnalysisView, ColumnAnalysis } from "../types";
import { fetchDataset, screenData } from "./loading";
import { alertFor } from "./problems";

export async function analysisView(params: { id?: string }): Promise<void> {
  const since = router.currentRender();
  const loaded = await screenData(() => fetchDataset(params.id));
  if (!loaded) return;
  const dataset = loaded.data;
  const results = h("div", { "aria-live": "polite" });
  const progress = h("div", { class: "progress" }, h("progress", { "aria-label": "Analysis running" }), h("p", { role: "status" }, "Analysing every numeric column…"));
  replace(
    app.main(),
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/datasets", "data-link": true }, "Datasets"), " › ", h("a", { href: `/datasets/${dataset.id}`, "data-link": true }, dataset.name)),
    h("h1", {}, `Analysis of ${dataset.name}`),
    progress,
    results,
  );
  try {
    const [analysis, series] = await Promise.all([
      api<AnalysisView>("POST", "/v1/ml/analyze", { body: { dataset_id: dataset.id } }).then((a) => a.data),
      loadSeries(dataset, numericColumns(dataset)).catch(() => null),
    ]);
    if (router.stale(since)) return;
    progress.remove();
    replace(
      results,
      h("p", { class: "meta" }, `Time axis ${analysis.time_column}, ${describeFrequency(analysis.frequency)}.`),
      analysis.notes.length > 0 ? h("ul", { class: "notes" }, analysis.notes.map((note) => h("li", {}, note))) : null,
      analysis.columns.map((column, index) => columnSection(column, index, series)),
    );
  } catch (error) {
    progress.remove();
    results.replaceChildren(alertFor(error));
  }
}

function columnSection(column: ColumnAnalysis, index: number, series: Series | null): HTMLElement {
  const id = `column-${index}`;
  const { summary, trend } = column;
  const flagged = column.outliers.mad.points.length > 0 ? column.outliers.mad : column.outliers.iqr;
  return h(
    "section",
    { class: "column", "aria-labelledby": id },
    h("h2", { id }, column.column),
    series ? chart(analysisChart(column, index, series, flagged.points.map((p) => p.timestamp))) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Seasonal periods"),
      h(
        "dd",
        {},
        column.seasonal_periods.length === 0
          ? "none stands out"
          : column.seasonal_periods.map((period) => `${period.period} steps (relative power ${formatNumber(period.relative_power, 2)})`).join("; "),
      ),
      h("dt", {}, "Trend"),
      h(
        "dd",
        {},
        trend
          ? `${trend.direction === "none" ? "no clear trend" : trend.direction}: ${formatNumber(trend.slope_per_step)} per step, R² ${formatNumber(trend.r_squared, 2)}, t ${formatNumber(trend.t_statistic, 1)}`
          : "not enough points",
      ),
      h("dt", {}, "Outliers"),
      h("dd", {}, (["zscore", "iqr", "mad"] as const).map((method) => `${column.outliers[method].rule}: ${column.outliers[method].count}`).join("; ")),
      h("dt", {}, "Changepoints"),
      h(
        "dd",
        {},
        column.changepoints === null || column.changepoints === undefined
          ? "the detector could not run"
          : column.changepoints.length === 0
            ? "none"
            : column.changepoints.map((c) => `${formatStamp(c.timestamp)}: mean ${formatNumber(c.mean_before)} → ${formatNumber(c.mean_after)}`).join("; "),
      ),
    ),
    scrollable(
      `Summary of ${column.column}`,
      h(
        "table",
        {},
        h("caption", {}, "Summary of the observed values"),
        h("thead", {}, h("tr", {}, ["Count", "Mean", "Std dev", "Min", "25 %", "Median", "75 %", "Max"].map((name) => h("th", { scope: "col" }, name)))),
        h(
          "tbody",
          {},
          h(
            "tr",
            {},
            [summary.count, summary.mean, summary.std_dev, summary.min, summary.p25, summary.median, summary.p75, summary.max].map((value) => h("td", { class: "number" }, formatNumber(value))),
          ),
        ),
      ),
    ),
    column.notes.length > 0 ? h("ul", { class: "notes" }, column.notes.map((note) => h("li", {}, note))) : null,
  );
}

function analysisChart(column: ColumnAnalysis, index: number, series: Series, outlierStamps: string[]): ChartSpec {
  const values = series.columns[column.column] ?? [];
  const flagged = new Set(outlierStamps.map((stamp) => toEpochSeconds(stamp) ?? stamp));
  const outliers = series.x.map((x, position) => (flagged.has(series.time ? x : (series.timestamps[position] ?? "")) ? (values[position] ?? null) : null));
  const markers = (column.changepoints ?? [])
    .map((change) => ({ x: series.time ? toEpochSeconds(change.timestamp) : series.timestamps.indexOf(change.timestamp), label: "changepoint" }))
    .filter((marker): marker is { x: number; label: string } => marker.x !== null && marker.x >= 0);
  return {
    title: `${column.column} with ${outlierStamps.length} outliers and ${markers.length} changepoints marked`,
    x: series.x,
    time: series.time,
    lines: [
      { label: column.column, values, color: colorFor(index) },
      { label: "outlier", values: outliers, color: "outlier", points: true },
    ],
    markers,
  };
}

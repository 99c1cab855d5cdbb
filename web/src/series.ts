// A dataset's columns as series over its time axis, from its JSON export.

import { api } from "./api";
import { colorFor, type ChartSpec } from "./chart";
import { axisOf } from "./time";
import type { DatasetExport, DatasetSummary } from "./types";

const NUMERIC = new Set(["integer", "float"]);

export function numericColumns(dataset: DatasetSummary): string[] {
  return dataset.columns.filter((column) => NUMERIC.has(column.type) && column.name !== dataset.time_axis?.column).map((column) => column.name);
}

export interface Series {
  timestamps: string[];
  x: number[];
  time: boolean;
  columns: Record<string, (number | null)[]>;
}

/** The dataset's rows in time order, the numeric `columns` as numbers (empty: null). */
export async function loadSeries(dataset: DatasetSummary, columns: string[]): Promise<Series | null> {
  const timeColumn = dataset.time_axis?.column;
  if (!timeColumn) return null;
  const exported = (await api<DatasetExport>("GET", `/v1/datasets/${dataset.id}/export`, { query: { format: "json" } })).data;
  const rows = exported.rows
    .map((row) => ({ row, stamp: String(row[timeColumn] ?? "") }))
    .filter(({ stamp }) => stamp !== "");
  const axis = axisOf(rows.map(({ stamp }) => stamp));
  const order = rows.map((_, index) => index);
  if (axis) order.sort((a, b) => (axis[a] ?? 0) - (axis[b] ?? 0));
  const values: Record<string, (number | null)[]> = {};
  for (const column of columns) {
    values[column] = order.map((index) => {
      const cell = rows[index]?.row[column];
      const number = typeof cell === "number" ? cell : typeof cell === "string" && cell.trim() !== "" ? Number(cell) : Number.NaN;
      return Number.isFinite(number) ? number : null;
    });
  }
  return {
    timestamps: order.map((index) => rows[index]?.stamp ?? ""),
    x: axis ? order.map((index) => axis[index] ?? 0) : order.map((_, position) => position),
    time: axis !== null,
    columns: values,
  };
}

export function seriesChart(name: string, series: Series, columns: string[]): ChartSpec {
  return {
    title: `${name}: ${columns.join(", ")} over time`,
    x: series.x,
    time: series.time,
    lines: columns.map((column, index) => ({ label: column, values: series.columns[column] ?? [], color: colorFor(index) })),
  };
}

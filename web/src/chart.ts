// Charts of series over time (uPlot on a canvas). Drag across a chart to zoom in, or use
// its buttons from the keyboard; double-click or "Reset zoom" shows everything again.

import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

// uPlot is most of the script: it loads as its own file, started at boot (`preloadCharts`)
// so that it arrives while the screen's data is still on its way.
let engine: Promise<typeof uPlot> | null = null;

export function preloadCharts(): Promise<typeof uPlot> {
  engine ??= import("uplot").then((module) => module.default);
  return engine;
}

export interface Line {
  label: string;
  values: (number | null)[];
  /** One of the palette's names (see styles.css: the legend's swatches use the same). */
  color: keyof typeof PALETTE;
  dash?: boolean;
  /** Points only, no line (outliers). */
  points?: boolean;
  /** An interval edge: drawn faintly, filled by a band. */
  edge?: boolean;
}

export interface ChartSpec {
  /** What the chart shows, in words (its accessible name). */
  title: string;
  /** x values: seconds since the epoch when `time`, positions otherwise. */
  x: number[];
  time: boolean;
  lines: Line[];
  /** Pairs of line indices (upper, lower), filled between. */
  bands?: { upper: number; lower: number; color: keyof typeof PALETTE }[];
  /** x values to mark with a vertical line (changepoints, where a forecast starts). */
  markers?: { x: number; label: string }[];
}

const PALETTE = {
  history: "#1f2937",
  forecast: "#1d4ed8",
  band80: "rgba(29, 78, 216, 0.28)",
  band95: "rgba(29, 78, 216, 0.13)",
  outlier: "#b91c1c",
  marker: "#c2410c",
  second: "#047857",
  third: "#7c3aed",
} as const;

const SERIES_COLORS: (keyof typeof PALETTE)[] = ["history", "second", "third", "forecast"];

export function colorFor(index: number): keyof typeof PALETTE {
  return SERIES_COLORS[index % SERIES_COLORS.length] ?? "history";
}

let firstChartMarked = false;

/** A figure holding the chart, its legend and zoom buttons; the plot is drawn once the
 * figure is in the page and has a width, and follows the width after. */
export function chart(spec: ChartSpec): HTMLElement {
  const plotArea = h("div", { class: "plot", role: "img", "aria-label": spec.title });
  let plot: uPlot | null = null;
  const full = () => ({ min: spec.x[0] ?? 0, max: spec.x[spec.x.length - 1] ?? 1 });

  const zoom = (factor: number) => {
    if (!plot) return;
    const { min = full().min, max = full().max } = plot.scales.x ?? {};
    const centre = (min + max) / 2;
    const half = Math.max(((max - min) * factor) / 2, 1e-9);
    const bounds = full();
    plot.setScale("x", { min: Math.max(bounds.min, centre - half), max: Math.min(bounds.max, centre + half) });
  };
  const controls = h(
    "div",
    { class: "chart-controls" },
    h("button", { type: "button", onclick: () => zoom(0.5) }, "Zoom in"),
    h("button", { type: "button", onclick: () => zoom(2) }, "Zoom out"),
    h("button", { type: "button", onclick: () => plot?.setScale("x", full()) }, "Reset zoom"),
  );
  const legend = h(
    "ul",
    { class: "legend" },
    spec.lines
      .filter((line) => !line.edge)
      .map((line) => h("li", {}, h("span", { class: `swatch swatch-${line.color}${line.points ? " swatch-point" : ""}`, "aria-hidden": "true" }), line.label)),
    (spec.bands ?? []).map((band) => h("li", {}, h("span", { class: `swatch swatch-${band.color}`, "aria-hidden": "true" }), bandLabel(spec, band.upper))),
    [...new Set((spec.markers ?? []).map((marker) => marker.label))].map((label) => h("li", {}, h("span", { class: "swatch swatch-marker", "aria-hidden": "true" }), label)),
  );
  const figure = h("figure", { class: "chart" }, plotArea, legend, controls);

  const draw = async (width: number) => {
    const height = Math.max(220, Math.min(360, Math.round(width * 0.5)));
    if (plot) {
      plot.setSize({ width, height });
      return;
    }
    const UPlot = await preloadCharts();
    if (plot) return; // drawn meanwhile, at an earlier width
    plot = new UPlot(options(spec, width, height), [spec.x, ...spec.lines.map((line) => line.values)] as uPlot.AlignedData, plotArea);
  };
  const observer = new ResizeObserver((entries) => {
    const width = Math.floor(entries[0]?.contentRect.width ?? 0);
    if (width > 0) void draw(width);
  });
  observer.observe(plotArea);
  return figure;
}

function bandLabel(spec: ChartSpec, upper: number): string {
  const label = spec.lines[upper]?.label ?? "";
  return label.replace(/ upper$/, "");
}

function options(spec: ChartSpec, width: number, height: number): uPlot.Options {
  const markers = spec.markers ?? [];
  return {
    width,
    height,
    scales: { x: { time: spec.time } },
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    series: [
      {},
      ...spec.lines.map((line): uPlot.Series => {
        const stroke = PALETTE[line.color];
        if (line.points) return { label: line.label, stroke, paths: () => null, points: { show: true, size: 9, stroke, fill: stroke } };
        return {
          label: line.label,
          stroke: line.edge ? "rgba(29, 78, 216, 0.35)" : stroke,
          width: line.edge ? 1 : 2,
          dash: line.dash ? [6, 4] : [],
          points: { show: false },
        };
      }),
    ],
    bands: (spec.bands ?? []).map((band) => ({ series: [band.upper + 1, band.lower + 1] as [number, number], fill: PALETTE[band.color] })),
    axes: [{ stroke: "#374151" }, { stroke: "#374151", size: 60 }],
    hooks: {
      draw: [
        (u: uPlot) => {
          const { ctx } = u;
          ctx.save();
          ctx.strokeStyle = PALETTE.marker;
          ctx.setLineDash([4, 4]);
          ctx.lineWidth = 2;
          for (const marker of markers) {
            const position = u.valToPos(marker.x, "x", true);
            ctx.beginPath();
            ctx.moveTo(position, u.bbox.top);
            ctx.lineTo(position, u.bbox.top + u.bbox.height);
            ctx.stroke();
          }
          ctx.restore();
          if (!firstChartMarked) {
            firstChartMarked = true;
            performance.mark("first-chart");
          }
        },
      ],
    },
  };
}

"""Rolling-origin evaluation of the forecast engine against statsforecast on the panel.

For every series and each of its rolling origins (the last `windows` × `horizon` points, one
horizon at a time), every method is fitted on the points before the origin and forecasts
one horizon with 80 and 95 % intervals. Scores: MASE (scaled by the training part's in-sample
seasonal-naive error, M4's season), sMAPE, interval coverage, seconds per series (all
windows). statsforecast runs AutoETS, AutoARIMA and AutoTheta with the frequency's usual
season (numba warmed up first, so compilation is not timed), and their mean (intervals
averaged bound by bound); the engine runs through `forecast-panel`.

statsforecast's results are cached next to the panel (they take minutes and don't change);
`python evaluate.py <panel.json> <forecast-panel binary> [--models auto]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

LEVELS = (80, 95)
REFERENCES = ("AutoETS", "AutoARIMA", "AutoTheta")


def statsforecast_windows(entry: dict) -> dict[str, list[dict]]:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    y = np.asarray(entry["y"], dtype=float)
    h, m, windows = entry["horizon"], entry["model_season"], entry["windows"]
    out: dict[str, list[dict]] = {name: [] for name in REFERENCES}
    for window in range(windows, 0, -1):
        train = y[: len(y) - window * h]
        for name, make in (("AutoETS", AutoETS), ("AutoARIMA", AutoARIMA), ("AutoTheta", AutoTheta)):
            started = time.perf_counter()
            try:
                forecast = make(season_length=m).forecast(y=train, h=h, level=list(LEVELS))
                result = {k: np.asarray(v, dtype=float).tolist() for k, v in forecast.items()}
                result["point"] = result.pop("mean")
            except Exception as error:  # noqa: BLE001 - a failed fit is a result too
                result = {"error": str(error)[:200]}
            result["seconds"] = time.perf_counter() - started
            out[name].append(result)
    return out


def warm_up() -> None:
    """Compiles numba's code for each model once, so no series' time includes it."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    y = np.arange(1.0, 49.0) % 12 + 10 + np.arange(48) * 0.1
    for make in (AutoETS, AutoARIMA, AutoTheta):
        make(season_length=12).forecast(y=y, h=6, level=list(LEVELS))


def statsforecast_results(panel: list[dict], cache: Path, workers: int) -> dict[str, dict]:
    """One worker per core, each fitting one series at a time (so each time is one core's)."""
    import multiprocessing

    import statsforecast

    if cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("version") == statsforecast.__version__:
            return cached["results"]
    results = {}
    with multiprocessing.Pool(workers, initializer=warm_up) as pool:
        for k, (entry, windows) in enumerate(zip(panel, pool.imap(statsforecast_windows, panel))):
            results[entry["name"]] = windows
            seconds = sum(w["seconds"] for ws in windows.values() for w in ws)
            print(f"statsforecast: {k + 1}/{len(panel)} {entry['name']} {seconds:.1f} s", file=sys.stderr)
    cache.write_text(json.dumps({"version": statsforecast.__version__, "results": results}))
    return results


def with_mean(methods: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Adds the mean of the three references, window by window (where all three fitted)."""
    windows = []
    for parts in zip(*(methods[name] for name in REFERENCES)):
        if any("error" in p for p in parts):
            windows.append({"error": "a member failed", "seconds": sum(p["seconds"] for p in parts)})
            continue
        combined = {key: np.mean([p[key] for p in parts], axis=0).tolist() for key in ["point"] + [f"{b}-{l}" for l in LEVELS for b in ("lo", "hi")]}
        combined["seconds"] = sum(p["seconds"] for p in parts)
        windows.append(combined)
    return {**methods, "Mean(ETS,ARIMA,Theta)": windows}


def scores(entry: dict, windows: list[dict]) -> dict | None:
    """MASE and sMAPE averaged over the windows, interval hits and seconds; None when a
    window failed or the scale is zero."""
    y = np.asarray(entry["y"], dtype=float)
    h, m = entry["horizon"], entry["season"]
    mases, smapes, hits = [], [], {level: [] for level in LEVELS}
    for k, result in zip(range(entry["windows"], 0, -1), windows):
        if "error" in result:
            return None
        cut = len(y) - k * h
        train, actual = y[:cut], y[cut : cut + h]
        point = np.asarray(result["point"])
        scale = np.mean(np.abs(train[m:] - train[:-m]))
        if not scale > 0 or not np.isfinite(point).all():
            return None
        mases.append(np.mean(np.abs(actual - point)) / scale)
        denominator = np.abs(actual) + np.abs(point)
        smapes.append(np.mean(np.where(denominator == 0, 0.0, 200 * np.abs(actual - point) / np.where(denominator == 0, 1, denominator))))
        for level in LEVELS:
            lo, hi = np.asarray(result[f"lo-{level}"]), np.asarray(result[f"hi-{level}"])
            hits[level].extend(((actual >= lo) & (actual <= hi)).tolist())
    return {
        "mase": float(np.mean(mases)),
        "smape": float(np.mean(smapes)),
        "hits": hits,
        "seconds": float(sum(r["seconds"] for r in windows)),
    }


def geometric_mean_ratio(ours: list[float], theirs: list[float]) -> float:
    ratios = [a / b for a, b in zip(ours, theirs) if a > 0 and b > 0]
    return math.exp(sum(math.log(r) for r in ratios) / len(ratios)) if ratios else float("nan")


def report(panel: list[dict], results: dict[str, dict[str, list[dict]]], engine: str) -> list[str]:
    methods = [engine, *REFERENCES, "Mean(ETS,ARIMA,Theta)"]
    rows = {method: {} for method in methods}
    for entry in panel:
        per = {method: scores(entry, results[entry["name"]][method]) for method in methods}
        if all(per.values()):  # scored on the series every method forecast
            for method in methods:
                rows[method][entry["name"]] = per[method]
    names = list(rows[engine])
    frequency = {e["name"]: e["frequency"] for e in panel}
    failed = {method: sum(1 for e in panel if scores(e, results[e["name"]][method]) is None) for method in methods}
    lines = [
        f"{len(names)} of {len(panel)} series scored (the rest: a method failed or the scale is zero; failures: "
        + ", ".join(f"{m} {failed[m]}" for m in methods)
        + ")",
        "",
        "| method | rel. MASE vs mean | vs AutoETS | vs AutoARIMA | vs AutoTheta | mean MASE | median MASE | sMAPE | 80 % coverage | 95 % coverage | median s/series |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        mase = [rows[method][n]["mase"] for n in names]
        rel = [geometric_mean_ratio(mase, [rows[ref][n]["mase"] for n in names]) for ref in ["Mean(ETS,ARIMA,Theta)", *REFERENCES]]
        coverage = [100 * np.mean([hit for n in names for hit in rows[method][n]["hits"][level]]) for level in LEVELS]
        lines.append(
            f"| {method} | "
            + " | ".join(f"{r:.3f}" for r in rel)
            + f" | {np.mean(mase):.3f} | {np.median(mase):.3f} | {np.mean([rows[method][n]['smape'] for n in names]):.2f}"
            + f" | {coverage[0]:.1f} | {coverage[1]:.1f} | {np.median([rows[method][n]['seconds'] for n in names]):.4f} |"
        )
    lines += ["", "| frequency | series | rel. MASE vs mean | vs AutoETS | vs AutoARIMA | vs AutoTheta | speed-up vs AutoETS (median) |", "|---|---|---|---|---|---|---|"]
    for freq in ("yearly", "quarterly", "monthly", "weekly", "daily", "hourly", "half-hourly"):
        subset = [n for n in names if frequency[n] == freq]
        if not subset:
            continue
        ours = [rows[engine][n]["mase"] for n in subset]
        rel = [geometric_mean_ratio(ours, [rows[ref][n]["mase"] for n in subset]) for ref in ["Mean(ETS,ARIMA,Theta)", *REFERENCES]]
        speed = np.median([rows["AutoETS"][n]["seconds"] / rows[engine][n]["seconds"] for n in subset])
        lines.append(f"| {freq} | {len(subset)} | " + " | ".join(f"{r:.3f}" for r in rel) + f" | {speed:.1f}x |")
    speed = np.median([rows["AutoETS"][n]["seconds"] / rows[engine][n]["seconds"] for n in names])
    lines += ["", f"Median speed-up per series against AutoETS: {speed:.1f}x"]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("panel")
    parser.add_argument("binary")
    parser.add_argument("--models", default="auto")
    parser.add_argument("--details", help="write per-series scores to this JSON file")
    parser.add_argument("--results", help="score this output (forecast-panel's format) instead of running the binary")
    parser.add_argument("--workers", type=int, default=2, help="statsforecast processes (one core each)")
    args = parser.parse_args()
    panel_text = Path(args.panel).read_text()
    panel = json.loads(panel_text)
    digest = hashlib.sha256(panel_text.encode()).hexdigest()[:16]
    reference = statsforecast_results(panel, Path(args.panel).with_name(f"statsforecast-{digest}.json"), args.workers)

    if args.results:  # another forecaster's output, in forecast-panel's format
        ours_text, engine = Path(args.results).read_text(), Path(args.results).stem
    else:
        ours_text = subprocess.run([args.binary, args.panel, args.models], capture_output=True, text=True, check=True).stdout
        engine = f"engine ({args.models})"
    results = {}
    for row in json.loads(ours_text):
        results[row["name"]] = with_mean(reference[row["name"]]) | {engine: row["windows"]}
    print("\n".join(report(panel, results, engine)))
    if args.details:
        details = {
            e["name"]: {m: scores(e, results[e["name"]][m]) for m in results[e["name"]]} | {"models": [w.get("model", w.get("error")) for w in results[e["name"]][engine]]}
            for e in panel
        }
        Path(args.details).write_text(json.dumps(details, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

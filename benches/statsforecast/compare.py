"""Accuracy and speed against statsforecast's AutoETS on public series that ship inside
Python packages (no download at run time).

For each series: hold out the last `h` points, fit on the rest, forecast `h`, score MASE
(scaled by the in-sample seasonal-naive error, season `m`) on the holdout. statsforecast
runs AutoETS(season_length=m) (fit + predict, after a warm-up so numba's compilation is
not counted; best of `repeats`); ours runs `forecast-compare` (the engine's `auto`:
every model backtested on the training part, the best refitted; best of `repeats`).

Run through scripts/bench-forecast.sh, which installs what this needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def series() -> list[tuple[str, pd.Series, int, int, str]]:
    """(name, values, season, horizon, pandas frequency) for each public series."""
    from pmdarima import datasets as pm
    from statsforecast.utils import AirPassengers

    out = [
        ("AirPassengers (monthly)", pd.Series(np.asarray(AirPassengers, dtype=float)), 12, 12, "MS"),
        ("wineind (monthly)", pd.Series(pm.load_wineind().astype(float)), 12, 12, "MS"),
        ("woolyrnq (quarterly)", pd.Series(pm.load_woolyrnq().astype(float)), 4, 8, "QS"),
        ("austres (quarterly)", pd.Series(pm.load_austres().astype(float)), 4, 8, "QS"),
        ("lynx (yearly)", pd.Series(pm.load_lynx().astype(float)), 1, 10, "YS"),
        ("sunspots (monthly)", pd.Series(pm.load_sunspots().astype(float)), 12, 24, "MS"),
        ("heartrate (no season)", pd.Series(pm.load_heartrate().astype(float)), 1, 20, "D"),
    ]
    return [(name, s.reset_index(drop=True), m, h, freq) for name, s, m, h, freq in out]


def mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, m: int) -> float:
    scale = np.mean(np.abs(train[m:] - train[:-m]))
    return float(np.mean(np.abs(actual - forecast)) / scale)


def statsforecast_run(train: np.ndarray, m: int, h: int, repeats: int) -> tuple[np.ndarray, float]:
    from statsforecast.models import AutoETS

    best = float("inf")
    forecast = None
    for _ in range(repeats):
        started = time.perf_counter()
        model = AutoETS(season_length=m)
        forecast = model.forecast(y=train, h=h)["mean"]
        best = min(best, time.perf_counter() - started)
    return np.asarray(forecast), best


def ours_run(binary: str, name: str, values: pd.Series, freq: str, h: int, m: int, repeats: int) -> dict:
    dates = pd.date_range("2000-01-01", periods=len(values), freq=freq)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("ds,y\n")
        for d, v in zip(dates, values):
            f.write(f"{d.date().isoformat()},{v}\n")
        path = f.name
    result = subprocess.run([binary, path, str(h), str(m), str(repeats)], capture_output=True, text=True)
    Path(path).unlink()
    if result.returncode != 0:
        return {"error": result.stderr.strip() or result.stdout.strip()}
    return json.loads(result.stdout)


def main() -> int:
    binary = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    # Warm numba up so its compilation is not timed.
    statsforecast_run(np.arange(1.0, 49.0) % 12 + 10, 12, 6, 1)

    rows = []
    for name, values, m, h, freq in series():
        y = values.to_numpy()
        train, test = y[:-h], y[-h:]
        forecast, seconds = statsforecast_run(train, m, h, repeats)
        ours = ours_run(binary, name, values, freq, h, m, repeats)
        rows.append((name, len(y), m, h, mase(test, forecast, train, m), seconds, ours))

    print("| series | n | m | h | statsforecast AutoETS MASE | ours MASE | ours model | statsforecast s | ours s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, n, m, h, sf_mase, sf_seconds, ours in rows:
        if "error" in ours:
            print(f"| {name} | {n} | {m} | {h} | {sf_mase:.3f} | error: {ours['error'][:60]} | | {sf_seconds:.4f} | | |")
            continue
        print(
            f"| {name} | {n} | {m} | {h} | {sf_mase:.3f} | {ours['mase']:.3f} | {ours['model']} "
            f"| {sf_seconds:.4f} | {ours['seconds']:.4f} | {sf_seconds / ours['seconds']:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

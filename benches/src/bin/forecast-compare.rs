//! Our side of the statsforecast comparison (`scripts/bench-forecast.sh`): for each
//! series file, hold out the last `h` points, run the forecast engine (`auto`: every
//! model backtested, the best refitted) on the rest, and report holdout MASE and the
//! wall time of the whole run, best of `repeats`.
//!
//! `forecast-compare <csv with ds,y> <horizon> <season> [repeats]` prints one JSON line.

use std::time::Instant;

use shared::forecast::engine::{ForecastSpec, ModelChoice, run};
use shared::forecast::metrics::accuracy;
use shared::forecast::series::{MissingPolicy, extract};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, horizon, season, rest @ ..] = args.as_slice() else {
        return Err("usage: forecast-compare <csv with ds,y> <horizon> <season> [repeats]".into());
    };
    let horizon: usize = horizon.parse()?;
    let season: usize = season.parse()?;
    let repeats: usize = rest.first().map(|r| r.parse()).transpose()?.unwrap_or(5);

    let content = std::fs::read_to_string(path)?;
    let mut lines: Vec<&str> = content.lines().collect();
    if lines.len() <= horizon + 1 {
        return Err("series shorter than the horizon".into());
    }
    let test_lines = lines.split_off(lines.len() - horizon);
    let actual: Vec<f64> = test_lines.iter().map(|l| l.rsplit(',').next().unwrap_or("").parse()).collect::<Result<_, _>>()?;
    let train_csv = lines.join("\n");

    let spec = ForecastSpec { horizon, models: vec![ModelChoice::Auto], levels: vec![], deadline: None };
    let mut best = f64::INFINITY;
    let mut outcome = None;
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let (series, _) = extract(&train_csv, "ds", "y", MissingPolicy::Reject)?;
        let result = run(&series, &spec)?;
        best = best.min(started.elapsed().as_secs_f64());
        outcome = Some((series, result));
    }
    let (series, result) = outcome.ok_or("no run")?;
    let score = accuracy(&actual, &result.point, &series.values, season).ok_or("no holdout to score")?;
    let mase = score.mase.ok_or("MASE undefined for this series")?;
    println!(
        "{}",
        serde_json::json!({"mase": mase, "smape": score.smape, "seconds": best, "model": result.model.description, "points": series.values.len()})
    );
    Ok(())
}

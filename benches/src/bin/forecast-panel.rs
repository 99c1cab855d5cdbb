//! Our side of the panel evaluation (`scripts/bench-forecast.sh`): for each series of the
//! panel (`benches/statsforecast/panel.py`) and each rolling origin, the training part goes
//! through the same path as an upload (CSV, frequency inference) into the engine with the
//! request's defaults, and the forecast, its 80 and 95 % intervals, the model and the time
//! taken are written out for `evaluate.py` to score.
//!
//! `forecast-panel <panel.json> [models]` prints one JSON array; `models` is a comma-separated
//! list of model choices (default `auto`).

use std::time::Instant;

use serde_json::{Value, json};
use shared::forecast::engine::{ForecastSpec, ModelChoice, run};
use shared::forecast::series::{MissingPolicy, extract};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: forecast-panel <panel.json> [models]".into());
    };
    let models: Vec<ModelChoice> = args
        .get(1)
        .map_or("auto", String::as_str)
        .split(',')
        .map(|name| serde_json::from_value(Value::String(name.to_owned())))
        .collect::<Result<_, _>>()?;
    let panel: Vec<Value> = serde_json::from_reader(std::io::BufReader::new(std::fs::File::open(path)?))?;
    let mut results = Vec::with_capacity(panel.len());
    for entry in &panel {
        let ds: Vec<&str> = entry["ds"].as_array().ok_or("ds")?.iter().filter_map(Value::as_str).collect();
        let y: Vec<f64> = entry["y"].as_array().ok_or("y")?.iter().filter_map(Value::as_f64).collect();
        let horizon = entry["horizon"].as_u64().ok_or("horizon")? as usize;
        let windows = entry["windows"].as_u64().ok_or("windows")? as usize;
        let mut scored = Vec::with_capacity(windows);
        for window in (1..=windows).rev() {
            let cut = y.len() - window * horizon;
            let mut csv = String::from("ds,y\n");
            for (d, v) in ds[..cut].iter().zip(&y[..cut]) {
                csv.push_str(&format!("{d},{v}\n"));
            }
            let spec = ForecastSpec { horizon, models: models.clone(), levels: vec![80.0, 95.0], deadline: None };
            let started = Instant::now();
            let outcome = extract(&csv, "ds", "y", MissingPolicy::Reject)
                .map_err(|e| e.to_string())
                .and_then(|(series, _)| run(&series, &spec).map_err(|e| e.to_string()));
            let seconds = started.elapsed().as_secs_f64();
            scored.push(match outcome {
                Ok(outcome) => json!({
                    "point": outcome.point,
                    "lo-80": outcome.intervals[0].lower, "hi-80": outcome.intervals[0].upper,
                    "lo-95": outcome.intervals[1].lower, "hi-95": outcome.intervals[1].upper,
                    "model": outcome.model.description,
                    "seconds": seconds,
                }),
                Err(error) => json!({"error": error, "seconds": seconds}),
            });
        }
        results.push(json!({"name": entry["name"], "windows": scored}));
    }
    println!("{}", serde_json::to_string(&results)?);
    Ok(())
}

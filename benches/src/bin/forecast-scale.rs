//! The forecast engine on the largest inputs the API accepts: hourly series with daily,
//! weekly and yearly seasons, from 1,000 up to 200,000 points (the most a dataset's grid
//! may hold), each model on its own and `auto`, timed once each in release.
//!
//! ```text
//! cargo run --release -p benches --bin forecast-scale [largest size, default 200000]
//! ```
//! A size whose slowest run passes 120 s stops the climb (the rest would be slower still).

use std::time::{Duration, Instant};

use shared::forecast::engine::{ForecastSpec, ModelChoice, run};
use shared::forecast::frequency::Frequency;
use shared::forecast::series::Series;

fn hourly(points: usize) -> Series {
    let start = time::macros::datetime!(2000-01-01 0:00 UTC);
    let frequency = Frequency::Seconds(3_600);
    let values = (0..points)
        .map(|h| {
            let t = h as f64;
            let daily = 10.0 * (2.0 * std::f64::consts::PI * t / 24.0).sin();
            let weekly = 5.0 * (2.0 * std::f64::consts::PI * t / 168.0).cos();
            let yearly = 20.0 * (2.0 * std::f64::consts::PI * t / 8_760.0).sin();
            let noise = ((h * 7_919) % 101) as f64 / 50.0 - 1.0;
            500.0 + 0.001 * t + daily + weekly + yearly + noise
        })
        .collect();
    let timestamps = (0..points as i64).filter_map(|k| frequency.step(start, k)).collect();
    Series { start, frequency, values, timestamps }
}

fn main() -> std::process::ExitCode {
    let largest: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let models = [
        ("naive", ModelChoice::Naive),
        ("seasonal_naive", ModelChoice::SeasonalNaive),
        ("ets", ModelChoice::Ets),
        ("ets_damped", ModelChoice::EtsDamped),
        ("mstl_ets", ModelChoice::MstlEts),
        ("auto", ModelChoice::Auto),
    ];
    println!("| points | {} |", models.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(" | "));
    println!("|---|{}", "---|".repeat(models.len()));
    for points in [1_000, 10_000, 50_000, 100_000, 200_000].into_iter().filter(|p| *p <= largest) {
        let series = hourly(points);
        let mut cells = Vec::new();
        let mut slowest = Duration::ZERO;
        for (_, model) in models {
            let spec = ForecastSpec { horizon: 48, models: vec![model], levels: vec![80.0, 95.0], deadline: None };
            let started = Instant::now();
            let outcome = run(&series, &spec);
            let took = started.elapsed();
            slowest = slowest.max(took);
            cells.push(match outcome {
                Ok(outcome) => format!("{:.2} s ({} pts fitted)", took.as_secs_f64(), outcome.fitted_points),
                Err(error) => format!("{:.2} s: {error}", took.as_secs_f64()),
            });
        }
        println!("| {points} | {} |", cells.join(" | "));
        if slowest > Duration::from_secs(120) {
            println!("stopping: a run at {points} points took {:.0} s", slowest.as_secs_f64());
            break;
        }
    }
    std::process::ExitCode::SUCCESS
}

//! What is in a series: summary statistics, seasonal periods, trend, outliers and
//! changepoints, each finding with the timestamps it concerns.
//!
//! Statistics and outliers use the observed points only (nothing filled in); seasonality,
//! trend and changepoints need a regular grid and use the series as the request's missing
//! policy completed it.

pub mod outliers;
pub mod stats;

use std::panic::{AssertUnwindSafe, catch_unwind};

use augurs::changepoint::{Detector as _, NormalGammaDetector};
use augurs::seasons::PeriodogramDetector;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use self::outliers::Outliers;
use self::stats::{Summary, Trend};
use super::series::Series;

/// Most points changepoint detection runs on (its cost grows with length × run length);
/// longer series are averaged in equal blocks down to this many first.
pub const MAX_CHANGEPOINT_POINTS: usize = 2_000;
/// Expected run length between changes for the Bayesian detector, in steps.
const HAZARD_LAMBDA: f64 = 250.0;

/// A seasonal period found in the series' spectrum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SeasonalPeriod {
    /// In steps of the series' frequency (7 on daily data is weekly).
    pub period: u32,
    /// Its power relative to the strongest period (1 for the strongest).
    pub relative_power: f64,
}

/// Where the series' level shifts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Changepoint {
    /// The first timestamp of the new regime.
    pub timestamp: String,
    pub mean_before: f64,
    pub mean_after: f64,
}

/// Everything found in one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Findings {
    /// Of the observed values.
    pub summary: Summary,
    /// First and last observed timestamps.
    pub first_timestamp: String,
    pub last_timestamp: String,
    /// Strongest first; empty when none stands out or the series is too short to tell.
    pub seasonal_periods: Vec<SeasonalPeriod>,
    pub trend: Option<Trend>,
    pub outliers: Outliers,
    /// In time order; `None` if the detector failed.
    pub changepoints: Option<Vec<Changepoint>>,
    /// What could not be done, and why.
    pub notes: Vec<String>,
}

/// Analyses one column: `observed` holds the points as recorded, `regular` the same
/// column completed onto its grid.
pub fn analyse(observed: &Series, regular: &Series) -> Option<Findings> {
    let summary = Summary::of(&observed.values)?;
    let stamps: Vec<String> = observed.timestamps.iter().map(|t| observed.format(*t)).collect();
    let mut notes = Vec::new();

    let seasonal_periods = guarded("seasonality", &mut notes, || seasonal_periods(&regular.values)).unwrap_or_default();
    let block = regular.values.len().div_ceil(MAX_CHANGEPOINT_POINTS);
    if block > 1 {
        notes.push(format!(
            "changepoints: located to within {block} steps (the series was averaged in blocks of {block} to bound the cost)"
        ));
    }
    let min_segment = seasonal_periods.iter().map(|p| p.period as usize).max().unwrap_or(0).max(5);
    let changepoints = guarded("changepoints", &mut notes, || changepoints(regular, min_segment, block));
    Some(Findings {
        summary,
        first_timestamp: stamps.first().cloned().unwrap_or_default(),
        last_timestamp: stamps.last().cloned().unwrap_or_default(),
        seasonal_periods,
        trend: Trend::of(&regular.values),
        outliers: outliers::detect(&observed.values, &stamps),
        changepoints,
        notes,
    })
}

/// Runs third-party numeric code so a panic in it becomes a note, not a failed request.
fn guarded<T>(what: &str, notes: &mut Vec<String>, run: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(value) => Some(value),
        Err(_) => {
            notes.push(format!("{what}: the detector failed on this series"));
            None
        }
    }
}

/// Peaks of the series' periodogram (Welch's method), strongest first.
fn seasonal_periods(values: &[f64]) -> Vec<SeasonalPeriod> {
    // The detector needs room for three cycles of its shortest period (4 steps).
    if values.len() < 16 || values.iter().all(|v| *v == values[0]) {
        return Vec::new();
    }
    let detector = PeriodogramDetector::builder().build();
    let periodogram = detector.periodogram(values);
    let mut peaks: Vec<_> = periodogram.peaks(0.9).collect();
    peaks.sort_by(|a, b| b.power.total_cmp(&a.power));
    let strongest = peaks.first().map_or(1.0, |p| p.power);
    peaks
        .into_iter()
        .filter(|p| p.power.is_finite() && strongest > 0.0)
        .map(|p| SeasonalPeriod { period: p.period, relative_power: p.power / strongest })
        .collect()
}

/// Level shifts by Bayesian online changepoint detection (normal data, normal-gamma prior)
/// on the standardised series, averaged in blocks of `block` steps; shifts closer together
/// than `min_segment` steps (a seasonal cycle, at least) are merged, so seasonal swings are
/// not reported as changes.
fn changepoints(series: &Series, min_segment: usize, block: usize) -> Vec<Changepoint> {
    let values = &series.values;
    let m = stats::mean(values);
    let sd = stats::std_dev(values, m);
    if values.len() < 2 * min_segment || sd == 0.0 {
        return Vec::new();
    }
    let block = block.max(1);
    let standardised: Vec<f64> = values.chunks(block).map(|chunk| (stats::mean(chunk) - m) / sd).collect();
    let prior = augurs::changepoint::dist::NormalGamma::new_unchecked(0.0, 1.0, 1.0, 1.0);
    let mut detector = NormalGammaDetector::normal_gamma((HAZARD_LAMBDA / block as f64).max(10.0), prior);
    let mut starts: Vec<usize> = Vec::new();
    // The detector reports the last point of the old run; the new regime starts after it.
    for index in detector.detect_changepoints(&standardised).into_iter().map(|i| (i + 1) * block) {
        let previous = starts.last().copied().unwrap_or(0);
        if index >= min_segment && index - previous >= min_segment && values.len().saturating_sub(index) >= min_segment {
            starts.push(index);
        }
    }
    let bounds: Vec<usize> = std::iter::once(0).chain(starts.iter().copied()).chain(std::iter::once(values.len())).collect();
    bounds
        .windows(3)
        .filter_map(|w| {
            Some(Changepoint {
                timestamp: series.format(*series.timestamps.get(w[1])?),
                mean_before: stats::mean(&values[w[0]..w[1]]),
                mean_after: stats::mean(&values[w[1]..w[2]]),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::frequency::Frequency;

    fn daily(values: Vec<f64>) -> Series {
        let start = datetime!(2024-01-01 0:00 UTC);
        let frequency = Frequency::Seconds(86_400);
        let timestamps = (0..values.len() as i64).filter_map(|k| frequency.step(start, k)).collect();
        Series { start, frequency, values, timestamps }
    }

    #[test]
    fn a_weekly_pattern_is_found_as_period_seven() {
        let series = daily((0..140).map(|i| 50.0 + [0.0, 6.0, 9.0, 5.0, 2.0, -10.0, -12.0][i % 7] + (i % 3) as f64 * 0.1).collect());
        let findings = analyse(&series, &series).unwrap();
        assert_eq!(findings.seasonal_periods.first().map(|p| p.period), Some(7), "{:?}", findings.seasonal_periods);
    }

    #[test]
    fn a_level_shift_is_a_changepoint_at_its_date() {
        for (shift, date) in [(70, "2024-03-11"), (33, "2024-02-03"), (90, "2024-03-31")] {
            let values: Vec<f64> = (0..120).map(|i| if i < shift { 10.0 } else { 25.0 } + ((i * 37) % 7) as f64 * 0.3).collect();
            let series = daily(values);
            let found = analyse(&series, &series).unwrap().changepoints.unwrap();
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].timestamp, date, "day {shift}");
            assert!(found[0].mean_before < 12.0 && found[0].mean_after > 24.0, "{found:?}");
        }
    }

    #[test]
    fn a_steady_series_has_no_changepoints_and_short_ones_no_seasons() {
        let series = daily((0..100).map(|i| 3.0 + ((i * 13) % 5) as f64 * 0.01).collect());
        assert_eq!(analyse(&series, &series).unwrap().changepoints, Some(vec![]));
        let short = daily(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
        let findings = analyse(&short, &short).unwrap();
        assert!(findings.seasonal_periods.is_empty());
        assert_eq!(findings.trend.unwrap().direction, stats::Direction::Increasing);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;
    use crate::frequency::Frequency;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any finite series gets findings, never a panic, and every flagged timestamp is
        /// one of the series' own.
        #[test]
        fn analysis_answers_any_finite_series(values in prop::collection::vec(prop_oneof![-1e6..1e6f64, Just(0.0), Just(1e12)], 8..300)) {
            let start = datetime!(2024-01-01 0:00 UTC);
            let frequency = Frequency::Seconds(3_600);
            let timestamps: Vec<_> = (0..values.len() as i64).filter_map(|k| frequency.step(start, k)).collect();
            let series = Series { start, frequency, values, timestamps };
            let findings = analyse(&series, &series).expect("a non-empty series has findings");
            let own: std::collections::HashSet<String> = series.timestamps.iter().map(|t| series.format(*t)).collect();
            for finding in [&findings.outliers.zscore, &findings.outliers.iqr, &findings.outliers.mad] {
                prop_assert!(finding.points.iter().all(|p| own.contains(&p.timestamp)));
            }
            for change in findings.changepoints.unwrap_or_default() {
                prop_assert!(own.contains(&change.timestamp));
            }
        }
    }
}

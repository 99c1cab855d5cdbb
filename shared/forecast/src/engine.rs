//! One forecast, end to end: candidate models backtested on a holdout at the end of the
//! series, the best (or the requested) one refitted on the whole series, and its
//! forecast laid on the dataset's own future timestamps.

use serde::{Deserialize, Serialize};

use super::metrics::{Accuracy, accuracy};
use super::models::{FittedModel, Interval, ModelError, ModelKind, Prediction, forecast};
use super::series::Series;
use crate::first_repeat;

/// Longest horizon a request may ask for.
pub const MAX_HORIZON: usize = 1_000;
/// Most interval levels per request.
pub const MAX_LEVELS: usize = 5;
/// Most points the models are fitted on: the most recent ones. Fitting grows linearly with
/// the points (`auto` took 0.17 ms a point on one core here, see BENCHMARKS.md), so the
/// 200,000 points a dataset may hold would take 35 s here and about twice that on a 1 GB
/// Lambda. 30,000 keeps `auto` near 5 s here, well inside a request's 25 s budget, and
/// still spans three yearly cycles of hourly data.
pub const MAX_FIT_POINTS: usize = 30_000;

/// A model choice in a request: one model, or `auto` (every applicable model, best backtest wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    Auto,
    Naive,
    SeasonalNaive,
    Ets,
    EtsDamped,
    MstlEts,
}

impl ModelChoice {
    fn kinds(self) -> Vec<ModelKind> {
        match self {
            ModelChoice::Auto => ModelKind::ALL.to_vec(),
            ModelChoice::Naive => vec![ModelKind::Naive],
            ModelChoice::SeasonalNaive => vec![ModelKind::SeasonalNaive],
            ModelChoice::Ets => vec![ModelKind::Ets],
            ModelChoice::EtsDamped => vec![ModelKind::EtsDamped],
            ModelChoice::MstlEts => vec![ModelKind::MstlEts],
        }
    }
}

/// What to forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastSpec {
    pub horizon: usize,
    pub models: Vec<ModelChoice>,
    /// Interval levels in percent.
    pub levels: Vec<f64>,
    /// When the answer is due: checked before each model fit, so a forecast that can't
    /// finish in time ends with [`EngineError::OutOfTime`] instead of a gateway timeout.
    pub deadline: Option<std::time::Instant>,
}

/// How one candidate did on the holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CandidateScore {
    pub model: ModelKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    /// What the candidate predicted for the holdout, to check or plot against it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holdout_forecast: Vec<f64>,
    /// Why the candidate could not be scored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The backtest behind the choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Backtest {
    /// Points held out at the end of the series.
    pub holdout: usize,
    /// Season length used to scale MASE (1 when the series has none).
    pub mase_season: usize,
    pub candidates: Vec<CandidateScore>,
}

/// A finished forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ForecastOutcome {
    /// ISO 8601 duration of the series' frequency.
    pub frequency: String,
    pub seasonal_periods: Vec<usize>,
    /// Future timestamps, one per step of the horizon.
    pub timestamps: Vec<String>,
    pub point: Vec<f64>,
    pub intervals: Vec<Interval>,
    pub model: FittedModel,
    /// Holdout accuracy of the chosen model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<Accuracy>,
    pub backtest: Backtest,
    /// Points the models were fitted on: the most recent ones, when the series is longer
    /// than one request can fit in time.
    #[serde(default)]
    pub fitted_points: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("horizon must be from 1 to {max} (and at most the series length, {len})")]
    Horizon { max: usize, len: usize },
    #[error("interval levels must be between 50 and 99.9 percent, each given once, at most {MAX_LEVELS} of them")]
    Levels,
    #[error("name at least one model")]
    NoModels,
    #[error("model `{0}` is named more than once")]
    RepeatedModel(String),
    #[error("no model could be fitted: {0}")]
    NothingFits(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the forecast runs past the last representable date")]
    Calendar,
    #[error(
        "the forecast could not finish within the time a request may take ({done} of {total} model fits done); ask for one model (such as `ets`), a shorter series, or fewer seasonal periods"
    )]
    OutOfTime { done: usize, total: usize },
}

impl ForecastSpec {
    /// Checks what needs no data: horizon range, levels, and a model list that names each
    /// choice at most once (so a request can't carry thousands of repeats into storage).
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.horizon == 0 || self.horizon > MAX_HORIZON {
            return Err(EngineError::Horizon { max: MAX_HORIZON, len: MAX_HORIZON });
        }
        if self.levels.len() > MAX_LEVELS || first_repeat(&self.levels).is_some() || self.levels.iter().any(|l| !(50.0..=99.9).contains(l))
        {
            return Err(EngineError::Levels);
        }
        if self.models.is_empty() {
            return Err(EngineError::NoModels);
        }
        if let Some(model) = first_repeat(&self.models) {
            let name = serde_json::to_value(model).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            return Err(EngineError::RepeatedModel(name));
        }
        Ok(())
    }
}

/// Runs `spec` on `series`.
pub fn run(series: &Series, spec: &ForecastSpec) -> Result<ForecastOutcome, EngineError> {
    let y = &series.values[series.values.len().saturating_sub(MAX_FIT_POINTS)..];
    spec.validate()?;
    if spec.horizon > y.len() {
        return Err(EngineError::Horizon { max: MAX_HORIZON, len: y.len() });
    }
    let mut kinds: Vec<ModelKind> = Vec::new();
    for choice in &spec.models {
        for kind in choice.kinds() {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    if kinds.is_empty() {
        return Err(EngineError::NoModels);
    }

    let holdout = spec.horizon.min(y.len() / 4).max(1);
    let train = &y[..y.len() - holdout];
    let actual = &y[y.len() - holdout..];
    let calendar_periods = series.frequency.candidate_periods();
    // Seasons that two full cycles of the data can show.
    let fitting = |len: usize| -> Vec<usize> { calendar_periods.iter().copied().filter(|p| len > 2 * p).collect() };
    let periods = fitting(train.len());
    let mase_season = periods.first().copied().unwrap_or(1);

    // Each candidate is fitted twice at most (backtest, and refit if chosen).
    let total_fits = kinds.len() + 1;
    let in_time = |done: usize| match spec.deadline {
        Some(deadline) if std::time::Instant::now() >= deadline => Err(EngineError::OutOfTime { done, total: total_fits }),
        _ => Ok(()),
    };
    let mut backtests: Vec<(ModelKind, Result<Prediction, ModelError>)> = Vec::with_capacity(kinds.len());
    for kind in &kinds {
        in_time(backtests.len())?;
        // When the full ETS search already ended on a damped trend, the damped-only search
        // would find the same model: reuse it rather than fit it again.
        let same_as_ets = (*kind == ModelKind::EtsDamped)
            .then(|| backtests.iter().find_map(|(k, p)| p.as_ref().ok().filter(|p| *k == ModelKind::Ets && p.damped_trend)))
            .flatten()
            .map(|p| Prediction { model: FittedModel { kind: ModelKind::EtsDamped, ..p.model.clone() }, ..p.clone() });
        let prediction = match same_as_ets {
            Some(prediction) => Ok(prediction),
            None => forecast(*kind, train, &periods, holdout, &[]),
        };
        backtests.push((*kind, prediction));
    }
    let candidates: Vec<CandidateScore> = backtests
        .iter()
        .map(|(kind, prediction)| match prediction {
            Ok(prediction) => CandidateScore {
                model: *kind,
                accuracy: accuracy(actual, &prediction.point, train, mase_season),
                holdout_forecast: prediction.point.clone(),
                error: None,
            },
            Err(error) => CandidateScore { model: *kind, accuracy: None, holdout_forecast: Vec::new(), error: Some(error.to_string()) },
        })
        .collect();

    // A single named model is used as asked; otherwise the lowest holdout error wins, ties
    // going to the simpler model (earlier in the list). MAE ranks exactly as MASE does (one
    // scale for every candidate) and stays defined when MASE's scale is zero.
    let chosen = if kinds.len() == 1 {
        kinds[0]
    } else {
        candidates
            .iter()
            .filter_map(|c| c.accuracy.map(|a| (c.model, a.mae)))
            .filter(|(_, mae)| mae.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(kind, _)| kind)
            .ok_or_else(|| EngineError::NothingFits(nothing_fits_reason(&candidates)))?
    };

    let full_periods = fitting(y.len());
    in_time(kinds.len())?;
    let prediction = forecast(chosen, y, &full_periods, spec.horizon, &spec.levels)?;

    let last = series.last_timestamp().ok_or(EngineError::Calendar)?;
    let last_step = series.frequency.steps_between(series.start, last).ok_or(EngineError::Calendar)?;
    let timestamps = (1..=spec.horizon as i64)
        .map(|k| series.frequency.step(series.start, last_step + k).map(|t| series.format(t)).ok_or(EngineError::Calendar))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(ForecastOutcome {
        frequency: series.frequency.iso8601(),
        seasonal_periods: full_periods,
        timestamps,
        point: prediction.point,
        intervals: prediction.intervals,
        accuracy: candidates.iter().find(|c| c.model == chosen).and_then(|c| c.accuracy),
        model: prediction.model,
        backtest: Backtest { holdout, mase_season, candidates },
        fitted_points: y.len(),
    })
}

/// Why no candidate could be chosen: every candidate's own error, or that none could be scored.
fn nothing_fits_reason(candidates: &[CandidateScore]) -> String {
    let errors: Vec<String> = candidates.iter().filter_map(|c| c.error.clone()).collect();
    if errors.is_empty() { "no candidate model could be scored on the holdout".to_owned() } else { errors.join("; ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::{MissingPolicy, extract};

    fn air_passengers() -> Series {
        extract(include_str!("../testdata/air_passengers.csv"), "month", "passengers", MissingPolicy::Reject).unwrap().0
    }

    fn spec(horizon: usize, models: &[ModelChoice]) -> ForecastSpec {
        ForecastSpec { horizon, models: models.to_vec(), levels: vec![80.0, 95.0], deadline: None }
    }

    /// The accuracy regression test: on a seasonal series, the automatic choice must beat
    /// the seasonal-naive baseline's holdout MASE.
    #[test]
    fn auto_beats_seasonal_naive_on_air_passengers() {
        let outcome = run(&air_passengers(), &spec(12, &[ModelChoice::Auto])).unwrap();
        let baseline = outcome.backtest.candidates.iter().find(|c| c.model == ModelKind::SeasonalNaive).unwrap().accuracy.unwrap();
        let chosen = outcome.accuracy.unwrap();
        let (chosen, baseline) = (chosen.mase.unwrap(), baseline.mase.unwrap());
        assert!(chosen < baseline, "chosen {} ({chosen}) vs seasonal naive {baseline}", outcome.model.description);
        assert_eq!(outcome.seasonal_periods, [12]);
        assert_eq!(outcome.backtest.mase_season, 12);
    }

    /// On austres, AICc prefers an undamped trend that overshoots; the damped candidate
    /// wins the backtest, and the forecast matches statsforecast's AutoETS (MASE 0.093 on
    /// the last 8 quarters; see BENCHMARKS.md).
    #[test]
    fn a_damped_trend_wins_on_austres_and_beats_seasonal_naive() {
        let content = include_str!("../testdata/austres.csv");
        let (series, _) = extract(content, "quarter", "residents", MissingPolicy::Reject).unwrap();
        let (train, actual) = series.values.split_at(series.values.len() - 8);
        let train_series = Series { values: train.to_vec(), timestamps: series.timestamps[..train.len()].to_vec(), ..series.clone() };
        let outcome = run(&train_series, &spec(8, &[ModelChoice::Auto])).unwrap();
        assert_eq!(outcome.model.kind, ModelKind::EtsDamped, "{}", outcome.model.description);
        let score = accuracy(actual, &outcome.point, train, 4).unwrap().mase.unwrap();
        let baseline = run(&train_series, &spec(8, &[ModelChoice::SeasonalNaive])).unwrap();
        let baseline = accuracy(actual, &baseline.point, train, 4).unwrap().mase.unwrap();
        assert!(score < 0.1 && score < baseline, "MASE {score} (seasonal naive {baseline})");
    }

    #[test]
    fn the_forecast_continues_the_dataset_own_calendar() {
        let outcome = run(&air_passengers(), &spec(14, &[ModelChoice::MstlEts])).unwrap();
        assert_eq!(outcome.frequency, "P1M");
        assert_eq!(outcome.timestamps.first().map(String::as_str), Some("1961-01-01"));
        assert_eq!(outcome.timestamps.last().map(String::as_str), Some("1962-02-01"));
        assert_eq!(outcome.point.len(), 14);
        // Intervals nest (80 % inside 95 %) and widen with the horizon.
        let (i80, i95) = (&outcome.intervals[0], &outcome.intervals[1]);
        for h in 0..14 {
            assert!(
                i95.lower[h] <= i80.lower[h]
                    && i80.lower[h] <= outcome.point[h]
                    && outcome.point[h] <= i80.upper[h]
                    && i80.upper[h] <= i95.upper[h]
            );
        }
        assert!(i95.upper[13] - i95.lower[13] > i95.upper[0] - i95.lower[0]);
    }

    /// An exactly repeating weekly series: every model fits, seasonal naive is perfect in
    /// sample, so MASE has no scale. `auto` must still choose (by MAE) and say so.
    #[test]
    fn auto_chooses_on_a_clean_seasonal_series_whose_mase_is_undefined() {
        use crate::frequency::Frequency;
        let start = time::macros::datetime!(2024-01-01 0:00 UTC);
        let week = [10.0, 14.0, 19.0, 17.0, 12.0, 6.0, 4.0];
        let values: Vec<f64> = (0..84).map(|i| week[i % 7]).collect();
        let frequency = Frequency::Seconds(86_400);
        let timestamps = (0..84).map(|k| frequency.step(start, k).unwrap()).collect();
        let series = Series { start, frequency, values, timestamps };
        for kind in [ModelChoice::Naive, ModelChoice::SeasonalNaive, ModelChoice::Ets, ModelChoice::MstlEts] {
            assert!(run(&series, &spec(14, &[kind])).is_ok(), "{kind:?} fits on its own");
        }
        let outcome = run(&series, &spec(14, &[ModelChoice::Auto])).unwrap();
        assert_eq!(outcome.accuracy.unwrap().mase, None);
        let chosen_mae = outcome.accuracy.unwrap().mae;
        assert!(outcome.backtest.candidates.iter().filter_map(|c| c.accuracy).all(|a| chosen_mae <= a.mae));
        for (h, value) in outcome.point.iter().enumerate() {
            assert!((value - week[(84 + h) % 7]).abs() < 1e-6, "step {h}: {value}");
        }
        let nothing = [CandidateScore { model: ModelKind::Naive, accuracy: None, holdout_forecast: vec![], error: None }];
        assert!(!nothing_fits_reason(&nothing).is_empty());
    }

    #[test]
    fn a_forecast_past_its_deadline_stops_between_fits_and_says_how_far_it_got() {
        let past = ForecastSpec { deadline: Some(std::time::Instant::now()), ..spec(12, &[ModelChoice::Auto]) };
        assert_eq!(run(&air_passengers(), &past), Err(EngineError::OutOfTime { done: 0, total: 6 }));
        let message = EngineError::OutOfTime { done: 3, total: 6 }.to_string();
        assert!(message.contains("3 of 6") && message.contains("`ets`"), "{message}");
        let later = ForecastSpec {
            deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(600)),
            ..spec(12, &[ModelChoice::Auto])
        };
        assert!(run(&air_passengers(), &later).is_ok());
    }

    #[test]
    fn a_long_series_is_fitted_on_its_most_recent_points_and_forecast_from_its_end() {
        use crate::frequency::Frequency;
        let start = time::macros::datetime!(2020-01-01 0:00 UTC);
        let frequency = Frequency::Seconds(3_600);
        let len = 30_100;
        // The first 100 points are far off: a fit that used them would show it.
        let values: Vec<f64> = (0..len).map(|i| if i < 100 { 1e6 } else { 10.0 + (i % 24) as f64 }).collect();
        let timestamps = (0..len as i64).map(|k| frequency.step(start, k).unwrap()).collect();
        let series = Series { start, frequency, values, timestamps };
        let outcome = run(&series, &spec(24, &[ModelChoice::SeasonalNaive])).unwrap();
        assert_eq!(outcome.fitted_points, 30_000);
        assert_eq!(outcome.timestamps[0], series.format(frequency.step(start, len as i64).unwrap()));
        let naive = run(&series, &spec(24, &[ModelChoice::Naive])).unwrap();
        let widest = naive.intervals[1].upper[23] - naive.intervals[1].lower[23];
        assert!(widest < 100.0, "the far-off start leaked into the fit: interval width {widest}");
    }

    #[test]
    fn requests_out_of_bounds_are_refused() {
        let series = air_passengers();
        assert!(matches!(run(&series, &spec(0, &[ModelChoice::Auto])), Err(EngineError::Horizon { .. })));
        assert!(matches!(run(&series, &spec(145, &[ModelChoice::Auto])), Err(EngineError::Horizon { .. })));
        assert_eq!(run(&series, &spec(3, &[])), Err(EngineError::NoModels));
        let bad_levels = ForecastSpec { levels: vec![120.0], ..spec(3, &[ModelChoice::Naive]) };
        assert_eq!(run(&series, &bad_levels), Err(EngineError::Levels));
        let repeated_levels = ForecastSpec { levels: vec![80.0, 95.0, 80.0], ..spec(3, &[ModelChoice::Naive]) };
        assert_eq!(repeated_levels.validate(), Err(EngineError::Levels));
        let repeats = ForecastSpec { models: vec![ModelChoice::Naive; 10_000], ..spec(3, &[]) };
        assert_eq!(repeats.validate(), Err(EngineError::RepeatedModel("naive".into())));
        let auto_twice = spec(3, &[ModelChoice::Auto, ModelChoice::Ets, ModelChoice::Auto]);
        assert_eq!(auto_twice.validate(), Err(EngineError::RepeatedModel("auto".into())));
        assert_eq!(spec(1001, &[ModelChoice::Naive]).validate(), Err(EngineError::Horizon { max: 1000, len: 1000 }));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::frequency::Frequency;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 60, ..ProptestConfig::default() })]

        /// Any finite series gets a forecast or a named error, never a panic, and a
        /// forecast always has one timestamp and one finite point per step.
        #[test]
        fn any_finite_series_gets_an_answer(
            values in proptest::collection::vec(prop_oneof![-1e6f64..1e6, Just(0.0), Just(1.0)], 8..120),
            horizon in 1usize..30,
            daily in any::<bool>(),
        ) {
            let start = time::macros::datetime!(2024-01-01 0:00 UTC);
            let frequency = if daily { Frequency::Seconds(86_400) } else { Frequency::Months(1) };
            let timestamps = (0..values.len()).map(|k| frequency.step(start, k as i64).unwrap()).collect();
            let series = Series { start, frequency, values: values.clone(), timestamps };
            let spec = ForecastSpec { horizon: horizon.min(values.len()), models: vec![ModelChoice::Auto], levels: vec![90.0], deadline: None };
            match run(&series, &spec) {
                Ok(outcome) => {
                    prop_assert_eq!(outcome.point.len(), spec.horizon);
                    prop_assert_eq!(outcome.timestamps.len(), spec.horizon);
                    prop_assert!(outcome.point.iter().all(|v| v.is_finite()));
                }
                // The only failure a valid request may meet is that no model fits, and it
                // must say why.
                Err(EngineError::NothingFits(why)) => prop_assert!(!why.is_empty()),
                Err(other) => prop_assert!(false, "a valid request failed with {other}"),
            }
        }
    }
}

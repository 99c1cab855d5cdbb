//! The forecasting models: naive and seasonal-naive baselines, automatic ETS (augurs),
//! MSTL decomposition with automatic ETS on the deseasonalised series (augurs) for one or
//! more seasonalities, and the families of [`library`]: seasonal ETS, AutoARIMA, Theta and
//! the intermittent-demand methods. Each returns point forecasts and prediction intervals.

pub mod library;

use std::panic::{AssertUnwindSafe, catch_unwind};

use augurs::ets::AutoETS;
use augurs::ets::trend::AutoETSTrendModel;
use augurs::mstl::MSTLModel;
use augurs::{Fit, Predict};
use serde::{Deserialize, Serialize};

/// A model a request can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Tomorrow equals today.
    Naive,
    /// Same as one season ago (the main seasonal period).
    SeasonalNaive,
    /// Exponential smoothing with error, trend and damping chosen by AICc (no seasonal
    /// component: seasonality is the decomposition's job).
    Ets,
    /// The same, with a damped trend only. AICc often prefers an undamped trend that the
    /// backtest then shows overshooting; as its own candidate, the backtest can weigh it.
    EtsDamped,
    /// MSTL decomposition over every seasonal period, ETS on the rest.
    MstlEts,
    /// Exponential smoothing with error, trend, damping and (additive or multiplicative)
    /// seasonality chosen by AICc, for seasons up to [`library::MAX_SEASON`].
    AutoEts,
    /// Seasonal ARIMA, orders by stepwise search on AICc, differencing by unit-root tests.
    AutoArima,
    /// Theta on the seasonally adjusted series, standard or optimised (chosen in sample).
    AutoTheta,
    /// Croston's method with the Syntetos-Boylan correction, for intermittent demand.
    Croston,
    /// Teunter-Syntetos-Babai: demand size and probability smoothed apart.
    Tsb,
    /// Aggregate-disaggregate: SES on the series summed over the mean interval between demands.
    Adida,
    /// The mean of the best candidates by cross-validation.
    Combination,
}

impl ModelKind {
    /// Every model a request can name on its own.
    pub const ALL: [ModelKind; 11] = [
        ModelKind::Naive,
        ModelKind::SeasonalNaive,
        ModelKind::Ets,
        ModelKind::EtsDamped,
        ModelKind::MstlEts,
        ModelKind::AutoEts,
        ModelKind::AutoArima,
        ModelKind::AutoTheta,
        ModelKind::Croston,
        ModelKind::Tsb,
        ModelKind::Adida,
    ];

    pub fn needs_season(self) -> bool {
        matches!(self, ModelKind::SeasonalNaive | ModelKind::MstlEts)
    }

    /// The intermittent-demand methods, candidates only on zero-heavy series.
    pub fn intermittent(self) -> bool {
        matches!(self, ModelKind::Croston | ModelKind::Tsb | ModelKind::Adida)
    }
}

/// A prediction interval at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interval {
    /// Coverage in percent, e.g. 95.
    pub level: f64,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// What a fitted model predicts, and what it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Prediction {
    pub point: Vec<f64>,
    pub intervals: Vec<Interval>,
    pub model: FittedModel,
}

/// The model as fitted, for the response and for reproducing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FittedModel {
    pub kind: ModelKind,
    /// Human-readable form, e.g. `ETS(A,Ad,N)` or `MSTL[7, 365] + ETS`.
    pub description: String,
    /// Seasonal periods used, in steps.
    pub periods: Vec<usize>,
    /// Akaike information criterion (corrected) of the ETS fit, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aicc: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{model:?} needs at least {needed} points; the series has {have}")]
    NotEnoughData { model: ModelKind, needed: usize, have: usize },
    #[error("{0:?} needs a seasonal period and none fits the data")]
    NoSeason(ModelKind),
    #[error("{model:?} could not be fitted: {reason}")]
    Fit { model: ModelKind, reason: String },
}

/// Forecasts `horizon` steps after `y` with `kind`, with intervals at each of `levels`
/// (percent). `periods` are the seasonal periods, main one first.
pub fn forecast(kind: ModelKind, y: &[f64], periods: &[usize], horizon: usize, levels: &[f64]) -> Result<Prediction, ModelError> {
    let season = periods.first().copied();
    match kind {
        ModelKind::Naive => baseline(kind, y, 1, horizon, levels),
        ModelKind::SeasonalNaive => baseline(kind, y, season.ok_or(ModelError::NoSeason(kind))?, horizon, levels),
        ModelKind::Ets | ModelKind::EtsDamped => ets(kind, y, horizon, levels),
        ModelKind::MstlEts => mstl(y, periods, horizon, levels),
        ModelKind::AutoEts | ModelKind::AutoArima | ModelKind::AutoTheta | ModelKind::Croston | ModelKind::Tsb | ModelKind::Adida => {
            library::forecast(kind, y, season.unwrap_or(1), horizon, levels)
        }
        ModelKind::Combination => {
            Err(ModelError::Fit { model: kind, reason: "a combination is made of fitted models, not fitted itself".into() })
        }
    }
}

/// Naive (`lag` 1) and seasonal naive (`lag` = season): repeat the last season, with
/// intervals from the in-sample residuals widening by the number of seasons ahead.
fn baseline(kind: ModelKind, y: &[f64], lag: usize, horizon: usize, levels: &[f64]) -> Result<Prediction, ModelError> {
    if y.len() <= lag {
        return Err(ModelError::NotEnoughData { model: kind, needed: lag + 1, have: y.len() });
    }
    let last_season = &y[y.len() - lag..];
    let point: Vec<f64> = (0..horizon).map(|h| last_season[h % lag]).collect();
    let residuals: Vec<f64> = y.windows(lag + 1).map(|w| w[lag] - w[0]).collect();
    let sigma = (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt();
    let intervals = levels
        .iter()
        .map(|level| {
            let z = normal_quantile(0.5 + level / 200.0);
            let width: Vec<f64> = (0..horizon).map(|h| z * sigma * (((h / lag) + 1) as f64).sqrt()).collect();
            Interval {
                level: *level,
                lower: point.iter().zip(&width).map(|(p, w)| p - w).collect(),
                upper: point.iter().zip(&width).map(|(p, w)| p + w).collect(),
            }
        })
        .collect();
    let description = if lag == 1 { "Naive".to_owned() } else { format!("SeasonalNaive[{lag}]") };
    let periods = if lag == 1 { Vec::new() } else { vec![lag] };
    Ok(Prediction { point, intervals, model: FittedModel { kind, description, periods, aicc: None } })
}

const MIN_ETS_POINTS: usize = 10;

/// Automatic ETS (`Ets`), or automatic ETS among damped-trend models (`EtsDamped`).
fn ets(kind: ModelKind, y: &[f64], horizon: usize, levels: &[f64]) -> Result<Prediction, ModelError> {
    if y.len() < MIN_ETS_POINTS {
        return Err(ModelError::NotEnoughData { model: kind, needed: MIN_ETS_POINTS, have: y.len() });
    }
    let fitted = guarded(kind, || {
        let search = AutoETS::non_seasonal();
        let search = if kind == ModelKind::EtsDamped { search.damped(true).map_err(|e| e.to_string())? } else { search };
        search.fit(y).map_err(|e| e.to_string())
    })?;
    let model = fitted.model();
    let description = format!("ETS({})", spell_ets(&model.model_type().to_string(), model.damped()));
    let aicc = Some(model.aicc()).filter(|a| a.is_finite());
    let (point, intervals) = predict_levels(kind, horizon, levels, |h, level| fitted.predict(h, level).map_err(|e| e.to_string()))?;
    Ok(Prediction { point, intervals, model: FittedModel { kind, description, periods: Vec::new(), aicc } })
}

fn mstl(y: &[f64], periods: &[usize], horizon: usize, levels: &[f64]) -> Result<Prediction, ModelError> {
    let kind = ModelKind::MstlEts;
    let longest = periods.iter().max().copied().ok_or(ModelError::NoSeason(kind))?;
    // STL needs two full cycles of the longest season.
    let needed = (2 * longest + 1).max(MIN_ETS_POINTS);
    if y.len() < needed {
        return Err(ModelError::NotEnoughData { model: kind, needed, have: y.len() });
    }
    let model = MSTLModel::new(periods.to_vec(), AutoETSTrendModel::from(AutoETS::non_seasonal()));
    let fitted = guarded(kind, || model.fit(y).map_err(|e| e.to_string()))?;
    let (point, intervals) = predict_levels(kind, horizon, levels, |h, level| fitted.predict(h, level).map_err(|e| e.to_string()))?;
    let description = format!("MSTL{periods:?} + ETS");
    Ok(Prediction { point, intervals, model: FittedModel { kind, description, periods: periods.to_vec(), aicc: None } })
}

/// Point forecasts once, and one interval per level (both libraries predict one level per
/// call), each of the horizon's length and finite.
pub(crate) fn predict_levels(
    kind: ModelKind,
    horizon: usize,
    levels: &[f64],
    predict: impl Fn(usize, Option<f64>) -> Result<augurs::Forecast, String>,
) -> Result<(Vec<f64>, Vec<Interval>), ModelError> {
    let point = guarded(kind, || predict(horizon, None))?.point;
    let mut intervals = Vec::with_capacity(levels.len());
    for level in levels {
        let forecast = guarded(kind, || predict(horizon, Some(level / 100.0)))?;
        let bounds = forecast.intervals.ok_or_else(|| ModelError::Fit { model: kind, reason: "no prediction intervals".into() })?;
        intervals.push(Interval { level: *level, lower: bounds.lower, upper: bounds.upper });
    }
    let lengths_match = point.len() == horizon && intervals.iter().all(|i| i.lower.len() == horizon && i.upper.len() == horizon);
    if !lengths_match || point.iter().chain(intervals.iter().flat_map(|i| i.lower.iter().chain(&i.upper))).any(|v| !v.is_finite()) {
        return Err(ModelError::Fit { model: kind, reason: "the model produced non-finite values".into() });
    }
    Ok((point, intervals))
}

/// Runs third-party numeric code so that neither an error nor a panic in it can take the
/// process down: both become a [`ModelError`] the caller can answer with.
pub(crate) fn guarded<T>(kind: ModelKind, run: impl FnOnce() -> Result<T, String>) -> Result<T, ModelError> {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(reason)) => Err(ModelError::Fit { model: kind, reason }),
        Err(_) => Err(ModelError::Fit { model: kind, reason: "the model failed on this series".into() }),
    }
}

/// `AAdN`-style model types as `A,Ad,N`.
fn spell_ets(compact: &str, damped: bool) -> String {
    let mut chars = compact.chars();
    let error = chars.next().unwrap_or('?');
    let trend = chars.next().unwrap_or('?');
    let season: String = chars.filter(|c| c.is_ascii_alphabetic()).collect();
    let trend = if damped && trend != 'N' { format!("{trend}d") } else { trend.to_string() };
    format!("{error},{trend},{}", if season.is_empty() { "N".into() } else { season })
}

/// Inverse of the standard normal CDF (Acklam's rational approximation, relative error
/// below 1.2e-9), for interval widths.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] =
        [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const B: [f64; 5] = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] =
        [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_the_tables() {
        for (p, z) in [(0.975, 1.959_963_985), (0.9, 1.281_551_566), (0.5, 0.0), (0.005, -2.575_829_304)] {
            assert!((normal_quantile(p) - z).abs() < 1e-6, "{p}");
        }
    }

    #[test]
    fn seasonal_naive_repeats_the_last_season_with_widening_intervals() {
        let y: Vec<f64> = (0..28).map(|i| [1.0, 5.0, 3.0, 9.0][i % 4] + (i / 4) as f64 * 0.1).collect();
        let p = forecast(ModelKind::SeasonalNaive, &y, &[4], 8, &[80.0, 95.0]).unwrap();
        assert_eq!(p.point[..4], y[24..28]);
        assert_eq!(p.point[4..], y[24..28]);
        let i95 = &p.intervals[1];
        assert!(i95.upper[7] - i95.lower[7] > i95.upper[0] - i95.lower[0]);
        assert!(p.intervals[0].upper[0] < i95.upper[0], "80 % is narrower than 95 %");
    }

    #[test]
    fn ets_follows_a_trend_and_intervals_widen() {
        let y: Vec<f64> = (0..60).map(|i| 100.0 + 2.0 * i as f64 + ((i * 7919) % 13) as f64 * 0.3).collect();
        let p = forecast(ModelKind::Ets, &y, &[], 12, &[95.0]).unwrap();
        assert!(p.point[11] > y[59], "{:?}", p.point);
        assert!(p.model.description.starts_with("ETS("), "{}", p.model.description);
        let interval = &p.intervals[0];
        assert!(interval.upper[11] - interval.lower[11] > interval.upper[0] - interval.lower[0]);
        assert!(interval.lower.iter().zip(&p.point).all(|(l, p)| l < p));
    }

    #[test]
    fn mstl_needs_two_seasons_and_reproduces_a_clean_season() {
        let y: Vec<f64> = (0..70).map(|i| 50.0 + [0.0, 10.0, 20.0, 5.0, -5.0, -15.0, -15.0][i % 7]).collect();
        let p = forecast(ModelKind::MstlEts, &y, &[7], 14, &[95.0]).unwrap();
        for (h, value) in p.point.iter().enumerate() {
            let expected = 50.0 + [0.0, 10.0, 20.0, 5.0, -5.0, -15.0, -15.0][(70 + h) % 7];
            assert!((value - expected).abs() < 1.0, "step {h}: {value} vs {expected}");
        }
        assert!(matches!(forecast(ModelKind::MstlEts, &y[..10], &[7], 3, &[]), Err(ModelError::NotEnoughData { .. })));
        assert!(matches!(forecast(ModelKind::SeasonalNaive, &y, &[], 3, &[]), Err(ModelError::NoSeason(_))));
    }

    #[test]
    fn degenerate_series_fail_cleanly_instead_of_panicking() {
        for y in [vec![0.0; 30], vec![1e308; 30], (0..30).map(|i| if i % 2 == 0 { 1e-300 } else { -1e300 }).collect::<Vec<_>>()] {
            for kind in ModelKind::ALL {
                let _ = forecast(kind, &y, &[7], 5, &[95.0]);
            }
        }
    }
}

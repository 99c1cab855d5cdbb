//! The model families that come from anofox-forecast, whose automatic searches follow
//! statsforecast's: seasonal ETS by AICc, stepwise seasonal ARIMA, Theta (standard and
//! optimised, chosen in sample), and the intermittent-demand methods. Each is fitted on
//! a series without timestamps (the engine keeps the calendar) and returns the same
//! [`Prediction`] as the engine's own models.

use anofox_forecast::core::TimeSeries;
use anofox_forecast::models::Forecaster;
use anofox_forecast::models::arima::AutoARIMA;
use anofox_forecast::models::exponential::{AutoETS, AutoETSConfig, ETSSeasonalType, ModelPool};
use anofox_forecast::models::intermittent::{ADIDA, Croston, TSB};
use anofox_forecast::models::theta::AutoTheta;

use super::{FittedModel, ModelError, ModelKind, Prediction, guarded, predict_levels};

/// Longest season the seasonal searches are given: ETS's seasonal states and a seasonal
/// ARIMA's lags grow with it (statsforecast's ETS stops at 24 too); longer seasons are
/// the decomposition's (MSTL) job.
pub const MAX_SEASON: usize = 24;

/// Fewest points each family is fitted on.
const MIN_POINTS: usize = 10;

/// Fits `kind` on `y` with main season `season` (1 when there is none) and forecasts
/// `horizon` steps with intervals at `levels` (percent).
pub fn forecast(kind: ModelKind, y: &[f64], season: usize, horizon: usize, levels: &[f64]) -> Result<Prediction, ModelError> {
    if y.len() < MIN_POINTS {
        return Err(ModelError::NotEnoughData { model: kind, needed: MIN_POINTS, have: y.len() });
    }
    // A season is used when two full cycles are in the data.
    let season = if season > 1 && season <= MAX_SEASON && y.len() > 2 * season { season } else { 1 };
    let series = guarded(kind, || unit_calendar(y))?;
    let mut fitted = Model::new(kind, season)?;
    let model = fitted.forecaster();
    guarded(kind, || model.fit(&series).map_err(|e| e.to_string()))?;
    let (point, intervals) = predict_levels(kind, horizon, levels, |h, level| {
        let forecast = match level {
            None => model.predict(h),
            Some(level) => model.predict_with_intervals(h, level),
        }
        .map_err(|e| e.to_string())?;
        let point = forecast.primary().to_vec();
        let intervals = match level {
            None => None,
            Some(level) => {
                let (lower, upper) =
                    (forecast.lower_series(0).map_err(|e| e.to_string())?, forecast.upper_series(0).map_err(|e| e.to_string())?);
                Some(augurs::ForecastIntervals { level, lower: lower.to_vec(), upper: upper.to_vec() })
            }
        };
        Ok(augurs::Forecast { point, intervals })
    })?;
    let description = fitted.describe(season);
    let periods = if season > 1 { vec![season] } else { Vec::new() };
    Ok(Prediction { point, intervals, model: FittedModel { kind, description, periods, aicc: None } })
}

/// The library's series type wants timestamps; the models only use their order.
fn unit_calendar(y: &[f64]) -> Result<TimeSeries, String> {
    use chrono::{Duration, TimeZone, Utc};
    let start = Utc.timestamp_opt(0, 0).single().ok_or("no epoch")?;
    let timestamps = (0..y.len() as i64).map(|k| start + Duration::days(k)).collect();
    TimeSeries::univariate(timestamps, y.to_vec()).map_err(|e| e.to_string())
}

/// One of the library's models, kept as its own type so that what it chose can be read back.
enum Model {
    Ets(AutoETS),
    Arima(AutoARIMA),
    Theta(AutoTheta),
    Croston(Croston),
    Tsb(TSB),
    Adida(ADIDA),
}

impl Model {
    fn new(kind: ModelKind, season: usize) -> Result<Self, ModelError> {
        let seasonal = season > 1;
        Ok(match kind {
            // Without multiplicative trends, as statsforecast's AutoETS searches by default:
            // they rarely help and their intervals need simulation.
            ModelKind::AutoEts => {
                let config = if seasonal { AutoETSConfig::with_period(season) } else { AutoETSConfig::non_seasonal() };
                Model::Ets(AutoETS::with_config(config.with_model_pool(ModelPool::NoMultiplicativeTrend)))
            }
            ModelKind::AutoArima => Model::Arima(if seasonal { AutoARIMA::seasonal(season) } else { AutoARIMA::new() }),
            ModelKind::AutoTheta => Model::Theta(if seasonal { AutoTheta::seasonal(season) } else { AutoTheta::new() }),
            ModelKind::Croston => Model::Croston(Croston::new().sba()),
            ModelKind::Tsb => Model::Tsb(TSB::new()),
            ModelKind::Adida => Model::Adida(ADIDA::new()),
            other => return Err(ModelError::Fit { model: other, reason: "not one of the library's models".into() }),
        })
    }

    fn forecaster(&mut self) -> &mut dyn Forecaster {
        match self {
            Model::Ets(m) => m,
            Model::Arima(m) => m,
            Model::Theta(m) => m,
            Model::Croston(m) => m,
            Model::Tsb(m) => m,
            Model::Adida(m) => m,
        }
    }

    /// What was fitted, as its family names it: `ETS(M,Ad,M)[12]`,
    /// `ARIMA(0,1,1)(0,1,1)[12]`, `Theta OTM[12]`.
    fn describe(&self, season: usize) -> String {
        let suffix = if season > 1 { format!("[{season}]") } else { String::new() };
        match self {
            Model::Ets(m) => m.selected_spec().map_or_else(
                || "ETS".into(),
                |spec| {
                    let seasonal = spec.seasonal != ETSSeasonalType::None;
                    format!("{}{}", spec.short_name(), if seasonal { suffix.as_str() } else { "" })
                },
            ),
            Model::Arima(m) => m.selected_full_order().map_or_else(
                || "ARIMA".into(),
                |o| match o.is_seasonal() {
                    true => format!("ARIMA({},{},{})({},{},{}){suffix}", o.p, o.d, o.q, o.cap_p, o.cap_d, o.cap_q),
                    false => format!("ARIMA({},{},{})", o.p, o.d, o.q),
                },
            ),
            Model::Theta(m) => m.selected_model().map_or_else(|| "Theta".into(), |t| format!("Theta {t}{suffix}")),
            Model::Croston(_) => "Croston (SBA)".into(),
            Model::Tsb(_) => "TSB".into(),
            Model::Adida(_) => "ADIDA".into(),
        }
    }
}

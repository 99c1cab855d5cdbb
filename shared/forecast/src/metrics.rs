//! Forecast accuracy metrics on a holdout, as statsforecast and the M4 competition
//! define them.

use serde::{Deserialize, Serialize};

/// Accuracy of a forecast against what actually happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accuracy {
    pub mae: f64,
    pub rmse: f64,
    /// Symmetric MAPE in percent (0 to 200).
    pub smape: f64,
    /// Mean absolute scaled error: MAE over the in-sample MAE of the seasonal-naive
    /// forecast (naive when there is no season). Below 1 beats that baseline. Absent when
    /// that baseline is perfect in sample (an exactly repeating series): the scale is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mase: Option<f64>,
}

/// Metrics of `forecast` against `actual`, MASE scaled by the seasonal-naive error on
/// `train`. `None` when the inputs are empty or differ in length.
pub fn accuracy(actual: &[f64], forecast: &[f64], train: &[f64], season: usize) -> Option<Accuracy> {
    if actual.is_empty() || actual.len() != forecast.len() {
        return None;
    }
    let n = actual.len() as f64;
    let errors: Vec<f64> = actual.iter().zip(forecast).map(|(a, f)| a - f).collect();
    let mae = errors.iter().map(|e| e.abs()).sum::<f64>() / n;
    let rmse = (errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt();
    let smape = actual
        .iter()
        .zip(forecast)
        .map(|(a, f)| {
            let denominator = a.abs() + f.abs();
            if denominator == 0.0 { 0.0 } else { 200.0 * (a - f).abs() / denominator }
        })
        .sum::<f64>()
        / n;
    let mase = seasonal_naive_mae(train, season.max(1)).map(|scale| mae / scale);
    Some(Accuracy { mae, rmse, smape, mase })
}

/// In-sample MAE of the forecast "same as one season ago".
fn seasonal_naive_mae(train: &[f64], season: usize) -> Option<f64> {
    if train.len() <= season {
        return None;
    }
    let diffs: Vec<f64> = train.windows(season + 1).map(|w| (w[season] - w[0]).abs()).collect();
    let scale = diffs.iter().sum::<f64>() / diffs.len() as f64;
    (scale > 0.0 && scale.is_finite()).then_some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_a_hand_computation() {
        // Errors 1, -2, 0, 3: MAE 1.5, RMSE sqrt(14/4).
        let actual = [10.0, 12.0, 11.0, 13.0];
        let forecast = [9.0, 14.0, 11.0, 10.0];
        // Naive in-sample differences of the training series: 2, 2, 2 -> scale 2.
        let train = [1.0, 3.0, 5.0, 7.0];
        let a = accuracy(&actual, &forecast, &train, 1).unwrap();
        assert!((a.mae - 1.5).abs() < 1e-12);
        assert!((a.rmse - (14.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((a.mase.unwrap() - 0.75).abs() < 1e-12);
        let smape = (200.0 / 19.0 + 400.0 / 26.0 + 0.0 + 600.0 / 23.0) / 4.0;
        assert!((a.smape - smape).abs() < 1e-9);
    }

    #[test]
    fn a_flat_training_series_has_no_mase_but_keeps_its_other_metrics() {
        let flat = accuracy(&[1.0, 3.0], &[2.0, 2.0], &[5.0, 5.0, 5.0], 1).unwrap();
        assert_eq!((flat.mae, flat.rmse, flat.mase), (1.0, 1.0, None));
        let repeating = accuracy(&[1.0], &[1.0], &[1.0, 2.0, 1.0, 2.0], 2).unwrap();
        assert_eq!((repeating.mae, repeating.mase), (0.0, None));
        assert!(accuracy(&[1.0], &[1.0, 2.0], &[1.0, 2.0], 1).is_none());
        assert!(accuracy(&[], &[], &[1.0, 2.0], 1).is_none());
    }
}

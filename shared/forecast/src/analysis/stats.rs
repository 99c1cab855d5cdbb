//! Summary statistics and the linear trend of a series.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Location and spread of a column's observed values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub count: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std_dev: f64,
    pub min: f64,
    pub p25: f64,
    pub median: f64,
    pub p75: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty slice.
    pub fn of(values: &[f64]) -> Option<Self> {
        let sorted = sorted(values);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let mean = mean(values);
        Some(Self {
            count: values.len(),
            mean,
            std_dev: std_dev(values, mean),
            min,
            p25: quantile(&sorted, 0.25),
            median: quantile(&sorted, 0.5),
            p75: quantile(&sorted, 0.75),
            max,
        })
    }
}

pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Sample standard deviation; 0 for fewer than two values.
pub fn std_dev(values: &[f64], mean: f64) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

/// Quantile of sorted values by linear interpolation between order statistics (type 7,
/// the default of R and NumPy).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let (low, high) = (position.floor() as usize, position.ceil() as usize);
            sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
        }
    }
}

/// Which way a series goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Increasing,
    Decreasing,
    /// No slope that stands out from the noise.
    None,
}

/// Least-squares line through the series against its step number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trend {
    pub direction: Direction,
    /// Change per step of the series' frequency.
    pub slope_per_step: f64,
    /// The line's change from the first to the last timestamp.
    pub change_over_span: f64,
    /// Share of the variance the line explains.
    pub r_squared: f64,
    /// The slope over its standard error.
    pub t_statistic: f64,
}

impl Trend {
    /// A direction is reported when the slope is at least twice its standard error and the
    /// line moves by at least a quarter of the series' standard deviation over the span
    /// (seasonal swings inflate t, so both must hold). `None` for fewer than three points.
    pub fn of(values: &[f64]) -> Option<Self> {
        let n = values.len();
        if n < 3 {
            return None;
        }
        let x_mean = (n - 1) as f64 / 2.0;
        let y_mean = mean(values);
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (i, y) in values.iter().enumerate() {
            let dx = i as f64 - x_mean;
            sxx += dx * dx;
            sxy += dx * (y - y_mean);
            syy += (y - y_mean).powi(2);
        }
        let slope = sxy / sxx;
        let residual = (syy - slope * sxy).max(0.0);
        let r_squared = if syy > 0.0 { 1.0 - residual / syy } else { 0.0 };
        let standard_error = (residual / (n - 2) as f64 / sxx).sqrt();
        let t_statistic = if standard_error > 0.0 {
            slope / standard_error
        } else if slope == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(slope)
        };
        let change_over_span = slope * (n - 1) as f64;
        let spread = std_dev(values, y_mean);
        let direction = if t_statistic.abs() < 2.0 || change_over_span.abs() < 0.25 * spread || spread == 0.0 {
            Direction::None
        } else if slope > 0.0 {
            Direction::Increasing
        } else {
            Direction::Decreasing
        };
        Some(Self { direction, slope_per_step: slope, change_over_span, r_squared, t_statistic: finite_or_max(t_statistic) })
    }
}

/// JSON has no infinity: a perfect line's t is reported as the largest finite value.
fn finite_or_max(value: f64) -> f64 {
    if value.is_finite() { value } else { f64::MAX.copysign(value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_hand_computed_values() {
        let s = Summary::of(&[4.0, 1.0, 3.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.count, s.min, s.max, s.median, s.p25, s.p75), (5, 1.0, 10.0, 3.0, 2.0, 4.0));
        assert!((s.mean - 4.0).abs() < 1e-12);
        assert!((s.std_dev - 12.5f64.sqrt()).abs() < 1e-12);
        assert!(Summary::of(&[]).is_none());
        assert_eq!(quantile(&[1.0, 2.0], 0.25), 1.25);
    }

    #[test]
    fn a_clear_slope_is_a_trend_and_noise_is_not() {
        let rising: Vec<f64> = (0..50).map(|i| 10.0 + 0.5 * i as f64 + if i % 2 == 0 { 0.3 } else { -0.3 }).collect();
        let trend = Trend::of(&rising).unwrap();
        assert_eq!(trend.direction, Direction::Increasing);
        assert!((trend.slope_per_step - 0.5).abs() < 0.01, "{trend:?}");
        assert!(trend.r_squared > 0.99);

        let flat: Vec<f64> = (0..50).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        assert_eq!(Trend::of(&flat).unwrap().direction, Direction::None);
        let falling: Vec<f64> = (0..20).map(|i| -(i as f64)).collect();
        let trend = Trend::of(&falling).unwrap();
        assert_eq!(trend.direction, Direction::Decreasing);
        assert!(trend.t_statistic.is_finite());
    }
}

//! Point outliers by three rules: z-score (assumes roughly normal values), Tukey's IQR
//! fences (no distribution assumed), and the modified z-score on the median absolute
//! deviation (Iglewicz and Hoaglin; robust to the outliers themselves).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::stats::{mean, quantile, sorted, std_dev};

/// |z| above this is an outlier.
pub const Z_THRESHOLD: f64 = 3.0;
/// Values beyond this many IQRs outside the quartiles are outliers.
pub const IQR_FACTOR: f64 = 1.5;
/// Modified z-scores above this are outliers.
pub const MAD_THRESHOLD: f64 = 3.5;
/// Points listed per method; `count` still tells how many there are.
pub const MAX_LISTED: usize = 100;

/// One flagged point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outlier {
    pub timestamp: String,
    pub value: f64,
    /// How far out it is, in the method's own units (z, IQRs beyond the fence, modified z).
    pub score: f64,
}

/// What one method found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutlierFinding {
    /// The rule, spelled out (`|z| > 3`).
    pub rule: String,
    pub count: usize,
    /// The most extreme first, at most 100.
    pub points: Vec<Outlier>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Outliers {
    pub zscore: OutlierFinding,
    pub iqr: OutlierFinding,
    pub mad: OutlierFinding,
}

/// Flags outliers among `values`, observed at `timestamps` (same length).
pub fn detect(values: &[f64], timestamps: &[String]) -> Outliers {
    let sorted = sorted(values);
    let m = mean(values);
    let sd = std_dev(values, m);
    let zscore = finding(format!("|z| > {Z_THRESHOLD}"), values, timestamps, |v| {
        let z = if sd > 0.0 { (v - m) / sd } else { 0.0 };
        (z.abs() > Z_THRESHOLD).then_some(z)
    });

    let (q1, q3) = (quantile(&sorted, 0.25), quantile(&sorted, 0.75));
    let iqr = q3 - q1;
    let (low, high) = (q1 - IQR_FACTOR * iqr, q3 + IQR_FACTOR * iqr);
    let iqr_finding = finding(format!("outside [Q1 − {IQR_FACTOR}·IQR, Q3 + {IQR_FACTOR}·IQR]"), values, timestamps, |v| {
        let beyond = if v < low {
            v - low
        } else if v > high {
            v - high
        } else {
            return None;
        };
        Some(if iqr > 0.0 { beyond / iqr } else { beyond })
    });

    let median = quantile(&sorted, 0.5);
    let deviations = super::stats::sorted(&values.iter().map(|v| (v - median).abs()).collect::<Vec<_>>());
    let mad = quantile(&deviations, 0.5);
    // 0.6745 makes the MAD consistent with the standard deviation for normal data.
    let mad_finding = finding(format!("|0.6745·(x − median) / MAD| > {MAD_THRESHOLD}"), values, timestamps, |v| {
        let score = if mad > 0.0 { 0.6745 * (v - median) / mad } else { 0.0 };
        (score.abs() > MAD_THRESHOLD).then_some(score)
    });
    Outliers { zscore, iqr: iqr_finding, mad: mad_finding }
}

fn finding(rule: String, values: &[f64], timestamps: &[String], score: impl Fn(f64) -> Option<f64>) -> OutlierFinding {
    let mut points: Vec<Outlier> = values
        .iter()
        .zip(timestamps)
        .filter_map(|(v, t)| score(*v).map(|score| Outlier { timestamp: t.clone(), value: *v, score }))
        .collect();
    let count = points.len();
    points.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    points.truncate(MAX_LISTED);
    OutlierFinding { rule, count, points }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spike_is_flagged_by_every_method_with_its_timestamp() {
        let mut values: Vec<f64> = (0..60).map(|i| 100.0 + (i % 5) as f64).collect();
        values[17] = 160.0;
        values[40] = 40.0;
        let timestamps: Vec<String> = (0..60).map(|i| format!("t{i}")).collect();
        let found = detect(&values, &timestamps);
        for finding in [&found.zscore, &found.iqr, &found.mad] {
            let flagged: Vec<&str> = finding.points.iter().map(|p| p.timestamp.as_str()).collect();
            assert_eq!(finding.count, 2, "{}: {flagged:?}", finding.rule);
            assert!(flagged.contains(&"t17") && flagged.contains(&"t40"), "{}", finding.rule);
        }
        assert!(found.zscore.points.iter().find(|p| p.timestamp == "t17").unwrap().score > 3.0);
        assert!(found.mad.points.iter().find(|p| p.timestamp == "t40").unwrap().score < -3.5);
    }

    #[test]
    fn a_constant_series_has_no_outliers_and_no_division_by_zero() {
        let values = vec![5.0; 20];
        let timestamps: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let found = detect(&values, &timestamps);
        assert_eq!((found.zscore.count, found.iqr.count, found.mad.count), (0, 0, 0));
    }
}

//! A time series taken from a dataset's CSV: its own time column, one numeric target,
//! put on a regular grid at the inferred frequency, with every irregularity reported and
//! handled the way the request chose.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::frequency::Frequency;

/// What to do about duplicate timestamps, gaps in the grid and missing values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Refuse the series, naming what is wrong.
    #[default]
    Reject,
    /// Carry the last observed value forward (duplicates keep their last value).
    FillForward,
    /// Linear interpolation between the neighbours (duplicates keep their last value).
    Interpolate,
    /// Leave the points out (duplicates keep their first value).
    Drop,
}

/// What was found and done while building the series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SeriesReport {
    pub rows: usize,
    /// Timestamps that appeared more than once (first few).
    pub duplicate_timestamps: Vec<String>,
    pub duplicates: usize,
    /// Grid points with no row at all.
    pub gaps: usize,
    /// Rows whose target cell was empty or not a number.
    pub missing_values: usize,
    /// Points filled in (forward or interpolated).
    pub filled: usize,
    /// Points left out.
    pub dropped: usize,
}

/// A regular series: `values[i]` observed at `frequency.step(start, i)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub start: OffsetDateTime,
    pub frequency: Frequency,
    pub values: Vec<f64>,
    /// The timestamp of each value (with `Drop`, some grid points are absent).
    pub timestamps: Vec<OffsetDateTime>,
}

impl Series {
    pub fn last_timestamp(&self) -> Option<OffsetDateTime> {
        self.timestamps.last().copied()
    }

    /// Whether every point of the grid falls on a midnight (daily, weekly, monthly data
    /// at midnight), so its timestamps print as dates.
    pub fn dates_only(&self) -> bool {
        self.start.time() == time::Time::MIDNIGHT && self.frequency.whole_days()
    }

    /// A timestamp of this series, in the one form the whole series uses.
    pub fn format(&self, t: OffsetDateTime) -> String {
        format_timestamp(t, self.dates_only())
    }
}

/// Why a series could not be built. Each message names the problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("column `{0}` is not in the CSV header")]
    UnknownColumn(String),
    #[error("row {row}: `{value}` in column `{column}` is not a date or timestamp (use ISO 8601, e.g. 2024-01-31 or 2024-01-31T12:00:00Z)")]
    BadTimestamp { row: usize, column: String, value: String },
    #[error("the series has {0} usable points; at least {1} are needed")]
    TooShort(usize, usize),
    #[error("no regular frequency: timestamps are not evenly spaced")]
    NoFrequency,
    #[error("row {row}: timestamp {timestamp} is off the {frequency} grid that starts at {start}")]
    OffGrid { row: usize, timestamp: String, frequency: String, start: String },
    #[error("{count} duplicate timestamps (first: {first}); choose `fill_forward`, `interpolate` or `drop`, or deduplicate the file")]
    Duplicates { count: usize, first: String },
    #[error("{gaps} missing timestamps and {missing} missing values; choose `fill_forward`, `interpolate` or `drop`")]
    Missing { gaps: usize, missing: usize },
    #[error("the grid would need {0} points; at most {1} are allowed")]
    TooLong(usize, usize),
    #[error("CSV row {0} is not readable")]
    Unreadable(usize),
}

/// Smallest series worth forecasting or analysing.
pub const MIN_POINTS: usize = 8;
/// Largest grid built from one dataset (gaps count).
pub const MAX_POINTS: usize = 200_000;

/// Builds the series of `target` over `time_column` from CSV `content`.
pub fn extract(content: &str, time_column: &str, target: &str, policy: MissingPolicy) -> Result<(Series, SeriesReport), SeriesError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(content.as_bytes());
    let headers = reader.headers().map_err(|_| SeriesError::Unreadable(1))?.clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| SeriesError::UnknownColumn(name.to_owned()))
    };
    let (time_index, value_index) = (find(time_column)?, find(target)?);

    let mut report = SeriesReport::default();
    let mut points: Vec<(OffsetDateTime, Option<f64>, usize)> = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let row = index + 2;
        let record = record.map_err(|_| SeriesError::Unreadable(row))?;
        let raw_time = record.get(time_index).unwrap_or("").trim();
        let timestamp = parse_timestamp(raw_time).ok_or_else(|| SeriesError::BadTimestamp {
            row,
            column: time_column.to_owned(),
            value: raw_time.chars().take(40).collect(),
        })?;
        let value = record.get(value_index).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite());
        if value.is_none() {
            report.missing_values += 1;
        }
        points.push((timestamp, value, row));
    }
    report.rows = points.len();
    // One form for every timestamp this reports: dates only when all of them are midnights.
    let dates_only = points.iter().all(|(t, _, _)| t.time() == time::Time::MIDNIGHT);
    // Stable: among equal timestamps, file order is kept.
    points.sort_by_key(|(t, _, _)| *t);

    let mut deduplicated: Vec<(OffsetDateTime, Option<f64>, usize)> = Vec::with_capacity(points.len());
    for point in points {
        match deduplicated.last_mut() {
            Some(last) if last.0 == point.0 => {
                report.duplicates += 1;
                if report.duplicate_timestamps.len() < 5 {
                    report.duplicate_timestamps.push(format_timestamp(point.0, dates_only));
                }
                // Fill and interpolate keep the latest reading; drop keeps the first.
                if policy != MissingPolicy::Drop && point.1.is_some() {
                    last.1 = point.1;
                }
            }
            _ => deduplicated.push(point),
        }
    }
    if report.duplicates > 0 && policy == MissingPolicy::Reject {
        return Err(SeriesError::Duplicates { count: report.duplicates, first: report.duplicate_timestamps[0].clone() });
    }

    let timestamps: Vec<OffsetDateTime> = deduplicated.iter().map(|p| p.0).collect();
    if timestamps.len() < 2 {
        return Err(SeriesError::TooShort(timestamps.len(), MIN_POINTS));
    }
    let frequency = Frequency::infer(&timestamps).ok_or(SeriesError::NoFrequency)?;
    let start = timestamps[0];

    // Place every row on the grid.
    let mut grid: Vec<Option<f64>> = Vec::new();
    for (timestamp, value, row) in &deduplicated {
        let k = frequency.steps_between(start, *timestamp).ok_or_else(|| SeriesError::OffGrid {
            row: *row,
            timestamp: format_timestamp(*timestamp, dates_only),
            frequency: frequency.iso8601(),
            start: format_timestamp(start, dates_only),
        })?;
        let k = usize::try_from(k).map_err(|_| SeriesError::NoFrequency)?;
        if k >= MAX_POINTS {
            return Err(SeriesError::TooLong(k + 1, MAX_POINTS));
        }
        if grid.len() <= k {
            grid.resize(k + 1, None);
            // Grid points between rows that no row filled are gaps, counted below.
        }
        grid[k] = *value;
    }
    let present: std::collections::HashSet<usize> =
        deduplicated.iter().filter_map(|(t, _, _)| frequency.steps_between(start, *t).and_then(|k| usize::try_from(k).ok())).collect();
    report.gaps = grid.len() - present.len();

    let holes = grid.iter().filter(|v| v.is_none()).count();
    if holes > 0 && policy == MissingPolicy::Reject {
        return Err(SeriesError::Missing { gaps: report.gaps, missing: report.missing_values });
    }

    let (values, steps) = fill(&grid, policy, &mut report);
    if values.len() < MIN_POINTS {
        return Err(SeriesError::TooShort(values.len(), MIN_POINTS));
    }
    let timestamps =
        steps.iter().map(|k| frequency.step(start, *k as i64).ok_or(SeriesError::NoFrequency)).collect::<Result<Vec<_>, _>>()?;
    Ok((Series { start, frequency, values, timestamps }, report))
}

/// Resolves the holes of `grid` by `policy`; returns the values and their grid steps.
fn fill(grid: &[Option<f64>], policy: MissingPolicy, report: &mut SeriesReport) -> (Vec<f64>, Vec<usize>) {
    let mut values = Vec::with_capacity(grid.len());
    let mut steps = Vec::with_capacity(grid.len());
    // The next observed point at or after each step, found in one backward pass.
    let mut next_known: Vec<Option<(usize, f64)>> = vec![None; grid.len()];
    let mut upcoming = None;
    for k in (0..grid.len()).rev() {
        if let Some(v) = grid[k] {
            upcoming = Some((k, v));
        }
        next_known[k] = upcoming;
    }
    let mut last: Option<f64> = None;
    for (k, cell) in grid.iter().enumerate() {
        let value = match (cell, policy) {
            (Some(v), _) => Some(*v),
            (None, MissingPolicy::FillForward) => last,
            (None, MissingPolicy::Interpolate) => {
                match (last, next_known[k]) {
                    (Some(previous), Some((at, next))) => {
                        // `last` sits at k-1 (filled in too, when it was a hole), so step by one.
                        Some(previous + (next - previous) / ((at - k) as f64 + 1.0))
                    }
                    (Some(previous), None) => Some(previous),
                    (None, Some((_, next))) => Some(next),
                    (None, None) => None,
                }
            }
            (None, _) => None,
        };
        match value {
            Some(v) => {
                if cell.is_none() {
                    report.filled += 1;
                }
                values.push(v);
                steps.push(k);
                last = Some(v);
            }
            None => report.dropped += 1,
        }
    }
    (values, steps)
}

/// Timestamps in the formats the CSV inspector accepts: RFC 3339, ISO 8601 dates and
/// date-times without a zone (`T` or a space, optional seconds and fractions), the same
/// year-first with slashes (`2024/01/31`), and year-months (`1949-01`, as in monthly
/// datasets). Times without a zone are UTC. Day-first and month-first dates (`01/02/2024`)
/// are refused: which one a file means can't be told from the text.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    use time::macros::format_description;
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    // A year is four digits, never signed: `/2024/01/31` must not read as the year -2024
    // (which has no RFC 3339 form to write a forecast in).
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let text: std::borrow::Cow<'_, str> = if text.contains('/') { text.replace('/', "-").into() } else { text.into() };
    if let Ok(d) = time::Date::parse(&text, format_description!("[year]-[month]-[day]")) {
        return Some(d.midnight().assume_utc());
    }
    if let Ok(t) = time::PrimitiveDateTime::parse(
        &text,
        format_description!("[year]-[month]-[day][first [T][ ]][hour]:[minute][optional [:[second][optional [.[subsecond]]]]]"),
    ) {
        return Some(t.assume_utc());
    }
    if let Ok(d) = time::Date::parse(&format!("{text}-01"), format_description!("[year]-[month]-[day]")) {
        return Some(d.midnight().assume_utc());
    }
    None
}

/// RFC 3339 in UTC, or the date alone for a series whose points are all midnights. The
/// form is the series' choice, not each timestamp's: an hourly series prints its
/// midnights as date-times too.
pub fn format_timestamp(t: OffsetDateTime, dates_only: bool) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    if dates_only && t.time() == time::Time::MIDNIGHT { t.date().to_string() } else { t.format(&Rfc3339).unwrap_or_default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daily(rows: &[(&str, &str)]) -> String {
        let mut csv = String::from("date,sales\n");
        for (d, v) in rows {
            csv.push_str(&format!("{d},{v}\n"));
        }
        csv
    }

    fn ten_days_with_holes() -> String {
        // Jan 4 has no row (a gap), Jan 6 has no value, rows are out of order.
        daily(&[
            ("2024-01-02", "2"),
            ("2024-01-01", "1"),
            ("2024-01-03", "3"),
            ("2024-01-05", "5"),
            ("2024-01-06", ""),
            ("2024-01-07", "7"),
            ("2024-01-08", "8"),
            ("2024-01-09", "9"),
            ("2024-01-10", "10"),
        ])
    }

    #[test]
    fn holes_are_rejected_by_default_with_counts() {
        let error = extract(&ten_days_with_holes(), "date", "sales", MissingPolicy::Reject).unwrap_err();
        assert_eq!(error, SeriesError::Missing { gaps: 1, missing: 1 });
    }

    #[test]
    fn each_policy_handles_the_holes_its_way() {
        let (series, report) = extract(&ten_days_with_holes(), "date", "sales", MissingPolicy::Interpolate).unwrap();
        assert_eq!(series.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!((report.gaps, report.missing_values, report.filled), (1, 1, 2));
        assert_eq!(series.frequency, Frequency::Seconds(86_400));

        let (series, _) = extract(&ten_days_with_holes(), "date", "sales", MissingPolicy::FillForward).unwrap();
        assert_eq!(series.values, [1.0, 2.0, 3.0, 3.0, 5.0, 5.0, 7.0, 8.0, 9.0, 10.0]);

        let (series, report) = extract(&ten_days_with_holes(), "date", "sales", MissingPolicy::Drop).unwrap();
        assert_eq!(series.values, [1.0, 2.0, 3.0, 5.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(report.dropped, 2);
        assert_eq!(series.format(series.timestamps[3]), "2024-01-05");
    }

    #[test]
    fn duplicates_are_named_and_resolved_only_when_asked() {
        let mut rows: Vec<(String, String)> = (1..=9).map(|d| (format!("2024-01-{d:02}"), d.to_string())).collect();
        rows.push(("2024-01-03".into(), "30".into()));
        let csv = daily(&rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect::<Vec<_>>());
        let error = extract(&csv, "date", "sales", MissingPolicy::Reject).unwrap_err();
        assert_eq!(error, SeriesError::Duplicates { count: 1, first: "2024-01-03".into() });
        let (series, report) = extract(&csv, "date", "sales", MissingPolicy::FillForward).unwrap();
        assert_eq!(series.values[2], 30.0);
        assert_eq!(report.duplicates, 1);
        let (series, _) = extract(&csv, "date", "sales", MissingPolicy::Drop).unwrap();
        assert_eq!(series.values[2], 3.0);
    }

    #[test]
    fn bad_input_is_named() {
        let csv = ten_days_with_holes();
        assert_eq!(extract(&csv, "when", "sales", MissingPolicy::Drop).unwrap_err(), SeriesError::UnknownColumn("when".into()));
        let bad = csv.replace("2024-01-07", "last tuesday");
        assert!(matches!(extract(&bad, "date", "sales", MissingPolicy::Drop), Err(SeriesError::BadTimestamp { row: 7, .. })));
        let short = daily(&[("2024-01-01", "1"), ("2024-01-02", "2")]);
        assert_eq!(extract(&short, "date", "sales", MissingPolicy::Drop).unwrap_err(), SeriesError::TooShort(2, MIN_POINTS));
        let off = csv.replace("2024-01-08", "2024-01-08T06:00:00Z");
        assert!(matches!(extract(&off, "date", "sales", MissingPolicy::Drop), Err(SeriesError::OffGrid { row: 8, .. })));
        let all_missing = daily(&(1..=9).map(|_| ("2024-01-01", "")).collect::<Vec<_>>());
        assert!(extract(&all_missing, "date", "sales", MissingPolicy::Drop).is_err());
    }

    #[test]
    fn common_timestamp_forms_are_read_and_ambiguous_ones_refused() {
        use time::macros::datetime;
        let cases = [
            ("2024-01-31", datetime!(2024-01-31 0:00 UTC)),
            ("2024/01/31", datetime!(2024-01-31 0:00 UTC)),
            ("2024-01-31T12:30", datetime!(2024-01-31 12:30 UTC)),
            ("2024-01-31 12:30:15", datetime!(2024-01-31 12:30:15 UTC)),
            ("2024/01/31 12:30:15.250", datetime!(2024-01-31 12:30:15.25 UTC)),
            ("2024-01-31T12:30:00+02:00", datetime!(2024-01-31 10:30 UTC)),
            ("2024-01-31T12:30:00.5Z", datetime!(2024-01-31 12:30:00.5 UTC)),
            ("1949-01", datetime!(1949-01-01 0:00 UTC)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_timestamp(text), Some(expected), "{text}");
        }
        // A sign would make a year before the common era, which no forecast can be written in.
        let signed = ["/2024/01/31", "-2024-01-31", "+2024-01-31", "-1949-01", " 2024-01-31"];
        for refused in ["31/01/2024", "01/31/2024", "2024-13-01", "2024-02-30", "yesterday", "", "20240131"].into_iter().chain(signed) {
            assert_eq!(parse_timestamp(refused), None, "{refused}");
        }
    }

    #[test]
    fn an_hourly_series_prints_its_midnights_as_date_times() {
        let mut csv = String::from("time,load\n");
        let start = time::macros::datetime!(2024-03-14 0:00 UTC);
        for hour in 0..30 {
            csv.push_str(&format!("{},{hour}\n", (start + time::Duration::hours(hour)).format(&Rfc3339).unwrap()));
        }
        let (series, _) = extract(&csv, "time", "load", MissingPolicy::Reject).unwrap();
        assert!(!series.dates_only());
        assert_eq!(series.format(series.timestamps[24]), "2024-03-15T00:00:00Z");
        assert_eq!(series.format(series.timestamps[25]), "2024-03-15T01:00:00Z");
        let daily = extract(&ten_days_with_holes(), "date", "sales", MissingPolicy::Interpolate).unwrap().0;
        assert!(daily.dates_only());
    }

    #[test]
    fn monthly_year_month_stamps_are_understood() {
        let mut csv = String::from("Month,Passengers\n");
        for (i, v) in [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118, 115].iter().enumerate() {
            csv.push_str(&format!("{}-{:02},{v}\n", 1949 + i / 12, i % 12 + 1));
        }
        let (series, _) = extract(&csv, "Month", "Passengers", MissingPolicy::Reject).unwrap();
        assert_eq!(series.frequency, Frequency::Months(1));
        assert_eq!(series.values.len(), 13);
        assert_eq!(series.format(series.timestamps[12]), "1950-01-01");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn any_policy() -> impl Strategy<Value = MissingPolicy> {
        prop_oneof![
            Just(MissingPolicy::Reject),
            Just(MissingPolicy::FillForward),
            Just(MissingPolicy::Interpolate),
            Just(MissingPolicy::Drop)
        ]
    }

    /// CSV-ish text: header-like first line, then rows made of dates, numbers, junk,
    /// quotes, separators and control characters.
    fn csvish() -> impl Strategy<Value = String> {
        let cell = prop_oneof![
            "2024-0[1-9]-[0-2][0-9]",
            "-?[0-9]{1,6}(\\.[0-9]{1,3})?",
            "[=+@-]cmd\\|[a-z ]{0,8}",
            "\"[a-z,\\n]{0,6}\"",
            ".{0,12}",
            Just(String::new()),
        ];
        let row = proptest::collection::vec(cell, 0..5).prop_map(|cells| cells.join(","));
        proptest::collection::vec(row, 0..40).prop_map(|rows| format!("date,value\n{}", rows.join("\n")))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        /// Whatever the content, building a series returns a value or a named error, and
        /// an error that names a row names one the file has.
        #[test]
        fn extraction_never_panics(content in csvish(), policy in any_policy()) {
            match extract(&content, "date", "value", policy) {
                Ok((series, report)) => {
                    prop_assert_eq!(series.values.len(), series.timestamps.len());
                    prop_assert!(series.values.iter().all(|v| v.is_finite()));
                    prop_assert!(report.rows >= series.values.len() - report.filled);
                }
                Err(error) => {
                    let lines = content.lines().count();
                    let row = match &error {
                        SeriesError::BadTimestamp { row, .. } | SeriesError::OffGrid { row, .. } => Some(*row),
                        SeriesError::Unreadable(row) => Some(*row),
                        _ => None,
                    };
                    prop_assert!(row.is_none_or(|row| (1..=lines + 1).contains(&row)), "{error} in {lines} lines");
                    prop_assert!(!error.to_string().is_empty());
                }
            }
        }

        /// A clean daily series comes back whole, in order, under every policy, from 8
        /// points on; a shorter one is refused as too short.
        #[test]
        fn a_clean_series_is_extracted_whole(values in proptest::collection::vec(-1e9f64..1e9, 1..200), policy in any_policy()) {
            let start = time::macros::date!(2024-01-01);
            let rows: Vec<String> = values.iter().enumerate().map(|(k, v)| format!("{},{v}", start + time::Duration::days(k as i64))).collect();
            match extract(&format!("date,value\n{}", rows.join("\n")), "date", "value", policy) {
                Ok((series, report)) => {
                    prop_assert!(values.len() >= 8);
                    prop_assert_eq!(series.frequency, crate::frequency::Frequency::Seconds(86_400));
                    prop_assert_eq!(&series.values, &values);
                    prop_assert_eq!((report.rows, report.filled), (values.len(), 0));
                }
                Err(error) => prop_assert_eq!(error, SeriesError::TooShort(values.len(), 8)),
            }
        }
    }
}

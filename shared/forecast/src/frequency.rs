//! The dataset's own time axis: the sampling frequency inferred from its timestamps, the
//! next timestamps on it, and the seasonal periods worth looking for.

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month, OffsetDateTime};

/// How far apart consecutive observations are meant to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frequency {
    /// A fixed number of seconds (minutes, hours, days, weeks).
    Seconds(i64),
    /// A number of calendar months (monthly, quarterly, yearly), which vary in length.
    Months(u32),
}

const DAY: i64 = 86_400;

impl Frequency {
    /// Infers the frequency of sorted, distinct timestamps from the median spacing; gaps
    /// (missing observations) don't change the median as long as most steps are regular.
    pub fn infer(timestamps: &[OffsetDateTime]) -> Option<Self> {
        let mut steps: Vec<i64> = timestamps.windows(2).map(|w| (w[1] - w[0]).whole_seconds()).filter(|s| *s > 0).collect();
        if steps.is_empty() {
            return None;
        }
        steps.sort_unstable();
        let median = steps[steps.len() / 2];
        let days = median as f64 / DAY as f64;
        // Calendar months vary from 28 to 31 days; quarters from 89 to 92; years 365 or 366.
        let months = match days {
            d if (28.0..=31.0).contains(&d) => Some(1),
            d if (89.0..=92.0).contains(&d) => Some(3),
            d if (181.0..=184.0).contains(&d) => Some(6),
            d if (365.0..=366.0).contains(&d) => Some(12),
            _ => None,
        };
        Some(months.map_or(Frequency::Seconds(median), Frequency::Months))
    }

    /// The timestamp `k` steps after `start`. Month steps keep the day of the month,
    /// clamped to the month's length (Jan 31 + 1 month = Feb 28 or 29).
    pub fn step(self, start: OffsetDateTime, k: i64) -> Option<OffsetDateTime> {
        match self {
            Frequency::Seconds(seconds) => start.checked_add(Duration::seconds(seconds.checked_mul(k)?)),
            Frequency::Months(months) => {
                let total = i64::from(start.month() as u8 - 1) + i64::from(start.year()) * 12 + k.checked_mul(i64::from(months))?;
                let year = i32::try_from(total.div_euclid(12)).ok()?;
                let month = Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
                let day = start.day().min(time::util::days_in_month(month, year));
                let date = Date::from_calendar_date(year, month, day).ok()?;
                Some(start.replace_date(date))
            }
        }
    }

    /// Whole steps from `from` to `to`, if `to` lies on this frequency's grid from `from`.
    pub fn steps_between(self, from: OffsetDateTime, to: OffsetDateTime) -> Option<i64> {
        match self {
            Frequency::Seconds(seconds) => {
                let span = (to - from).whole_seconds();
                (span % seconds == 0).then_some(span / seconds)
            }
            Frequency::Months(months) => {
                let span = (i64::from(to.year()) * 12 + i64::from(to.month() as u8))
                    - (i64::from(from.year()) * 12 + i64::from(from.month() as u8));
                if span % i64::from(months) != 0 {
                    return None;
                }
                let k = span / i64::from(months);
                (self.step(from, k)? == to).then_some(k)
            }
        }
    }

    /// Whether every step is a whole number of days (so a grid starting at midnight stays on
    /// midnights).
    pub fn whole_days(self) -> bool {
        match self {
            Frequency::Months(_) => true,
            Frequency::Seconds(seconds) => seconds % DAY == 0,
        }
    }

    /// Seasonal periods (in steps) that calendars make plausible: a day, a week and a
    /// year of observations, whichever are whole numbers of at least two steps. Weekly data's
    /// year is 52.18 weeks: 52, the nearest whole season (the drift of a day a year is left
    /// to the models' smoothing).
    pub fn candidate_periods(self) -> Vec<usize> {
        let periods: Vec<i64> = match self {
            Frequency::Months(months) => vec![12 / i64::from(months.max(1))],
            Frequency::Seconds(seconds) if seconds == 7 * DAY => vec![52],
            Frequency::Seconds(seconds) if seconds > 0 => {
                [DAY, 7 * DAY, 365 * DAY].iter().filter(|p| *p % seconds == 0).map(|p| p / seconds).collect()
            }
            Frequency::Seconds(_) => Vec::new(),
        };
        periods.into_iter().filter(|p| *p >= 2).filter_map(|p| usize::try_from(p).ok()).collect()
    }

    /// ISO 8601 duration (`P1D`, `PT1H`, `P1M`, `P3M`, `P1Y`, `PT90S`).
    pub fn iso8601(self) -> String {
        match self {
            Frequency::Months(12) => "P1Y".into(),
            Frequency::Months(months) => format!("P{months}M"),
            Frequency::Seconds(seconds) if seconds % (7 * DAY) == 0 => format!("P{}W", seconds / (7 * DAY)),
            Frequency::Seconds(seconds) if seconds % DAY == 0 => format!("P{}D", seconds / DAY),
            Frequency::Seconds(seconds) if seconds % 3600 == 0 => format!("PT{}H", seconds / 3600),
            Frequency::Seconds(seconds) if seconds % 60 == 0 => format!("PT{}M", seconds / 60),
            Frequency::Seconds(seconds) => format!("PT{seconds}S"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn daily_data_with_a_gap_is_still_daily() {
        let days = [1, 2, 3, 5, 6, 7, 8].map(|d| datetime!(2024-01-01 0:00 UTC) + Duration::days(d));
        let frequency = Frequency::infer(&days).unwrap();
        assert_eq!(frequency, Frequency::Seconds(DAY));
        assert_eq!(frequency.iso8601(), "P1D");
        assert_eq!(frequency.candidate_periods(), [7, 365]);
        assert_eq!(frequency.steps_between(days[2], days[3]), Some(2));
    }

    #[test]
    fn month_ends_stay_month_ends_and_quarters_are_found() {
        let monthly = [datetime!(2024-01-31 0:00 UTC), datetime!(2024-02-29 0:00 UTC), datetime!(2024-03-31 0:00 UTC)];
        let frequency = Frequency::infer(&monthly).unwrap();
        assert_eq!(frequency, Frequency::Months(1));
        assert_eq!(frequency.step(monthly[0], 1), Some(datetime!(2024-02-29 0:00 UTC)));
        assert_eq!(frequency.step(monthly[0], 13), Some(datetime!(2025-02-28 0:00 UTC)));
        assert_eq!(frequency.step(datetime!(2024-11-01 0:00 UTC), 3), Some(datetime!(2025-02-01 0:00 UTC)));
        assert_eq!(frequency.candidate_periods(), [12]);

        let quarterly = [datetime!(2023-01-01 0:00 UTC), datetime!(2023-04-01 0:00 UTC), datetime!(2023-07-01 0:00 UTC)];
        assert_eq!(Frequency::infer(&quarterly), Some(Frequency::Months(3)));
        assert_eq!(Frequency::Months(3).candidate_periods(), [4]);
        assert_eq!(Frequency::Months(12).iso8601(), "P1Y");
    }

    #[test]
    fn hourly_periods_are_a_day_and_a_week() {
        assert_eq!(Frequency::Seconds(3600).candidate_periods(), [24, 168, 8760]);
        assert_eq!(Frequency::Seconds(7 * 86_400).candidate_periods(), [52], "weekly data has a yearly season");
        assert_eq!(Frequency::Seconds(1800).candidate_periods(), [48, 336, 17520]);
        assert_eq!(Frequency::Seconds(3600).iso8601(), "PT1H");
        assert_eq!(Frequency::infer(&[datetime!(2024-01-01 0:00 UTC)]), None);
    }
}

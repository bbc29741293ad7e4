//! The date patterns of a job's `period` (sosw's `today`, `yesterday`, `N_days_back`,
//! `last_N_days`, `previous_N_days`, `last_week`, and the `previous_week` sosw's users asked
//! for), resolved against a given "today" (UTC).

use time::{Date, Duration, Month};

/// A `period` that is not one of the patterns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`period` is `{0}`, not a date pattern; use today, yesterday, N_days_back, last_N_days, previous_N_days, last_week or previous_week")]
pub struct BadPeriod(pub String);

/// Today's date in UTC.
pub fn today_utc() -> Date {
    time::OffsetDateTime::now_utc().date()
}

/// Parses `YYYY-MM-DD`.
///
/// ```
/// let d = orkestra::scheduler::dates::parse_date("2024-06-12").unwrap();
/// assert_eq!(orkestra::scheduler::dates::format_date(d), "2024-06-12");
/// assert!(orkestra::scheduler::dates::parse_date("2024-6-12x").is_err());
/// ```
pub fn parse_date(text: &str) -> Result<Date, String> {
    let bad = || format!("`{text}` is not a date in the form YYYY-MM-DD");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The dates (`YYYY-MM-DD`, ascending) of `pattern` when today is `today`.
///
/// ```
/// use orkestra::scheduler::dates::{parse_date, period_dates};
/// let today = parse_date("2019-04-30").unwrap();
/// assert_eq!(period_dates("previous_2_days", today).unwrap(), ["2019-04-26", "2019-04-27"]);
/// assert_eq!(period_dates("last_2_days", today).unwrap(), ["2019-04-28", "2019-04-29"]);
/// ```
pub fn period_dates(pattern: &str, today: Date) -> Result<Vec<String>, BadPeriod> {
    let days = |from_back: i64, count: i64| -> Vec<String> {
        // `count` days, the last one `from_back` days before today.
        (0..count)
            .rev()
            .map(|i| format_date(today - Duration::days(from_back + i)))
            .collect()
    };
    let n = |prefix: &str, suffix: &str| -> Option<i64> {
        let middle = pattern.strip_prefix(prefix)?.strip_suffix(suffix)?;
        let n: i64 = middle.parse().ok()?;
        (middle.bytes().all(|b| b.is_ascii_digit()) && (1..=36_600).contains(&n)).then_some(n)
    };
    let dates = match pattern {
        "today" => days(0, 1),
        "yesterday" => days(1, 1),
        "last_week" => week(today, 1),
        "previous_week" => week(today, 2),
        _ => {
            if let Some(n) = n("", "_days_back") {
                days(n, 1)
            } else if let Some(n) = n("last_", "_days") {
                days(1, n)
            } else if let Some(n) = n("previous_", "_days") {
                days(n + 1, n)
            } else {
                return Err(BadPeriod(pattern.to_string()));
            }
        }
    };
    Ok(dates)
}

/// The Sunday–Saturday week `weeks_back` weeks before the one holding `today`.
fn week(today: Date, weeks_back: i64) -> Vec<String> {
    let sunday = today - Duration::days(today.weekday().number_days_from_sunday() as i64);
    let start = sunday - Duration::weeks(weeks_back);
    (0..7)
        .map(|i| format_date(start + Duration::days(i)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(today: &str, pattern: &str) -> Vec<String> {
        period_dates(pattern, parse_date(today).unwrap()).unwrap()
    }

    #[test]
    fn today_and_yesterday() {
        assert_eq!(on("2024-06-12", "today"), ["2024-06-12"]);
        assert_eq!(on("2024-06-12", "yesterday"), ["2024-06-11"]);
        assert_eq!(on("2024-03-01", "yesterday"), ["2024-02-29"]);
    }

    #[test]
    fn n_days_back_is_one_date() {
        assert_eq!(on("2024-06-12", "1_days_back"), ["2024-06-11"]);
        assert_eq!(on("2024-06-12", "7_days_back"), ["2024-06-05"]);
        assert_eq!(on("2024-01-03", "10_days_back"), ["2023-12-24"]);
    }

    #[test]
    fn last_n_days_end_yesterday() {
        assert_eq!(
            on("2024-06-12", "last_2_days"),
            ["2024-06-10", "2024-06-11"]
        );
        assert_eq!(
            on("2024-01-02", "last_3_days"),
            ["2023-12-30", "2023-12-31", "2024-01-01"]
        );
    }

    #[test]
    fn previous_n_days_precede_the_last_n() {
        // sosw's documented example.
        assert_eq!(
            on("2019-04-30", "previous_2_days"),
            ["2019-04-26", "2019-04-27"]
        );
        assert_eq!(
            on("2024-06-12", "previous_3_days"),
            ["2024-06-06", "2024-06-07", "2024-06-08"]
        );
    }

    #[test]
    fn weeks_run_sunday_to_saturday() {
        // 2024-06-12 is a Wednesday; its week began on Sunday 2024-06-09.
        let last = on("2024-06-12", "last_week");
        assert_eq!(last.first().unwrap(), "2024-06-02");
        assert_eq!(last.last().unwrap(), "2024-06-08");
        assert_eq!(last.len(), 7);
        let previous = on("2024-06-12", "previous_week");
        assert_eq!(previous.first().unwrap(), "2024-05-26");
        assert_eq!(previous.last().unwrap(), "2024-06-01");
        // On a Sunday, last week is the seven days just before it.
        assert_eq!(on("2024-06-09", "last_week")[0], "2024-06-02");
        // On a Saturday, it is still the week before the current one.
        assert_eq!(on("2024-06-15", "last_week")[6], "2024-06-08");
    }

    #[test]
    fn bad_patterns_are_named() {
        let today = parse_date("2024-06-12").unwrap();
        for bad in [
            "tomorrow",
            "last_0_days",
            "last_x_days",
            "-1_days_back",
            "last_+2_days",
        ] {
            let err = period_dates(bad, today).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn dates_parse_strictly() {
        assert!(parse_date("2024-02-30").is_err());
        assert!(parse_date("24-02-01").is_err());
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
    }
}

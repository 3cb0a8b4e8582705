//! Which team summaries a finished bulk sync brings. pulso has no scheduler: the first bulk sync of
//! a new week (Monday to Sunday, in the office's time zone) reports on the week that ended, and the
//! first of a new month on the month that ended.

use chrono::{Datelike, Duration, NaiveDate};

use super::period::DateRange;

const MONTHS: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// Monday to Sunday around `day`.
pub fn week_containing(day: NaiveDate) -> DateRange {
    let monday = day - Duration::days(day.weekday().num_days_from_monday() as i64);
    DateRange::new(monday, monday + Duration::days(6))
}

/// First to last day of `day`'s month.
pub fn month_containing(day: NaiveDate) -> DateRange {
    let first = day.with_day(1).unwrap_or(day);
    let next = (first + Duration::days(32)).with_day(1).unwrap_or(first);
    DateRange::new(first, next - Duration::days(1))
}

/// "octubre de 2026".
pub fn month_label(day: NaiveDate) -> String {
    format!("{} de {}", MONTHS[day.month0() as usize], day.year())
}

/// The summaries due after a bulk sync, with the range each one covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportsDue {
    pub weekly: Option<DateRange>,
    pub monthly: Option<DateRange>,
}

/// `previous_sync`: the local day the previous successful bulk sync ended (None: this is the
/// first); `today`: the local day this one ended.
pub fn reports_due(previous_sync: Option<NaiveDate>, today: NaiveDate) -> ReportsDue {
    let this_week = week_containing(today);
    let this_month = month_containing(today);
    let before = |start: NaiveDate| previous_sync.is_none_or(|p| p < start);
    ReportsDue {
        weekly: before(this_week.from).then(|| this_week.previous()),
        monthly: before(this_month.from).then(|| month_containing(this_month.from - Duration::days(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn weeks_run_monday_to_sunday_and_months_to_their_last_day() {
        assert_eq!(
            week_containing(d(2026, 11, 26)),
            DateRange::new(d(2026, 11, 23), d(2026, 11, 29))
        );
        assert_eq!(
            week_containing(d(2026, 11, 23)),
            DateRange::new(d(2026, 11, 23), d(2026, 11, 29))
        );
        assert_eq!(
            week_containing(d(2026, 11, 29)),
            DateRange::new(d(2026, 11, 23), d(2026, 11, 29))
        );
        assert_eq!(
            month_containing(d(2028, 2, 10)),
            DateRange::new(d(2028, 2, 1), d(2028, 2, 29))
        );
        assert_eq!(
            month_containing(d(2026, 12, 31)),
            DateRange::new(d(2026, 12, 1), d(2026, 12, 31))
        );
        assert_eq!(month_label(d(2026, 10, 3)), "octubre de 2026");
        assert_eq!(month_label(d(2027, 1, 3)), "enero de 2027");
    }

    #[test]
    fn only_the_first_sync_of_a_new_week_or_month_is_due_a_summary() {
        // Thursday 26 Nov after a sync on Monday the 23rd: nothing new.
        let none = ReportsDue {
            weekly: None,
            monthly: None,
        };
        assert_eq!(reports_due(Some(d(2026, 11, 23)), d(2026, 11, 26)), none);
        assert_eq!(reports_due(Some(d(2026, 11, 26)), d(2026, 11, 26)), none);
        // Monday 30 Nov after a sync on Friday: last week, not the month.
        assert_eq!(
            reports_due(Some(d(2026, 11, 27)), d(2026, 11, 30)),
            ReportsDue {
                weekly: Some(DateRange::new(d(2026, 11, 23), d(2026, 11, 29))),
                monthly: None
            }
        );
        // Tuesday 1 Dec after Monday 30 Nov: the month, not the week.
        assert_eq!(
            reports_due(Some(d(2026, 11, 30)), d(2026, 12, 1)),
            ReportsDue {
                weekly: None,
                monthly: Some(DateRange::new(d(2026, 11, 1), d(2026, 11, 30)))
            }
        );
        // The very first sync reports on both, from the history it just fetched.
        assert_eq!(
            reports_due(None, d(2026, 11, 26)),
            ReportsDue {
                weekly: Some(DateRange::new(d(2026, 11, 16), d(2026, 11, 22))),
                monthly: Some(DateRange::new(d(2026, 10, 1), d(2026, 10, 31)))
            }
        );
    }
}

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// The reporting periods users can ask for in chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Period {
    Today,
    Week,
    Month,
    SixMonths,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("periodo desconocido «{given}». Usa: hoy, semana, mes o 6meses")]
pub struct PeriodError {
    pub given: String,
}

impl Period {
    pub const ALL: [Period; 4] = [Self::Today, Self::Week, Self::Month, Self::SixMonths];

    pub fn days(self) -> i64 {
        match self {
            Self::Today => 1,
            Self::Week => 7,
            Self::Month => 30,
            Self::SixMonths => 180,
        }
    }

    /// The word users type.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Today => "hoy",
            Self::Week => "semana",
            Self::Month => "mes",
            Self::SixMonths => "6meses",
        }
    }

    /// Human label for titles ("Últimos 30 días").
    pub fn label(self) -> &'static str {
        match self {
            Self::Today => "Hoy",
            Self::Week => "Última semana",
            Self::Month => "Último mes",
            Self::SixMonths => "Últimos 6 meses",
        }
    }

    pub fn parse(input: &str) -> Result<Self, PeriodError> {
        let key = input.trim().to_lowercase();
        let period = match key.as_str() {
            "hoy" | "1d" | "dia" | "día" => Self::Today,
            "semana" | "7d" => Self::Week,
            "mes" | "30d" => Self::Month,
            "6meses" | "180d" | "6m" => Self::SixMonths,
            _ => {
                return Err(PeriodError {
                    given: input.trim().chars().take(40).collect(),
                });
            }
        };
        Ok(period)
    }

    /// The inclusive range of calendar days ending on `today`.
    pub fn range_ending(self, today: NaiveDate) -> DateRange {
        DateRange {
            from: today - Duration::days(self.days() - 1),
            to: today,
        }
    }
}

/// An inclusive range of calendar days in the office time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        Self { from, to }
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The range of the same length immediately before this one, for Δ% comparisons.
    pub fn previous(&self) -> DateRange {
        let len = self.days();
        DateRange {
            from: self.from - Duration::days(len),
            to: self.from - Duration::days(1),
        }
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    pub fn iter_days(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        let from = self.from;
        (0..self.days().max(0)).map(move |i| from + Duration::days(i))
    }

    /// Splits the range into whole calendar months (first and last month, as "YYYY-MM") and the
    /// partial days before and after them, so sums can read monthly rollups for the middle.
    pub fn split_by_months(&self) -> MonthSplit {
        let first_of = |d: NaiveDate| d.with_day(1).expect("day 1 exists");
        let next_month = |d: NaiveDate| first_of(first_of(d) + Duration::days(32));
        let first_full = if self.from.day() == 1 {
            self.from
        } else {
            next_month(self.from)
        };
        let after_last_full = first_of(self.to + Duration::days(1));
        if first_full >= after_last_full {
            return MonthSplit {
                months: None,
                head: Some(*self),
                tail: None,
            };
        }
        let last_full = first_of(after_last_full - Duration::days(1));
        MonthSplit {
            months: Some((
                first_full.format("%Y-%m").to_string(),
                last_full.format("%Y-%m").to_string(),
            )),
            head: (self.from < first_full).then(|| DateRange::new(self.from, first_full - Duration::days(1))),
            tail: (after_last_full <= self.to).then(|| DateRange::new(after_last_full, self.to)),
        }
    }

    /// "01/11–30/11/2026" style label for chart titles and replies.
    pub fn label(&self) -> String {
        if self.from == self.to {
            self.to.format("%d/%m/%Y").to_string()
        } else {
            format!("{}–{}", self.from.format("%d/%m"), self.to.format("%d/%m/%Y"))
        }
    }
}

/// A range cut into whole months and partial edges (see [`DateRange::split_by_months`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthSplit {
    pub months: Option<(String, String)>,
    pub head: Option<DateRange>,
    pub tail: Option<DateRange>,
}

/// Today's calendar date in the office time zone.
pub fn today_in(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

/// The first instant of `day` in `tz` (the earliest one when midnight repeats; one hour later when
/// a DST jump skips midnight).
pub fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let naive = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_midnight_in_the_office_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        assert_eq!(
            local_midnight(d, chrono_tz::America::Mexico_City).to_rfc3339(),
            "2026-09-01T06:00:00+00:00"
        );
    }

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_keywords_and_aliases() {
        assert_eq!(Period::parse("semana"), Ok(Period::Week));
        assert_eq!(Period::parse(" 7D "), Ok(Period::Week));
        assert_eq!(Period::parse("30d"), Ok(Period::Month));
        assert_eq!(Period::parse("180d"), Ok(Period::SixMonths));
        assert_eq!(Period::parse("6meses"), Ok(Period::SixMonths));
        assert_eq!(Period::parse("HOY"), Ok(Period::Today));
        let err = Period::parse("año").unwrap_err();
        assert!(err.to_string().contains("«año»"));
        assert!(err.to_string().contains("6meses"));
    }

    #[test]
    fn ranges_are_inclusive_and_previous_has_equal_length() {
        let today = d(2026, 11, 26);
        let week = Period::Week.range_ending(today);
        assert_eq!(week, DateRange::new(d(2026, 11, 20), today));
        assert_eq!(week.days(), 7);
        assert_eq!(week.previous(), DateRange::new(d(2026, 11, 13), d(2026, 11, 19)));
        assert_eq!(Period::Today.range_ending(today).days(), 1);
        assert_eq!(Period::SixMonths.range_ending(today).iter_days().count(), 180);
    }

    #[test]
    fn month_split_covers_every_day_exactly_once() {
        let r = DateRange::new(d(2026, 5, 31), d(2026, 11, 26));
        let split = r.split_by_months();
        assert_eq!(split.months, Some(("2026-06".into(), "2026-10".into())));
        assert_eq!(split.head, Some(DateRange::new(d(2026, 5, 31), d(2026, 5, 31))));
        assert_eq!(split.tail, Some(DateRange::new(d(2026, 11, 1), d(2026, 11, 26))));
        let whole = DateRange::new(d(2026, 2, 1), d(2026, 2, 28)).split_by_months();
        assert_eq!(
            (whole.months, whole.head, whole.tail),
            (Some(("2026-02".into(), "2026-02".into())), None, None)
        );
        let inside = DateRange::new(d(2026, 11, 20), d(2026, 11, 26));
        assert_eq!(inside.split_by_months().head, Some(inside));
        assert_eq!(inside.split_by_months().months, None);
        let across_year = DateRange::new(d(2025, 12, 15), d(2026, 1, 31)).split_by_months();
        assert_eq!(across_year.months, Some(("2026-01".into(), "2026-01".into())));
    }

    #[test]
    fn today_follows_the_office_time_zone() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T02:00:00Z").unwrap().to_utc();
        assert_eq!(today_in(chrono_tz::America::Mexico_City, now), d(2026, 11, 26));
        assert_eq!(today_in(chrono_tz::Europe::Madrid, now), d(2026, 11, 27));
    }
}

//! Page insights: the metric table, the ≤90-day windows, and the response parser.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate};
use chrono_tz::America::Los_Angeles;
use serde_json::Value;

use super::error::FetchError;
use super::lenient::count;
use crate::domain::{DailyMetrics, DateRange};

/// Which `DailyMetrics` field a Graph metric fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayField {
    Followers,
    Impressions,
    Reach,
    EngagedUsers,
}

/// Every day metric the client asks for, in one call. One retired name fails the whole request with
/// `(#100) The value must be a valid insights metric`; the client then asks for each metric alone,
/// keeps the ones that answer and remembers the refused one, and the next deprecation is a
/// one-line change here. `page_total_actions` (CTA/contact clicks) is deliberately absent: `DailyMetrics` has no
/// field for it, and requesting an unused metric would only add a way for the call to fail.
pub const METRICS: &[(&str, DayField)] = &[
    ("page_follows", DayField::Followers),
    ("page_media_view", DayField::Impressions),
    ("page_total_media_view_unique", DayField::Reach),
    ("page_post_engagements", DayField::EngagedUsers),
];

/// Longest window per insights call. The API refuses more than 93 days between since and until; the
/// client requests `until = last day + 1`, so 90 days of data keeps a safe margin.
pub const MAX_WINDOW_DAYS: i64 = 90;

/// The comma-separated `metric` parameter.
pub fn metric_param() -> String {
    METRICS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(",")
}

/// Whether `name` is one of the metrics of [`METRICS`].
pub fn is_known_metric(name: &str) -> bool {
    METRICS.iter().any(|(m, _)| *m == name)
}

/// Splits `[since, until]` (inclusive) into consecutive windows of at most 90 days, oldest first.
pub fn windows(range: DateRange) -> Vec<DateRange> {
    let mut out = Vec::new();
    let mut from = range.from;
    while from <= range.to {
        let to = (from + Duration::days(MAX_WINDOW_DAYS - 1)).min(range.to);
        out.push(DateRange::new(from, to));
        from = to + Duration::days(1);
    }
    out
}

/// The `since`/`until` query values for a window. The first value returned measures `since`, and
/// each value's `end_time` is the midnight *after* the day it measures, so `until` is one day past
/// the window's last day.
pub fn window_params(window: DateRange) -> (String, String) {
    let until = window.to + Duration::days(1);
    (
        window.from.format("%Y-%m-%d").to_string(),
        until.format("%Y-%m-%d").to_string(),
    )
}

/// The calendar day a daily value measures: `end_time` is Pacific midnight written in UTC
/// (`T07:00:00+0000` in PDT, `T08:00:00+0000` in PST), closing the day before it.
pub fn measured_day(end_time: &str) -> Option<NaiveDate> {
    let at = parse_graph_time(end_time)?;
    Some(at.with_timezone(&Los_Angeles).date_naive() - Duration::days(1))
}

/// Graph's timestamp format (`2026-09-04T07:00:00+0000`); RFC 3339 is accepted too.
pub fn parse_graph_time(s: &str) -> Option<DateTime<chrono::FixedOffset>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(s).ok())
}

/// Parses one insights response into one row per day of `window` that has at least one value.
/// Unknown metrics, non-day periods, unparseable values and days outside the window are skipped;
/// a body without a `data` array is a `BadResponse`. A metric absent from the answer stays unknown
/// (`None`); post fields are left at zero.
pub fn parse_insights(body: &[u8], window: DateRange) -> Result<Vec<DailyMetrics>, FetchError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("insights: not JSON ({e})")))?;
    parse_insights_value(&doc, window)
}

/// [`parse_insights`] of an already parsed insights object (also the `insights` field of a Page
/// node read with field expansion).
pub fn parse_insights_value(doc: &Value, window: DateRange) -> Result<Vec<DailyMetrics>, FetchError> {
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| FetchError::bad("insights: no data array"))?;
    let mut days: BTreeMap<NaiveDate, DailyMetrics> = BTreeMap::new();
    for entry in data {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some(field) = METRICS.iter().find(|(m, _)| *m == name).map(|(_, f)| *f) else {
            continue;
        };
        if entry.get("period").and_then(Value::as_str).is_some_and(|p| p != "day") {
            continue;
        }
        for value in entry.get("values").and_then(Value::as_array).into_iter().flatten() {
            let Some(day) = value.get("end_time").and_then(Value::as_str).and_then(measured_day) else {
                continue;
            };
            if !window.contains(day) {
                continue;
            }
            let Some(n) = value.get("value").and_then(count) else {
                continue;
            };
            let row = days.entry(day).or_insert_with(|| DailyMetrics {
                date: day,
                ..DailyMetrics::default()
            });
            let n = Some(n.max(0));
            match field {
                DayField::Followers => row.followers = n,
                DayField::Impressions => row.impressions = n,
                DayField::Reach => row.reach = n,
                DayField::EngagedUsers => row.engaged_users = n,
            }
        }
    }
    Ok(days.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn end_time_maps_to_the_pacific_day_before() {
        assert_eq!(measured_day("2026-09-04T07:00:00+0000"), Some(d(2026, 9, 3)));
        assert_eq!(measured_day("2026-03-02T08:00:00+0000"), Some(d(2026, 3, 1)));
        assert_eq!(measured_day("garbage"), None);
    }

    #[test]
    fn windows_cover_the_range_in_90_day_steps() {
        let w = windows(DateRange::new(d(2026, 1, 1), d(2026, 6, 29)));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].days(), 90);
        assert_eq!(w[1].from, w[0].to + Duration::days(1));
        assert_eq!(w[1].to, d(2026, 6, 29));
        assert_eq!(windows(DateRange::new(d(2026, 1, 1), d(2026, 1, 1))).len(), 1);
        assert!(windows(DateRange::new(d(2026, 1, 2), d(2026, 1, 1))).is_empty());
        let (since, until) = window_params(DateRange::new(d(2026, 8, 1), d(2026, 8, 31)));
        assert_eq!((since.as_str(), until.as_str()), ("2026-08-01", "2026-09-01"));
    }

    #[test]
    fn parses_metrics_and_ignores_outside_days_and_bad_values() {
        let body = br#"{"data":[
          {"name":"page_follows","period":"day","values":[
            {"value":64,"end_time":"2026-09-04T07:00:00+0000"},
            {"value":"65","end_time":"2026-09-05T07:00:00+0000"},
            {"value":99,"end_time":"2026-09-09T07:00:00+0000"}]},
          {"name":"page_media_view","period":"day","values":[
            {"value":{"x":1},"end_time":"2026-09-04T07:00:00+0000"},
            {"value":300,"end_time":"2026-09-05T07:00:00+0000"},
            {"value":5}]},
          {"name":"page_media_view","period":"week","values":[{"value":9999,"end_time":"2026-09-05T07:00:00+0000"}]},
          {"name":"something_new","period":"day","values":[{"value":1,"end_time":"2026-09-05T07:00:00+0000"}]}
        ]}"#;
        let days = parse_insights(body, DateRange::new(d(2026, 9, 3), d(2026, 9, 4))).unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(
            (days[0].date, days[0].followers, days[0].impressions),
            (d(2026, 9, 3), Some(64), None),
            "a value that is not a count is unknown, not zero"
        );
        assert_eq!(
            (days[1].date, days[1].followers, days[1].impressions),
            (d(2026, 9, 4), Some(65), Some(300))
        );
    }

    #[test]
    fn missing_data_is_a_bad_response_and_empty_data_is_no_days() {
        let w = DateRange::new(d(2026, 9, 3), d(2026, 9, 4));
        assert!(matches!(parse_insights(b"{}", w), Err(FetchError::BadResponse { .. })));
        assert!(matches!(
            parse_insights(b"<html>", w),
            Err(FetchError::BadResponse { .. })
        ));
        assert!(parse_insights(br#"{"data":[]}"#, w).unwrap().is_empty());
    }

    #[test]
    fn metric_param_lists_the_table() {
        assert_eq!(
            metric_param(),
            "page_follows,page_media_view,page_total_media_view_unique,page_post_engagements"
        );
    }
}

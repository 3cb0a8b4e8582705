//! `/{page-id}/insights`: metric registry with retirement dates, windows and value series.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::America::Los_Angeles;
use serde_json::{Value, json};

use super::Sandbox;
use super::data::{self, DayValues};
use super::reply::{self, Reply};
use super::request::{Request, graph_time, pacific_midnight, parse_instant};

/// A Page metric the sandbox can answer, and until when.
struct MetricDef {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    value: fn(&DayValues) -> i64,
    /// From this Pacific day on the metric answers `(#100) The value must be a valid insights metric`.
    retired_on: Option<(i32, u32, u32)>,
}

const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "page_follows",
        title: "Lifetime Total Follows",
        description: "Lifetime: The number of followers of your Facebook Page or profile. This is calculated as the number of follows minus the number of unfollows over the lifetime of your Facebook Page or profile. ",
        value: |d| d.followers,
        retired_on: None,
    },
    MetricDef {
        name: "page_media_view",
        title: "Daily Media Views",
        description: "Daily: The number of times your content was played or displayed. Content includes videos, posts, stories and ads.",
        value: |d| d.views,
        retired_on: None,
    },
    MetricDef {
        name: "page_total_media_view_unique",
        title: "Daily Total Media Viewers",
        description: "Daily: The number of total unique media viewers for FB page. This metric is estimated.",
        value: |d| d.reach,
        retired_on: None,
    },
    MetricDef {
        name: "page_post_engagements",
        title: "Daily Post Engagements",
        description: "Daily: The number of times people have engaged with your posts through like, comments and shares and more.",
        value: |d| d.post_engagements,
        retired_on: None,
    },
    MetricDef {
        name: "page_total_actions",
        title: "Daily Total Actions",
        description: "Daily: The number of clicks on your Page's contact info and call-to-action button.",
        value: |d| d.total_actions,
        retired_on: None,
    },
    MetricDef {
        name: "page_views_total",
        title: "Daily Total views count per Page",
        description: "Daily: Total views count per Page",
        value: |d| d.page_views,
        retired_on: None,
    },
    MetricDef {
        name: "page_daily_follows_unique",
        title: "Daily New Follows",
        description: "Daily: The number of Meta Accounts that followed your Page in the selected time period. This metric is estimated (Unique Users)",
        value: |d| d.follows,
        retired_on: None,
    },
    MetricDef {
        name: "page_daily_unfollows_unique",
        title: "Daily New Unfollows",
        description: "Daily: The number of Meta Accounts that unfollowed your Page in the selected time period. This metric is estimated. (Unique Users)",
        value: |d| d.unfollows,
        retired_on: None,
    },
    MetricDef {
        name: "page_video_views",
        title: "Daily Total Video Views",
        description: "Daily: Total number of times videos have been viewed for more than 3 seconds. (Total Count)",
        value: |d| d.video_views,
        retired_on: None,
    },
    // Retired metrics answer until their retirement day, so the "today" knob replays each wave.
    MetricDef {
        name: "page_engaged_users",
        title: "Daily Page Engaged Users",
        description: "Daily: The number of people who engaged with your Page.",
        value: |d| d.post_engagements / 2,
        retired_on: Some((2024, 3, 14)),
    },
    MetricDef {
        name: "page_fans",
        title: "Lifetime Total Likes",
        description: "Lifetime: The total number of people who have liked your Page. (Unique Users)",
        value: |d| d.followers,
        retired_on: Some((2025, 11, 15)),
    },
    MetricDef {
        name: "page_impressions",
        title: "Daily Total Impressions",
        description: "Daily: The number of times any content from your Page or about your Page entered a person's screen.",
        value: |d| d.views,
        retired_on: Some((2025, 11, 15)),
    },
    MetricDef {
        name: "page_impressions_unique",
        title: "Daily Total Reach",
        description: "Daily: The number of people who had any content from your Page or about your Page enter their screen. (Unique Users)",
        value: |d| d.reach,
        retired_on: Some((2026, 6, 15)),
    },
];

/// Meta's limit on `until - since`.
const MAX_SPAN_SECS: i64 = 8_035_200;

fn lookup(
    name: &str,
    today: NaiveDate,
    retired_now: &std::collections::BTreeSet<String>,
) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| {
        m.name == name
            && !retired_now.contains(name)
            && m.retired_on
                .and_then(|(y, mo, d)| NaiveDate::from_ymd_opt(y, mo, d))
                .is_none_or(|retired| today < retired)
    })
}

/// Page numbers for one Pacific day (posts are generated per UTC day; close enough for a fake).
pub(crate) fn values_for_day(sb: &Sandbox, n: u64, page_id: &str, day: NaiveDate) -> DayValues {
    let key = data::day_number(day);
    let posts = data::posts_on_day(sb.inner.seed, n, page_id, key, sb.posts_per_day(page_id));
    data::day_values(sb.inner.seed, n, key, &posts)
}

pub(crate) fn answer(sb: &Sandbox, n: u64, page_id: &str, rest: &[&str], req: &Request<'_>) -> Reply {
    let now = sb.now();
    let today = sb.today();
    let realism = sb.realism();
    let metric_text = rest
        .first()
        .map(|m| m.to_string())
        .or_else(|| req.params.get("metric").cloned())
        .unwrap_or_default();
    let names: Vec<&str> = metric_text
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    if names.is_empty() {
        return reply::no_metric();
    }
    let mut metrics = Vec::with_capacity(names.len());
    for name in names {
        // One unknown or retired name fails the whole request, without naming it.
        match lookup(name, today, &realism.retired_metrics) {
            Some(m) => metrics.push(m),
            None => return reply::invalid_metric(),
        }
    }
    let period = rest
        .get(1)
        .copied()
        .or(req.params.get("period").map(String::as_str))
        .unwrap_or("day");
    if period != "day" {
        return reply::bad_parameter(format!(
            "(#100) The period '{period}' is not supported by this sandbox; use period=day"
        ));
    }
    // Without a range: the two most recent days Facebook has published.
    let default_until = pacific_midnight(realism.last_published_day(now) + Duration::days(1));
    let parse = |key: &str| req.params.get(key).map(|v| parse_instant(v).ok_or(v.clone()));
    let until = match parse("until") {
        Some(Err(v)) => return reply::bad_parameter(format!("(#100) Invalid until value: {v}")),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    let since = match parse("since") {
        Some(Err(v)) => return reply::bad_parameter(format!("(#100) Invalid since value: {v}")),
        Some(Ok(t)) => Some(t),
        None => None,
    };
    // Without a range Graph answers the two most recent complete days.
    let until = until.unwrap_or(default_until);
    let since = since.unwrap_or(until - Duration::days(2));
    if (until - since).num_seconds() > MAX_SPAN_SECS {
        return reply::too_many_days();
    }
    let first = since
        .with_timezone(&Los_Angeles)
        .date_naive()
        .max(today - Duration::days(sb.inner.history_days - 1));
    // Only complete days, once Facebook has published them (realistic mode).
    let end = until
        .with_timezone(&Los_Angeles)
        .date_naive()
        .min(realism.last_published_day(now) + Duration::days(1));
    let days: Vec<(NaiveDate, DayValues)> = first
        .iter_days()
        .take_while(|d| *d < end)
        .map(|d| (d, values_for_day(sb, n, page_id, d)))
        .collect();
    let data: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let values: Vec<Value> = days
                .iter()
                .map(|(d, v)| json!({ "value": (m.value)(v), "end_time": graph_time(pacific_midnight(*d + Duration::days(1))) }))
                .collect();
            json!({
                "name": m.name,
                "period": "day",
                "values": values,
                "title": m.title,
                "description": m.description,
                "id": format!("{page_id}/insights/{}/day", m.name),
            })
        })
        .collect();
    let span = until - since;
    let link = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let mut url = req.link(&format!("{page_id}/insights"));
        url.query_pairs_mut()
            .append_pair("access_token", &req.caller.token)
            .append_pair("metric", &metric_text)
            .append_pair("period", "day")
            .append_pair("since", &from.timestamp().to_string())
            .append_pair("until", &to.timestamp().to_string());
        url.to_string()
    };
    Reply::ok(json!({
        "data": data,
        "paging": {
            "previous": link(since - span, since),
            "next": link(until, until + span),
        }
    }))
}

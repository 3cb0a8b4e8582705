//! `GET /{ig-id}/insights` (also inlined by `insights.metric(…)` on the IG user node): account
//! metrics with Instagram's quirks (empty rather than 0, lag, `follower_count` only as a series and
//! never under 100 followers, `impressions` gone, unsupported breakdowns).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::Sandbox;
use super::instagram_account::{Account, IMPRESSIONS_GONE, day_truth, followers_now};
use super::instagram_data::IgDay;
use super::reply::{self, GraphError, Reply};
use super::request::{Request, graph_time, pacific_day, pacific_midnight, parse_instant};

/// An account metric: Graph's title and description, and its value on one day.
struct Metric {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    value: fn(&IgDay) -> i64,
    breakdowns: &'static [&'static str],
}

const MEDIA_PRODUCT: &[&str] = &["media_product_type"];

const METRICS: &[Metric] = &[
    Metric {
        name: "views",
        title: "Views",
        description: "The number of times your content was played or displayed. Content includes reels, posts, stories.",
        value: |d| d.views,
        breakdowns: &["media_product_type", "follower_type"],
    },
    Metric {
        name: "reach",
        title: "Accounts reached",
        description: "The number of unique accounts that have seen your content, at least once, including in ads. Content includes posts, stories, reels, videos and live videos. Reach is different from impressions, which may include multiple views of your content by the same accounts. This metric is estimated.",
        value: |d| d.reach,
        breakdowns: &["media_product_type", "follow_type"],
    },
    Metric {
        name: "accounts_engaged",
        title: "Accounts engaged",
        description: "The number of accounts that have interacted with your content, including in ads. Content includes posts, stories, reels, videos and live videos. Interactions can include actions such as likes, saves, comments, shares or replies. This metric is estimated.",
        value: |d| d.accounts_engaged,
        breakdowns: &[],
    },
    Metric {
        name: "total_interactions",
        title: "Content interactions",
        description: "The total number of post interactions, story interactions, reels interactions, video interactions and live video interactions, including any interactions on boosted content.",
        value: |d| d.total_interactions,
        breakdowns: MEDIA_PRODUCT,
    },
    Metric {
        name: "likes",
        title: "Likes",
        description: "The number of likes on your posts, reels and videos.",
        value: |d| d.likes,
        breakdowns: MEDIA_PRODUCT,
    },
    Metric {
        name: "comments",
        title: "Comments",
        description: "The number of comments on your posts, reels, videos and live videos.",
        value: |d| d.comments,
        breakdowns: MEDIA_PRODUCT,
    },
    Metric {
        name: "shares",
        title: "Shares",
        description: "The number of shares of your posts, stories, reels, videos and live videos.",
        value: |d| d.shares,
        breakdowns: MEDIA_PRODUCT,
    },
    Metric {
        name: "saves",
        title: "Saves",
        description: "The number of saves of your posts, reels and videos.",
        value: |d| d.saves,
        breakdowns: MEDIA_PRODUCT,
    },
    Metric {
        name: "replies",
        title: "Replies",
        description: "The number of replies you received from your story, including text replies and quick reaction replies.",
        value: |d| d.replies,
        breakdowns: &[],
    },
    Metric {
        name: "profile_links_taps",
        title: "Profile links taps",
        description: "The number of taps on your business address, call button, email button and text button.",
        value: |d| d.profile_links_taps,
        breakdowns: &["contact_button_type"],
    },
    Metric {
        name: "follower_count",
        title: "Follower Count",
        description: "Total number of unique accounts following this profile",
        value: |d| d.new_followers,
        breakdowns: &[],
    },
];

/// Metrics that may be asked as a time series; the rest need `metric_type=total_value`.
const TIME_SERIES: &[&str] = &["reach", "follower_count"];

/// `GET /{ig-id}/insights` (also inlined by `insights.metric(…)` on the node).
pub(crate) fn answer(sb: &Sandbox, acct: &Account, req: &Request<'_>) -> Reply {
    let realism = sb.realism();
    let now = sb.now();
    let today = sb.today();
    let names: Vec<&str> = req
        .params
        .get("metric")
        .map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).collect())
        .unwrap_or_default();
    if names.is_empty() {
        return reply::no_metric();
    }
    if names.contains(&"impressions") {
        return GraphError::new(400, 100, IMPRESSIONS_GONE).reply();
    }
    let mut metrics = Vec::with_capacity(names.len());
    for name in &names {
        match METRICS.iter().find(|m| m.name == *name) {
            Some(m) if !realism.instagram_retired(name) => metrics.push(m),
            _ => return reply::invalid_metric(),
        }
    }
    match req.params.get("period").map(String::as_str) {
        Some("day") => {}
        Some(other) => return reply::bad_parameter(format!("(#100) Incompatible period: {other}")),
        None => return reply::bad_parameter("(#100) The parameter period is required"),
    }
    let total = match req.params.get("metric_type").map(String::as_str) {
        Some("total_value") => true,
        None | Some("time_series") => false,
        Some(other) => return reply::bad_parameter(format!("(#100) Invalid metric_type: {other}")),
    };
    if !total {
        let need_total: Vec<&str> = names.iter().copied().filter(|n| !TIME_SERIES.contains(n)).collect();
        if !need_total.is_empty() {
            return reply::bad_parameter(format!(
                "(#100) The following metrics ({}) should be specified with parameter metric_type=total_value",
                need_total.join(", ")
            ));
        }
    }
    let breakdowns: Vec<&str> = req
        .params
        .get("breakdown")
        .map(|b| b.split(',').map(str::trim).filter(|b| !b.is_empty()).collect())
        .unwrap_or_default();
    let supported = breakdowns
        .iter()
        .all(|b| metrics.iter().all(|m| m.breakdowns.contains(b)));
    if !breakdowns.is_empty() && (!total || !supported) {
        return GraphError::new(500, 1, "An unknown error has occurred.").reply();
    }
    let parse = |key: &str| req.params.get(key).map(|v| parse_instant(v).ok_or(v.clone()));
    let until = match parse("until") {
        Some(Err(v)) => return reply::bad_parameter(format!("(#100) Invalid until value: {v}")),
        Some(Ok(t)) => t,
        None => now,
    };
    let since = match parse("since") {
        Some(Err(v)) => return reply::bad_parameter(format!("(#100) Invalid since value: {v}")),
        Some(Ok(t)) => t,
        None => until - Duration::hours(24),
    };
    // The Pacific days whose start lies in [since, until), within the history.
    let oldest = today - Duration::days(sb.inner.history_days - 1);
    let mut days = Vec::new();
    let mut day = pacific_day(since).max(oldest);
    while day <= today && pacific_midnight(day) < until {
        if pacific_midnight(day) >= since {
            days.push(day);
        }
        day += Duration::days(1);
    }
    let ready = |d: &NaiveDate| realism.instagram_ready(pacific_midnight(*d + Duration::days(1)), now);
    let small = followers_now(sb, acct) < 100;
    let mut data = Vec::new();
    if total {
        // A window Instagram has not fully produced yet answers nothing, not zeros.
        if !days.is_empty() && days.iter().all(ready) {
            let values: Vec<IgDay> = days.iter().map(|d| day_truth(sb, acct, *d)).collect();
            for m in metrics.iter().filter(|m| m.name != "follower_count") {
                let value: i64 = values.iter().map(|v| (m.value)(v)).sum();
                let mut total_value = json!({ "value": value });
                if !breakdowns.is_empty() {
                    total_value["breakdowns"] = breakdown_rows(&breakdowns, value);
                }
                let mut entry = header(acct, m);
                entry["total_value"] = total_value;
                data.push(entry);
            }
        }
    } else {
        for m in &metrics {
            let series: Vec<Value> = days
                .iter()
                .filter(|d| ready(d))
                // `follower_count`: last 30 days only, never under 100 followers.
                .filter(|d| m.name != "follower_count" || (!small && **d >= today - Duration::days(30)))
                .map(|d| {
                    let end = pacific_midnight(*d + Duration::days(1));
                    json!({ "value": (m.value)(&day_truth(sb, acct, *d)), "end_time": graph_time(end) })
                })
                .collect();
            if !series.is_empty() {
                let mut entry = header(acct, m);
                entry["values"] = json!(series);
                data.push(entry);
            }
        }
    }
    let span = until - since;
    let link = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let mut url = req.link(&format!("{}/insights", acct.ig_id));
        url.query_pairs_mut()
            .append_pair("access_token", &req.caller.token)
            .append_pair("metric", &names.join(","))
            .append_pair("period", "day")
            .append_pair("metric_type", if total { "total_value" } else { "time_series" })
            .append_pair("since", &from.timestamp().to_string())
            .append_pair("until", &to.timestamp().to_string());
        url.to_string()
    };
    Reply::ok(json!({
        "data": data,
        "paging": { "previous": link(since - span, since), "next": link(until, until + span) },
    }))
}

fn header(acct: &Account, m: &Metric) -> Value {
    json!({
        "name": m.name,
        "period": "day",
        "title": m.title,
        "description": m.description,
        "id": format!("{}/insights/{}/day", acct.ig_id, m.name),
    })
}

/// A supported breakdown: the value split over the dimension's values, zero rows left out.
fn breakdown_rows(breakdowns: &[&str], value: i64) -> Value {
    let rows: Vec<Value> = breakdowns
        .iter()
        .map(|b| {
            let dims: &[(&str, i64)] = match *b {
                "media_product_type" => &[("POST", 45), ("REEL", 35), ("CAROUSEL_CONTAINER", 20)],
                "follow_type" | "follower_type" => &[("FOLLOWER", 60), ("NON_FOLLOWER", 40)],
                _ => &[("CALL", 40), ("TEXT", 30), ("DIRECTION", 20), ("EMAIL", 10)],
            };
            let mut left = value;
            let results: Vec<Value> = dims
                .iter()
                .enumerate()
                .filter_map(|(i, (dim, pct))| {
                    let part = if i + 1 == dims.len() { left } else { value * pct / 100 };
                    left -= part;
                    (part > 0).then(|| json!({ "dimension_values": [dim], "value": part }))
                })
                .collect();
            json!({ "dimension_keys": [b], "results": results })
        })
        .collect();
    json!(rows)
}

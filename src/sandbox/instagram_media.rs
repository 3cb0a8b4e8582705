//! `/{ig-id}/media` (also inlined by `media.limit(L){…}` on the IG user node): fields, lifetime
//! insights that grow with the sandbox clock, cursors and `next` links.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::Sandbox;
use super::data;
use super::fields::{base_name, expansion, split_fields};
use super::instagram_account::{self as ig, Account};
use super::instagram_data::{self as igdata, IgMedia};
use super::reply::{self, GraphError, Reply};
use super::request::{Request, graph_time, pacific_midnight, parse_instant, parse_slot_cursor, slot_cursor};

const FIELDS: &[&str] = &[
    "id",
    "caption",
    "media_type",
    "media_product_type",
    "timestamp",
    "permalink",
    "shortcode",
    "like_count",
    "comments_count",
    "media_url",
    "thumbnail_url",
    "username",
    "is_comment_enabled",
    "insights",
];

/// A lifetime media metric: name, title and value.
type MediaMetric = (&'static str, &'static str, fn(&IgMedia) -> i64);

const METRICS: &[MediaMetric] = &[
    ("views", "Views", |m| m.views),
    ("reach", "Accounts reached", |m| m.reach),
    ("saved", "Saves", |m| m.saved),
    ("shares", "Shares", |m| m.shares),
    ("total_interactions", "Interactions", |m| m.total_interactions()),
    ("likes", "Likes", |m| m.likes),
    ("comments", "Comments", |m| m.comments),
];

fn cursor(m: &IgMedia) -> String {
    slot_cursor("ig", m.day, m.slot)
}

fn parse_cursor(text: &str) -> Option<(i64, u32)> {
    parse_slot_cursor("ig", text)
}

/// Every media item that exists now, newest first, with its lifetime numbers as they stand now.
pub(crate) fn existing(sb: &Sandbox, acct: &Account, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<IgMedia> {
    let realism = sb.realism();
    let now = sb.now();
    let fixed = ig::media_per_day(sb, &acct.ig_id);
    let oldest = pacific_midnight(sb.today() - Duration::days(sb.inner.history_days - 1));
    let from = from.max(oldest);
    let mut out = Vec::new();
    let mut day = data::day_number(to.date_naive());
    while day >= data::day_number(from.date_naive()) {
        for m in igdata::media_on_day(sb.inner.seed, acct.n, day, fixed)
            .into_iter()
            .rev()
        {
            if (realism.post_growth && m.created > now) || m.created < from || m.created >= to {
                continue;
            }
            let share = realism.growth(now - m.created);
            out.push(m.grown(share));
        }
        day -= 1;
    }
    out
}

/// `media_count` now.
pub(crate) fn count(sb: &Sandbox, acct: &Account) -> usize {
    let end = pacific_midnight(sb.today() + Duration::days(1));
    existing(sb, acct, DateTime::<Utc>::MIN_UTC, end).len()
}

pub(crate) fn answer(sb: &Sandbox, acct: &Account, req: &Request<'_>) -> Reply {
    let limit = match req.params.get("limit").map(|l| l.trim().parse::<usize>()) {
        None | Some(Ok(0)) => 25,
        Some(Ok(l)) if l <= 100 => l,
        Some(Ok(_)) => return reply::bad_parameter("(#100) The limit parameter should not exceed 100"),
        Some(Err(_)) => return reply::bad_parameter("(#100) Param limit must be a number"),
    };
    let realism = sb.realism();
    if realism.reduce_data_above.is_some_and(|max| limit > max as usize) {
        return GraphError::new(
            500,
            1,
            "Please reduce the amount of data you're asking for, then retry your request",
        )
        .subcode(99)
        .reply();
    }
    let fields_text = req.params.get("fields").cloned().unwrap_or_else(|| "id".to_string());
    let fields = split_fields(&fields_text);
    let mut metrics: Vec<String> = Vec::new();
    for field in &fields {
        let name = base_name(field);
        if !FIELDS.contains(&name) {
            return reply::nonexisting_field(name, "ShadowIGMedia");
        }
        if name == "insights" {
            let wanted = expansion(field).get("metric").cloned().unwrap_or_default();
            metrics = wanted
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect();
            if metrics.is_empty() {
                return reply::no_metric();
            }
            if metrics.iter().any(|m| m == "impressions") {
                return GraphError::new(400, 100, ig::IMPRESSIONS_GONE).reply();
            }
            let known = |m: &String| METRICS.iter().any(|(n, ..)| n == m) && !realism.instagram_retired(m);
            if !metrics.iter().all(known) {
                return reply::invalid_metric();
            }
        }
    }
    let instant = |key: &str| req.params.get(key).and_then(|v| parse_instant(v));
    let since = instant("since").unwrap_or(DateTime::<Utc>::MIN_UTC);
    let until = instant("until").unwrap_or_else(|| pacific_midnight(sb.today() + Duration::days(1)));
    let after = req.params.get("after").and_then(|c| parse_cursor(c));
    let mut found: Vec<IgMedia> = existing(sb, acct, since, until)
        .into_iter()
        .filter(|m| after.is_none_or(|(d, s)| (m.day, m.slot) < (d, s)))
        .take(limit + 1)
        .collect();
    let more = found.len() > limit;
    found.truncate(limit);
    let data: Vec<Value> = found.iter().map(|m| render(m, acct, &fields, &metrics)).collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        let mut paging = json!({ "cursors": { "before": cursor(first), "after": cursor(last) } });
        if more {
            let mut next = req.link(&format!("{}/media", acct.ig_id));
            {
                let mut q = next.query_pairs_mut();
                q.append_pair("access_token", &req.caller.token)
                    .append_pair("fields", &fields_text)
                    .append_pair("limit", &limit.to_string());
                for key in ["since", "until"] {
                    if let Some(v) = req.params.get(key) {
                        q.append_pair(key, v);
                    }
                }
                q.append_pair("after", &cursor(last));
            }
            paging["next"] = json!(next.to_string());
        }
        body["paging"] = paging;
    }
    Reply::ok(body)
}

fn render(m: &IgMedia, acct: &Account, fields: &[&str], metrics: &[String]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let name = base_name(field);
        let value = match name {
            "id" => json!(m.id),
            "caption" => json!(m.caption),
            "media_type" => json!(m.kind.media_type()),
            "media_product_type" => json!(m.kind.product_type()),
            "timestamp" => json!(graph_time(m.created)),
            "permalink" => json!(m.permalink()),
            "shortcode" => json!(m.shortcode),
            // Hidden likes: Graph leaves the field out.
            "like_count" if m.likes_hidden => continue,
            "like_count" => json!(m.likes),
            "comments_count" => json!(m.comments),
            "media_url" => json!(format!("https://scontent.sandbox.example/ig/{}.jpg", m.id)),
            "thumbnail_url" if m.kind.media_type() != "VIDEO" => continue,
            "thumbnail_url" => json!(format!("https://scontent.sandbox.example/ig/{}_thumb.jpg", m.id)),
            "username" => json!(acct.username),
            "is_comment_enabled" => json!(true),
            "insights" => json!({ "data": metrics.iter().map(|x| metric(m, x)).collect::<Vec<_>>() }),
            _ => continue,
        };
        out.insert(name.to_string(), value);
    }
    out.entry("id").or_insert_with(|| json!(m.id));
    Value::Object(out)
}

fn metric(m: &IgMedia, name: &str) -> Value {
    let (title, value) = METRICS
        .iter()
        .find(|(n, ..)| *n == name)
        .map_or(("", 0), |(_, title, f)| (*title, f(m)));
    json!({
        "name": name,
        "period": "lifetime",
        "values": [ { "value": value } ],
        "title": title,
        "description": format!("Lifetime: {title}"),
        "id": format!("{}/insights/{name}/lifetime", m.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for m in igdata::media_on_day(1, 2, 20_000, Some(2)) {
            assert_eq!(parse_cursor(&cursor(&m)), Some((m.day, m.slot)));
        }
        assert_eq!(parse_cursor("post!"), None);
    }
}

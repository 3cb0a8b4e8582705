//! `/{page-id}/published_posts` (also `/posts`, `/feed`): fields, expansions, cursors.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::Sandbox;
use super::data::{self, GenPost};
use super::fields::{base_name, split_fields};
use super::realism::{PostsPaging, Realism};
use super::reply::{self, GraphError, Reply};
use super::request::{Request, graph_time, pacific_midnight, parse_instant, parse_slot_cursor, slot_cursor};

const TOP_FIELDS: &[&str] = &[
    "id",
    "created_time",
    "message",
    "permalink_url",
    "status_type",
    "shares",
    "reactions",
    "comments",
    "insights",
    "attachments",
    "full_picture",
    "updated_time",
    "is_published",
];

const POST_METRICS: &[&str] = &[
    "post_clicks",
    "post_clicks_by_type",
    "post_media_view",
    "post_total_media_view_unique",
    "post_reactions_by_type_total",
];

/// The metric list of `insights.metric(a,b)`; all post metrics when not given.
fn insight_metrics(field: &str) -> Vec<String> {
    match field.find("metric(") {
        Some(at) => {
            let inner = &field[at + "metric(".len()..];
            let inner = inner.split(')').next().unwrap_or("");
            inner
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        }
        None => POST_METRICS.iter().map(|m| m.to_string()).collect(),
    }
}

fn cursor(post: &GenPost) -> String {
    slot_cursor("post", post.day, post.slot)
}

fn parse_cursor(text: &str) -> Option<(i64, u32)> {
    parse_slot_cursor("post", text)
}

pub(crate) fn answer(sb: &Sandbox, n: u64, page_id: &str, edge: &str, req: &Request<'_>) -> Reply {
    let limit = match req.params.get("limit").map(|l| l.trim().parse::<usize>()) {
        None => 25,
        Some(Ok(0)) => 25,
        Some(Ok(l)) if l <= 100 => l,
        Some(Ok(_)) => return reply::bad_parameter("(#100) The limit parameter should not exceed 100"),
        Some(Err(_)) => return reply::bad_parameter("(#100) Param limit must be a number"),
    };
    let realism = sb.realism();
    let now = sb.now();
    let fixed = sb.posts_per_day(page_id);
    if realism.reduce_data_above.is_some_and(|max| limit > max as usize) {
        return GraphError::new(
            500,
            1,
            "Please reduce the amount of data you're asking for, then retry your request",
        )
        .subcode(99)
        .reply();
    }
    let fields_text = req
        .params
        .get("fields")
        .cloned()
        .unwrap_or_else(|| "id,created_time,message".to_string());
    let fields = split_fields(&fields_text);
    let mut metrics = Vec::new();
    for field in &fields {
        let name = base_name(field);
        if !TOP_FIELDS.contains(&name) {
            return reply::nonexisting_field(name, "Post");
        }
        if name == "insights" {
            metrics = insight_metrics(field);
            if metrics.iter().any(|m| !POST_METRICS.contains(&m.as_str())) {
                return reply::invalid_metric();
            }
        }
    }
    let instant = |key: &str| req.params.get(key).and_then(|v| parse_instant(v));
    let today = sb.today();
    let oldest = pacific_midnight(today - Duration::days(sb.inner.history_days - 1));
    let since = instant("since").map_or(oldest, |s| s.max(oldest));
    let until = instant("until").unwrap_or_else(|| pacific_midnight(today + Duration::days(1)));
    // `after` (cursors) and `__paging_token` (next-only links) carry the same position.
    let after = req
        .params
        .get("after")
        .or(req.params.get("__paging_token"))
        .and_then(|c| parse_cursor(c));

    // Walk days newest first and keep limit + 1 posts to learn whether another page exists.
    let mut found: Vec<GenPost> = Vec::with_capacity(limit + 1);
    let mut day = data::day_number(until.date_naive());
    let first_day = data::day_number(since.date_naive());
    'days: while day >= first_day {
        for post in data::posts_on_day(sb.inner.seed, n, page_id, day, fixed)
            .into_iter()
            .rev()
        {
            // A post exists from its creation on (realistic mode), its lifetime totals still growing.
            if realism.post_growth && post.created > now {
                continue;
            }
            let post = grown(post, &realism, now);
            let in_range = post.created >= since && post.created < until;
            let after_cursor = after.is_none_or(|(d, s)| (post.day, post.slot) < (d, s));
            if in_range && after_cursor {
                found.push(post);
                if found.len() > limit {
                    break 'days;
                }
            }
        }
        day -= 1;
    }
    let more = found.len() > limit;
    found.truncate(limit);
    let data: Vec<Value> = found.iter().map(|p| render(p, page_id, &fields, &metrics)).collect();
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (found.first(), found.last()) {
        let link = Link {
            req,
            page_id,
            edge,
            limit,
            fields: &fields_text,
            since,
            until,
        };
        body["paging"] = match realism.paging {
            PostsPaging::Cursors => {
                let mut paging = json!({ "cursors": { "before": cursor(first), "after": cursor(last) } });
                if more {
                    paging["next"] = json!(link.after(&cursor(last)));
                }
                paging
            }
            // Older `/posts` and `/feed`: `next` moves `until` to the last post and carries a paging
            // token; there are no cursors to rebuild it from.
            PostsPaging::NextOnly if more => json!({ "next": link.paging_token(last) }),
            PostsPaging::NextOnly => json!({}),
        };
    }
    Reply::ok(body)
}

/// A post's lifetime totals as they stand at `now`.
fn grown(mut post: GenPost, realism: &Realism, now: DateTime<Utc>) -> GenPost {
    let share = realism.growth(now - post.created);
    if share >= 1.0 {
        return post;
    }
    let part = |v: i64| (v as f64 * share).floor() as i64;
    post.reactions = part(post.reactions);
    post.comments = part(post.comments);
    post.shares = part(post.shares);
    post.link_clicks = part(post.link_clicks);
    post.other_clicks = part(post.other_clicks);
    post.photo_views = part(post.photo_views);
    post.views = part(post.views);
    post.reach = part(post.reach);
    post
}

/// What a `next` link repeats of the request.
struct Link<'a> {
    req: &'a Request<'a>,
    page_id: &'a str,
    edge: &'a str,
    limit: usize,
    fields: &'a str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl Link<'_> {
    fn base(&self) -> url::Url {
        let mut url = self.req.link(&format!("{}/{}", self.page_id, self.edge));
        url.query_pairs_mut()
            .append_pair("access_token", &self.req.caller.token)
            .append_pair("fields", self.fields)
            .append_pair("limit", &self.limit.to_string())
            .append_pair("since", &self.since.timestamp().to_string());
        url
    }

    fn after(&self, after: &str) -> String {
        let mut url = self.base();
        url.query_pairs_mut()
            .append_pair("until", &self.until.timestamp().to_string())
            .append_pair("after", after);
        url.to_string()
    }

    fn paging_token(&self, last: &GenPost) -> String {
        let mut url = self.base();
        url.query_pairs_mut()
            .append_pair("until", &last.created.timestamp().to_string())
            .append_pair("__paging_token", &cursor(last));
        url.to_string()
    }
}

fn render(post: &GenPost, page_id: &str, fields: &[&str], metrics: &[String]) -> Value {
    let suffix = post.id.split_once('_').map_or(post.id.as_str(), |(_, s)| s);
    let mut out = Map::new();
    for field in fields {
        let name = base_name(field);
        let value = match name {
            "id" => json!(post.id),
            "created_time" | "updated_time" => json!(graph_time(post.created)),
            "message" => json!(post.message),
            "permalink_url" => json!(format!("https://www.facebook.com/{page_id}/posts/{suffix}")),
            "status_type" => json!(if post.link.is_some() {
                "shared_story"
            } else {
                "added_photos"
            }),
            // Graph leaves `shares` out entirely when a post has none.
            "shares" if post.shares == 0 => continue,
            "shares" => json!({ "count": post.shares }),
            "reactions" => {
                json!({ "data": [], "summary": { "total_count": post.reactions, "viewer_reaction": "NONE" } })
            }
            "comments" => {
                json!({ "data": [], "summary": { "order": "ranked", "total_count": post.comments, "can_comment": true } })
            }
            "insights" => json!({ "data": metrics.iter().map(|m| post_metric(post, m)).collect::<Vec<_>>() }),
            "attachments" => attachments(post, page_id, suffix),
            "full_picture" => json!(format!("https://scontent.sandbox.example/v/{suffix}.jpg")),
            "is_published" => json!(true),
            _ => continue,
        };
        out.insert(name.to_string(), value);
    }
    out.entry("id").or_insert_with(|| json!(post.id));
    Value::Object(out)
}

fn post_metric(post: &GenPost, metric: &str) -> Value {
    let value = match metric {
        "post_clicks" => json!(post.link_clicks + post.other_clicks + post.photo_views),
        "post_clicks_by_type" => json!({
            "link clicks": post.link_clicks,
            "other clicks": post.other_clicks,
            "photo view": post.photo_views,
            "video play": 0,
        }),
        "post_media_view" => json!(post.views),
        "post_total_media_view_unique" => json!(post.reach),
        _ => {
            let love = post.reactions / 4;
            let mut by_type = Map::new();
            // Only non-zero reaction types are listed.
            for (kind, count) in [("like", post.reactions - love), ("love", love)] {
                if count > 0 {
                    by_type.insert(kind.to_string(), json!(count));
                }
            }
            Value::Object(by_type)
        }
    };
    json!({
        "name": metric,
        "period": "lifetime",
        "values": [ { "value": value } ],
        "title": metric,
        "description": format!("Lifetime: {metric}"),
        "id": format!("{}/insights/{metric}/lifetime", post.id),
    })
}

fn attachments(post: &GenPost, page_id: &str, suffix: &str) -> Value {
    match &post.link {
        Some(link) => {
            let mut shim = url::Url::parse("https://l.facebook.com/l.php").expect("static URL");
            shim.query_pairs_mut()
                .append_pair("u", link)
                .append_pair("h", "AT0sandbox");
            json!({ "data": [ {
                "type": "share",
                "title": "Enlace",
                "unshimmed_url": link,
                "url": shim.to_string(),
                "target": { "url": shim.to_string() },
            } ] })
        }
        None => json!({ "data": [ {
            "type": "photo",
            "url": format!("https://www.facebook.com/photo.php?fbid={suffix}&set=a.{page_id}"),
            "target": { "id": suffix, "url": format!("https://www.facebook.com/photo.php?fbid={suffix}") },
        } ] }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_top_level() {
        let f = split_fields(crate::facebook::POST_FIELDS);
        assert_eq!(f.len(), 9, "{f:?}");
        assert_eq!(base_name(f[6]), "comments");
        assert_eq!(insight_metrics(f[7]), vec!["post_clicks_by_type".to_string()]);
        assert_eq!(base_name(f[8]), "attachments");
    }

    #[test]
    fn cursors_round_trip() {
        let posts = data::posts_on_day(1, 1, "1", 20_000, None);
        if let Some(p) = posts.first() {
            assert_eq!(parse_cursor(&cursor(p)), Some((p.day, p.slot)));
        }
        assert_eq!(parse_cursor("garbage!"), None);
    }
}

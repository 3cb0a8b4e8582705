//! Published posts: request fields, the page parser, WhatsApp detection and the per-day merge.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::error::FetchError;
use super::insights::parse_graph_time;
use super::lenient::{List, Num, Obj, Str};
use crate::domain::{DailyMetrics, DateRange, InstagramAccount, Post};

/// Fields asked for on `/{page-id}/published_posts`. Link targets come from `attachments`
/// (`unshimmed_url` is the real destination; `url` is usually wrapped in `l.facebook.com`).
pub const POST_FIELDS: &str = "id,created_time,message,permalink_url,shares,\
reactions.summary(total_count).limit(0),comments.summary(true).limit(0),\
insights.metric(post_clicks_by_type),attachments{unshimmed_url,url}";

/// Maximum page size the API allows on post edges.
pub const PAGE_SIZE: u32 = 100;

/// Characters of the message kept as the excerpt; the full text is never stored.
pub const EXCERPT_CHARS: usize = 80;

/// One page of `/published_posts`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PostsPage {
    pub posts: Vec<Post>,
    /// The `after` cursor, only when `paging.next` says there is more.
    pub after: Option<String>,
    /// `paging.next` as given: the link to the next page (with cursors or a paging token).
    pub next: Option<String>,
}

/// The parts of a posts page the client reads; everything else is skipped unbuilt.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPage {
    data: List<Obj<RawPost>>,
    paging: Obj<RawPaging>,
}

/// A Page node read with field expansion: `insights` kept as JSON for the insights parser,
/// `published_posts` read like a posts page, the linked Instagram account if any.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawNode {
    id: Str,
    insights: Option<serde_json::Value>,
    published_posts: Obj<RawPage>,
    instagram_business_account: Obj<RawInstagramAccount>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawInstagramAccount {
    id: Str,
    username: Str,
    followers_count: Num,
}

/// What one Page node call brought back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PageNode {
    /// The `insights` object, if asked for and present.
    pub insights: Option<serde_json::Value>,
    /// The first page of posts (empty when Graph left the field out, as it does for no posts).
    pub posts: PostsPage,
    /// `instagram_business_account{id,username,followers_count}`; `None` when the Page has no
    /// linked professional account (Graph leaves the field out).
    pub instagram: Option<InstagramAccount>,
}

/// A Page node read with field expansion.
pub fn parse_page_node(body: &[u8]) -> Result<PageNode, FetchError> {
    let node: RawNode =
        serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("page node: not JSON ({e})")))?;
    if node.id.0.is_none() {
        return Err(FetchError::bad("page node: no id"));
    }
    let posts = match node.published_posts.0 {
        Some(page) => build_page(page)?,
        None => PostsPage::default(),
    };
    let instagram = node.instagram_business_account.0.and_then(|a| {
        let id = a.id.0.filter(|id| !id.trim().is_empty())?;
        Some(InstagramAccount {
            id,
            username: a
                .username
                .0
                .map(|u| crate::domain::outside_line(&u))
                .filter(|u| !u.is_empty()),
            followers: a.followers_count.0.filter(|f| *f >= 0),
        })
    });
    Ok(PageNode {
        insights: node.insights,
        posts,
        instagram,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPaging {
    next: Str,
    cursors: Obj<RawCursors>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCursors {
    after: Str,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPost {
    id: Str,
    created_time: Str,
    message: Str,
    permalink_url: Str,
    shares: Obj<RawCount>,
    reactions: Obj<RawSummarized>,
    comments: Obj<RawSummarized>,
    insights: Obj<RawList<RawMetric>>,
    attachments: Obj<RawList<RawAttachment>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCount {
    count: Num,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSummarized {
    summary: Obj<RawTotal>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawTotal {
    total_count: Num,
}

#[derive(Deserialize)]
#[serde(default)]
struct RawList<T> {
    data: List<Obj<T>>,
}

impl<T> Default for RawList<T> {
    fn default() -> Self {
        RawList { data: List::default() }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMetric {
    name: Str,
    values: List<Obj<RawMetricValue>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMetricValue {
    value: Obj<RawClicksByType>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawClicksByType {
    #[serde(rename = "link clicks")]
    link_clicks: Num,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAttachment {
    unshimmed_url: Str,
    url: Str,
    target: Obj<RawTarget>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawTarget {
    url: Str,
}

/// Parses one page of posts. Posts without an id or a parseable `created_time` are skipped; missing
/// or mistyped counters are zero (Graph omits `shares` when there are none).
pub fn parse_posts_page(body: &[u8]) -> Result<PostsPage, FetchError> {
    let page: RawPage =
        serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("posts: not a posts page ({e})")))?;
    build_page(page)
}

fn build_page(page: RawPage) -> Result<PostsPage, FetchError> {
    let data = page.data.0.ok_or_else(|| FetchError::bad("posts: no data array"))?;
    let posts = data.into_iter().filter_map(|p| p.0).filter_map(build_post).collect();
    let paging = page.paging.0.unwrap_or_default();
    let next = paging.next.0.filter(|n| !n.is_empty());
    let after = paging
        .cursors
        .0
        .and_then(|c| c.after.0)
        .filter(|a| next.is_some() && !a.is_empty());
    Ok(PostsPage { posts, after, next })
}

fn build_post(raw: RawPost) -> Option<Post> {
    let post_id = raw.id.0?;
    let created_at = parse_graph_time(raw.created_time.0.as_deref()?)?.with_timezone(&Utc);
    let message = raw.message.0.unwrap_or_default();
    let summary_total = |s: Obj<RawSummarized>| s.0.and_then(|s| s.summary.0).and_then(|t| t.total_count.0);
    let link_clicks = raw
        .insights
        .0
        .into_iter()
        .flat_map(|i| i.data.0.unwrap_or_default())
        .filter_map(|m| m.0)
        .filter(|m| m.name.0.as_deref() == Some("post_clicks_by_type"))
        .filter_map(|m| m.values.0?.into_iter().next()?.0?.value.0?.link_clicks.0)
        .next()
        .unwrap_or(0);
    let links_to_whatsapp = raw
        .attachments
        .0
        .into_iter()
        .flat_map(|a| a.data.0.unwrap_or_default())
        .filter_map(|a| a.0)
        .any(|a| {
            let target = a.target.0.and_then(|t| t.url.0);
            [a.unshimmed_url.0, a.url.0, target]
                .iter()
                .flatten()
                .any(|l| is_whatsapp_link(l))
        })
        || message_links_whatsapp(&message);
    Some(Post {
        post_id,
        created_at,
        excerpt: excerpt(&message),
        permalink: raw.permalink_url.0,
        reactions: summary_total(raw.reactions).unwrap_or(0).max(0),
        comments: summary_total(raw.comments).unwrap_or(0).max(0),
        shares: raw.shares.0.and_then(|s| s.count.0).unwrap_or(0).max(0),
        link_clicks: link_clicks.max(0),
        links_to_whatsapp,
    })
}

/// First characters of the message on one line.
pub fn excerpt(message: &str) -> String {
    let flat = crate::domain::outside_line(message);
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let cut: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
}

/// `wa.me` or `api.whatsapp.com`, also behind Facebook's `l.facebook.com/l.php?u=` shim.
pub fn is_whatsapp_link(link: &str) -> bool {
    // Cheap test first: URL parsing is the costliest part of reading a page of posts.
    if !mentions_whatsapp(link) {
        return false;
    }
    let Ok(url) = url::Url::parse(link.trim()) else {
        return false;
    };
    match url.host_str().map(str::to_ascii_lowercase).as_deref() {
        Some("wa.me" | "www.wa.me" | "api.whatsapp.com") => true,
        Some("l.facebook.com" | "lm.facebook.com") => url
            .query_pairs()
            .find(|(k, _)| k == "u")
            .is_some_and(|(_, target)| !target.contains("l.facebook.com") && is_whatsapp_link(&target)),
        _ => false,
    }
}

/// Whether the text contains `wa.me` or `whatsapp` in any case (also inside percent-encoded URLs).
fn mentions_whatsapp(text: &str) -> bool {
    let bytes = text.as_bytes();
    [&b"wa.me"[..], &b"whatsapp"[..]]
        .iter()
        .any(|needle| bytes.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle)))
}

fn message_links_whatsapp(message: &str) -> bool {
    if !mentions_whatsapp(message) {
        return false;
    }
    message.split_whitespace().any(|word| {
        let w = word.trim_matches(|c: char| matches!(c, '(' | ')' | ',' | '.' | '!' | '¡' | '"' | '\''));
        let lower = w.to_ascii_lowercase();
        let with_scheme = if lower.starts_with("http") {
            lower
        } else {
            format!("https://{lower}")
        };
        (with_scheme.contains("wa.me/") || with_scheme.contains("api.whatsapp.com/")) && is_whatsapp_link(&with_scheme)
    })
}

/// Adds each post to the row of its own creation day in `tz`, whether or not Facebook has published
/// that day's Page insights: every day of `range` gets a row (its Page metrics unknown unless the
/// insights gave them), so posts, reactions, comments, shares, link and WhatsApp clicks of the
/// newest days count at once. Posts outside `range` are not counted (they stay in the post list).
/// Returns the rows by date, with engagement rates recomputed.
pub fn merge_posts_into_days(
    insights: Vec<DailyMetrics>,
    posts: &[Post],
    tz: Tz,
    range: DateRange,
) -> Vec<DailyMetrics> {
    let mut days: BTreeMap<NaiveDate, DailyMetrics> = range
        .iter_days()
        .map(|date| {
            (
                date,
                DailyMetrics {
                    date,
                    ..DailyMetrics::default()
                },
            )
        })
        .collect();
    for row in insights {
        days.insert(row.date, row);
    }
    for post in posts {
        let day = post.created_at.with_timezone(&tz).date_naive();
        if !range.contains(day) {
            continue;
        }
        let row = days.entry(day).or_insert_with(|| DailyMetrics {
            date: day,
            ..DailyMetrics::default()
        });
        row.posts += 1;
        row.reactions += post.reactions;
        row.comments += post.comments;
        row.shares += post.shares;
        row.link_clicks += post.link_clicks;
        if post.links_to_whatsapp {
            row.whatsapp_clicks += post.link_clicks;
        }
    }
    days.into_values().map(DailyMetrics::with_engagement_rate).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_post_with_missing_shares_and_clicks() {
        let body = br#"{"data":[{
            "id":"1_2","created_time":"2026-09-01T16:24:04+0000","message":"Casa en venta",
            "permalink_url":"https://www.facebook.com/1/posts/2",
            "reactions":{"data":[],"summary":{"total_count":12,"viewer_reaction":"NONE"}},
            "comments":{"data":[],"summary":{"order":"ranked","total_count":3,"can_comment":true}},
            "insights":{"data":[{"name":"post_clicks_by_type","period":"lifetime","values":[{"value":{"link clicks":4,"other clicks":9}}]}]},
            "attachments":{"data":[{"url":"https://l.facebook.com/l.php?u=https%3A%2F%2Fwa.me%2F5215512345678&h=x"}]}
          },{"id":"1_3"},{"created_time":"2026-09-01T16:24:04+0000"}],
          "paging":{"cursors":{"before":"b","after":"a"}}}"#;
        let page = parse_posts_page(body).unwrap();
        assert_eq!(page.posts.len(), 1);
        assert_eq!(page.after, None, "no next → no more pages");
        let p = &page.posts[0];
        assert_eq!((p.reactions, p.comments, p.shares, p.link_clicks), (12, 3, 0, 4));
        assert!(p.links_to_whatsapp);
        assert_eq!(p.excerpt, "Casa en venta");
    }

    #[test]
    fn detects_whatsapp_links() {
        assert!(is_whatsapp_link("https://wa.me/5215512345678"));
        assert!(is_whatsapp_link("https://api.whatsapp.com/send?phone=52155"));
        assert!(!is_whatsapp_link("https://example.com/wa.me"));
        assert!(!is_whatsapp_link("not a url"));
        assert!(message_links_whatsapp("Escríbeme: wa.me/5215512345678 ¡gracias!"));
        assert!(!message_links_whatsapp("sin enlaces"));
    }

    #[test]
    fn excerpt_is_bounded_and_single_line() {
        let long = "ñ".repeat(200);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert_eq!(excerpt("a\n\nb   c"), "a b c");
    }
}

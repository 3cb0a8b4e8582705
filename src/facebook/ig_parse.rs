//! Instagram answers: account insights (`total_value`), the `follower_count` series and media
//! pages, read leniently. Absent means unknown: nothing here turns a missing value into 0.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde_json::Value;

use super::error::FetchError;
use super::insights::{measured_day, parse_graph_time};
use super::lenient::count;
use super::posts::excerpt;
use crate::domain::{InstagramDaily, InstagramMedia, MediaKind};

/// Sets the account metric `name` on `row`; false for a name pulso does not store.
pub fn set_account_metric(row: &mut InstagramDaily, name: &str, value: i64) -> bool {
    let slot = match name {
        "views" => &mut row.views,
        "reach" => &mut row.reach,
        "accounts_engaged" => &mut row.accounts_engaged,
        "total_interactions" => &mut row.total_interactions,
        "likes" => &mut row.likes,
        "comments" => &mut row.comments,
        "shares" => &mut row.shares,
        "saves" => &mut row.saves,
        "profile_links_taps" => &mut row.profile_links_taps,
        _ => return false,
    };
    *slot = Some(value.max(0));
    true
}

/// IG-1: one office day's `total_value` account insights. A metric Instagram left out (not yet
/// produced, up to 48 h late) stays `None`; `{"data":[]}` is a row with every metric unknown.
pub fn parse_account_day(body: &[u8], day: NaiveDate) -> Result<InstagramDaily, FetchError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("instagram insights: not JSON ({e})")))?;
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| FetchError::bad("instagram insights: no data array"))?;
    let mut row = InstagramDaily::new(day);
    for entry in data {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = entry.get("total_value").and_then(|t| t.get("value")).and_then(count);
        if let Some(v) = value {
            set_account_metric(&mut row, name, v);
        }
    }
    Ok(row)
}

/// A page of media: the items and `paging.next` as given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPage {
    pub media: Vec<InstagramMedia>,
    pub next: Option<String>,
}

/// What IG-2 (the IG user node) brought back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IgNode {
    /// New followers per (Pacific) day; empty under 100 followers.
    pub new_followers: BTreeMap<NaiveDate, i64>,
    pub media: MediaPage,
}

/// IG-2: `{"id":…,"insights":{"data":[follower_count…]},"media":{"data":[…],"paging":{…}}}`.
/// `media` is absent when the account has none.
pub fn parse_ig_node(body: &[u8]) -> Result<IgNode, FetchError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("instagram node: not JSON ({e})")))?;
    if doc.get("id").is_none() {
        return Err(FetchError::bad("instagram node: no id"));
    }
    let mut node = IgNode::default();
    let series = doc
        .get("insights")
        .and_then(|i| i.get("data"))
        .and_then(Value::as_array);
    for entry in series.into_iter().flatten() {
        if entry.get("name").and_then(Value::as_str) != Some("follower_count") {
            continue;
        }
        for v in entry.get("values").and_then(Value::as_array).into_iter().flatten() {
            let day = v.get("end_time").and_then(Value::as_str).and_then(measured_day);
            if let (Some(day), Some(n)) = (day, v.get("value").and_then(count)) {
                node.new_followers.insert(day, n.max(0));
            }
        }
    }
    if let Some(media) = doc.get("media") {
        node.media = media_page_value(media)?;
    }
    Ok(node)
}

/// One standalone page of `/{ig-id}/media` (a `paging.next` link).
pub fn parse_media_page(body: &[u8]) -> Result<MediaPage, FetchError> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("instagram media: not JSON ({e})")))?;
    media_page_value(&doc)
}

fn media_page_value(doc: &Value) -> Result<MediaPage, FetchError> {
    let data = doc
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| FetchError::bad("instagram media: no data array"))?;
    let next = doc
        .get("paging")
        .and_then(|p| p.get("next"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    Ok(MediaPage {
        media: data.iter().filter_map(media_item).collect(),
        next,
    })
}

/// One media item; skipped without an id or a readable timestamp. Counters Instagram left out
/// (hidden likes, a metric not produced) stay `None`.
fn media_item(v: &Value) -> Option<InstagramMedia> {
    let media_id = v.get("id").and_then(Value::as_str)?.to_string();
    let created_at = parse_graph_time(v.get("timestamp").and_then(Value::as_str)?)?.with_timezone(&Utc);
    let media_type = v.get("media_type").and_then(Value::as_str).unwrap_or("IMAGE");
    let kind = MediaKind::from_graph(media_type, v.get("media_product_type").and_then(Value::as_str));
    let num = |key: &str| v.get(key).and_then(count).map(|n| n.max(0));
    let mut item = InstagramMedia {
        media_id,
        created_at,
        kind,
        excerpt: excerpt(v.get("caption").and_then(Value::as_str).unwrap_or("")),
        permalink: v.get("permalink").and_then(Value::as_str).map(str::to_string),
        likes: num("like_count"),
        comments: num("comments_count"),
        views: None,
        reach: None,
        saves: None,
        shares: None,
        total_interactions: None,
    };
    let insights = v.get("insights").and_then(|i| i.get("data")).and_then(Value::as_array);
    for m in insights.into_iter().flatten() {
        let Some(name) = m.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = m
            .get("values")
            .and_then(Value::as_array)
            .and_then(|vs| vs.first())
            .and_then(|x| x.get("value"))
            .or_else(|| m.get("total_value").and_then(|t| t.get("value")))
            .and_then(count)
            .map(|n| n.max(0));
        match name {
            "views" => item.views = value,
            "reach" => item.reach = value,
            "saved" => item.saves = value,
            "shares" => item.shares = value,
            "total_interactions" => item.total_interactions = value,
            _ => {}
        }
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn absent_account_metrics_stay_unknown() {
        let body =
            br#"{"data":[{"name":"reach","period":"day","total_value":{"value":224},"id":"1/insights/reach/day"},
            {"name":"views","total_value":{"value":"340"}}]}"#;
        let row = parse_account_day(body, d(20)).unwrap();
        assert_eq!((row.reach, row.views, row.likes), (Some(224), Some(340), None));
        let empty = parse_account_day(br#"{"data":[]}"#, d(20)).unwrap();
        assert!(!empty.has_account_metrics());
        assert!(parse_account_day(br#"{"x":1}"#, d(20)).is_err());
    }

    #[test]
    fn node_series_belongs_to_the_day_before_end_time_and_media_keep_unknowns() {
        let body = br#"{"id":"17841400000000001",
          "insights":{"data":[{"name":"follower_count","period":"day","values":[
             {"value":3,"end_time":"2026-11-20T08:00:00+0000"},{"value":0,"end_time":"2026-11-21T08:00:00+0000"}]}]},
          "media":{"data":[{"id":"18","caption":"Casa\nen venta","media_type":"VIDEO","media_product_type":"REELS",
             "timestamp":"2026-11-20T15:04:05+0000","permalink":"https://www.instagram.com/p/x/","comments_count":3,
             "insights":{"data":[{"name":"views","period":"lifetime","values":[{"value":340}]},
                                  {"name":"saved","values":[{"value":2}]}]}},
             {"id":"19"}],
           "paging":{"cursors":{"after":"a"},"next":"http://h/v25.0/1784/media?after=a"}}}"#;
        let node = parse_ig_node(body).unwrap();
        assert_eq!(node.new_followers.get(&d(19)), Some(&3));
        assert_eq!(node.new_followers.get(&d(20)), Some(&0));
        assert_eq!(node.media.media.len(), 1);
        let m = &node.media.media[0];
        assert_eq!(m.kind, MediaKind::Reel);
        assert_eq!(m.excerpt, "Casa en venta");
        assert_eq!(
            (m.likes, m.comments, m.views, m.saves, m.reach),
            (None, Some(3), Some(340), Some(2), None)
        );
        assert!(node.media.next.is_some());
        let small = parse_ig_node(br#"{"id":"1","insights":{"data":[]}}"#).unwrap();
        assert!(small.new_followers.is_empty() && small.media.media.is_empty());
    }
}

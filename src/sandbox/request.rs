//! What every endpoint handler knows about a request, and the time formats Graph uses. Kept below
//! the handlers (`graph.rs` dispatches to them; they import only this), so no module pair imports
//! each other.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::America::Los_Angeles;

use super::state::TokenKind;

/// Query parameters, last value wins (as Graph does).
pub(crate) type Params = HashMap<String, String>;

/// Who is calling, once the token has been checked.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub token: String,
    pub kind: TokenKind,
}

/// Everything the endpoint handlers need about the request.
pub(crate) struct Request<'a> {
    pub version: &'a str,
    pub params: &'a Params,
    pub caller: Caller,
    /// `scheme://host` the request came to, so `paging.next` links lead back to this sandbox the
    /// way Graph's lead back to graph.facebook.com.
    pub origin: &'a str,
}

impl Request<'_> {
    /// `{origin}/{version}/{path}`, the start of a paging link.
    pub fn link(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("{}/{}/{path}", self.origin, self.version))
            .or_else(|_| url::Url::parse(&format!("https://graph.facebook.com/{}/{path}", self.version)))
            .expect("static URL")
    }
}

/// Pacific midnight at the start of `day`, as an instant.
pub(crate) fn pacific_midnight(day: NaiveDate) -> DateTime<Utc> {
    crate::domain::period::local_midnight(day, Los_Angeles)
}

/// An opaque paging cursor for the item generated in `slot` of day `day` (a [`super::data::day_number`]),
/// `kind` telling Facebook posts from Instagram media apart.
pub(crate) fn slot_cursor(kind: &str, day: i64, slot: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{day}:{slot}"))
}

/// The day and slot of a [`slot_cursor`] of this `kind`; None for anything else.
pub(crate) fn parse_slot_cursor(kind: &str, text: &str) -> Option<(i64, u32)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.strip_prefix(kind)?.strip_prefix(':')?.split(':');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The Pacific day an instant falls on (Meta's days are Pacific).
pub(crate) fn pacific_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Los_Angeles).date_naive()
}

/// `since`/`until` as Graph reads them: unix seconds or a date (Pacific midnight).
pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(pacific_midnight(day));
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

//! Which Instagram account a request is about (seeded per Page, unlinkable), its numbers, and the
//! Instagram error bodies and usage header shared by the node, insights and media handlers.

use chrono::NaiveDate;
use serde_json::json;

use super::Sandbox;
use super::data;
use super::fault::Fault;
use super::instagram_data::{self as igdata, IgDay};
use super::reply::{GraphError, Reply};

/// A linked professional account, resolved from the sandbox's state.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub ig_id: String,
    pub n: u64,
    pub page_id: String,
    pub username: String,
}

/// The account linked to a Page, if it has one (Pages deleted or unlinked have none).
pub(crate) fn by_page(sb: &Sandbox, page_id: &str) -> Option<Account> {
    let state = sb.state();
    let record = state.page(page_id)?;
    let linked = record.page.state != super::PageState::Gone
        && igdata::has_account(record.n)
        && !state.instagram_unlinked.contains(page_id);
    linked.then(|| Account {
        ig_id: igdata::account_id(record.n),
        n: record.n,
        page_id: page_id.to_string(),
        username: igdata::username(sb.inner.seed, record.n, &record.page.agent_name),
    })
}

pub(crate) fn by_id(sb: &Sandbox, ig_id: &str) -> Option<Account> {
    let n = igdata::page_number(ig_id)?;
    let page_id = {
        let state = sb.state();
        let record = state.pages.iter().find(|r| r.n == n)?;
        record.page.page_id.clone()
    };
    by_page(sb, &page_id)
}

/// Whether a path segment is addressed to the Instagram part of the sandbox.
pub(crate) fn is_instagram_id(id: &str) -> bool {
    igdata::page_number(id).is_some()
}

/// The account's `followers_count` now.
pub(crate) fn followers_now(sb: &Sandbox, acct: &Account) -> i64 {
    igdata::followers_on(sb.inner.seed, acct.n, data::day_number(sb.today()))
}

/// One Pacific day of account numbers (final values: account insights do not grow).
pub(crate) fn day_truth(sb: &Sandbox, acct: &Account, day: NaiveDate) -> IgDay {
    let key = data::day_number(day);
    let media = igdata::media_on_day(sb.inner.seed, acct.n, key, media_per_day(sb, &acct.ig_id));
    igdata::day_values(sb.inner.seed, acct.n, key, &media)
}

pub(crate) fn media_per_day(sb: &Sandbox, ig_id: &str) -> Option<u32> {
    sb.state().instagram_media_per_day.get(ig_id).copied()
}

pub(crate) fn permission_denied() -> Reply {
    GraphError::new(400, 10, "(#10) Application does not have permission for this action").reply()
}

pub(crate) fn rate_limited(ig_id: &str, pct: u32, regain_minutes: u64) -> Reply {
    GraphError::new(400, 80002, "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.")
        .transient(true)
        .reply()
        .header("x-business-use-case-usage", &usage(ig_id, pct, regain_minutes))
}

/// `X-Business-Use-Case-Usage` of an Instagram account (BUC type `instagram`).
pub(crate) fn usage(ig_id: &str, pct: u32, regain_minutes: u64) -> String {
    json!({ ig_id: [{
        "type": "instagram",
        "call_count": pct,
        "total_cputime": pct / 5,
        "total_time": pct / 5,
        "estimated_time_to_regain_access": regain_minutes,
    }]})
    .to_string()
}

/// The Instagram reading of a fault set on an account id; `None` for faults answered as on Pages.
pub(crate) fn fault_reply(fault: &Fault, ig_id: &str) -> Option<Reply> {
    match fault {
        Fault::PermissionDenied => Some(permission_denied()),
        Fault::RateLimited => Some(rate_limited(ig_id, 100, 10)),
        Fault::PageLimited { regain_minutes, .. } => Some(rate_limited(ig_id, 100, *regain_minutes)),
        _ => None,
    }
}

/// Retired on every version: asking for it fails the whole request with its own message.
pub(crate) const IMPRESSIONS_GONE: &str = "Starting from version 22 and above, the impressions metric is no longer supported for the queried user. Please refer to the documentation at https://developers.facebook.com/docs/instagram-api/reference/ig-user/insights for a list of supported metrics.";

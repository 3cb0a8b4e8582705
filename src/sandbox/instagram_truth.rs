//! The Instagram side of the sandbox as tests read and steer it: the accounts, what the API would
//! answer now for a day or for the media, and the Instagram knobs.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::Sandbox;
use super::fault::Fault;
use super::instagram_account::{self as ig, Account};
use super::instagram_media;
use super::request::pacific_midnight;

/// A seeded Instagram professional account, linked to a Page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeededInstagram {
    pub ig_id: String,
    pub page_id: String,
    pub username: String,
    /// `followers_count` now (what the Page call's discovery field reports).
    pub followers_count: i64,
}

/// What `/{ig-id}/insights` reports now for one Pacific day (`metric_type=total_value`, one day),
/// with the `follower_count` series value of that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstagramDayTruth {
    pub date: NaiveDate,
    /// `followers_count` at the end of that day.
    pub followers: i64,
    /// `follower_count` for that day: `None` under 100 followers or older than 30 days.
    pub new_followers: Option<i64>,
    pub views: i64,
    pub reach: i64,
    pub accounts_engaged: i64,
    pub total_interactions: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
    pub saves: i64,
    pub profile_links_taps: i64,
}

/// One media item as `/{ig-id}/media` reports it now (lifetime numbers grow with the clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstagramMediaTruth {
    pub id: String,
    pub timestamp: DateTime<Utc>,
    /// IMAGE, VIDEO or CAROUSEL_ALBUM.
    pub media_type: String,
    /// FEED or REELS.
    pub media_product_type: String,
    pub caption: String,
    pub permalink: String,
    /// `None` when the owner hid the like count (the field is absent).
    pub like_count: Option<i64>,
    pub comments_count: i64,
    pub views: i64,
    pub reach: i64,
    pub saved: i64,
    pub shares: i64,
    pub total_interactions: i64,
}

impl Sandbox {
    fn seeded_instagram(&self, acct: &Account) -> SeededInstagram {
        SeededInstagram {
            ig_id: acct.ig_id.clone(),
            page_id: acct.page_id.clone(),
            username: acct.username.clone(),
            followers_count: ig::followers_now(self, acct),
        }
    }

    /// Every linked Instagram account, in Page order (Pages without one are skipped).
    pub fn instagram_accounts(&self) -> Vec<SeededInstagram> {
        let pages: Vec<String> = self.state().pages.iter().map(|p| p.page.page_id.clone()).collect();
        pages
            .iter()
            .filter_map(|p| ig::by_page(self, p))
            .map(|a| self.seeded_instagram(&a))
            .collect()
    }

    /// The account linked to a Page, as the Page node's `instagram_business_account` reports it.
    pub fn instagram_account_for_page(&self, page_id: &str) -> Option<SeededInstagram> {
        ig::by_page(self, page_id).map(|a| self.seeded_instagram(&a))
    }

    /// What Instagram reports now for one Pacific day of the account; `None` when the account is
    /// unknown or the day is not produced yet (its end + `instagram_lag_hours` is after now).
    pub fn instagram_day(&self, ig_id: &str, date: NaiveDate) -> Option<InstagramDayTruth> {
        let acct = ig::by_id(self, ig_id)?;
        let today = self.today();
        let realism = self.realism();
        let in_history = date <= today && date > today - Duration::days(self.inner.history_days);
        if !in_history || !realism.instagram_ready(pacific_midnight(date + Duration::days(1)), self.now()) {
            return None;
        }
        let v = ig::day_truth(self, &acct, date);
        let series = ig::followers_now(self, &acct) >= 100 && date >= today - Duration::days(30);
        Some(InstagramDayTruth {
            date,
            followers: v.followers,
            new_followers: series.then_some(v.new_followers),
            views: v.views,
            reach: v.reach,
            accounts_engaged: v.accounts_engaged,
            total_interactions: v.total_interactions,
            likes: v.likes,
            comments: v.comments,
            shares: v.shares,
            saves: v.saves,
            profile_links_taps: v.profile_links_taps,
        })
    }

    /// Every media item of the account that exists now, newest first, as reported now.
    pub fn instagram_media(&self, ig_id: &str) -> Vec<InstagramMediaTruth> {
        let Some(acct) = ig::by_id(self, ig_id) else {
            return Vec::new();
        };
        let end = pacific_midnight(self.today() + Duration::days(1));
        instagram_media::existing(self, &acct, DateTime::<Utc>::MIN_UTC, end)
            .into_iter()
            .map(|m| InstagramMediaTruth {
                total_interactions: m.total_interactions(),
                permalink: m.permalink(),
                id: m.id,
                timestamp: m.created,
                media_type: m.kind.media_type().to_string(),
                media_product_type: m.kind.product_type().to_string(),
                caption: m.caption,
                like_count: (!m.likes_hidden).then_some(m.likes),
                comments_count: m.comments,
                views: m.views,
                reach: m.reach,
                saved: m.saved,
                shares: m.shares,
            })
            .collect()
    }

    /// Links (the seeded account comes back) or unlinks a Page's Instagram account.
    pub fn set_instagram_linked(&self, page_id: &str, linked: bool) {
        let mut state = self.state();
        if linked {
            state.instagram_unlinked.remove(page_id);
        } else {
            state.instagram_unlinked.insert(page_id.to_string());
        }
    }

    /// Makes an account publish exactly `per_day` media (at most 2) every day; `None`: its habit.
    pub fn set_instagram_media_per_day(&self, ig_id: &str, per_day: Option<u32>) {
        let mut state = self.state();
        match per_day {
            Some(n) => state.instagram_media_per_day.insert(ig_id.to_string(), n),
            None => state.instagram_media_per_day.remove(ig_id),
        };
    }

    /// Sets (or clears) a fault on the Instagram calls of an account, given its id or its Page's
    /// id. `permission_denied` answers "(#10) Application does not have permission for this
    /// action", `rate_limited` / `page_limited:M/N` answer (#80002) with BUC type `instagram` and
    /// `estimated_time_to_regain_access` M; the token faults answer 190 as on Pages.
    /// Returns the account id the fault was set on.
    pub fn set_instagram_fault(&self, page_or_ig_id: &str, fault: Fault) -> Option<String> {
        let ig_id = match ig::by_page(self, page_or_ig_id) {
            Some(acct) => acct.ig_id,
            None => ig::by_id(self, page_or_ig_id)?.ig_id,
        };
        self.set_fault(&ig_id, fault);
        Some(ig_id)
    }

    /// Retires (or restores) an Instagram metric, account or media (`views`, `saved`, …): every
    /// Instagram request naming it fails whole with (#100). Same as `retire_metric("instagram:{m}")`,
    /// so Facebook metrics of the same name are untouched.
    pub fn retire_instagram_metric(&self, metric: &str, retired: bool) {
        let name = metric.strip_prefix("instagram:").unwrap_or(metric);
        self.retire_metric(&format!("instagram:{name}"), retired);
    }
}

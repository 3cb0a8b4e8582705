//! How closely the sandbox imitates the real Graph API's inconvenient habits
//! (`reference/graph-api.md` §10). The default is the real API's behaviour; [`Realism::instant`]
//! answers everything at once and completely, as the first sandbox did.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The Pacific day of an instant (Meta cuts its days in Pacific time).
fn pacific_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::America::Los_Angeles).date_naive()
}

/// How posts pages link to the next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostsPaging {
    /// `paging.cursors.{before,after}` plus a `next` link carrying `after`.
    #[default]
    Cursors,
    /// Only a `next` link with `until` + `__paging_token`, no `cursors` (older `/posts`, `/feed`).
    NextOnly,
}

/// The sandbox's imitation of the real API's timing, growth, paging and refusals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Realism {
    /// Page insights exist only for complete Pacific days, published this many hours after the day
    /// ends; `None` answers every day up to today at once.
    pub insights_lag_hours: Option<u32>,
    /// Lifetime post metrics (reactions, comments, shares, clicks) grow with the post's age, and a
    /// post is invisible before its creation time.
    pub post_growth: bool,
    pub paging: PostsPaging,
    /// Posts requests with a `limit` above this fail with code 1 / subcode 99 ("reduce the amount
    /// of data"); `None` accepts up to 100.
    pub reduce_data_above: Option<u32>,
    /// Metrics Meta has retired now: every request naming one fails whole with (#100).
    pub retired_metrics: BTreeSet<String>,
    /// Instagram account insights for a Pacific day exist only from the day's end plus this many
    /// hours (Meta: "up to 48 h"); 0 = as soon as the day ends.
    pub instagram_lag_hours: u32,
}

impl Default for Realism {
    fn default() -> Self {
        Realism {
            insights_lag_hours: Some(8),
            post_growth: true,
            paging: PostsPaging::Cursors,
            reduce_data_above: None,
            retired_metrics: BTreeSet::new(),
            instagram_lag_hours: 30,
        }
    }
}

impl Realism {
    /// Everything at once: today's insights, final post totals, no refusals.
    pub fn instant() -> Self {
        Realism {
            insights_lag_hours: None,
            post_growth: false,
            instagram_lag_hours: 0,
            ..Realism::default()
        }
    }

    /// `real` (the default), `instant`, or a JSON object of the fields to set.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "" | "real" => Ok(Realism::default()),
            "instant" => Ok(Realism::instant()),
            json => serde_json::from_str(json).map_err(|e| format!("realism: «{json}» no es válido ({e})")),
        }
    }

    /// The last Pacific day whose Page insights are published at `now`.
    pub fn last_published_day(&self, now: DateTime<Utc>) -> NaiveDate {
        match self.insights_lag_hours {
            None => pacific_day(now),
            // Day D is published at Pacific midnight ending D, plus the lag.
            Some(lag) => pacific_day(now - Duration::hours(i64::from(lag))) - Duration::days(1),
        }
    }

    /// Whether Instagram has produced a window ending at `end` by `now` (`instagram_lag_hours`).
    pub fn instagram_ready(&self, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        end + Duration::hours(i64::from(self.instagram_lag_hours)) <= now
    }

    /// Whether `metric` of Instagram was retired with the knob (`instagram:{metric}`).
    pub fn instagram_retired(&self, metric: &str) -> bool {
        self.retired_metrics.contains(&format!("instagram:{metric}"))
    }

    /// Share (0–1] of a post's final lifetime totals reached `age` after publishing: about 30 % at
    /// once, 65 % after 3 days, 93 % after 10, all of it after about a month. Never decreases.
    pub fn growth(&self, age: Duration) -> f64 {
        if !self.post_growth {
            return 1.0;
        }
        let hours = age.num_minutes().max(0) as f64 / 60.0;
        1.0 - 0.7 * 0.5f64.powf(hours / 72.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insights_wait_for_the_day_to_end_plus_the_lag() {
        let r = Realism::default();
        // 2026-09-15 10:00 UTC is 03:00 PDT: Sep 14 ended 3 h ago, not yet published (lag 8 h).
        let early: DateTime<Utc> = "2026-09-15T10:00:00Z".parse().unwrap();
        assert_eq!(
            r.last_published_day(early),
            NaiveDate::from_ymd_opt(2026, 9, 13).unwrap()
        );
        let later: DateTime<Utc> = "2026-09-15T16:00:00Z".parse().unwrap();
        assert_eq!(
            r.last_published_day(later),
            NaiveDate::from_ymd_opt(2026, 9, 14).unwrap()
        );
        assert_eq!(
            Realism::instant().last_published_day(later),
            NaiveDate::from_ymd_opt(2026, 9, 15).unwrap()
        );
    }

    #[test]
    fn growth_is_monotone_and_reaches_the_total() {
        let r = Realism::default();
        let g: Vec<f64> = [0, 24, 72, 240, 720, 2000]
            .iter()
            .map(|h| r.growth(Duration::hours(*h)))
            .collect();
        assert!(g.windows(2).all(|w| w[0] < w[1]), "{g:?}");
        assert!((g[0] - 0.3).abs() < 1e-9 && g[5] > 0.999);
        assert_eq!(Realism::instant().growth(Duration::zero()), 1.0);
    }
}

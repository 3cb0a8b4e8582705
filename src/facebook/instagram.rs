//! One agent's Instagram read, with the Page token, through the same gate and tally as the Page
//! calls. IG-1: one office day of `total_value` account insights per call. IG-2: the IG user node
//! with the `follower_count` series and the media (lifetime insights), `paging.next` followed as
//! given while media are newer than the window start. A retired metric is isolated by asking each
//! metric alone once; (#80002) and permission errors come back typed so the sync can keep the
//! Facebook half of the agent.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{Duration as Days, NaiveDate};
use chrono_tz::Tz;
use secrecy::SecretString;

use super::error::{FetchError, GraphErrorBody};
use super::ig_parse::{self, IgNode, MediaPage};
use super::{CallFailure, CallGate, GraphClient, Tally, local_midnight};
use crate::domain::instagram::{ACCOUNT_METRICS, MEDIA_METRICS, MEDIA_REFUSED_PREFIX, REFUSED_PREFIX};
use crate::domain::{InstagramDaily, InstagramMedia};

/// Largest media page asked for; halved on "reduce the amount of data".
pub const MEDIA_PAGE_SIZE: u32 = 100;

/// Fields of each media item; the lifetime insights are appended.
const MEDIA_FIELDS: &str = "id,caption,media_type,media_product_type,timestamp,permalink,like_count,comments_count";

/// What to read for one agent's Instagram account.
#[derive(Debug, Clone, PartialEq)]
pub struct InstagramPlan {
    pub account_id: String,
    /// Office days whose account insights (IG-1) are read, one call each.
    pub account_days: Vec<NaiveDate>,
    /// First office day of the `follower_count` series (Instagram keeps 30 days).
    pub series_from: NaiveDate,
    /// First office day of the media window (their lifetime numbers are re-read).
    pub media_from: NaiveDate,
    pub today: NaiveDate,
    pub tz: Tz,
    /// Instagram metric names refused before (without the prefix), not asked again.
    pub skip_metrics: Vec<String>,
}

/// One agent's Instagram data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstagramFetch {
    /// One row per office day touched, by date: account insights on the days of IG-1 (unknown
    /// where Instagram has not produced them), `new_followers` where the series has a value, and
    /// `media` (0 included) on every day of the media window.
    pub days: Vec<InstagramDaily>,
    /// Media created in the media window, newest first, with their lifetime numbers.
    pub media: Vec<InstagramMedia>,
    pub calls: u32,
    pub max_usage_pct: u32,
    /// Metrics Instagram refused during this fetch, as `instagram:{metric}` (the rest was kept).
    pub refused_metrics: Vec<String>,
}

/// How an Instagram read failed. The calls made still count (`calls`).
#[derive(Debug, thiserror::Error)]
pub enum InstagramError {
    /// (#80002): this account's own limit; `resume_after` from `estimated_time_to_regain_access`.
    #[error("Instagram account rate limit (#80002)")]
    RateLimited { resume_after: Option<Duration>, calls: u32 },
    /// (#10) / (#200): the token lacks `instagram_manage_insights` (or the app its access).
    #[error("Instagram permission missing: {message}")]
    Permission { message: String, calls: u32 },
    #[error("{error}")]
    Fetch { error: FetchError, calls: u32 },
}

impl InstagramError {
    pub fn calls(&self) -> u32 {
        match self {
            InstagramError::RateLimited { calls, .. }
            | InstagramError::Permission { calls, .. }
            | InstagramError::Fetch { calls, .. } => *calls,
        }
    }

    fn from_fetch(error: FetchError, calls: u32) -> Self {
        match error {
            FetchError::RateLimited {
                code: 80002,
                resume_after,
                ..
            } => InstagramError::RateLimited { resume_after, calls },
            FetchError::Permission { message, .. } => InstagramError::Permission { message, calls },
            error => InstagramError::Fetch { error, calls },
        }
    }
}

/// (#100) naming a metric Instagram does not (or no longer) support.
fn is_refused_metric(g: &GraphErrorBody) -> bool {
    g.code == Some(100) && (g.message.contains("valid insights metric") || g.message.contains("no longer supported"))
}

fn is_reduce_data(g: &GraphErrorBody) -> bool {
    g.code == Some(1) && g.error_subcode == Some(99)
}

impl GraphClient {
    /// Reads one agent's Instagram account: IG-1 for each of `plan.account_days`, then IG-2 and
    /// further media pages. Every request goes through `gate` like the Page calls.
    pub async fn fetch_instagram(
        &self,
        token: &SecretString,
        plan: &InstagramPlan,
        gate: &(impl CallGate + ?Sized),
    ) -> Result<InstagramFetch, InstagramError> {
        let skip = |m: &str| plan.skip_metrics.iter().any(|s| s == m);
        let mut run = IgRun {
            client: self,
            token,
            gate,
            ig_id: &plan.account_id,
            tally: Tally::default(),
            account_metrics: ACCOUNT_METRICS.iter().map(|(m, _)| *m).filter(|m| !skip(m)).collect(),
            media_metrics: MEDIA_METRICS
                .iter()
                .map(|(m, _)| *m)
                .filter(|m| !skip(&format!("{MEDIA_REFUSED_PREFIX}{m}")))
                .collect(),
            refused: BTreeSet::new(),
            limit: MEDIA_PAGE_SIZE,
        };
        match run.read(plan).await {
            Ok((days, media)) => Ok(InstagramFetch {
                days,
                media,
                calls: run.tally.calls,
                max_usage_pct: run.tally.max_usage_pct,
                refused_metrics: run.refused.iter().map(|m| format!("{REFUSED_PREFIX}{m}")).collect(),
            }),
            Err(e) => Err(InstagramError::from_fetch(e, run.tally.calls)),
        }
    }
}

struct IgRun<'a, G: CallGate + ?Sized> {
    client: &'a GraphClient,
    token: &'a SecretString,
    gate: &'a G,
    ig_id: &'a str,
    tally: Tally,
    account_metrics: Vec<&'static str>,
    media_metrics: Vec<&'static str>,
    refused: BTreeSet<String>,
    /// Media page size, halved on code 1/99.
    limit: u32,
}

impl<G: CallGate + ?Sized> IgRun<'_, G> {
    async fn read(&mut self, plan: &InstagramPlan) -> Result<(Vec<InstagramDaily>, Vec<InstagramMedia>), FetchError> {
        let mut days: BTreeMap<NaiveDate, InstagramDaily> = BTreeMap::new();
        for &day in &plan.account_days {
            let row = self.account_day(day, plan.tz).await?;
            days.insert(day, row);
        }
        let node = self.node(plan).await?;
        let media = self.all_media(node.media, plan).await?;
        for (day, n) in node.new_followers {
            days.entry(day)
                .or_insert_with(|| InstagramDaily::new(day))
                .new_followers = Some(n);
        }
        let mut day = plan.media_from;
        while day <= plan.today {
            days.entry(day).or_insert_with(|| InstagramDaily::new(day)).media = Some(0);
            day += Days::days(1);
        }
        for m in &media {
            let day = m.created_at.with_timezone(&plan.tz).date_naive();
            if let Some(row) = days.get_mut(&day) {
                row.media = Some(row.media.unwrap_or(0) + 1);
            }
        }
        tracing::debug!(
            ig_id = self.ig_id,
            days = days.len(),
            media = media.len(),
            calls = self.tally.calls,
            "instagram fetched"
        );
        Ok((days.into_values().collect(), media))
    }

    async fn get(&mut self, path: &[&str], params: &[(&str, String)], endpoint: &str) -> Result<Vec<u8>, CallFailure> {
        let url = self.client.url(path, params, Some(self.token))?;
        self.client
            .send(url, endpoint, Some(self.token), self.gate, &mut self.tally)
            .await
    }

    /// IG-1 for one office day; on a refused metric, each metric alone once.
    async fn account_day(&mut self, day: NaiveDate, tz: Tz) -> Result<InstagramDaily, FetchError> {
        if self.account_metrics.is_empty() {
            return Ok(InstagramDaily::new(day));
        }
        let all = self.account_metrics.join(",");
        match self.account_call(day, tz, &all).await {
            Ok(row) => return Ok(row),
            Err(f) if f.graph.as_ref().is_some_and(is_refused_metric) => {}
            Err(f) => return Err(f.error),
        }
        let mut row = InstagramDaily::new(day);
        for metric in self.account_metrics.clone() {
            match self.account_call(day, tz, metric).await {
                Ok(found) => merge_account(&mut row, &found),
                Err(f) if f.graph.as_ref().is_some_and(is_refused_metric) => {
                    tracing::warn!(ig_id = self.ig_id, metric, "Instagram refused an account metric");
                    self.refused.insert(metric.to_string());
                }
                Err(f) => return Err(f.error),
            }
        }
        self.account_metrics.retain(|m| !self.refused.contains(*m));
        Ok(row)
    }

    async fn account_call(&mut self, day: NaiveDate, tz: Tz, metrics: &str) -> Result<InstagramDaily, CallFailure> {
        let since = local_midnight(day, tz).timestamp();
        let until = local_midnight(day + Days::days(1), tz).timestamp();
        let params = [
            ("metric", metrics.to_string()),
            ("period", "day".to_string()),
            ("metric_type", "total_value".to_string()),
            ("since", since.to_string()),
            ("until", until.to_string()),
        ];
        let ig_id = self.ig_id;
        let body = self.get(&[ig_id, "insights"], &params, "instagram_insights").await?;
        Ok(ig_parse::parse_account_day(&body, day)?)
    }

    fn media_field(&self, limit: u32, metrics: &[&str]) -> String {
        let insights = if metrics.is_empty() {
            String::new()
        } else {
            format!(",insights.metric({})", metrics.join(","))
        };
        format!("media.limit({limit}){{{MEDIA_FIELDS}{insights}}}")
    }

    /// IG-2: follower series and the first media page in one call. A refused media metric: each
    /// media metric alone once (`media.limit(1)`), then IG-2 again without the refused ones.
    async fn node(&mut self, plan: &InstagramPlan) -> Result<IgNode, FetchError> {
        let series_from = plan.series_from.max(plan.today - Days::days(29));
        let since = local_midnight(series_from, plan.tz).timestamp();
        let until = local_midnight(plan.today + Days::days(1), plan.tz).timestamp();
        let series = format!("insights.metric(follower_count).period(day).since({since}).until({until})");
        let mut probed = false;
        loop {
            let fields = format!("{series},{}", self.media_field(self.limit, &self.media_metrics));
            let ig_id = self.ig_id;
            match self.get(&[ig_id], &[("fields", fields)], "instagram_node").await {
                Ok(body) => return ig_parse::parse_ig_node(&body),
                Err(f) if f.graph.as_ref().is_some_and(is_reduce_data) && self.limit > 1 => {
                    self.limit = (self.limit / 2).max(1);
                    tracing::info!(
                        ig_id,
                        limit = self.limit,
                        "Instagram asked for less data: smaller media pages"
                    );
                }
                Err(f) if !probed && f.graph.as_ref().is_some_and(is_refused_metric) => {
                    probed = true;
                    self.probe_media_metrics().await?;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    async fn probe_media_metrics(&mut self) -> Result<(), FetchError> {
        for metric in self.media_metrics.clone() {
            let fields = self.media_field(1, &[metric]);
            let ig_id = self.ig_id;
            match self.get(&[ig_id], &[("fields", fields)], "instagram_node").await {
                Ok(_) => {}
                Err(f) if f.graph.as_ref().is_some_and(is_refused_metric) => {
                    tracing::warn!(ig_id, metric, "Instagram refused a media metric");
                    self.refused.insert(format!("{MEDIA_REFUSED_PREFIX}{metric}"));
                }
                Err(f) => return Err(f.error),
            }
        }
        let refused = &self.refused;
        self.media_metrics
            .retain(|m| !refused.contains(&format!("{MEDIA_REFUSED_PREFIX}{m}")));
        Ok(())
    }

    /// The media of the window: the first page, then `paging.next` as given while the page's last
    /// item is newer than the window start, until `next` is absent or repeats.
    async fn all_media(&mut self, first: MediaPage, plan: &InstagramPlan) -> Result<Vec<InstagramMedia>, FetchError> {
        let start = local_midnight(plan.media_from, plan.tz);
        let mut out = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut seen_links = HashSet::new();
        let mut page = first;
        loop {
            let reaches_back = page.media.last().is_none_or(|m| m.created_at < start);
            for m in page.media {
                if m.created_at >= start && seen_ids.insert(m.media_id.clone()) {
                    out.push(m);
                }
            }
            let Some(next) = page.next.filter(|n| !reaches_back && seen_links.insert(n.clone())) else {
                break;
            };
            page = self.media_page(&next).await?;
        }
        Ok(out)
    }

    async fn media_page(&mut self, next: &str) -> Result<MediaPage, FetchError> {
        let mut limit = None;
        loop {
            let url = self.client.follow_url(next, self.token, limit)?;
            match self
                .client
                .send(url, "instagram_media", Some(self.token), self.gate, &mut self.tally)
                .await
            {
                Ok(body) => return ig_parse::parse_media_page(&body),
                Err(f) if f.graph.as_ref().is_some_and(is_reduce_data) && self.limit > 1 => {
                    self.limit = (self.limit / 2).max(1);
                    limit = Some(self.limit);
                }
                Err(f) => return Err(f.error),
            }
        }
    }
}

fn merge_account(row: &mut InstagramDaily, found: &InstagramDaily) {
    let pairs = [
        (&mut row.views, found.views),
        (&mut row.reach, found.reach),
        (&mut row.accounts_engaged, found.accounts_engaged),
        (&mut row.total_interactions, found.total_interactions),
        (&mut row.likes, found.likes),
        (&mut row.comments, found.comments),
        (&mut row.shares, found.shares),
        (&mut row.saves, found.saves),
        (&mut row.profile_links_taps, found.profile_links_taps),
    ];
    for (slot, value) in pairs {
        *slot = slot.or(value);
    }
}

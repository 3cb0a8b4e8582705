//! One agent's sync read: Page insights and posts through field expansion on the Page node (one
//! call for a daily sync), the newest ≤90-day insights window in that call and older windows on
//! their own, `paging.next` followed as given, `limit` halved on "reduce the amount of data", and
//! a retired metric isolated by asking for each metric alone.

use std::collections::{BTreeSet, HashSet};

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use secrecy::SecretString;

use super::error::{FetchError, GraphErrorBody};
use super::insights::{self, METRICS};
use super::posts::{self, POST_FIELDS, PageNode, PostsPage};
use super::{CallFailure, CallGate, GraphClient, Tally, local_midnight};
use crate::domain::{DailyMetrics, DateRange, InstagramAccount, Post};

/// What to read for one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentPlan {
    /// Days whose Page insights to (re)read.
    pub insights: DateRange,
    /// Days whose posts to (re)read, lifetime metrics included; widened to cover `insights`, so every
    /// day row written carries its true post counts.
    pub posts: DateRange,
    /// The office time zone: a post counts on its creation day there.
    pub tz: Tz,
    /// Metrics Facebook refused before, not asked for again.
    pub skip_metrics: Vec<String>,
}

impl AgentPlan {
    /// Insights and posts over the same days, every metric asked for.
    pub fn days(since: NaiveDate, until: NaiveDate, tz: Tz) -> Self {
        let range = DateRange::new(since, until);
        AgentPlan {
            insights: range,
            posts: range,
            tz,
            skip_metrics: Vec::new(),
        }
    }
}

/// One agent's fetched data.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFetch {
    /// One row per day of the posts range, by date: post metrics on the post's own day, Page
    /// metrics only where Facebook has published them (unknown otherwise).
    pub days: Vec<DailyMetrics>,
    /// Posts created in the posts range (in the office time zone), newest first.
    pub posts: Vec<Post>,
    /// HTTP requests made.
    pub calls: u32,
    /// Highest usage percentage seen in any response (0 when no usage header came back).
    pub max_usage_pct: u32,
    /// Metrics Facebook refused with (#100) during this fetch (the others were kept).
    pub refused_metrics: Vec<String>,
    /// The Page's linked Instagram professional account, read in the same Page call; `None` when
    /// the Page has none.
    pub instagram: Option<InstagramAccount>,
}

/// Asked on the Page node beside insights and posts: Instagram discovery costs no extra call.
pub const INSTAGRAM_ACCOUNT_FIELD: &str = "instagram_business_account{id,username,followers_count}";

/// Smallest posts page asked for when Graph keeps answering "reduce the amount of data".
const MIN_LIMIT: u32 = 1;

fn is_invalid_metric(g: &GraphErrorBody) -> bool {
    g.code == Some(100) && g.message.contains("valid insights metric")
}

fn is_reduce_data(g: &GraphErrorBody) -> bool {
    g.code == Some(1) && g.error_subcode == Some(99)
}

impl GraphClient {
    /// One agent's data for `[since, until]` (inclusive calendar days), insights and posts over the
    /// same days; see [`GraphClient::fetch_agent_plan`].
    pub async fn fetch_agent(
        &self,
        page_id: &str,
        token: &SecretString,
        since: NaiveDate,
        until: NaiveDate,
        tz: Tz,
        gate: &(impl CallGate + ?Sized),
    ) -> Result<AgentFetch, FetchError> {
        self.fetch_agent_plan(page_id, token, &AgentPlan::days(since, until, tz), gate)
            .await
    }

    /// One agent's data: the newest insights window and the first posts page in one call
    /// (`GET /{page}?fields=insights…,published_posts…{…}`), older ≤90-day windows one call each,
    /// further posts pages only while `paging.next` leads somewhere new. `gate.before_call()` is
    /// awaited before every request and `gate.observe_usage()` called after every response that
    /// carried a usage header.
    pub async fn fetch_agent_plan(
        &self,
        page_id: &str,
        token: &SecretString,
        plan: &AgentPlan,
        gate: &(impl CallGate + ?Sized),
    ) -> Result<AgentFetch, FetchError> {
        let posts_range = DateRange::new(
            plan.posts.from.min(plan.insights.from),
            plan.posts.to.max(plan.insights.to),
        );
        let mut run = Run {
            client: self,
            page_id,
            token,
            gate,
            tally: Tally::default(),
            metrics: METRICS
                .iter()
                .map(|(m, _)| *m)
                .filter(|m| !plan.skip_metrics.iter().any(|s| s == m))
                .collect(),
            refused: BTreeSet::new(),
            limit: posts::PAGE_SIZE,
        };
        let windows = insights::windows(plan.insights);
        let mut days = Vec::new();
        let mut first_posts = PostsPage::default();
        let mut instagram = None;
        let (older, newest) = match windows.split_last() {
            Some((last, older)) => (older, Some(*last)),
            None => (&[][..], None),
        };
        for window in older {
            days.extend(run.insights_alone(*window).await?);
        }
        if newest.is_some() || posts_range.days() > 0 {
            let (rows, node) = run.node(newest, posts_range, plan.tz).await?;
            days.extend(rows);
            first_posts = node.posts;
            instagram = node.instagram;
        }
        let posts = run.remaining_posts(first_posts, posts_range, plan.tz).await?;
        let days = posts::merge_posts_into_days(days, &posts, plan.tz, posts_range);
        tracing::debug!(
            page_id,
            days = days.len(),
            posts = posts.len(),
            calls = run.tally.calls,
            "agent fetched"
        );
        Ok(AgentFetch {
            days,
            posts,
            calls: run.tally.calls,
            max_usage_pct: run.tally.max_usage_pct,
            refused_metrics: run.refused.into_iter().collect(),
            instagram,
        })
    }
}

/// One fetch in progress.
struct Run<'a, G: CallGate + ?Sized> {
    client: &'a GraphClient,
    page_id: &'a str,
    token: &'a SecretString,
    gate: &'a G,
    tally: Tally,
    /// Metrics still asked for.
    metrics: Vec<&'static str>,
    refused: BTreeSet<String>,
    /// Posts page size, halved on code 1/99.
    limit: u32,
}

impl<G: CallGate + ?Sized> Run<'_, G> {
    /// `GET /{page}?fields=…` with retries on "reduce the amount of data".
    async fn node_call(&mut self, fields: impl Fn(u32) -> String) -> Result<Vec<u8>, CallFailure> {
        loop {
            let params = [("fields", fields(self.limit))];
            let url = self.client.url(&[self.page_id], &params, Some(self.token))?;
            match self
                .client
                .send(url, "page", Some(self.token), self.gate, &mut self.tally)
                .await
            {
                Err(f) if f.graph.as_ref().is_some_and(is_reduce_data) && self.limit > MIN_LIMIT => {
                    self.limit = (self.limit / 2).max(MIN_LIMIT);
                    tracing::info!(
                        page_id = self.page_id,
                        limit = self.limit,
                        "Graph asked for less data: smaller posts pages"
                    );
                }
                other => return other,
            }
        }
    }

    /// The newest insights window (if any) and the first page of posts, in one call. On (#100)
    /// invalid metric: each metric alone once, then the posts with the metrics that answered.
    async fn node(
        &mut self,
        window: Option<DateRange>,
        posts_range: DateRange,
        tz: Tz,
    ) -> Result<(Vec<DailyMetrics>, PageNode), FetchError> {
        let since = local_midnight(posts_range.from, tz).timestamp();
        let until = local_midnight(posts_range.to + Duration::days(1), tz).timestamp();
        // Instagram discovery rides on every form of the node call, the per-metric fallback's too.
        let posts_field = |limit: u32| {
            format!(
                "published_posts.since({since}).until({until}).limit({limit}){{{POST_FIELDS}}},{INSTAGRAM_ACCOUNT_FIELD}"
            )
        };
        let mut probed = Vec::new();
        let mut window = window;
        loop {
            let insights_field = match window {
                Some(w) if !self.metrics.is_empty() => {
                    let (from, to) = insights::window_params(w);
                    Some(format!(
                        "insights.metric({}).period(day).since({from}).until({to})",
                        self.metrics.join(",")
                    ))
                }
                _ => None,
            };
            let body = self
                .node_call(|limit| match &insights_field {
                    Some(i) => format!("{i},{}", posts_field(limit)),
                    None => posts_field(limit),
                })
                .await;
            match body {
                Ok(body) => {
                    let mut node = posts::parse_page_node(&body)?;
                    let mut rows = probed;
                    if let (Some(w), Some(doc)) = (window, node.insights.take()) {
                        rows.extend(insights::parse_insights_value(&doc, w)?);
                    }
                    return Ok((rows, node));
                }
                Err(f) if insights_field.is_some() && f.graph.as_ref().is_some_and(is_invalid_metric) => {
                    // The answer does not say which metric: ask each one alone, keep what works,
                    // then read the posts without insights (the window is already read).
                    if let Some(w) = window.take() {
                        probed = self.each_metric_alone(w).await?;
                    }
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// One insights window on the standalone edge, every metric at once; on (#100) each metric
    /// alone once, keeping the ones that answer and dropping the refused ones from later calls.
    async fn insights_alone(&mut self, window: DateRange) -> Result<Vec<DailyMetrics>, FetchError> {
        if self.metrics.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.metrics.join(",");
        match self.insights_call(window, &all).await {
            Ok(rows) => return Ok(rows),
            Err(f) if f.graph.as_ref().is_some_and(is_invalid_metric) => {}
            Err(f) => return Err(f.error),
        }
        self.each_metric_alone(window).await
    }

    /// After a (#100) invalid metric: one call per metric, keeping the answers and remembering the
    /// refused metrics so no later call of this fetch names them.
    async fn each_metric_alone(&mut self, window: DateRange) -> Result<Vec<DailyMetrics>, FetchError> {
        let mut rows: Vec<DailyMetrics> = Vec::new();
        for metric in self.metrics.clone() {
            match self.insights_call(window, metric).await {
                Ok(found) => rows = merge_rows(rows, found),
                Err(f) if f.graph.as_ref().is_some_and(is_invalid_metric) => {
                    tracing::warn!(page_id = self.page_id, metric, "Facebook refused an insights metric");
                    self.refused.insert(metric.to_string());
                }
                Err(f) => return Err(f.error),
            }
        }
        self.metrics.retain(|m| !self.refused.contains(*m));
        Ok(rows)
    }

    async fn insights_call(&mut self, window: DateRange, metrics: &str) -> Result<Vec<DailyMetrics>, CallFailure> {
        let (from, to) = insights::window_params(window);
        let params = [
            ("metric", metrics.to_string()),
            ("period", "day".to_string()),
            ("since", from),
            ("until", to),
        ];
        let url = self
            .client
            .url(&[self.page_id, "insights"], &params, Some(self.token))?;
        let body = self
            .client
            .send(url, "insights", Some(self.token), self.gate, &mut self.tally)
            .await?;
        Ok(insights::parse_insights(&body, window)?)
    }

    /// The posts of the range: the first page, then `paging.next` as given until it is absent,
    /// repeats, or brings nothing new. Deduplicated by id, newest first as Graph lists them.
    async fn remaining_posts(&mut self, first: PostsPage, range: DateRange, tz: Tz) -> Result<Vec<Post>, FetchError> {
        let mut posts = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut seen_links = HashSet::new();
        let mut page = first;
        loop {
            let mut new = 0;
            for post in page.posts {
                let day = post.created_at.with_timezone(&tz).date_naive();
                if seen_ids.insert(post.post_id.clone()) {
                    new += 1;
                    if range.contains(day) {
                        posts.push(post);
                    }
                }
            }
            let Some(next) = page.next.filter(|n| new > 0 && seen_links.insert(n.clone())) else {
                break;
            };
            page = self.posts_page(&next).await?;
        }
        Ok(posts)
    }

    /// One `paging.next` page, halving `limit` while Graph answers 1/99.
    async fn posts_page(&mut self, next: &str) -> Result<PostsPage, FetchError> {
        let mut limit = None;
        loop {
            let url = self.client.follow_url(next, self.token, limit)?;
            match self
                .client
                .send(url, "published_posts", Some(self.token), self.gate, &mut self.tally)
                .await
            {
                Ok(body) => return posts::parse_posts_page(&body),
                Err(f) if f.graph.as_ref().is_some_and(is_reduce_data) && self.limit > MIN_LIMIT => {
                    self.limit = (self.limit / 2).max(MIN_LIMIT);
                    limit = Some(self.limit);
                }
                Err(f) => return Err(f.error),
            }
        }
    }
}

/// Rows of the same window from separate answers, merged by date (each metric from its own answer).
fn merge_rows(mut rows: Vec<DailyMetrics>, found: Vec<DailyMetrics>) -> Vec<DailyMetrics> {
    for f in found {
        match rows.iter_mut().find(|r| r.date == f.date) {
            Some(r) => {
                r.followers = r.followers.or(f.followers);
                r.impressions = r.impressions.or(f.impressions);
                r.reach = r.reach.or(f.reach);
                r.engaged_users = r.engaged_users.or(f.engaged_users);
            }
            None => rows.push(f),
        }
    }
    rows
}

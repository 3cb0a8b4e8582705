//! A store that fails `finish_item` a set number of times, delegating everything else to a real
//! store: for the engine's "a store error while finishing an item still ends the job" rule (the
//! store is not what those tests test). Generated from the `Store` trait's signatures.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pulso::domain::*;
use pulso::store::*;

pub struct FailingStore {
    pub inner: Arc<dyn Store>,
    /// `finish_item` calls still to fail.
    pub finish_failures: AtomicU32,
    /// `finish_item` calls that failed.
    pub failed: AtomicU32,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn Store>, finish_failures: u32) -> Self {
        Self {
            inner,
            finish_failures: AtomicU32::new(finish_failures),
            failed: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl Store for FailingStore {
    #[allow(clippy::too_many_arguments)]
    async fn finish_item(
        &self,
        job: JobId,
        agent: AgentId,
        owner: &str,
        status: ItemStatus,
        attempts: i64,
        api_calls: i64,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if self
            .finish_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Database(sqlx::Error::PoolTimedOut));
        }
        self.inner
            .finish_item(job, agent, owner, status, attempts, api_calls, error, now)
            .await
    }

    fn backend(&self) -> Backend {
        self.inner.backend()
    }

    async fn migrate(&self) -> StoreResult<()> {
        self.inner.migrate().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }

    async fn upsert_agent(&self, agent: &NewAgent, now: DateTime<Utc>) -> StoreResult<(Agent, Upserted)> {
        self.inner.upsert_agent(agent, now).await
    }

    async fn agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.inner.agent(id).await
    }

    async fn agents(&self) -> StoreResult<Vec<Agent>> {
        self.inner.agents().await
    }

    async fn set_agent_page(&self, id: AgentId, page_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
        self.inner.set_agent_page(id, page_id, now).await
    }

    async fn set_agent_role(&self, id: AgentId, role: Role, now: DateTime<Utc>) -> StoreResult<()> {
        self.inner.set_agent_role(id, role, now).await
    }

    async fn refused_metrics(&self) -> StoreResult<Vec<String>> {
        self.inner.refused_metrics().await
    }

    async fn add_refused_metric(&self, metric: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.add_refused_metric(metric, now).await
    }

    async fn set_agent_token(
        &self,
        id: AgentId,
        encrypted: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.set_agent_token(id, encrypted, expires_at, now).await
    }

    async fn agent_token(&self, id: AgentId) -> StoreResult<Option<String>> {
        self.inner.agent_token(id).await
    }

    async fn set_agent_status(
        &self,
        id: AgentId,
        status: ConnectionStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.set_agent_status(id, status, reason, now).await
    }

    async fn mark_agent_synced(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<()> {
        self.inner.mark_agent_synced(id, at).await
    }

    async fn connect_agent(&self, id: AgentId, connection: &AgentConnection, now: DateTime<Utc>) -> StoreResult<()> {
        self.inner.connect_agent(id, connection, now).await
    }

    async fn agent_token_scopes(&self, id: AgentId) -> StoreResult<Option<Vec<String>>> {
        self.inner.agent_token_scopes(id).await
    }

    async fn use_oauth_state(
        &self,
        nonce: &str,
        agent: AgentId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.use_oauth_state(nonce, agent, expires_at, now).await
    }

    async fn set_page_candidates(
        &self,
        agent: AgentId,
        candidates: &[PageCandidate],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.set_page_candidates(agent, candidates, expires_at, now).await
    }

    async fn page_candidates(&self, agent: AgentId, now: DateTime<Utc>) -> StoreResult<Vec<PageCandidate>> {
        self.inner.page_candidates(agent, now).await
    }

    async fn upsert_daily_metrics(
        &self,
        agent: AgentId,
        rows: &[DailyMetrics],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.inner.upsert_daily_metrics(agent, rows, now).await
    }

    async fn daily_metrics(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
        self.inner.daily_metrics(agent, range).await
    }

    async fn agent_totals(&self, agent: AgentId, range: DateRange) -> StoreResult<AgentTotals> {
        self.inner.agent_totals(agent, range).await
    }

    async fn all_agent_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, AgentTotals)>> {
        self.inner.all_agent_totals(range).await
    }

    async fn team_daily(&self, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
        self.inner.team_daily(range).await
    }

    async fn upsert_posts(&self, agent: AgentId, posts: &[Post], now: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.upsert_posts(agent, posts, now).await
    }

    async fn top_posts(
        &self,
        agent: Option<AgentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AgentPost>> {
        self.inner.top_posts(agent, from, to, limit).await
    }

    async fn set_agent_instagram(
        &self,
        id: AgentId,
        account: Option<&InstagramAccount>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.set_agent_instagram(id, account, now).await
    }

    async fn set_instagram_state(
        &self,
        id: AgentId,
        paused_until: Option<DateTime<Utc>>,
        problem: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.set_instagram_state(id, paused_until, problem, now).await
    }

    async fn upsert_instagram_daily(
        &self,
        agent: AgentId,
        rows: &[InstagramDaily],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.inner.upsert_instagram_daily(agent, rows, now).await
    }

    async fn instagram_daily(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<InstagramDaily>> {
        self.inner.instagram_daily(agent, range).await
    }

    async fn all_instagram_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, InstagramTotals)>> {
        self.inner.all_instagram_totals(range).await
    }

    async fn team_instagram_daily(&self, range: DateRange) -> StoreResult<Vec<InstagramDaily>> {
        self.inner.team_instagram_daily(range).await
    }

    async fn upsert_instagram_media(
        &self,
        agent: AgentId,
        media: &[InstagramMedia],
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        self.inner.upsert_instagram_media(agent, media, now).await
    }

    async fn top_instagram_media(
        &self,
        agent: Option<AgentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AgentMedia>> {
        self.inner.top_instagram_media(agent, from, to, limit).await
    }

    async fn link_identity(
        &self,
        platform: &str,
        user_id: &str,
        agent: AgentId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.link_identity(platform, user_id, agent, now).await
    }

    async fn linked_agent(&self, platform: &str, user_id: &str) -> StoreResult<Option<Agent>> {
        self.inner.linked_agent(platform, user_id).await
    }

    async fn agent_identities(&self, agent: AgentId) -> StoreResult<Vec<(String, String)>> {
        self.inner.agent_identities(agent).await
    }

    async fn create_link_code(
        &self,
        agent: AgentId,
        code: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.create_link_code(agent, code, now, expires_at).await
    }

    async fn consume_link_code(&self, code: &str, used_by: &str, now: DateTime<Utc>) -> StoreResult<Option<AgentId>> {
        self.inner.consume_link_code(code, used_by, now).await
    }

    async fn reserve_calls(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        n: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BudgetUsage>> {
        self.inner.reserve_calls(hour_window, max_calls, n, now).await
    }

    async fn budget_usage(&self, hour_window: DateTime<Utc>) -> StoreResult<Option<BudgetUsage>> {
        self.inner.budget_usage(hour_window).await
    }

    async fn record_rate_limit_hit(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.record_rate_limit_hit(hour_window, max_calls, now).await
    }

    async fn record_usage_pct(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        pct: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.record_usage_pct(hour_window, max_calls, pct, now).await
    }

    async fn rate_limit_hits_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
        self.inner.rate_limit_hits_since(since).await
    }

    async fn create_job(
        &self,
        kind: JobKind,
        agent: Option<AgentId>,
        requested_by: &str,
        agents: &[AgentId],
        now: DateTime<Utc>,
    ) -> StoreResult<SyncJob> {
        self.inner.create_job(kind, agent, requested_by, agents, now).await
    }

    async fn job(&self, id: JobId) -> StoreResult<Option<SyncJob>> {
        self.inner.job(id).await
    }

    async fn latest_job(&self, kind: JobKind) -> StoreResult<Option<SyncJob>> {
        self.inner.latest_job(kind).await
    }

    async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<SyncJob>> {
        self.inner.recent_jobs(limit).await
    }

    async fn active_jobs(&self) -> StoreResult<Vec<SyncJob>> {
        self.inner.active_jobs().await
    }

    async fn acquire_job_lease(
        &self,
        id: JobId,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>> {
        self.inner.acquire_job_lease(id, owner, until, now).await
    }

    async fn renew_job_lease(&self, id: JobId, fencing: i64, until: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.renew_job_lease(id, fencing, until).await
    }

    async fn set_job_status(
        &self,
        id: JobId,
        fencing: i64,
        status: JobStatus,
        paused_until: Option<DateTime<Utc>>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner
            .set_job_status(id, fencing, status, paused_until, error, now)
            .await
    }

    async fn claim_items(
        &self,
        job: JobId,
        owner: &str,
        n: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        ready_at: DateTime<Utc>,
    ) -> StoreResult<Vec<AgentId>> {
        self.inner.claim_items(job, owner, n, lease_until, now, ready_at).await
    }

    async fn renew_item_leases(&self, job: JobId, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.renew_item_leases(job, owner, until).await
    }

    async fn release_item(&self, job: JobId, agent: AgentId, owner: &str) -> StoreResult<()> {
        self.inner.release_item(job, agent, owner).await
    }

    async fn job_items(&self, job: JobId) -> StoreResult<Vec<JobItem>> {
        self.inner.job_items(job).await
    }

    async fn pending_items(&self, job: JobId) -> StoreResult<i64> {
        self.inner.pending_items(job).await
    }

    async fn defer_item(&self, job: JobId, agent: AgentId, owner: &str, until: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.defer_item(job, agent, owner, until).await
    }

    async fn next_deferred(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.next_deferred(job).await
    }

    async fn release_owned_items(&self, job: JobId, owner: &str) -> StoreResult<u64> {
        self.inner.release_owned_items(job, owner).await
    }

    async fn release_job_lease(&self, id: JobId, fencing: i64) -> StoreResult<bool> {
        self.inner.release_job_lease(id, fencing).await
    }

    async fn last_agent_attempt(&self, agent: AgentId) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.last_agent_attempt(agent).await
    }

    async fn latest_productive_bulk(&self) -> StoreResult<Option<SyncJob>> {
        self.inner.latest_productive_bulk().await
    }

    async fn add_job_subscriber(&self, sub: &NewSubscriber, now: DateTime<Utc>) -> StoreResult<i64> {
        self.inner.add_job_subscriber(sub, now).await
    }

    async fn claim_job_subscriber(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.claim_job_subscriber(id, now).await
    }

    async fn unclaim_job_subscriber(&self, id: i64) -> StoreResult<()> {
        self.inner.unclaim_job_subscriber(id).await
    }

    async fn undelivered_subscribers(&self) -> StoreResult<Vec<JobSubscriber>> {
        self.inner.undelivered_subscribers().await
    }

    async fn unfollow_subscribers(&self, job: JobId, follower: &str) -> StoreResult<u64> {
        self.inner.unfollow_subscribers(job, follower).await
    }

    async fn claim_job_summary(&self, job: JobId, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.claim_job_summary(job, now).await
    }

    async fn fire_alert(&self, alert: &NewAlert, now: DateTime<Utc>) -> StoreResult<(AlertRecord, bool)> {
        self.inner.fire_alert(alert, now).await
    }

    async fn open_alerts(&self) -> StoreResult<Vec<AlertRecord>> {
        self.inner.open_alerts().await
    }

    async fn recent_alerts(&self, limit: i64) -> StoreResult<Vec<AlertRecord>> {
        self.inner.recent_alerts(limit).await
    }

    async fn clear_alert(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.clear_alert(id, now).await
    }

    async fn resolve_alert(&self, id: i64, message_sent: bool, now: DateTime<Utc>) -> StoreResult<bool> {
        self.inner.resolve_alert(id, message_sent, now).await
    }

    async fn claim_alert_send(
        &self,
        id: i64,
        channel: AlertChannel,
        seen_count: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.inner.claim_alert_send(id, channel, seen_count, now).await
    }

    async fn release_alert_send(
        &self,
        id: i64,
        channel: AlertChannel,
        seen_count: i64,
        previous: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.inner.release_alert_send(id, channel, seen_count, previous).await
    }

    async fn create_silence(
        &self,
        matcher: &str,
        created_by: &str,
        now: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> StoreResult<Silence> {
        self.inner.create_silence(matcher, created_by, now, ends_at).await
    }

    async fn active_silences(&self, now: DateTime<Utc>) -> StoreResult<Vec<Silence>> {
        self.inner.active_silences(now).await
    }

    async fn previous_bulk_finished_at(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.previous_bulk_finished_at(job).await
    }

    async fn api_usage_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<ApiUsageSummary> {
        self.inner.api_usage_between(from, to).await
    }
}

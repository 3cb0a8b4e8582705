//! Persistence. One [`Store`] trait with a SQLite and a PostgreSQL implementation, chosen by the
//! scheme of `database.url`. Both run the same SQL text wherever the dialects agree (see
//! `common.rs`), and both pass the same contract tests (`tests/store_contract.rs`).

mod agents;
pub(crate) mod alerts;
mod common;
mod instagram;
mod jobs;
mod metrics;
pub mod postgres;
pub(crate) mod reports;
mod rows;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::config::redact_url;
use crate::domain::{
    Agent, AgentId, AgentTotals, ConnectionStatus, DailyMetrics, DateRange, InstagramAccount, InstagramDaily,
    InstagramMedia, InstagramTotals, ItemStatus, JobId, JobItem, JobKind, JobStatus, Post, Role, SyncJob,
};

pub use alerts::{AlertChannel, AlertRecord, AlertState, NewAlert, Silence};
pub use postgres::PgStore;
pub use reports::ApiUsageSummary;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no se pudo conectar a la base de datos {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("no se pudieron aplicar las migraciones: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("error de base de datos: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when the database could not be reached at all (as opposed to a bad query or a conflict):
    /// commands then answer "Datos temporalmente no disponibles".
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Database(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_)
            ),
            _ => false,
        }
    }

    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// An agent as imported or created by an admin.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAgent {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub facebook_page_id: Option<String>,
    pub instagram_account_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

/// Calls used and allowed in one hour window of the API budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetUsage {
    pub hour_window: DateTime<Utc>,
    pub calls_made: i64,
    pub max_calls: i64,
    pub rate_limit_hits: i64,
    pub peak_usage_pct: i64,
}

impl BudgetUsage {
    pub fn percent(&self) -> f64 {
        if self.max_calls <= 0 {
            100.0
        } else {
            self.calls_made as f64 * 100.0 / self.max_calls as f64
        }
    }
}

/// Everything a successful Facebook connection writes to an agent's row (one statement).
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConnection {
    pub page_id: String,
    /// The Page token, already encrypted for this agent.
    pub token_encrypted: String,
    /// None = the token never expires.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Permissions granted at login (from `debug_token`).
    pub scopes: Vec<String>,
}

/// A Page a login returned, kept while the agent chooses one in chat (`/conectar N`).
#[derive(Debug, Clone, PartialEq)]
pub struct PageCandidate {
    /// 1-based number shown to the agent.
    pub position: i64,
    pub page_id: String,
    pub page_name: String,
    /// The Page token, already encrypted for this agent.
    pub token_encrypted: String,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
}

/// A chat that asked about a sync job and gets its final report.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscriber {
    pub job_id: JobId,
    /// `telegram`, `discord` or `console`.
    pub platform: String,
    /// Where the report goes on that platform (Telegram chat id, Discord channel id).
    pub chat_id: String,
    pub requested_by: String,
    /// The process following the chat's progress message live (it delivers itself); None = any.
    pub follower: Option<String>,
}

/// A subscriber whose job ended and whose report is still owed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSubscriber {
    pub id: i64,
    pub job_id: JobId,
    pub platform: String,
    pub chat_id: String,
    pub requested_by: String,
    pub follower: Option<String>,
    pub job_completed_at: Option<DateTime<Utc>>,
}

/// A post with the agent it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentPost {
    pub agent_id: AgentId,
    pub post: Post,
}

/// An Instagram media item with the agent it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentMedia {
    pub agent_id: AgentId,
    pub media: InstagramMedia,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Applies pending migrations. Safe to run on every start-up.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    // ── agents ──
    /// Inserts or updates by email (case-insensitive); never duplicates.
    async fn upsert_agent(&self, agent: &NewAgent, now: DateTime<Utc>) -> StoreResult<(Agent, Upserted)>;
    async fn agent(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn agents(&self) -> StoreResult<Vec<Agent>>;
    async fn set_agent_page(&self, id: AgentId, page_id: &str, now: DateTime<Utc>) -> StoreResult<()>;
    /// Makes the agent an admin or a plain agent (what Row Level Security on Supabase reads).
    async fn set_agent_role(&self, id: AgentId, role: Role, now: DateTime<Utc>) -> StoreResult<()>;
    /// Stores an already encrypted Page token and its expiry (None = never expires).
    async fn set_agent_token(
        &self,
        id: AgentId,
        encrypted: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn agent_token(&self, id: AgentId) -> StoreResult<Option<String>>;
    async fn set_agent_status(
        &self,
        id: AgentId,
        status: ConnectionStatus,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn mark_agent_synced(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<()>;

    /// Stores a new connection atomically: Page id, encrypted token, expiry, scopes, status `active`
    /// (reason cleared), reminder reset; pending Page candidates of the agent are dropped.
    async fn connect_agent(&self, id: AgentId, connection: &AgentConnection, now: DateTime<Utc>) -> StoreResult<()>;
    /// Permissions recorded with the agent's current token (None when never recorded).
    async fn agent_token_scopes(&self, id: AgentId) -> StoreResult<Option<Vec<String>>>;

    // ── Facebook Login ──
    /// Records that the login `state` with this nonce was used. True the first time, false on any
    /// later use (atomic, also across processes).
    async fn use_oauth_state(
        &self,
        nonce: &str,
        agent: AgentId,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Replaces the agent's pending Page candidates.
    async fn set_page_candidates(
        &self,
        agent: AgentId,
        candidates: &[PageCandidate],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The agent's pending candidates that have not expired, by position.
    async fn page_candidates(&self, agent: AgentId, now: DateTime<Utc>) -> StoreResult<Vec<PageCandidate>>;

    // ── metrics ──
    /// Idempotent: a day written twice leaves one row with the latest values. A Page metric written
    /// as unknown (`None`) never erases a value already known for that day.
    async fn upsert_daily_metrics(&self, agent: AgentId, rows: &[DailyMetrics], now: DateTime<Utc>)
    -> StoreResult<u64>;
    async fn daily_metrics(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<DailyMetrics>>;
    async fn agent_totals(&self, agent: AgentId, range: DateRange) -> StoreResult<AgentTotals>;
    /// Totals of every agent with data in the range, in one grouped query.
    async fn all_agent_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, AgentTotals)>>;
    /// Team sums per day (followers summed across agents).
    async fn team_daily(&self, range: DateRange) -> StoreResult<Vec<DailyMetrics>>;
    async fn upsert_posts(&self, agent: AgentId, posts: &[Post], now: DateTime<Utc>) -> StoreResult<u64>;
    /// Posts created in [from, to), most engaging first; `agent` None = everyone.
    async fn top_posts(
        &self,
        agent: Option<AgentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AgentPost>>;

    /// Insights metrics Facebook refused with (#100) invalid metric, which later syncs skip.
    async fn refused_metrics(&self) -> StoreResult<Vec<String>>;
    /// Remembers a refused metric; true when it was not known yet.
    async fn add_refused_metric(&self, metric: &str, now: DateTime<Utc>) -> StoreResult<bool>;

    // ── chat identities and link codes ──
    async fn link_identity(&self, platform: &str, user_id: &str, agent: AgentId, now: DateTime<Utc>)
    -> StoreResult<()>;
    /// The agent a chat identity is linked to, read in one round trip (every command starts here).
    async fn linked_agent(&self, platform: &str, user_id: &str) -> StoreResult<Option<Agent>>;
    /// The chat identities linked to an agent, as (platform, platform user id), for private messages.
    async fn agent_identities(&self, agent: AgentId) -> StoreResult<Vec<(String, String)>>;
    async fn create_link_code(
        &self,
        agent: AgentId,
        code: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Marks the code used and returns its agent, atomically; None if unknown, used or expired.
    async fn consume_link_code(&self, code: &str, used_by: &str, now: DateTime<Utc>) -> StoreResult<Option<AgentId>>;

    // ── API budget ──
    /// Reserves `n` calls in the hour window with one atomic statement. None = the budget would be
    /// exceeded and nothing was reserved.
    async fn reserve_calls(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        n: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<BudgetUsage>>;
    async fn budget_usage(&self, hour_window: DateTime<Utc>) -> StoreResult<Option<BudgetUsage>>;
    /// Counts a rate-limit answer from the API and keeps the highest usage header seen.
    async fn record_rate_limit_hit(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn record_usage_pct(
        &self,
        hour_window: DateTime<Utc>,
        max_calls: i64,
        pct: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Rate-limit hits in windows starting at or after `since`.
    async fn rate_limit_hits_since(&self, since: DateTime<Utc>) -> StoreResult<i64>;

    // ── sync jobs ──
    /// Creates a pending job with one pending item per agent, atomically. A second active bulk job,
    /// or a second active job for the same agent, is a [`StoreError::Conflict`] (enforced by unique
    /// indexes, so it holds across processes).
    async fn create_job(
        &self,
        kind: JobKind,
        agent: Option<AgentId>,
        requested_by: &str,
        agents: &[AgentId],
        now: DateTime<Utc>,
    ) -> StoreResult<SyncJob>;
    async fn job(&self, id: JobId) -> StoreResult<Option<SyncJob>>;
    async fn latest_job(&self, kind: JobKind) -> StoreResult<Option<SyncJob>>;
    async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<SyncJob>>;
    async fn active_jobs(&self) -> StoreResult<Vec<SyncJob>>;
    /// Takes the job's lease if it is free (pending, or its lease expired, or already ours); bumps and
    /// returns the fencing token.
    async fn acquire_job_lease(
        &self,
        id: JobId,
        owner: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<i64>>;
    /// Extends the lease; false when another process took the job over.
    async fn renew_job_lease(&self, id: JobId, fencing: i64, until: DateTime<Utc>) -> StoreResult<bool>;
    async fn set_job_status(
        &self,
        id: JobId,
        fencing: i64,
        status: JobStatus,
        paused_until: Option<DateTime<Utc>>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Claims up to `n` pending items (or running items whose lease expired at `now`) for `owner`;
    /// a deferred item only once `ready_at` reached its `deferred_until` (the engine's clock, while
    /// leases are judged by the wall clock).
    async fn claim_items(
        &self,
        job: JobId,
        owner: &str,
        n: i64,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
        ready_at: DateTime<Utc>,
    ) -> StoreResult<Vec<AgentId>>;
    /// Records an item's outcome if `owner` still holds it; refreshes the job's counters.
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
    ) -> StoreResult<bool>;
    /// Extends the leases of the items `owner` is still working on; returns how many it holds.
    async fn renew_item_leases(&self, job: JobId, owner: &str, until: DateTime<Utc>) -> StoreResult<u64>;
    /// Gives an item back (e.g. when the budget pauses the job before it finished).
    async fn release_item(&self, job: JobId, agent: AgentId, owner: &str) -> StoreResult<()>;
    async fn job_items(&self, job: JobId) -> StoreResult<Vec<JobItem>>;
    /// Items not finished yet (pending, or running somewhere).
    async fn pending_items(&self, job: JobId) -> StoreResult<i64>;

    // ── sync reliability ──
    /// Gives a running item back until `until` (its Page is rate-limited): `claim_items` skips it
    /// while `now` < `until`. False if `owner` no longer held it.
    async fn defer_item(&self, job: JobId, agent: AgentId, owner: &str, until: DateTime<Utc>) -> StoreResult<bool>;
    /// The earliest time a deferred pending item of the job becomes claimable again.
    async fn next_deferred(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>>;
    /// Gives back every item `owner` still runs in the job (after a failure or at shutdown).
    async fn release_owned_items(&self, job: JobId, owner: &str) -> StoreResult<u64>;
    /// Frees the job's lease while keeping it active, so another process resumes it at once.
    async fn release_job_lease(&self, id: JobId, fencing: i64) -> StoreResult<bool>;
    /// When the agent was last tried (synced or failed) by any job.
    async fn last_agent_attempt(&self, agent: AgentId) -> StoreResult<Option<DateTime<Utc>>>;
    /// The newest bulk job that synced at least one agent.
    async fn latest_productive_bulk(&self) -> StoreResult<Option<SyncJob>>;
    /// Records a chat waiting for a job's final report; returns its id.
    async fn add_job_subscriber(&self, sub: &NewSubscriber, now: DateTime<Utc>) -> StoreResult<i64>;
    /// Claims the delivery of one subscriber's report: true for exactly one caller.
    async fn claim_job_subscriber(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Gives a claim back when the report could not be sent (any process retries it).
    async fn unclaim_job_subscriber(&self, id: i64) -> StoreResult<()>;
    /// Subscribers of finished jobs whose report has not gone out.
    async fn undelivered_subscribers(&self) -> StoreResult<Vec<JobSubscriber>>;
    /// Hands the subscribers `follower` was following over to any process (it died or stopped).
    async fn unfollow_subscribers(&self, job: JobId, follower: &str) -> StoreResult<u64>;
    /// Claims the team's completion summary of a job: true for exactly one caller.
    async fn claim_job_summary(&self, job: JobId, now: DateTime<Utc>) -> StoreResult<bool>;

    // ── alerts ──
    /// Keeps the alert with this fingerprint firing: updates the open incident (and un-clears it) or
    /// opens a new one. Returns the incident and whether it was new.
    async fn fire_alert(&self, alert: &NewAlert, now: DateTime<Utc>) -> StoreResult<(AlertRecord, bool)>;
    /// Incidents still firing (including those whose condition cleared but are not resolved yet).
    async fn open_alerts(&self) -> StoreResult<Vec<AlertRecord>>;
    /// The latest incidents, firing or resolved, newest first.
    async fn recent_alerts(&self, limit: i64) -> StoreResult<Vec<AlertRecord>>;
    /// Notes that the condition stopped holding (keeps the first time); false if already cleared.
    async fn clear_alert(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Ends a firing incident; `message_sent` records that "✅ Resuelto" went out.
    async fn resolve_alert(&self, id: i64, message_sent: bool, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Claims the next notification of a firing incident on `channel` before sending it: true for
    /// exactly one caller that read `seen_count` (the channel's count; ignored for `Resolved`).
    async fn claim_alert_send(
        &self,
        id: i64,
        channel: AlertChannel,
        seen_count: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives a claim back when the notification could not be delivered, restoring `previous` (the
    /// channel's last time before the claim), so the next evaluation retries it.
    async fn release_alert_send(
        &self,
        id: i64,
        channel: AlertChannel,
        seen_count: i64,
        previous: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    async fn create_silence(
        &self,
        matcher: &str,
        created_by: &str,
        now: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> StoreResult<Silence>;
    /// Silences in force at `now`.
    async fn active_silences(&self, now: DateTime<Utc>) -> StoreResult<Vec<Silence>>;

    // ── reports ──
    /// When the last bulk sync before `job` that synced at least one agent ended; None if none did.
    async fn previous_bulk_finished_at(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>>;
    /// API calls, limits reached and syncs started in [from, to).
    async fn api_usage_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> StoreResult<ApiUsageSummary>;

    // ── Instagram ──
    /// Records the professional account discovered on the agent's Page (id, @username), or its
    /// absence (`None`: the Page has no linked account any more; history is kept).
    async fn set_agent_instagram(
        &self,
        id: AgentId,
        account: Option<&InstagramAccount>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Instagram's per-account limit (80002) and any problem reading the account (None clears).
    async fn set_instagram_state(
        &self,
        id: AgentId,
        paused_until: Option<DateTime<Utc>>,
        problem: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Idempotent per (agent, date); a value written as unknown never erases a known one.
    async fn upsert_instagram_daily(
        &self,
        agent: AgentId,
        rows: &[InstagramDaily],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// The agent's stored Instagram days in the range, oldest first.
    async fn instagram_daily(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<InstagramDaily>>;
    /// Totals of every agent with Instagram data in the range.
    async fn all_instagram_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, InstagramTotals)>>;
    /// Team sums per day (followers summed across accounts; unknown stays unknown).
    async fn team_instagram_daily(&self, range: DateRange) -> StoreResult<Vec<InstagramDaily>>;
    /// Idempotent per media id; lifetime numbers are overwritten by the newest read, unknown never
    /// erases known.
    async fn upsert_instagram_media(
        &self,
        agent: AgentId,
        media: &[InstagramMedia],
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Media created in [from, to), most engaging first (`InstagramMedia::engagement`); `agent`
    /// None = everyone.
    async fn top_instagram_media(
        &self,
        agent: Option<AgentId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<AgentMedia>>;
}

/// Opens the store named by `url` (`sqlite://…` or `postgres://…`). Errors name the URL without
/// its password.
pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, max_connections).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url, max_connections).await?))
    } else {
        Err(StoreError::Connect {
            url: redact_url(url),
            source: sqlx::Error::Configuration("esquema no soportado: usa sqlite:// o postgres://".into()),
        })
    }
}

/// First day of `first`'s month and last day of `last`'s month: the rollup rows an upsert touches.
pub(crate) fn month_bounds(
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
) -> (chrono::NaiveDate, chrono::NaiveDate) {
    use chrono::Datelike;
    let start = first.with_day(1).unwrap_or(first);
    let next = (last.with_day(1).unwrap_or(last) + chrono::Duration::days(32))
        .with_day(1)
        .unwrap_or(last);
    (start, next - chrono::Duration::days(1))
}

/// Start of the UTC hour containing `t`: the key of `api_rate_limits`.
pub fn hour_window(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

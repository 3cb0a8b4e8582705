//! The sync engine: bulk and single-agent syncs, started only when someone asks, within the Graph
//! API budget, resumable after a crash and shared safely by several replicas on one database.

mod agent;
pub mod budget;
pub mod clock;
mod error;
pub mod events;
pub mod graph_source;
mod instagram;
pub mod source;
mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use chrono_tz::Tz;
use tokio::sync::{broadcast, watch};

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{AgentId, JobId, JobKind, hace};
use crate::queries::Queries;
use crate::store::{Store, StoreError};

pub use budget::{Budget, BudgetGate};
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{AgentNotice, AgentOutcome, JobReport, Progress, SyncEvent, SyncRefusal, countdown};
pub use graph_source::GraphSource;
pub use source::{
    AgentData, FetchRequest, InstagramData, InstagramFailure, InstagramPlan, InstagramRequest, PageSource, SourceError,
};

/// The `[sync]` rules, in the units the engine uses.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub batch_size: usize,
    pub batch_delay: Duration,
    pub max_attempts: u32,
    pub retry_base_delay: Duration,
    pub bulk_min_interval: Duration,
    pub bulk_confirm_window: Duration,
    pub agent_min_interval: Duration,
    pub pause_threshold_pct: u32,
    pub backfill_days: i64,
    pub lookback_days: i64,
    /// Days of posts whose lifetime metrics every sync re-reads (`sync.post_refresh_days`).
    pub post_refresh_days: i64,
    pub lease: Duration,
    pub hourly_budget: i64,
    /// How often a waiting single-agent job checks whether the bulk sync ended.
    pub queue_poll: Duration,
    /// How long an agent waits after its Page's own rate limit when Facebook gives no estimate.
    pub page_limit_default: Duration,
    /// A Page limit longer than this ends the job without that agent (listed as deferred).
    pub page_limit_max_wait: Duration,
    /// On shutdown, how long in-flight agents get to finish before their work is handed back.
    pub shutdown_grace: Duration,
    /// `instagram.enabled`: read each agent's linked Instagram account after its Page.
    pub instagram_enabled: bool,
    /// `instagram.backfill_days`: complete days of account insights read on an account's first sync.
    pub instagram_backfill_days: i64,
}

impl SyncSettings {
    pub fn from_config(c: &Config) -> Self {
        let s = &c.sync;
        let secs = |v: i64| Duration::from_secs(v.max(0) as u64);
        Self {
            batch_size: s.batch_size.max(1) as usize,
            batch_delay: secs(s.batch_delay_secs),
            max_attempts: s.max_attempts.max(1) as u32,
            retry_base_delay: Duration::from_millis(s.retry_base_delay_ms.max(0) as u64),
            bulk_min_interval: secs(s.bulk_min_interval_mins * 60),
            bulk_confirm_window: secs(s.bulk_confirm_hours * 3600),
            agent_min_interval: secs(s.agent_min_interval_mins * 60),
            pause_threshold_pct: s.pause_threshold_pct as u32,
            backfill_days: s.backfill_days,
            lookback_days: s.lookback_days,
            post_refresh_days: s.post_refresh_days.max(1),
            lease: secs(s.lease_secs),
            hourly_budget: c.facebook.hourly_budget(),
            queue_poll: Duration::from_secs(2),
            page_limit_default: secs(s.page_limit_default_mins * 60),
            page_limit_max_wait: secs(s.page_limit_max_wait_mins * 60),
            shutdown_grace: secs(s.shutdown_grace_secs),
            instagram_enabled: c.instagram.enabled,
            instagram_backfill_days: c.instagram.backfill_days.max(1),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobStarted {
    pub job_id: JobId,
    pub total: usize,
    /// For single-agent jobs: the bulk job it waits behind.
    pub queued_behind: Option<JobId>,
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub source: Arc<dyn PageSource>,
    pub cipher: Arc<TokenCipher>,
    pub clock: Arc<dyn Clock>,
    /// Leases guard against a dead process, a wall-clock event shared by every replica, so they are
    /// kept on real time even when a test drives `clock` in jumps.
    pub lease_clock: Arc<dyn Clock>,
    pub settings: SyncSettings,
    pub tz: Tz,
    pub owner: String,
    pub events: broadcast::Sender<SyncEvent>,
    pub budget: Budget,
    pub queries: Option<Arc<Queries>>,
    /// Jobs a runner of this process is running or waiting on: never two runners for one job.
    pub local_jobs: Mutex<HashSet<JobId>>,
    /// Set on shutdown: runners stop claiming agents, finish the ones in flight and let go.
    pub stopping: watch::Sender<bool>,
}

#[derive(Clone)]
pub struct SyncEngine {
    pub(crate) inner: Arc<Inner>,
}

/// Builds a [`SyncEngine`]: `SyncEngine::builder(…).queries(q).lease_clock(c).build()`.
pub struct SyncEngineBuilder {
    store: Arc<dyn Store>,
    source: Arc<dyn PageSource>,
    cipher: Arc<TokenCipher>,
    clock: Arc<dyn Clock>,
    settings: SyncSettings,
    tz: Tz,
    lease_clock: Arc<dyn Clock>,
    queries: Option<Arc<Queries>>,
}

impl SyncEngineBuilder {
    /// Drops the admin cache whenever a sync writes, so replies never lag the database.
    pub fn queries(mut self, queries: Arc<Queries>) -> Self {
        self.queries = Some(queries);
        self
    }

    /// Replaces the wall clock that leases are judged by (tests simulate a dead process with it).
    pub fn lease_clock(mut self, lease_clock: Arc<dyn Clock>) -> Self {
        self.lease_clock = lease_clock;
        self
    }

    pub fn build(self) -> SyncEngine {
        let (events, _) = broadcast::channel(4096);
        let owner = format!("pulso-{}-{}", std::process::id(), crate::admin::random_code(6));
        let budget = Budget::new(self.store.clone(), self.clock.clone(), self.settings.hourly_budget);
        SyncEngine {
            inner: Arc::new(Inner {
                store: self.store,
                source: self.source,
                cipher: self.cipher,
                clock: self.clock,
                lease_clock: self.lease_clock,
                settings: self.settings,
                tz: self.tz,
                owner,
                events,
                budget,
                queries: self.queries,
                local_jobs: Mutex::new(HashSet::new()),
                stopping: watch::Sender::new(false),
            }),
        }
    }
}

impl SyncEngine {
    pub fn new(
        store: Arc<dyn Store>,
        source: Arc<dyn PageSource>,
        cipher: Arc<TokenCipher>,
        clock: Arc<dyn Clock>,
        settings: SyncSettings,
        tz: Tz,
    ) -> Self {
        Self::builder(store, source, cipher, clock, settings, tz).build()
    }

    pub fn builder(
        store: Arc<dyn Store>,
        source: Arc<dyn PageSource>,
        cipher: Arc<TokenCipher>,
        clock: Arc<dyn Clock>,
        settings: SyncSettings,
        tz: Tz,
    ) -> SyncEngineBuilder {
        SyncEngineBuilder {
            store,
            source,
            cipher,
            clock,
            settings,
            tz,
            lease_clock: Arc::new(SystemClock),
            queries: None,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SyncEvent> {
        self.inner.events.subscribe()
    }

    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    pub fn owner(&self) -> &str {
        &self.inner.owner
    }

    /// `/actualizar [confirmar]`: checks the throttles, creates the job and runs it in the background.
    pub async fn request_bulk(&self, requested_by: &str, confirmed: bool) -> Result<JobStarted, SyncRefusal> {
        let inner = &self.inner;
        let now = inner.clock.now();
        if let Some(last) = inner.store.latest_job(JobKind::Bulk).await.map_err(unavailable)? {
            if last.status.is_active() {
                return Err(SyncRefusal::AlreadyRunning);
            }
            let since = (now - last.created_at).to_std().unwrap_or(Duration::ZERO);
            if since < inner.settings.bulk_min_interval {
                return Err(SyncRefusal::TooSoon {
                    wait: inner.settings.bulk_min_interval - since,
                });
            }
        }
        // "The data is fresh" only holds if the last bulk sync brought data for someone.
        if !confirmed && let Some(last) = inner.store.latest_productive_bulk().await.map_err(unavailable)? {
            let since = (now - last.created_at).to_std().unwrap_or(Duration::ZERO);
            if since < inner.settings.bulk_confirm_window {
                return Err(SyncRefusal::NeedsConfirmation {
                    last_ago: hace(last.created_at, now),
                });
            }
        }
        let agents: Vec<AgentId> = inner
            .store
            .agents()
            .await
            .map_err(unavailable)?
            .into_iter()
            .filter(|a| a.is_syncable())
            .map(|a| a.id)
            .collect();
        if agents.is_empty() {
            return Err(SyncRefusal::NoAgents);
        }
        let job = match inner
            .store
            .create_job(JobKind::Bulk, None, requested_by, &agents, now)
            .await
        {
            Ok(job) => job,
            Err(StoreError::Conflict(_)) => return Err(SyncRefusal::AlreadyRunning),
            Err(e) => return Err(unavailable(e)),
        };
        tracing::info!(
            job_id = job.id,
            agents = agents.len(),
            requested_by,
            "sincronización masiva creada"
        );
        self.spawn_job(job.id);
        Ok(JobStarted {
            job_id: job.id,
            total: agents.len(),
            queued_behind: None,
        })
    }

    /// `/actualizar_agente`: one agent, at most every 30 minutes, queued behind a running bulk sync.
    pub async fn request_agent(&self, agent_id: AgentId, requested_by: &str) -> Result<JobStarted, SyncRefusal> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let Some(agent) = inner.store.agent(agent_id).await.map_err(unavailable)? else {
            return Err(SyncRefusal::NoAgents);
        };
        if !agent.is_syncable() {
            return Err(SyncRefusal::NotConnected {
                name: agent.name,
                status: agent.status.label().to_string(),
            });
        }
        // Counted from the last attempt, failed or not, so a failing agent is not retried at will.
        let attempted = inner.store.last_agent_attempt(agent.id).await.map_err(unavailable)?;
        if let Some(last) = agent.last_synced_at.max(attempted) {
            let since = (now - last).to_std().unwrap_or(Duration::ZERO);
            if since < inner.settings.agent_min_interval {
                return Err(SyncRefusal::AgentTooSoon {
                    name: agent.name,
                    wait: inner.settings.agent_min_interval - since,
                });
            }
        }
        let job = match inner
            .store
            .create_job(JobKind::Single, Some(agent.id), requested_by, &[agent.id], now)
            .await
        {
            Ok(job) => job,
            Err(StoreError::Conflict(_)) => return Err(SyncRefusal::AgentBusy { name: agent.name }),
            Err(e) => return Err(unavailable(e)),
        };
        let queued_behind = self.running_bulk().await;
        tracing::info!(
            job_id = job.id,
            agent_id,
            requested_by,
            queued_behind,
            "sincronización de agente creada"
        );
        self.spawn_job(job.id);
        Ok(JobStarted {
            job_id: job.id,
            total: 1,
            queued_behind,
        })
    }

    /// The active bulk job, if any.
    pub async fn running_bulk(&self) -> Option<JobId> {
        let active = self.inner.store.active_jobs().await.ok()?;
        active.into_iter().find(|j| j.kind == JobKind::Bulk).map(|j| j.id)
    }

    /// The agent's active single-agent job, if any.
    pub async fn active_agent_job(&self, agent: AgentId) -> Option<JobId> {
        let active = self.inner.store.active_jobs().await.ok()?;
        active
            .into_iter()
            .find(|j| j.kind == JobKind::Single && j.agent_id == Some(agent))
            .map(|j| j.id)
    }

    /// Runs the job in the background unless a runner of this process already has it.
    fn spawn_job(&self, job_id: JobId) -> bool {
        let Some(guard) = LocalJob::enter(&self.inner, job_id) else {
            return false;
        };
        let engine = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(e) = worker::run_job(&engine, job_id).await {
                tracing::error!(job_id, error = format!("{e:#}"), "la sincronización terminó con error");
            }
        });
        true
    }

    /// Start-up and periodic duty: takes over jobs whose owner died (lease expired or released)
    /// and resumes them from the agents not yet done. A single-agent job waiting behind a running
    /// bulk sync is not orphaned, and a job a runner of this process has is never started twice.
    /// Returns the jobs taken over.
    pub async fn recover(&self) -> anyhow::Result<Vec<JobId>> {
        if self.is_stopping() {
            return Ok(Vec::new());
        }
        let now = self.inner.clock.now();
        let lease_now = self.inner.lease_clock.now();
        let active = self.inner.store.active_jobs().await?;
        let bulk_running = active.iter().any(|j| j.kind == JobKind::Bulk);
        let mut taken = Vec::new();
        for job in &active {
            let orphaned = match job.lease_expires_at {
                Some(expiry) => expiry < lease_now,
                // Released at shutdown: at once. Never leased: its runner died before starting it
                // (a queued single-agent job waits for the bulk sync, so it is not orphaned then).
                None => {
                    job.started_at.is_some()
                        || (!(job.kind == JobKind::Single && bulk_running)
                            && now - job.created_at > ChronoDuration::seconds(30))
                }
            };
            if orphaned && self.spawn_job(job.id) {
                tracing::warn!(job_id = job.id, previous_owner = ?job.lease_owner, "retomando una sincronización interrumpida");
                taken.push(job.id);
            }
        }
        Ok(taken)
    }

    /// Graceful shutdown: stops claiming agents, gives the agents in flight up to
    /// `sync.shutdown_grace` to finish, then hands every job of this process back (leases
    /// released, so another replica or the next start continues at once) and tells the chats
    /// following it that the sync was paused by a restart.
    pub async fn shutdown(&self) {
        self.inner.stopping.send_replace(true);
        let grace = self.inner.settings.shutdown_grace;
        // The runners hand their work back once the grace ends; give them a moment to do so.
        let deadline = tokio::time::Instant::now() + grace + Duration::from_secs(5);
        loop {
            if self
                .inner
                .local_jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
            {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("la sincronización no terminó a tiempo; se devuelve su trabajo");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn is_stopping(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    /// Replicas help with a running bulk job by claiming its pending agents.
    pub async fn assist(&self, job_id: JobId) -> anyhow::Result<usize> {
        if self.is_stopping()
            || self
                .inner
                .local_jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&job_id)
        {
            return Ok(0);
        }
        worker::assist(self, job_id).await
    }

    /// Runs (or resumes) a job to its end and returns its report (None when another runner has
    /// it or this one lost it). Normally called in the background.
    pub async fn run_job(&self, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
        let Some(_guard) = LocalJob::enter(&self.inner, job_id) else {
            return Ok(None);
        };
        worker::run_job(self, job_id).await
    }

    /// The report of a job rebuilt from the store (what the chats that asked receive).
    pub async fn job_report(&self, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
        worker::stored_report(&self.inner, job_id).await
    }
}

/// Marks a job as having a runner in this process for as long as it lives.
struct LocalJob {
    inner: Arc<Inner>,
    job_id: JobId,
}

impl LocalJob {
    fn enter(inner: &Arc<Inner>, job_id: JobId) -> Option<Self> {
        let mut jobs = inner.local_jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.insert(job_id).then(|| Self {
            inner: inner.clone(),
            job_id,
        })
    }
}

impl Drop for LocalJob {
    fn drop(&mut self) {
        let mut jobs = self.inner.local_jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.remove(&self.job_id);
    }
}

fn unavailable(e: StoreError) -> SyncRefusal {
    tracing::error!(error = %e, "base de datos no disponible al pedir una sincronización");
    SyncRefusal::Unavailable
}

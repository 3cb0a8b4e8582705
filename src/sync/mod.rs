//! The sync engine: bulk and single-agent syncs, started only when someone asks, within the Graph
//! API budget, resumable after a crash and shared safely by several replicas on one database.

mod agent;
pub mod budget;
pub mod clock;
pub mod events;
pub mod graph_source;
pub mod source;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use chrono_tz::Tz;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{AgentId, JobId, JobKind, hace};
use crate::queries::Queries;
use crate::store::{Store, StoreError};

pub use budget::{Budget, BudgetGate};
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{AgentNotice, AgentOutcome, JobReport, Progress, SyncEvent, SyncRefusal, countdown};
pub use graph_source::GraphSource;
pub use source::{AgentData, FetchRequest, PageSource, SourceError};

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
    /// Days before a token's expiry when the agent is asked to reconnect (day 50 of 60).
    pub token_warning_days: i64,
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
            token_warning_days: 10,
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
}

#[derive(Clone)]
pub struct SyncEngine {
    pub(crate) inner: Arc<Inner>,
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
        let (events, _) = broadcast::channel(4096);
        let owner = format!("pulso-{}-{}", std::process::id(), crate::admin::random_code(6));
        let budget = Budget::new(store.clone(), clock.clone(), settings.hourly_budget);
        Self {
            inner: Arc::new(Inner {
                store,
                source,
                cipher,
                clock,
                lease_clock: Arc::new(SystemClock),
                settings,
                tz,
                owner,
                events,
                budget,
                queries: None,
            }),
        }
    }

    /// Drops the admin cache whenever a sync writes, so replies never lag the database.
    pub fn with_queries(self, queries: Arc<Queries>) -> Self {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("with_queries before sharing the engine"));
        inner.queries = Some(queries);
        Self { inner: Arc::new(inner) }
    }

    /// Replaces the wall clock that leases are judged by (tests simulate a dead process with it).
    pub fn with_lease_clock(self, lease_clock: Arc<dyn Clock>) -> Self {
        let mut inner =
            Arc::try_unwrap(self.inner).unwrap_or_else(|_| panic!("with_lease_clock before sharing the engine"));
        inner.lease_clock = lease_clock;
        Self { inner: Arc::new(inner) }
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
            if since < inner.settings.bulk_confirm_window && !confirmed {
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
        if let Some(last) = agent.last_synced_at {
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

    pub(crate) async fn running_bulk(&self) -> Option<JobId> {
        let active = self.inner.store.active_jobs().await.ok()?;
        active.into_iter().find(|j| j.kind == JobKind::Bulk).map(|j| j.id)
    }

    fn spawn_job(&self, job_id: JobId) {
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.run_job(job_id).await {
                tracing::error!(job_id, error = format!("{e:#}"), "la sincronización terminó con error");
            }
        });
    }

    /// Start-up and periodic duty: takes over jobs whose owner died (lease expired) and resumes
    /// them from the agents not yet done. Returns the jobs taken over.
    pub async fn recover(&self) -> anyhow::Result<Vec<JobId>> {
        let now = self.inner.clock.now();
        let lease_now = self.inner.lease_clock.now();
        let mut taken = Vec::new();
        for job in self.inner.store.active_jobs().await? {
            let orphaned = match job.lease_expires_at {
                Some(expiry) => expiry < lease_now,
                None => job.lease_owner.is_none() && now - job.created_at > ChronoDuration::seconds(30),
            };
            if orphaned {
                tracing::warn!(job_id = job.id, previous_owner = ?job.lease_owner, "retomando una sincronización interrumpida");
                taken.push(job.id);
                self.spawn_job(job.id);
            }
        }
        Ok(taken)
    }

    /// Replicas help with a running bulk job by claiming its pending agents.
    pub async fn assist(&self, job_id: JobId) -> anyhow::Result<usize> {
        worker::assist(self, job_id).await
    }

    /// Runs (or resumes) a job to its end and returns its report. Normally called in the background.
    pub async fn run_job(&self, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
        worker::run_job(self, job_id).await
    }
}

fn unavailable(e: StoreError) -> SyncRefusal {
    tracing::error!(error = %e, "base de datos no disponible al pedir una sincronización");
    SyncRefusal::Unavailable
}

//! Running a job: batches, retries, pauses at the budget, Page-level deferrals, leases, graceful
//! stops and the final report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::agent::{ItemResult, sync_agent};
use super::events::{AgentOutcome, JobReport, Progress, SyncEvent};
use super::{Inner, SyncEngine};
use crate::domain::{AgentId, ItemStatus, JobId, JobKind, JobStatus, SyncJob};

/// The reason a deferred agent carries when the job ends without it (the report lists it apart).
pub const DEFERRED_REASON: &str = "su página de Facebook alcanzó su límite de llamadas";
/// A Page still limited after this many waits in one run is left for the next sync.
const MAX_DEFERRALS: u32 = 3;
/// Store writes that decide whether a job can end are tried this many times.
const WRITE_ATTEMPTS: u32 = 4;

struct Tracker {
    job: SyncJob,
    total: usize,
    done: usize,
    current: Option<String>,
    started: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
    /// Times each agent was deferred by its Page's limit in this run.
    deferrals: HashMap<AgentId, u32>,
}

impl Tracker {
    fn new(inner: &Inner, job: SyncJob, total: usize, done: usize) -> Mutex<Self> {
        Mutex::new(Tracker {
            total,
            done,
            current: None,
            started: job.started_at.unwrap_or_else(|| inner.clock.now()),
            paused_until: None,
            deferrals: HashMap::new(),
            job,
        })
    }

    fn progress(&self, now: DateTime<Utc>) -> Progress {
        let elapsed = (now - self.started).to_std().unwrap_or(Duration::ZERO);
        let eta = (self.done > 0 && self.done < self.total)
            .then(|| elapsed.mul_f64((self.total - self.done) as f64 / self.done as f64));
        Progress {
            job_id: self.job.id,
            kind: self.job.kind,
            done: self.done,
            total: self.total,
            current_agent: self.current.clone(),
            elapsed,
            eta,
            paused_until: self.paused_until,
        }
    }
}

fn progress_of(inner: &Inner, tracker: &Mutex<Tracker>) -> Progress {
    tracker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .progress(inner.clock.now())
}

/// How driving a job ended.
enum DriveEnd {
    Finished(JobReport),
    /// Another process took the job over (fencing token moved): say nothing, write nothing more.
    Lost,
    /// Shutdown: the work is handed back for another process.
    Stopped,
}

pub(super) async fn run_job(engine: &SyncEngine, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
    let inner = &engine.inner;
    let job = inner.store.job(job_id).await?.context("el trabajo no existe")?;
    if !job.status.is_active() {
        return Ok(None);
    }
    if job.kind == JobKind::Single && !wait_behind_bulk(engine, job_id).await {
        return Ok(None);
    }
    let now = inner.lease_clock.now();
    let Some(fencing) = inner
        .store
        .acquire_job_lease(job_id, &inner.owner, now + inner.settings.lease, now)
        .await?
    else {
        tracing::debug!(job_id, "otro proceso tiene este trabajo");
        return Ok(None);
    };
    // Started before and not by us: a process died (or stopped) with it.
    let taken_over = job.started_at.is_some() && job.lease_owner.as_deref() != Some(inner.owner.as_str());
    if taken_over && let Some(previous) = &job.lease_owner {
        // The chats the dead process was following now get their report from whoever ends the job.
        if let Err(e) = inner.store.unfollow_subscribers(job_id, previous).await {
            tracing::warn!(job_id, error = %e, "no se pudieron reasignar los avisos del trabajo");
        }
    }
    let items = inner.store.job_items(job_id).await?;
    let done = items.iter().filter(|i| i.status.is_done()).count();
    let tracker = Tracker::new(inner, job, items.len(), done);
    let names = agent_names(inner).await?;
    let _ = inner.events.send(SyncEvent::Started(progress_of(inner, &tracker)));
    if taken_over {
        let _ = inner.events.send(SyncEvent::TakenOver { job_id });
    }
    let lost = Arc::new(AtomicBool::new(false));
    // Dropped with this future: a job that is cancelled or crashes stops renewing its lease, so
    // another process can take it over once the lease expires.
    let mut heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        engine.inner.clone(),
        job_id,
        Some(fencing),
        lost.clone(),
    )));
    let end = tokio::select! {
        end = drive(engine, &tracker, fencing, &names) => end?,
        _ = &mut heartbeat.0 => DriveEnd::Lost,
        _ = grace_expired(inner) => DriveEnd::Stopped,
    };
    drop(heartbeat);
    let end = if lost.load(Ordering::SeqCst) {
        DriveEnd::Lost
    } else {
        end
    };
    if let Some(q) = &inner.queries {
        q.invalidate();
    }
    match end {
        DriveEnd::Finished(report) => {
            let _ = inner.events.send(SyncEvent::Finished(report.clone()));
            tracing::info!(
                job_id,
                status = report.status.as_str(),
                synced = report.synced.len(),
                failed = report.failed.len(),
                skipped = report.skipped.len(),
                deferred = report.deferred.len(),
                api_calls = report.api_calls,
                "sincronización terminada"
            );
            Ok(Some(report))
        }
        DriveEnd::Lost => {
            tracing::warn!(job_id, "otro proceso tomó este trabajo; me detengo sin informar");
            let _ = retry(inner, || inner.store.release_owned_items(job_id, &inner.owner)).await;
            Ok(None)
        }
        DriveEnd::Stopped => {
            hand_back(inner, job_id, fencing).await;
            let _ = inner.events.send(SyncEvent::Interrupted(progress_of(inner, &tracker)));
            Ok(None)
        }
    }
}

/// At shutdown: the agents in flight go back to pending, the job's lease is freed and the chats
/// this process followed are left to whichever process ends the job.
async fn hand_back(inner: &Inner, job_id: JobId, fencing: i64) {
    let owner = inner.owner.as_str();
    if let Err(e) = retry(inner, || inner.store.release_owned_items(job_id, owner)).await {
        tracing::error!(job_id, error = %e, "no se pudieron devolver los agentes en curso");
    }
    if let Err(e) = retry(inner, || inner.store.release_job_lease(job_id, fencing)).await {
        tracing::error!(job_id, error = %e, "no se pudo liberar el trabajo");
    }
    if let Err(e) = retry(inner, || inner.store.unfollow_subscribers(job_id, owner)).await {
        tracing::error!(job_id, error = %e, "no se pudieron dejar los avisos del trabajo");
    }
    tracing::info!(
        job_id,
        "sincronización pausada por reinicio; otro proceso la continuará"
    );
}

/// Resolves `sync.shutdown_grace` after shutdown began (never, while running normally).
async fn grace_expired(inner: &Inner) {
    let mut stopping = inner.stopping.subscribe();
    if stopping.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(inner.settings.shutdown_grace).await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits while a bulk sync runs; false if shutdown began meanwhile.
async fn wait_behind_bulk(engine: &SyncEngine, job_id: JobId) -> bool {
    let mut announced = false;
    while let Some(bulk) = engine.running_bulk().await {
        if engine.is_stopping() {
            return false;
        }
        if !announced {
            let _ = engine.inner.events.send(SyncEvent::Queued { job_id, behind: bulk });
            announced = true;
        }
        engine.inner.clock.sleep(engine.inner.settings.queue_poll).await;
    }
    !engine.is_stopping()
}

/// Keeps this process's leases alive while it works: the job's (when it owns the job) and those of
/// the agents it has claimed, which a slow batch (retries, timeouts) could otherwise outlive.
/// Returns only when the job's lease was lost.
async fn heartbeat(inner: Arc<Inner>, job_id: JobId, fencing: Option<i64>, lost: Arc<AtomicBool>) {
    let every = (inner.settings.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = inner.lease_clock.now() + inner.settings.lease;
        if let Some(fencing) = fencing {
            match inner.store.renew_job_lease(job_id, fencing, until).await {
                Ok(true) => {}
                Ok(false) => {
                    lost.store(true, Ordering::SeqCst);
                    return;
                }
                Err(e) => tracing::warn!(job_id, error = %e, "no se pudo renovar el arriendo"),
            }
        }
        if let Err(e) = inner.store.renew_item_leases(job_id, &inner.owner, until).await {
            tracing::warn!(job_id, error = %e, "no se pudo renovar el arriendo de los agentes");
        }
    }
}

async fn drive(
    engine: &SyncEngine,
    tracker: &Mutex<Tracker>,
    fencing: i64,
    names: &HashMap<AgentId, String>,
) -> anyhow::Result<DriveEnd> {
    let inner = &engine.inner;
    let job_id = tracker.lock().unwrap_or_else(|e| e.into_inner()).job.id;
    let mut paused_for = Duration::ZERO;
    loop {
        if engine.is_stopping() {
            return Ok(DriveEnd::Stopped);
        }
        // Before each batch: is the job still ours? A runner that lost it stops here.
        let lease_until = inner.lease_clock.now() + inner.settings.lease;
        if !inner.store.renew_job_lease(job_id, fencing, lease_until).await? {
            return Ok(DriveEnd::Lost);
        }
        let usage = inner.budget.usage().await?;
        if usage.percent() >= inner.settings.pause_threshold_pct as f64 {
            let until = inner.budget.next_window();
            let reason = format!("presupuesto de la API al {:.0} %", usage.percent());
            match pause(engine, tracker, fencing, until, &reason).await? {
                Some(d) => paused_for += d,
                None => return Ok(DriveEnd::Lost),
            }
            continue;
        }
        let claimed = claim_batch(inner, job_id).await?;
        if claimed.is_empty() {
            if inner.store.pending_items(job_id).await? == 0 {
                break;
            }
            wait_for_pending(inner, job_id).await?;
            continue;
        }
        let outcome = run_batch(engine, job_id, &claimed, names, tracker).await;
        // Anything still running under our name after the batch could not be recorded: hand it
        // back so the job never waits on an item nobody works on.
        let stuck = retry(inner, || inner.store.release_owned_items(job_id, &inner.owner)).await?;
        if stuck > 0 {
            tracing::warn!(job_id, stuck, "agentes devueltos a la cola tras un error al guardar");
        }
        if let Some((until, reason)) = outcome.pause_until {
            match pause(engine, tracker, fencing, until, &reason).await? {
                Some(d) => paused_for += d,
                None => return Ok(DriveEnd::Lost),
            }
            continue;
        }
        if outcome.max_usage_pct >= inner.settings.pause_threshold_pct {
            let until = inner.budget.next_window();
            let reason = format!("Facebook informa un uso de la API del {} %", outcome.max_usage_pct);
            match pause(engine, tracker, fencing, until, &reason).await? {
                Some(d) => paused_for += d,
                None => return Ok(DriveEnd::Lost),
            }
            continue;
        }
        if !inner.settings.batch_delay.is_zero() && inner.store.pending_items(job_id).await? > 0 {
            inner.clock.sleep(inner.settings.batch_delay).await;
        }
    }
    let job = tracker.lock().unwrap_or_else(|e| e.into_inner()).job.clone();
    let started = tracker.lock().unwrap_or_else(|e| e.into_inner()).started;
    let report = build_report(inner, &job, names, started, paused_for).await?;
    let error = (!report.failed.is_empty()).then(|| format!("{} agentes fallaron", report.failed.len()));
    let now = inner.clock.now();
    let owned = retry(inner, || {
        inner
            .store
            .set_job_status(job.id, fencing, report.status, None, error.as_deref(), now)
    })
    .await?;
    Ok(if owned {
        DriveEnd::Finished(report)
    } else {
        DriveEnd::Lost
    })
}

/// Nothing to claim but the job is not over: agents are deferred (their Page's limit) or another
/// process runs them. Waits for the earliest deferral, or a short poll.
async fn wait_for_pending(inner: &Inner, job_id: JobId) -> anyhow::Result<()> {
    let now = inner.clock.now();
    let wait = match inner.store.next_deferred(job_id).await? {
        Some(at) if at > now => (at - now).to_std().unwrap_or(Duration::ZERO),
        Some(_) => Duration::ZERO,
        None => inner.settings.queue_poll,
    };
    if wait.is_zero() {
        tokio::task::yield_now().await;
    } else {
        inner.clock.sleep(wait).await;
    }
    Ok(())
}

/// Claims the next batch of this job's agents for this process.
async fn claim_batch(inner: &Inner, job_id: JobId) -> anyhow::Result<Vec<AgentId>> {
    let now = inner.lease_clock.now();
    let until = now + inner.settings.lease;
    Ok(inner
        .store
        .claim_items(
            job_id,
            &inner.owner,
            inner.settings.batch_size as i64,
            until,
            now,
            inner.clock.now(),
        )
        .await?)
}

struct BatchOutcome {
    pause_until: Option<(DateTime<Utc>, String)>,
    max_usage_pct: u32,
}

async fn run_batch(
    engine: &SyncEngine,
    job_id: JobId,
    claimed: &[AgentId],
    names: &HashMap<AgentId, String>,
    tracker: &Mutex<Tracker>,
) -> BatchOutcome {
    let inner = &engine.inner;
    let usage_seen = AtomicU32::new(0);
    let runs = claimed.iter().map(|&agent_id| {
        let usage_seen = &usage_seen;
        async move {
            let name = names
                .get(&agent_id)
                .cloned()
                .unwrap_or_else(|| format!("agente {agent_id}"));
            {
                let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
                t.current = Some(name.clone());
                let _ = inner
                    .events
                    .send(SyncEvent::AgentStarted(t.progress(inner.clock.now())));
            }
            let (result, usage) = sync_agent(inner, agent_id).await;
            usage_seen.fetch_max(usage, Ordering::Relaxed);
            let now = inner.clock.now();
            let recorded = match &result {
                ItemResult::Synced { calls, attempts } => {
                    let outcome = Outcome::new(ItemStatus::Synced, *attempts, *calls, None);
                    record(inner, job_id, agent_id, outcome, now).await
                }
                ItemResult::Failed {
                    reason,
                    calls,
                    attempts,
                } => {
                    let outcome = Outcome::new(ItemStatus::Failed, *attempts, *calls, Some(reason));
                    record(inner, job_id, agent_id, outcome, now).await
                }
                ItemResult::Skipped { reason } => {
                    let outcome = Outcome::new(ItemStatus::Skipped, 0, 0, Some(reason));
                    record(inner, job_id, agent_id, outcome, now).await
                }
                ItemResult::Deferred { after, calls } => {
                    let times = {
                        let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
                        let n = t.deferrals.entry(agent_id).or_insert(0);
                        *n += 1;
                        *n
                    };
                    defer(inner, job_id, agent_id, (*after, times), *calls, now).await
                }
                ItemResult::Paused { .. } => {
                    release(inner, job_id, agent_id).await;
                    false
                }
            };
            if recorded {
                let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
                t.done += 1;
                let _ = inner.events.send(SyncEvent::AgentFinished(t.progress(now)));
            }
            match result {
                ItemResult::Paused { until, reason } => Some((until, reason)),
                _ => None,
            }
        }
    });
    let pauses = join_all(runs).await;
    let pause_until = pauses.into_iter().flatten().max_by_key(|(until, _)| *until);
    BatchOutcome {
        pause_until,
        max_usage_pct: usage_seen.load(Ordering::Relaxed),
    }
}

/// An agent's outcome as written to its item.
struct Outcome<'a> {
    status: ItemStatus,
    attempts: u32,
    calls: u64,
    error: Option<&'a str>,
}

impl<'a> Outcome<'a> {
    fn new(status: ItemStatus, attempts: u32, calls: u64, error: Option<&'a str>) -> Self {
        Self {
            status,
            attempts,
            calls,
            error,
        }
    }
}

/// Records an agent's outcome, retrying store errors; true when it counted for this job.
async fn record(inner: &Inner, job_id: JobId, agent_id: AgentId, o: Outcome<'_>, now: DateTime<Utc>) -> bool {
    let written = retry(inner, || {
        inner.store.finish_item(
            job_id,
            agent_id,
            &inner.owner,
            o.status,
            o.attempts as i64,
            o.calls as i64,
            o.error,
            now,
        )
    })
    .await;
    match written {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(job_id, agent_id, "el agente fue reasignado a otro proceso");
            false
        }
        Err(e) => {
            tracing::error!(job_id, agent_id, error = %e, "no se pudo guardar el resultado del agente; vuelve a la cola");
            release(inner, job_id, agent_id).await;
            false
        }
    }
}

/// Gives an agent back to the job's queue (the batch's sweep catches what this cannot).
async fn release(inner: &Inner, job_id: JobId, agent_id: AgentId) {
    if let Err(e) = retry(inner, || inner.store.release_item(job_id, agent_id, &inner.owner)).await {
        tracing::warn!(job_id, agent_id, error = %e, "no se pudo devolver el agente a la cola");
    }
}

/// The agent's Page hit its own limit (the `times`-th time in this run): it waits `after` while
/// the others go on, or, past `sync.page_limit_max_wait` or after [`MAX_DEFERRALS`], the job ends
/// without it. True when the item counted as done.
async fn defer(
    inner: &Inner,
    job_id: JobId,
    agent_id: AgentId,
    (after, times): (Duration, u32),
    calls: u64,
    now: DateTime<Utc>,
) -> bool {
    if after > inner.settings.page_limit_max_wait || times > MAX_DEFERRALS {
        let resume = now + after;
        let reason = format!(
            "{DEFERRED_REASON}; se podrá actualizar después de las {}",
            resume.with_timezone(&inner.tz).format("%H:%M")
        );
        let outcome = Outcome::new(ItemStatus::Skipped, 1, calls, Some(&reason));
        return record(inner, job_id, agent_id, outcome, now).await;
    }
    let until = now + after;
    tracing::info!(job_id, agent_id, %until, "agente en espera por el límite de su página");
    if let Err(e) = retry(inner, || inner.store.defer_item(job_id, agent_id, &inner.owner, until)).await {
        tracing::warn!(job_id, agent_id, error = %e, "no se pudo aplazar al agente");
        release(inner, job_id, agent_id).await;
    }
    false
}

/// Retries a store write a few times (20 ms, 40 ms, 80 ms on the engine's clock).
async fn retry<T, F, Fut>(inner: &Inner, mut op: F) -> Result<T, crate::store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::store::StoreError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= WRITE_ATTEMPTS => return Err(e),
            Err(e) => {
                tracing::warn!(attempt, error = %e, "escritura fallida; se reintenta");
                inner.clock.sleep(Duration::from_millis(20 << (attempt - 1))).await;
                attempt += 1;
            }
        }
    }
}

/// Pauses the job until `until` (or shutdown). Some(paused time), or None when the job was lost.
async fn pause(
    engine: &SyncEngine,
    tracker: &Mutex<Tracker>,
    fencing: i64,
    until: DateTime<Utc>,
    reason: &str,
) -> anyhow::Result<Option<Duration>> {
    let inner = &engine.inner;
    let job_id = tracker.lock().unwrap_or_else(|e| e.into_inner()).job.id;
    let now = inner.clock.now();
    if !inner
        .store
        .set_job_status(job_id, fencing, JobStatus::Paused, Some(until), None, now)
        .await?
    {
        return Ok(None);
    }
    let progress = {
        let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
        t.paused_until = Some(until);
        t.progress(now)
    };
    tracing::warn!(job_id, %until, reason, "sincronización en pausa");
    let _ = inner.events.send(SyncEvent::Paused {
        progress,
        until,
        reason: reason.to_string(),
    });
    let mut stopping = inner.stopping.subscribe();
    tokio::select! {
        _ = inner.clock.sleep_until(until) => {}
        _ = stopping.wait_for(|s| *s) => return Ok(Some(Duration::ZERO)),
    }
    let resumed = inner.clock.now();
    if !inner
        .store
        .set_job_status(job_id, fencing, JobStatus::Running, None, None, resumed)
        .await?
    {
        return Ok(None);
    }
    let progress = {
        let mut t = tracker.lock().unwrap_or_else(|e| e.into_inner());
        t.paused_until = None;
        t.progress(resumed)
    };
    let _ = inner.events.send(SyncEvent::Resumed(progress));
    Ok(Some((resumed - now).to_std().unwrap_or(Duration::ZERO)))
}

/// The report of a job from its items: synced, failed, skipped, and deferred (skipped because
/// their Page's limit outlasted the job).
async fn build_report(
    inner: &Inner,
    job: &SyncJob,
    names: &HashMap<AgentId, String>,
    started: DateTime<Utc>,
    paused_for: Duration,
) -> anyhow::Result<JobReport> {
    let items = inner.store.job_items(job.id).await?;
    let outcome = |status: ItemStatus, deferred: bool| -> Vec<AgentOutcome> {
        items
            .iter()
            .filter(|i| i.status == status)
            .filter(|i| {
                status != ItemStatus::Skipped
                    || i.error.as_deref().is_some_and(|e| e.starts_with(DEFERRED_REASON)) == deferred
            })
            .map(|i| AgentOutcome {
                agent_id: i.agent_id,
                name: names.get(&i.agent_id).cloned().unwrap_or_default(),
                reason: i.error.clone(),
            })
            .collect()
    };
    let synced = outcome(ItemStatus::Synced, false);
    let failed = outcome(ItemStatus::Failed, false);
    let skipped = outcome(ItemStatus::Skipped, false);
    let deferred = outcome(ItemStatus::Skipped, true);
    let status = JobStatus::from_outcomes(synced.len() as i64, failed.len() as i64);
    let now = job.completed_at.unwrap_or_else(|| inner.clock.now());
    Ok(JobReport {
        job_id: job.id,
        kind: job.kind,
        status: if job.status.is_active() { status } else { job.status },
        api_calls: items.iter().map(|i| i.api_calls).sum(),
        synced,
        failed,
        skipped,
        deferred,
        duration: (now - started).to_std().unwrap_or(Duration::ZERO),
        paused_for,
    })
}

/// A finished job's report rebuilt from the store; None while the job runs or if it is unknown.
pub(super) async fn stored_report(inner: &Inner, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
    let Some(job) = inner.store.job(job_id).await? else {
        return Ok(None);
    };
    if job.status.is_active() {
        return Ok(None);
    }
    let names = agent_names(inner).await?;
    let started = job.started_at.unwrap_or(job.created_at);
    build_report(inner, &job, &names, started, Duration::ZERO)
        .await
        .map(Some)
}

async fn agent_names(inner: &Inner) -> anyhow::Result<HashMap<AgentId, String>> {
    Ok(inner
        .store
        .agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect())
}

/// A replica's help with someone else's running job: claim agents, sync them, until none are left.
pub(super) async fn assist(engine: &SyncEngine, job_id: JobId) -> anyhow::Result<usize> {
    let inner = &engine.inner;
    let Some(job) = inner.store.job(job_id).await? else {
        return Ok(0);
    };
    let names = agent_names(inner).await?;
    let (total, done) = (job.total_agents as usize, job.done_agents() as usize);
    let tracker = Tracker::new(inner, job, total, done);
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        engine.inner.clone(),
        job_id,
        None,
        Arc::new(AtomicBool::new(false)),
    )));
    let mut processed = 0;
    loop {
        if engine.is_stopping() {
            return Ok(processed);
        }
        let usage = inner.budget.usage().await?;
        if usage.percent() >= inner.settings.pause_threshold_pct as f64 {
            return Ok(processed);
        }
        let claimed = claim_batch(inner, job_id).await?;
        if claimed.is_empty() {
            return Ok(processed);
        }
        processed += claimed.len();
        let outcome = run_batch(engine, job_id, &claimed, &names, &tracker).await;
        retry(inner, || inner.store.release_owned_items(job_id, &inner.owner)).await?;
        if outcome.pause_until.is_some() {
            return Ok(processed);
        }
        if !inner.settings.batch_delay.is_zero() {
            inner.clock.sleep(inner.settings.batch_delay).await;
        }
    }
}

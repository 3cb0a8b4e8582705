//! Running a job: batches, retries, pauses at the budget, leases and the final report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::agent::{ItemResult, sync_agent};
use super::events::{AgentOutcome, JobReport, Progress, SyncEvent};
use super::{Inner, SyncEngine};
use crate::domain::{AgentId, ItemStatus, JobId, JobKind, JobStatus, SyncJob};

struct Tracker {
    job: SyncJob,
    total: usize,
    done: usize,
    current: Option<String>,
    started: DateTime<Utc>,
    paused_until: Option<DateTime<Utc>>,
}

impl Tracker {
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

pub(super) async fn run_job(engine: &SyncEngine, job_id: JobId) -> anyhow::Result<Option<JobReport>> {
    let inner = &engine.inner;
    let job = inner.store.job(job_id).await?.context("el trabajo no existe")?;
    if !job.status.is_active() {
        return Ok(None);
    }
    if job.kind == JobKind::Single {
        wait_behind_bulk(engine, job_id).await;
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
    let lost = Arc::new(AtomicBool::new(false));
    // Dropped with this future: a job that is cancelled or crashes stops renewing its lease, so
    // another process can take it over once the lease expires.
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        engine.inner.clone(),
        job_id,
        Some(fencing),
        lost.clone(),
    )));
    let report = drive(engine, job, fencing, &lost).await?;
    if let Some(q) = &inner.queries {
        q.invalidate();
    }
    if let Some(report) = &report {
        let _ = inner.events.send(SyncEvent::Finished(report.clone()));
        tracing::info!(
            job_id,
            status = report.status.as_str(),
            synced = report.synced.len(),
            failed = report.failed.len(),
            skipped = report.skipped.len(),
            api_calls = report.api_calls,
            "sincronización terminada"
        );
    }
    Ok(report)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn wait_behind_bulk(engine: &SyncEngine, job_id: JobId) {
    let mut announced = false;
    while let Some(bulk) = engine.running_bulk().await {
        if !announced {
            let _ = engine.inner.events.send(SyncEvent::Queued { job_id, behind: bulk });
            announced = true;
        }
        engine.inner.clock.sleep(engine.inner.settings.queue_poll).await;
    }
}

/// Keeps this process's leases alive while it works: the job's (when it owns the job) and those of
/// the agents it has claimed, which a slow batch (retries, timeouts) could otherwise outlive.
async fn heartbeat(inner: Arc<Inner>, job_id: JobId, fencing: Option<i64>, lost: Arc<AtomicBool>) {
    let every = (inner.settings.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = inner.lease_clock.now() + inner.settings.lease;
        if let Some(fencing) = fencing {
            match inner.store.renew_job_lease(job_id, fencing, until).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job_id, "otro proceso tomó este trabajo; me detengo");
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
    job: SyncJob,
    fencing: i64,
    lost: &AtomicBool,
) -> anyhow::Result<Option<JobReport>> {
    let inner = &engine.inner;
    let job_id = job.id;
    let names = agent_names(inner).await?;
    let items = inner.store.job_items(job_id).await?;
    let tracker = Mutex::new(Tracker {
        total: items.len(),
        done: items.iter().filter(|i| i.status.is_done()).count(),
        current: None,
        started: job.started_at.unwrap_or_else(|| inner.clock.now()),
        paused_until: None,
        job,
    });
    let now = inner.clock.now();
    let _ = inner
        .events
        .send(SyncEvent::Started(tracker.lock().unwrap().progress(now)));
    let mut paused_for = Duration::ZERO;
    loop {
        if lost.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let usage = inner.budget.usage().await?;
        if usage.percent() >= inner.settings.pause_threshold_pct as f64 {
            let until = inner.budget.next_window();
            let reason = format!("presupuesto de la API al {:.0} %", usage.percent());
            paused_for += pause(inner, &tracker, fencing, until, &reason).await?;
            continue;
        }
        let claimed = claim_batch(inner, job_id).await?;
        if claimed.is_empty() {
            if inner.store.pending_items(job_id).await? == 0 {
                break;
            }
            // Another replica still holds some agents of this job.
            inner.clock.sleep(inner.settings.queue_poll).await;
            continue;
        }
        let outcome = run_batch(engine, job_id, &claimed, &names, &tracker).await;
        if let Some((until, reason)) = outcome.pause_until {
            paused_for += pause(inner, &tracker, fencing, until, &reason).await?;
            continue;
        }
        if outcome.max_usage_pct >= inner.settings.pause_threshold_pct {
            let until = inner.budget.next_window();
            let reason = format!("Facebook informa un uso de la API del {} %", outcome.max_usage_pct);
            paused_for += pause(inner, &tracker, fencing, until, &reason).await?;
            continue;
        }
        if !inner.settings.batch_delay.is_zero() && inner.store.pending_items(job_id).await? > 0 {
            inner.clock.sleep(inner.settings.batch_delay).await;
        }
    }
    finish(inner, &tracker, fencing, &names, paused_for).await.map(Some)
}

/// Claims the next batch of this job's agents for this process.
async fn claim_batch(inner: &Inner, job_id: JobId) -> anyhow::Result<Vec<AgentId>> {
    let now = inner.lease_clock.now();
    let until = now + inner.settings.lease;
    Ok(inner
        .store
        .claim_items(job_id, &inner.owner, inner.settings.batch_size as i64, until, now)
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
    let usage_seen = std::sync::atomic::AtomicU32::new(0);
    let runs = claimed.iter().map(|&agent_id| {
        let usage_seen = &usage_seen;
        async move {
            let name = names
                .get(&agent_id)
                .cloned()
                .unwrap_or_else(|| format!("agente {agent_id}"));
            {
                let mut t = tracker.lock().unwrap();
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
                    finish_item(
                        inner,
                        job_id,
                        agent_id,
                        ItemStatus::Synced,
                        *attempts,
                        *calls,
                        None,
                        now,
                    )
                    .await
                }
                ItemResult::Failed {
                    reason,
                    calls,
                    attempts,
                } => {
                    finish_item(
                        inner,
                        job_id,
                        agent_id,
                        ItemStatus::Failed,
                        *attempts,
                        *calls,
                        Some(reason),
                        now,
                    )
                    .await
                }
                ItemResult::Skipped { reason } => {
                    finish_item(inner, job_id, agent_id, ItemStatus::Skipped, 0, 0, Some(reason), now).await
                }
                ItemResult::Paused { .. } => {
                    if let Err(e) = inner.store.release_item(job_id, agent_id, &inner.owner).await {
                        tracing::warn!(job_id, agent_id, error = %e, "no se pudo devolver el agente a la cola");
                    }
                    false
                }
            };
            if recorded {
                let mut t = tracker.lock().unwrap();
                t.done += 1;
                let _ = inner.events.send(SyncEvent::AgentFinished(t.progress(now)));
            }
            match result {
                ItemResult::Paused { until, reason } => Some((until, reason)),
                _ => None,
            }
        }
    });
    let pauses = futures_join_all(runs).await;
    let pause_until = pauses.into_iter().flatten().max_by_key(|(until, _)| *until);
    BatchOutcome {
        pause_until,
        max_usage_pct: usage_seen.load(Ordering::Relaxed),
    }
}

/// `join_all` without another dependency: the batch is small (≤ batch_size futures).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn finish_item(
    inner: &Inner,
    job_id: JobId,
    agent_id: AgentId,
    status: ItemStatus,
    attempts: u32,
    calls: u64,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    match inner
        .store
        .finish_item(
            job_id,
            agent_id,
            &inner.owner,
            status,
            attempts as i64,
            calls as i64,
            error,
            now,
        )
        .await
    {
        Ok(true) => true,
        Ok(false) => {
            tracing::warn!(job_id, agent_id, "el agente fue reasignado a otro proceso");
            false
        }
        Err(e) => {
            tracing::error!(job_id, agent_id, error = %e, "no se pudo guardar el resultado del agente");
            false
        }
    }
}

async fn pause(
    inner: &Inner,
    tracker: &Mutex<Tracker>,
    fencing: i64,
    until: DateTime<Utc>,
    reason: &str,
) -> anyhow::Result<Duration> {
    let job_id = tracker.lock().unwrap().job.id;
    let now = inner.clock.now();
    inner
        .store
        .set_job_status(job_id, fencing, JobStatus::Paused, Some(until), None, now)
        .await?;
    let progress = {
        let mut t = tracker.lock().unwrap();
        t.paused_until = Some(until);
        t.progress(now)
    };
    tracing::warn!(job_id, %until, reason, "sincronización en pausa");
    let _ = inner.events.send(SyncEvent::Paused {
        progress,
        until,
        reason: reason.to_string(),
    });
    inner.clock.sleep_until(until).await;
    let resumed = inner.clock.now();
    inner
        .store
        .set_job_status(job_id, fencing, JobStatus::Running, None, None, resumed)
        .await?;
    let progress = {
        let mut t = tracker.lock().unwrap();
        t.paused_until = None;
        t.progress(resumed)
    };
    let _ = inner.events.send(SyncEvent::Resumed(progress));
    Ok((resumed - now).to_std().unwrap_or(Duration::ZERO))
}

async fn finish(
    inner: &Inner,
    tracker: &Mutex<Tracker>,
    fencing: i64,
    names: &HashMap<AgentId, String>,
    paused_for: Duration,
) -> anyhow::Result<JobReport> {
    let (job, started) = {
        let t = tracker.lock().unwrap();
        (t.job.clone(), t.started)
    };
    let items = inner.store.job_items(job.id).await?;
    let outcome = |status: ItemStatus| -> Vec<AgentOutcome> {
        items
            .iter()
            .filter(|i| i.status == status)
            .map(|i| AgentOutcome {
                agent_id: i.agent_id,
                name: names.get(&i.agent_id).cloned().unwrap_or_default(),
                reason: i.error.clone(),
            })
            .collect()
    };
    let (synced, failed, skipped) = (
        outcome(ItemStatus::Synced),
        outcome(ItemStatus::Failed),
        outcome(ItemStatus::Skipped),
    );
    let status = JobStatus::from_outcomes(synced.len() as i64, failed.len() as i64);
    let error = (!failed.is_empty()).then(|| format!("{} agentes fallaron", failed.len()));
    let now = inner.clock.now();
    inner
        .store
        .set_job_status(job.id, fencing, status, None, error.as_deref(), now)
        .await?;
    Ok(JobReport {
        job_id: job.id,
        kind: job.kind,
        status,
        api_calls: items.iter().map(|i| i.api_calls).sum(),
        synced,
        failed,
        skipped,
        duration: (now - started).to_std().unwrap_or(Duration::ZERO),
        paused_for,
    })
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
    let tracker = Mutex::new(Tracker {
        total: job.total_agents as usize,
        done: job.done_agents() as usize,
        current: None,
        started: job.started_at.unwrap_or_else(|| inner.clock.now()),
        paused_until: None,
        job,
    });
    let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
        engine.inner.clone(),
        job_id,
        None,
        Arc::new(AtomicBool::new(false)),
    )));
    let mut processed = 0;
    loop {
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
        if outcome.pause_until.is_some() {
            return Ok(processed);
        }
        if !inner.settings.batch_delay.is_zero() {
            inner.clock.sleep(inner.settings.batch_delay).await;
        }
    }
}

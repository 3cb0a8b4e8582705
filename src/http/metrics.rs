//! Prometheus metrics. Counters and the sync histogram are recorded as things happen (sync events,
//! alert notifications, chat commands); gauges that describe the database (budget window, data age,
//! firing alerts) are refreshed from the store on every scrape, so every replica reports the same.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::alerts::Severity;
use crate::domain::{Freshness, JobKind};
use crate::store::{Store, hour_window};
use crate::sync::{Clock, SyncEvent};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const SYNC_DURATION: &str = "pulso_sync_duration_seconds";
const SEVERITIES: [Severity; 4] = [Severity::Info, Severity::Warning, Severity::Urgent, Severity::Critical];

/// Installs pulso's Prometheus recorder as the process-wide `metrics` recorder (once; later calls
/// return the same handle). If another recorder was installed first, pulso's metrics are not
/// collected and this is logged.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(SYNC_DURATION.to_string()),
                    &[5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0],
                )
                .expect("bucket list is not empty");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(e) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error = %e, "ya había otro registrador de métricas; /metrics no verá las de pulso");
            }
            describe();
            handle
        })
        .clone()
}

fn describe() {
    describe_counter!("pulso_sync_jobs_total", "Finished sync jobs by kind and final status.");
    describe_counter!(
        "pulso_sync_agents_total",
        "Agents processed by finished sync jobs, by outcome."
    );
    describe_counter!(
        "pulso_sync_pauses_total",
        "Times a sync paused for the API budget or rate limit."
    );
    describe_counter!("pulso_api_calls_total", "Graph API calls made by finished sync jobs.");
    describe_histogram!(SYNC_DURATION, "Wall time of finished sync jobs, pauses included.");
    describe_counter!("pulso_commands_total", "Chat commands handled, by command and outcome.");
    describe_counter!(
        "pulso_alert_notifications_total",
        "Alert notifications delivered, by channel and severity."
    );
    describe_counter!(
        "pulso_alert_email_failures_total",
        "Alert e-mails that failed after every retry."
    );
    describe_gauge!(
        "pulso_database_up",
        "1 when the database answered the last scrape's ping."
    );
    describe_gauge!(
        "pulso_api_budget_calls_used",
        "Graph API calls reserved in the current hour window."
    );
    describe_gauge!(
        "pulso_api_budget_calls_max",
        "Graph API calls allowed in the current hour window."
    );
    describe_gauge!(
        "pulso_api_budget_usage_ratio",
        "Share of the current hour window's budget used (0-1)."
    );
    describe_gauge!(
        "pulso_api_usage_peak_percent",
        "Highest usage Meta reported in its headers this hour."
    );
    describe_gauge!(
        "pulso_api_rate_limit_hits_24h",
        "Rate-limit answers from the Graph API in the last 24 hour windows."
    );
    describe_gauge!(
        "pulso_agent_data_age_seconds",
        "Seconds since each connected agent's last successful sync."
    );
    describe_gauge!(
        "pulso_agents_outdated",
        "Connected agents with data older than 48 hours or never synced."
    );
    describe_gauge!(
        "pulso_last_bulk_sync_age_seconds",
        "Seconds since the last bulk sync finished."
    );
    describe_gauge!("pulso_alerts_firing", "Alerts firing (condition holding), by severity.");
}

/// Counts a sync event (called by [`crate::alerts::Alerts`] for every event it receives).
pub fn observe_sync_event(event: &SyncEvent) {
    match event {
        SyncEvent::Finished(r) => {
            let kind = kind_label(r.kind);
            counter!("pulso_sync_jobs_total", "kind" => kind, "status" => r.status.as_str()).increment(1);
            for (outcome, n) in [
                ("synced", r.synced.len()),
                ("failed", r.failed.len()),
                ("skipped", r.skipped.len()),
            ] {
                counter!("pulso_sync_agents_total", "outcome" => outcome).increment(n as u64);
            }
            counter!("pulso_api_calls_total").increment(r.api_calls.max(0) as u64);
            histogram!(SYNC_DURATION, "kind" => kind).record(r.duration.as_secs_f64());
        }
        SyncEvent::Paused { .. } => counter!("pulso_sync_pauses_total").increment(1),
        _ => {}
    }
}

fn kind_label(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Bulk => "bulk",
        JobKind::Single => "single",
    }
}

/// For the chat layer: one handled command. `name` is the canonical command without the slash
/// (`ranking`, `mis_metricas`; unknown commands as `desconocido`), `outcome` one of a few fixed
/// words (`ok`, `refused`, `error`), so the label sets stay small.
pub fn record_command(name: &str, outcome: &str) {
    counter!("pulso_commands_total", "command" => name.to_string(), "outcome" => outcome.to_string()).increment(1);
}

pub(crate) fn record_alert_notification(channel: &'static str, severity: &'static str) {
    counter!("pulso_alert_notifications_total", "channel" => channel, "severity" => severity).increment(1);
}

pub(crate) fn record_email_failure() {
    counter!("pulso_alert_email_failures_total").increment(1);
}

pub(crate) fn set_alerts_firing(by_severity: &HashMap<Severity, i64>) {
    for s in SEVERITIES {
        gauge!("pulso_alerts_firing", "severity" => s.as_str()).set(by_severity.get(&s).copied().unwrap_or(0) as f64);
    }
}

/// Refreshes the database-backed gauges. Returns false when the database did not answer.
pub async fn refresh(store: &dyn Store, clock: &dyn Clock, hourly_budget: i64, timeout: Duration) -> bool {
    let ok = tokio::time::timeout(timeout, refresh_inner(store, clock, hourly_budget))
        .await
        .map_err(|_| "tiempo de espera agotado".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match ok {
        Ok(()) => {
            gauge!("pulso_database_up").set(1.0);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "métricas: la base de datos no respondió");
            gauge!("pulso_database_up").set(0.0);
            false
        }
    }
}

async fn refresh_inner(store: &dyn Store, clock: &dyn Clock, hourly_budget: i64) -> anyhow::Result<()> {
    let now = clock.now();
    let window = hour_window(now);
    let usage = store.budget_usage(window).await?;
    let max = usage.map_or(hourly_budget, |u| u.max_calls);
    let used = usage.map_or(0, |u| u.calls_made);
    gauge!("pulso_api_budget_calls_used").set(used as f64);
    gauge!("pulso_api_budget_calls_max").set(max as f64);
    gauge!("pulso_api_budget_usage_ratio").set(if max > 0 { used as f64 / max as f64 } else { 0.0 });
    gauge!("pulso_api_usage_peak_percent").set(usage.map_or(0, |u| u.peak_usage_pct) as f64);
    let hits = store
        .rate_limit_hits_since(window - chrono::Duration::hours(23))
        .await?;
    gauge!("pulso_api_rate_limit_hits_24h").set(hits as f64);

    let mut outdated = 0;
    for a in store.agents().await?.into_iter().filter(|a| a.is_syncable()) {
        if Freshness::of(a.last_synced_at, now).is_older_than_48h() {
            outdated += 1;
        }
        if let Some(last) = a.last_synced_at {
            let age = (now - last).num_seconds().max(0) as f64;
            gauge!("pulso_agent_data_age_seconds", "agent_id" => a.id.to_string()).set(age);
        }
    }
    gauge!("pulso_agents_outdated").set(outdated as f64);
    if let Some(done) = store.latest_job(JobKind::Bulk).await?.and_then(|j| j.completed_at) {
        gauge!("pulso_last_bulk_sync_age_seconds").set((now - done).num_seconds().max(0) as f64);
    }

    let open = store.open_alerts().await?;
    let mut firing: HashMap<Severity, i64> = HashMap::new();
    for a in open.iter().filter(|a| a.cleared_at.is_none()) {
        *firing.entry(a.severity).or_default() += 1;
    }
    set_alerts_firing(&firing);
    Ok(())
}

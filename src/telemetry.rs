//! Logging (human-readable by default, JSON with `log.format = "json"`) and the Prometheus
//! recorder with the functions that count what happens: sync events, commands, alert
//! notifications. They sit here, below alerts, chat and http, so every import points down;
//! `http::metrics` only serves what is recorded.
//!
//! Identifiers are structured fields, never part of the message: `job_id`, `agent_id`, `command`,
//! `alert`/`alert_id`. In JSON they sit at the top level of each line (flattened), so collectors can
//! filter on them. What is never logged: tokens, e-mail bodies, the full text of chat messages.

use std::collections::HashMap;
use std::sync::OnceLock;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;
use crate::domain::JobKind;
use crate::sync::SyncEvent;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

const SYNC_DURATION: &str = "pulso_sync_duration_seconds";

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

/// Counts a sync event (the alert engine calls it for every event it receives).
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

/// For the chat core: one handled command, counted in `pulso_commands_total` and logged with its
/// identifiers (never its arguments: a link code is a secret). `name` is the canonical command
/// without the slash (`ranking`, `mis_metricas`), `outcome` one of `ok`, `refused`, `error`, so the
/// label sets stay small.
pub fn command_handled(
    name: &'static str,
    outcome: &'static str,
    platform: &str,
    user_id: &str,
    agent_id: Option<i64>,
) {
    counter!("pulso_commands_total", "command" => name, "outcome" => outcome).increment(1);
    tracing::info!(command = name, outcome, platform, user_id, agent_id, "comando atendido");
}

pub fn record_alert_notification(channel: &'static str, severity: &'static str) {
    counter!("pulso_alert_notifications_total", "channel" => channel, "severity" => severity).increment(1);
}

pub fn record_email_failure() {
    counter!("pulso_alert_email_failures_total").increment(1);
}

/// Alerts firing per severity label (`info`, `warning`, `urgent`, `critical`); the alert engine
/// sets it on every evaluation, so a scrape never reads the alerts table.
pub fn set_alerts_firing(by_severity: &HashMap<&'static str, i64>, severities: &[&'static str]) {
    for s in severities {
        gauge!("pulso_alerts_firing", "severity" => *s).set(by_severity.get(s).copied().unwrap_or(0) as f64);
    }
}

/// The last database ping's outcome (`/salud`, the gauges' refresh, the alert engine's check).
pub fn set_database_up(up: bool) {
    gauge!("pulso_database_up").set(if up { 1.0 } else { 0.0 });
}

pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    // try_init: tests and embedded uses may already have a subscriber.
    if config.log.format == "json" {
        let _ = json_subscriber(filter, std::io::stderr).try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// One JSON object per line with the event's fields at the top level.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .finish()
}

/// An error and its causes on one line, each cause once: `a: b: c`, skipping a cause whose text
/// the message already carries (thiserror's `"…: {0}"` plus `#[source]` would print it twice).
pub struct Chain<'a, E: ?Sized>(pub &'a E);

impl<E: std::error::Error + ?Sized> std::fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Chain;

    #[derive(Debug, thiserror::Error)]
    #[error("no se pudieron aplicar las migraciones: {0}")]
    struct Outer(#[from] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("la relación agents ya existe")]
    struct Inner;

    #[test]
    fn each_cause_is_printed_once() {
        let error = anyhow::Error::from(Outer(Inner)).context("no se pudo iniciar");
        assert_eq!(
            Chain::<dyn std::error::Error>(error.as_ref()).to_string(),
            "no se pudo iniciar: no se pudieron aplicar las migraciones: la relación agents ya existe"
        );
    }
}

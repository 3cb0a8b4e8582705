//! `/metrics`: renders what [`crate::telemetry`] recorded, plus gauges that describe the database
//! (budget window, data age, last bulk sync), refreshed from the store at most once per
//! `HttpState::gauges_max_age` however often Prometheus scrapes.

use std::time::Duration;

use metrics::gauge;

use crate::domain::{Freshness, JobKind};
use crate::store::{Store, hour_window};
use crate::sync::Clock;
pub use crate::telemetry::install;

/// Refreshes the database-backed gauges. Returns false when the database did not answer.
pub async fn refresh(store: &dyn Store, clock: &dyn Clock, hourly_budget: i64, timeout: Duration) -> bool {
    let ok = tokio::time::timeout(timeout, refresh_inner(store, clock, hourly_budget))
        .await
        .map_err(|_| "tiempo de espera agotado".to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    match ok {
        Ok(()) => {
            crate::telemetry::set_database_up(true);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "métricas: la base de datos no respondió");
            crate::telemetry::set_database_up(false);
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

    Ok(())
}

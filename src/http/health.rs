//! `/salud`: alive if it answers at all; ready when the database answers a ping and every
//! registered chat adapter is connected. Recovers by itself: each request pings again.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::HttpState;
use crate::domain::JobKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdapterStatus {
    pub connected: bool,
    /// Why it is disconnected, in Spanish, without secrets.
    pub detail: Option<String>,
    pub since: DateTime<Utc>,
}

/// The registry the chat adapters (and the lead's wiring) update: one entry per adapter name.
#[derive(Debug, Clone, Default)]
pub struct Health {
    adapters: Arc<RwLock<BTreeMap<String, AdapterStatus>>>,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an adapter's state; `since` changes only when `connected` changes.
    pub fn set_adapter(&self, name: &str, connected: bool, detail: Option<String>) {
        let mut adapters = self.adapters.write().expect("health lock");
        let since = match adapters.get(name) {
            Some(prev) if prev.connected == connected => prev.since,
            _ => Utc::now(),
        };
        adapters.insert(
            name.to_string(),
            AdapterStatus {
                connected,
                detail,
                since,
            },
        );
    }

    /// What an adapter calls to report its state under `name`.
    pub fn hook(&self, name: &str) -> crate::ports::StatusHook {
        let (health, name) = (self.clone(), name.to_string());
        Arc::new(move |connected, detail| health.set_adapter(&name, connected, detail))
    }

    pub fn remove_adapter(&self, name: &str) {
        self.adapters.write().expect("health lock").remove(name);
    }

    pub fn adapters(&self) -> BTreeMap<String, AdapterStatus> {
        self.adapters.read().expect("health lock").clone()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatabaseStatus {
    pub ok: bool,
    pub backend: &'static str,
    pub latency_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastSync {
    pub job_id: i64,
    pub status: &'static str,
    pub finished_at: Option<DateTime<Utc>>,
    pub age_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// "ok" or "no_listo".
    pub status: &'static str,
    pub live: bool,
    pub ready: bool,
    pub version: &'static str,
    pub database: DatabaseStatus,
    pub last_sync: Option<LastSync>,
    pub adapters: BTreeMap<String, AdapterStatus>,
}

pub async fn check(state: &HttpState) -> HealthReport {
    let backend = match state.store.backend() {
        crate::store::Backend::Sqlite => "sqlite",
        crate::store::Backend::Postgres => "postgres",
    };
    let started = std::time::Instant::now();
    let ping = tokio::time::timeout(state.db_timeout, state.store.ping()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let error = match ping {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "la base de datos no respondió en {} s",
            state.db_timeout.as_secs()
        )),
    };
    if let Some(e) = &error {
        tracing::warn!(error = %e, "salud: base de datos no disponible");
    }
    let db_ok = error.is_none();
    let last_sync = if db_ok {
        let now = state.clock.now();
        match tokio::time::timeout(state.db_timeout, state.store.latest_job(JobKind::Bulk)).await {
            Ok(Ok(Some(job))) => Some(LastSync {
                job_id: job.id,
                status: job.status.as_str(),
                finished_at: job.completed_at,
                age_secs: job.completed_at.map(|t| (now - t).num_seconds().max(0)),
            }),
            _ => None,
        }
    } else {
        None
    };
    let adapters = state.health.adapters();
    let ready = db_ok && adapters.values().all(|a| a.connected);
    HealthReport {
        status: if ready { "ok" } else { "no_listo" },
        live: true,
        ready,
        version: env!("CARGO_PKG_VERSION"),
        database: DatabaseStatus {
            ok: db_ok,
            backend,
            latency_ms,
            error,
        },
        last_sync,
        adapters,
    }
}

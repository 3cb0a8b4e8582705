//! The hourly API budget, held in the database so every replica shares it: one call is reserved
//! with one atomic statement before every request, and never refunded (Meta counts failed calls).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};

use super::clock::Clock;
use super::error::SourceError;
use crate::store::{BudgetUsage, Store, StoreResult, hour_window};

#[derive(Clone)]
pub struct Budget {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_calls: i64,
}

impl Budget {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, max_calls: i64) -> Self {
        Self {
            store,
            clock,
            max_calls,
        }
    }

    pub fn max_calls(&self) -> i64 {
        self.max_calls
    }

    /// Usage of the current hour window (zero when nothing was reserved yet).
    pub async fn usage(&self) -> StoreResult<BudgetUsage> {
        let window = hour_window(self.clock.now());
        Ok(self.store.budget_usage(window).await?.unwrap_or(BudgetUsage {
            hour_window: window,
            calls_made: 0,
            max_calls: self.max_calls,
            rate_limit_hits: 0,
            peak_usage_pct: 0,
        }))
    }

    /// The start of the next hour window: when a paused job resumes.
    pub fn next_window(&self) -> DateTime<Utc> {
        hour_window(self.clock.now()) + Duration::hours(1)
    }

    pub async fn record_rate_limit_hit(&self) -> StoreResult<()> {
        let now = self.clock.now();
        self.store
            .record_rate_limit_hit(hour_window(now), self.max_calls, now)
            .await
    }

    pub async fn record_usage_pct(&self, pct: u32) -> StoreResult<()> {
        let now = self.clock.now();
        self.store
            .record_usage_pct(hour_window(now), self.max_calls, pct as i64, now)
            .await
    }

    pub fn gate(&self) -> BudgetGate {
        BudgetGate {
            budget: self.clone(),
            calls: AtomicU64::new(0),
            max_usage_pct: AtomicU32::new(0),
            local_failure: AtomicBool::new(false),
        }
    }
}

/// Handed to a source for one agent: reserves each call and remembers what Meta's headers said.
pub struct BudgetGate {
    budget: Budget,
    calls: AtomicU64,
    max_usage_pct: AtomicU32,
    /// pulso's own database failed before a request went out: no Graph attempt was made.
    local_failure: AtomicBool,
}

impl BudgetGate {
    /// Reserves one call in the current hour window, or says when the next window opens.
    pub async fn before_call(&self) -> Result<(), SourceError> {
        let now = self.budget.clock.now();
        let reserved = self
            .budget
            .store
            .reserve_calls(hour_window(now), self.budget.max_calls, 1, now)
            .await;
        match reserved {
            Ok(Some(_)) => {
                self.calls.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(None) => Err(SourceError::BudgetExhausted {
                resume_at: self.budget.next_window(),
            }),
            Err(e) => {
                self.local_failure.store(true, Ordering::Relaxed);
                tracing::warn!(error = %e, "no se pudo reservar presupuesto de API");
                Err(SourceError::Retriable {
                    reason: "la base de datos no respondió al reservar la llamada".into(),
                })
            }
        }
    }

    /// The highest usage percentage Meta reported (X-App-Usage / X-Business-Use-Case-Usage).
    pub fn observe_usage(&self, pct: u32) {
        self.max_usage_pct.fetch_max(pct, Ordering::Relaxed);
    }

    /// True when a fetch stopped because pulso's own database (e.g. a busy pool) failed, not
    /// Facebook: the engine then does not count it as an attempt.
    pub fn local_failure(&self) -> bool {
        self.local_failure.load(Ordering::Relaxed)
    }

    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn max_usage_pct(&self) -> u32 {
        self.max_usage_pct.load(Ordering::Relaxed)
    }
}

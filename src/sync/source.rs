//! Where agent data comes from. Production: the Graph API client; the engine only needs this seam
//! so it can be driven by tokio's paused clock in scheduling tests.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;

use super::budget::BudgetGate;
use crate::domain::{DailyMetrics, Post};

pub struct FetchRequest {
    pub page_id: String,
    pub token: SecretString,
    /// First day whose Page insights are (re)read.
    pub since: NaiveDate,
    pub until: NaiveDate,
    /// First day whose posts (and their growing lifetime metrics) are re-read; at most `since`.
    pub posts_since: NaiveDate,
    pub tz: Tz,
    /// Insights metrics Facebook refused before; not asked for.
    pub skip_metrics: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AgentData {
    pub days: Vec<DailyMetrics>,
    pub posts: Vec<Post>,
    pub calls: u32,
    pub max_usage_pct: u32,
    /// Insights metrics Facebook refused during this fetch (the rest of the data is here).
    pub refused_metrics: Vec<String>,
}

/// How a fetch failed, in the terms the engine acts on. `reason` is Spanish and safe for chat.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("{reason}")]
    Retriable { reason: String },
    #[error("{reason}")]
    RateLimited {
        reason: String,
        resume_after: Option<std::time::Duration>,
    },
    #[error("presupuesto de llamadas agotado")]
    BudgetExhausted { resume_at: DateTime<Utc> },
    #[error("{reason}")]
    TokenInvalid { reason: String },
    #[error("{reason}")]
    Permission { reason: String },
    #[error("{reason}")]
    NotFound { reason: String },
    #[error("{reason}")]
    Configuration { reason: String },
}

#[async_trait]
pub trait PageSource: Send + Sync + 'static {
    /// Fetches one agent's days and posts; `gate.before_call()` must be awaited before every call.
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError>;
}

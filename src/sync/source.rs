//! Where agent data comes from. Production: the Graph API client; the engine only needs this seam
//! so it can be driven by tokio's paused clock in scheduling tests.

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono_tz::Tz;
use secrecy::SecretString;

use super::budget::BudgetGate;
pub use super::error::SourceError;
use crate::domain::{DailyMetrics, InstagramAccount, InstagramDaily, InstagramMedia, Post};
pub use crate::facebook::InstagramPlan;

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
    /// The Page's linked Instagram professional account, read in the same Page call; `None` when
    /// it has none.
    pub instagram: Option<InstagramAccount>,
}

/// One agent's Instagram read, after its Page.
pub struct InstagramRequest {
    /// The Page token (Instagram is read with it).
    pub token: SecretString,
    pub plan: InstagramPlan,
}

#[derive(Debug, Clone, Default)]
pub struct InstagramData {
    pub days: Vec<InstagramDaily>,
    pub media: Vec<InstagramMedia>,
    pub calls: u32,
    pub max_usage_pct: u32,
    /// Metrics Instagram refused during this fetch, as `instagram:{metric}`.
    pub refused_metrics: Vec<String>,
}

/// How an Instagram read failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InstagramFailure {
    /// (#80002): this account's own limit; only its Instagram calls wait.
    #[error("límite de llamadas de la cuenta de Instagram")]
    AccountLimited { resume_after: Option<std::time::Duration> },
    /// (#10) / (#200) on an Instagram call: the Facebook half is fine.
    #[error("{reason}")]
    Permission { reason: String },
    #[error("{0}")]
    Source(SourceError),
}

#[async_trait]
pub trait PageSource: Send + Sync + 'static {
    /// Fetches one agent's days and posts; `gate.before_call()` must be awaited before every call.
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError>;

    /// Reads one agent's Instagram account (after [`PageSource::fetch`] found it); the same gate
    /// rule applies. Sources that never report an account need not implement it.
    async fn fetch_instagram(
        &self,
        req: &InstagramRequest,
        gate: &BudgetGate,
    ) -> Result<InstagramData, InstagramFailure> {
        let _ = (req, gate);
        Err(InstagramFailure::Source(SourceError::Configuration {
            reason: "esta fuente no lee Instagram".into(),
        }))
    }
}

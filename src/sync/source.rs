//! Where agent data comes from. Production: the Graph API client; the engine only needs this seam
//! so it can be driven by tokio's paused clock in scheduling tests.

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono_tz::Tz;
use secrecy::SecretString;

use super::budget::BudgetGate;
pub use super::error::SourceError;
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

#[async_trait]
pub trait PageSource: Send + Sync + 'static {
    /// Fetches one agent's days and posts; `gate.before_call()` must be awaited before every call.
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError>;
}

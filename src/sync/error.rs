//! How a fetch failed, in the terms the engine acts on (below both the budget and the source).

use chrono::{DateTime, Utc};

/// How a fetch failed, in the terms the engine acts on. `reason` is Spanish and safe for chat.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("{reason}")]
    Retriable { reason: String },
    #[error("{reason}")]
    /// `page_level`: the limit is the Page's own (#80001, #32, BUC), so only this agent waits;
    /// otherwise it is the app's (#4, X-App-Usage) and the whole job pauses.
    RateLimited {
        reason: String,
        resume_after: Option<std::time::Duration>,
        page_level: bool,
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

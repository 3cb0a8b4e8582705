//! The production page source: the Graph API client, metered by the engine's budget gate.

use async_trait::async_trait;

use super::budget::BudgetGate;
use super::source::{
    AgentData, FetchRequest, InstagramData, InstagramFailure, InstagramRequest, PageSource, SourceError,
};
use crate::domain::DateRange;
use crate::facebook::{AgentPlan, CallGate, FetchError, GateClosed, GraphClient, InstagramError};

pub struct GraphSource {
    client: GraphClient,
}

impl GraphSource {
    pub fn new(client: GraphClient) -> Self {
        Self { client }
    }
}

/// Lets the client ask the engine's gate before each request.
struct Metered<'a>(&'a BudgetGate);

impl CallGate for Metered<'_> {
    async fn before_call(&self) -> Result<(), GateClosed> {
        self.0.before_call().await.map_err(|e| match e {
            SourceError::BudgetExhausted { resume_at } => GateClosed {
                resume_at: Some(resume_at),
                reason: "presupuesto de llamadas de la hora agotado".into(),
            },
            other => GateClosed {
                resume_at: None,
                reason: other.to_string(),
            },
        })
    }

    fn observe_usage(&self, pct: u32) {
        self.0.observe_usage(pct);
    }
}

#[async_trait]
impl PageSource for GraphSource {
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError> {
        let plan = AgentPlan {
            insights: DateRange::new(req.since, req.until),
            posts: DateRange::new(req.posts_since.min(req.since), req.until),
            tz: req.tz,
            skip_metrics: req.skip_metrics.clone(),
        };
        let fetched = self
            .client
            .fetch_agent_plan(&req.page_id, &req.token, &plan, &Metered(gate))
            .await;
        match fetched {
            Ok(f) => Ok(AgentData {
                days: f.days,
                posts: f.posts,
                calls: f.calls,
                max_usage_pct: f.max_usage_pct,
                refused_metrics: f.refused_metrics,
                instagram: f.instagram,
            }),
            Err(e) => {
                if let Some(trace) = e.fbtrace_id() {
                    tracing::info!(fbtrace_id = trace, error = %e, "Graph API error");
                }
                Err(classify(e))
            }
        }
    }

    async fn fetch_instagram(
        &self,
        req: &InstagramRequest,
        gate: &BudgetGate,
    ) -> Result<InstagramData, InstagramFailure> {
        let fetched = self.client.fetch_instagram(&req.token, &req.plan, &Metered(gate)).await;
        match fetched {
            Ok(f) => Ok(InstagramData {
                days: f.days,
                media: f.media,
                calls: f.calls,
                max_usage_pct: f.max_usage_pct,
                refused_metrics: f.refused_metrics,
            }),
            Err(InstagramError::RateLimited { resume_after, .. }) => {
                Err(InstagramFailure::AccountLimited { resume_after })
            }
            Err(InstagramError::Permission { message, .. }) => {
                tracing::info!(error = %message, "Instagram permission missing");
                Err(InstagramFailure::Permission {
                    reason: INSTAGRAM_PERMISSION_PROBLEM.to_string(),
                })
            }
            Err(InstagramError::Fetch { error, .. }) => {
                if let Some(trace) = error.fbtrace_id() {
                    tracing::info!(fbtrace_id = trace, error = %error, "Graph API error on Instagram");
                }
                Err(InstagramFailure::Source(classify(error)))
            }
        }
    }
}

/// What the sync shows when Instagram refuses for lack of permission.
pub const INSTAGRAM_PERMISSION_PROBLEM: &str =
    "falta el permiso instagram_manage_insights: vuelve a conectar con /conectar";

fn classify(e: FetchError) -> SourceError {
    let reason = e.user_reason();
    match e {
        FetchError::Retriable { .. } | FetchError::BadResponse { .. } => SourceError::Retriable { reason },
        FetchError::RateLimited { code, resume_after, .. } => SourceError::RateLimited {
            reason,
            resume_after,
            page_level: crate::facebook::is_page_limit(code),
        },
        FetchError::TokenInvalid { .. } => SourceError::TokenInvalid { reason },
        FetchError::Permission { .. } => SourceError::Permission { reason },
        FetchError::NotFound { .. } => SourceError::NotFound { reason },
        FetchError::Configuration { .. } => SourceError::Configuration { reason },
        FetchError::Gate(GateClosed {
            resume_at: Some(resume_at),
            ..
        }) => SourceError::BudgetExhausted { resume_at },
        FetchError::Gate(GateClosed { reason, .. }) => SourceError::Retriable { reason },
    }
}

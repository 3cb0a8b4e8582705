//! PostgreSQL store: production, Supabase included (direct connection or session pooler).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::common::*;
use super::rows::*;
use super::{AgentPost, BudgetUsage, NewAgent, StoreError, StoreResult, Upserted};
use crate::config::redact_url;
use crate::domain::{
    Agent, AgentId, AgentTotals, ConnectionStatus, DailyMetrics, DateRange, ItemStatus, JobId, JobItem, JobKind,
    JobStatus, Post, SyncJob,
};

#[derive(Clone, Debug)]
pub struct PgStore {
    pub(crate) pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// SKIP LOCKED lets several replicas claim different items of one job at the same moment.
const CLAIM_ITEMS: &str = "UPDATE sync_job_items SET status = 'running', lease_owner = $2, lease_expires_at = $3 \
     WHERE job_id = $1 AND agent_id IN (SELECT agent_id FROM sync_job_items WHERE job_id = $1 \
       AND ((status = 'pending' AND (deferred_until IS NULL OR deferred_until <= $6)) \
       OR (status = 'running' AND lease_expires_at < $4)) ORDER BY position LIMIT $5 \
       FOR UPDATE SKIP LOCKED) \
     RETURNING agent_id, position";

impl_store!(
    PgStore,
    super::Backend::Postgres,
    sqlx::migrate!("migrations/postgres"),
    CLAIM_ITEMS
);

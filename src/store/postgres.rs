//! PostgreSQL store: production, Supabase included (direct connection or session pooler).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

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
            // Secrets live in `pulso_private`; a SET (not a startup option) works through Supavisor's
            // session pooler too.
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(SEARCH_PATH).await?;
                    Ok(())
                })
            })
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

    /// sqlx's bookkeeping table lives in `pulso_private`, out of reach of Supabase's API roles (in
    /// `public` anyone with the anon key could rewrite it and stop pulso from starting). A database
    /// migrated by an earlier pulso has it in `public`: it moves, rows included, before the run.
    async fn before_migrations(&self) -> StoreResult<()> {
        sqlx::raw_sql(MOVE_MIGRATIONS_TABLE).execute(&self.pool).await?;
        Ok(())
    }
}

const SEARCH_PATH: &str = "SET search_path TO public, pulso_private";

/// Where sqlx records applied migrations.
pub const MIGRATIONS_TABLE: &str = "pulso_private._sqlx_migrations";

/// One transaction, serialised across replicas by a transaction-level advisory lock.
const MOVE_MIGRATIONS_TABLE: &str = "BEGIN; \
     SELECT pg_advisory_xact_lock(7007001); \
     CREATE SCHEMA IF NOT EXISTS pulso_private; \
     DO $$ BEGIN \
       IF to_regclass('public._sqlx_migrations') IS NOT NULL \
          AND to_regclass('pulso_private._sqlx_migrations') IS NULL THEN \
         ALTER TABLE public._sqlx_migrations SET SCHEMA pulso_private; \
       END IF; \
     END $$; \
     COMMIT;";

fn migrator() -> Migrator {
    let mut migrator = sqlx::migrate!("migrations/postgres");
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// SKIP LOCKED lets several replicas claim different items of one job at the same moment.
const CLAIM_ITEMS: &str = "UPDATE sync_job_items SET status = 'running', lease_owner = $2, lease_expires_at = $3 \
     WHERE job_id = $1 AND agent_id IN (SELECT agent_id FROM sync_job_items WHERE job_id = $1 \
       AND ((status = 'pending' AND (deferred_until IS NULL OR deferred_until <= $6)) \
       OR (status = 'running' AND lease_expires_at < $4)) ORDER BY position LIMIT $5 \
       FOR UPDATE SKIP LOCKED) \
     RETURNING agent_id, position";

impl_store!(PgStore, super::Backend::Postgres, migrator(), CLAIM_ITEMS);

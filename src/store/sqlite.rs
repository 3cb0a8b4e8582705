//! SQLite store: the embedded default. One file, WAL, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::common::*;
use super::rows::*;
use super::{AgentPost, BudgetUsage, NewAgent, StoreError, StoreResult, Upserted};
use crate::domain::{
    Agent, AgentId, AgentTotals, ConnectionStatus, DailyMetrics, DateRange, ItemStatus, JobId, JobItem, JobKind,
    JobStatus, Post, SyncJob,
};

#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (and creates, with its folder) the database file named by a `sqlite://` URL.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let connect_err = |source| StoreError::Connect {
            url: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 32 MiB page cache per connection: team aggregates read a few MB of index pages.
            .pragma("cache_size", "-32768");
        let file = options.get_filename();
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::create_dir_all(dir).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Nothing to prepare: SQLite keeps sqlx's table where sqlx puts it.
    async fn before_migrations(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// SQLite serialises writers, so a single UPDATE … RETURNING claims atomically.
const CLAIM_ITEMS: &str = "UPDATE sync_job_items SET status = 'running', lease_owner = $2, lease_expires_at = $3 \
     WHERE job_id = $1 AND agent_id IN (SELECT agent_id FROM sync_job_items WHERE job_id = $1 \
       AND ((status = 'pending' AND (deferred_until IS NULL OR deferred_until <= $6)) \
       OR (status = 'running' AND lease_expires_at < $4)) ORDER BY position LIMIT $5) \
     RETURNING agent_id, position";

impl_store!(
    SqliteStore,
    super::Backend::Sqlite,
    sqlx::migrate!("migrations/sqlite"),
    CLAIM_ITEMS
);

//! Sync jobs, their items and leases, and the hourly API budget: the SQL both backends share,
//! expanded into `impl_store!` by `job_methods!`. `$claim_sql` is each backend's claim statement
//! (PostgreSQL adds `SKIP LOCKED`).

macro_rules! job_methods {
    ($store:ty, $claim_sql:expr) => {
        impl $store {
            pub(crate) async fn reserve_calls_sql(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                n: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<BudgetUsage>> {
                if n > max_calls || n < 0 {
                    return Ok(None);
                }
                let row: Option<BudgetRow> = sqlx::query_as(concat!(
                    "INSERT INTO api_rate_limits (hour_window, max_calls, calls_made, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (hour_window) DO UPDATE \
                       SET calls_made = api_rate_limits.calls_made + excluded.calls_made, \
                           max_calls = excluded.max_calls, updated_at = excluded.updated_at \
                       WHERE api_rate_limits.calls_made + excluded.calls_made <= excluded.max_calls \
                     RETURNING ",
                    budget_columns!()
                ))
                .bind(hour_window)
                .bind(max_calls)
                .bind(n)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(BudgetUsage::from))
            }

            pub(crate) async fn budget_usage_sql(&self, hour_window: DateTime<Utc>) -> StoreResult<Option<BudgetUsage>> {
                let row: Option<BudgetRow> =
                    sqlx::query_as(concat!("SELECT ", budget_columns!(), " FROM api_rate_limits WHERE hour_window = $1"))
                        .bind(hour_window)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(BudgetUsage::from))
            }

            pub(crate) async fn record_rate_limit_hit_sql(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_rate_limits (hour_window, max_calls, calls_made, rate_limit_hits, updated_at) \
                     VALUES ($1, $2, 0, 1, $3) \
                     ON CONFLICT (hour_window) DO UPDATE SET rate_limit_hits = api_rate_limits.rate_limit_hits + 1, \
                       updated_at = excluded.updated_at",
                )
                .bind(hour_window)
                .bind(max_calls)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn record_usage_pct_sql(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                pct: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO api_rate_limits (hour_window, max_calls, calls_made, peak_usage_pct, updated_at) \
                     VALUES ($1, $2, 0, $3, $4) \
                     ON CONFLICT (hour_window) DO UPDATE SET peak_usage_pct = CASE \
                       WHEN excluded.peak_usage_pct > api_rate_limits.peak_usage_pct THEN excluded.peak_usage_pct \
                       ELSE api_rate_limits.peak_usage_pct END, updated_at = excluded.updated_at",
                )
                .bind(hour_window)
                .bind(max_calls)
                .bind(pct)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn rate_limit_hits_since_sql(&self, since: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(rate_limit_hits), 0) AS BIGINT) FROM api_rate_limits WHERE hour_window >= $1",
                )
                .bind(since)
                .fetch_one(&self.pool)
                .await?)
            }

            pub(crate) async fn create_job_sql(
                &self,
                kind: JobKind,
                agent: Option<AgentId>,
                requested_by: &str,
                agents: &[AgentId],
                now: DateTime<Utc>,
            ) -> StoreResult<SyncJob> {
                let mut tx = self.pool.begin().await?;
                let created: Result<i64, sqlx::Error> = sqlx::query_scalar(
                    "INSERT INTO sync_jobs (kind, status, agent_id, requested_by, total_agents, created_at) \
                     VALUES ($1, 'pending', $2, $3, $4, $5) RETURNING id",
                )
                .bind(kind.as_str())
                .bind(agent)
                .bind(requested_by)
                .bind(agents.len() as i64)
                .bind(now)
                .fetch_one(&mut *tx)
                .await;
                let id = match created.map_err(StoreError::from) {
                    Ok(id) => id,
                    Err(e) if e.is_unique_violation() => {
                        return Err(StoreError::Conflict("ya hay una sincronización activa".into()));
                    }
                    Err(e) => return Err(e),
                };
                for (position, agent_id) in agents.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO sync_job_items (job_id, agent_id, status, position) VALUES ($1, $2, 'pending', $3)",
                    )
                    .bind(id)
                    .bind(agent_id)
                    .bind(position as i64)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                self.job_sql(id).await?.ok_or_else(|| StoreError::NotFound(format!("trabajo {id}")))
            }

            pub(crate) async fn job_sql(&self, id: JobId) -> StoreResult<Option<SyncJob>> {
                let row: Option<JobRow> = sqlx::query_as(concat!("SELECT ", job_columns!(), " FROM sync_jobs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(SyncJob::try_from).transpose()
            }

            pub(crate) async fn latest_job_sql(&self, kind: JobKind) -> StoreResult<Option<SyncJob>> {
                let row: Option<JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM sync_jobs WHERE kind = $1 ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(SyncJob::try_from).transpose()
            }

            pub(crate) async fn recent_jobs_sql(&self, limit: i64) -> StoreResult<Vec<SyncJob>> {
                let rows: Vec<JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM sync_jobs ORDER BY created_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(SyncJob::try_from).collect()
            }

            pub(crate) async fn active_jobs_sql(&self) -> StoreResult<Vec<SyncJob>> {
                let rows: Vec<JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM sync_jobs WHERE status IN ('pending', 'running', 'paused') ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(SyncJob::try_from).collect()
            }

            pub(crate) async fn acquire_job_lease_sql(
                &self,
                id: JobId,
                owner: &str,
                until: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar(
                    "UPDATE sync_jobs SET lease_owner = $2, lease_expires_at = $3, fencing_token = fencing_token + 1, \
                       status = CASE WHEN status = 'pending' THEN 'running' ELSE status END, \
                       started_at = COALESCE(started_at, $4) \
                     WHERE id = $1 AND status IN ('pending', 'running', 'paused') \
                       AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < $4) \
                     RETURNING fencing_token",
                )
                .bind(id)
                .bind(owner)
                .bind(until)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }

            pub(crate) async fn renew_job_lease_sql(&self, id: JobId, fencing: i64, until: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE sync_jobs SET lease_expires_at = $3 WHERE id = $1 AND fencing_token = $2 \
                       AND status IN ('pending', 'running', 'paused')",
                )
                .bind(id)
                .bind(fencing)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn set_job_status_sql(
                &self,
                id: JobId,
                fencing: i64,
                status: JobStatus,
                paused_until: Option<DateTime<Utc>>,
                error: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let finished = !status.is_active();
                let done = sqlx::query(
                    "UPDATE sync_jobs SET status = $3, paused_until = $4, error_message = COALESCE($5, error_message), \
                       completed_at = CASE WHEN $6 THEN $7 ELSE completed_at END, \
                       lease_owner = CASE WHEN $6 THEN NULL ELSE lease_owner END, \
                       lease_expires_at = CASE WHEN $6 THEN NULL ELSE lease_expires_at END \
                     WHERE id = $1 AND fencing_token = $2",
                )
                .bind(id)
                .bind(fencing)
                .bind(status.as_str())
                .bind(paused_until)
                .bind(error)
                .bind(finished)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn claim_items_sql(
                &self,
                job: JobId,
                owner: &str,
                n: i64,
                lease_until: DateTime<Utc>,
                now: DateTime<Utc>,
                ready_at: DateTime<Utc>,
            ) -> StoreResult<Vec<AgentId>> {
                let mut claimed: Vec<(i64, i64)> = sqlx::query_as($claim_sql)
                    .bind(job)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(n)
                    .bind(ready_at)
                    .fetch_all(&self.pool)
                    .await?;
                claimed.sort_by_key(|(_, position)| *position);
                Ok(claimed.into_iter().map(|(agent, _)| agent).collect())
            }

            #[allow(clippy::too_many_arguments)]
            pub(crate) async fn finish_item_sql(
                &self,
                job: JobId,
                agent: AgentId,
                owner: &str,
                status: ItemStatus,
                attempts: i64,
                api_calls: i64,
                error: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE sync_job_items SET status = $4, attempts = $5, api_calls = api_calls + $6, error = $7, \
                       finished_at = $8, lease_owner = NULL, lease_expires_at = NULL \
                     WHERE job_id = $1 AND agent_id = $2 AND lease_owner = $3 AND status = 'running'",
                )
                .bind(job)
                .bind(agent)
                .bind(owner)
                .bind(status.as_str())
                .bind(attempts)
                .bind(api_calls)
                .bind(error)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    // Counters move by one per finished item, so a job's bookkeeping stays O(1) per agent.
                    sqlx::query(
                        "UPDATE sync_jobs SET \
                           synced_agents = synced_agents + CASE WHEN $2 = 'synced' THEN 1 ELSE 0 END, \
                           failed_agents = failed_agents + CASE WHEN $2 = 'failed' THEN 1 ELSE 0 END, \
                           skipped_agents = skipped_agents + CASE WHEN $2 = 'skipped' THEN 1 ELSE 0 END, \
                           api_calls = api_calls + $3 \
                         WHERE id = $1",
                    )
                    .bind(job)
                    .bind(status.as_str())
                    .bind(api_calls)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn renew_item_leases_sql(&self, job: JobId, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE sync_job_items SET lease_expires_at = $3 \
                     WHERE job_id = $1 AND lease_owner = $2 AND status = 'running'",
                )
                .bind(job)
                .bind(owner)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            pub(crate) async fn release_item_sql(&self, job: JobId, agent: AgentId, owner: &str) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sync_job_items SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL \
                     WHERE job_id = $1 AND agent_id = $2 AND lease_owner = $3 AND status = 'running'",
                )
                .bind(job)
                .bind(agent)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn pending_items_sql(&self, job: JobId) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sync_job_items WHERE job_id = $1 AND status IN ('pending', 'running')",
                )
                .bind(job)
                .fetch_one(&self.pool)
                .await?)
            }

            pub(crate) async fn defer_item_sql(
                &self,
                job: JobId,
                agent: AgentId,
                owner: &str,
                until: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE sync_job_items SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, \
                       deferred_until = $4 \
                     WHERE job_id = $1 AND agent_id = $2 AND lease_owner = $3 AND status = 'running'",
                )
                .bind(job)
                .bind(agent)
                .bind(owner)
                .bind(until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn next_deferred_sql(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar(
                    "SELECT MIN(deferred_until) FROM sync_job_items \
                     WHERE job_id = $1 AND status = 'pending' AND deferred_until IS NOT NULL",
                )
                .bind(job)
                .fetch_one(&self.pool)
                .await?)
            }

            pub(crate) async fn release_owned_items_sql(&self, job: JobId, owner: &str) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE sync_job_items SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL \
                     WHERE job_id = $1 AND lease_owner = $2 AND status = 'running'",
                )
                .bind(job)
                .bind(owner)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            pub(crate) async fn release_job_lease_sql(&self, id: JobId, fencing: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE sync_jobs SET lease_owner = NULL, lease_expires_at = NULL \
                     WHERE id = $1 AND fencing_token = $2 AND status IN ('pending', 'running', 'paused')",
                )
                .bind(id)
                .bind(fencing)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn last_agent_attempt_sql(&self, agent: AgentId) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar(
                    "SELECT MAX(finished_at) FROM sync_job_items WHERE agent_id = $1 AND status IN ('synced', 'failed')",
                )
                .bind(agent)
                .fetch_one(&self.pool)
                .await?)
            }

            pub(crate) async fn latest_productive_bulk_sql(&self) -> StoreResult<Option<SyncJob>> {
                let row: Option<JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM sync_jobs WHERE kind = 'manual_all' AND synced_agents > 0 \
                     ORDER BY created_at DESC, id DESC LIMIT 1"
                ))
                .fetch_optional(&self.pool)
                .await?;
                row.map(SyncJob::try_from).transpose()
            }

            pub(crate) async fn add_job_subscriber_sql(
                &self,
                sub: &$crate::store::NewSubscriber,
                now: DateTime<Utc>,
            ) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "INSERT INTO job_subscribers (job_id, platform, chat_id, requested_by, follower, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(sub.job_id)
                .bind(&sub.platform)
                .bind(&sub.chat_id)
                .bind(&sub.requested_by)
                .bind(&sub.follower)
                .bind(now)
                .fetch_one(&self.pool)
                .await?)
            }

            pub(crate) async fn claim_job_subscriber_sql(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE job_subscribers SET delivered_at = $2 WHERE id = $1 AND delivered_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn unclaim_job_subscriber_sql(&self, id: i64) -> StoreResult<()> {
                sqlx::query("UPDATE job_subscribers SET delivered_at = NULL, follower = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub(crate) async fn undelivered_subscribers_sql(&self) -> StoreResult<Vec<$crate::store::JobSubscriber>> {
                let rows: Vec<(i64, i64, String, String, String, Option<String>, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT s.id, s.job_id, s.platform, s.chat_id, s.requested_by, s.follower, j.completed_at \
                     FROM job_subscribers s JOIN sync_jobs j ON j.id = s.job_id \
                     WHERE s.delivered_at IS NULL AND j.status IN ('completed', 'partial', 'failed') ORDER BY s.id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, job_id, platform, chat_id, requested_by, follower, job_completed_at)| {
                        $crate::store::JobSubscriber {
                            id,
                            job_id,
                            platform,
                            chat_id,
                            requested_by,
                            follower,
                            job_completed_at,
                        }
                    })
                    .collect())
            }

            pub(crate) async fn unfollow_subscribers_sql(&self, job: JobId, follower: &str) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE job_subscribers SET follower = NULL WHERE job_id = $1 AND follower = $2 AND delivered_at IS NULL",
                )
                .bind(job)
                .bind(follower)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            pub(crate) async fn claim_job_summary_sql(&self, job: JobId, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE sync_jobs SET summary_claimed_at = $2 WHERE id = $1 AND summary_claimed_at IS NULL",
                )
                .bind(job)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn job_items_sql(&self, job: JobId) -> StoreResult<Vec<JobItem>> {
                let rows: Vec<ItemRow> = sqlx::query_as(
                    "SELECT agent_id, status, attempts, api_calls, error, position FROM sync_job_items \
                     WHERE job_id = $1 ORDER BY position",
                )
                .bind(job)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(JobItem::try_from).collect()
            }
        }
    };
}

pub(crate) use job_methods;

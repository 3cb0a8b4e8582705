//! What the weekly and monthly team reports read: when the previous bulk sync ended and how the
//! Graph API was used over a month (the SQL both backends share, expanded into `impl_store!` by
//! `report_methods!`).

/// API use and syncs over a span of time: the monthly report's statistics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiUsageSummary {
    pub calls_made: i64,
    /// Hour windows in which at least one call was made.
    pub active_hours: i64,
    pub busiest_hour_calls: i64,
    /// The hourly budget in force (the highest seen in the span).
    pub hourly_budget: i64,
    /// "Too many calls" answers from Facebook.
    pub rate_limit_hits: i64,
    /// The highest usage percentage Facebook reported in its headers.
    pub peak_usage_pct: i64,
    pub bulk_syncs: i64,
    pub single_syncs: i64,
    /// Agents that failed, summed over the span's syncs.
    pub failed_agents: i64,
}

macro_rules! report_methods {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn previous_bulk_finished_at_sql(
                &self,
                job: JobId,
            ) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(sqlx::query_scalar(
                    "SELECT completed_at FROM sync_jobs WHERE kind = 'manual_all' AND id < $1 \
                       AND synced_agents > 0 AND completed_at IS NOT NULL ORDER BY id DESC LIMIT 1",
                )
                .bind(job)
                .fetch_optional(&self.pool)
                .await?)
            }

            pub(crate) async fn api_usage_between_sql(
                &self,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> StoreResult<$crate::store::ApiUsageSummary> {
                let (calls_made, active_hours, busiest_hour_calls, hourly_budget, rate_limit_hits, peak_usage_pct): (
                    i64,
                    i64,
                    i64,
                    i64,
                    i64,
                    i64,
                ) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(calls_made), 0) AS BIGINT), \
                       CAST(COALESCE(SUM(CASE WHEN calls_made > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
                       CAST(COALESCE(MAX(calls_made), 0) AS BIGINT), CAST(COALESCE(MAX(max_calls), 0) AS BIGINT), \
                       CAST(COALESCE(SUM(rate_limit_hits), 0) AS BIGINT), \
                       CAST(COALESCE(MAX(peak_usage_pct), 0) AS BIGINT) \
                     FROM api_rate_limits WHERE hour_window >= $1 AND hour_window < $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
                let (bulk_syncs, single_syncs, failed_agents): (i64, i64, i64) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(CASE WHEN kind = 'manual_all' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                       CAST(COALESCE(SUM(CASE WHEN kind = 'manual_single' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                       CAST(COALESCE(SUM(failed_agents), 0) AS BIGINT) \
                     FROM sync_jobs WHERE created_at >= $1 AND created_at < $2",
                )
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await?;
                Ok($crate::store::ApiUsageSummary {
                    calls_made,
                    active_hours,
                    busiest_hour_calls,
                    hourly_budget,
                    rate_limit_hits,
                    peak_usage_pct,
                    bulk_syncs,
                    single_syncs,
                    failed_agents,
                })
            }
        }
    };
}

pub(crate) use report_methods;

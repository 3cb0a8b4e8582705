//! The SQL both backends share. SQLite (≥ 3.35) and PostgreSQL agree on `$n` placeholders,
//! `INSERT … ON CONFLICT … DO UPDATE … WHERE`, `RETURNING` and `CAST(… AS BIGINT)`, so each
//! statement is written once and `impl_store!` instantiates it for each pool type.

macro_rules! agent_columns {
    () => {
        "id, name, email, role, facebook_page_id, instagram_account_id, instagram_username, \
         instagram_paused_until, instagram_problem, status, status_reason, token_expires_at, last_synced_at, \
         created_at"
    };
}

macro_rules! metric_columns {
    () => {
        "date, followers, impressions, reach, engaged_users, posts, reactions, comments, shares, \
         link_clicks, whatsapp_clicks, engagement_rate"
    };
}

/// Sums of a period; `followers` is the last known value in the range, not a sum. A Page metric's
/// sum is NULL when no day of the range knows it (SQL's SUM skips NULLs), and its known days are
/// counted.
macro_rules! totals_select {
    () => {
        "SELECT m.agent_id, \
           (SELECT l.followers FROM facebook_metrics_daily l \
             WHERE l.agent_id = m.agent_id AND l.date BETWEEN $1 AND $2 AND l.followers IS NOT NULL \
             ORDER BY l.date DESC LIMIT 1) AS followers, \
           CAST(SUM(m.impressions) AS BIGINT) AS impressions, \
           CAST(SUM(m.reach) AS BIGINT) AS reach, \
           CAST(SUM(m.engaged_users) AS BIGINT) AS engaged_users, \
           CAST(COUNT(m.impressions) AS BIGINT) AS impressions_days, \
           CAST(COUNT(m.reach) AS BIGINT) AS reach_days, \
           CAST(COUNT(m.engaged_users) AS BIGINT) AS engaged_days, \
           CAST(COALESCE(SUM(m.posts), 0) AS BIGINT) AS posts, \
           CAST(COALESCE(SUM(m.reactions), 0) AS BIGINT) AS reactions, \
           CAST(COALESCE(SUM(m.comments), 0) AS BIGINT) AS comments, \
           CAST(COALESCE(SUM(m.shares), 0) AS BIGINT) AS shares, \
           CAST(COALESCE(SUM(m.link_clicks), 0) AS BIGINT) AS link_clicks, \
           CAST(COALESCE(SUM(m.whatsapp_clicks), 0) AS BIGINT) AS whatsapp_clicks, \
           COUNT(*) AS days \
         FROM facebook_metrics_daily m WHERE m.date BETWEEN $1 AND $2 "
    };
}

macro_rules! rollup_columns {
    () => {
        "impressions, reach, engaged_users, posts, reactions, comments, shares, link_clicks, whatsapp_clicks"
    };
}

/// `CAST(SUM(x.col) AS BIGINT) AS col` for every summed metric of table alias `$t`.
macro_rules! sum_columns {
    ($t:literal) => {
        concat!(
            "CAST(SUM(",
            $t,
            ".impressions) AS BIGINT) AS impressions, CAST(SUM(",
            $t,
            ".reach) AS BIGINT) AS reach, ",
            "CAST(SUM(",
            $t,
            ".engaged_users) AS BIGINT) AS engaged_users, CAST(SUM(",
            $t,
            ".posts) AS BIGINT) AS posts, ",
            "CAST(SUM(",
            $t,
            ".reactions) AS BIGINT) AS reactions, CAST(SUM(",
            $t,
            ".comments) AS BIGINT) AS comments, ",
            "CAST(SUM(",
            $t,
            ".shares) AS BIGINT) AS shares, CAST(SUM(",
            $t,
            ".link_clicks) AS BIGINT) AS link_clicks, ",
            "CAST(SUM(",
            $t,
            ".whatsapp_clicks) AS BIGINT) AS whatsapp_clicks"
        )
    };
}

/// The known-day counts of the Page metrics, summed over table alias `$t`.
macro_rules! known_days_sums {
    ($t:literal) => {
        concat!(
            "CAST(SUM(",
            $t,
            ".impressions_days) AS BIGINT) AS impressions_days, ",
            "CAST(SUM(",
            $t,
            ".reach_days) AS BIGINT) AS reach_days, ",
            "CAST(SUM(",
            $t,
            ".engaged_days) AS BIGINT) AS engaged_days"
        )
    };
}

/// One daily row's known-day flags, in the shape of the monthly rollup's counts.
macro_rules! known_days_flags {
    () => {
        "CASE WHEN impressions IS NULL THEN 0 ELSE 1 END AS impressions_days, \
         CASE WHEN reach IS NULL THEN 0 ELSE 1 END AS reach_days, \
         CASE WHEN engaged_users IS NULL THEN 0 ELSE 1 END AS engaged_days"
    };
}

macro_rules! budget_columns {
    () => {
        "hour_window, calls_made, max_calls, rate_limit_hits, peak_usage_pct"
    };
}

macro_rules! job_columns {
    () => {
        "id, kind, status, agent_id, requested_by, total_agents, synced_agents, failed_agents, skipped_agents, \
         api_calls, error_message, paused_until, lease_owner, lease_expires_at, fencing_token, created_at, \
         started_at, completed_at"
    };
}

macro_rules! post_columns {
    () => {
        "agent_id, post_id, created_at, excerpt, permalink, reactions, comments, shares, link_clicks, links_to_whatsapp"
    };
}

pub(crate) use {
    agent_columns, budget_columns, job_columns, known_days_flags, known_days_sums, metric_columns, post_columns,
    rollup_columns, sum_columns, totals_select,
};

/// Implements every shared [`Store`](super::Store) method for a struct with a `pool` field.
/// `$migrator` is the `sqlx::migrate!` of that backend's folder (run after the backend's
/// `before_migrations`). An `#[async_trait]` impl must be
/// one block, so most methods delegate to inherent `*_sql` methods kept by subject in `agents.rs`,
/// `metrics.rs`, `jobs.rs`, `alerts.rs`, `reports.rs` and `instagram.rs`.
macro_rules! impl_store {
    ($store:ty, $backend:expr, $migrator:expr, $claim_sql:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            async fn migrate(&self) -> StoreResult<()> {
                self.before_migrations().await?;
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_agent(&self, agent: &NewAgent, now: DateTime<Utc>) -> StoreResult<(Agent, Upserted)> {
                self.upsert_agent_sql(agent, now).await
            }

            async fn agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
                self.agent_sql(id).await
            }

            async fn agents(&self) -> StoreResult<Vec<Agent>> {
                self.agents_sql().await
            }

            async fn set_agent_page(&self, id: AgentId, page_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                self.set_agent_page_sql(id, page_id, now).await
            }

            async fn set_agent_role(
                &self,
                id: AgentId,
                role: $crate::domain::Role,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_agent_role_sql(id, role, now).await
            }

            async fn set_agent_token(
                &self,
                id: AgentId,
                encrypted: &str,
                expires_at: Option<DateTime<Utc>>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_agent_token_sql(id, encrypted, expires_at, now).await
            }

            async fn agent_token(&self, id: AgentId) -> StoreResult<Option<String>> {
                self.agent_token_sql(id).await
            }

            async fn set_agent_status(
                &self,
                id: AgentId,
                status: ConnectionStatus,
                reason: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_agent_status_sql(id, status, reason, now).await
            }

            async fn mark_agent_synced(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<()> {
                self.mark_agent_synced_sql(id, at).await
            }

            async fn connect_agent(
                &self,
                id: AgentId,
                connection: &$crate::store::AgentConnection,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.connect_agent_sql(id, connection, now).await
            }

            async fn agent_token_scopes(&self, id: AgentId) -> StoreResult<Option<Vec<String>>> {
                self.agent_token_scopes_sql(id).await
            }

            async fn use_oauth_state(
                &self,
                nonce: &str,
                agent: AgentId,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                self.use_oauth_state_sql(nonce, agent, expires_at, now).await
            }

            async fn set_page_candidates(
                &self,
                agent: AgentId,
                candidates: &[$crate::store::PageCandidate],
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_page_candidates_sql(agent, candidates, expires_at, now).await
            }

            async fn page_candidates(
                &self,
                agent: AgentId,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::PageCandidate>> {
                self.page_candidates_sql(agent, now).await
            }

            async fn upsert_daily_metrics(
                &self,
                agent: AgentId,
                rows: &[DailyMetrics],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                self.upsert_daily_metrics_sql(agent, rows, now).await
            }

            async fn daily_metrics(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
                self.daily_metrics_sql(agent, range).await
            }

            async fn agent_totals(&self, agent: AgentId, range: DateRange) -> StoreResult<AgentTotals> {
                self.agent_totals_sql(agent, range).await
            }

            async fn all_agent_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, AgentTotals)>> {
                self.all_agent_totals_sql(range).await
            }

            async fn team_daily(&self, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
                self.team_daily_sql(range).await
            }

            async fn upsert_posts(&self, agent: AgentId, posts: &[Post], now: DateTime<Utc>) -> StoreResult<u64> {
                self.upsert_posts_sql(agent, posts, now).await
            }

            async fn top_posts(
                &self,
                agent: Option<AgentId>,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<AgentPost>> {
                self.top_posts_sql(agent, from, to, limit).await
            }

            async fn refused_metrics(&self) -> StoreResult<Vec<String>> {
                self.refused_metrics_sql().await
            }

            async fn add_refused_metric(&self, metric: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                self.add_refused_metric_sql(metric, now).await
            }

            async fn link_identity(
                &self,
                platform: &str,
                user_id: &str,
                agent: AgentId,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO chat_identities (platform, platform_user_id, agent_id, linked_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (platform, platform_user_id) DO UPDATE SET agent_id = excluded.agent_id, \
                       linked_at = excluded.linked_at",
                )
                .bind(platform)
                .bind(user_id)
                .bind(agent)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn linked_agent(&self, platform: &str, user_id: &str) -> StoreResult<Option<Agent>> {
                let row: Option<AgentRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    agent_columns!(),
                    " FROM agents WHERE id = \
                     (SELECT agent_id FROM chat_identities WHERE platform = $1 AND platform_user_id = $2)"
                ))
                .bind(platform)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(Agent::try_from).transpose()
            }

            async fn agent_identities(&self, agent: AgentId) -> StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT platform, platform_user_id FROM chat_identities WHERE agent_id = $1 \
                     ORDER BY platform, platform_user_id",
                )
                .bind(agent)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn create_link_code(
                &self,
                agent: AgentId,
                code: &str,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                sqlx::query("INSERT INTO link_codes (code, agent_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                    .bind(code)
                    .bind(agent)
                    .bind(now)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn consume_link_code(&self, code: &str, used_by: &str, now: DateTime<Utc>) -> StoreResult<Option<AgentId>> {
                Ok(sqlx::query_scalar(
                    "UPDATE link_codes SET used_at = $2, used_by = $3 \
                     WHERE code = $1 AND used_at IS NULL AND expires_at > $2 RETURNING agent_id",
                )
                .bind(code)
                .bind(now)
                .bind(used_by)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn reserve_calls(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                n: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<BudgetUsage>> {
                self.reserve_calls_sql(hour_window, max_calls, n, now).await
            }

            async fn budget_usage(&self, hour_window: DateTime<Utc>) -> StoreResult<Option<BudgetUsage>> {
                self.budget_usage_sql(hour_window).await
            }

            async fn record_rate_limit_hit(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.record_rate_limit_hit_sql(hour_window, max_calls, now).await
            }

            async fn record_usage_pct(
                &self,
                hour_window: DateTime<Utc>,
                max_calls: i64,
                pct: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.record_usage_pct_sql(hour_window, max_calls, pct, now).await
            }

            async fn rate_limit_hits_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
                self.rate_limit_hits_since_sql(since).await
            }

            async fn create_job(
                &self,
                kind: JobKind,
                agent: Option<AgentId>,
                requested_by: &str,
                agents: &[AgentId],
                now: DateTime<Utc>,
            ) -> StoreResult<SyncJob> {
                self.create_job_sql(kind, agent, requested_by, agents, now).await
            }

            async fn job(&self, id: JobId) -> StoreResult<Option<SyncJob>> {
                self.job_sql(id).await
            }

            async fn latest_job(&self, kind: JobKind) -> StoreResult<Option<SyncJob>> {
                self.latest_job_sql(kind).await
            }

            async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<SyncJob>> {
                self.recent_jobs_sql(limit).await
            }

            async fn active_jobs(&self) -> StoreResult<Vec<SyncJob>> {
                self.active_jobs_sql().await
            }

            async fn acquire_job_lease(
                &self,
                id: JobId,
                owner: &str,
                until: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<i64>> {
                self.acquire_job_lease_sql(id, owner, until, now).await
            }

            async fn renew_job_lease(&self, id: JobId, fencing: i64, until: DateTime<Utc>) -> StoreResult<bool> {
                self.renew_job_lease_sql(id, fencing, until).await
            }

            async fn set_job_status(
                &self,
                id: JobId,
                fencing: i64,
                status: JobStatus,
                paused_until: Option<DateTime<Utc>>,
                error: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                self.set_job_status_sql(id, fencing, status, paused_until, error, now).await
            }

            async fn claim_items(
                &self,
                job: JobId,
                owner: &str,
                n: i64,
                lease_until: DateTime<Utc>,
                now: DateTime<Utc>,
                ready_at: DateTime<Utc>,
            ) -> StoreResult<Vec<AgentId>> {
                self.claim_items_sql(job, owner, n, lease_until, now, ready_at).await
            }

            async fn finish_item(
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
                self.finish_item_sql(job, agent, owner, status, attempts, api_calls, error, now).await
            }

            async fn renew_item_leases(&self, job: JobId, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
                self.renew_item_leases_sql(job, owner, until).await
            }

            async fn release_item(&self, job: JobId, agent: AgentId, owner: &str) -> StoreResult<()> {
                self.release_item_sql(job, agent, owner).await
            }

            async fn pending_items(&self, job: JobId) -> StoreResult<i64> {
                self.pending_items_sql(job).await
            }

            async fn job_items(&self, job: JobId) -> StoreResult<Vec<JobItem>> {
                self.job_items_sql(job).await
            }

            async fn defer_item(
                &self,
                job: JobId,
                agent: AgentId,
                owner: &str,
                until: DateTime<Utc>,
            ) -> StoreResult<bool> {
                self.defer_item_sql(job, agent, owner, until).await
            }

            async fn next_deferred(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>> {
                self.next_deferred_sql(job).await
            }

            async fn release_owned_items(&self, job: JobId, owner: &str) -> StoreResult<u64> {
                self.release_owned_items_sql(job, owner).await
            }

            async fn release_job_lease(&self, id: JobId, fencing: i64) -> StoreResult<bool> {
                self.release_job_lease_sql(id, fencing).await
            }

            async fn last_agent_attempt(&self, agent: AgentId) -> StoreResult<Option<DateTime<Utc>>> {
                self.last_agent_attempt_sql(agent).await
            }

            async fn latest_productive_bulk(&self) -> StoreResult<Option<SyncJob>> {
                self.latest_productive_bulk_sql().await
            }

            async fn add_job_subscriber(&self, sub: &$crate::store::NewSubscriber, now: DateTime<Utc>) -> StoreResult<i64> {
                self.add_job_subscriber_sql(sub, now).await
            }

            async fn claim_job_subscriber(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
                self.claim_job_subscriber_sql(id, now).await
            }

            async fn unclaim_job_subscriber(&self, id: i64) -> StoreResult<()> {
                self.unclaim_job_subscriber_sql(id).await
            }

            async fn undelivered_subscribers(&self) -> StoreResult<Vec<$crate::store::JobSubscriber>> {
                self.undelivered_subscribers_sql().await
            }

            async fn unfollow_subscribers(&self, job: JobId, follower: &str) -> StoreResult<u64> {
                self.unfollow_subscribers_sql(job, follower).await
            }

            async fn claim_job_summary(&self, job: JobId, now: DateTime<Utc>) -> StoreResult<bool> {
                self.claim_job_summary_sql(job, now).await
            }

            async fn fire_alert(
                &self,
                alert: &$crate::store::NewAlert,
                now: DateTime<Utc>,
            ) -> StoreResult<($crate::store::AlertRecord, bool)> {
                self.fire_alert_sql(alert, now).await
            }

            async fn open_alerts(&self) -> StoreResult<Vec<$crate::store::AlertRecord>> {
                self.open_alerts_sql().await
            }

            async fn recent_alerts(&self, limit: i64) -> StoreResult<Vec<$crate::store::AlertRecord>> {
                self.recent_alerts_sql(limit).await
            }

            async fn clear_alert(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
                self.clear_alert_sql(id, now).await
            }

            async fn resolve_alert(&self, id: i64, message_sent: bool, now: DateTime<Utc>) -> StoreResult<bool> {
                self.resolve_alert_sql(id, message_sent, now).await
            }

            async fn claim_alert_send(
                &self,
                id: i64,
                channel: $crate::store::AlertChannel,
                seen_count: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                self.claim_alert_send_sql(id, channel, seen_count, now).await
            }

            async fn release_alert_send(
                &self,
                id: i64,
                channel: $crate::store::AlertChannel,
                seen_count: i64,
                previous: Option<DateTime<Utc>>,
            ) -> StoreResult<()> {
                self.release_alert_send_sql(id, channel, seen_count, previous).await
            }

            async fn create_silence(
                &self,
                matcher: &str,
                created_by: &str,
                now: DateTime<Utc>,
                ends_at: DateTime<Utc>,
            ) -> StoreResult<$crate::store::Silence> {
                self.create_silence_sql(matcher, created_by, now, ends_at).await
            }

            async fn active_silences(&self, now: DateTime<Utc>) -> StoreResult<Vec<$crate::store::Silence>> {
                self.active_silences_sql(now).await
            }

            async fn previous_bulk_finished_at(&self, job: JobId) -> StoreResult<Option<DateTime<Utc>>> {
                self.previous_bulk_finished_at_sql(job).await
            }

            async fn api_usage_between(
                &self,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
            ) -> StoreResult<$crate::store::ApiUsageSummary> {
                self.api_usage_between_sql(from, to).await
            }

            async fn set_agent_instagram(
                &self,
                id: AgentId,
                account: Option<&$crate::domain::InstagramAccount>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_agent_instagram_sql(id, account, now).await
            }

            async fn set_instagram_state(
                &self,
                id: AgentId,
                paused_until: Option<DateTime<Utc>>,
                problem: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.set_instagram_state_sql(id, paused_until, problem, now).await
            }

            async fn upsert_instagram_daily(
                &self,
                agent: AgentId,
                rows: &[$crate::domain::InstagramDaily],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                self.upsert_instagram_daily_sql(agent, rows, now).await
            }

            async fn instagram_daily(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<$crate::domain::InstagramDaily>> {
                self.instagram_daily_sql(agent, range).await
            }

            async fn all_instagram_totals(
                &self,
                range: DateRange,
            ) -> StoreResult<Vec<(AgentId, $crate::domain::InstagramTotals)>> {
                self.all_instagram_totals_sql(range).await
            }

            async fn team_instagram_daily(&self, range: DateRange) -> StoreResult<Vec<$crate::domain::InstagramDaily>> {
                self.team_instagram_daily_sql(range).await
            }

            async fn upsert_instagram_media(
                &self,
                agent: AgentId,
                media: &[$crate::domain::InstagramMedia],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                self.upsert_instagram_media_sql(agent, media, now).await
            }

            async fn top_instagram_media(
                &self,
                agent: Option<AgentId>,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<$crate::store::AgentMedia>> {
                self.top_instagram_media_sql(agent, from, to, limit).await
            }
        }

        $crate::store::jobs::job_methods!($store, $claim_sql);
        $crate::store::agents::agent_methods!($store);
        $crate::store::metrics::metric_methods!($store);
        $crate::store::alerts::alert_methods!($store);
        $crate::store::reports::report_methods!($store);
        $crate::store::instagram::instagram_methods!($store);
    };
}

pub(crate) use impl_store;

/// "a,b" → ["a", "b"]; empty text → no scopes.
pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

pub(crate) fn expect_one(rows: u64, id: i64) -> Result<(), super::StoreError> {
    if rows == 0 {
        Err(super::StoreError::NotFound(format!("no existe el agente {id}")))
    } else {
        Ok(())
    }
}

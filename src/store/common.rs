//! The SQL both backends share. SQLite (≥ 3.35) and PostgreSQL agree on `$n` placeholders,
//! `INSERT … ON CONFLICT … DO UPDATE … WHERE`, `RETURNING` and `CAST(… AS BIGINT)`, so each
//! statement is written once and `impl_store!` instantiates it for each pool type.

macro_rules! agent_columns {
    () => {
        "id, name, email, role, facebook_page_id, instagram_account_id, status, status_reason, \
         token_expires_at, last_synced_at, created_at"
    };
}

macro_rules! metric_columns {
    () => {
        "date, followers, impressions, reach, engaged_users, posts, reactions, comments, shares, \
         link_clicks, whatsapp_clicks, engagement_rate"
    };
}

/// Sums of a period; `followers` is the last value in the range, not a sum.
macro_rules! totals_select {
    () => {
        "SELECT m.agent_id, \
           (SELECT l.followers FROM facebook_metrics_daily l \
             WHERE l.agent_id = m.agent_id AND l.date BETWEEN $1 AND $2 ORDER BY l.date DESC LIMIT 1) AS followers, \
           CAST(COALESCE(SUM(m.impressions), 0) AS BIGINT) AS impressions, \
           CAST(COALESCE(SUM(m.reach), 0) AS BIGINT) AS reach, \
           CAST(COALESCE(SUM(m.engaged_users), 0) AS BIGINT) AS engaged_users, \
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
    agent_columns, budget_columns, job_columns, metric_columns, post_columns, rollup_columns, sum_columns,
    totals_select,
};

/// Implements every shared [`Store`](super::Store) method for a struct with a `pool` field.
/// `$migrator` is the `sqlx::migrate!` of that backend's folder.
macro_rules! impl_store {
    ($store:ty, $backend:expr, $migrator:expr, $claim_sql:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                $backend
            }

            async fn migrate(&self) -> StoreResult<()> {
                $migrator.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn upsert_agent(&self, agent: &NewAgent, now: DateTime<Utc>) -> StoreResult<(Agent, Upserted)> {
                let email = agent.email.trim().to_lowercase();
                let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM agents WHERE email = $1")
                    .bind(&email)
                    .fetch_optional(&self.pool)
                    .await?;
                let (id, outcome) = match existing {
                    Some(id) => {
                        sqlx::query(
                            "UPDATE agents SET name = $2, \
                               facebook_page_id = COALESCE($3, facebook_page_id), \
                               instagram_account_id = COALESCE($4, instagram_account_id), \
                               updated_at = $5 WHERE id = $1",
                        )
                        .bind(id)
                        .bind(agent.name.trim())
                        .bind(&agent.facebook_page_id)
                        .bind(&agent.instagram_account_id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                        (id, Upserted::Updated)
                    }
                    None => {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO agents (name, email, role, facebook_page_id, instagram_account_id, status, \
                               created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'inactive', $6, $6) RETURNING id",
                        )
                        .bind(agent.name.trim())
                        .bind(&email)
                        .bind(agent.role.as_str())
                        .bind(&agent.facebook_page_id)
                        .bind(&agent.instagram_account_id)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(|e| {
                            let e = StoreError::from(e);
                            if e.is_unique_violation() {
                                StoreError::Conflict(format!("ya existe un agente con el correo {email}"))
                            } else {
                                e
                            }
                        })?;
                        (id, Upserted::Created)
                    }
                };
                let agent = self
                    .agent(id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("agente {id}")))?;
                Ok((agent, outcome))
            }

            async fn agent(&self, id: AgentId) -> StoreResult<Option<Agent>> {
                let row: Option<AgentRow> =
                    sqlx::query_as(concat!("SELECT ", agent_columns!(), " FROM agents WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(Agent::try_from).transpose()
            }

            async fn agents(&self) -> StoreResult<Vec<Agent>> {
                let rows: Vec<AgentRow> = sqlx::query_as(concat!("SELECT ", agent_columns!(), " FROM agents ORDER BY name, id"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter().map(Agent::try_from).collect()
            }

            async fn set_agent_page(&self, id: AgentId, page_id: &str, now: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET facebook_page_id = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(page_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            async fn set_agent_token(
                &self,
                id: AgentId,
                encrypted: &str,
                expires_at: Option<DateTime<Utc>>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE agents SET page_token_encrypted = $2, token_expires_at = $3, \
                       token_reminder_sent_at = NULL, updated_at = $4 WHERE id = $1",
                )
                .bind(id)
                .bind(encrypted)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                expect_one(done.rows_affected(), id)
            }

            async fn agent_token(&self, id: AgentId) -> StoreResult<Option<String>> {
                let token: Option<Option<String>> =
                    sqlx::query_scalar("SELECT page_token_encrypted FROM agents WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(token.flatten())
            }

            async fn set_agent_status(
                &self,
                id: AgentId,
                status: ConnectionStatus,
                reason: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1")
                    .bind(id)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            async fn mark_agent_synced(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<()> {
                let done = sqlx::query("UPDATE agents SET last_synced_at = $2, updated_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                expect_one(done.rows_affected(), id)
            }

            async fn mark_token_reminder_sent(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE agents SET token_reminder_sent_at = $2 WHERE id = $1 AND token_reminder_sent_at IS NULL",
                )
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn connect_agent(
                &self,
                id: AgentId,
                connection: &$crate::store::AgentConnection,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE agents SET facebook_page_id = $2, page_token_encrypted = $3, token_expires_at = $4, \
                       token_scopes = $5, token_reminder_sent_at = NULL, status = 'active', status_reason = NULL, \
                       updated_at = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(&connection.page_id)
                .bind(&connection.token_encrypted)
                .bind(connection.token_expires_at)
                .bind(connection.scopes.join(","))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                expect_one(done.rows_affected(), id)?;
                sqlx::query("DELETE FROM oauth_page_candidates WHERE agent_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn agent_token_scopes(&self, id: AgentId) -> StoreResult<Option<Vec<String>>> {
                let scopes: Option<Option<String>> = sqlx::query_scalar("SELECT token_scopes FROM agents WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(scopes.flatten().map(|s| split_scopes(&s)))
            }

            async fn use_oauth_state(
                &self,
                nonce: &str,
                agent: AgentId,
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO oauth_states (nonce, agent_id, expires_at, used_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (nonce) DO NOTHING",
                )
                .bind(nonce)
                .bind(agent)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_page_candidates(
                &self,
                agent: AgentId,
                candidates: &[$crate::store::PageCandidate],
                expires_at: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM oauth_page_candidates WHERE agent_id = $1")
                    .bind(agent)
                    .execute(&mut *tx)
                    .await?;
                for c in candidates {
                    sqlx::query(
                        "INSERT INTO oauth_page_candidates (agent_id, position, page_id, page_name, token_encrypted, \
                           token_expires_at, scopes, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(agent)
                    .bind(c.position)
                    .bind(&c.page_id)
                    .bind(&c.page_name)
                    .bind(&c.token_encrypted)
                    .bind(c.token_expires_at)
                    .bind(c.scopes.join(","))
                    .bind(expires_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn page_candidates(
                &self,
                agent: AgentId,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::PageCandidate>> {
                let rows: Vec<(i64, String, String, String, Option<DateTime<Utc>>, String)> = sqlx::query_as(
                    "SELECT position, page_id, page_name, token_encrypted, token_expires_at, scopes \
                     FROM oauth_page_candidates WHERE agent_id = $1 AND expires_at > $2 ORDER BY position",
                )
                .bind(agent)
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(position, page_id, page_name, token_encrypted, token_expires_at, scopes)| {
                        $crate::store::PageCandidate {
                            position,
                            page_id,
                            page_name,
                            token_encrypted,
                            token_expires_at,
                            scopes: split_scopes(&scopes),
                        }
                    })
                    .collect())
            }

            async fn upsert_daily_metrics(
                &self,
                agent: AgentId,
                rows: &[DailyMetrics],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for m in rows {
                    written += sqlx::query(
                        "INSERT INTO facebook_metrics_daily (agent_id, date, followers, impressions, reach, engaged_users, \
                           posts, reactions, comments, shares, link_clicks, whatsapp_clicks, engagement_rate, fetched_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (agent_id, date) DO UPDATE SET followers = excluded.followers, \
                           impressions = excluded.impressions, reach = excluded.reach, \
                           engaged_users = excluded.engaged_users, posts = excluded.posts, \
                           reactions = excluded.reactions, comments = excluded.comments, shares = excluded.shares, \
                           link_clicks = excluded.link_clicks, whatsapp_clicks = excluded.whatsapp_clicks, \
                           engagement_rate = excluded.engagement_rate, fetched_at = excluded.fetched_at",
                    )
                    .bind(agent)
                    .bind(m.date)
                    .bind(m.followers)
                    .bind(m.impressions)
                    .bind(m.reach)
                    .bind(m.engaged_users)
                    .bind(m.posts)
                    .bind(m.reactions)
                    .bind(m.comments)
                    .bind(m.shares)
                    .bind(m.link_clicks)
                    .bind(m.whatsapp_clicks)
                    .bind(m.engagement_rate)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                if let (Some(first), Some(last)) = (rows.iter().map(|m| m.date).min(), rows.iter().map(|m| m.date).max()) {
                    let (from, to) = crate::store::month_bounds(first, last);
                    sqlx::query(concat!(
                        "INSERT INTO facebook_metrics_monthly (agent_id, month, ", rollup_columns!(), ", days) \
                         SELECT agent_id, substr(CAST(date AS TEXT), 1, 7), ",
                        sum_columns!("d"),
                        ", COUNT(*) FROM facebook_metrics_daily d WHERE d.agent_id = $1 AND d.date BETWEEN $2 AND $3 \
                         GROUP BY agent_id, substr(CAST(date AS TEXT), 1, 7) \
                         ON CONFLICT (agent_id, month) DO UPDATE SET impressions = excluded.impressions, \
                           reach = excluded.reach, engaged_users = excluded.engaged_users, posts = excluded.posts, \
                           reactions = excluded.reactions, comments = excluded.comments, shares = excluded.shares, \
                           link_clicks = excluded.link_clicks, whatsapp_clicks = excluded.whatsapp_clicks, \
                           days = excluded.days"
                    ))
                    .bind(agent)
                    .bind(from)
                    .bind(to)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn daily_metrics(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
                let rows: Vec<MetricsRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    metric_columns!(),
                    " FROM facebook_metrics_daily WHERE agent_id = $1 AND date BETWEEN $2 AND $3 ORDER BY date"
                ))
                .bind(agent)
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(DailyMetrics::from).collect())
            }

            async fn agent_totals(&self, agent: AgentId, range: DateRange) -> StoreResult<AgentTotals> {
                let row: Option<TotalsRow> =
                    sqlx::query_as(concat!(totals_select!(), "AND m.agent_id = $3 GROUP BY m.agent_id"))
                        .bind(range.from)
                        .bind(range.to)
                        .bind(agent)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(AgentTotals::from).unwrap_or_default())
            }

            async fn all_agent_totals(&self, range: DateRange) -> StoreResult<Vec<(AgentId, AgentTotals)>> {
                let split = range.split_by_months();
                let empty = DateRange::new(range.to + chrono::Duration::days(1), range.to);
                let (head, tail) = (split.head.unwrap_or(empty), split.tail.unwrap_or(empty));
                let (first_month, last_month) = split.months.unwrap_or_else(|| ("9999-12".into(), "0000-01".into()));
                // The follower lookup runs once per agent, outside the aggregation: inside it SQLite
                // would evaluate it for every input row.
                let rows: Vec<TotalsRow> = sqlx::query_as(concat!(
                    "SELECT g.*, (SELECT l.followers FROM facebook_metrics_daily l \
                       WHERE l.agent_id = g.agent_id AND l.date BETWEEN $1 AND $2 ORDER BY l.date DESC LIMIT 1) AS followers \
                     FROM (SELECT t.agent_id, ",
                    sum_columns!("t"),
                    ", CAST(SUM(t.days) AS BIGINT) AS days FROM ( \
                       SELECT agent_id, ", rollup_columns!(), ", days FROM facebook_metrics_monthly \
                         WHERE month BETWEEN $3 AND $4 \
                       UNION ALL SELECT agent_id, ", rollup_columns!(), ", 1 AS days FROM facebook_metrics_daily \
                         WHERE date BETWEEN $5 AND $6 \
                       UNION ALL SELECT agent_id, ", rollup_columns!(), ", 1 AS days FROM facebook_metrics_daily \
                         WHERE date BETWEEN $7 AND $8 \
                     ) t GROUP BY t.agent_id) g"
                ))
                .bind(range.from)
                .bind(range.to)
                .bind(first_month)
                .bind(last_month)
                .bind(head.from)
                .bind(head.to)
                .bind(tail.from)
                .bind(tail.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| (r.agent_id, AgentTotals::from(r))).collect())
            }

            async fn team_daily(&self, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
                let rows: Vec<MetricsRow> = sqlx::query_as(
                    "SELECT date, \
                       CAST(SUM(followers) AS BIGINT) AS followers, CAST(SUM(impressions) AS BIGINT) AS impressions, \
                       CAST(SUM(reach) AS BIGINT) AS reach, CAST(SUM(engaged_users) AS BIGINT) AS engaged_users, \
                       CAST(SUM(posts) AS BIGINT) AS posts, CAST(SUM(reactions) AS BIGINT) AS reactions, \
                       CAST(SUM(comments) AS BIGINT) AS comments, CAST(SUM(shares) AS BIGINT) AS shares, \
                       CAST(SUM(link_clicks) AS BIGINT) AS link_clicks, \
                       CAST(SUM(whatsapp_clicks) AS BIGINT) AS whatsapp_clicks, \
                       CAST(0 AS DOUBLE PRECISION) AS engagement_rate \
                     FROM facebook_metrics_daily WHERE date BETWEEN $1 AND $2 GROUP BY date ORDER BY date",
                )
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| DailyMetrics::from(r).with_engagement_rate()).collect())
            }

            async fn upsert_posts(&self, agent: AgentId, posts: &[Post], now: DateTime<Utc>) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for p in posts {
                    written += sqlx::query(
                        "INSERT INTO facebook_posts (agent_id, post_id, created_at, excerpt, permalink, reactions, \
                           comments, shares, link_clicks, links_to_whatsapp, fetched_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT (agent_id, post_id) DO UPDATE SET created_at = excluded.created_at, \
                           excerpt = excluded.excerpt, permalink = excluded.permalink, \
                           reactions = excluded.reactions, comments = excluded.comments, shares = excluded.shares, \
                           link_clicks = excluded.link_clicks, links_to_whatsapp = excluded.links_to_whatsapp, \
                           fetched_at = excluded.fetched_at",
                    )
                    .bind(agent)
                    .bind(&p.post_id)
                    .bind(p.created_at)
                    .bind(&p.excerpt)
                    .bind(&p.permalink)
                    .bind(p.reactions)
                    .bind(p.comments)
                    .bind(p.shares)
                    .bind(p.link_clicks)
                    .bind(p.links_to_whatsapp)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn top_posts(
                &self,
                agent: Option<AgentId>,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<AgentPost>> {
                let rows: Vec<PostRow> = match agent {
                    Some(agent) => {
                        sqlx::query_as(concat!(
                            "SELECT ",
                            post_columns!(),
                            " FROM facebook_posts WHERE agent_id = $1 AND created_at >= $2 AND created_at < $3 \
                             ORDER BY reactions + comments + shares DESC, created_at DESC LIMIT $4"
                        ))
                        .bind(agent)
                        .bind(from)
                        .bind(to)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                    }
                    None => {
                        sqlx::query_as(concat!(
                            "SELECT ",
                            post_columns!(),
                            " FROM facebook_posts WHERE created_at >= $1 AND created_at < $2 \
                             ORDER BY reactions + comments + shares DESC, created_at DESC LIMIT $3"
                        ))
                        .bind(from)
                        .bind(to)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                Ok(rows.into_iter().map(AgentPost::from).collect())
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

            async fn identity(&self, platform: &str, user_id: &str) -> StoreResult<Option<AgentId>> {
                Ok(
                    sqlx::query_scalar("SELECT agent_id FROM chat_identities WHERE platform = $1 AND platform_user_id = $2")
                        .bind(platform)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await?,
                )
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

            async fn budget_usage(&self, hour_window: DateTime<Utc>) -> StoreResult<Option<BudgetUsage>> {
                let row: Option<BudgetRow> =
                    sqlx::query_as(concat!("SELECT ", budget_columns!(), " FROM api_rate_limits WHERE hour_window = $1"))
                        .bind(hour_window)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(BudgetUsage::from))
            }

            async fn record_rate_limit_hit(
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

            async fn record_usage_pct(
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

            async fn rate_limit_hits_since(&self, since: DateTime<Utc>) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(rate_limit_hits), 0) AS BIGINT) FROM api_rate_limits WHERE hour_window >= $1",
                )
                .bind(since)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn create_job(
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
                self.job(id).await?.ok_or_else(|| StoreError::NotFound(format!("trabajo {id}")))
            }

            async fn job(&self, id: JobId) -> StoreResult<Option<SyncJob>> {
                let row: Option<JobRow> = sqlx::query_as(concat!("SELECT ", job_columns!(), " FROM sync_jobs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(SyncJob::try_from).transpose()
            }

            async fn latest_job(&self, kind: JobKind) -> StoreResult<Option<SyncJob>> {
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

            async fn recent_jobs(&self, limit: i64) -> StoreResult<Vec<SyncJob>> {
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

            async fn active_jobs(&self) -> StoreResult<Vec<SyncJob>> {
                let rows: Vec<JobRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    job_columns!(),
                    " FROM sync_jobs WHERE status IN ('pending', 'running', 'paused') ORDER BY id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(SyncJob::try_from).collect()
            }

            async fn acquire_job_lease(
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

            async fn renew_job_lease(&self, id: JobId, fencing: i64, until: DateTime<Utc>) -> StoreResult<bool> {
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

            async fn set_job_status(
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

            async fn claim_items(
                &self,
                job: JobId,
                owner: &str,
                n: i64,
                lease_until: DateTime<Utc>,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<AgentId>> {
                let mut claimed: Vec<(i64, i64)> = sqlx::query_as($claim_sql)
                    .bind(job)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(n)
                    .fetch_all(&self.pool)
                    .await?;
                claimed.sort_by_key(|(_, position)| *position);
                Ok(claimed.into_iter().map(|(agent, _)| agent).collect())
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

            async fn renew_item_leases(&self, job: JobId, owner: &str, until: DateTime<Utc>) -> StoreResult<u64> {
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

            async fn release_item(&self, job: JobId, agent: AgentId, owner: &str) -> StoreResult<()> {
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

            async fn pending_items(&self, job: JobId) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM sync_job_items WHERE job_id = $1 AND status IN ('pending', 'running')",
                )
                .bind(job)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn job_items(&self, job: JobId) -> StoreResult<Vec<JobItem>> {
                let rows: Vec<ItemRow> = sqlx::query_as(
                    "SELECT agent_id, status, attempts, api_calls, error, position FROM sync_job_items \
                     WHERE job_id = $1 ORDER BY position",
                )
                .bind(job)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(JobItem::try_from).collect()
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

            async fn mark_alert_sent(
                &self,
                id: i64,
                channel: $crate::store::AlertChannel,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                self.mark_alert_sent_sql(id, channel, now).await
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
        }

        $crate::store::alerts::alert_methods!($store);
        $crate::store::reports::report_methods!($store);
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

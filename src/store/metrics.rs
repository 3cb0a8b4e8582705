//! Daily metrics with their monthly rollup, period totals and posts: the SQL both backends share,
//! expanded into `impl_store!` by `metric_methods!`.

macro_rules! metric_methods {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn upsert_daily_metrics_sql(
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
                         ON CONFLICT (agent_id, date) DO UPDATE SET \
                           followers = COALESCE(excluded.followers, facebook_metrics_daily.followers), \
                           impressions = COALESCE(excluded.impressions, facebook_metrics_daily.impressions), \
                           reach = COALESCE(excluded.reach, facebook_metrics_daily.reach), \
                           engaged_users = COALESCE(excluded.engaged_users, facebook_metrics_daily.engaged_users), \
                           posts = excluded.posts, \
                           reactions = excluded.reactions, comments = excluded.comments, shares = excluded.shares, \
                           link_clicks = excluded.link_clicks, whatsapp_clicks = excluded.whatsapp_clicks, \
                           engagement_rate = CASE WHEN COALESCE(excluded.impressions, facebook_metrics_daily.impressions) > 0 \
                             THEN CAST(excluded.reactions + excluded.comments + excluded.shares AS DOUBLE PRECISION) \
                               / COALESCE(excluded.impressions, facebook_metrics_daily.impressions) \
                             WHEN COALESCE(excluded.impressions, facebook_metrics_daily.impressions) = 0 THEN 0 \
                             ELSE NULL END, \
                           fetched_at = excluded.fetched_at",
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
                        "INSERT INTO facebook_metrics_monthly (agent_id, month, ", rollup_columns!(),
                        ", days, impressions_days, reach_days, engaged_days) \
                         SELECT agent_id, substr(CAST(date AS TEXT), 1, 7), ",
                        sum_columns!("d"),
                        ", COUNT(*), COUNT(d.impressions), COUNT(d.reach), COUNT(d.engaged_users) \
                         FROM facebook_metrics_daily d WHERE d.agent_id = $1 AND d.date BETWEEN $2 AND $3 \
                         GROUP BY agent_id, substr(CAST(date AS TEXT), 1, 7) \
                         ON CONFLICT (agent_id, month) DO UPDATE SET impressions = excluded.impressions, \
                           reach = excluded.reach, engaged_users = excluded.engaged_users, posts = excluded.posts, \
                           reactions = excluded.reactions, comments = excluded.comments, shares = excluded.shares, \
                           link_clicks = excluded.link_clicks, whatsapp_clicks = excluded.whatsapp_clicks, \
                           days = excluded.days, impressions_days = excluded.impressions_days, \
                           reach_days = excluded.reach_days, engaged_days = excluded.engaged_days"
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

            pub(crate) async fn daily_metrics_sql(&self, agent: AgentId, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
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

            pub(crate) async fn agent_totals_sql(&self, agent: AgentId, range: DateRange) -> StoreResult<AgentTotals> {
                let row: Option<TotalsRow> =
                    sqlx::query_as(concat!(totals_select!(), "AND m.agent_id = $3 GROUP BY m.agent_id"))
                        .bind(range.from)
                        .bind(range.to)
                        .bind(agent)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(AgentTotals::from).unwrap_or_default())
            }

            pub(crate) async fn all_agent_totals_sql(&self, range: DateRange) -> StoreResult<Vec<(AgentId, AgentTotals)>> {
                let split = range.split_by_months();
                let empty = DateRange::new(range.to + chrono::Duration::days(1), range.to);
                let (head, tail) = (split.head.unwrap_or(empty), split.tail.unwrap_or(empty));
                let (first_month, last_month) = split.months.unwrap_or_else(|| ("9999-12".into(), "0000-01".into()));
                // The follower lookup runs once per agent, outside the aggregation: inside it SQLite
                // would evaluate it for every input row.
                let rows: Vec<TotalsRow> = sqlx::query_as(concat!(
                    "SELECT g.*, (SELECT l.followers FROM facebook_metrics_daily l \
                       WHERE l.agent_id = g.agent_id AND l.date BETWEEN $1 AND $2 AND l.followers IS NOT NULL \
                       ORDER BY l.date DESC LIMIT 1) AS followers \
                     FROM (SELECT t.agent_id, ",
                    sum_columns!("t"),
                    ", CAST(SUM(t.days) AS BIGINT) AS days, ", known_days_sums!("t"), " FROM ( \
                       SELECT agent_id, ", rollup_columns!(), ", days, impressions_days, reach_days, engaged_days \
                         FROM facebook_metrics_monthly WHERE month BETWEEN $3 AND $4 \
                       UNION ALL SELECT agent_id, ", rollup_columns!(), ", 1 AS days, ", known_days_flags!(),
                    " FROM facebook_metrics_daily WHERE date BETWEEN $5 AND $6 \
                       UNION ALL SELECT agent_id, ", rollup_columns!(), ", 1 AS days, ", known_days_flags!(),
                    " FROM facebook_metrics_daily WHERE date BETWEEN $7 AND $8 \
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

            pub(crate) async fn team_daily_sql(&self, range: DateRange) -> StoreResult<Vec<DailyMetrics>> {
                let rows: Vec<MetricsRow> = sqlx::query_as(
                    // A team day's Page metric sums the agents that know it (NULL when none does).
                    "SELECT date, \
                       CAST(SUM(followers) AS BIGINT) AS followers, CAST(SUM(impressions) AS BIGINT) AS impressions, \
                       CAST(SUM(reach) AS BIGINT) AS reach, CAST(SUM(engaged_users) AS BIGINT) AS engaged_users, \
                       CAST(SUM(posts) AS BIGINT) AS posts, CAST(SUM(reactions) AS BIGINT) AS reactions, \
                       CAST(SUM(comments) AS BIGINT) AS comments, CAST(SUM(shares) AS BIGINT) AS shares, \
                       CAST(SUM(link_clicks) AS BIGINT) AS link_clicks, \
                       CAST(SUM(whatsapp_clicks) AS BIGINT) AS whatsapp_clicks, \
                       CAST(NULL AS DOUBLE PRECISION) AS engagement_rate \
                     FROM facebook_metrics_daily WHERE date BETWEEN $1 AND $2 GROUP BY date ORDER BY date",
                )
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| DailyMetrics::from(r).with_engagement_rate()).collect())
            }

            pub(crate) async fn upsert_posts_sql(&self, agent: AgentId, posts: &[Post], now: DateTime<Utc>) -> StoreResult<u64> {
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

            pub(crate) async fn top_posts_sql(
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

            pub(crate) async fn refused_metrics_sql(&self) -> StoreResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT metric FROM refused_metrics ORDER BY metric")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|(m,)| m).collect())
            }

            pub(crate) async fn add_refused_metric_sql(&self, metric: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO refused_metrics (metric, refused_at) VALUES ($1, $2) ON CONFLICT (metric) DO NOTHING",
                )
                .bind(metric)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use metric_methods;

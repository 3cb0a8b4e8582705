//! Instagram: the agent's linked professional account, its daily numbers and its media, the SQL
//! both backends share, expanded into `impl_store!` by `instagram_methods!`.
//!
//! Unknown is not zero: every metric column is nullable, and a write that does not know a value
//! (`None`) keeps the one already stored (`COALESCE(excluded.x, stored.x)`), while a known value —
//! a zero included — replaces it.

/// The columns of a stored day, in `InstagramDailyRow`'s shape.
macro_rules! instagram_daily_columns {
    () => {
        "date, followers, new_followers, views, reach, accounts_engaged, total_interactions, likes, comments, \
         shares, saves, profile_links_taps, media, account_read_at"
    };
}

macro_rules! instagram_media_columns {
    () => {
        "agent_id, media_id, created_at, kind, excerpt, permalink, likes, comments, views, reach, saves, shares, \
         total_interactions"
    };
}

/// `InstagramMedia::engagement`: Instagram's own total when known, else likes + comments + saves +
/// shares, unknown counting as 0.
macro_rules! media_engagement {
    () => {
        "COALESCE(total_interactions, COALESCE(likes, 0) + COALESCE(comments, 0) + COALESCE(saves, 0) \
           + COALESCE(shares, 0))"
    };
}

macro_rules! instagram_methods {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn set_agent_instagram_sql(
                &self,
                id: AgentId,
                account: Option<&$crate::domain::InstagramAccount>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                // Without an account its pause and problem mean nothing any more; its history stays.
                let done = match account {
                    Some(account) => sqlx::query(
                        "UPDATE agents SET instagram_account_id = $2, instagram_username = $3, updated_at = $4 \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(&account.id)
                    .bind(&account.username)
                    .bind(now),
                    None => sqlx::query(
                        "UPDATE agents SET instagram_account_id = NULL, instagram_username = NULL, \
                           instagram_paused_until = NULL, instagram_problem = NULL, updated_at = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now),
                }
                .execute(&self.pool)
                .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn set_instagram_state_sql(
                &self,
                id: AgentId,
                paused_until: Option<DateTime<Utc>>,
                problem: Option<&str>,
                now: DateTime<Utc>,
            ) -> StoreResult<()> {
                let done = sqlx::query(
                    "UPDATE agents SET instagram_paused_until = $2, instagram_problem = $3, updated_at = $4 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(paused_until)
                .bind(problem)
                .bind(now)
                .execute(&self.pool)
                .await?;
                expect_one(done.rows_affected(), id)
            }

            pub(crate) async fn upsert_instagram_daily_sql(
                &self,
                agent: AgentId,
                rows: &[$crate::domain::InstagramDaily],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for d in rows {
                    written += sqlx::query(
                        "INSERT INTO instagram_metrics_daily AS s (agent_id, date, followers, new_followers, views, \
                           reach, accounts_engaged, total_interactions, likes, comments, shares, saves, \
                           profile_links_taps, media, account_read_at, fetched_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                         ON CONFLICT (agent_id, date) DO UPDATE SET \
                           followers = COALESCE(excluded.followers, s.followers), \
                           new_followers = COALESCE(excluded.new_followers, s.new_followers), \
                           views = COALESCE(excluded.views, s.views), \
                           reach = COALESCE(excluded.reach, s.reach), \
                           accounts_engaged = COALESCE(excluded.accounts_engaged, s.accounts_engaged), \
                           total_interactions = COALESCE(excluded.total_interactions, s.total_interactions), \
                           likes = COALESCE(excluded.likes, s.likes), \
                           comments = COALESCE(excluded.comments, s.comments), \
                           shares = COALESCE(excluded.shares, s.shares), \
                           saves = COALESCE(excluded.saves, s.saves), \
                           profile_links_taps = COALESCE(excluded.profile_links_taps, s.profile_links_taps), \
                           media = COALESCE(excluded.media, s.media), \
                           account_read_at = CASE \
                             WHEN excluded.account_read_at IS NULL THEN s.account_read_at \
                             WHEN s.account_read_at IS NULL OR excluded.account_read_at > s.account_read_at \
                               THEN excluded.account_read_at \
                             ELSE s.account_read_at END, \
                           fetched_at = excluded.fetched_at",
                    )
                    .bind(agent)
                    .bind(d.date)
                    .bind(d.followers)
                    .bind(d.new_followers)
                    .bind(d.views)
                    .bind(d.reach)
                    .bind(d.accounts_engaged)
                    .bind(d.total_interactions)
                    .bind(d.likes)
                    .bind(d.comments)
                    .bind(d.shares)
                    .bind(d.saves)
                    .bind(d.profile_links_taps)
                    .bind(d.media)
                    .bind(d.account_read_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }

            pub(crate) async fn instagram_daily_sql(
                &self,
                agent: AgentId,
                range: DateRange,
            ) -> StoreResult<Vec<$crate::domain::InstagramDaily>> {
                let rows: Vec<$crate::store::rows::InstagramDailyRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::instagram::instagram_daily_columns!(),
                    " FROM instagram_metrics_daily WHERE agent_id = $1 AND date BETWEEN $2 AND $3 ORDER BY date"
                ))
                .bind(agent)
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            /// `InstagramTotals::from_days` in one grouped query: a sum is NULL when no day knows the
            /// metric (SQL's SUM skips NULLs), followers is the latest known value.
            pub(crate) async fn all_instagram_totals_sql(
                &self,
                range: DateRange,
            ) -> StoreResult<Vec<(AgentId, $crate::domain::InstagramTotals)>> {
                // The follower lookup runs once per agent, outside the aggregation.
                let rows: Vec<$crate::store::rows::InstagramTotalsRow> = sqlx::query_as(
                    "SELECT g.*, (SELECT l.followers FROM instagram_metrics_daily l \
                       WHERE l.agent_id = g.agent_id AND l.date BETWEEN $1 AND $2 AND l.followers IS NOT NULL \
                       ORDER BY l.date DESC LIMIT 1) AS followers \
                     FROM (SELECT agent_id, \
                       CAST(SUM(new_followers) AS BIGINT) AS new_followers, CAST(SUM(views) AS BIGINT) AS views, \
                       CAST(SUM(reach) AS BIGINT) AS reach, \
                       CAST(SUM(accounts_engaged) AS BIGINT) AS accounts_engaged, \
                       CAST(SUM(total_interactions) AS BIGINT) AS total_interactions, \
                       CAST(SUM(likes) AS BIGINT) AS likes, CAST(SUM(comments) AS BIGINT) AS comments, \
                       CAST(SUM(shares) AS BIGINT) AS shares, CAST(SUM(saves) AS BIGINT) AS saves, \
                       CAST(SUM(profile_links_taps) AS BIGINT) AS profile_links_taps, \
                       CAST(SUM(media) AS BIGINT) AS media, \
                       CAST(COUNT(*) AS BIGINT) AS days_with_data, CAST(COUNT(views) AS BIGINT) AS views_days, \
                       CAST(COUNT(reach) AS BIGINT) AS reach_days, \
                       CAST(COUNT(total_interactions) AS BIGINT) AS interactions_days \
                     FROM instagram_metrics_daily WHERE date BETWEEN $1 AND $2 GROUP BY agent_id) g \
                     ORDER BY g.agent_id",
                )
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|r| (r.agent_id, r.into())).collect())
            }

            pub(crate) async fn team_instagram_daily_sql(
                &self,
                range: DateRange,
            ) -> StoreResult<Vec<$crate::domain::InstagramDaily>> {
                // A team day's metric sums the accounts that know it (NULL when none does); its read
                // time is the latest account read of that day.
                let rows: Vec<$crate::store::rows::InstagramDailyRow> = sqlx::query_as(
                    "SELECT date, CAST(SUM(followers) AS BIGINT) AS followers, \
                       CAST(SUM(new_followers) AS BIGINT) AS new_followers, CAST(SUM(views) AS BIGINT) AS views, \
                       CAST(SUM(reach) AS BIGINT) AS reach, \
                       CAST(SUM(accounts_engaged) AS BIGINT) AS accounts_engaged, \
                       CAST(SUM(total_interactions) AS BIGINT) AS total_interactions, \
                       CAST(SUM(likes) AS BIGINT) AS likes, CAST(SUM(comments) AS BIGINT) AS comments, \
                       CAST(SUM(shares) AS BIGINT) AS shares, CAST(SUM(saves) AS BIGINT) AS saves, \
                       CAST(SUM(profile_links_taps) AS BIGINT) AS profile_links_taps, \
                       CAST(SUM(media) AS BIGINT) AS media, MAX(account_read_at) AS account_read_at \
                     FROM instagram_metrics_daily WHERE date BETWEEN $1 AND $2 GROUP BY date ORDER BY date",
                )
                .bind(range.from)
                .bind(range.to)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            pub(crate) async fn upsert_instagram_media_sql(
                &self,
                agent: AgentId,
                media: &[$crate::domain::InstagramMedia],
                now: DateTime<Utc>,
            ) -> StoreResult<u64> {
                let mut tx = self.pool.begin().await?;
                let mut written = 0;
                for m in media {
                    // A media id is Instagram's, unique across accounts: the newest read also says
                    // whose it is (an account relinked to another agent's Page moves with it).
                    written += sqlx::query(
                        "INSERT INTO instagram_media AS s (agent_id, media_id, created_at, kind, excerpt, permalink, \
                           likes, comments, views, reach, saves, shares, total_interactions, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                         ON CONFLICT (media_id) DO UPDATE SET agent_id = excluded.agent_id, \
                           created_at = excluded.created_at, kind = excluded.kind, excerpt = excluded.excerpt, \
                           permalink = COALESCE(excluded.permalink, s.permalink), \
                           likes = COALESCE(excluded.likes, s.likes), \
                           comments = COALESCE(excluded.comments, s.comments), \
                           views = COALESCE(excluded.views, s.views), \
                           reach = COALESCE(excluded.reach, s.reach), \
                           saves = COALESCE(excluded.saves, s.saves), \
                           shares = COALESCE(excluded.shares, s.shares), \
                           total_interactions = COALESCE(excluded.total_interactions, s.total_interactions), \
                           updated_at = excluded.updated_at",
                    )
                    .bind(agent)
                    .bind(&m.media_id)
                    .bind(m.created_at)
                    .bind(m.kind.as_str())
                    .bind(&m.excerpt)
                    .bind(&m.permalink)
                    .bind(m.likes)
                    .bind(m.comments)
                    .bind(m.views)
                    .bind(m.reach)
                    .bind(m.saves)
                    .bind(m.shares)
                    .bind(m.total_interactions)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
                tx.commit().await?;
                Ok(written)
            }

            pub(crate) async fn top_instagram_media_sql(
                &self,
                agent: Option<AgentId>,
                from: DateTime<Utc>,
                to: DateTime<Utc>,
                limit: i64,
            ) -> StoreResult<Vec<$crate::store::AgentMedia>> {
                // `$1 IS NULL` (everyone) needs a type PostgreSQL can infer: the CAST gives it.
                let rows: Vec<$crate::store::rows::MediaRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::instagram::instagram_media_columns!(),
                    " FROM instagram_media \
                     WHERE (CAST($1 AS BIGINT) IS NULL OR agent_id = $1) AND created_at >= $2 AND created_at < $3 \
                     ORDER BY ",
                    $crate::store::instagram::media_engagement!(),
                    " DESC, created_at DESC, media_id LIMIT $4"
                ))
                .bind(agent)
                .bind(from)
                .bind(to)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

pub(crate) use {instagram_daily_columns, instagram_media_columns, instagram_methods, media_engagement};

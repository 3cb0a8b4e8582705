//! Two years of deterministic daily rows for benchmark agents, written in bulk (the store's
//! per-agent upserts would make seeding 1,000 agents take minutes), with the monthly rollups the
//! store would have kept.

/// Days of history per agent.
pub const DAYS: i64 = 730;

/// Deterministic pseudo-random metric from (agent, day, salt).
pub fn val(agent: i64, day: i64, salt: i64, max: i64) -> i64 {
    let mut x = (agent as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (day as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ salt as u64;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % max as u64) as i64
}

pub const COLUMNS: &str = "agent_id, date, followers, impressions, reach, engaged_users, posts, reactions, comments, \
                       shares, link_clicks, whatsapp_clicks, engagement_rate, fetched_at";

/// The monthly rollups of every seeded row, built once after the raw inserts.
pub const ROLLUP_ALL: &str = "INSERT INTO facebook_metrics_monthly (agent_id, month, impressions, reach, engaged_users, \
    posts, reactions, comments, shares, link_clicks, whatsapp_clicks, days) \
    SELECT agent_id, substr(CAST(date AS TEXT), 1, 7), SUM(impressions), SUM(reach), SUM(engaged_users), SUM(posts), \
    SUM(reactions), SUM(comments), SUM(shares), SUM(link_clicks), SUM(whatsapp_clicks), COUNT(*) \
    FROM facebook_metrics_daily WHERE agent_id > 0 GROUP BY agent_id, substr(CAST(date AS TEXT), 1, 7)";

/// Inserts [`DAYS`] rows for each of `$agent_ids` ending at `$today`, then their rollups.
#[macro_export]
macro_rules! seed_rows {
    ($pool:expr, $db:ty, $agent_ids:expr, $today:expr, $now:expr) => {{
        let mut rows: Vec<(i64, NaiveDate, i64)> = Vec::new();
        for &a in $agent_ids.iter() {
            for d in 0..$crate::history::DAYS {
                rows.push((a, $today - chrono::Duration::days(d), d));
            }
        }
        for chunk in rows.chunks(2000) {
            let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                "INSERT INTO facebook_metrics_daily ({}) ",
                $crate::history::COLUMNS
            ));
            qb.push_values(chunk, |mut b, &(a, date, d)| {
                use $crate::history::val;
                let views = 200 + val(a, d, 1, 5000);
                b.push_bind(a)
                    .push_bind(date)
                    .push_bind(1000 + ($crate::history::DAYS - d) * 2)
                    .push_bind(views)
                    .push_bind(views / 2 + val(a, d, 2, 100))
                    .push_bind(val(a, d, 3, 200))
                    .push_bind(val(a, d, 4, 3))
                    .push_bind(val(a, d, 5, 80))
                    .push_bind(val(a, d, 6, 20))
                    .push_bind(val(a, d, 7, 10))
                    .push_bind(val(a, d, 8, 30))
                    .push_bind(val(a, d, 9, 8))
                    .push_bind(0.02f64)
                    .push_bind($now);
            });
            qb.build().execute($pool).await.unwrap();
        }
        // The store keeps monthly rollups on every upsert; rows inserted raw need them built once.
        sqlx::query($crate::history::ROLLUP_ALL).execute($pool).await.unwrap();
    }};
}

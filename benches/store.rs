//! Store benchmark (issue 2): 100 and 1,000 agents × 2 years of daily rows on SQLite and, when
//! `PULSO_TEST_POSTGRES_URL` is set, PostgreSQL. Prints p50/p99 for an agent's `semana` card and the
//! `6meses` ranking through pulso's layers, and the same SQL run raw, so our overhead is a ratio.
//!
//! Run: `cargo bench --bench store` (add PULSO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test).

#[path = "support/history.rs"]
mod history;

use history::DAYS;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pulso::domain::{DateRange, Period, Role};
use pulso::queries::Queries;
use pulso::store::{NewAgent, PgStore, SqliteStore, Store};
use sqlx::Connection;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

async fn create_agents(store: &dyn Store, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let new = NewAgent {
            name: format!("Agente {i:04}"),
            email: format!("agente{i}@remax.mx"),
            role: Role::Agent,
            facebook_page_id: Some(format!("{}", 100_000 + i)),
            instagram_account_id: None,
        };
        ids.push(store.upsert_agent(&new, now()).await.unwrap().0.id);
    }
    ids
}

struct Stats {
    p50: Duration,
    p99: Duration,
}

async fn measure<F, Fut>(iterations: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iterations.min(5) {
        f().await;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    samples.sort();
    Stats {
        p50: samples[samples.len() / 2],
        p99: samples[(samples.len() * 99 / 100).min(samples.len() - 1)],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

const RAW_CARD: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(impressions),0) AS BIGINT), CAST(COALESCE(SUM(reach),0) AS BIGINT), \
    CAST(COALESCE(SUM(posts),0) AS BIGINT), CAST(COALESCE(SUM(link_clicks),0) AS BIGINT), \
    (SELECT l.followers FROM facebook_metrics_daily l WHERE l.agent_id = $1 AND l.date BETWEEN $2 AND $3 ORDER BY l.date DESC LIMIT 1) \
    FROM facebook_metrics_daily WHERE agent_id = $1 AND date BETWEEN $2 AND $3";
/// The ranking's sums as one hand-written statement over the same rollup + edge days.
const RAW_RANKING: &str = "SELECT agent_id, SUM(impressions), SUM(reach), SUM(posts), SUM(link_clicks) FROM ( \
    SELECT agent_id, impressions, reach, posts, link_clicks FROM facebook_metrics_monthly WHERE month BETWEEN $3 AND $4 \
    UNION ALL SELECT agent_id, impressions, reach, posts, link_clicks FROM facebook_metrics_daily WHERE date BETWEEN $1 AND $2 \
    UNION ALL SELECT agent_id, impressions, reach, posts, link_clicks FROM facebook_metrics_daily WHERE date BETWEEN $5 AND $6 \
    ) t GROUP BY agent_id";

macro_rules! run_raw {
    ($pool:expr, $db:ty, $agent:expr, $week:expr, $six:expr) => {{
        let pool = $pool;
        let card = measure(300, || async {
            for r in [$week, $week.previous()] {
                sqlx::query(RAW_CARD)
                    .bind($agent)
                    .bind(r.from)
                    .bind(r.to)
                    .fetch_one(pool)
                    .await
                    .unwrap();
            }
        })
        .await;
        let split = $six.split_by_months();
        let (head, tail) = (split.head.unwrap(), split.tail.unwrap());
        let (first, last) = split.months.clone().unwrap();
        let ranking = measure(20, || async {
            let rows = sqlx::query(RAW_RANKING)
                .bind(head.from)
                .bind(head.to)
                .bind(&first)
                .bind(&last)
                .bind(tail.from)
                .bind(tail.to)
                .fetch_all(pool)
                .await
                .unwrap();
            assert!(!rows.is_empty());
        })
        .await;
        (card, ranking)
    }};
}

async fn bench(
    backend: &str,
    store: Arc<dyn Store>,
    raw: impl AsyncFnOnce(i64, DateRange, DateRange) -> (Stats, Stats),
) {
    let tz = "America/Mexico_City".parse().unwrap();
    let agents = store.agents().await.unwrap();
    let agent = agents[agents.len() / 2].clone();
    let queries = Queries::new(store.clone(), tz).with_ttl(Duration::ZERO);
    let cached = Queries::new(store.clone(), tz);
    let card = measure(300, || async {
        queries.agent_card(&agent, Period::Week, now()).await.unwrap();
    })
    .await;
    let ranking = measure(20, || async {
        let view = queries.team_view(Period::SixMonths, now()).await.unwrap();
        assert_eq!(view.ranked.len(), agents.len());
    })
    .await;
    let ranking_cached = measure(300, || async {
        cached.team_view(Period::SixMonths, now()).await.unwrap();
    })
    .await;
    let week = queries.range(Period::Week, now());
    let six = queries.range(Period::SixMonths, now());
    let (raw_card, raw_ranking) = raw(agent.id, week, six).await;
    let n = agents.len();
    println!(
        "{backend:<10} {n:>5} agents  semana card     p50 {}  p99 {}  | raw SQL p50 {}  ratio {:.2}×  (target p50 < 2 ms)",
        ms(card.p50),
        ms(card.p99),
        ms(raw_card.p50),
        card.p50.as_secs_f64() / raw_card.p50.as_secs_f64()
    );
    println!(
        "{backend:<10} {n:>5} agents  6meses ranking  p50 {}  p99 {}  | raw SQL p50 {}  ratio {:.2}×  | cached p50 {}  (target p50 < 50 ms)",
        ms(ranking.p50),
        ms(ranking.p99),
        ms(raw_ranking.p50),
        ranking.p50.as_secs_f64() / raw_ranking.p50.as_secs_f64(),
        ms(ranking_cached.p50)
    );
}

#[tokio::main]
async fn main() {
    println!("pulso store benchmark: {DAYS} days of rows per agent");
    for n in [100usize, 1000] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        let store = SqliteStore::connect(&url, 5).await.unwrap();
        store.migrate().await.unwrap();
        let t = Instant::now();
        let ids = create_agents(&store, n).await;
        seed_rows!(store.pool(), sqlx::Sqlite, ids, today(), now());
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
        println!(
            "sqlite     {n:>5} agents  seeded {} rows in {:.1} s",
            n as i64 * DAYS,
            t.elapsed().as_secs_f64()
        );
        let pool = store.pool().clone();
        bench("sqlite", Arc::new(store), async |agent, week, six| {
            run_raw!(&pool, sqlx::Sqlite, agent, week, six)
        })
        .await;
    }
    let Ok(admin) = std::env::var("PULSO_TEST_POSTGRES_URL") else {
        println!("postgres   skipped: set PULSO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test");
        return;
    };
    for n in [100usize, 1000] {
        let name = format!("pulso_bench_{n}");
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        let store = PgStore::connect(url.as_str(), 5).await.unwrap();
        store.migrate().await.unwrap();
        let t = Instant::now();
        let ids = create_agents(&store, n).await;
        seed_rows!(store.pool(), sqlx::Postgres, ids, today(), now());
        sqlx::query("VACUUM ANALYZE").execute(store.pool()).await.unwrap();
        println!(
            "postgres   {n:>5} agents  seeded {} rows in {:.1} s",
            n as i64 * DAYS,
            t.elapsed().as_secs_f64()
        );
        let pool = store.pool().clone();
        bench("postgres", Arc::new(store), async |agent, week, six| {
            run_raw!(&pool, sqlx::Postgres, agent, week, six)
        })
        .await;
        drop(pool);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
}

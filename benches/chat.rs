//! Chat benchmark (issue 5), plain `Instant` loops:
//! 1. commands per second through the chat core for `/mis_metricas semana`, 100 agents × 2 years of
//!    daily rows on SQLite (target > 2,000/s), sequential and with 4 concurrent callers;
//! 2. p50/p99 latency from a Telegram update arriving at a fake Bot API on 127.0.0.1 to the reply
//!    being sent back to it, through the real teloxide client (target < 50 ms).
//!
//! Run: `cargo bench --bench chat`.

#[path = "../tests/chat_support/mod.rs"]
mod chat_support;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_support::fake_telegram::{self, FakeTelegram};
use chrono::{Duration as Days, NaiveDate};
use pulso::chat::{ChatCore, ChatKind, TelegramChat};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, Role};
use pulso::queries::Queries;
use pulso::store::{NewAgent, Store};
use pulso::sync::{ManualClock, SyncEngine};
use secrecy::SecretString;

const AGENTS: usize = 100;
const DAYS: i64 = 730;

fn today() -> NaiveDate {
    chat_support::today()
}

/// Deterministic pseudo-random metric from (agent, day, salt).
fn val(agent: i64, day: i64, salt: i64, max: i64) -> i64 {
    let mut x = (agent as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (day as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ salt as u64;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % max as u64) as i64
}

async fn seed(pool: &sqlx::SqlitePool, store: &dyn Store) -> Vec<i64> {
    let now = chat_support::now();
    let mut ids = Vec::new();
    for i in 0..AGENTS {
        let new = NewAgent {
            name: format!("Agente {i:04}"),
            email: format!("agente{i}@remax.mx"),
            role: Role::Agent,
            facebook_page_id: Some(format!("{}", 100_000 + i)),
            instagram_account_id: None,
        };
        let (agent, _) = store.upsert_agent(&new, now).await.unwrap();
        store
            .set_agent_status(agent.id, ConnectionStatus::Active, None, now)
            .await
            .unwrap();
        store.mark_agent_synced(agent.id, now - Days::hours(3)).await.unwrap();
        store
            .link_identity("telegram", &(2000 + i).to_string(), agent.id, now)
            .await
            .unwrap();
        ids.push(agent.id);
    }
    let mut rows = Vec::new();
    for &a in &ids {
        for d in 0..DAYS {
            rows.push((a, today() - Days::days(d), d));
        }
    }
    for chunk in rows.chunks(2000) {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO facebook_metrics_daily (agent_id, date, followers, impressions, reach, engaged_users, posts, \
             reactions, comments, shares, link_clicks, whatsapp_clicks, engagement_rate, fetched_at) ",
        );
        qb.push_values(chunk, |mut b, &(a, date, d)| {
            let views = 200 + val(a, d, 1, 5000);
            b.push_bind(a)
                .push_bind(date)
                .push_bind(1000 + (DAYS - d) * 2)
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
                .push_bind(now);
        });
        qb.build().execute(pool).await.unwrap();
    }
    ids
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let (sqlite, _dir) = support::sqlite_store().await;
    let pool = sqlite.pool().clone();
    let store: Arc<dyn Store> = Arc::new(sqlite);
    let t = Instant::now();
    seed(&pool, store.as_ref()).await;
    println!(
        "seeded {AGENTS} agents × {DAYS} days ({} rows) in {:.1} s",
        AGENTS as i64 * DAYS,
        t.elapsed().as_secs_f64()
    );

    let tz: chrono_tz::Tz = chat_support::TZ.parse().unwrap();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let source = Arc::new(chat_support::SlowSource {
        inner: Default::default(),
        delay: Duration::ZERO,
    });
    let clock = Arc::new(ManualClock::starting_at(chat_support::now()));
    let queries = Arc::new(Queries::new(store.clone(), tz));
    let engine = SyncEngine::new(store.clone(), source, cipher, clock, chat_support::settings(), tz)
        .with_queries(queries.clone());
    let core = ChatCore::new(store.clone(), queries, engine, tz, None, None);

    // 1. Commands per second through the core.
    let callers: Vec<_> = (0..AGENTS as i64)
        .map(|i| chat_support::tg(2000 + i, false, ChatKind::Private))
        .collect();
    for c in callers.iter().take(50) {
        core.handle(c, "/mis_metricas semana", None).await.unwrap();
    }
    let n = 5000;
    let t = Instant::now();
    for i in 0..n {
        let reply = core
            .handle(&callers[i % AGENTS], "/mis_metricas semana", None)
            .await
            .unwrap();
        assert!(reply.text.contains("Última semana"));
    }
    let sequential = n as f64 / t.elapsed().as_secs_f64();
    let tasks = 4;
    let t = Instant::now();
    let mut handles = Vec::new();
    for k in 0..tasks {
        let core = core.clone();
        let callers = callers.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..n / tasks {
                let c = &callers[(i * tasks + k) % AGENTS];
                core.handle(c, "/mis_metricas semana", None).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let concurrent = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "/mis_metricas semana through the core: {sequential:.0} commands/s sequential, {concurrent:.0} commands/s with {tasks} concurrent callers (target > 2,000/s)"
    );

    // 2. Telegram: update arrives at the fake server → reply sent to it.
    let fake = FakeTelegram::start().await;
    let config = chat_support::config(&fake.url, "http://127.0.0.1:9");
    let chat = TelegramChat::connect(core.clone(), &config, &SecretString::from(fake_telegram::TOKEN), None)
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let polling = tokio::spawn({
        let chat = chat.clone();
        async move {
            chat.run_polling(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let rounds = 400;
    let mut latencies = Vec::with_capacity(rounds);
    for i in 0..rounds + 20 {
        let user = 2000 + (i % AGENTS) as i64;
        let before = fake.calls().len();
        let update = fake.inject(user, user, "/mis_metricas semana");
        let calls = fake
            .wait_for(Duration::from_secs(10), "the reply", |c| {
                c[before..].iter().any(|c| c.method == "sendMessage")
            })
            .await;
        let sent = calls[before..].iter().find(|c| c.method == "sendMessage").unwrap();
        let latency = sent.at.duration_since(fake.injected_at(update).unwrap());
        if i >= 20 {
            latencies.push(latency);
        }
    }
    latencies.sort();
    println!(
        "Telegram update → reply (fake Bot API on 127.0.0.1, real teloxide, long polling): p50 {}, p99 {}, max {} over {rounds} updates (target < 50 ms)",
        ms(pct(&latencies, 0.5)),
        ms(pct(&latencies, 0.99)),
        ms(*latencies.last().unwrap())
    );
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(15), polling).await;
}

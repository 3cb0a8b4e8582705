//! Chat benchmark (issue 5), plain `Instant` loops:
//! 1. commands per second through the chat core for `/mis_metricas semana`, 100 agents × 2 years of
//!    daily rows on SQLite (target > 2,000/s), sequential and with 4 concurrent callers;
//! 2. p50/p99 latency from a Telegram update arriving at a fake Bot API on 127.0.0.1 to the reply
//!    being sent back to it, through the real teloxide client (target < 50 ms).
//!
//! Run: `cargo bench --bench chat`.

#[path = "../tests/chat_support/mod.rs"]
mod chat_support;
#[path = "support/history.rs"]
mod history;
#[path = "../tests/support/mod.rs"]
mod support;

use history::DAYS;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use pulso::chat::{ChatCore, ChatKind};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, Role};
use pulso::queries::Queries;
use pulso::store::{NewAgent, Store};
use pulso::sync::{ManualClock, SyncEngine};
use secrecy::SecretString;

const AGENTS: usize = 100;

fn today() -> NaiveDate {
    chat_support::today()
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
    seed_rows!(pool, sqlx::Sqlite, ids, today(), now);
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
    let engine = SyncEngine::builder(store.clone(), source, cipher, clock, chat_support::settings(), tz)
        .queries(queries.clone())
        .build();
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
    let bot = chat_support::TelegramBot::start(core.clone(), None).await;
    let fake = bot.fake.clone();
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
    bot.stop().await;
}

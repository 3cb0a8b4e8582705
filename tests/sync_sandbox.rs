//! The sync engine end to end: the real Graph client over HTTP against the sandbox on 127.0.0.1,
//! real SQLite and PostgreSQL. The engine's clock is manual (it jumps when the engine waits), so
//! hour-long pauses take no real time.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, JobKind, JobStatus};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::sandbox::{Fault, Sandbox, SandboxOptions, SeededPage};
use pulso::store::{Store, hour_window};
use pulso::sync::{Clock, GraphSource, ManualClock, SyncEngine, SyncEvent, SyncSettings};
use secrecy::SecretString;
use tokio::sync::broadcast;

fn settings(budget: i64) -> SyncSettings {
    SyncSettings {
        batch_delay: Duration::ZERO,
        hourly_budget: budget,
        queue_poll: Duration::from_millis(200),
        // These tests count Facebook's calls; Instagram's are counted in tests/instagram_sync.rs.
        instagram_enabled: false,
        ..support::sync_settings()
    }
}

struct World {
    sandbox: Sandbox,
    base_url: String,
    pages: Vec<SeededPage>,
    cipher: Arc<TokenCipher>,
    clock: Arc<ManualClock>,
    /// The wall clock leases are judged by, separate so that one engine's hour-long pause (a jump of
    /// `clock`) does not look like the other engine dying.
    lease_clock: Arc<ManualClock>,
}

async fn world(pages: usize) -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    let pages = sandbox.add_pages(pages);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    World {
        sandbox,
        base_url: format!("http://{addr}"),
        pages,
        cipher: Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap()),
        clock: Arc::new(ManualClock::starting_at(Utc::now())),
        lease_clock: Arc::new(ManualClock::starting_at(Utc::now())),
    }
}

impl World {
    async fn import(&self, store: &dyn Store) -> Vec<i64> {
        support::import_pages(store, &self.cipher, &self.pages).await
    }

    fn engine(&self, store: Arc<dyn Store>, settings: SyncSettings) -> SyncEngine {
        let client = GraphClient::new(GraphConfig {
            base_url: self.base_url.clone(),
            api_version: "v25.0".into(),
            app_id: String::new(),
            app_secret: None,
            timeout: Duration::from_secs(10),
        });
        SyncEngine::builder(
            store,
            Arc::new(GraphSource::new(client)),
            self.cipher.clone(),
            self.clock.clone(),
            settings,
            "America/Mexico_City".parse().unwrap(),
        )
        .lease_clock(self.lease_clock.clone())
        .build()
    }
}

async fn finished(events: &mut broadcast::Receiver<SyncEvent>, job_id: i64) -> pulso::sync::JobReport {
    loop {
        if let SyncEvent::Finished(r) = events.recv().await.unwrap()
            && r.job_id == job_id
        {
            return r;
        }
    }
}

#[tokio::test]
async fn faults_are_retried_or_disconnect_and_never_block_the_others() {
    let w = world(5).await;
    let db = support::sqlite().await;
    let ids = w.import(db.store.as_ref()).await;
    w.sandbox
        .set_fault(&w.pages[0].page_id, Fault::Transient { remaining: 2 });
    w.sandbox.set_fault(&w.pages[1].page_id, Fault::TokenInvalid);
    w.sandbox.set_fault(&w.pages[2].page_id, Fault::PermissionDenied);
    w.sandbox.set_fault(&w.pages[3].page_id, Fault::NotFound);
    let engine = w.engine(db.store.clone(), settings(1000));
    let mut events = engine.subscribe();
    let job = engine.request_bulk("admin", false).await.unwrap();
    let report = finished(&mut events, job.job_id).await;
    let mut synced: Vec<_> = report.synced.iter().map(|a| a.agent_id).collect();
    synced.sort();
    assert_eq!(synced, vec![ids[0], ids[4]]);
    assert_eq!(report.status, JobStatus::Partial);
    let items = db.store.job_items(job.job_id).await.unwrap();
    // Agents are visited in Spanish alphabetical order; look items up by agent.
    let item = |i: usize| items.iter().find(|it| it.agent_id == ids[i]).unwrap();
    assert_eq!(item(0).attempts, 3, "two transient errors, then success");
    assert_eq!(item(1).attempts, 1, "an invalid token is not retried");
    let status = |i: usize| {
        let store = db.store.clone();
        let id = ids[i];
        async move { store.agent(id).await.unwrap().unwrap() }
    };
    assert_eq!(status(1).await.status, ConnectionStatus::Disconnected);
    assert_eq!(status(2).await.status, ConnectionStatus::NeedsReconnection);
    assert_eq!(status(3).await.status, ConnectionStatus::Disconnected);
    assert!(status(1).await.status_reason.unwrap().contains("token"));
    let failed_reason = report
        .failed
        .iter()
        .find(|f| f.agent_id == ids[2])
        .unwrap()
        .reason
        .clone()
        .unwrap();
    assert!(!failed_reason.contains("EAA"), "no token in reasons: {failed_reason}");
    // Rows exist for the synced agents only, 180 days of backfill.
    let today = pulso::domain::period::today_in("America/Mexico_City".parse().unwrap(), w.clock.now());
    let range = pulso::domain::DateRange::new(today - chrono::Duration::days(179), today);
    assert!(db.store.daily_metrics(ids[0], range).await.unwrap().len() >= 178);
    assert!(db.store.daily_metrics(ids[1], range).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_daily_sync_costs_one_call_per_agent_and_a_backfill_at_most_four() {
    let w = world(3).await;
    let db = support::sqlite().await;
    w.import(db.store.as_ref()).await;
    let engine = w.engine(db.store.clone(), settings(1000));
    let mut events = engine.subscribe();
    let first = engine.request_bulk("admin", false).await.unwrap();
    finished(&mut events, first.job_id).await;
    for p in &w.pages {
        let calls = w.sandbox.calls_for(&p.page_id);
        assert!(
            (2..=4).contains(&calls),
            "180-day backfill: 1 insights window + the Page node + extra posts pages, got {calls}"
        );
    }
    w.sandbox.reset_calls();
    w.clock.advance(Duration::from_secs(13 * 3600));
    let daily = engine.request_bulk("admin", false).await.unwrap();
    let report = finished(&mut events, daily.job_id).await;
    assert_eq!(report.api_calls, 3);
    for p in &w.pages {
        assert_eq!(
            w.sandbox.calls_for(&p.page_id),
            1,
            "daily sync = insights and posts in one call on the Page node"
        );
    }
}

#[tokio::test]
async fn a_rate_limit_mid_batch_pauses_and_resumes_without_exceeding_the_budget() {
    let w = world(20).await;
    let db = support::sqlite().await;
    let ids = w.import(db.store.as_ref()).await;
    // Make it a daily sync (1 call per agent): 20 calls against a budget of 15 per hour.
    for id in &ids {
        db.store
            .mark_agent_synced(*id, w.clock.now() - chrono::Duration::days(1))
            .await
            .unwrap();
    }
    let limited = w.pages[4].page_id.clone();
    w.sandbox.set_fault(&limited, Fault::RateLimited);
    let engine = w.engine(db.store.clone(), settings(15));
    let mut events = engine.subscribe();
    let job = engine.request_bulk("admin", false).await.unwrap();
    let start_window = hour_window(w.clock.now());
    let mut pauses = 0;
    let report = loop {
        match events.recv().await.unwrap() {
            SyncEvent::Paused { .. } => {
                pauses += 1;
                // Meta's limit lifts while we wait.
                w.sandbox.set_fault(&limited, Fault::None);
            }
            SyncEvent::Finished(r) if r.job_id == job.job_id => break r,
            _ => {}
        }
    };
    assert!(pauses >= 1);
    assert_eq!(report.synced.len(), 20, "{:?}", report.failed);
    for h in 0..4 {
        if let Some(u) = db
            .store
            .budget_usage(start_window + chrono::Duration::hours(h))
            .await
            .unwrap()
        {
            assert!(u.calls_made <= 15, "window {h}: {u:?}");
        }
    }
    assert!(db.store.rate_limit_hits_since(start_window).await.unwrap() >= 1);
}

#[tokio::test]
async fn a_cancelled_job_is_recovered_by_another_engine_with_one_row_per_agent_per_day() {
    let w = world(30).await;
    let db = support::sqlite().await;
    let ids = w.import(db.store.as_ref()).await;
    let mut s = settings(10_000);
    s.batch_size = 5;
    let first = w.engine(db.store.clone(), s.clone());
    let mut events = first.subscribe();
    let job = db
        .store
        .create_job(JobKind::Bulk, None, "admin", &ids, w.clock.now())
        .await
        .unwrap();
    let runner = {
        let first = first.clone();
        tokio::spawn(async move { first.run_job(job.id).await })
    };
    // "Kill" the process after a few agents are done.
    let mut done = 0;
    while done < 7 {
        if let SyncEvent::AgentFinished(_) = events.recv().await.unwrap() {
            done += 1;
        }
    }
    runner.abort();
    let _ = runner.await;
    let second = w.engine(db.store.clone(), s);
    let mut events = second.subscribe();
    assert!(
        second.recover().await.unwrap().is_empty(),
        "the dead engine's lease is still valid"
    );
    w.lease_clock.advance(Duration::from_secs(61));
    assert_eq!(second.recover().await.unwrap(), vec![job.id]);
    let report = finished(&mut events, job.id).await;
    assert_eq!(report.synced.len() + report.failed.len(), 30);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(db.store.active_jobs().await.unwrap().is_empty(), "no job stuck running");
    let dupes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT agent_id, date FROM facebook_metrics_daily GROUP BY agent_id, date HAVING COUNT(*) > 1) d",
    )
    .fetch_one(&sqlx::SqlitePool::connect(&db.url).await.unwrap())
    .await
    .unwrap();
    assert_eq!(dupes, 0);
}

#[tokio::test]
async fn two_engines_on_one_postgres_share_the_job_and_the_budget() {
    let Some(url) = support::fresh_pg_database().await else {
        return;
    };
    let w = world(200).await;
    let store_a: Arc<dyn Store> = pulso::store::connect(&url, 8).await.unwrap();
    store_a.migrate().await.unwrap();
    let store_b: Arc<dyn Store> = pulso::store::connect(&url, 8).await.unwrap();
    let ids = w.import(store_a.as_ref()).await;
    for id in &ids {
        store_a
            .mark_agent_synced(*id, w.clock.now() - chrono::Duration::days(1))
            .await
            .unwrap();
    }
    // 200 agents × 1 call = 200 calls against 150 per hour: both engines must pause at the cap.
    let a = w.engine(store_a.clone(), settings(150));
    let b = w.engine(store_b.clone(), settings(150));
    let mut events = a.subscribe();
    let job = store_a
        .create_job(JobKind::Bulk, None, "admin", &ids, w.clock.now())
        .await
        .unwrap();
    assert!(
        b.request_bulk("admin", true).await.is_err(),
        "one bulk job across processes"
    );
    // The second process starts helping before the owner runs, so it surely takes part.
    let helper = {
        let b = b.clone();
        tokio::spawn(async move { b.assist(job.id).await.unwrap() })
    };
    let owner = {
        let a = a.clone();
        tokio::spawn(async move { a.run_job(job.id).await })
    };
    let report = finished(&mut events, job.id).await;
    owner.await.unwrap().unwrap();
    let helped = helper.await.unwrap();
    assert_eq!(report.synced.len(), 200, "{:?}", report.failed);
    assert!(helped > 0, "the second engine took part");
    for p in &w.pages {
        assert_eq!(w.sandbox.calls_for(&p.page_id), 1, "each agent synced exactly once");
    }
    let start = hour_window(w.clock.now()) - chrono::Duration::hours(3);
    for h in 0..6 {
        if let Some(u) = store_a.budget_usage(start + chrono::Duration::hours(h)).await.unwrap() {
            assert!(u.calls_made <= 150, "{u:?}");
        }
    }
}

#[tokio::test]
async fn one_pages_own_usage_at_100_percent_pauses_nobody() {
    let w = world(12).await;
    let db = support::sqlite().await;
    let ids = w.import(db.store.as_ref()).await;
    // A daily sync: one call per Page, each Page's own bucket allows one call an hour, so every
    // answer succeeds while its X-Business-Use-Case-Usage says 100 % for that Page.
    for id in &ids {
        db.store
            .mark_agent_synced(*id, w.clock.now() - chrono::Duration::days(1))
            .await
            .unwrap();
    }
    w.sandbox.set_hourly_call_limit(Some(1));
    let engine = w.engine(
        db.store.clone(),
        SyncSettings {
            batch_size: 3,
            ..settings(1000)
        },
    );
    let mut events = engine.subscribe();
    let job = engine.request_bulk("admin", false).await.unwrap();
    let report = loop {
        match events.recv().await.unwrap() {
            SyncEvent::Paused { reason, .. } => panic!("one Page's own limit paused everyone: {reason}"),
            SyncEvent::Finished(r) if r.job_id == job.job_id => break r,
            _ => {}
        }
    };
    assert_eq!(report.synced.len(), 12, "{:?}", report.failed);
    for p in &w.pages {
        assert_eq!(w.sandbox.calls_for(&p.page_id), 1);
    }
}

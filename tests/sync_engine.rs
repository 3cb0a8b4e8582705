//! The sync engine's rules without real sleeping. The engine reads time through a manual clock that
//! advances only when the engine sleeps on it (or the test moves it), and records every sleep, so
//! gaps and backoffs are asserted exactly. tokio's paused clock is not used here: it auto-advances
//! whenever the runtime is idle, which includes waiting on SQLite's worker thread, and then fires
//! sqlx's pool timeouts and the engine's own timers early.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, JobKind, JobStatus};
use pulso::store::{Store, hour_window};
use pulso::sync::{Clock, ManualClock, SourceError, SyncEngine, SyncEvent, SyncRefusal, SyncSettings};
use secrecy::SecretString;
use support::scripted::{ScriptedSource, transient};
use tokio::sync::broadcast;

const LEASE: Duration = Duration::from_secs(3600);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 14, 10, 0).unwrap()
}

/// A manual clock that remembers what the engine slept for.
struct RecordingClock {
    inner: ManualClock,
    sleeps: Mutex<Vec<Duration>>,
}

#[async_trait]
impl Clock for RecordingClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    async fn sleep(&self, d: Duration) {
        self.sleeps.lock().unwrap().push(d);
        self.inner.sleep(d).await
    }
}

fn settings() -> SyncSettings {
    SyncSettings {
        lease: LEASE,
        hourly_budget: 1000,
        ..support::sync_settings()
    }
}

struct Harness {
    engine: SyncEngine,
    store: Arc<dyn Store>,
    source: Arc<ScriptedSource>,
    clock: Arc<RecordingClock>,
    events: broadcast::Receiver<SyncEvent>,
    agents: Vec<i64>,
    _db: support::TestStore,
}

async fn harness(agents: usize, settings: SyncSettings) -> Harness {
    let db = support::sqlite().await;
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let mut ids = Vec::new();
    for i in 0..agents {
        let page = format!("{}", 5000 + i);
        let email = format!("a{i}@remax.mx");
        let id = support::connected_agent(
            store.as_ref(),
            &cipher,
            &format!("Agente {i:02}"),
            &email,
            &page,
            start(),
        )
        .await;
        ids.push(id);
    }
    let source = Arc::new(ScriptedSource::default());
    let clock = Arc::new(RecordingClock {
        inner: ManualClock::starting_at(start()),
        sleeps: Mutex::new(Vec::new()),
    });
    let engine = SyncEngine::builder(
        store.clone(),
        source.clone(),
        cipher,
        clock.clone(),
        settings,
        "America/Mexico_City".parse().unwrap(),
    )
    .lease_clock(clock.clone())
    .build();
    let events = engine.subscribe();
    Harness {
        engine,
        store,
        source,
        clock,
        events,
        agents: ids,
        _db: db,
    }
}

/// Collects events until the job's report arrives.
async fn until_finished(events: &mut broadcast::Receiver<SyncEvent>, job_id: i64) -> Vec<SyncEvent> {
    let mut seen = Vec::new();
    loop {
        let event = events.recv().await.unwrap();
        let done = matches!(&event, SyncEvent::Finished(r) if r.job_id == job_id);
        seen.push(event);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn bulk_throttles_refuse_within_an_hour_and_ask_to_confirm_within_twelve() {
    let mut h = harness(3, settings()).await;
    let first = h.engine.request_bulk("admin", false).await.unwrap();
    assert_eq!(first.total, 3);
    until_finished(&mut h.events, first.job_id).await;

    h.clock.inner.advance(Duration::from_secs(20 * 60));
    match h.engine.request_bulk("admin", true).await {
        Err(SyncRefusal::TooSoon { wait }) => {
            assert!(
                wait <= Duration::from_secs(40 * 60) && wait > Duration::from_secs(39 * 60),
                "{wait:?}"
            );
            assert!(SyncRefusal::TooSoon { wait }.to_string().contains("40 min"));
        }
        other => panic!("expected TooSoon, got {other:?}"),
    }
    h.clock.inner.advance(Duration::from_secs(2 * 3600));
    let refusal = h.engine.request_bulk("admin", false).await.unwrap_err();
    assert!(matches!(refusal, SyncRefusal::NeedsConfirmation { .. }), "{refusal:?}");
    assert!(refusal.to_string().contains("/actualizar confirmar"));
    let confirmed = h.engine.request_bulk("admin", true).await.unwrap();
    until_finished(&mut h.events, confirmed.job_id).await;

    h.clock.inner.advance(Duration::from_secs(13 * 3600));
    let fresh = h.engine.request_bulk("admin", false).await.unwrap();
    until_finished(&mut h.events, fresh.job_id).await;
    assert_eq!(h.source.fetch_count("5000"), 3);
}

#[tokio::test]
async fn an_agent_is_synced_at_most_every_thirty_minutes() {
    let mut h = harness(1, settings()).await;
    let a = h.agents[0];
    let job = h.engine.request_agent(a, "ana").await.unwrap();
    until_finished(&mut h.events, job.job_id).await;
    h.clock.inner.advance(Duration::from_secs(10 * 60));
    match h.engine.request_agent(a, "ana").await {
        Err(SyncRefusal::AgentTooSoon { wait, name }) => {
            assert_eq!(name, "Agente 00");
            assert!(wait > Duration::from_secs(19 * 60) && wait <= Duration::from_secs(20 * 60));
        }
        other => panic!("expected AgentTooSoon, got {other:?}"),
    }
    h.clock.inner.advance(Duration::from_secs(21 * 60));
    let again = h.engine.request_agent(a, "ana").await.unwrap();
    until_finished(&mut h.events, again.job_id).await;
    // A disconnected agent is refused with the way to reconnect.
    h.store
        .set_agent_status(a, ConnectionStatus::Disconnected, Some("token"), h.clock.now())
        .await
        .unwrap();
    let refusal = h.engine.request_agent(a, "ana").await.unwrap_err();
    assert!(refusal.to_string().contains("/conectar"), "{refusal}");
}

#[tokio::test]
async fn agents_run_in_batches_of_ten_with_five_second_gaps() {
    let mut h = harness(25, settings()).await;
    let job = h.engine.request_bulk("admin", false).await.unwrap();
    let events = until_finished(&mut h.events, job.job_id).await;
    let batch_gaps: Vec<_> = h
        .clock
        .sleeps
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|d| *d == Duration::from_secs(5))
        .collect();
    assert_eq!(batch_gaps.len(), 2, "25 agents = 3 batches = 2 gaps");
    // Started events come in groups of at most 10 before any agent of the next batch starts.
    let mut in_flight = 0usize;
    let mut max_in_flight = 0;
    for e in &events {
        match e {
            SyncEvent::AgentStarted(_) => {
                in_flight += 1;
                max_in_flight = max_in_flight.max(in_flight);
            }
            SyncEvent::AgentFinished(_) => in_flight -= 1,
            _ => {}
        }
    }
    assert_eq!(max_in_flight, 10);
    let SyncEvent::Finished(report) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(report.synced.len(), 25);
    assert_eq!(report.status, JobStatus::Completed);
    assert_eq!(report.api_calls, 50, "2 calls per agent");
    let finished: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::AgentFinished(p) => Some(p.done),
            _ => None,
        })
        .collect();
    assert_eq!(finished, (1..=25).collect::<Vec<_>>());
}

#[tokio::test]
async fn transient_errors_back_off_one_then_two_seconds_and_others_continue() {
    let mut h = harness(3, settings()).await;
    h.source.fail("5000", vec![transient(), transient()]);
    h.source.fail(
        "5001",
        vec![SourceError::TokenInvalid {
            reason: "el token de Facebook expiró o fue revocado".into(),
        }],
    );
    h.source.fail("5002", vec![transient(), transient(), transient()]);
    let job = h.engine.request_bulk("admin", false).await.unwrap();
    let events = until_finished(&mut h.events, job.job_id).await;
    let SyncEvent::Finished(report) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(
        report.synced.iter().map(|a| a.agent_id).collect::<Vec<_>>(),
        vec![h.agents[0]]
    );
    assert_eq!(report.failed.len(), 2);
    assert_eq!(report.status, JobStatus::Partial);
    assert_eq!(h.source.fetch_count("5000"), 3, "synced on the third attempt");
    assert_eq!(h.source.fetch_count("5001"), 1, "an invalid token is not retried");
    assert_eq!(h.source.fetch_count("5002"), 3, "at most 3 attempts");
    let backoffs: Vec<_> = h.clock.sleeps.lock().unwrap().clone();
    let ones = backoffs
        .iter()
        .filter(|d| **d >= Duration::from_secs(1) && **d < Duration::from_millis(1100))
        .count();
    let twos = backoffs
        .iter()
        .filter(|d| **d >= Duration::from_secs(2) && **d < Duration::from_millis(2200))
        .count();
    assert_eq!((ones, twos), (2, 2), "{backoffs:?}");
    let disconnected = h.store.agent(h.agents[1]).await.unwrap().unwrap();
    assert_eq!(disconnected.status, ConnectionStatus::Disconnected);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, SyncEvent::Notice { agent_id, .. } if *agent_id == h.agents[1]))
    );
    let failed = report.failed.iter().find(|f| f.agent_id == h.agents[2]).unwrap();
    assert!(failed.reason.as_deref().unwrap().contains("tras 3 intentos"));
}

#[tokio::test]
async fn the_budget_pauses_the_job_and_it_resumes_at_the_next_hour() {
    let mut s = settings();
    s.hourly_budget = 30;
    let mut h = harness(20, s).await;
    let job = h.engine.request_bulk("admin", false).await.unwrap();
    let events = until_finished(&mut h.events, job.job_id).await;
    let SyncEvent::Finished(report) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(report.synced.len(), 20, "all synced after the pause");
    let paused: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SyncEvent::Paused { until, .. } => Some(*until),
            _ => None,
        })
        .collect();
    assert!(!paused.is_empty());
    assert_eq!(paused[0], hour_window(start()) + chrono::Duration::hours(1));
    assert!(events.iter().any(|e| matches!(e, SyncEvent::Resumed(_))));
    assert!(h.clock.now() >= paused[0]);
    // No hour window ever went over its maximum.
    for w in 0..3 {
        let window = hour_window(start()) + chrono::Duration::hours(w);
        if let Some(u) = h.store.budget_usage(window).await.unwrap() {
            assert!(u.calls_made <= 30, "{u:?}");
        }
    }
    let job_row = h.store.job(job.job_id).await.unwrap().unwrap();
    assert_eq!(job_row.status, JobStatus::Completed);
}

#[tokio::test]
async fn a_rate_limit_from_the_api_pauses_instead_of_retrying() {
    let mut h = harness(3, settings()).await;
    h.source.fail(
        "5001",
        vec![SourceError::RateLimited {
            reason: "límite de llamadas de la API alcanzado".into(),
            resume_after: Some(Duration::from_secs(600)),
            page_level: false,
        }],
    );
    let job = h.engine.request_bulk("admin", false).await.unwrap();
    let events = until_finished(&mut h.events, job.job_id).await;
    let SyncEvent::Finished(report) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(report.synced.len(), 3);
    assert_eq!(
        h.source.fetch_count("5001"),
        2,
        "one rate-limited call, one after the pause"
    );
    assert!(
        h.clock
            .sleeps
            .lock()
            .unwrap()
            .iter()
            .all(|d| *d != Duration::from_secs(1)),
        "no blind retry"
    );
    let hits = h.store.rate_limit_hits_since(hour_window(start())).await.unwrap();
    assert_eq!(hits, 1);
}

#[tokio::test]
async fn a_single_agent_sync_waits_behind_a_running_bulk_sync() {
    let mut h = harness(15, settings()).await;
    let bulk = h.engine.request_bulk("admin", false).await.unwrap();
    let single = h.engine.request_agent(h.agents[3], "agente").await.unwrap();
    assert_eq!(single.queued_behind, Some(bulk.job_id));
    let mut order = Vec::new();
    let mut finished = 0;
    while finished < 2 {
        let e = h.events.recv().await.unwrap();
        if let SyncEvent::Finished(r) = &e {
            finished += 1;
            order.push(r.kind);
        }
        if let SyncEvent::Queued { job_id, behind } = &e {
            assert_eq!((*job_id, *behind), (single.job_id, bulk.job_id));
        }
    }
    assert_eq!(order, vec![JobKind::Bulk, JobKind::Single]);
    let jobs = h.store.recent_jobs(5).await.unwrap();
    assert!(jobs.iter().all(|j| j.status == JobStatus::Completed));
}

#[tokio::test]
async fn a_job_left_running_by_a_dead_process_is_resumed_after_its_lease_expires() {
    let mut h = harness(12, settings()).await;
    // A "dead" process: it created the job and took the lease, synced nothing, and vanished.
    let job = h
        .store
        .create_job(JobKind::Bulk, None, "admin", &h.agents, h.clock.now())
        .await
        .unwrap();
    h.store
        .acquire_job_lease(
            job.id,
            "dead-process",
            h.clock.now() + chrono::Duration::seconds(60),
            h.clock.now(),
        )
        .await
        .unwrap();
    h.store
        .claim_items(
            job.id,
            "dead-process",
            5,
            h.clock.now() + chrono::Duration::seconds(60),
            h.clock.now(),
            h.clock.now(),
        )
        .await
        .unwrap();
    assert!(h.engine.recover().await.unwrap().is_empty(), "lease still valid");
    h.clock.inner.advance(Duration::from_secs(61));
    assert_eq!(h.engine.recover().await.unwrap(), vec![job.id]);
    let events = until_finished(&mut h.events, job.id).await;
    let SyncEvent::Finished(report) = events.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(report.synced.len(), 12);
    assert!(h.store.active_jobs().await.unwrap().is_empty(), "nothing stuck running");
}

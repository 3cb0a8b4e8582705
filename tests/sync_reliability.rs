//! The sync engine's reliability rules through the real engine and the real store, on SQLite and
//! PostgreSQL: a job killed mid-sync is finished by the restarted process and everyone who asked is
//! told (once); a store error while finishing an agent still ends the job; a queued job gets one
//! runner; a runner whose lease was stolen says nothing; one Page's own rate limit delays only its
//! agent. Time is a manual clock (no real sleeps decide anything); assertions read the store, the
//! chat (a progress sink and an outbox) or the Graph sandbox.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use pulso::chat::delivery::ReportDelivery;
use pulso::chat::progress::{ChatAddress, EditError, ProgressSink, follow};
use pulso::chat::{Caller, ChatCore, ChatKind, Platform};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{AgentId, DailyMetrics, ItemStatus, JobKind, JobStatus};
use pulso::ports::{OutMessage, Outbox};
use pulso::queries::Queries;
use pulso::store::{NewSubscriber, Store};
use pulso::sync::{
    AgentData, BudgetGate, Clock, FetchRequest, ManualClock, PageSource, SourceError, SyncEngine, SyncEvent,
    SyncSettings,
};
use secrecy::SecretString;
use support::TestStore;
use tokio::sync::{Semaphore, broadcast};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 14, 10, 0).unwrap()
}

fn tz() -> chrono_tz::Tz {
    "America/Mexico_City".parse().unwrap()
}

fn settings() -> SyncSettings {
    SyncSettings {
        batch_size: 2,
        batch_delay: Duration::ZERO,
        queue_poll: Duration::from_secs(2),
        hourly_budget: 10_000,
        ..support::sync_settings()
    }
}

/// A page source whose fetches wait for a permit: the test decides how far a sync gets.
struct GatedSource {
    permits: Semaphore,
}

impl GatedSource {
    fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(permits),
        })
    }
}

#[async_trait]
impl PageSource for GatedSource {
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError> {
        self.permits.acquire().await.expect("semaphore open").forget();
        gate.before_call().await?;
        gate.before_call().await?;
        Ok(AgentData {
            days: vec![DailyMetrics {
                date: req.until,
                followers: Some(100),
                impressions: Some(1000),
                reach: Some(600),
                ..Default::default()
            }],
            posts: Vec::new(),
            calls: 2,
            max_usage_pct: 0,
            refused_metrics: Vec::new(),
            instagram: None,
        })
    }
}

struct World {
    db: TestStore,
    cipher: Arc<TokenCipher>,
    clock: Arc<ManualClock>,
    lease_clock: Arc<ManualClock>,
    agents: Vec<AgentId>,
}

async fn world(db: TestStore, agents: usize) -> World {
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let mut ids = Vec::new();
    for i in 0..agents {
        let id = support::connected_agent(
            db.store.as_ref(),
            &cipher,
            &format!("Agente {i:02}"),
            &format!("a{i}@remax.mx"),
            &format!("{}", 7000 + i),
            t0(),
        )
        .await;
        ids.push(id);
    }
    World {
        db,
        cipher,
        clock: Arc::new(ManualClock::starting_at(t0())),
        lease_clock: Arc::new(ManualClock::starting_at(t0())),
        agents: ids,
    }
}

impl World {
    fn engine_on(&self, store: Arc<dyn Store>, source: Arc<dyn PageSource>) -> SyncEngine {
        SyncEngine::builder(store, source, self.cipher.clone(), self.clock.clone(), settings(), tz())
            .lease_clock(self.lease_clock.clone())
            .build()
    }

    fn engine(&self, source: Arc<dyn PageSource>) -> SyncEngine {
        self.engine_on(self.db.store.clone(), source)
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.db.store
    }
}

/// A chat message that records every edit, with the address a later report would go to.
struct Message {
    address: ChatAddress,
    edits: Mutex<Vec<String>>,
}

impl Message {
    fn telegram(chat: &str) -> Self {
        Self {
            address: ChatAddress {
                platform: "telegram",
                chat_id: chat.into(),
            },
            edits: Mutex::new(Vec::new()),
        }
    }

    fn edits(&self) -> Vec<String> {
        self.edits.lock().unwrap().clone()
    }
}

#[async_trait]
impl ProgressSink for Message {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        self.edits.lock().unwrap().push(text.to_string());
        Ok(())
    }

    fn address(&self) -> Option<ChatAddress> {
        Some(self.address.clone())
    }
}

/// Messages sent to chats by id (what `to_chat` delivered).
#[derive(Default)]
struct Chats {
    sent: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl Outbox for Chats {
    async fn to_team(&self, _message: &OutMessage) -> anyhow::Result<()> {
        Ok(())
    }

    async fn to_agent(&self, _agent: AgentId, _message: &OutMessage) -> anyhow::Result<usize> {
        Ok(0)
    }

    async fn to_chat(&self, platform: &str, chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        self.sent
            .lock()
            .unwrap()
            .push((platform.into(), chat_id.into(), message.text.clone()));
        Ok(true)
    }
}

async fn until_finished(events: &mut broadcast::Receiver<SyncEvent>, job_id: i64) -> pulso::sync::JobReport {
    loop {
        if let SyncEvent::Finished(r) = events.recv().await.unwrap()
            && r.job_id == job_id
        {
            return r;
        }
    }
}

async fn until_done(events: &mut broadcast::Receiver<SyncEvent>, job_id: i64, done: usize) {
    loop {
        if let SyncEvent::AgentFinished(p) = events.recv().await.unwrap()
            && p.job_id == job_id
            && p.done >= done
        {
            return;
        }
    }
}

fn admin(user: &str) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: user.into(),
        is_admin: true,
        chat: ChatKind::Private,
        assume_agent: None,
    }
}

// ── a process killed mid-sync; the restarted one finishes and tells everyone who asked ──

async fn killed_mid_sync_then_restarted(db: TestStore) {
    let w = world(db, 8).await;
    let source = GatedSource::new(2);
    // The first process: admin 111 asked it for the sync and was following it.
    let first = w.engine(source.clone());
    let job = w
        .store()
        .create_job(JobKind::Bulk, None, "telegram:111", &w.agents, w.clock.now())
        .await
        .unwrap();
    w.store()
        .add_job_subscriber(
            &NewSubscriber {
                job_id: job.id,
                platform: "telegram".into(),
                chat_id: "111".into(),
                requested_by: "telegram:111".into(),
                follower: Some(first.owner().to_string()),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let mut first_events = first.subscribe();
    let runner = {
        let first = first.clone();
        tokio::spawn(async move { first.run_job(job.id).await })
    };
    until_done(&mut first_events, job.id, 2).await;
    // SIGKILL: the task dies mid-batch, its lease is left to expire.
    runner.abort();
    let _ = runner.await;

    // The restarted process. During the outage admin 222 asks for a sync.
    let second = w.engine(source.clone());
    let queries = Arc::new(Queries::new(w.store().clone(), tz()));
    let core = ChatCore::new(w.store().clone(), queries, second.clone(), tz(), None, None);
    let mut reply = core.handle(&admin("222"), "/actualizar confirmar", None).await.unwrap();
    assert!(
        reply.text.contains("Ya hay una actualización en curso"),
        "{}",
        reply.text
    );
    let progress = reply.progress.take().expect("joins the running sync");
    let message = Arc::new(Message::telegram("222"));
    let following = {
        let message = message.clone();
        tokio::spawn(async move { follow(progress, message.as_ref(), Duration::ZERO).await })
    };
    // The dead process's lease runs out; the watcher takes the job over.
    source.permits.add_permits(100);
    w.lease_clock.advance(settings().lease + Duration::from_secs(1));
    assert_eq!(second.recover().await.unwrap(), vec![job.id]);
    let outcome = following.await.unwrap();

    // Admin 222's message ends with the report, and showed the takeover on the way.
    let edits = message.edits();
    assert!(outcome.delivered, "{outcome:?}");
    let last = edits.last().unwrap();
    assert!(last.contains("Datos actualizados exitosamente"), "{last}");
    assert!(last.contains("8/8"), "{last}");
    assert!(
        edits.iter().any(|e| e.contains("Retomada tras un reinicio")),
        "{edits:?}"
    );
    // Admin 111, who asked the dead process, gets the report in their chat, once.
    let chats = Arc::new(Chats::default());
    let delivery = ReportDelivery::new(w.store().clone(), second.clone(), chats.clone(), w.clock.clone());
    delivery.deliver_due().await.unwrap();
    delivery.deliver_due().await.unwrap();
    let sent = chats.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1.as_str()), ("telegram", "111"));
    assert!(sent[0].2.contains("Sincronizados: 8/8"), "{}", sent[0].2);
    let row = w.store().job(job.id).await.unwrap().unwrap();
    assert_eq!(row.status, JobStatus::Completed);
}

#[tokio::test]
async fn a_killed_sync_is_finished_after_restart_and_everyone_who_asked_is_told_sqlite() {
    killed_mid_sync_then_restarted(support::sqlite().await).await;
}

#[tokio::test]
async fn a_killed_sync_is_finished_after_restart_and_everyone_who_asked_is_told_postgres() {
    if let Some(db) = support::postgres().await {
        killed_mid_sync_then_restarted(db).await;
    }
}

// ── a store error while recording an agent still ends the job ──

async fn finish_item_fails_twice(db: TestStore) {
    let w = world(db, 5).await;
    let failing: Arc<dyn Store> = Arc::new(support::failing_store::FailingStore::new(w.store().clone(), 2));
    let engine = w.engine_on(failing, GatedSource::new(1000));
    let mut events = engine.subscribe();
    let job = engine.request_bulk("telegram:1", false).await.unwrap();
    let report = until_finished(&mut events, job.job_id).await;
    assert_eq!(report.synced.len(), 5, "{report:?}");
    let row = w.store().job(job.job_id).await.unwrap().unwrap();
    assert_eq!(row.status, JobStatus::Completed);
    assert_eq!(w.store().pending_items(job.job_id).await.unwrap(), 0);
    let items = w.store().job_items(job.job_id).await.unwrap();
    assert!(items.iter().all(|i| i.status == ItemStatus::Synced), "{items:?}");
}

#[tokio::test]
async fn a_store_failing_finish_item_twice_still_ends_the_job_sqlite() {
    finish_item_fails_twice(support::sqlite().await).await;
}

#[tokio::test]
async fn a_store_failing_finish_item_twice_still_ends_the_job_postgres() {
    if let Some(db) = support::postgres().await {
        finish_item_fails_twice(db).await;
    }
}

// ── a single-agent job queued behind a bulk sync gets exactly one runner ──

async fn queued_job_has_one_runner(db: TestStore) {
    let w = world(db, 3).await;
    let source = GatedSource::new(1000);
    let engine = w.engine(source.clone());
    let replica = w.engine(source.clone());
    // Another process runs a bulk sync with a long lease.
    let bulk = w
        .store()
        .create_job(JobKind::Bulk, None, "telegram:1", &w.agents, w.clock.now())
        .await
        .unwrap();
    let bulk_fencing = w
        .store()
        .acquire_job_lease(
            bulk.id,
            "other-process",
            w.lease_clock.now() + chrono::Duration::hours(2),
            w.lease_clock.now(),
        )
        .await
        .unwrap()
        .unwrap();
    let mut events = engine.subscribe();
    let single = engine.request_agent(w.agents[0], "telegram:2").await.unwrap();
    assert_eq!(single.queued_behind, Some(bulk.id));
    // Its waiting runner moves the clock past the 30 s that once made it look orphaned.
    loop {
        if let SyncEvent::Queued { job_id, .. } = events.recv().await.unwrap()
            && job_id == single.job_id
        {
            break;
        }
    }
    w.clock.advance(Duration::from_secs(120));
    for _ in 0..3 {
        assert!(engine.recover().await.unwrap().is_empty());
        assert!(replica.recover().await.unwrap().is_empty());
    }
    // The bulk sync ends; the queued job runs once.
    w.store()
        .set_job_status(bulk.id, bulk_fencing, JobStatus::Completed, None, None, w.clock.now())
        .await
        .unwrap();
    let report = until_finished(&mut events, single.job_id).await;
    assert_eq!(report.synced.len(), 1);
    let row = w.store().job(single.job_id).await.unwrap().unwrap();
    assert_eq!(row.fencing_token, 1, "one runner took the job's lease once");
    let items = w.store().job_items(single.job_id).await.unwrap();
    assert_eq!(items[0].attempts, 1);
}

#[tokio::test]
async fn the_watcher_beside_a_queued_single_agent_job_starts_one_runner_sqlite() {
    queued_job_has_one_runner(support::sqlite().await).await;
}

#[tokio::test]
async fn the_watcher_beside_a_queued_single_agent_job_starts_one_runner_postgres() {
    if let Some(db) = support::postgres().await {
        queued_job_has_one_runner(db).await;
    }
}

// ── a runner whose lease was stolen emits no Finished ──

async fn stolen_lease_says_nothing(db: TestStore) {
    let w = world(db, 4).await;
    let source = GatedSource::new(0);
    let engine = w.engine(source.clone());
    let mut events = engine.subscribe();
    let job = w
        .store()
        .create_job(JobKind::Bulk, None, "telegram:1", &w.agents, w.clock.now())
        .await
        .unwrap();
    let runner = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.run_job(job.id).await })
    };
    loop {
        if let SyncEvent::AgentStarted(p) = events.recv().await.unwrap()
            && p.job_id == job.id
        {
            break;
        }
    }
    // Its lease looks expired to another process, which takes the job.
    w.lease_clock.advance(settings().lease + Duration::from_secs(1));
    let thief = w
        .store()
        .acquire_job_lease(
            job.id,
            "thief",
            w.lease_clock.now() + chrono::Duration::hours(1),
            w.lease_clock.now(),
        )
        .await
        .unwrap();
    assert!(thief.is_some());
    source.permits.add_permits(100);
    let outcome = runner.await.unwrap().unwrap();
    assert!(outcome.is_none(), "{outcome:?}");
    let mut finished = Vec::new();
    while let Ok(event) = events.try_recv() {
        if matches!(event, SyncEvent::Finished(_)) {
            finished.push(event);
        }
    }
    assert!(finished.is_empty(), "{finished:?}");
    let row = w.store().job(job.id).await.unwrap().unwrap();
    assert!(row.status.is_active(), "{row:?}");
    assert_eq!(row.lease_owner.as_deref(), Some("thief"));
}

#[tokio::test]
async fn a_runner_whose_lease_was_stolen_emits_no_finished_sqlite() {
    stolen_lease_says_nothing(support::sqlite().await).await;
}

#[tokio::test]
async fn a_runner_whose_lease_was_stolen_emits_no_finished_postgres() {
    if let Some(db) = support::postgres().await {
        stolen_lease_says_nothing(db).await;
    }
}

// ── one Page's own rate limit (#80001) delays only its agent ──

async fn one_page_limited_of_twenty(db: TestStore) {
    use pulso::domain::{ConnectionStatus, Role};
    use pulso::facebook::{GraphClient, GraphConfig};
    use pulso::sandbox::{Fault, Sandbox, SandboxOptions};
    use pulso::store::NewAgent;
    use pulso::sync::GraphSource;

    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    let pages = sandbox.add_pages(20);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let mut ids = Vec::new();
    for p in &pages {
        let new = NewAgent {
            name: p.agent_name.clone(),
            email: p.email.clone(),
            role: Role::Agent,
            facebook_page_id: Some(p.page_id.clone()),
            instagram_account_id: None,
        };
        let (agent, _) = store.upsert_agent(&new, t0()).await.unwrap();
        let token = cipher.encrypt(agent.id, &SecretString::from(p.page_token.clone()));
        store.set_agent_token(agent.id, &token, None, t0()).await.unwrap();
        store
            .set_agent_status(agent.id, ConnectionStatus::Active, None, t0())
            .await
            .unwrap();
        ids.push(agent.id);
    }
    // The last Page answers #80001 "wait 12 minutes" to its first request; the others are fine.
    let limited = pages[19].page_id.clone();
    sandbox.set_fault(
        &limited,
        Fault::PageLimited {
            regain_minutes: 12,
            remaining: 1,
        },
    );
    let client = GraphClient::new(GraphConfig {
        base_url: format!("http://{addr}"),
        api_version: "v25.0".into(),
        app_id: String::new(),
        app_secret: None,
        timeout: Duration::from_secs(10),
    });
    let clock = Arc::new(ManualClock::starting_at(t0()));
    let mut s = settings();
    s.batch_size = 10;
    let engine = SyncEngine::builder(
        store.clone(),
        Arc::new(GraphSource::new(client)),
        cipher,
        clock.clone(),
        s,
        tz(),
    )
    .lease_clock(clock.clone())
    .build();
    let mut events = engine.subscribe();
    let job = engine.request_bulk("telegram:1", false).await.unwrap();
    let mut paused = false;
    let report = loop {
        match events.recv().await.unwrap() {
            SyncEvent::Paused { .. } => paused = true,
            SyncEvent::Finished(r) if r.job_id == job.job_id => break r,
            _ => {}
        }
    };
    assert!(!paused, "a Page's own limit must not pause the job");
    assert_eq!(report.synced.len(), 20, "{report:?}");
    assert!(report.deferred.is_empty());
    for (i, id) in ids.iter().enumerate() {
        let synced_at = store.agent(*id).await.unwrap().unwrap().last_synced_at.unwrap();
        if i < 19 {
            assert_eq!(synced_at, t0(), "agent {i} synced on time");
        } else {
            assert!(synced_at >= t0() + chrono::Duration::minutes(12), "{synced_at}");
        }
    }
    // The limited Page was asked again after its wait (its first answer was the 80001).
    assert!(sandbox.calls_for(&limited) >= 2);
}

#[tokio::test]
async fn a_page_limit_on_one_page_of_twenty_delays_only_its_agent_sqlite() {
    one_page_limited_of_twenty(support::sqlite().await).await;
}

#[tokio::test]
async fn a_page_limit_on_one_page_of_twenty_delays_only_its_agent_postgres() {
    if let Some(db) = support::postgres().await {
        one_page_limited_of_twenty(db).await;
    }
}

//! Graceful shutdown. A real `pulso run` child process gets SIGTERM in the middle of a sync (as
//! systemd stops it): it exits cleanly, leaves no agent `running` and frees the job's lease, so a
//! second process resumes the job at once. And in process: the chat following the sync is told it
//! was paused by a restart. Every check waits for an event (the child's exit, a row, a report).

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use pulso::chat::progress::{ChatAddress, EditError, ProgressSink, follow};
use pulso::chat::{Caller, ChatCore, ChatKind, Platform};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ItemStatus, JobKind, JobStatus};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::queries::Queries;
use pulso::sandbox::{Fault, Sandbox, SandboxOptions, SeededPage};
use pulso::store::Store;
use pulso::sync::{GraphSource, SyncEngine, SyncEvent, SyncSettings, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use support::TestStore;

const AGENTS: usize = 6;

struct World {
    sandbox: Sandbox,
    base_url: String,
    pages: Vec<SeededPage>,
    key: SecretString,
    cipher: Arc<TokenCipher>,
}

async fn world() -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    let pages = sandbox.add_pages(AGENTS);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let key = SecretString::from(generate_key_b64());
    let cipher = Arc::new(TokenCipher::new("k1", Some(&key), None).unwrap());
    World {
        sandbox,
        base_url: format!("http://{addr}"),
        pages,
        key,
        cipher,
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
        SyncEngine::new(
            store,
            Arc::new(GraphSource::new(client)),
            self.cipher.clone(),
            Arc::new(SystemClock),
            settings,
            "America/Mexico_City".parse().unwrap(),
        )
    }

    fn slow(&self, fault: Fault) {
        for p in &self.pages {
            self.sandbox.set_fault(&p.page_id, fault.clone());
        }
    }
}

fn settings() -> SyncSettings {
    SyncSettings {
        batch_size: 2,
        batch_delay: Duration::ZERO,
        hourly_budget: 100_000,
        ..support::sync_settings()
    }
}

/// Polls the store until `done` holds (each look is a real read; no fixed sleep decides anything).
async fn wait_for(store: &dyn Store, job: i64, what: &str, done: impl Fn(&[pulso::domain::JobItem]) -> bool) {
    for _ in 0..3000 {
        let items = store.job_items(job).await.unwrap();
        if done(&items) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn sigterm_mid_sync(db: TestStore) {
    let w = world().await;
    let ids = w.import(db.store.as_ref()).await;
    // Each Graph request takes a while, so SIGTERM lands mid-batch.
    w.slow(Fault::Slow(Duration::from_millis(300)));
    // A job the child's watcher finds at start-up (created a minute ago, never started).
    let job = db
        .store
        .create_job(
            JobKind::Bulk,
            None,
            "telegram:1",
            &ids,
            Utc::now() - chrono::Duration::minutes(1),
        )
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pulso"))
        .arg("run")
        .current_dir(data.path())
        .env("PULSO__DATABASE__URL", &db.url)
        .env("PULSO__SECURITY__TOKEN_KEY", w.key.expose_secret())
        .env("PULSO__SECURITY__TOKEN_KEY_ID", "k1")
        .env("PULSO__FACEBOOK__GRAPH_URL", &w.base_url)
        .env("PULSO__HTTP__LISTEN", "127.0.0.1:0")
        .env("PULSO__HTTP__METRICS_LISTEN", "")
        .env("PULSO__SYNC__BATCH_SIZE", "2")
        .env("PULSO__SYNC__BATCH_DELAY_SECS", "0")
        .env("PULSO__SYNC__SHUTDOWN_GRACE_SECS", "30")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for(db.store.as_ref(), job.id, "the child to sync an agent", |items| {
        items.iter().any(|i| i.status == ItemStatus::Synced) && items.iter().any(|i| i.status == ItemStatus::Running)
    })
    .await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the child exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");

    let items = db.store.job_items(job.id).await.unwrap();
    assert!(items.iter().all(|i| i.status != ItemStatus::Running), "{items:?}");
    assert!(
        items.iter().any(|i| i.status == ItemStatus::Pending),
        "stopped mid-sync: {items:?}"
    );
    let row = db.store.job(job.id).await.unwrap().unwrap();
    assert!(row.status.is_active(), "{row:?}");
    assert_eq!(row.lease_owner, None);
    assert_eq!(row.lease_expires_at, None);

    // The next process takes it over at once: no lease to wait out.
    w.slow(Fault::None);
    let next = w.engine(db.store.clone(), settings());
    let mut events = next.subscribe();
    assert_eq!(next.recover().await.unwrap(), vec![job.id]);
    let report = loop {
        if let SyncEvent::Finished(r) = events.recv().await.unwrap()
            && r.job_id == job.id
        {
            break r;
        }
    };
    assert_eq!(report.synced.len(), AGENTS, "{report:?}");
    assert_eq!(report.status, JobStatus::Completed);
}

#[tokio::test]
async fn sigterm_during_a_sync_leaves_nothing_running_and_the_next_process_resumes_at_once_sqlite() {
    sigterm_mid_sync(support::sqlite().await).await;
}

#[tokio::test]
async fn sigterm_during_a_sync_leaves_nothing_running_and_the_next_process_resumes_at_once_postgres() {
    if let Some(db) = support::postgres().await {
        sigterm_mid_sync(db).await;
    }
}

/// The admin's progress message.
struct Message {
    edits: Mutex<Vec<String>>,
}

#[async_trait]
impl ProgressSink for Message {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        self.edits.lock().unwrap().push(text.to_string());
        Ok(())
    }

    fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: "telegram",
            chat_id: "555".into(),
        })
    }
}

#[tokio::test]
async fn a_shutdown_tells_the_chat_following_the_sync_that_it_paused_for_a_restart() {
    let db = support::sqlite().await;
    let w = world().await;
    w.import(db.store.as_ref()).await;
    w.slow(Fault::Slow(Duration::from_millis(200)));
    let mut s = settings();
    s.shutdown_grace = Duration::ZERO;
    let engine = w.engine(db.store.clone(), s);
    let tz = "America/Mexico_City".parse().unwrap();
    let core = ChatCore::new(
        db.store.clone(),
        Arc::new(Queries::new(db.store.clone(), tz)),
        engine.clone(),
        tz,
        None,
        None,
    );
    let admin = Caller {
        platform: Platform::Telegram,
        user_id: "555".into(),
        is_admin: true,
        chat: ChatKind::Private,
        assume_agent: None,
    };
    let mut reply = core.handle(&admin, "/actualizar", None).await.unwrap();
    let progress = reply.progress.take().expect("a progress message");
    let job_id = progress.job_id;
    let message = Arc::new(Message {
        edits: Mutex::new(Vec::new()),
    });
    let following = {
        let message = message.clone();
        tokio::spawn(async move { follow(progress, message.as_ref(), Duration::ZERO).await })
    };
    wait_for(db.store.as_ref(), job_id, "an agent in flight", |items| {
        items.iter().any(|i| i.status == ItemStatus::Running)
    })
    .await;
    engine.shutdown().await;
    let outcome = following.await.unwrap();
    assert_eq!(outcome.final_text, None);
    let last = message.edits.lock().unwrap().last().cloned().unwrap();
    assert!(last.contains("pausada por un reinicio"), "{last}");
    let items = db.store.job_items(job_id).await.unwrap();
    assert!(items.iter().all(|i| i.status != ItemStatus::Running), "{items:?}");
    let row = db.store.job(job_id).await.unwrap().unwrap();
    assert_eq!(row.lease_owner, None);
}

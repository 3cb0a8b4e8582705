//! Shared test helpers: fresh SQLite and PostgreSQL stores.
//!
//! PostgreSQL tests run when `PULSO_TEST_POSTGRES_URL` names a server (CI sets it to
//! postgres://postgres@127.0.0.1:5432/test); each test gets its own new database. Without it they
//! print a skip message, unless `PULSO_TEST_REQUIRE_POSTGRES=1`, when a missing server fails.
#![allow(dead_code)]

pub mod alerting;
pub mod chat;
pub mod failing_store;
pub mod prom;
pub mod proxy;
pub mod scripted;
pub mod smtp_sink;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pulso::config::Config;
use pulso::crypto::TokenCipher;
use pulso::domain::{AgentId, ConnectionStatus, Role};
use pulso::store::{self, NewAgent, PgStore, SqliteStore, Store};
use pulso::sync::SyncSettings;
use secrecy::SecretString;
use sqlx::Connection;

pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// The engine's rules as `bot-config/pulso.toml` ships them (batches of 10, 5 s apart, 3 attempts,
/// 60 s leases…); tests override only what they are about.
pub fn sync_settings() -> SyncSettings {
    let defaults = Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &[]).unwrap();
    SyncSettings::from_config(&defaults)
}

/// Every sandbox Page as a connected agent (its own Page token, encrypted for its row); their ids.
pub async fn import_pages(
    store: &dyn Store,
    cipher: &TokenCipher,
    pages: &[pulso::sandbox::SeededPage],
) -> Vec<AgentId> {
    let mut ids = Vec::new();
    for p in pages {
        let new = NewAgent {
            name: p.agent_name.clone(),
            email: p.email.clone(),
            role: Role::Agent,
            facebook_page_id: Some(p.page_id.clone()),
            instagram_account_id: None,
        };
        let (agent, _) = store.upsert_agent(&new, Utc::now()).await.unwrap();
        let token = cipher.encrypt(agent.id, &SecretString::from(p.page_token.clone()));
        store.set_agent_token(agent.id, &token, None, Utc::now()).await.unwrap();
        store
            .set_agent_status(agent.id, ConnectionStatus::Active, None, Utc::now())
            .await
            .unwrap();
        ids.push(agent.id);
    }
    ids
}

/// An agent ready to sync: created by email with its Page, a Page token encrypted for its row, and
/// marked active.
pub async fn connected_agent(
    store: &dyn Store,
    cipher: &TokenCipher,
    name: &str,
    email: &str,
    page_id: &str,
    at: DateTime<Utc>,
) -> AgentId {
    let new = NewAgent {
        name: name.to_string(),
        email: email.to_string(),
        role: Role::Agent,
        facebook_page_id: Some(page_id.to_string()),
        instagram_account_id: None,
    };
    let (agent, _) = store.upsert_agent(&new, at).await.unwrap();
    let token = cipher.encrypt(agent.id, &SecretString::from(format!("tok-{page_id}")));
    store.set_agent_token(agent.id, &token, None, at).await.unwrap();
    store
        .set_agent_status(agent.id, ConnectionStatus::Active, None, at)
        .await
        .unwrap();
    agent.id
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pulso.db").display());
    let store = store::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    TestStore {
        store,
        url,
        _dir: Some(dir),
    }
}

pub async fn sqlite_store() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pulso.db").display());
    let store = SqliteStore::connect(&url, 5).await.unwrap();
    store.migrate().await.unwrap();
    (store, dir)
}

pub fn pg_admin_url() -> Option<String> {
    match std::env::var("PULSO_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("PULSO_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("PULSO_TEST_REQUIRE_POSTGRES=1 but PULSO_TEST_POSTGRES_URL is not set");
            }
            eprintln!("skipping PostgreSQL test: set PULSO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test");
            None
        }
    }
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_pg_database() -> Option<String> {
    let admin = pg_admin_url()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The creation time is in the name, so later runs can drop what earlier runs left behind.
    let name = format!("pulso_t_{now}_{}", rand_suffix());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at PULSO_TEST_POSTGRES_URL is not answering: {e}"));
    drop_stale_databases(&mut conn, now).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// Drops test databases created more than an hour ago: no test runs that long, so none is in use.
async fn drop_stale_databases(conn: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'pulso\\_t\\_%'")
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name.split('_').nth(2).and_then(|t| t.parse::<u64>().ok());
        // Names without a timestamp come from before this scheme; they are stale too.
        if created.is_none_or(|t| now.saturating_sub(t) > 3600) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

pub async fn postgres() -> Option<TestStore> {
    let url = fresh_pg_database().await?;
    let store = store::connect(&url, 10).await.unwrap();
    store.migrate().await.unwrap();
    Some(TestStore { store, url, _dir: None })
}

pub async fn pg_store() -> Option<PgStore> {
    let url = fresh_pg_database().await?;
    let store = PgStore::connect(&url, 10).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

pub fn rand_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..10).map(|_| (b'a' + rng.random_range(0..26)) as char).collect()
}

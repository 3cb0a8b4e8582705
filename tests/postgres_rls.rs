//! Row Level Security as Supabase would apply it, on a local PostgreSQL: the `auth` schema, the
//! `auth.uid()` function (Supabase's definition) and the `authenticated` role are recreated here,
//! never by the migrations.

mod support;

use chrono::{NaiveDate, Utc};
use pulso::domain::{DailyMetrics, Role};
use pulso::store::{NewAgent, PgStore, Store};
use sqlx::{Connection, Executor, PgConnection, Row};

const SUPABASE_AUTH: &str = r#"
DO $$ BEGIN
  CREATE ROLE authenticated NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated;
"#;

const UID_A: &str = "00000000-0000-0000-0000-00000000000a";
const UID_B: &str = "00000000-0000-0000-0000-00000000000b";
const UID_ADMIN: &str = "00000000-0000-0000-0000-0000000000ad";

async fn seed(store: &PgStore) -> (i64, i64) {
    let mut ids = Vec::new();
    for (name, uid, role) in [
        ("Ana", UID_A, Role::Agent),
        ("Beto", UID_B, Role::Agent),
        ("Jefa", UID_ADMIN, Role::Admin),
    ] {
        let new = NewAgent {
            name: name.into(),
            email: format!("{name}@remax.mx"),
            role,
            facebook_page_id: None,
            instagram_account_id: None,
        };
        let (agent, _) = store.upsert_agent(&new, Utc::now()).await.unwrap();
        store
            .set_agent_token(agent.id, "v1:k1:opaque", None, Utc::now())
            .await
            .unwrap();
        sqlx::query("UPDATE agents SET auth_user_id = $1::uuid WHERE id = $2")
            .bind(uid)
            .bind(agent.id)
            .execute(store.pool())
            .await
            .unwrap();
        let day = DailyMetrics {
            date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            impressions: Some(10),
            ..Default::default()
        };
        store.upsert_daily_metrics(agent.id, &[day], Utc::now()).await.unwrap();
        ids.push(agent.id);
    }
    (ids[0], ids[1])
}

/// Agent ids whose metric rows are visible to the Supabase user `uid` (None = no JWT).
async fn visible_metric_agents(url: &str, uid: Option<&str>) -> Vec<i64> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    if let Some(uid) = uid {
        sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
            .bind(format!(r#"{{"sub":"{uid}","role":"authenticated"}}"#))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let rows = sqlx::query("SELECT agent_id FROM facebook_metrics_daily ORDER BY agent_id")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<i64, _>(0)).collect()
}

#[tokio::test]
async fn an_agent_reads_only_their_rows_and_admins_read_all() {
    let Some(url) = support::fresh_pg_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute(SUPABASE_AUTH).await.unwrap();
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    let (a, b) = seed(&store).await;

    assert_eq!(visible_metric_agents(&url, Some(UID_A)).await, vec![a]);
    assert_eq!(visible_metric_agents(&url, Some(UID_B)).await, vec![b]);
    assert_eq!(visible_metric_agents(&url, Some(UID_ADMIN)).await.len(), 3);
    assert!(visible_metric_agents(&url, None).await.is_empty());

    // The encrypted token column is not readable through Supabase at all.
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    let denied = sqlx::query("SELECT page_token_encrypted FROM agents")
        .fetch_all(&mut *tx)
        .await;
    assert!(denied.is_err(), "token column must not be selectable by authenticated");
    tx.rollback().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(format!(r#"{{"sub":"{UID_A}"}}"#))
        .execute(&mut *tx)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM agents")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, vec!["Ana".to_string()]);
}

#[tokio::test]
async fn migrations_apply_where_no_auth_schema_exists_and_reads_fail_closed() {
    let Some(url) = support::fresh_pg_database().await else {
        return;
    };
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let auth_schema: Option<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = 'auth'")
            .fetch_optional(store.pool())
            .await
            .unwrap();
    assert_eq!(auth_schema, None, "migrations must never create the auth schema");
    seed_minimal(&store).await;
    let role_exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated')")
            .fetch_one(store.pool())
            .await
            .unwrap();
    if role_exists {
        // Without Supabase's auth.uid() nobody is anybody: no rows, and no error.
        assert!(visible_metric_agents(&url, Some(UID_A)).await.is_empty());
    }
}

async fn seed_minimal(store: &PgStore) {
    let new = NewAgent {
        name: "Ana".into(),
        email: "ana@remax.mx".into(),
        role: Role::Agent,
        facebook_page_id: None,
        instagram_account_id: None,
    };
    let (agent, _) = store.upsert_agent(&new, Utc::now()).await.unwrap();
    let day = DailyMetrics {
        date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        ..Default::default()
    };
    store.upsert_daily_metrics(agent.id, &[day], Utc::now()).await.unwrap();
}

//! pulso's PostgreSQL schema on a database set up the way Supabase sets one up, queried the way
//! PostgREST queries it.
//!
//! Each test builds, in its own database (dropped afterwards), what a Supabase project has before
//! pulso's first migration: the roles `anon`, `authenticated`, `service_role` and `authenticator`
//! (cluster-wide, so created only if missing), the `auth` schema with `auth.users`, `auth.uid()` and
//! `auth.jwt()` as Supabase defines them, and Supabase's default privileges on `public` (every new
//! table, sequence and function granted to the API roles). Then pulso's own migrations run, and
//! every request is made as PostgREST makes it: logged in as `authenticator`, `BEGIN; SET LOCAL ROLE
//! …; SELECT set_config('request.jwt.claims', '{…}', true); …`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Utc};
use pulso::domain::{DailyMetrics, InstagramAccount, InstagramDaily, InstagramMedia, MediaKind, Role};
use pulso::store::{NewAgent, PgStore, Store};
use sqlx::{Connection, Executor, PgConnection};

/// Roles as Supabase creates them (`supabase/postgres` roles.sql): NOLOGIN API roles, a LOGIN
/// `authenticator` that switches into them. Tolerates another test creating them at the same time.
const SUPABASE_ROLES: &str = r#"
DO $$
DECLARE
    statement text;
BEGIN
    FOREACH statement IN ARRAY ARRAY[
        'CREATE ROLE anon NOLOGIN NOINHERIT',
        'CREATE ROLE authenticated NOLOGIN NOINHERIT',
        'CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS',
        'CREATE ROLE authenticator LOGIN NOINHERIT',
        'GRANT anon, authenticated, service_role TO authenticator'
    ] LOOP
        BEGIN
            EXECUTE statement;
        EXCEPTION WHEN duplicate_object OR unique_violation OR internal_error THEN
            NULL;
        END;
    END LOOP;
END
$$;
"#;

/// The `auth` schema (`supabase/auth` migrations) and the default privileges of a Supabase project.
const SUPABASE_PROJECT: &str = r#"
CREATE SCHEMA auth;
CREATE TABLE auth.users (
    instance_id uuid,
    id uuid PRIMARY KEY,
    aud varchar(255),
    role varchar(255),
    email varchar(255) UNIQUE,
    encrypted_password varchar(255),
    email_confirmed_at timestamptz,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz,
    updated_at timestamptz
);
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT ALL ON FUNCTION auth.uid(), auth.role(), auth.jwt() TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON FUNCTIONS TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO anon, authenticated, service_role;
"#;

const UID_A: &str = "00000000-0000-0000-0000-00000000000a";
const UID_B: &str = "00000000-0000-0000-0000-00000000000b";
const UID_ADMIN: &str = "00000000-0000-0000-0000-0000000000ad";
const UID_UNCONFIRMED: &str = "00000000-0000-0000-0000-0000000000cc";

/// A Supabase-like database with pulso migrated into it; dropped when the test ends.
struct SupabaseDb {
    url: String,
    admin_url: String,
    name: String,
    store: PgStore,
}

impl SupabaseDb {
    async fn new() -> Option<Self> {
        let url = support::fresh_pg_database().await?;
        let mut conn = PgConnection::connect(&url).await.unwrap();
        conn.execute(SUPABASE_ROLES).await.unwrap();
        conn.execute(SUPABASE_PROJECT).await.unwrap();
        conn.close().await.unwrap();
        let store = PgStore::connect(&url, 4).await.unwrap();
        store.migrate().await.unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        let name = parsed.path().trim_start_matches('/').to_string();
        Some(Self {
            url,
            admin_url: support::pg_admin_url().unwrap(),
            name,
            store,
        })
    }

    /// The URL PostgREST connects with: the `authenticator` login.
    fn authenticator_url(&self) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_username("authenticator").unwrap();
        url.to_string()
    }

    async fn drop(self) {
        self.store.pool().close().await;
        let mut conn = PgConnection::connect(&self.admin_url).await.unwrap();
        conn.execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .await
        .unwrap();
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anon,
    AgentA,
    AgentB,
    Admin,
}

impl Who {
    const ALL: [Who; 4] = [Who::Anon, Who::AgentA, Who::AgentB, Who::Admin];

    fn role(self) -> &'static str {
        match self {
            Who::Anon => "anon",
            _ => "authenticated",
        }
    }

    fn claims(self) -> String {
        match self {
            Who::Anon => r#"{"role":"anon"}"#.to_string(),
            Who::AgentA => format!(r#"{{"sub":"{UID_A}","role":"authenticated","email":"ana@remax.mx"}}"#),
            Who::AgentB => format!(r#"{{"sub":"{UID_B}","role":"authenticated","email":"beto@remax.mx"}}"#),
            Who::Admin => format!(r#"{{"sub":"{UID_ADMIN}","role":"authenticated","email":"jefa@remax.mx"}}"#),
        }
    }
}

/// What a principal may read from a table.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Read {
    /// Refused outright (no grant): PostgREST answers 401/403.
    Denied,
    /// Only the rows of the principal's own agent.
    Own,
    /// Every row.
    All,
}

/// The documented policy: agents read their own agent row, metrics (Facebook and Instagram),
/// rollups, posts, media and sync jobs; the admin reads every table but the secrets; anon reads
/// nothing.
fn expected_read(table: &str, who: Who) -> Read {
    let secret = table.starts_with("pulso_private.");
    match who {
        Who::Anon => Read::Denied,
        _ if secret => Read::Denied,
        Who::Admin => Read::All,
        // Own rows of the per-agent tables; no row of the admin-only ones (api_rate_limits,
        // chat_identities, alerts, alert_silences, job_subscribers, refused_metrics), which are
        // granted for the admin's sake.
        Who::AgentA | Who::AgentB => Read::Own,
    }
}

/// Which column of a table names the agent a row belongs to (None: the table is not per agent).
fn owner_column(table: &str) -> Option<&'static str> {
    match table {
        "agents" => Some("id"),
        "facebook_metrics_daily"
        | "facebook_metrics_monthly"
        | "facebook_posts"
        | "instagram_metrics_daily"
        | "instagram_media"
        | "sync_jobs"
        | "sync_job_items" => Some("agent_id"),
        _ => None,
    }
}

const PUBLIC_TABLES: [&str; 14] = [
    "agents",
    "facebook_metrics_daily",
    "facebook_metrics_monthly",
    "facebook_posts",
    "instagram_metrics_daily",
    "instagram_media",
    "sync_jobs",
    "sync_job_items",
    "api_rate_limits",
    "chat_identities",
    "alerts",
    "alert_silences",
    "job_subscribers",
    "refused_metrics",
];

const PRIVATE_TABLES: [&str; 5] = [
    "pulso_private._sqlx_migrations",
    "pulso_private.agent_tokens",
    "pulso_private.link_codes",
    "pulso_private.oauth_states",
    "pulso_private.oauth_page_candidates",
];

struct Seeded {
    ids: BTreeMap<&'static str, i64>,
}

impl Seeded {
    fn agent_of(&self, who: Who) -> Option<i64> {
        match who {
            Who::AgentA => Some(self.ids["Ana"]),
            Who::AgentB => Some(self.ids["Beto"]),
            Who::Admin => Some(self.ids["Jefa"]),
            Who::Anon => None,
        }
    }
}

/// Three agents with a row in every table. Ana is tied to her Supabase user by id, Beto only by his
/// confirmed e-mail in `auth.users`, the admin by id and made admin the way `pulso agents role`
/// does it; Carla signed up with her address but never confirmed it.
async fn seed(db: &SupabaseDb) -> Seeded {
    let store = &db.store;
    let pool = store.pool();
    let now = Utc::now();
    let mut ids = BTreeMap::new();
    for (name, email) in [
        ("Ana", "ana@remax.mx"),
        ("Beto", "Beto@Remax.mx"),
        ("Jefa", "jefa@remax.mx"),
        ("Carla", "carla@remax.mx"),
    ] {
        let new = NewAgent {
            name: name.into(),
            email: email.into(),
            role: Role::Agent,
            facebook_page_id: None,
            instagram_account_id: None,
        };
        let (agent, _) = store.upsert_agent(&new, now).await.unwrap();
        store
            .set_agent_token(agent.id, "v1:k1:opaque", None, now)
            .await
            .unwrap();
        let day = DailyMetrics {
            date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            impressions: Some(10),
            ..Default::default()
        };
        store.upsert_daily_metrics(agent.id, &[day], now).await.unwrap();
        // Instagram through the store, as the sync writes it.
        let account = InstagramAccount {
            id: format!("178414{}", agent.id),
            username: Some(name.to_lowercase()),
            followers: Some(120),
        };
        store.set_agent_instagram(agent.id, Some(&account), now).await.unwrap();
        let ig_day = InstagramDaily {
            views: Some(30),
            ..InstagramDaily::new(NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
        };
        store.upsert_instagram_daily(agent.id, &[ig_day], now).await.unwrap();
        let media = InstagramMedia {
            media_id: format!("1800{}", agent.id),
            created_at: now,
            kind: MediaKind::Reel,
            excerpt: "Casa".into(),
            permalink: None,
            likes: Some(3),
            comments: None,
            views: None,
            reach: None,
            saves: None,
            shares: None,
            total_interactions: None,
        };
        store.upsert_instagram_media(agent.id, &[media], now).await.unwrap();
        ids.insert(name, agent.id);
    }
    store.set_agent_role(ids["Jefa"], Role::Admin, now).await.unwrap();
    for (uid, name) in [(UID_A, "Ana"), (UID_ADMIN, "Jefa")] {
        sqlx::query("UPDATE agents SET auth_user_id = $1::uuid WHERE id = $2")
            .bind(uid)
            .bind(ids[name])
            .execute(pool)
            .await
            .unwrap();
    }
    for (uid, email, confirmed) in [
        (UID_A, "ana@remax.mx", true),
        (UID_B, "beto@remax.mx", true),
        (UID_ADMIN, "jefa@remax.mx", true),
        (UID_UNCONFIRMED, "carla@remax.mx", false),
    ] {
        sqlx::query(
            "INSERT INTO auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at) \
             VALUES ($1::uuid, 'authenticated', 'authenticated', $2, CASE WHEN $3 THEN now() END, now(), now())",
        )
        .bind(uid)
        .bind(email)
        .bind(confirmed)
        .execute(pool)
        .await
        .unwrap();
    }
    let mut conn = pool.acquire().await.unwrap();
    for (name, id) in &ids {
        let statements = [
            format!(
                "INSERT INTO facebook_posts (agent_id, post_id, created_at, fetched_at) VALUES ({id}, 'p{id}', now(), now())"
            ),
            format!(
                "INSERT INTO sync_jobs (kind, status, agent_id, created_at) VALUES ('manual_single', 'completed', {id}, now())"
            ),
            format!(
                "INSERT INTO sync_job_items (job_id, agent_id, status) \
                 SELECT id, {id}, 'synced' FROM sync_jobs WHERE agent_id = {id}"
            ),
            format!(
                "INSERT INTO chat_identities (platform, platform_user_id, agent_id, linked_at) \
                 VALUES ('console', '{name}', {id}, now())"
            ),
            format!(
                "INSERT INTO link_codes (code, agent_id, created_at, expires_at) VALUES ('code-{id}', {id}, now(), now())"
            ),
            format!(
                "INSERT INTO oauth_states (nonce, agent_id, expires_at, used_at) VALUES ('n-{id}', {id}, now(), now())"
            ),
            format!(
                "INSERT INTO oauth_page_candidates (agent_id, position, page_id, page_name, token_encrypted, \
                 expires_at, created_at) VALUES ({id}, 1, 'pg{id}', 'Página', 'v1:k1:x', now(), now())"
            ),
        ];
        for statement in statements {
            conn.execute(sqlx::AssertSqlSafe(statement)).await.unwrap();
        }
    }
    conn.execute(
        "INSERT INTO api_rate_limits (hour_window, calls_made, max_calls, updated_at) VALUES (now(), 1, 200, now());
         INSERT INTO alerts (fingerprint, rule, family, severity, summary, state, starts_at, updated_at)
             VALUES ('f', 'r', 'sync', 'warning', 's', 'firing', now(), now());
         INSERT INTO alert_silences (matcher, created_by, created_at, ends_at) VALUES ('r', 'Jefa', now(), now());
         INSERT INTO job_subscribers (job_id, platform, chat_id, requested_by, created_at)
             SELECT id, 'telegram', '42', 'telegram:42', now() FROM sync_jobs LIMIT 1;
         INSERT INTO refused_metrics (metric, refused_at) VALUES ('page_impressions', now());",
    )
    .await
    .unwrap();
    Seeded { ids }
}

/// SQLSTATE of a failed statement, None when it succeeded.
fn sqlstate<T>(result: &Result<T, sqlx::Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.code().map(|c| c.to_string()).unwrap_or_default()),
        Err(other) => panic!("not a database error: {other}"),
    }
}

/// Runs `sql` as PostgREST would for `who`, in a transaction that is rolled back; returns the rows
/// as JSON text, or the error.
async fn as_api(conn: &mut PgConnection, who: Who, sql: &str) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = conn.begin().await.unwrap();
    tx.execute(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {}", who.role())))
        .await
        .unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(who.claims())
        .execute(&mut *tx)
        .await
        .unwrap();
    let result = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut *tx)
        .await;
    tx.rollback().await.unwrap();
    result
}

async fn first_column(pool: &sqlx::PgPool, table: &str) -> String {
    let (schema, name) = table.split_once('.').unwrap_or(("public", table));
    sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position LIMIT 1",
    )
    .bind(schema)
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn every_table_for_anon_two_agents_and_the_admin_as_postgrest_asks() {
    let Some(db) = SupabaseDb::new().await else {
        return;
    };
    let seeded = seed(&db).await;
    let pool = db.store.pool();

    // The matrix covers every table pulso created: a new one must be added here.
    let tables: BTreeSet<String> = sqlx::query_scalar(
        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('public', 'pulso_private')",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|t: String| t.trim_start_matches("public.").to_string())
    .collect();
    let expected: BTreeSet<String> = PUBLIC_TABLES
        .iter()
        .chain(PRIVATE_TABLES.iter())
        .map(|t| t.to_string())
        .collect();
    assert_eq!(tables, expected, "a table is missing from the RLS matrix");

    let mut conn = PgConnection::connect(&db.authenticator_url()).await.unwrap();
    let mut failures = Vec::new();
    for table in PUBLIC_TABLES.iter().chain(PRIVATE_TABLES.iter()) {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(total >= 1, "{table} was not seeded");
        let column = first_column(pool, table).await;
        for who in Who::ALL {
            // select=* (supabase-js's default): every column, or nothing at all.
            let read = as_api(&mut conn, who, &format!("SELECT to_jsonb(t)::text FROM {table} t")).await;
            match (expected_read(table, who), &read) {
                (Read::Denied, Err(_)) => {
                    assert_eq!(
                        sqlstate(&read).as_deref(),
                        Some("42501"),
                        "{table} as {who:?}: {read:?}"
                    );
                }
                (Read::All, Ok(rows)) if rows.len() as i64 == total => {}
                (Read::Own, Ok(rows)) => {
                    let mine = seeded.agent_of(who).unwrap();
                    let owners: Vec<Option<i64>> = rows
                        .iter()
                        .map(|r| {
                            let v: serde_json::Value = serde_json::from_str(r).unwrap();
                            owner_column(table).and_then(|c| v[c].as_i64())
                        })
                        .collect();
                    let ok = match owner_column(table) {
                        Some(_) => !owners.is_empty() && owners.iter().all(|o| *o == Some(mine)),
                        None => owners.is_empty(),
                    };
                    if !ok {
                        failures.push(format!(
                            "{table} as {who:?}: read {owners:?}, expected only agent {mine}"
                        ));
                    }
                }
                (want, got) => failures.push(format!("{table} as {who:?}: expected {want:?}, got {got:?}")),
            }

            // Writes: refused by privileges (42501), never merely filtered by RLS.
            for (what, sql) in [
                ("insert", format!("INSERT INTO {table} DEFAULT VALUES RETURNING 'x'")),
                (
                    "update",
                    format!("UPDATE {table} SET {column} = {column} RETURNING 'x'"),
                ),
                ("delete", format!("DELETE FROM {table} RETURNING 'x'")),
                ("truncate", format!("TRUNCATE {table} CASCADE")),
            ] {
                let result = if what == "truncate" {
                    // TRUNCATE returns no rows and ignores RLS: only the missing grant stops it.
                    truncate_as_api(&mut conn, who, &sql).await
                } else {
                    as_api(&mut conn, who, &sql).await.map(|_| ())
                };
                if sqlstate(&result).as_deref() != Some("42501") {
                    failures.push(format!(
                        "{what} on {table} as {who:?}: expected permission denied, got {result:?}"
                    ));
                }
            }
        }
        // Nothing stays writable for the API roles, whatever RLS would filter.
        for role in ["anon", "authenticated"] {
            for privilege in ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"] {
                let has: bool = sqlx::query_scalar("SELECT has_table_privilege($1, $2, $3)")
                    .bind(role)
                    .bind(table)
                    .bind(privilege)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                if has {
                    failures.push(format!("{role} holds {privilege} on {table}"));
                }
            }
        }
    }
    // Nor can they draw ids from pulso's sequences (Supabase grants new ones to them by default).
    let sequences: Vec<String> = sqlx::query_scalar(
        "SELECT schemaname || '.' || sequencename FROM pg_sequences WHERE schemaname IN ('public', 'pulso_private')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(sequences.iter().any(|s| s.contains("instagram_media")), "{sequences:?}");
    for sequence in &sequences {
        for role in ["anon", "authenticated"] {
            for privilege in ["USAGE", "SELECT", "UPDATE"] {
                let has: bool = sqlx::query_scalar("SELECT has_sequence_privilege($1, $2, $3)")
                    .bind(role)
                    .bind(sequence)
                    .bind(privilege)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                if has {
                    failures.push(format!("{role} holds {privilege} on sequence {sequence}"));
                }
            }
        }
    }
    // PostgREST serves `public`: sqlx's table is not there any more.
    let in_public: Option<String> = sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(in_public, None, "_sqlx_migrations must not be in public");
    assert!(failures.is_empty(), "RLS matrix failures:\n{}", failures.join("\n"));

    // The unconfirmed sign-up with Carla's address is nobody.
    let mut tx = conn.begin().await.unwrap();
    tx.execute("SET LOCAL ROLE authenticated").await.unwrap();
    sqlx::query("SELECT set_config('request.jwt.claims', $1, true)")
        .bind(format!(r#"{{"sub":"{UID_UNCONFIRMED}","role":"authenticated"}}"#))
        .execute(&mut *tx)
        .await
        .unwrap();
    let seen: Vec<i64> = sqlx::query_scalar("SELECT id FROM agents")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert!(
        seen.is_empty(),
        "an unconfirmed e-mail must not tie a user to an agent: {seen:?}"
    );
    tx.rollback().await.unwrap();
    conn.close().await.unwrap();
    db.drop().await;
}

async fn truncate_as_api(conn: &mut PgConnection, who: Who, sql: &str) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await.unwrap();
    tx.execute(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {}", who.role())))
        .await
        .unwrap();
    let result = tx.execute(sqlx::AssertSqlSafe(sql.to_string())).await.map(|_| ());
    tx.rollback().await.unwrap();
    result
}

#[tokio::test]
async fn migrations_apply_on_plain_postgresql_without_the_auth_schema() {
    let Some(url) = support::fresh_pg_database().await else {
        return;
    };
    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();
    // Twice: a restart re-runs nothing and fails on nothing.
    store.migrate().await.unwrap();
    let auth_schema: Option<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname = 'auth'")
            .fetch_optional(store.pool())
            .await
            .unwrap();
    assert_eq!(auth_schema, None, "migrations must never create the auth schema");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM pulso_private._sqlx_migrations WHERE success")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let files = std::fs::read_dir("migrations/postgres").unwrap().count() as i64;
    assert_eq!(applied, files, "every migration recorded in pulso_private");
}

/// A database migrated by an earlier pulso (sqlx's table in `public`, tokens in `agents`) moves
/// forward without losing the migration history or a token.
#[tokio::test]
async fn an_existing_deployment_migrates_forward() {
    let Some(url) = support::fresh_pg_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(&url).await.unwrap();
    conn.execute(SUPABASE_ROLES).await.unwrap();
    conn.execute(SUPABASE_PROJECT).await.unwrap();
    // What pulso 0.1 applied: migrations 1 to 4, bookkept in public._sqlx_migrations.
    let dir = tempfile::tempdir().unwrap();
    for file in std::fs::read_dir("migrations/postgres").unwrap() {
        let path = file.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.as_str() < "0005" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let old = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    old.run(&mut conn).await.unwrap();
    conn.execute(
        "INSERT INTO agents (name, email, page_token_encrypted, created_at, updated_at) \
           VALUES ('Ana', 'ana@remax.mx', 'v1:k1:old-token', now(), now());
         INSERT INTO link_codes (code, agent_id, created_at, expires_at) \
           SELECT 'ABC123', id, now(), now() + interval '1 day' FROM agents;",
    )
    .await
    .unwrap();

    let store = PgStore::connect(&url, 4).await.unwrap();
    store.migrate().await.unwrap();

    let history: Vec<i64> = sqlx::query_scalar("SELECT version FROM pulso_private._sqlx_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(&history[..4], &[1, 2, 3, 4], "the old history moved with the table");
    assert!(history.contains(&7));
    let gone: Option<String> = sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(gone, None);
    let ana = store.agents().await.unwrap().remove(0);
    assert_eq!(
        store.agent_token(ana.id).await.unwrap().as_deref(),
        Some("v1:k1:old-token")
    );
    let code: Option<String> = sqlx::query_scalar("SELECT code FROM pulso_private.link_codes")
        .fetch_optional(store.pool())
        .await
        .unwrap();
    assert_eq!(code.as_deref(), Some("ABC123"));
    // The moved table kept Supabase's grants from `public`: they are gone too.
    let anon_reads: bool =
        sqlx::query_scalar("SELECT has_table_privilege('anon', 'pulso_private._sqlx_migrations', 'SELECT')")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(!anon_reads);
}

//! The operator's HTTP surface on a real socket: `/metrics` parses as Prometheus text and moves when
//! a sync runs or a chat command is handled, is served apart from the public listener and refuses
//! scrapes without its token; `/salud` follows the database and the chat adapters, and recovers by itself after a
//! PostgreSQL outage (a TCP proxy on 127.0.0.1 in front of the server is stopped and restarted).

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pulso::alerts::{AlertSettings, Alerts, Thresholds, Timing};
use pulso::chat::{Caller, ChatCore, ChatKind, Platform};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::http::{self, Health, HttpState};
use pulso::store::Store;
use pulso::sync::{Clock, ManualClock, SourceError, SyncEngine, SyncEvent, SyncSettings};
use secrecy::SecretString;
use serde_json::Value;
use support::chat::RecordingOutbox;
use support::prom::{self, value};
use support::proxy::proxied_pg_store;
use support::scripted::ScriptedSource;
use tokio::net::TcpListener;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 14, 10, 0).unwrap()
}

/// `/salud` and `/metrics` on one listener (`http.metrics_listen` empty).
async fn serve(state: HttpState) -> String {
    serve_router(http::router(state.clone()).merge(http::metrics_router(state))).await
}

async fn serve_router(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(http::serve(listener, router));
    base
}

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn scrape(base: &str) -> Vec<prom::Sample> {
    let resp = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = resp.text().await.unwrap();
    prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn sync_settings() -> SyncSettings {
    SyncSettings {
        backfill_days: 30,
        lease: Duration::from_secs(3600),
        hourly_budget: 1000,
        ..support::sync_settings()
    }
}

#[test]
fn the_prometheus_parser_rejects_what_the_format_forbids() {
    assert!(prom::parse("# TYPE a counter\na 1\n").is_ok());
    assert!(prom::parse("# TYPE a counter\na{x=\"1\\\"2\"} 1 1700000000\n").is_ok());
    assert!(prom::parse("a 1\n").is_err(), "no TYPE");
    assert!(prom::parse("# TYPE a counter\na{x=1} 1\n").is_err(), "unquoted");
    assert!(prom::parse("# TYPE a counter\na{1x=\"1\"} 1\n").is_err(), "label name");
    assert!(prom::parse("# TYPE a counter\na one\n").is_err(), "value");
    assert!(prom::parse("# TYPE a-b counter\n").is_err(), "metric name");
    let not_cumulative = "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
    assert!(prom::parse(not_cumulative).is_err());
}

/// The Prometheus recorder is global to the process: tests that write or read gauges take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_move_when_a_sync_runs() {
    let _serial = SERIAL.lock().await;
    let db = support::sqlite().await;
    let store = db.store.clone();
    let clock = Arc::new(ManualClock::starting_at(start()));
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let mut agents = Vec::new();
    for i in 0..6 {
        let page = format!("{}", 7000 + i);
        let email = format!("m{i}@remax.mx");
        let id =
            support::connected_agent(store.as_ref(), &cipher, &format!("Agente {i}"), &email, &page, start()).await;
        agents.push(id);
    }
    let source = Arc::new(ScriptedSource::default());
    source.fail(
        "7001",
        vec![SourceError::TokenInvalid {
            reason: "el token de Facebook ya no es válido".into(),
        }],
    );
    let engine = SyncEngine::new(
        store.clone(),
        source,
        cipher,
        clock.clone(),
        sync_settings(),
        "America/Mexico_City".parse().unwrap(),
    );
    let alerts = Alerts::new(
        store.clone(),
        Arc::new(RecordingOutbox::default()),
        None,
        clock.clone(),
        AlertSettings {
            timing: Timing::default(),
            thresholds: Thresholds::default(),
            hourly_budget: 1000,
            office: "RE/MAX Centro".into(),
            tz: "America/Mexico_City".parse().unwrap(),
            tick: Duration::from_secs(3600),
            email_retry_after: Duration::from_secs(600),
            db_timeout: Duration::from_secs(5),
        },
    );
    tokio::spawn(alerts.run(engine.subscribe()));
    let mut events = engine.subscribe();
    let mut state = HttpState::new(store.clone(), clock.clone(), Health::new(), 1000);
    // Every scrape re-reads the database gauges, so the test sees them move at once.
    state.gauges_max_age = Duration::ZERO;
    let base = serve(state).await;
    let tz: chrono_tz::Tz = "America/Mexico_City".parse().unwrap();
    let core = ChatCore::new(
        store.clone(),
        Arc::new(pulso::queries::Queries::new(store.clone(), tz)),
        engine.clone(),
        tz,
        None,
        None,
    );
    let admin = Caller {
        platform: Platform::Console,
        user_id: "jefa".into(),
        is_admin: true,
        chat: ChatKind::Private,
        assume_agent: None,
    };

    let before = scrape(&base).await;
    let bulk = [("kind", "bulk"), ("status", "partial")];
    // A real command through the chat core, the path every adapter takes.
    let reply = core.handle(&admin, "/ranking semana", None).await.unwrap();
    assert!(!reply.text.is_empty());
    let job = engine.request_bulk("admin", false).await.unwrap();
    loop {
        if let SyncEvent::Finished(r) = events.recv().await.unwrap()
            && r.job_id == job.job_id
        {
            break;
        }
    }
    // The alerts task counts the report; wait until the scrape shows it.
    let mut after = scrape(&base).await;
    for _ in 0..100 {
        // The counters move when the report is observed; the alert gauge right after the rule fires.
        if value(&after, "pulso_sync_jobs_total", &bulk) > value(&before, "pulso_sync_jobs_total", &bulk)
            && value(&after, "pulso_alerts_firing", &[("severity", "info")]) >= 1.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = scrape(&base).await;
    }
    let delta = |name: &str, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    assert_eq!(delta("pulso_sync_jobs_total", &bulk), 1.0);
    assert_eq!(delta("pulso_sync_agents_total", &[("outcome", "synced")]), 5.0);
    assert_eq!(delta("pulso_sync_agents_total", &[("outcome", "failed")]), 1.0);
    assert!(delta("pulso_api_calls_total", &[]) >= 11.0);
    assert_eq!(delta("pulso_sync_duration_seconds_count", &[("kind", "bulk")]), 1.0);
    assert!(delta("pulso_commands_total", &[("command", "ranking"), ("outcome", "ok")]) >= 1.0);
    // Gauges read from the database at scrape time.
    assert_eq!(value(&after, "pulso_database_up", &[]), 1.0);
    assert!(value(&after, "pulso_api_budget_calls_used", &[]) >= 11.0);
    assert_eq!(value(&after, "pulso_api_budget_calls_max", &[]), 1000.0);
    let first_agent = agents[0].to_string();
    assert!(
        after
            .iter()
            .any(|s| s.name == "pulso_agent_data_age_seconds" && s.labels.get("agent_id") == Some(&first_agent))
    );
    // One failed agent: `sync_fallos` (info) is firing, visible but silent.
    assert_eq!(value(&after, "pulso_alerts_firing", &[("severity", "info")]), 1.0);
    assert!(after.iter().any(|s| s.name == "pulso_last_bulk_sync_age_seconds"));
    let text = get(&format!("{base}/metrics")).await.1;
    assert!(text.contains("# TYPE pulso_sync_duration_seconds histogram"), "{text}");
    assert!(text.contains("# HELP pulso_sync_jobs_total "), "{text}");
    if std::env::var("PULSO_TEST_SHOW_METRICS").is_ok() {
        eprintln!("{text}");
    }
}

#[tokio::test]
async fn salud_is_ready_with_the_database_and_every_connected_adapter() {
    let _serial = SERIAL.lock().await;
    let db = support::sqlite().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(start()));
    let health = Health::new();
    let base = serve(HttpState::new(db.store.clone(), clock, health.clone(), 200)).await;

    let (status, body) = get(&format!("{base}/salud")).await;
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["ready"], true);
    assert_eq!(json["live"], true);
    assert_eq!(json["status"], "ok");
    assert_eq!(json["database"]["ok"], true);
    assert_eq!(json["database"]["backend"], "sqlite");
    assert!(json["last_sync"].is_null());

    health.set_adapter("telegram", true, None);
    health.set_adapter("discord", false, Some("sin conexión con el gateway".into()));
    let (status, body) = get(&format!("{base}/salud")).await;
    assert_eq!(status, 503, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "no_listo");
    assert_eq!(json["adapters"]["discord"]["connected"], false);
    assert_eq!(json["adapters"]["telegram"]["connected"], true);

    health.set_adapter("discord", true, None);
    assert_eq!(get(&format!("{base}/salud")).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salud_reports_a_lost_postgres_and_recovers_by_itself() {
    let _serial = SERIAL.lock().await;
    let Some((mut proxy, store)) = proxied_pg_store().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(start()));
    let mut state = HttpState::new(store, clock, Health::new(), 200);
    state.db_timeout = Duration::from_secs(2);
    state.gauges_max_age = Duration::ZERO;
    let base = serve(state).await;
    let salud = format!("{base}/salud");

    let (status, body) = get(&salud).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["database"]["backend"],
        "postgres"
    );

    proxy.stop().await;
    let (status, body) = get(&salud).await;
    assert_eq!(status, 503, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["ready"], false);
    assert_eq!(json["live"], true);
    assert_eq!(json["database"]["ok"], false);
    let error = json["database"]["error"].as_str().unwrap();
    if std::env::var("PULSO_TEST_SHOW_METRICS").is_ok() {
        eprintln!("{body}");
    }
    assert!(!error.is_empty() && !error.contains("postgres://"), "{error}");
    assert_eq!(value(&scrape(&base).await, "pulso_database_up", &[]), 0.0);

    proxy.restart().await;
    let mut recovered = false;
    for _ in 0..50 {
        let (status, _) = get(&salud).await;
        if status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "/salud did not recover after the database came back");
    assert_eq!(value(&scrape(&base).await, "pulso_database_up", &[]), 1.0);
}

#[tokio::test]
async fn metrics_live_on_their_own_listener_and_answer_only_with_the_token() {
    let _serial = SERIAL.lock().await;
    let db = support::sqlite().await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(start()));
    let mut state = HttpState::new(db.store.clone(), clock, Health::new(), 200);
    state.metrics_token = Some(SecretString::from("s3creto-de-prometheus"));
    let public = serve_router(http::router(state.clone())).await;
    let private = serve_router(http::metrics_router(state)).await;

    // The public listener (where the OAuth callback lives) has no /metrics at all.
    assert_eq!(get(&format!("{public}/metrics")).await.0, 404);
    assert_eq!(get(&format!("{public}/salud")).await.0, 200);

    let client = reqwest::Client::new();
    let metrics = format!("{private}/metrics");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(client.get(&metrics).send().await.unwrap()), 401);
    assert_eq!(
        status(client.get(&metrics).bearer_auth("otro").send().await.unwrap()),
        401
    );
    let refused = client
        .get(&metrics)
        .header("Authorization", "s3creto-de-prometheus")
        .send()
        .await
        .unwrap();
    assert_eq!(status(refused), 401, "the token only as a Bearer credential");
    let ok = client
        .get(&metrics)
        .bearer_auth("s3creto-de-prometheus")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let text = ok.text().await.unwrap();
    assert!(prom::parse(&text).is_ok(), "{text}");
    assert!(text.contains("pulso_database_up"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_render_cached_gauges_instead_of_reading_the_database_each_time() {
    let _serial = SERIAL.lock().await;
    let Some((mut proxy, store)) = proxied_pg_store().await else {
        return;
    };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(start()));
    let mut state = HttpState::new(Arc::new(store), clock, Health::new(), 200);
    state.db_timeout = Duration::from_secs(2);
    // Far longer than the test: only the first scrape reads the database.
    state.gauges_max_age = Duration::from_secs(3600);
    let base = serve(state).await;
    assert_eq!(value(&scrape(&base).await, "pulso_database_up", &[]), 1.0);
    assert_eq!(value(&scrape(&base).await, "pulso_api_budget_calls_max", &[]), 200.0);

    // With the database unreachable, a scrape still answers from what was recorded: it did not
    // go to the database (which would have set pulso_database_up to 0).
    proxy.stop().await;
    let samples = scrape(&base).await;
    assert_eq!(value(&samples, "pulso_database_up", &[]), 1.0);
    assert_eq!(value(&samples, "pulso_api_budget_calls_max", &[]), 200.0);
    proxy.restart().await;
}

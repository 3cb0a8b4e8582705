//! Numbers that stay true against the real Graph API's habits (reference/graph-api.md §10): the
//! sandbox in its realistic mode, the real Graph client over HTTP, the real sync engine on a manual
//! clock, SQLite, and the chat core's replies. Each test reads the sandbox's call log and what the
//! chat shows.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use chrono_tz::Tz;
use pulso::alerts::{AlertSettings, Alerts};
use pulso::chat::{ChatCore, ChatKind};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{DateRange, Post};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::queries::Queries;
use pulso::sandbox::{PostsPaging, Sandbox, SandboxOptions, SeededPage};
use pulso::store::Store;
use pulso::sync::{GraphSource, ManualClock, SyncEngine, SyncEvent, SyncSettings};
use secrecy::SecretString;

const TZ: &str = "America/Mexico_City";

fn tz() -> Tz {
    TZ.parse().unwrap()
}

/// 2026-09-15 23:30 UTC: 17:30 in Mexico City, 16:30 in California.
fn start() -> DateTime<Utc> {
    "2026-09-15T23:30:00Z".parse().unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 15).unwrap()
}

struct World {
    sandbox: Sandbox,
    base_url: String,
    clock: Arc<ManualClock>,
    db: support::TestStore,
    engine: SyncEngine,
    core: ChatCore,
    alerts: Alerts,
    page: SeededPage,
    agent_id: i64,
}

fn settings() -> SyncSettings {
    SyncSettings {
        batch_delay: Duration::ZERO,
        retry_base_delay: Duration::ZERO,
        hourly_budget: 10_000,
        queue_poll: Duration::from_millis(20),
        // These tests count Facebook's calls; Instagram's are counted in tests/instagram_sync.rs.
        instagram_enabled: false,
        ..support::sync_settings()
    }
}

/// One agent on a realistic sandbox (set up further by `configure`) whose clock and the engine's
/// stand at [`start`].
async fn world(configure: impl Fn(&Sandbox)) -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    sandbox.set_now(start());
    configure(&sandbox);
    let page = sandbox.add_page("José Núñez");
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let base_url = format!("http://{addr}");
    let db = support::sqlite().await;
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let new = pulso::store::NewAgent {
        name: page.agent_name.clone(),
        email: page.email.clone(),
        role: pulso::domain::Role::Agent,
        facebook_page_id: Some(page.page_id.clone()),
        instagram_account_id: None,
    };
    let (agent, _) = store.upsert_agent(&new, start()).await.unwrap();
    let token = cipher.encrypt(agent.id, &SecretString::from(page.page_token.clone()));
    store.set_agent_token(agent.id, &token, None, start()).await.unwrap();
    store
        .set_agent_status(agent.id, pulso::domain::ConnectionStatus::Active, None, start())
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::starting_at(start()));
    let client = GraphClient::new(GraphConfig {
        base_url: base_url.clone(),
        api_version: "v25.0".into(),
        app_id: String::new(),
        app_secret: None,
        timeout: Duration::from_secs(10),
    });
    let queries = Arc::new(Queries::new(store.clone(), tz()));
    let engine = SyncEngine::builder(
        store.clone(),
        Arc::new(GraphSource::new(client)),
        cipher,
        clock.clone(),
        settings(),
        tz(),
    )
    .queries(queries.clone())
    .build();
    let core = ChatCore::new(store.clone(), queries, engine.clone(), tz(), None, None);
    let outbox = Arc::new(support::chat::RecordingOutbox::default());
    let defaults =
        pulso::config::Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &[]).unwrap();
    let alert_settings = AlertSettings {
        tz: tz(),
        ..AlertSettings::from_config(&defaults)
    };
    let alerts = Alerts::new(store.clone(), outbox, None, clock.clone(), alert_settings);
    World {
        sandbox,
        base_url,
        clock,
        db,
        engine,
        core,
        alerts,
        page,
        agent_id: agent.id,
    }
}

impl World {
    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    /// Runs one bulk sync to the end; returns the Graph requests it made (the sandbox's log).
    async fn sync(&self) -> Vec<String> {
        let before = self.sandbox.call_log().len();
        let mut events = self.engine.subscribe();
        let job = self.engine.request_bulk("admin", true).await.unwrap();
        loop {
            if let SyncEvent::Finished(r) = events.recv().await.unwrap()
                && r.job_id == job.job_id
            {
                assert_eq!(r.failed.len(), 0, "{:?}", r.failed);
                self.alerts.observe(&SyncEvent::Finished(r)).await.unwrap();
                break;
            }
        }
        self.sandbox.call_log()[before..].to_vec()
    }

    /// Moves the sandbox's clock and the engine's together.
    fn advance(&self, by: Days) {
        self.sandbox.advance(by);
        self.clock.advance(by.to_std().unwrap());
    }

    async fn ask(&self, command: &str) -> String {
        let admin = chat_support::tg(chat_support::ADMIN_TG, true, ChatKind::Private);
        self.core.handle(&admin, command, None).await.unwrap().text
    }

    /// The posts the sandbox itself lists for the Page over `range` (office days), read over HTTP.
    async fn sandbox_posts(&self, range: DateRange) -> Vec<serde_json::Value> {
        let tz = tz();
        let at = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .unwrap()
                .and_local_timezone(tz)
                .unwrap()
                .timestamp()
        };
        let mut url = format!(
            "{}/v25.0/{}/published_posts?limit=25&fields=id,created_time&since={}&until={}",
            self.base_url,
            self.page.page_id,
            at(range.from),
            at(range.to + Days::days(1))
        );
        let mut out = Vec::new();
        loop {
            let body: serde_json::Value = reqwest::Client::new()
                .get(&url)
                .bearer_auth(&self.page.page_token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            out.extend(body["data"].as_array().unwrap().iter().cloned());
            match body["paging"]["next"].as_str() {
                Some(next) => url = next.to_string(),
                None => return out,
            }
        }
    }

    async fn stored_posts(&self) -> Vec<Post> {
        self.store()
            .top_posts(
                Some(self.agent_id),
                start() - Days::days(400),
                start() + Days::days(400),
                10_000,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.post)
            .collect()
    }
}

fn line<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("no «{label}» line in:\n{text}"))
}

#[tokio::test]
async fn unpublished_days_still_count_their_posts_and_a_daily_sync_is_one_call() {
    // Insights published 20 h after the Pacific day ends: Sep 14 and Sep 15 are not out yet.
    let w = world(|sb| sb.set_insights_lag(Some(20))).await;
    w.sandbox.set_posts_per_day(&w.page.page_id, Some(1));
    let backfill = w.sync().await;
    // 180 days: one standalone insights window, then the Page node with the newest window and the
    // first posts page, then the extra posts pages.
    assert!(backfill[0].contains("/insights?"), "{backfill:?}");
    assert!(backfill[1].contains("fields=insights.metric"), "{backfill:?}");
    assert!(backfill[1].contains("published_posts.since"), "{backfill:?}");
    assert!(backfill.len() <= 2 + 2, "{backfill:?}");

    // The store: today and yesterday have their posts, and unknown (not zero) Page metrics.
    let days = w
        .store()
        .daily_metrics(w.agent_id, DateRange::new(today() - Days::days(2), today()))
        .await
        .unwrap();
    assert_eq!(days.len(), 3, "{days:?}");
    assert!(days[0].impressions.is_some(), "Sep 13 is published: {days:?}");
    for d in &days[1..] {
        assert_eq!((d.impressions, d.reach, d.followers), (None, None, None), "{d:?}");
        assert_eq!(d.posts, 1, "{d:?}");
    }
    let today_posts = w.sandbox_posts(DateRange::new(today(), today())).await;
    assert_eq!(today_posts.len(), 1);

    // The chat: today's card counts today's post and says the Page metrics are not out yet.
    let card = w.ask(&format!("/metricas {} hoy", w.page.agent_name)).await;
    assert!(line(&card, "Publicaciones:").contains("Publicaciones: 1 "), "{card}");
    assert!(line(&card, "Vistas:").contains("Vistas: —"), "{card}");
    assert!(
        card.contains("Facebook aún no publica las métricas de página de hoy"),
        "{card}"
    );
    let week = w.ask(&format!("/metricas {} semana", w.page.agent_name)).await;
    assert!(line(&week, "Publicaciones:").contains("Publicaciones: 7 "), "{week}");
    assert!(week.contains("2 días del periodo"), "{week}");

    // A day later: a daily sync is exactly one call, the Page node with insights and posts.
    w.advance(Days::days(1));
    let daily = w.sync().await;
    assert_eq!(daily.len(), 1, "{daily:?}");
    assert!(
        daily[0].starts_with(&format!("GET /v25.0/{}?fields=insights.metric", w.page.page_id)),
        "{daily:?}"
    );
}

#[tokio::test]
async fn a_posts_link_clicks_read_again_ten_days_later_show_the_new_lifetime_total() {
    let w = world(|_| {}).await;
    w.sandbox.set_posts_per_day(&w.page.page_id, Some(2));
    w.sync().await;
    let yesterday = today() - Days::days(1);
    let first = w.stored_posts().await;
    let clicked_day = |posts: &[Post]| -> i64 {
        posts
            .iter()
            .filter(|p| p.created_at.with_timezone(&tz()).date_naive() == yesterday)
            .map(|p| p.link_clicks + p.reactions)
            .sum()
    };
    let before = clicked_day(&first);
    let card_before = w.ask(&format!("/metricas {} mes", w.page.agent_name)).await;

    w.advance(Days::days(10));
    let log = w.sync().await;
    assert_eq!(log.len(), 1, "28 days of posts fit in one call: {log:?}");
    let after = clicked_day(&w.stored_posts().await);
    assert!(after > before, "lifetime totals grew: {before} → {after}");
    let row = w
        .store()
        .daily_metrics(w.agent_id, DateRange::new(yesterday, yesterday))
        .await
        .unwrap();
    let posts_of_day: i64 = w
        .stored_posts()
        .await
        .iter()
        .filter(|p| p.created_at.with_timezone(&tz()).date_naive() == yesterday)
        .map(|p| p.link_clicks)
        .sum();
    assert_eq!(row[0].link_clicks, posts_of_day, "the day row follows its posts");
    let card_after = w.ask(&format!("/metricas {} mes", w.page.agent_name)).await;
    assert_ne!(
        line(&card_before, "Clics en enlaces:"),
        line(&card_after, "Clics en enlaces:"),
        "{card_after}"
    );
}

#[tokio::test]
async fn a_metric_retired_mid_backfill_leaves_the_rest_stored_and_raises_an_alert() {
    let w = world(|sb| sb.retire_metric("page_post_engagements", true)).await;
    let log = w.sync().await;
    // The combined request failed, each metric was asked alone once, the rest went on.
    let alone: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("/insights?") && !l.contains(','))
        .collect();
    assert_eq!(alone.len(), 4, "{log:?}");
    assert!(
        log.last().unwrap().contains("published_posts") || log.iter().any(|l| l.contains("published_posts")),
        "{log:?}"
    );
    let days = w
        .store()
        .daily_metrics(w.agent_id, DateRange::new(today() - Days::days(179), today()))
        .await
        .unwrap();
    assert!(
        days.iter().all(|d| d.engaged_users.is_none()),
        "refused metric is unknown"
    );
    assert!(days.iter().filter(|d| d.impressions.is_some()).count() > 170);
    assert!(!w.stored_posts().await.is_empty());
    assert_eq!(
        w.store().refused_metrics().await.unwrap(),
        vec!["page_post_engagements".to_string()]
    );
    let alerts = w.store().open_alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.summary == "Meta retiró la métrica page_post_engagements; pulso sigue con las demás"),
        "{alerts:?}"
    );
    let card = w.ask(&format!("/metricas {} semana", w.page.agent_name)).await;
    assert!(
        line(&card, "Interacciones con publicaciones:").contains(": —"),
        "{card}"
    );

    // The next sync does not name it again: one call.
    w.advance(Days::days(1));
    let next = w.sync().await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(!next[0].contains("page_post_engagements"), "{next:?}");
}

#[tokio::test]
async fn next_only_paging_and_reduce_the_amount_of_data_store_all_350_posts() {
    let w = world(|sb| {
        sb.set_posts_paging(PostsPaging::NextOnly);
        sb.set_reduce_data_above(Some(25));
    })
    .await;
    w.sandbox.set_posts_per_day(&w.page.page_id, Some(2));
    let log = w.sync().await;
    let expected = w
        .sandbox_posts(DateRange::new(today() - Days::days(179), today()))
        .await;
    assert!(expected.len() >= 350, "{}", expected.len());
    let stored = w.stored_posts().await;
    assert_eq!(stored.len(), expected.len());
    // 100 and 50 were refused with 1/99, then pages of 25 followed `next` (until + __paging_token).
    assert!(log.iter().any(|l| l.contains(".limit(100)")), "{log:?}");
    assert!(log.iter().any(|l| l.contains(".limit(50)")), "{log:?}");
    assert!(log.iter().any(|l| l.contains(".limit(25)")), "{log:?}");
    assert!(
        log.iter().filter(|l| l.contains("__paging_token")).count() >= 13,
        "{log:?}"
    );
    let card = w.ask(&format!("/metricas {} 6meses", w.page.agent_name)).await;
    assert!(
        line(&card, "Publicaciones:").contains(&format!("Publicaciones: {} ", expected.len())),
        "{card}"
    );
}

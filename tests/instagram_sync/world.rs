//! The Instagram sync tests' world: a sandbox with a cast of Pages (big account, second big
//! account, account under 100 followers, Page without Instagram), their agents, the real engine
//! on a manual clock, and readers of the store and the sandbox's truth.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use chrono_tz::Tz;
use pulso::alerts::{AlertSettings, Alerts};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{Agent, DateRange, InstagramDaily, InstagramMedia};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::sandbox::{Sandbox, SandboxOptions, SeededInstagram, SeededPage};
use pulso::store::Store;
use pulso::sync::{JobReport, ManualClock, SyncEngine, SyncEvent, SyncSettings};
use secrecy::SecretString;

use super::support;

pub const TZ: &str = "America/Mexico_City";

pub fn tz() -> Tz {
    TZ.parse().unwrap()
}

/// 2026-11-20 20:00 UTC: 14:00 in Mexico City, 12:00 in California.
pub fn start() -> DateTime<Utc> {
    "2026-11-20T20:00:00Z".parse().unwrap()
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

pub fn settings() -> SyncSettings {
    SyncSettings {
        batch_delay: Duration::ZERO,
        retry_base_delay: Duration::ZERO,
        bulk_min_interval: Duration::ZERO,
        bulk_confirm_window: Duration::ZERO,
        hourly_budget: 100_000,
        queue_poll: Duration::from_millis(20),
        instagram_enabled: true,
        instagram_backfill_days: 7,
        ..support::sync_settings()
    }
}

/// Which sandbox Pages a test needs.
pub struct Cast {
    /// A Page whose account has 100 followers or more.
    pub big: SeededPage,
    /// A second such Page.
    pub other: SeededPage,
    /// A Page whose account stays under 100 followers.
    pub small: SeededPage,
    /// A Page without Instagram.
    pub none: SeededPage,
}

pub struct World {
    pub sandbox: Sandbox,
    pub clock: Arc<ManualClock>,
    pub db: support::TestStore,
    pub engine: SyncEngine,
    pub alerts: Alerts,
    pub cast: Cast,
    /// Agent ids by Page id.
    pub agents: Vec<(String, i64)>,
}

pub async fn world(db: support::TestStore, configure: impl Fn(&Sandbox)) -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    sandbox.set_now(start());
    configure(&sandbox);
    let pages = sandbox.add_pages(12);
    let account = |p: &SeededPage| sandbox.instagram_account_for_page(&p.page_id);
    let bigs: Vec<&SeededPage> = pages
        .iter()
        .filter(|p| account(p).is_some_and(|a| a.followers_count >= 100))
        .collect();
    let cast = Cast {
        big: bigs[0].clone(),
        other: bigs[1].clone(),
        small: pages
            .iter()
            .find(|p| account(p).is_some_and(|a| a.followers_count < 100))
            .expect("a small account")
            .clone(),
        none: pages
            .iter()
            .find(|p| account(p).is_none())
            .expect("a Page without Instagram")
            .clone(),
    };
    let chosen = vec![
        cast.big.clone(),
        cast.other.clone(),
        cast.small.clone(),
        cast.none.clone(),
    ];
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let ids = support::import_pages(store.as_ref(), &cipher, &chosen).await;
    let agents = chosen.iter().map(|p| p.page_id.clone()).zip(ids).collect();
    let clock = Arc::new(ManualClock::starting_at(start()));
    let client = GraphClient::new(GraphConfig {
        base_url: format!("http://{addr}"),
        api_version: "v25.0".into(),
        app_id: String::new(),
        app_secret: None,
        timeout: Duration::from_secs(10),
    });
    let engine = SyncEngine::builder(
        store.clone(),
        Arc::new(pulso::sync::GraphSource::new(client)),
        cipher,
        clock.clone(),
        settings(),
        tz(),
    )
    .build();
    let defaults =
        pulso::config::Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &[]).unwrap();
    let alert_settings = AlertSettings {
        tz: tz(),
        ..AlertSettings::from_config(&defaults)
    };
    let outbox = Arc::new(support::chat::RecordingOutbox::default());
    let alerts = Alerts::new(store.clone(), outbox, None, clock.clone(), alert_settings);
    World {
        sandbox,
        clock,
        db,
        engine,
        alerts,
        cast,
        agents,
    }
}

impl World {
    pub fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    pub fn agent_id(&self, page: &SeededPage) -> i64 {
        self.agents.iter().find(|(p, _)| *p == page.page_id).unwrap().1
    }

    pub async fn agent(&self, page: &SeededPage) -> Agent {
        self.store().agent(self.agent_id(page)).await.unwrap().unwrap()
    }

    pub fn account(&self, page: &SeededPage) -> SeededInstagram {
        self.sandbox.instagram_account_for_page(&page.page_id).unwrap()
    }

    /// Runs one bulk sync to the end; returns its report and the Graph requests it made.
    pub async fn sync(&self) -> (JobReport, Vec<String>) {
        let before = self.sandbox.call_log().len();
        let mut events = self.engine.subscribe();
        let job = self.engine.request_bulk("admin", true).await.unwrap();
        let report = loop {
            if let SyncEvent::Finished(r) = events.recv().await.unwrap()
                && r.job_id == job.job_id
            {
                self.alerts.observe(&SyncEvent::Finished(r.clone())).await.unwrap();
                break r;
            }
        };
        (report, self.sandbox.call_log()[before..].to_vec())
    }

    /// Moves the sandbox's clock and the engine's together.
    pub fn advance(&self, by: Days) {
        self.sandbox.advance(by);
        self.clock.advance(by.to_std().unwrap());
    }

    pub async fn days(&self, page: &SeededPage, range: DateRange) -> Vec<InstagramDaily> {
        self.store().instagram_daily(self.agent_id(page), range).await.unwrap()
    }

    pub async fn day(&self, page: &SeededPage, date: NaiveDate) -> InstagramDaily {
        let rows = self.days(page, DateRange::new(date, date)).await;
        rows.into_iter()
            .next()
            .unwrap_or_else(|| panic!("no stored row for {date}"))
    }

    pub async fn media(&self, page: &SeededPage) -> Vec<InstagramMedia> {
        self.store()
            .top_instagram_media(
                Some(self.agent_id(page)),
                start() - Days::days(400),
                start() + Days::days(400),
                10_000,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.media)
            .collect()
    }
}

/// Requests in `log` addressed to the object `id` (a Page or an Instagram account).
pub fn calls_to<'a>(log: &'a [String], id: &str) -> Vec<&'a String> {
    let node = format!("/v25.0/{id}?");
    let edge = format!("/v25.0/{id}/");
    log.iter().filter(|l| l.contains(&node) || l.contains(&edge)).collect()
}

/// The stored account metrics of a day equal what the sandbox reports for it (all unknown when
/// it reports nothing yet).
pub fn assert_day_matches(w: &World, ig_id: &str, stored: &InstagramDaily) {
    let got = (
        stored.views,
        stored.reach,
        stored.accounts_engaged,
        stored.total_interactions,
        stored.likes,
        stored.comments,
        stored.shares,
        stored.saves,
        stored.profile_links_taps,
    );
    match w.sandbox.instagram_day(ig_id, stored.date) {
        Some(t) => assert_eq!(
            got,
            (
                Some(t.views),
                Some(t.reach),
                Some(t.accounts_engaged),
                Some(t.total_interactions),
                Some(t.likes),
                Some(t.comments),
                Some(t.shares),
                Some(t.saves),
                Some(t.profile_links_taps)
            ),
            "{}",
            stored.date
        ),
        None => assert!(!stored.has_account_metrics(), "not produced yet is unknown: {stored:?}"),
    }
}

//! Chat test harness: a seeded SQLite office, the real sync engine on a scripted page source, and
//! the chat core; plus fake Telegram and Discord servers on 127.0.0.1.
#![allow(dead_code)]

pub mod fake_discord;
pub mod fake_telegram;
pub mod markup;
pub mod multipart;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use pulso::chat::{Caller, ChatCore, ChatKind, Platform, TelegramChat};
use pulso::config::Config;
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{DailyMetrics, Post};
use pulso::queries::Queries;
use pulso::store::Store;
use pulso::sync::{
    AgentData, BudgetGate, FetchRequest, ManualClock, PageSource, SourceError, SyncEngine, SyncSettings,
};
use secrecy::SecretString;

use crate::support;

pub const TZ: &str = "America/Mexico_City";
pub const ADMIN_TG: i64 = 1000;
pub const ADMIN_ROLE: u64 = 42;
pub const TEAM_CHAT: i64 = -500;
pub const TEAM_CHANNEL: u64 = 777;

/// Agent names; agent i (0-based) is linked to Telegram user 2000+i and Discord user 3000+i when
/// `linked` says so.
pub const NAMES: [&str; 6] = [
    "Ana García",
    "Beto Ruiz",
    "Carla Núñez",
    "Diego Salas",
    "Elena Paz",
    "Fausto Ortega",
];

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap()
}

pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

/// Followers of agent i: distinctive, so a test can tell whose numbers a reply contains.
pub fn followers_of(i: usize) -> i64 {
    10_000 + 1111 * (i as i64 + 1)
}

pub fn agent_name(i: usize) -> String {
    if i < NAMES.len() {
        NAMES[i].to_string()
    } else {
        format!("Agente {i:03}")
    }
}

/// A page source that answers like [`support::scripted::ScriptedSource`] after a real pause, so a
/// sync takes visible time.
pub struct SlowSource {
    pub inner: support::scripted::ScriptedSource,
    pub delay: Duration,
}

#[async_trait]
impl PageSource for SlowSource {
    async fn fetch(&self, req: &FetchRequest, gate: &BudgetGate) -> Result<AgentData, SourceError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.inner.fetch(req, gate).await
    }
}

pub struct Office {
    pub core: ChatCore,
    pub store: Arc<dyn Store>,
    pub engine: SyncEngine,
    pub source: Arc<SlowSource>,
    pub agents: Vec<i64>,
    pub clock: Arc<ManualClock>,
    pub queries: Arc<Queries>,
    pub db: support::TestStore,
}

pub fn settings() -> SyncSettings {
    SyncSettings {
        batch_delay: Duration::ZERO,
        retry_base_delay: Duration::ZERO,
        lease: Duration::from_secs(3600),
        hourly_budget: 10_000,
        queue_poll: Duration::from_millis(20),
        ..support::sync_settings()
    }
}

/// `agents` agents with `days` days of metrics each, synced 3 hours ago; the first `linked`
/// agents are linked on Telegram and Discord. `fetch_delay` slows each agent's sync.
pub async fn office(agents: usize, days: i64, linked: usize, fetch_delay: Duration) -> Office {
    office_with(agents, days, linked, fetch_delay, settings()).await
}

pub async fn office_with(
    agents: usize,
    days: i64,
    linked: usize,
    fetch_delay: Duration,
    settings: SyncSettings,
) -> Office {
    let db = support::sqlite().await;
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let mut ids = Vec::new();
    for i in 0..agents {
        let page = format!("{}", 5000 + i);
        let email = format!("a{i}@remax.mx");
        let id = support::connected_agent(store.as_ref(), &cipher, &agent_name(i), &email, &page, now()).await;
        let rows: Vec<DailyMetrics> = (0..days)
            .map(|d| {
                DailyMetrics {
                    date: today() - Days::days(d),
                    followers: Some(followers_of(i)),
                    impressions: Some(700 + 37 * i as i64 + d % 5),
                    reach: Some(300 + 11 * i as i64),
                    engaged_users: Some(40 + i as i64),
                    posts: (d % 3 == 0) as i64,
                    reactions: 20 + i as i64,
                    comments: 3,
                    shares: 2,
                    link_clicks: 5 + i as i64,
                    whatsapp_clicks: 1,
                    engagement_rate: None,
                }
                .with_engagement_rate()
            })
            .collect();
        store.upsert_daily_metrics(id, &rows, now()).await.unwrap();
        let post = Post {
            post_id: format!("p{i}"),
            created_at: now() - Days::days(2),
            excerpt: format!("Casa en venta número {i}"),
            permalink: None,
            reactions: 10 + i as i64,
            comments: 1,
            shares: 1,
            link_clicks: 2,
            links_to_whatsapp: false,
        };
        store.upsert_posts(id, &[post], now()).await.unwrap();
        store.mark_agent_synced(id, now() - Days::hours(3)).await.unwrap();
        if i < linked {
            store
                .link_identity("telegram", &(2000 + i).to_string(), id, now())
                .await
                .unwrap();
            store
                .link_identity("discord", &(3000 + i).to_string(), id, now())
                .await
                .unwrap();
        }
        ids.push(id);
    }
    let source = Arc::new(SlowSource {
        inner: Default::default(),
        delay: fetch_delay,
    });
    let clock = Arc::new(ManualClock::starting_at(now()));
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let queries = Arc::new(Queries::new(store.clone(), tz));
    let engine = SyncEngine::builder(store.clone(), source.clone(), cipher, clock.clone(), settings, tz)
        .queries(queries.clone())
        .build();
    let core = ChatCore::new(store.clone(), queries.clone(), engine.clone(), tz, None, None);
    Office {
        core,
        store,
        engine,
        source,
        agents: ids,
        clock,
        queries,
        db,
    }
}

/// The real Telegram adapter, as production builds it, connected to `fake` (team chat [`TEAM_CHAT`]).
pub async fn connect_telegram(
    core: ChatCore,
    fake: &fake_telegram::FakeTelegram,
    debounce: Option<Duration>,
) -> TelegramChat {
    let config = config(&fake.url, "http://127.0.0.1:9");
    TelegramChat::connect(core, &config, &SecretString::from(fake_telegram::TOKEN), debounce)
        .await
        .unwrap()
}

/// The real Telegram adapter connected to a fresh fake Bot API, long-polling it until [`stop`].
///
/// [`stop`]: TelegramBot::stop
pub struct TelegramBot {
    pub fake: fake_telegram::FakeTelegram,
    pub chat: TelegramChat,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    polling: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TelegramBot {
    pub async fn start(core: ChatCore, debounce: Option<Duration>) -> Self {
        let fake = fake_telegram::FakeTelegram::start().await;
        let chat = connect_telegram(core, &fake, debounce).await;
        Self::polling(fake, chat)
    }

    /// Starts long polling with an adapter already connected to `fake`.
    pub fn polling(fake: fake_telegram::FakeTelegram, chat: TelegramChat) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let polling = tokio::spawn({
            let chat = chat.clone();
            async move {
                chat.run_polling(async {
                    let _ = stopped.await;
                })
                .await
            }
        });
        Self {
            fake,
            chat,
            stop: Some(stop),
            polling,
        }
    }

    /// Stops polling and checks that it ended cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.polling)
            .await
            .expect("polling stops")
            .unwrap()
            .unwrap();
    }
}

pub fn console_admin() -> Caller {
    Caller {
        platform: Platform::Console,
        user_id: "admin".into(),
        is_admin: true,
        chat: ChatKind::Private,
        assume_agent: None,
    }
}

pub fn tg(user: i64, admin: bool, chat: ChatKind) -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: user.to_string(),
        is_admin: admin,
        chat,
        assume_agent: None,
    }
}

/// Configuration pointing the adapters at the fakes.
pub fn config(telegram_url: &str, discord_url: &str) -> Config {
    let env: Vec<(String, String)> = [
        ("PULSO__OFFICE__TIME_ZONE", TZ.to_string()),
        ("PULSO__TELEGRAM__API_URL", telegram_url.to_string()),
        ("PULSO__TELEGRAM__ADMINS", ADMIN_TG.to_string()),
        ("PULSO__TELEGRAM__TEAM_CHAT_ID", TEAM_CHAT.to_string()),
        ("PULSO__DISCORD__API_URL", discord_url.to_string()),
        ("PULSO__DISCORD__ADMIN_ROLES", ADMIN_ROLE.to_string()),
        ("PULSO__DISCORD__TEAM_CHANNEL_ID", TEAM_CHANNEL.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &env).unwrap()
}

/// Adds an agent (or renames the one with `email`) through the store, as an import would.
pub async fn put_agent(store: &dyn Store, name: &str, email: &str) -> pulso::domain::Agent {
    store
        .upsert_agent(
            &pulso::store::NewAgent {
                name: name.to_string(),
                email: email.to_string(),
                role: pulso::domain::Role::Agent,
                facebook_page_id: None,
                instagram_account_id: None,
            },
            now(),
        )
        .await
        .unwrap()
        .0
}

/// Text as a person reads it, parsed with Telegram's HTML rules (invalid HTML fails the test).
pub fn normalize_telegram(html: &str) -> String {
    markup::parse_telegram_html(html).unwrap_or_else(|e| panic!("{e}: {html:?}"))
}

/// Text as a person reads it, parsed as Discord markdown (unintended formatting fails the test).
pub fn normalize_discord(md: &str) -> String {
    markup::parse_discord_markdown(md).unwrap_or_else(|e| panic!("{e}: {md:?}"))
}

/// pulso's Discord REST client pointed at `fake`, on `office`'s manual clock.
pub fn discord_rest(office: &Office, fake: &fake_discord::FakeDiscord) -> pulso::chat::discord::rest::DiscordRest {
    pulso::chat::discord::rest::DiscordRest::new(
        &fake.url,
        &SecretString::from(fake_discord::TOKEN),
        Some(fake_discord::APP_ID),
        office.clock.clone(),
    )
}

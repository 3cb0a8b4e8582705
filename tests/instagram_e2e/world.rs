//! The whole Instagram path for the end-to-end tests: the sandbox over HTTP on 127.0.0.1, the
//! real Graph client and sync engine on a manual clock, a real store (SQLite or PostgreSQL), the
//! alerts, and the chat through the real Telegram and Discord adapters against their fakes.
//!
//! What the store should hold is rebuilt from the sandbox alone: its call log says which days the
//! sync asked for, its read-only truth (`instagram_day`, `instagram_media`, the account lookup)
//! says what Instagram answered for them. Nothing here scripts a number.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use chrono_tz::Tz;
use pulso::alerts::{AlertSettings, Alerts};
use pulso::chat::{DiscordChat, FanOutOutbox};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{AgentId, DateRange, Period};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::queries::Queries;
use pulso::sandbox::{InstagramDayTruth, Sandbox, SandboxOptions, SeededInstagram, SeededPage};
use pulso::store::Store;
use pulso::sync::{GraphSource, ManualClock, SyncEngine, SyncEvent};
use secrecy::SecretString;
use serde_json::json;

use crate::chat_support::fake_discord::{self, FakeDiscord, interaction};
use crate::chat_support::{self, ADMIN_ROLE, ADMIN_TG, TelegramBot};
use crate::support;

/// Discord user of the admin (they hold [`ADMIN_ROLE`]).
pub const ADMIN_DC: u64 = 3999;
const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub fn tz() -> Tz {
    chat_support::TZ.parse().unwrap()
}

/// Thursday 2026-11-26 18:00 UTC: noon in the office (Mexico City), 10:00 in California. With
/// Instagram's 30 h lag, yesterday's account insights are not produced yet.
pub fn start() -> DateTime<Utc> {
    "2026-11-26T18:00:00Z".parse().unwrap()
}

pub fn office_day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&tz()).date_naive()
}

pub struct World {
    pub sandbox: Sandbox,
    pub pages: Vec<SeededPage>,
    pub agents: Vec<AgentId>,
    pub clock: Arc<ManualClock>,
    pub db: support::TestStore,
    pub engine: SyncEngine,
    pub alerts: Alerts,
    pub tg: TelegramBot,
    pub discord: FakeDiscord,
    pub dc: DiscordChat,
    next_interaction: AtomicU64,
}

/// Four sandbox Pages as connected agents, linked on Telegram (2000 + i) and Discord (3000 + i);
/// `configure` sets sandbox knobs before anything is read. `None`: PostgreSQL was not configured.
pub async fn world(db: Db, configure: impl Fn(&Sandbox)) -> Option<World> {
    let db = match db {
        Db::Sqlite => support::sqlite().await,
        Db::Postgres => support::postgres().await?,
    };
    let store = db.store.clone();
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        ..Default::default()
    });
    sandbox.set_now(start());
    configure(&sandbox);
    let pages = sandbox.add_pages(4);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let agents = support::import_pages(store.as_ref(), &cipher, &pages).await;
    for (i, id) in agents.iter().enumerate() {
        store
            .link_identity("telegram", &(2000 + i).to_string(), *id, start())
            .await
            .unwrap();
        store
            .link_identity("discord", &(3000 + i).to_string(), *id, start())
            .await
            .unwrap();
    }
    let clock = Arc::new(ManualClock::starting_at(start()));
    let client = GraphClient::new(GraphConfig {
        base_url: format!("http://{addr}"),
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
        chat_support::settings(),
        tz(),
    )
    .queries(queries.clone())
    .build();
    let core = pulso::chat::ChatCore::new(store.clone(), queries, engine.clone(), tz(), None, None);
    let tg = TelegramBot::start(core.clone(), Some(Duration::from_millis(50))).await;
    let discord = FakeDiscord::start_with_clock(clock.clone()).await;
    let config = chat_support::config(&tg.fake.url, &discord.url);
    let rest = pulso::chat::discord::rest::DiscordRest::new(
        &discord.url,
        &SecretString::from(fake_discord::TOKEN),
        Some(fake_discord::APP_ID),
        clock.clone(),
    );
    let dc = DiscordChat::new(core, &config, rest, Some(Duration::from_millis(50)));
    let outbox = Arc::new(FanOutOutbox::new(vec![tg.chat.outbox(), dc.outbox()]));
    let defaults =
        pulso::config::Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &[]).unwrap();
    let alert_settings = AlertSettings {
        tz: tz(),
        ..AlertSettings::from_config(&defaults)
    };
    let alerts = Alerts::new(store, outbox, None, clock.clone(), alert_settings);
    Some(World {
        sandbox,
        pages,
        agents,
        clock,
        db,
        engine,
        alerts,
        tg,
        discord,
        dc,
        next_interaction: AtomicU64::new(1),
    })
}

/// What the sync should have stored for one account, rebuilt from the sandbox's call log and truth.
#[derive(Debug, Default, Clone)]
pub struct Expected {
    /// Account insights of the office days IG-1 asked for while Instagram had produced them.
    pub account: BTreeMap<NaiveDate, InstagramDayTruth>,
    /// `follower_count` of the days the IG-2 series covered.
    pub new_followers: BTreeMap<NaiveDate, i64>,
}

/// The Instagram numbers a card should show over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub followers: Option<i64>,
    pub new_followers: Option<i64>,
    pub views: Option<i64>,
    pub reach: Option<i64>,
    pub interactions: Option<i64>,
    pub taps: Option<i64>,
    pub media: i64,
}

impl Totals {
    /// The seed's score on Instagram: media × 10 + views / 1000 + reach / 500 + profile taps × 5.
    pub fn score(&self) -> f64 {
        self.media as f64 * 10.0
            + self.views.unwrap_or(0) as f64 / 1000.0
            + self.reach.unwrap_or(0) as f64 / 500.0
            + self.taps.unwrap_or(0) as f64 * 5.0
    }
}

fn sum(values: impl Iterator<Item = i64>) -> Option<i64> {
    values.reduce(|a, b| a + b)
}

fn query_of(line: &str) -> Vec<(String, String)> {
    let path = line.split_once(' ').map_or(line, |(_, p)| p);
    url::Url::parse(&format!("http://sandbox{path}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn office_day_of_unix(secs: &str) -> NaiveDate {
    office_day(DateTime::from_timestamp(secs.parse().unwrap(), 0).unwrap())
}

impl World {
    pub fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.sandbox.now()
    }

    pub fn today(&self) -> NaiveDate {
        office_day(self.now())
    }

    pub fn week(&self) -> DateRange {
        Period::Week.range_ending(self.today())
    }

    /// The Instagram account of agent `i`'s Page, as the sandbox reports it now.
    pub fn ig(&self, i: usize) -> Option<SeededInstagram> {
        self.sandbox.instagram_account_for_page(&self.pages[i].page_id)
    }

    /// Agents whose Page has an account of at least 100 followers (`follower_count` reported).
    pub fn regular(&self) -> Vec<usize> {
        (0..self.pages.len())
            .filter(|&i| self.ig(i).is_some_and(|a| a.followers_count >= 100))
            .collect()
    }

    /// Moves the sandbox's clock and the engine's together.
    pub fn advance(&self, by: Days) {
        self.sandbox.advance(by);
        self.clock.advance(by.to_std().unwrap());
    }

    /// One bulk sync to the end (every agent synced, the alerts told); the Graph requests it made.
    pub async fn sync(&self) -> Vec<String> {
        let before = self.sandbox.call_log().len();
        let mut events = self.engine.subscribe();
        let job = self.engine.request_bulk("admin", true).await.unwrap();
        loop {
            if let SyncEvent::Finished(r) = events.recv().await.unwrap()
                && r.job_id == job.job_id
            {
                assert!(r.failed.is_empty(), "{:?}", r.failed);
                self.alerts.observe(&SyncEvent::Finished(r)).await.unwrap();
                break;
            }
        }
        self.sandbox.call_log()[before..].to_vec()
    }

    /// Adds what `log` (one sync's requests, the sandbox clock unchanged since) read for agent `i`.
    pub fn learn(&self, i: usize, log: &[String], into: &mut Expected) {
        let Some(ig) = self.ig(i) else { return };
        let insights = format!("GET /v25.0/{}/insights?", ig.ig_id);
        let node = format!("GET /v25.0/{}?", ig.ig_id);
        for line in log {
            let q = query_of(line);
            let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if line.starts_with(&insights) && get("metric_type").as_deref() == Some("total_value") {
                let day = office_day_of_unix(&get("since").unwrap());
                if let Some(truth) = self.sandbox.instagram_day(&ig.ig_id, day) {
                    into.account.insert(day, truth);
                }
            } else if line.starts_with(&node)
                && let Some(fields) = get("fields")
                && let Some(series) = fields.split("insights.metric(follower_count)").nth(1)
            {
                let arg = |name: &str| {
                    let s = series.split(&format!(".{name}(")).nth(1).unwrap();
                    s[..s.find(')').unwrap()].to_string()
                };
                let (from, until) = (office_day_of_unix(&arg("since")), office_day_of_unix(&arg("until")));
                let mut day = from;
                while day < until {
                    if let Some(n) = self.sandbox.instagram_day(&ig.ig_id, day).and_then(|t| t.new_followers) {
                        into.new_followers.insert(day, n);
                    }
                    day += Days::days(1);
                }
            }
        }
    }

    /// What the card of agent `i` should show over `range`, from `e` and the sandbox's media.
    pub fn totals(&self, i: usize, e: &Expected, range: DateRange) -> Totals {
        let ig = self.ig(i).expect("an Instagram account");
        let days = || e.account.iter().filter(|(d, _)| range.contains(**d)).map(|(_, t)| t);
        let media = self
            .sandbox
            .instagram_media(&ig.ig_id)
            .iter()
            .filter(|m| range.contains(office_day(m.timestamp)))
            .count() as i64;
        Totals {
            followers: range.contains(self.today()).then_some(ig.followers_count),
            new_followers: sum(e
                .new_followers
                .iter()
                .filter(|(d, _)| range.contains(**d))
                .map(|(_, n)| *n)),
            views: sum(days().map(|t| t.views)),
            reach: sum(days().map(|t| t.reach)),
            interactions: sum(days().map(|t| t.total_interactions)),
            taps: sum(days().map(|t| t.profile_links_taps)),
            media,
        }
    }

    /// Sends `text` from Telegram user `user` in their private chat; the reply as a person reads it
    /// (every message and caption the bot sent to that chat for it).
    pub async fn telegram(&self, user: i64, text: &str) -> String {
        let before = self.tg.fake.calls().len();
        self.tg.fake.inject(user, user, text);
        let is_reply = |c: &crate::chat_support::fake_telegram::Call| {
            c.chat_id == Some(user)
                && !c.failed
                && matches!(c.method.as_str(), "sendMessage" | "sendPhoto" | "sendDocument")
        };
        let calls = self
            .tg
            .fake
            .wait_for(WAIT, text, |calls| calls[before..].iter().any(is_reply))
            .await;
        calls[before..]
            .iter()
            .filter(|c| is_reply(c))
            .map(|c| c.rendered.clone().or(c.text.clone()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The bytes of the last file the bot sent to Telegram chat `user`.
    pub fn telegram_file(&self, user: i64) -> Vec<u8> {
        let calls = self.tg.fake.calls();
        let doc = calls
            .iter()
            .rev()
            .find(|c| c.chat_id == Some(user) && c.method == "sendDocument" && !c.failed)
            .expect("a document");
        doc.bytes.clone()
    }

    /// Runs slash command `name` from Discord user `user` (an admin when `admin`) in the guild;
    /// the answer as a person reads it (every edit and follow-up of that interaction).
    pub async fn discord(&self, user: u64, admin: bool, name: &str, options: &[(&str, &str)]) -> String {
        let id = self.next_interaction.fetch_add(1, Ordering::SeqCst);
        let roles: &[u64] = if admin { &[ADMIN_ROLE] } else { &[] };
        let options: Vec<(&str, serde_json::Value)> = options.iter().map(|(k, v)| (*k, json!(v))).collect();
        self.dc
            .handle_interaction(interaction(id, user, Some(roles), name, &options))
            .await;
        let token = format!("tok{id}");
        self.discord
            .calls()
            .iter()
            .filter(|c| c.target == token && c.status < 300)
            .filter_map(|c| c.text.clone().or(c.content.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Telegram messages the team chat received.
    pub fn telegram_team(&self) -> Vec<String> {
        self.tg
            .fake
            .calls()
            .iter()
            .filter(|c| c.chat_id == Some(chat_support::TEAM_CHAT) && !c.failed)
            .filter_map(|c| c.rendered.clone().or(c.text.clone()))
            .collect()
    }

    /// Discord messages posted to the team channel.
    pub fn discord_team(&self) -> Vec<String> {
        let path = format!("channels/{}/messages", chat_support::TEAM_CHANNEL);
        self.discord
            .calls()
            .iter()
            .filter(|c| c.path == path && c.status < 300)
            .filter_map(|c| c.text.clone().or(c.content.clone()))
            .collect()
    }

    pub fn name(&self, i: usize) -> &str {
        &self.pages[i].agent_name
    }

    pub async fn stop(self) {
        self.tg.stop().await;
    }
}

/// The admin's Telegram id, for readability at call sites.
pub const ADMIN: i64 = ADMIN_TG;

/// The Instagram block of a card (from its title on).
pub fn instagram_block(card: &str) -> &str {
    let at = card
        .find("Instagram (@")
        .unwrap_or_else(|| panic!("no Instagram block:\n{card}"));
    &card[at..]
}

/// The value a card's line `label: VALUE (Δ)` shows.
pub fn value_of(block: &str, label: &str) -> String {
    let line = block
        .lines()
        .find(|l| l.contains(&format!(" {label}: ")))
        .unwrap_or_else(|| panic!("no «{label}» line:\n{block}"));
    let rest = &line[line.find(&format!("{label}: ")).unwrap() + label.len() + 2..];
    rest.split(" (").next().unwrap().trim().to_string()
}

/// How a card writes a number: "1.234", or "—" when unknown.
pub fn shown(v: Option<i64>) -> String {
    v.map(pulso::domain::thousands).unwrap_or_else(|| "—".into())
}

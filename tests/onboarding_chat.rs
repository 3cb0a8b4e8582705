//! `/conectar` end to end as an agent lives it, on Telegram (real teloxide against a fake Bot API)
//! and on Discord (serenity's real HTTP client against a fake REST API): the link arrives as a
//! URL button (and as the raw URL), the test opens it in a "browser" — the sandbox's Facebook
//! Login, which redirects to pulso's callback — nothing is stored until the agent presses the
//! confirmation button in their own chat, and then the Page is stored encrypted and synced.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_support::fake_discord::{self, FakeDiscord, button_press, interaction};
use chrono::Utc;
use pulso::chat::discord::rest::DiscordRest;
use pulso::chat::{ChatCore, DiscordChat};
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{AgentId, ConnectionStatus, Role};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::onboarding::{Onboarding, OnboardingSettings, routes};
use pulso::ports::ConnectLinks;
use pulso::queries::Queries;
use pulso::sandbox::{Sandbox, SandboxOptions, SeededPage};
use pulso::store::{NewAgent, Store};
use pulso::sync::{GraphSource, SyncEngine, SyncSettings, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

const AGENT_TG: i64 = 4242;
const AGENT_DC: u64 = 3333;

struct World {
    sandbox: Sandbox,
    page: SeededPage,
    store: Arc<dyn Store>,
    cipher: Arc<TokenCipher>,
    onboarding: Arc<Onboarding>,
    core: ChatCore,
    pulso_url: String,
    ana: AgentId,
    _db: support::TestStore,
    _server: tokio::task::JoinHandle<()>,
}

/// An agent, Ana, linked on Telegram and Discord, whose configured Page is not connected yet.
async fn world() -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        app_id: "777".into(),
        app_secret: Some("s3cret".into()),
        ..Default::default()
    });
    let page = sandbox.add_pages(1).remove(0);
    let (addr, server) = sandbox.spawn_local().await.unwrap();
    let graph = GraphClient::new(GraphConfig {
        base_url: format!("http://{addr}"),
        api_version: "v25.0".into(),
        app_id: "777".into(),
        app_secret: Some(SecretString::from("s3cret")),
        timeout: Duration::from_secs(10),
    });
    let db = support::sqlite().await;
    let store = db.store.clone();
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let tz = "America/Mexico_City".parse().unwrap();
    let queries = Arc::new(Queries::new(store.clone(), tz));
    let mut settings = SyncSettings::from_config(&chat_support::config("http://127.0.0.1:9", "http://127.0.0.1:9"));
    settings.batch_delay = Duration::ZERO;
    settings.backfill_days = 30;
    let engine = SyncEngine::builder(
        store.clone(),
        Arc::new(GraphSource::new(graph.clone())),
        cipher.clone(),
        Arc::new(SystemClock),
        settings,
        tz,
    )
    .queries(queries.clone())
    .build();
    let new = NewAgent {
        name: "Ana Pérez".into(),
        email: "ana@remax.mx".into(),
        role: Role::Agent,
        facebook_page_id: Some(page.page_id.clone()),
        instagram_account_id: None,
    };
    let (ana, _) = store.upsert_agent(&new, Utc::now()).await.unwrap();
    store
        .link_identity("telegram", &AGENT_TG.to_string(), ana.id, Utc::now())
        .await
        .unwrap();
    store
        .link_identity("discord", &AGENT_DC.to_string(), ana.id, Utc::now())
        .await
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pulso_url = format!("http://{}", listener.local_addr().unwrap());
    let onboarding = Arc::new(Onboarding::new(
        store.clone(),
        cipher.clone(),
        graph,
        Some(engine.clone()),
        None,
        OnboardingSettings {
            app_id: "777".into(),
            app_secret: Some(SecretString::from("s3cret")),
            login_url: format!("http://{addr}"),
            api_version: "v25.0".into(),
            public_url: pulso_url.clone(),
            state_key: [7; 32],
            permissions: pulso::onboarding::DEFAULT_PERMISSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        },
    ));
    let router = routes(onboarding.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let core = ChatCore::new(
        store.clone(),
        queries,
        engine,
        tz,
        None,
        Some(onboarding.clone() as Arc<dyn ConnectLinks>),
    );
    World {
        sandbox,
        page,
        store,
        cipher,
        onboarding,
        core,
        pulso_url,
        ana: ana.id,
        _db: db,
        _server: server,
    }
}

impl World {
    /// The browser: opens the button's URL (the sandbox's Facebook Login, as the Page's owner),
    /// follows the redirect to pulso's callback and returns that page's HTML.
    async fn open_in_browser(&self, link: &str) -> String {
        self.sandbox.set_login_page(Some(&self.page.page_id));
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let login = browser.get(link).send().await.unwrap();
        assert_eq!(login.status().as_u16(), 302, "{link}");
        let back = login.headers()["location"].to_str().unwrap().to_string();
        assert!(back.starts_with(&self.pulso_url), "{back}");
        let page = browser.get(&back).send().await.unwrap();
        assert_eq!(page.status().as_u16(), 200);
        page.text().await.unwrap()
    }

    async fn assert_nothing_stored(&self) {
        assert_eq!(self.store.agent_token(self.ana).await.unwrap(), None);
        assert_eq!(
            self.store.agent(self.ana).await.unwrap().unwrap().status,
            ConnectionStatus::Inactive
        );
    }

    /// Stored encrypted, active, and synced once.
    async fn assert_connected_and_synced(&self) {
        let stored = self.store.agent_token(self.ana).await.unwrap().expect("a stored token");
        assert!(!stored.contains(&self.page.page_token));
        assert!(
            !self
                .cipher
                .decrypt(self.ana, &stored)
                .unwrap()
                .expose_secret()
                .is_empty()
        );
        let synced = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let ana = self.store.agent(self.ana).await.unwrap().unwrap();
                if ana.last_synced_at.is_some() {
                    return ana;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
        .await
        .expect("the new agent was synced");
        assert_eq!(synced.status, ConnectionStatus::Active);
        assert_eq!(synced.facebook_page_id.as_deref(), Some(self.page.page_id.as_str()));
    }
}

/// Telegram's HTML entities undone.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// The buttons of a Telegram inline keyboard (flattened).
fn inline_buttons(markup: &Option<Value>) -> Vec<Value> {
    markup
        .as_ref()
        .and_then(|m| m["inline_keyboard"].as_array())
        .map(|rows| {
            rows.iter()
                .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_connects_their_page_from_telegram_with_buttons() {
    let w = world().await;
    let bot = chat_support::TelegramBot::start(w.core.clone(), None).await;
    let fake = bot.fake.clone();
    assert!(w.onboarding.set_outbox(bot.chat.outbox()));

    fake.inject(AGENT_TG, AGENT_TG, "/conectar");
    let with_url = |c: &chat_support::fake_telegram::Call| {
        c.method == "sendMessage" && inline_buttons(&c.reply_markup).iter().any(|b| b["url"].is_string())
    };
    let calls = fake
        .wait_for(Duration::from_secs(20), "the /conectar button", |calls| {
            calls.iter().any(with_url)
        })
        .await;
    let message = calls.iter().find(|c| with_url(c)).unwrap();
    assert_eq!(message.chat_id, Some(AGENT_TG), "the link goes privately to the agent");
    let link = inline_buttons(&message.reply_markup)[0]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        link.contains("/dialog/oauth?") && link.contains("client_id=777"),
        "{link}"
    );
    assert!(
        unescape(message.text.as_deref().unwrap()).contains(&link),
        "the raw URL is in the text too"
    );

    let html = w.open_in_browser(&link).await;
    assert!(html.contains("Confirma en el chat"), "{html}");
    w.assert_nothing_stored().await;

    // The confirmation request, with the Page and the account, and a callback button.
    let confirm = |c: &chat_support::fake_telegram::Call| {
        c.method == "sendMessage"
            && c.chat_id == Some(AGENT_TG)
            && inline_buttons(&c.reply_markup)
                .iter()
                .any(|b| b["callback_data"] == "/conectar confirmar")
    };
    let calls = fake
        .wait_for(Duration::from_secs(20), "the confirmation request", |calls| {
            calls.iter().any(confirm)
        })
        .await;
    let request = calls.iter().find(|c| confirm(c)).unwrap();
    let text = unescape(request.text.as_deref().unwrap());
    assert!(text.contains(&format!("Página: {}", w.page.page_name)), "{text}");
    assert!(
        text.contains(&format!("Cuenta de Facebook: {}", w.page.agent_name)),
        "{text}"
    );
    w.assert_nothing_stored().await;

    // Ana presses it.
    fake.inject_callback(AGENT_TG, AGENT_TG, request.message_id.unwrap(), "/conectar confirmar");
    let calls = fake
        .wait_for(Duration::from_secs(20), "the connection", |calls| {
            calls.iter().any(|c| {
                c.method == "sendMessage"
                    && c.chat_id == Some(AGENT_TG)
                    && c.text.as_deref().is_some_and(|t| t.contains("Página conectada"))
            })
        })
        .await;
    assert!(
        calls.iter().any(|c| c.method == "answerCallbackQuery"),
        "the press is acknowledged"
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.text.as_deref().is_some_and(|t| t.contains(&w.page.page_token)))
    );
    w.assert_connected_and_synced().await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_connects_their_page_from_discord_with_buttons() {
    let w = world().await;
    let fake = FakeDiscord::start().await;
    let config = chat_support::config("http://127.0.0.1:9", &fake.url);
    let rest = DiscordRest::new(
        &fake.url,
        &SecretString::from(fake_discord::TOKEN),
        Some(fake_discord::APP_ID),
        Arc::new(SystemClock),
    );
    let chat = DiscordChat::new(w.core.clone(), &config, rest, Some(Duration::from_millis(50)));
    assert!(w.onboarding.set_outbox(chat.outbox()));

    // `/conectar` in a DM: the deferred answer is edited with a link button.
    chat.handle_interaction(interaction(1, AGENT_DC, None, "conectar", &[]))
        .await;
    let calls = fake.calls();
    let edit = calls
        .iter()
        .find(|c| c.target == "tok1" && c.method == "PATCH")
        .expect("the answer");
    let button = &edit.components[0]["components"][0];
    assert_eq!(button["style"], 5, "a link button: {button}");
    let link = button["url"].as_str().unwrap().to_string();
    assert!(
        link.contains("/dialog/oauth?") && link.contains("client_id=777"),
        "{link}"
    );
    let content = edit.content.as_deref().unwrap();
    assert!(
        content.contains(&format!("<{link}>")),
        "the raw URL, unescaped: {content}"
    );
    assert!(!content.contains("client\\_id"), "{content}");

    let html = w.open_in_browser(&link).await;
    assert!(html.contains("Confirma en el chat"), "{html}");
    w.assert_nothing_stored().await;

    // The confirmation request arrives by DM with a button component.
    let dm = format!("8{AGENT_DC}");
    let confirm = |c: &fake_discord::DCall| {
        c.target == dm && c.method == "POST" && c.components[0]["components"][0]["custom_id"] == "/conectar confirmar"
    };
    let calls = fake
        .wait_for(Duration::from_secs(20), "the confirmation request", |calls| {
            calls.iter().any(confirm)
        })
        .await;
    let request = calls.iter().find(|c| confirm(c)).unwrap();
    let content = chat_support::normalize_discord(request.content.as_deref().unwrap());
    assert!(content.contains(&format!("Página: {}", w.page.page_name)), "{content}");
    w.assert_nothing_stored().await;

    // Ana presses it.
    chat.handle_component(button_press(2, AGENT_DC, None, "/conectar confirmar", 1234))
        .await;
    let calls = fake.calls();
    let done = calls
        .iter()
        .find(|c| c.target == "tok2" && c.method == "PATCH")
        .expect("the answer to the press");
    assert!(
        done.content.as_deref().unwrap().contains("Página conectada"),
        "{:?}",
        done.content
    );
    let deferred = calls.iter().find(|c| c.target == "tok2" && c.method == "POST").unwrap();
    assert_eq!(deferred.flags & 64, 64, "answered privately");
    w.assert_connected_and_synced().await;
}

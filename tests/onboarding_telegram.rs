//! `/conectar` end to end as an agent lives it: a fake Telegram user sends `/conectar` to the real
//! teloxide adapter, follows the link into the sandbox's Facebook Login, which redirects to
//! pulso's callback; the Page is stored encrypted, a sync runs, and the confirmation arrives in the
//! fake Telegram chat.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use pulso::chat::ChatCore;
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, Role};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::onboarding::{Onboarding, OnboardingSettings, routes};
use pulso::ports::ConnectLinks;
use pulso::queries::Queries;
use pulso::sandbox::{Sandbox, SandboxOptions};
use pulso::store::NewAgent;
use pulso::sync::{GraphSource, SyncEngine, SyncSettings, SystemClock};
use secrecy::{ExposeSecret, SecretString};

const AGENT_TG: i64 = 4242;

/// The first http(s) URL in a chat message, with Telegram's HTML escaping undone.
fn first_url(text: &str) -> String {
    let start = text.find("http").expect("a link in the message");
    text[start..]
        .split(|c: char| c.is_whitespace() || c == '<' || c == '"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_connects_their_page_from_telegram_and_hears_back_there() {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        app_id: "777".into(),
        app_secret: Some("s3cret".into()),
        ..Default::default()
    });
    let page = sandbox.add_pages(1).remove(0);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
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

    // An agent who linked Telegram but has no Page connected yet.
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
    let bot = chat_support::TelegramBot::start(core, None).await;
    let fake = bot.fake.clone();
    assert!(onboarding.set_outbox(bot.chat.outbox()));

    fake.inject(AGENT_TG, AGENT_TG, "/conectar");
    let calls = fake
        .wait_for(Duration::from_secs(20), "the /conectar link", |calls| {
            calls
                .iter()
                .any(|c| c.method == "sendMessage" && c.text.as_deref().is_some_and(|t| t.contains("dialog/oauth")))
        })
        .await;
    let link_message = calls
        .iter()
        .find(|c| c.method == "sendMessage" && c.text.as_deref().is_some_and(|t| t.contains("dialog/oauth")))
        .unwrap();
    assert_eq!(
        link_message.chat_id,
        Some(AGENT_TG),
        "the link goes privately to the agent"
    );
    let link = first_url(link_message.text.as_deref().unwrap());

    // The browser: Facebook Login (the sandbox) approves and sends it back to pulso's callback.
    sandbox.set_login_page(Some(&page.page_id));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser.get(&link).send().await.unwrap();
    assert_eq!(login.status().as_u16(), 302);
    let back = login.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(&pulso_url), "{back}");
    let page_html = browser.get(&back).send().await.unwrap();
    assert_eq!(page_html.status().as_u16(), 200);
    assert!(page_html.text().await.unwrap().contains("Página conectada"));

    // The agent hears back in Telegram, privately.
    let calls = fake
        .wait_for(Duration::from_secs(20), "the confirmation", |calls| {
            calls.iter().any(|c| {
                c.method == "sendMessage"
                    && c.chat_id == Some(AGENT_TG)
                    && c.text.as_deref().is_some_and(|t| t.contains("Página conectada"))
            })
        })
        .await;
    assert!(
        !calls
            .iter()
            .any(|c| c.text.as_deref().is_some_and(|t| t.contains(&page.page_token)))
    );

    // Stored encrypted, active, and synced once.
    let stored = store.agent_token(ana.id).await.unwrap().unwrap();
    assert!(!stored.contains(&page.page_token));
    assert!(!cipher.decrypt(ana.id, &stored).unwrap().expose_secret().is_empty());
    for _ in 0..200 {
        if store.agent(ana.id).await.unwrap().unwrap().last_synced_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let ana = store.agent(ana.id).await.unwrap().unwrap();
    assert_eq!(ana.status, ConnectionStatus::Active);
    assert!(ana.last_synced_at.is_some(), "the new agent was synced");

    bot.stop().await;
}

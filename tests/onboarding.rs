//! Onboarding end to end: pulso's callback router and the Graph sandbox (with its Facebook Login
//! imitation) on 127.0.0.1, the real Graph client, a real sync engine, real SQLite, and a recording
//! chat outbox. A login stores nothing until the agent confirms the Page in their own chat.

#[path = "onboarding/instagram.rs"]
mod instagram;
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{Agent, AgentId, ConnectionStatus, DateRange, Role};
use pulso::facebook::{GraphClient, GraphConfig};
use pulso::onboarding::{CALLBACK_PATH, Onboarding, OnboardingSettings, StateSigner, routes};
use pulso::ports::{Button, ConnectLinks, OutMessage, Outbox};
use pulso::sandbox::{Fault, Sandbox, SandboxOptions, SeededPage};
use pulso::store::{NewAgent, Store};
use pulso::sync::{AgentNotice, GraphSource, ManualClock, SyncEngine, SyncEvent, SyncSettings};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::broadcast;

const APP_ID: &str = "777";
const APP_SECRET: &str = "s3cret";
const STATE_KEY: [u8; 32] = [9; 32];

#[derive(Default)]
struct RecordingOutbox {
    sent: Mutex<Vec<(AgentId, OutMessage)>>,
    team: Mutex<Vec<OutMessage>>,
}

#[async_trait]
impl Outbox for RecordingOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        self.team.lock().unwrap().push(message.clone());
        Ok(())
    }
    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        self.sent.lock().unwrap().push((agent, message.clone()));
        Ok(1)
    }
}

impl RecordingOutbox {
    fn messages(&self, agent: AgentId) -> Vec<OutMessage> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| *a == agent)
            .map(|(_, m)| m.clone())
            .collect()
    }
    fn to(&self, agent: AgentId) -> Vec<String> {
        self.messages(agent).into_iter().map(|m| m.text).collect()
    }
    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
    fn team(&self) -> Vec<String> {
        self.team.lock().unwrap().iter().map(|m| m.text.clone()).collect()
    }
}

/// The URL of the message's link button.
fn link_button(m: &OutMessage) -> String {
    m.buttons
        .iter()
        .find_map(|b| match b {
            Button::Link { url, .. } => Some(url.clone()),
            Button::Command { .. } => None,
        })
        .unwrap_or_else(|| panic!("no link button: {m:?}"))
}

/// The commands of the message's command buttons.
fn command_buttons(m: &OutMessage) -> Vec<String> {
    m.buttons
        .iter()
        .filter_map(|b| match b {
            Button::Command { command, .. } => Some(command.clone()),
            Button::Link { .. } => None,
        })
        .collect()
}

struct World {
    sandbox: Sandbox,
    pages: Vec<SeededPage>,
    db: support::TestStore,
    cipher: Arc<TokenCipher>,
    engine: SyncEngine,
    onboarding: Arc<Onboarding>,
    outbox: Arc<RecordingOutbox>,
    pulso_url: String,
    http: reqwest::Client,
}

fn sync_settings() -> SyncSettings {
    SyncSettings {
        batch_delay: Duration::ZERO,
        retry_base_delay: Duration::from_millis(10),
        backfill_days: 30,
        hourly_budget: 10_000,
        queue_poll: Duration::from_millis(100),
        ..support::sync_settings()
    }
}

/// `with_secret`: the app secret is configured (sandbox requires appsecret_proof and
/// client_secret; debug_token works). Without it only the admin path can connect.
async fn world(pages: usize, with_secret: bool) -> World {
    let sandbox = Sandbox::new(SandboxOptions {
        pages: 0,
        app_id: APP_ID.into(),
        app_secret: with_secret.then(|| APP_SECRET.to_string()),
        ..Default::default()
    });
    let pages = sandbox.add_pages(pages);
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let graph = GraphClient::new(GraphConfig {
        base_url: format!("http://{addr}"),
        api_version: "v25.0".into(),
        app_id: APP_ID.into(),
        app_secret: with_secret.then(|| SecretString::from(APP_SECRET)),
        timeout: Duration::from_secs(10),
    });
    let db = support::sqlite().await;
    let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
    let engine = SyncEngine::new(
        db.store.clone(),
        Arc::new(GraphSource::new(graph.clone())),
        cipher.clone(),
        Arc::new(ManualClock::starting_at(Utc::now())),
        sync_settings(),
        "America/Mexico_City".parse().unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pulso_url = format!("http://{}", listener.local_addr().unwrap());
    let outbox = Arc::new(RecordingOutbox::default());
    let onboarding = Arc::new(Onboarding::new(
        db.store.clone(),
        cipher.clone(),
        graph,
        Some(engine.clone()),
        None,
        OnboardingSettings {
            app_id: APP_ID.into(),
            app_secret: with_secret.then(|| SecretString::from(APP_SECRET)),
            // The sandbox serves the login dialog too.
            login_url: format!("http://{addr}"),
            api_version: "v25.0".into(),
            public_url: format!("{pulso_url}/"),
            state_key: STATE_KEY,
            permissions: pulso::onboarding::DEFAULT_PERMISSIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        },
    ));
    // Wired late, as the chat layer needs the links before its outbox exists.
    assert!(onboarding.set_outbox(outbox.clone()));
    let router = routes(onboarding.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    World {
        sandbox,
        pages,
        db,
        cipher,
        engine,
        onboarding,
        outbox,
        pulso_url,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

/// Everything stored about an agent, to prove a failure changed nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    agent: Agent,
    token: Option<String>,
    scopes: Option<Vec<String>>,
}

impl World {
    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    async fn agent(&self, name: &str, page_id: Option<&str>) -> AgentId {
        let new = NewAgent {
            name: name.into(),
            email: format!("{}@remax.mx", name.to_lowercase().replace(' ', ".")),
            role: Role::Agent,
            facebook_page_id: page_id.map(str::to_string),
            instagram_account_id: None,
        };
        self.store().upsert_agent(&new, Utc::now()).await.unwrap().0.id
    }

    async fn snapshot(&self, id: AgentId) -> Snapshot {
        Snapshot {
            agent: self.store().agent(id).await.unwrap().unwrap(),
            token: self.store().agent_token(id).await.unwrap(),
            scopes: self.store().agent_token_scopes(id).await.unwrap(),
        }
    }

    /// Follows a login link into the sandbox's dialog and returns where it sends the browser.
    async fn login(&self, link: &str) -> String {
        let resp = self.http.get(link).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    async fn get(&self, url: &str) -> (u16, String) {
        let resp = self.http.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        (status, resp.text().await.unwrap())
    }

    fn callback_url(&self, query: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&format!("{}{CALLBACK_PATH}", self.pulso_url)).unwrap();
        for (k, v) in query {
            url.query_pairs_mut().append_pair(k, v);
        }
        url.to_string()
    }

    fn current_page_token(&self, page_id: &str) -> String {
        self.sandbox
            .seeded_pages()
            .into_iter()
            .find(|p| p.page_id == page_id)
            .unwrap()
            .page_token
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

async fn finished_for(events: &mut broadcast::Receiver<SyncEvent>, agent: AgentId) -> pulso::sync::JobReport {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let SyncEvent::Finished(r) = events.recv().await.unwrap()
                && r.synced.iter().chain(&r.failed).any(|o| o.agent_id == agent)
            {
                return r;
            }
        }
    })
    .await
    .expect("sync finished")
}

#[tokio::test]
async fn an_agent_connects_from_the_chat_link_and_gets_synced() {
    let w = world(3, true).await;
    let page = w.pages[0].clone();
    let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
    let mut events = w.engine.subscribe();

    let link = w.onboarding.link_for(ana).await.unwrap();
    let q = query_of(&link);
    assert!(link.contains("/v25.0/dialog/oauth?"), "{link}");
    assert_eq!(q["client_id"], APP_ID);
    assert_eq!(q["redirect_uri"], format!("{}{CALLBACK_PATH}", w.pulso_url));
    assert_eq!(
        q["scope"],
        "pages_show_list,pages_read_engagement,read_insights,instagram_basic,instagram_manage_insights"
    );
    assert_eq!(q["response_type"], "code");
    assert!(
        w.onboarding.link_for(9999).await.is_err(),
        "no link for an unknown agent"
    );

    // The agent logs in as their Page's owner; Facebook sends the browser back to pulso.
    w.sandbox.set_login_page(Some(&page.page_id));
    let back = w.login(&link).await;
    assert!(back.starts_with(&format!("{}{CALLBACK_PATH}?", w.pulso_url)), "{back}");
    assert!(query_of(&back).contains_key("code"));
    let before = w.snapshot(ana).await;
    let (status, html) = w.get(&back).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Confirma en el chat") && html.contains(&page.page_name),
        "{html}"
    );
    // Nothing is stored until Ana confirms in her chat, where she sees the Page and the account.
    assert_eq!(w.snapshot(ana).await, before);
    let asked = w.outbox.messages(ana);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].text.contains(&format!("Página: {}", page.page_name)),
        "{}",
        asked[0].text
    );
    assert!(
        asked[0].text.contains(&format!(
            "Cuenta de Facebook: {} (id {})",
            page.agent_name, page.user_id
        )),
        "{}",
        asked[0].text
    );
    assert_eq!(command_buttons(&asked[0]), ["/conectar confirmar"]);
    let done = w.onboarding.confirm_page(ana, None).await.unwrap();
    assert!(
        done.starts_with(&format!("✅ Página conectada: {}", page.page_name)),
        "{done}"
    );

    let stored = w.snapshot(ana).await;
    assert_eq!(stored.agent.facebook_page_id.as_deref(), Some(page.page_id.as_str()));
    assert_eq!(stored.agent.status, ConnectionStatus::Active);
    // The Page token reports no end, but the ~60-day login it came from does: that is what the
    // agent renews, so the reminder on day 50 counts from it.
    let expires = stored.agent.token_expires_at.expect("the login's end is kept");
    let days = (expires - chrono::Utc::now()).num_days();
    assert!((58..=60).contains(&days), "{expires}");
    let encrypted = stored.token.clone().unwrap();
    assert!(!encrypted.contains(&page.page_token), "stored encrypted");
    assert_eq!(
        w.cipher.decrypt(ana, &encrypted).unwrap().expose_secret(),
        w.current_page_token(&page.page_id)
    );
    let scopes = stored.scopes.clone().unwrap();
    for needed in [
        "pages_show_list",
        "pages_read_engagement",
        "read_insights",
        "instagram_basic",
        "instagram_manage_insights",
    ] {
        assert!(scopes.iter().any(|s| s == needed), "{scopes:?}");
    }
    // Instagram was granted: the confirmation says it comes too.
    assert!(done.contains("Instagram: permiso concedido"), "{done}");
    // One sync runs for the new agent, with the stored token, against the sandbox.
    let report = finished_for(&mut events, ana).await;
    assert!(report.synced.iter().any(|o| o.agent_id == ana), "{report:?}");
    let today = Utc::now().date_naive();
    let rows = w
        .store()
        .daily_metrics(ana, DateRange::new(today - chrono::Duration::days(40), today))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(w.store().agent(ana).await.unwrap().unwrap().last_synced_at.is_some());

    // The same callback again (a reload, or someone replaying it) is refused in the browser,
    // changes nothing and writes to nobody's chat, however often it is replayed.
    let before = w.snapshot(ana).await;
    for _ in 0..3 {
        let (status, html) = w.get(&back).await;
        assert_eq!(status, 400);
        assert!(html.contains("ya se usó"), "{html}");
    }
    assert_eq!(w.snapshot(ana).await, before);
    assert_eq!(w.outbox.count(), 1, "{:?}", w.outbox.to(ana));
    assert!(
        w.onboarding.confirm_page(ana, None).await.is_err(),
        "nothing left to confirm"
    );
}

#[tokio::test]
async fn bad_callbacks_explain_themselves_and_change_nothing() {
    let w = world(2, true).await;
    let page = w.pages[0].clone();
    let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
    let before = w.snapshot(ana).await;
    w.sandbox.set_login_page(Some(&page.page_id));

    // Forged or missing state: no agent is trusted, so nobody is messaged.
    let real = query_of(&w.onboarding.link_for(ana).await.unwrap())["state"].clone();
    let mut parts: Vec<&str> = real.split('.').collect();
    let other_id = (ana + 1).to_string();
    parts[0] = &other_id;
    let other_agent = parts.join(".");
    let mac_at = real.rfind('.').unwrap() + 1;
    let flipped = if real[mac_at..].starts_with('A') { "B" } else { "A" };
    let tampered_mac = format!("{}{flipped}{}", &real[..mac_at], &real[mac_at + 1..]);
    assert_ne!(tampered_mac, real);
    let foreign_key = StateSigner::new([1; 32]).issue(ana, Utc::now() + chrono::Duration::minutes(10));
    for state in [
        other_agent.as_str(),
        tampered_mac.as_str(),
        foreign_key.as_str(),
        "",
        "<script>",
    ] {
        let (status, html) = w.get(&w.callback_url(&[("state", state), ("code", "AQxyz")])).await;
        assert_eq!(status, 400, "{state}");
        assert!(html.contains("no es válido"), "{state}: {html}");
        assert!(!html.contains("<script>"));
    }
    let (status, _) = w.get(&w.callback_url(&[("code", "AQxyz")])).await;
    assert_eq!(status, 400);
    assert_eq!(w.outbox.count(), 0);

    // Expired state (signed with the right key, 16 minutes old).
    let expired = StateSigner::new(STATE_KEY).issue(ana, Utc::now() - chrono::Duration::minutes(1));
    let (status, html) = w.get(&w.callback_url(&[("state", &expired), ("code", "AQxyz")])).await;
    assert_eq!(status, 400);
    assert!(html.contains("venció"), "{html}");

    // No code.
    let state = query_of(&w.onboarding.link_for(ana).await.unwrap())["state"].clone();
    let (status, html) = w.get(&w.callback_url(&[("state", &state)])).await;
    assert_eq!(status, 400);
    assert!(html.contains("no envió el código"), "{html}");

    // The person declines in Facebook's dialog.
    w.sandbox.set_login_denied(true);
    let back = w.login(&w.onboarding.link_for(ana).await.unwrap()).await;
    assert!(back.contains("error=access_denied"));
    let (status, html) = w.get(&back).await;
    assert_eq!(status, 400);
    assert!(html.contains("No se concedió el permiso"), "{html}");
    w.sandbox.set_login_denied(false);

    // The person unticks permissions: the token lacks what pulso needs.
    let mut link = url::Url::parse(&w.onboarding.link_for(ana).await.unwrap()).unwrap();
    let pairs: Vec<(String, String)> = link
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "scope" {
                (k, "pages_show_list".to_string())
            } else {
                (k, v)
            }
        })
        .collect();
    link.query_pairs_mut().clear().extend_pairs(pairs);
    let (status, html) = w.get(&w.login(link.as_str()).await).await;
    assert_eq!(status, 400);
    assert!(
        html.contains("Faltan permisos de Facebook: pages_read_engagement, read_insights"),
        "{html}"
    );

    // Logged in as someone who does not manage Ana's Page.
    w.sandbox.set_login_page(Some(&w.pages[1].page_id));
    let (status, html) = w.get(&w.login(&w.onboarding.link_for(ana).await.unwrap()).await).await;
    assert_eq!(status, 400);
    assert!(html.contains("no administra la página configurada"), "{html}");
    assert!(html.contains(&page.page_id));

    assert_eq!(w.snapshot(ana).await, before, "nothing stored changed");
    // The expired link was answered in the browser only; the live ones also in chat, with a button.
    let said = w.outbox.messages(ana);
    let expected = [
        "no envió el código",
        "No se concedió el permiso",
        "Faltan permisos",
        "no administra la página",
    ];
    assert_eq!(said.len(), expected.len(), "{said:#?}");
    for (message, what) in said.iter().zip(expected) {
        assert!(message.text.starts_with("❌ No se pudo conectar"), "{}", message.text);
        assert!(message.text.contains(what), "{}", message.text);
        assert!(
            link_button(message).contains("/dialog/oauth?"),
            "a fresh link: {message:?}"
        );
    }
}

#[tokio::test]
async fn an_agent_who_manages_several_pages_chooses_in_chat() {
    let w = world(3, true).await;
    let beto = w.agent("Beto Ruiz", None).await;
    // The office manager's account manages every Page.
    w.sandbox.set_login_page(None);
    let (status, html) = w.get(&w.login(&w.onboarding.link_for(beto).await.unwrap()).await).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Elige tu página") && html.contains("3 páginas"), "{html}");
    assert_eq!(
        w.store().agent(beto).await.unwrap().unwrap().status,
        ConnectionStatus::Inactive
    );
    let said = w.outbox.messages(beto);
    assert_eq!(said.len(), 1);
    for (i, p) in w.pages.iter().enumerate() {
        assert!(
            said[0].text.contains(&format!("{}. {}", i + 1, p.page_name)),
            "{}",
            said[0].text
        );
    }
    assert!(
        said[0].text.contains("Cuenta de Facebook: Gerente de Oficina"),
        "{}",
        said[0].text
    );
    assert_eq!(command_buttons(&said[0]), ["/conectar 1", "/conectar 2", "/conectar 3"]);

    let which = w.onboarding.confirm_page(beto, None).await.unwrap_err();
    assert!(
        which.contains("varias páginas") && which.contains("/conectar 1"),
        "{which}"
    );
    let wrong = w.onboarding.confirm_page(beto, Some(7)).await.unwrap_err();
    assert!(wrong.contains("entre 1 y 3"), "{wrong}");
    let ok = w.onboarding.confirm_page(beto, Some(2)).await.unwrap();
    assert_eq!(
        ok.lines().next().unwrap(),
        format!("✅ Página conectada: {}", w.pages[1].page_name)
    );
    let agent = w.store().agent(beto).await.unwrap().unwrap();
    assert_eq!(agent.facebook_page_id.as_deref(), Some(w.pages[1].page_id.as_str()));
    assert_eq!(agent.status, ConnectionStatus::Active);
    let days = (agent.token_expires_at.expect("the login's end is kept") - chrono::Utc::now()).num_days();
    assert!((58..=60).contains(&days), "{:?}", agent.token_expires_at);
    let token = w.store().agent_token(beto).await.unwrap().unwrap();
    assert_eq!(
        w.cipher.decrypt(beto, &token).unwrap().expose_secret(),
        w.current_page_token(&w.pages[1].page_id)
    );
    assert!(
        w.onboarding
            .confirm_page(beto, Some(2))
            .await
            .unwrap_err()
            .contains("No tengo ninguna página pendiente"),
        "the list is gone once used"
    );
}

#[tokio::test]
async fn disconnections_are_told_once_with_a_fresh_link_button() {
    let w = world(2, true).await;
    let page = w.pages[0].clone();
    let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
    let connection = pulso::store::AgentConnection {
        page_id: page.page_id.clone(),
        token_encrypted: w.cipher.encrypt(ana, &SecretString::from(page.page_token.clone())),
        token_expires_at: None,
        scopes: Vec::new(),
    };
    w.store().connect_agent(ana, &connection, Utc::now()).await.unwrap();
    let notifier = w.onboarding.notify_disconnections(w.engine.subscribe());
    let mut events = w.engine.subscribe();

    w.sandbox.set_fault(&page.page_id, Fault::TokenExpired);
    w.engine.request_agent(ana, "test").await.unwrap();
    let report = finished_for(&mut events, ana).await;
    assert!(report.failed.iter().any(|o| o.agent_id == ana), "{report:?}");
    let said = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let said = w.outbox.to(ana);
            if !said.is_empty() {
                return said;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(said.len(), 1);
    assert!(
        said[0].starts_with("⚠️ Ana, pulso ya no puede leer tu página de Facebook: "),
        "{}",
        said[0]
    );
    assert!(said[0].contains("expiró o fue revocado"), "{}", said[0]);
    let link = link_button(&w.outbox.messages(ana)[0]);
    assert_eq!(query_of(&link)["client_id"], APP_ID, "{link}");
    assert_eq!(
        w.store().agent(ana).await.unwrap().unwrap().status,
        ConnectionStatus::Disconnected
    );

    // The same notice again (another replica, a retry) does not spam.
    let again = SyncEvent::Notice {
        agent_id: ana,
        name: "Ana Pérez".into(),
        notice: AgentNotice::Disconnected {
            reason: "el token de Facebook expiró o fue revocado".into(),
        },
    };
    assert!(!w.onboarding.handle_sync_event(&again).await);
    assert_eq!(w.outbox.to(ana).len(), 1);

    // After reconnecting, a new disconnection is news again.
    w.sandbox.set_fault(&page.page_id, Fault::None);
    w.onboarding
        .connect_manually(ana, &page.page_id, &SecretString::from(page.page_token.clone()))
        .await
        .unwrap();
    assert!(w.onboarding.handle_sync_event(&again).await);
    assert_eq!(w.outbox.to(ana).len(), 2);
    notifier.abort();
}

#[tokio::test]
async fn admin_connect_checks_the_token_before_storing_it() {
    for with_secret in [true, false] {
        let w = world(3, with_secret).await;
        let page = w.pages[0].clone();
        let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
        let before = w.snapshot(ana).await;
        let token = |t: &str| SecretString::from(t.to_string());

        let junk = w
            .onboarding
            .connect_manually(ana, &page.page_id, &token("EAAjunk"))
            .await
            .unwrap_err();
        assert!(
            junk.contains("no es válido") || junk.contains("no se pudo validar"),
            "{with_secret}: {junk}"
        );
        let other = w
            .onboarding
            .connect_manually(ana, &page.page_id, &token(&w.pages[1].page_token))
            .await
            .unwrap_err();
        assert!(other.contains("no puede leer la página"), "{with_secret}: {other}");
        let bad_id = w
            .onboarding
            .connect_manually(ana, "12ab", &token(&page.page_token))
            .await
            .unwrap_err();
        assert!(bad_id.contains("numérico"), "{bad_id}");
        // An expired token.
        w.sandbox.expire_token(&w.pages[2].page_token);
        let expired = w
            .onboarding
            .connect_manually(ana, &w.pages[2].page_id, &token(&w.pages[2].page_token))
            .await
            .unwrap_err();
        assert!(
            expired.contains("expiró") || expired.contains("no es válido"),
            "{with_secret}: {expired}"
        );
        assert_eq!(
            w.snapshot(ana).await,
            before,
            "{with_secret}: a bad token changes nothing"
        );

        let name = w
            .onboarding
            .connect_manually(ana, &page.page_id, &token(&page.page_token))
            .await
            .unwrap();
        assert_eq!(name, page.page_name);
        let agent = w.store().agent(ana).await.unwrap().unwrap();
        assert_eq!(agent.status, ConnectionStatus::Active);
        let stored = w.store().agent_token(ana).await.unwrap().unwrap();
        assert_eq!(w.cipher.decrypt(ana, &stored).unwrap().expose_secret(), page.page_token);
    }
}

#[tokio::test]
async fn a_forwarded_link_connects_nothing_until_the_agent_confirms_what_they_see() {
    let w = world(2, true).await;
    // Ana has no Page configured; she forwards her /conectar link, and Beto logs in with his
    // Facebook account, which manages a Page nobody in pulso has.
    let ana = w.agent("Ana Pérez", None).await;
    let beto_page = w.pages[1].clone();
    let beto = w.agent("Beto Ruiz", None).await;
    let before = w.snapshot(ana).await;
    w.sandbox.set_login_page(Some(&beto_page.page_id));
    let (status, html) = w.get(&w.login(&w.onboarding.link_for(ana).await.unwrap()).await).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains(&beto_page.agent_name),
        "the browser names the account: {html}"
    );

    // Stored: nothing. Ana's chat shows whose account logged in and which Page it offers.
    assert_eq!(w.snapshot(ana).await, before);
    let asked = w.outbox.messages(ana);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(
        asked[0].text.contains(&format!(
            "Cuenta de Facebook: {} (id {})",
            beto_page.agent_name, beto_page.user_id
        )),
        "{}",
        asked[0].text
    );
    assert!(
        asked[0].text.contains(&format!("Página: {}", beto_page.page_name)),
        "{}",
        asked[0].text
    );
    assert!(w.outbox.to(beto).is_empty(), "only the link's owner is asked");

    // Beto cannot confirm it for her: his own identity has nothing pending.
    assert!(w.onboarding.confirm_page(beto, None).await.is_err());
    assert_eq!(w.snapshot(ana).await, before);
    assert_eq!(w.store().agent(beto).await.unwrap().unwrap().facebook_page_id, None);

    // Only Ana's confirmation stores it.
    w.onboarding.confirm_page(ana, None).await.unwrap();
    let ana_now = w.store().agent(ana).await.unwrap().unwrap();
    assert_eq!(ana_now.facebook_page_id.as_deref(), Some(beto_page.page_id.as_str()));
    assert_eq!(ana_now.status, ConnectionStatus::Active);
}

#[tokio::test]
async fn a_page_another_agent_has_is_refused_to_the_agent_and_the_team() {
    let w = world(2, true).await;
    let page = w.pages[0].clone();
    let carla = w.agent("Carla Núñez", Some(&page.page_id)).await;
    let ana = w.agent("Ana Pérez", None).await;
    let before = (w.snapshot(ana).await, w.snapshot(carla).await);
    // Ana's link, logged in with the account that manages Carla's Page.
    w.sandbox.set_login_page(Some(&page.page_id));
    let (status, html) = w.get(&w.login(&w.onboarding.link_for(ana).await.unwrap()).await).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("ya está conectada a otro agente"), "{html}");
    assert_eq!((w.snapshot(ana).await, w.snapshot(carla).await), before);
    assert!(
        w.onboarding.confirm_page(ana, None).await.is_err(),
        "nothing to confirm"
    );

    let said = w.outbox.to(ana);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains(&format!(
            "La página «{}» ya está conectada a otro agente",
            page.page_name
        )),
        "{}",
        said[0]
    );
    assert!(
        !said[0].contains("Carla"),
        "the agent is not told whose it is: {}",
        said[0]
    );
    let team = w.outbox.team();
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(
        team[0].contains("Ana Pérez") && team[0].contains("Carla Núñez") && team[0].contains(&page.page_id),
        "{}",
        team[0]
    );

    // The admin path refuses it too.
    let manual = w
        .onboarding
        .connect_manually(ana, &page.page_id, &SecretString::from(page.page_token.clone()))
        .await
        .unwrap_err();
    assert!(manual.contains("ya está conectada a otro agente"), "{manual}");
    assert_eq!((w.snapshot(ana).await, w.snapshot(carla).await), before);
}

#[tokio::test]
async fn the_token_reminder_alert_carries_a_working_connect_button() {
    use pulso::alerts::Alerts;
    let w = world(1, true).await;
    let page = w.pages[0].clone();
    let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
    let now = Utc::now();
    let connection = pulso::store::AgentConnection {
        page_id: page.page_id.clone(),
        token_encrypted: w.cipher.encrypt(ana, &SecretString::from(page.page_token.clone())),
        token_expires_at: Some(now + chrono::Duration::days(9)),
        scopes: Vec::new(),
    };
    w.store().connect_agent(ana, &connection, now).await.unwrap();
    w.store().mark_agent_synced(ana, now).await.unwrap();
    let clock = Arc::new(ManualClock::starting_at(now));
    let alerts = Alerts::new(
        w.db.store.clone(),
        w.outbox.clone(),
        None,
        clock.clone(),
        support::alerting::settings(),
    );
    assert!(alerts.set_connect_links(w.onboarding.clone()));
    for step in [0, 31, 2 * 86_400] {
        clock.advance(Duration::from_secs(step));
        alerts.evaluate_now().await.unwrap();
    }
    let said = w.outbox.messages(ana);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].text.contains("vence en 9 días"), "{}", said[0].text);
    // The button is a live Facebook Login link for Ana: it leads to her confirmation.
    let link = link_button(&said[0]);
    w.sandbox.set_login_page(Some(&page.page_id));
    let (status, html) = w.get(&w.login(&link).await).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Confirma en el chat"), "{html}");
    assert_eq!(w.outbox.messages(ana).len(), 2, "the confirmation request");
}

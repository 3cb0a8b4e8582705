//! Onboarding end to end: pulso's callback router and the Graph sandbox (with its Facebook Login
//! imitation) on 127.0.0.1, the real Graph client, a real sync engine, real SQLite, and a recording
//! chat outbox.

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
use pulso::ports::{ConnectLinks, OutMessage, Outbox};
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
    sent: Mutex<Vec<(AgentId, String)>>,
}

#[async_trait]
impl Outbox for RecordingOutbox {
    async fn to_team(&self, _message: &OutMessage) -> anyhow::Result<()> {
        Ok(())
    }
    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        self.sent.lock().unwrap().push((agent, message.text.clone()));
        Ok(1)
    }
}

impl RecordingOutbox {
    fn to(&self, agent: AgentId) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _)| *a == agent)
            .map(|(_, t)| t.clone())
            .collect()
    }
    fn count(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
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
    assert_eq!(q["scope"], "pages_show_list,pages_read_engagement,read_insights");
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
    let (status, html) = w.get(&back).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Página conectada") && html.contains("volver al chat"),
        "{html}"
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
    for needed in ["pages_show_list", "pages_read_engagement", "read_insights"] {
        assert!(scopes.iter().any(|s| s == needed), "{scopes:?}");
    }
    let said = w.outbox.to(ana);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with(&format!("✅ Página conectada: {}", page.page_name)),
        "{said:?}"
    );

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

    // The same callback again (a reload, or someone replaying it) is refused and changes nothing.
    let before = w.snapshot(ana).await;
    let (status, html) = w.get(&back).await;
    assert_eq!(status, 400);
    assert!(html.contains("ya se usó"), "{html}");
    assert_eq!(w.snapshot(ana).await, before);
    let said = w.outbox.to(ana);
    assert_eq!(said.len(), 2);
    assert!(
        said[1].contains("ya se usó") && said[1].contains("/dialog/oauth?"),
        "{}",
        said[1]
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
    let said = w.outbox.to(ana);
    let expected = [
        "venció",
        "no envió el código",
        "No se concedió el permiso",
        "Faltan permisos",
        "no administra la página",
    ];
    assert_eq!(said.len(), expected.len(), "{said:#?}");
    for (text, what) in said.iter().zip(expected) {
        assert!(text.starts_with("❌ No se pudo conectar"), "{text}");
        assert!(text.contains(what), "{text}");
        assert!(text.contains("/dialog/oauth?"), "a fresh link: {text}");
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
    let said = w.outbox.to(beto);
    assert_eq!(said.len(), 1);
    for (i, p) in w.pages.iter().enumerate() {
        assert!(said[0].contains(&format!("{}. {}", i + 1, p.page_name)), "{}", said[0]);
    }
    assert!(said[0].contains("/conectar 2"));
    assert_eq!(w.onboarding.pending_pages(beto).await.unwrap().len(), 3);

    let wrong = w.onboarding.choose_page(beto, 7).await.unwrap_err();
    assert!(wrong.contains("entre 1 y 3"), "{wrong}");
    let ok = w.onboarding.choose_page(beto, 2).await.unwrap();
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
            .choose_page(beto, 2)
            .await
            .unwrap_err()
            .contains("No tengo páginas pendientes"),
        "the list is gone once used"
    );
}

#[tokio::test]
async fn disconnections_are_told_once_and_the_day_50_reminder_carries_a_link() {
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
    assert!(
        said[0].contains("expiró o fue revocado") && said[0].contains("/dialog/oauth?"),
        "{}",
        said[0]
    );
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
    // Day 50 of 60: a reminder with a link.
    let expiring = SyncEvent::Notice {
        agent_id: ana,
        name: "Ana Pérez".into(),
        notice: AgentNotice::TokenExpiring {
            expires_at: Utc::now() + chrono::Duration::days(10),
            days_left: 10,
        },
    };
    assert!(w.onboarding.handle_sync_event(&expiring).await);
    let said = w.outbox.to(ana);
    assert!(
        said[1].contains("vence en 10 días") && said[1].contains("/dialog/oauth?"),
        "{}",
        said[1]
    );

    // After reconnecting, a new disconnection is news again.
    w.sandbox.set_fault(&page.page_id, Fault::None);
    w.onboarding
        .connect_manually(ana, &page.page_id, &SecretString::from(page.page_token.clone()))
        .await
        .unwrap();
    assert!(w.onboarding.handle_sync_event(&again).await);
    assert_eq!(w.outbox.to(ana).len(), 3);
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

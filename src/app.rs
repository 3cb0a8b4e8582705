//! Wiring: the parts of a running pulso, built once from the configuration and shared by
//! `pulso run` and `pulso demo`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use secrecy::SecretString;

use crate::alerts::{AlertSettings, Alerts, Mailer};
use crate::chat::delivery::ReportDelivery;
use crate::chat::discord::start_discord;
use crate::chat::telegram::TelegramChat;
use crate::chat::{ChatCore, FanOutOutbox};
use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{AgentId, ConnectionStatus, JobKind, Role};
use crate::facebook::{GraphClient, GraphConfig};
use crate::http::Health;
use crate::onboarding::{Onboarding, OnboardingSettings};
use crate::ports::{AlertDesk, ConnectLinks, OutMessage, Outbox};
use crate::queries::Queries;
use crate::reports::Reports;
use crate::sandbox::{PageState, Sandbox, SandboxOptions};
use crate::store::{NewAgent, Store};
use crate::sync::{GraphSource, SyncEngine, SyncSettings, SystemClock};

/// Connects and migrates; every entry point that touches data goes through here. The pool holds
/// at least one connection per agent of a sync batch plus a few for chat and leases, so a batch
/// never waits for a connection.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let connections = pool_size(config);
    if connections > config.database.max_connections {
        tracing::info!(
            configured = config.database.max_connections,
            connections,
            "database.max_connections sube para cubrir sync.batch_size"
        );
    }
    let store = crate::store::connect(&config.database.url, connections).await?;
    // The error already says the migrations failed, and why.
    store.migrate().await?;
    Ok(store)
}

/// `database.max_connections`, raised to `sync.batch_size` + 4 when smaller.
pub fn pool_size(config: &Config) -> u32 {
    let batch = u32::try_from(config.sync.batch_size.max(1)).unwrap_or(u32::MAX);
    config.database.max_connections.max(batch.saturating_add(4))
}

/// Ctrl-C or SIGTERM (what service managers send).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub struct App {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub cipher: Arc<TokenCipher>,
    pub queries: Arc<Queries>,
    pub engine: SyncEngine,
    pub graph: GraphClient,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let cipher = Arc::new(TokenCipher::from_config(&config)?);
        let store = open_store(&config).await?;
        let tz = config.office.tz();
        let queries = Arc::new(Queries::new(store.clone(), tz));
        let graph = GraphClient::new(GraphConfig::from_config(&config));
        let engine = SyncEngine::builder(
            store.clone(),
            Arc::new(GraphSource::new(graph.clone())),
            cipher.clone(),
            Arc::new(SystemClock),
            SyncSettings::from_config(&config),
            tz,
        )
        .queries(queries.clone())
        .build();
        Ok(Self {
            config,
            store,
            cipher,
            queries,
            engine,
            graph,
        })
    }

    /// Takes over jobs whose process died, now and every 30 s, and helps other replicas with a
    /// running bulk sync; stops when the engine shuts down.
    pub fn spawn_job_watcher(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.engine.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            while !engine.is_stopping() {
                if let Err(e) = engine.recover().await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "no se pudieron revisar los trabajos interrumpidos"
                    );
                }
                if let Ok(active) = store.active_jobs().await {
                    for job in active.into_iter().filter(|j| j.kind == JobKind::Bulk) {
                        if job.lease_owner.as_deref().is_some_and(|o| o != engine.owner()) {
                            let _ = engine.assist(job.id).await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
        })
    }
}

/// Loads the demo's token key from `path`, creating a random one (mode 0600) the first time.
pub fn demo_token_key(path: &Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(SecretString::from(existing.trim().to_string()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("no se pudo crear {}", dir.display()))?;
    }
    let key = crate::crypto::generate_key_b64();
    write_private(path, &key).with_context(|| format!("no se pudo escribir {}", path.display()))?;
    Ok(SecretString::from(key))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Starts the in-process Graph API sandbox for the demo and returns it with its base URL.
pub async fn start_demo_sandbox(app_id: &str, app_secret: &str) -> anyhow::Result<(Sandbox, String)> {
    let sandbox = Sandbox::new(SandboxOptions {
        app_id: app_id.to_string(),
        app_secret: Some(app_secret.to_string()),
        ..SandboxOptions::default()
    });
    let (addr, _task) = sandbox.spawn_local().await.context("no se pudo iniciar el sandbox")?;
    Ok((sandbox, format!("http://{addr}")))
}

/// Imports the sandbox's seeded Pages as agents (idempotent: re-running updates, never duplicates).
pub async fn import_sandbox_agents(app: &App, sandbox: &Sandbox) -> anyhow::Result<usize> {
    let now = Utc::now();
    let pages = sandbox.seeded_pages();
    for page in &pages {
        let new = NewAgent {
            name: page.agent_name.clone(),
            email: page.email.clone(),
            role: Role::Agent,
            facebook_page_id: Some(page.page_id.clone()),
            instagram_account_id: None,
        };
        let (agent, _) = app.store.upsert_agent(&new, now).await?;
        if app.store.agent_token(agent.id).await?.is_none() || page.state == PageState::Healthy {
            let token = app
                .cipher
                .encrypt(agent.id, &SecretString::from(page.page_token.clone()));
            app.store.set_agent_token(agent.id, &token, None, now).await?;
        }
        if agent.last_synced_at.is_none() {
            app.store
                .set_agent_status(agent.id, ConnectionStatus::Active, None, now)
                .await?;
        }
    }
    Ok(pages.len())
}

/// An outbox bound after construction: alerts are built before the chat adapters that deliver
/// their messages, and the adapters need the chat core, which needs the alerts.
#[derive(Clone, Default)]
pub struct LateOutbox(Arc<std::sync::OnceLock<Arc<dyn Outbox>>>);

impl LateOutbox {
    pub fn bind(&self, outbox: Arc<dyn Outbox>) {
        let _ = self.0.set(outbox);
    }

    fn get(&self) -> anyhow::Result<&Arc<dyn Outbox>> {
        self.0.get().context("ningún canal de chat está conectado todavía")
    }
}

#[async_trait::async_trait]
impl Outbox for LateOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        self.get()?.to_team(message).await
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        self.get()?.to_agent(agent, message).await
    }

    async fn to_chat(&self, platform: &str, chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        self.get()?.to_chat(platform, chat_id, message).await
    }
}

/// What runs on top of the core parts: alerts, the chat core, the adapters' shared outbox and
/// the health registry.
pub struct Services {
    pub alerts: Alerts,
    pub onboarding: Arc<Onboarding>,
    pub core: ChatCore,
    pub outbox: LateOutbox,
    pub health: Health,
    pub reports: Arc<Reports>,
    pub delivery: Arc<ReportDelivery>,
}

impl App {
    pub fn services(&self) -> Services {
        let outbox = LateOutbox::default();
        let alerts = Alerts::new(
            self.store.clone(),
            Arc::new(outbox.clone()),
            Mailer::from_config(&self.config),
            Arc::new(SystemClock),
            AlertSettings::from_config(&self.config),
        );
        let onboarding = Arc::new(Onboarding::new(
            self.store.clone(),
            self.cipher.clone(),
            self.graph.clone(),
            Some(self.engine.clone()),
            None,
            OnboardingSettings::from_config(&self.config),
        ));
        // The `token_vence` reminder carries a fresh /conectar link as a button.
        alerts.set_connect_links(onboarding.clone());
        let core = ChatCore::new(
            self.store.clone(),
            self.queries.clone(),
            self.engine.clone(),
            self.config.office.tz(),
            Some(Arc::new(alerts.clone()) as Arc<dyn AlertDesk>),
            Some(onboarding.clone() as Arc<dyn ConnectLinks>),
        );
        let reports = Arc::new(Reports::new(
            self.store.clone(),
            self.queries.clone(),
            Arc::new(outbox.clone()),
            self.config.office.tz(),
        ));
        let delivery = Arc::new(ReportDelivery::new(
            self.store.clone(),
            self.engine.clone(),
            Arc::new(outbox.clone()),
            Arc::new(SystemClock),
        ));
        Services {
            alerts,
            onboarding,
            core,
            outbox,
            health: Health::new(),
            reports,
            delivery,
        }
    }

    /// Connects the chat platforms that have a token; returns their outboxes and running tasks.
    pub async fn start_chat_adapters(
        &self,
        services: &Services,
        tasks: &mut tokio::task::JoinSet<anyhow::Result<()>>,
    ) -> anyhow::Result<(Vec<Arc<dyn Outbox>>, Option<axum::Router>)> {
        let mut outboxes = Vec::new();
        let mut webhook = None;
        if let Some(token) = &self.config.secrets.telegram_token {
            let telegram = TelegramChat::connect(services.core.clone(), &self.config, token, None)
                .await
                .context("no se pudo conectar con Telegram")?;
            outboxes.push(telegram.outbox());
            services.health.set_adapter("telegram", true, None);
            if self.config.telegram.webhook_url.trim().is_empty() {
                // Polling tells /salud whether each getUpdates reaches Telegram.
                telegram.report_status(services.health.hook("telegram"));
                tasks.spawn(async move { telegram.run_polling(shutdown_signal()).await });
            } else {
                telegram.register_webhook().await?;
                webhook = Some(telegram.webhook_router());
            }
        }
        if let Some(token) = &self.config.secrets.discord_token {
            // Not ready until the gateway says so; then every stage change is reported.
            services
                .health
                .set_adapter("discord", false, Some("conectando con el gateway de Discord".into()));
            let (outbox, gateway) = start_discord(
                services.core.clone(),
                &self.config,
                token.clone(),
                Some(services.health.hook("discord")),
            )
            .await?;
            outboxes.push(outbox);
            tasks.spawn(async move { gateway.await.context("la tarea de Discord terminó")? });
        }
        Ok((outboxes, webhook))
    }
}

impl Services {
    /// Binds the delivery of alerts, reports and onboarding messages to the connected chats, and
    /// starts the tasks that react to syncs: alert rules, team summaries and the disconnection
    /// notices (with the /conectar link).
    pub fn start(&self, engine: &SyncEngine, outboxes: Vec<Arc<dyn Outbox>>) {
        let outbox: Arc<dyn Outbox> = Arc::new(FanOutOutbox::new(outboxes));
        self.outbox.bind(outbox.clone());
        self.onboarding.set_outbox(outbox);
        tokio::spawn(self.alerts.clone().run(engine.subscribe()));
        self.reports.clone().spawn(engine.subscribe());
        self.delivery.clone().spawn(engine.subscribe());
        self.onboarding.notify_disconnections(engine.subscribe());
    }

    /// The public HTTP surface: /salud and the Facebook Login callback, plus /metrics when
    /// `http.metrics_listen` is empty.
    pub fn http_router(&self, app: &App) -> axum::Router {
        let router =
            crate::http::router(self.http_state(app)).merge(crate::onboarding::routes(self.onboarding.clone()));
        match self.metrics_router(app) {
            Some(_) => router,
            None => router.merge(crate::http::metrics_router(self.http_state(app))),
        }
    }

    /// /metrics on its own listener (`http.metrics_listen`); None when it shares the main one.
    pub fn metrics_router(&self, app: &App) -> Option<axum::Router> {
        (!app.config.http.metrics_listen.trim().is_empty()).then(|| crate::http::metrics_router(self.http_state(app)))
    }

    fn http_state(&self, app: &App) -> crate::http::HttpState {
        let mut state = crate::http::HttpState::new(
            app.store.clone(),
            Arc::new(SystemClock),
            self.health.clone(),
            app.config.facebook.hourly_budget(),
        );
        state.metrics_token = app.config.secrets.metrics_token.clone();
        state
    }
}

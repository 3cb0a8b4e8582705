//! Onboarding: agents connect their Facebook Page from chat through Facebook Login, and stay
//! connected.
//!
//! - [`Onboarding::link_for`] (the [`ConnectLinks`] port) makes the `/conectar` link: the Facebook
//!   Login dialog with a signed, single-use, 15-minute `state` bound to the agent.
//! - [`routes`] serves `GET /oauth/facebook/callback`: checks the state, exchanges the code for a
//!   long-lived user token, checks the granted permissions, picks the agent's Page, stores its Page
//!   token encrypted and marks the agent active, tells the agent in chat and syncs them once.
//!   When the login manages several Pages and none is configured for the agent, the candidates
//!   are kept and the agent picks one in chat ([`Onboarding::choose_page`], `/conectar N`).
//! - [`Onboarding::connect_manually`] is the admin alternative (`pulso agents connect`).
//! - [`Onboarding::notify_disconnections`] turns the sync engine's notices into one private message
//!   per disconnection, and the day-50 reminder into a message, each with a fresh link.
//!
//! Nothing here logs or shows a token, a login code or a state.

mod html;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{Agent, AgentId};
use crate::facebook::{FetchError, GraphClient, PageAccess, TokenInfo};
use crate::ports::{ConnectLinks, OutMessage, Outbox};
use crate::store::{AgentConnection, PageCandidate, Store};
use crate::sync::{AgentNotice, SyncEngine, SyncEvent};

pub use html::escape as escape_html;
pub use state::{StateError, StateSigner, VerifiedState};

/// Path of the Facebook Login callback on pulso's HTTP server.
pub const CALLBACK_PATH: &str = "/oauth/facebook/callback";
/// Permissions pulso asks for and needs.
pub const DEFAULT_PERMISSIONS: [&str; 3] = ["pages_show_list", "pages_read_engagement", "read_insights"];
/// How long a `/conectar` link works.
pub const LINK_TTL_MINUTES: i64 = 15;
/// How long the list of Pages to choose from is kept.
pub const CHOICE_TTL_MINUTES: i64 = 30;

/// What onboarding needs from the configuration.
#[derive(Clone)]
pub struct OnboardingSettings {
    pub app_id: String,
    /// Needed for `debug_token` (app token `{app_id}|{app_secret}`); the code exchanges use the
    /// Graph client's own copy.
    pub app_secret: Option<SecretString>,
    /// Facebook Login base URL, without version or trailing slash (`https://www.facebook.com`).
    pub login_url: String,
    /// Version segment of the dialog path, e.g. `v25.0`.
    pub api_version: String,
    /// Public base URL of pulso's HTTP server; the callback is `{public_url}/oauth/facebook/callback`.
    pub public_url: String,
    /// Key that signs `state` values.
    pub state_key: [u8; 32],
    pub permissions: Vec<String>,
}

impl std::fmt::Debug for OnboardingSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnboardingSettings")
            .field("app_id", &self.app_id)
            .field("login_url", &self.login_url)
            .field("api_version", &self.api_version)
            .field("public_url", &self.public_url)
            .field("permissions", &self.permissions)
            .finish_non_exhaustive()
    }
}

impl OnboardingSettings {
    /// From `[facebook]`, `[http]` and the secrets. The state key is derived from the token key
    /// (so links survive a restart and work on every replica), or random when there is none.
    pub fn from_config(c: &Config) -> Self {
        Self {
            app_id: c.facebook.app_id.clone(),
            app_secret: c.secrets.facebook_app_secret.clone(),
            login_url: c.facebook.login_url.clone(),
            api_version: c.facebook.api_version.clone(),
            public_url: c.http.public_url.clone(),
            state_key: derive_state_key(c.secrets.token_key.as_ref()),
            permissions: DEFAULT_PERMISSIONS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// HMAC-SHA256(token key, label): a separate key for signing states, never the encryption key
/// itself. Random when no valid token key is configured (links then die with the process).
pub fn derive_state_key(token_key_b64: Option<&SecretString>) -> [u8; 32] {
    match token_key_b64.and_then(|k| crate::crypto::parse_key("token_key", k.expose_secret()).ok()) {
        Some(key) => {
            let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret()).expect("HMAC accepts keys of any length");
            mac.update(b"pulso oauth state key v1");
            mac.finalize().into_bytes().into()
        }
        None => rand::random(),
    }
}

/// Facebook connection of agents. Share it as `Arc<Onboarding>`.
pub struct Onboarding {
    store: Arc<dyn Store>,
    cipher: Arc<TokenCipher>,
    graph: GraphClient,
    engine: Option<SyncEngine>,
    /// Set at construction or later with [`Onboarding::set_outbox`] (the chat layer may need this
    /// value's [`ConnectLinks`] before its outbox exists).
    outbox: OnceLock<Arc<dyn Outbox>>,
    settings: OnboardingSettings,
    signer: StateSigner,
    /// Agents already told about their current disconnection (cleared when they reconnect).
    notified: Mutex<HashMap<AgentId, String>>,
}

/// Why a connection attempt failed: a Spanish text for the browser and the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// The agent the (authentic) state named; None when the state was forged or missing.
    agent: Option<AgentId>,
    title: &'static str,
    message: String,
    /// Short label for logs (no secrets).
    kind: &'static str,
}

impl Failure {
    fn new(agent: Option<AgentId>, kind: &'static str, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            agent,
            title,
            message: message.into(),
            kind,
        }
    }
}

/// A successful callback: either connected, or waiting for the agent to pick a Page.
enum Success {
    Connected { page_name: String },
    Choose { count: usize },
}

impl Onboarding {
    pub fn new(
        store: Arc<dyn Store>,
        cipher: Arc<TokenCipher>,
        graph: GraphClient,
        engine: Option<SyncEngine>,
        outbox: Option<Arc<dyn Outbox>>,
        settings: OnboardingSettings,
    ) -> Self {
        let signer = StateSigner::new(settings.state_key);
        let slot = OnceLock::new();
        if let Some(outbox) = outbox {
            let _ = slot.set(outbox);
        }
        Self {
            store,
            cipher,
            graph,
            engine,
            outbox: slot,
            settings,
            signer,
            notified: Mutex::new(HashMap::new()),
        }
    }

    /// Late wiring of the chat outbox; false when one was already set (it is kept).
    pub fn set_outbox(&self, outbox: Arc<dyn Outbox>) -> bool {
        self.outbox.set(outbox).is_ok()
    }

    /// `{public_url}/oauth/facebook/callback`, the `redirect_uri` of every login.
    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.settings.public_url.trim_end_matches('/'))
    }

    /// The Facebook Login URL for `agent`, valid for 15 minutes and for one use.
    pub async fn login_url(&self, agent: AgentId) -> anyhow::Result<String> {
        if self.store.agent(agent).await?.is_none() {
            anyhow::bail!("no existe el agente {agent}");
        }
        let state = self
            .signer
            .issue(agent, Utc::now() + Duration::minutes(LINK_TTL_MINUTES));
        let base = format!(
            "{}/{}/dialog/oauth",
            self.settings.login_url.trim_end_matches('/'),
            self.settings.api_version.trim_matches('/')
        );
        let mut url = url::Url::parse(&base).map_err(|e| anyhow::anyhow!("facebook.login_url no es válida: {e}"))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.app_id)
            .append_pair("redirect_uri", &self.redirect_uri())
            .append_pair("state", &state)
            .append_pair("scope", &self.settings.permissions.join(","))
            .append_pair("response_type", "code");
        Ok(url.to_string())
    }

    fn app_token(&self) -> Option<SecretString> {
        let secret = self.settings.app_secret.as_ref()?;
        Some(SecretString::from(format!(
            "{}|{}",
            self.settings.app_id,
            secret.expose_secret()
        )))
    }

    async fn send_to_agent(&self, agent: AgentId, text: String) -> bool {
        let Some(outbox) = self.outbox.get() else {
            return false;
        };
        match outbox.to_agent(agent, &OutMessage::text(text)).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(
                    agent_id = agent,
                    error = format!("{e:#}"),
                    "no se pudo avisar al agente por chat"
                );
                false
            }
        }
    }

    // ── the callback ──

    /// Handles one callback request; returns the HTTP status and the HTML page.
    pub async fn handle_callback(&self, query: &HashMap<String, String>) -> (StatusCode, String) {
        match self.callback_flow(query).await {
            Ok(Success::Connected { page_name }) => (
                StatusCode::OK,
                html::page(
                    "Página conectada",
                    &[
                        &format!("✅ Tu página «{page_name}» quedó conectada a pulso."),
                        "Ya puedes cerrar esta ventana y volver al chat.",
                    ],
                ),
            ),
            Ok(Success::Choose { count }) => (
                StatusCode::OK,
                html::page(
                    "Elige tu página",
                    &[
                        &format!("Tu cuenta de Facebook administra {count} páginas."),
                        "Vuelve al chat: te envié la lista para que elijas cuál conectar.",
                    ],
                ),
            ),
            Err(failure) => {
                tracing::warn!(
                    agent_id = failure.agent,
                    kind = failure.kind,
                    "conexión de Facebook rechazada"
                );
                let mut told_in_chat = false;
                if let Some(agent) = failure.agent {
                    let link = self.login_url(agent).await.ok();
                    let text = match link {
                        Some(link) => format!(
                            "❌ No se pudo conectar tu página de Facebook: {}\nPara intentarlo de nuevo abre este enlace (válido {LINK_TTL_MINUTES} minutos): {link}",
                            failure.message
                        ),
                        None => format!("❌ No se pudo conectar tu página de Facebook: {}", failure.message),
                    };
                    told_in_chat = self.send_to_agent(agent, text).await;
                }
                let next = if told_in_chat {
                    "Vuelve al chat: ahí tienes un enlace nuevo para intentarlo otra vez."
                } else {
                    "Vuelve al chat y escribe /conectar para intentarlo otra vez."
                };
                (
                    StatusCode::BAD_REQUEST,
                    html::page(failure.title, &[&failure.message, next]),
                )
            }
        }
    }

    async fn callback_flow(&self, q: &HashMap<String, String>) -> Result<Success, Failure> {
        let now = Utc::now();
        let param = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let forged = || {
            Failure::new(
                None,
                "state_invalid",
                "Enlace no válido",
                "Este enlace de conexión no es válido. Pide uno nuevo en el chat con /conectar.",
            )
        };
        let verified = match param("state").map(|s| self.signer.verify(s, now)) {
            None | Some(Err(StateError::Forged)) => return Err(forged()),
            Some(Err(StateError::Expired(v))) => {
                return Err(Failure::new(
                    self.existing(v.agent).await,
                    "state_expired",
                    "Enlace vencido",
                    format!("El enlace de conexión venció (dura {LINK_TTL_MINUTES} minutos)."),
                ));
            }
            Some(Ok(v)) => v,
        };
        let agent = match self.store.agent(verified.agent).await {
            Ok(Some(agent)) => agent,
            Ok(None) => return Err(forged()),
            Err(e) => {
                tracing::error!(error = %e, "base de datos no disponible en el callback de Facebook");
                return Err(unavailable(None));
            }
        };
        let first_use = self
            .store
            .use_oauth_state(&verified.nonce, agent.id, verified.expires_at, now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "no se pudo registrar el uso del enlace de conexión");
                unavailable(Some(agent.id))
            })?;
        if !first_use {
            return Err(Failure::new(
                Some(agent.id),
                "state_reused",
                "Enlace ya usado",
                "Este enlace de conexión ya se usó; cada enlace sirve una sola vez.",
            ));
        }
        if let Some(error) = param("error") {
            let denied = error == "access_denied" || param("error_reason") == Some("user_denied");
            return Err(Failure::new(
                Some(agent.id),
                "login_denied",
                "Conexión cancelada",
                if denied {
                    "No se concedió el permiso en Facebook, así que pulso no puede leer tu página."
                } else {
                    "Facebook no completó el inicio de sesión."
                },
            ));
        }
        let Some(code) = param("code") else {
            return Err(Failure::new(
                Some(agent.id),
                "code_missing",
                "Falta el código de Facebook",
                "Facebook no envió el código de autorización.",
            ));
        };
        self.login_and_connect(&agent, code).await
    }

    /// The agent, if it still exists (for messages about expired links).
    async fn existing(&self, id: AgentId) -> Option<AgentId> {
        self.store.agent(id).await.ok().flatten().map(|a| a.id)
    }

    async fn login_and_connect(&self, agent: &Agent, code: &str) -> Result<Success, Failure> {
        let id = Some(agent.id);
        let short = self
            .graph
            .exchange_code(code, &self.redirect_uri())
            .await
            .map_err(|e| graph_failure(id, "code_exchange", &e))?;
        let long = self
            .graph
            .exchange_long_lived(&short.token)
            .await
            .map_err(|e| graph_failure(id, "long_lived_exchange", &e))?;
        let user_info = self
            .debug(&long.token)
            .await
            .map_err(|e| graph_failure(id, "debug_token", &e))?;
        let scopes = match user_info {
            Some(info) => {
                if !info.is_valid {
                    return Err(Failure::new(
                        id,
                        "user_token_invalid",
                        "Permiso no válido",
                        "Facebook dice que el permiso recién concedido no es válido.",
                    ));
                }
                let missing: Vec<&str> = self
                    .settings
                    .permissions
                    .iter()
                    .filter(|p| !info.scopes.iter().any(|s| s == *p))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(Failure::new(
                        id,
                        "permissions_missing",
                        "Faltan permisos",
                        format!(
                            "Faltan permisos de Facebook: {}. Al conectar, acepta todos los permisos que pide pulso.",
                            missing.join(", ")
                        ),
                    ));
                }
                info.scopes
            }
            None => Vec::new(),
        };
        let pages = self
            .graph
            .my_pages(&long.token)
            .await
            .map_err(|e| graph_failure(id, "my_pages", &e))?;
        let not_managed = |page_id: &str| {
            Failure::new(
                id,
                "page_not_managed",
                "Página no administrada",
                format!(
                    "La cuenta de Facebook con la que entraste no administra la página configurada para ti ({page_id}). Entra con la cuenta que administra esa página, o pide al administrador que corrija tu página."
                ),
            )
        };
        let chosen: PageAccess = match agent.facebook_page_id.as_deref() {
            // The configured Page decides; Business-owned Pages are missing from /me/accounts but
            // readable by id.
            Some(known) => match pages.into_iter().find(|p| p.page_id == known) {
                Some(page) => page,
                None => match self.graph.page_access(known, &long.token).await {
                    Ok(page) => page,
                    Err(FetchError::Permission { .. } | FetchError::NotFound { .. }) => {
                        return Err(not_managed(known));
                    }
                    Err(e) => return Err(graph_failure(id, "page_access", &e)),
                },
            },
            None if pages.is_empty() => {
                return Err(Failure::new(
                    id,
                    "no_pages",
                    "Sin páginas",
                    "Tu cuenta de Facebook no administra ninguna página, o no compartiste ninguna con pulso. Al conectar, selecciona tu página.",
                ));
            }
            None if pages.len() == 1 => pages.into_iter().next().expect("one page"),
            None => {
                let count = pages.len();
                self.offer_choice(agent, pages, &scopes).await?;
                return Ok(Success::Choose { count });
            }
        };
        let page_name = self
            .connect(agent.id, &chosen, scopes, true)
            .await
            .map_err(|message| Failure::new(id, "connect", "No se pudo conectar", message))?;
        Ok(Success::Connected { page_name })
    }

    /// `debug_token` with the app token; None when no app secret is configured.
    async fn debug(&self, token: &SecretString) -> Result<Option<TokenInfo>, FetchError> {
        match self.app_token() {
            Some(app) => self.graph.debug_token(token, &app).await.map(Some),
            None => Ok(None),
        }
    }

    async fn offer_choice(&self, agent: &Agent, pages: Vec<PageAccess>, scopes: &[String]) -> Result<(), Failure> {
        let now = Utc::now();
        let candidates: Vec<PageCandidate> = pages
            .iter()
            .enumerate()
            .map(|(i, p)| PageCandidate {
                position: i as i64 + 1,
                page_id: p.page_id.clone(),
                page_name: p.name.clone(),
                token_encrypted: self.cipher.encrypt(agent.id, &p.token),
                token_expires_at: None,
                scopes: scopes.to_vec(),
            })
            .collect();
        self.store
            .set_page_candidates(agent.id, &candidates, now + Duration::minutes(CHOICE_TTL_MINUTES), now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "no se pudieron guardar las páginas candidatas");
                unavailable(Some(agent.id))
            })?;
        let list = candidates
            .iter()
            .map(|c| format!("{}. {}", c.position, display_name(c)))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!(
            "Tu cuenta de Facebook administra varias páginas:\n{list}\nResponde /conectar N con el número de la tuya (por ejemplo: /conectar 2). La lista vale {CHOICE_TTL_MINUTES} minutos."
        );
        self.send_to_agent(agent.id, text).await;
        Ok(())
    }

    /// Stores the connection, then (when `announce`) tells the agent in chat, and syncs them once.
    /// Returns the Page name, or a Spanish reason when nothing was stored.
    async fn connect(
        &self,
        agent: AgentId,
        page: &PageAccess,
        scopes: Vec<String>,
        announce: bool,
    ) -> Result<String, String> {
        let expires_at = match self.debug(&page.token).await {
            Ok(Some(info)) if !info.is_valid => {
                return Err("Facebook dice que el permiso de la página no es válido.".to_string());
            }
            Ok(Some(info)) => info.expires_at,
            Ok(None) => None,
            Err(e) => return Err(login_reason(&e)),
        };
        let connection = AgentConnection {
            page_id: page.page_id.clone(),
            token_encrypted: self.cipher.encrypt(agent, &page.token),
            token_expires_at: expires_at,
            scopes,
        };
        self.store
            .connect_agent(agent, &connection, Utc::now())
            .await
            .map_err(|e| {
                tracing::error!(agent_id = agent, error = %e, "no se pudo guardar la conexión de Facebook");
                "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos."
                    .to_string()
            })?;
        self.notified.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
        let name = if page.name.is_empty() {
            page.page_id.clone()
        } else {
            page.name.clone()
        };
        tracing::info!(agent_id = agent, page_id = %page.page_id, "página de Facebook conectada");
        if announce {
            self.send_to_agent(
                agent,
                format!("✅ Página conectada: {name}\nEstoy trayendo tus métricas; en unos minutos podrás verlas con /mis_metricas."),
            )
            .await;
        }
        if let Some(engine) = &self.engine
            && let Err(refusal) = engine.request_agent(agent, "onboarding").await
        {
            tracing::info!(agent_id = agent, reason = %refusal, "sincronización tras conectar no iniciada");
        }
        Ok(name)
    }

    // ── several Pages ──

    /// `/conectar N`: connects the N-th Page of the agent's pending list. Ok = the reply
    /// ("✅ Página conectada: …"); Err = a Spanish reason for the reply.
    pub async fn choose_page(&self, agent: AgentId, n: usize) -> Result<String, String> {
        let candidates = self.store.page_candidates(agent, Utc::now()).await.map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "no se pudieron leer las páginas candidatas");
            "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos.".to_string()
        })?;
        if candidates.is_empty() {
            return Err(
                "No tengo páginas pendientes de elegir (la lista dura 30 minutos). Escribe /conectar para recibir un enlace nuevo."
                    .to_string(),
            );
        }
        let Some(chosen) = candidates.iter().find(|c| c.position == n as i64) else {
            let list = candidates
                .iter()
                .map(|c| format!("{}. {}", c.position, display_name(c)))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(format!(
                "Elige un número entre 1 y {}:\n{list}\nPor ejemplo: /conectar 1",
                candidates.len()
            ));
        };
        let token = self.cipher.decrypt(agent, &chosen.token_encrypted).map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "token de página candidata ilegible");
            "No se pudo leer la página elegida. Escribe /conectar para empezar de nuevo.".to_string()
        })?;
        let page = PageAccess {
            page_id: chosen.page_id.clone(),
            name: chosen.page_name.clone(),
            token,
        };
        let name = self.connect(agent, &page, chosen.scopes.clone(), false).await?;
        Ok(format!(
            "✅ Página conectada: {name}\nEstoy trayendo tus métricas; en unos minutos podrás verlas con /mis_metricas."
        ))
    }

    /// The agent's pending Pages (number, name), for the chat layer to show again.
    pub async fn pending_pages(&self, agent: AgentId) -> anyhow::Result<Vec<(usize, String)>> {
        Ok(self
            .store
            .page_candidates(agent, Utc::now())
            .await?
            .iter()
            .map(|c| (c.position as usize, display_name(c)))
            .collect())
    }

    // ── the admin alternative ──

    /// `pulso agents connect NAME --page-id ID --token TOKEN`: checks the token and stores it.
    /// With an app secret, `debug_token` must call it valid with the needed permissions; in every
    /// case the token must read the Page (`/{page-id}?fields=id,name,access_token`; a user token
    /// that manages the Page is swapped for the Page token). Ok = the Page name; Err = why nothing
    /// was stored.
    pub async fn connect_manually(
        &self,
        agent: AgentId,
        page_id: &str,
        token: &SecretString,
    ) -> Result<String, String> {
        let page_id = page_id.trim();
        if page_id.is_empty() || !page_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("el id de página debe ser numérico, es «{page_id}»"));
        }
        if token.expose_secret().trim().is_empty() {
            return Err("el token está vacío".to_string());
        }
        match self.store.agent(agent).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("no existe el agente {agent}")),
            Err(e) => return Err(format!("la base de datos no respondió: {e}")),
        }
        let scopes = match self.debug(token).await {
            Ok(Some(info)) if !info.is_valid => {
                return Err(format!(
                    "Facebook dice que el token no es válido{}",
                    info.error.map(|e| format!(": {e}")).unwrap_or_default()
                ));
            }
            Ok(Some(info)) => {
                let missing: Vec<&str> = self
                    .settings
                    .permissions
                    .iter()
                    .filter(|p| *p != "pages_show_list" && !info.scopes.iter().any(|s| s == *p))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(format!("al token le faltan permisos: {}", missing.join(", ")));
                }
                info.scopes
            }
            Ok(None) => Vec::new(),
            Err(e) => return Err(format!("no se pudo validar el token: {}", login_reason(&e))),
        };
        let page = match self.graph.page_access(page_id, token).await {
            Ok(page) => page,
            Err(FetchError::Permission { .. } | FetchError::NotFound { .. }) => {
                return Err(format!(
                    "el token no puede leer la página {page_id} (no existe, o el token no es de esa página ni de quien la administra)"
                ));
            }
            Err(e) => return Err(format!("no se pudo validar el token: {}", login_reason(&e))),
        };
        if page.page_id != page_id {
            return Err(format!(
                "Facebook devolvió otra página ({}) para el id {page_id}",
                page.page_id
            ));
        }
        self.connect(agent, &page, scopes, false).await
    }

    // ── staying connected ──

    /// Spawns the task that turns sync notices into private messages: one per disconnection
    /// (repeats are dropped until the agent reconnects) and the day-50 reminder, each with a fresh
    /// `/conectar` link.
    pub fn notify_disconnections(
        self: &Arc<Self>,
        mut events: broadcast::Receiver<SyncEvent>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    // The alerts module's `token_vence` rule already reminds the agent; one is enough.
                    Ok(SyncEvent::Notice {
                        notice: AgentNotice::TokenExpiring { .. },
                        ..
                    }) => {}
                    Ok(event) => {
                        me.handle_sync_event(&event).await;
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(skipped = n, "avisos de sincronización perdidos (canal saturado)");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
    }

    /// Handles one sync event; true when a message went to the agent.
    pub async fn handle_sync_event(&self, event: &SyncEvent) -> bool {
        let SyncEvent::Notice { agent_id, name, notice } = event else {
            return false;
        };
        let agent = *agent_id;
        let first_name = name.split_whitespace().next().unwrap_or(name);
        let link = match self.login_url(agent).await {
            Ok(link) => format!(
                "{link}\n(El enlace vale {LINK_TTL_MINUTES} minutos; después escribe /conectar para pedir otro.)"
            ),
            Err(_) => "Escribe /conectar para recibir el enlace.".to_string(),
        };
        match notice {
            AgentNotice::Disconnected { reason } => {
                {
                    let mut notified = self.notified.lock().unwrap_or_else(|p| p.into_inner());
                    if notified.contains_key(&agent) {
                        return false;
                    }
                    notified.insert(agent, reason.clone());
                }
                let text = format!(
                    "⚠️ {first_name}, pulso ya no puede leer tu página de Facebook: {reason}.\nPara volver a conectarla abre este enlace:\n{link}"
                );
                let sent = self.send_to_agent(agent, text).await;
                if !sent && self.outbox.get().is_some() {
                    // Delivery failed: let a later notice try again.
                    self.notified.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
                }
                sent
            }
            AgentNotice::TokenExpiring { expires_at, days_left } => {
                let when = if *days_left <= 0 {
                    "hoy".to_string()
                } else if *days_left == 1 {
                    "en 1 día".to_string()
                } else {
                    format!("en {days_left} días")
                };
                let text = format!(
                    "⏳ {first_name}, el permiso de Facebook para leer tu página vence {when} ({}). Para que pulso siga trayendo tus métricas, vuelve a conectarla:\n{link}",
                    expires_at.format("%d/%m/%Y")
                );
                self.send_to_agent(agent, text).await
            }
        }
    }
}

#[async_trait]
impl ConnectLinks for Onboarding {
    async fn link_for(&self, agent: AgentId) -> anyhow::Result<String> {
        self.login_url(agent).await
    }

    async fn choose_page(&self, agent: AgentId, n: usize) -> anyhow::Result<Result<String, String>> {
        Ok(Onboarding::choose_page(self, agent, n).await)
    }
}

/// The HTTP routes the lead mounts on pulso's server: `GET /oauth/facebook/callback`.
pub fn routes(state: Arc<Onboarding>) -> axum::Router {
    axum::Router::new()
        .route(CALLBACK_PATH, axum::routing::get(callback))
        .with_state(state)
}

async fn callback(State(onboarding): State<Arc<Onboarding>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let (status, body) = onboarding.handle_callback(&query).await;
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The URL carried a login code and a state: keep it out of caches and referrers.
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn display_name(c: &PageCandidate) -> String {
    if c.page_name.is_empty() {
        c.page_id.clone()
    } else {
        c.page_name.clone()
    }
}

fn unavailable(agent: Option<AgentId>) -> Failure {
    Failure::new(
        agent,
        "store_unavailable",
        "Servicio no disponible",
        "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos.",
    )
}

/// A Spanish reason for a Graph failure during login (no token, no raw Graph message).
fn login_reason(e: &FetchError) -> String {
    match e {
        FetchError::TokenInvalid { .. } => "Facebook rechazó el permiso (expiró o fue revocado)".to_string(),
        FetchError::Permission { .. } => "Facebook no dio permiso para leer la página".to_string(),
        FetchError::NotFound { .. } => "la página no existe o tu cuenta no puede verla".to_string(),
        // Code 0: raised by pulso itself before calling (no app secret, bad graph_url).
        FetchError::Configuration { code: 0, .. } => {
            "pulso no tiene bien configurada la app de Facebook (PULSO__FACEBOOK__APP_SECRET); avisa al administrador"
                .to_string()
        }
        FetchError::Configuration { .. } => {
            "Facebook rechazó la solicitud (revisar app_id, app_secret y la URL de retorno de la app)".to_string()
        }
        other => other.user_reason(),
    }
}

fn graph_failure(agent: Option<AgentId>, kind: &'static str, e: &FetchError) -> Failure {
    tracing::warn!(agent_id = agent, stage = kind, error = %e, "Facebook rechazó un paso de la conexión");
    let message = match (kind, e) {
        ("code_exchange", FetchError::Configuration { code, .. }) if *code != 0 => {
            "Facebook no aceptó el código de autorización (venció o ya se usó).".to_string()
        }
        _ => format!("{}.", capitalize(&login_reason(e))),
    };
    Failure::new(agent, kind, "No se pudo conectar", message)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

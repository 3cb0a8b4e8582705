//! Onboarding: agents connect their Facebook Page from chat through Facebook Login, and stay
//! connected.
//!
//! - [`Onboarding::link_for`] (the [`ConnectLinks`] port) makes the `/conectar` link: the Facebook
//!   Login dialog with a signed, single-use, 15-minute `state` bound to the agent.
//! - [`routes`] serves `GET /oauth/facebook/callback`: checks the state (a used or expired one is
//!   answered in the browser only), exchanges the code for a long-lived user token, checks the
//!   granted permissions and finds the Pages the login can read (the agent's configured Page, or
//!   all it manages, minus Pages another agent has). Their tokens wait encrypted, and the agent is
//!   asked in their own chat — Facebook account and Page shown, with a button — to confirm.
//! - [`Onboarding::confirm_page`] (`/conectar confirmar`, `/conectar N`, or the button) stores the
//!   chosen Page token, marks the agent active and syncs them once. A link forwarded to someone
//!   else therefore connects nothing the agent did not see and accept.
//! - [`Onboarding::connect_manually`] is the admin alternative (`pulso agents connect`).
//! - [`Onboarding::notify_disconnections`] turns the sync engine's disconnection notices into one
//!   private message per disconnection, with a fresh link as a button. (An expiring token is the
//!   `token_vence` alert's job, which carries the same button through [`ConnectLinks`].)
//!
//! Nothing here logs or shows a token, a login code or a state.

mod callback;
mod html;
mod notices;
mod pages;
mod state;
mod texts;

pub use callback::routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use axum::http::{StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use tokio::sync::broadcast;

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{Agent, AgentId};
use crate::facebook::{FetchError, GraphClient, PageAccess, TokenInfo};
use crate::ports::{Button, ConnectLinks, OutMessage, Outbox};
use crate::store::{AgentConnection, PageCandidate, Store};
use crate::sync::{AgentNotice, SyncEngine, SyncEvent};

pub use html::escape as escape_html;
pub use state::{StateError, StateSigner, VerifiedState};

/// Path of the Facebook Login callback on pulso's HTTP server.
pub const CALLBACK_PATH: &str = "/oauth/facebook/callback";
/// Permissions pulso asks for: the Page ones it needs, then the Instagram ones
/// ([`OPTIONAL_PERMISSIONS`]) an agent may decline and still connect their Page.
pub const DEFAULT_PERMISSIONS: [&str; 5] = [
    "pages_show_list",
    "pages_read_engagement",
    "read_insights",
    "instagram_basic",
    "instagram_manage_insights",
];
/// Asked for, never required: without them the Page connects and only Instagram is missing (the
/// sync reports the permission problem on the Instagram side and keeps Facebook).
pub const OPTIONAL_PERMISSIONS: [&str; 2] = ["instagram_basic", "instagram_manage_insights"];

/// Whether a connection can go ahead without `permission`.
pub fn is_optional_permission(permission: &str) -> bool {
    OPTIONAL_PERMISSIONS.contains(&permission)
}
/// How long a `/conectar` link works.
pub const LINK_TTL_MINUTES: i64 = 15;
/// How long the Pages a login found wait for the agent's confirmation.
pub const CHOICE_TTL_MINUTES: i64 = 30;
/// Label of the button that opens a fresh Facebook Login link.
pub const RETRY_BUTTON: &str = "Conectar con Facebook";

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

    /// A private message to the agent; true when it reached at least one of their chats.
    async fn send_to_agent(&self, agent: AgentId, message: OutMessage) -> bool {
        let Some(outbox) = self.outbox.get() else {
            return false;
        };
        match outbox.to_agent(agent, &message).await {
            Ok(reached) => reached > 0,
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
}

#[async_trait]
impl ConnectLinks for Onboarding {
    async fn link_for(&self, agent: AgentId) -> anyhow::Result<String> {
        self.login_url(agent).await
    }

    async fn confirm_page(&self, agent: AgentId, choice: Option<usize>) -> anyhow::Result<Result<String, String>> {
        Ok(Onboarding::confirm_page(self, agent, choice).await)
    }
}

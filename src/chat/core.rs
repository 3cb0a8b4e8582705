//! The platform-neutral core: caller + message → [`Reply`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::commands::{Command, ParseOutcome};
use super::parse::parse;
pub use super::permissions::Visibility;
use super::permissions::{Access, Identity, LINK_HINT, Scope, access, visibility};
use super::progress::ProgressJob;
use crate::domain::AgentId;
use crate::ports::{AlertDesk, Attachment, Button, ConnectLinks};
use crate::queries::Queries;
use crate::store::{Store, StoreError};
use crate::sync::{Clock, SyncEngine};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Telegram,
    Discord,
    Console,
}

impl Platform {
    /// The `chat_identities.platform` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Console => "console",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatKind {
    /// A one-to-one chat with the bot (Telegram private chat, Discord DM, the console).
    Private,
    /// A group, supergroup, channel or guild channel: other people read the answers.
    Group,
}

/// Who wrote the message, as the adapter saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub platform: Platform,
    /// Platform user id (Telegram user id, Discord snowflake), as text.
    pub user_id: String,
    /// Admin by the platform's configuration (Telegram admin ids, Discord admin roles, console).
    pub is_admin: bool,
    pub chat: ChatKind,
    /// Console `--as AGENT`: act as this agent without a stored link (trusted local user only).
    pub assume_agent: Option<AgentId>,
}

impl Caller {
    /// "telegram:12345", recorded as who asked for a sync or used a link code.
    pub fn tag(&self) -> String {
        format!("{}:{}", self.platform.as_str(), self.user_id)
    }
}

/// The answer to one message. `text` is plain Spanish with bold markers (see [`super::text`]).
#[derive(Debug)]
pub struct Reply {
    pub text: String,
    pub attachment: Option<Attachment>,
    /// Shown under the text: links to open (rendered by each adapter, never escaped as text) and
    /// commands to press.
    pub buttons: Vec<Button>,
    pub visibility: Visibility,
    /// Set by `/actualizar` and `/actualizar_agente`: follow it with [`super::progress::follow`] to
    /// edit the sent message as the sync advances.
    pub progress: Option<ProgressJob>,
}

impl Reply {
    pub fn text(text: impl Into<String>, visibility: Visibility) -> Self {
        Self {
            text: text.into(),
            attachment: None,
            buttons: Vec::new(),
            visibility,
            progress: None,
        }
    }

    pub fn with_button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }
}

/// The URLs of the link buttons, in order: what a platform writes in the message body besides the
/// button (each adapter outside its markup escaping, so the URL arrives exactly as made).
pub fn link_urls(buttons: &[Button]) -> Vec<&str> {
    buttons
        .iter()
        .filter_map(|b| match b {
            Button::Link { url, .. } => Some(url.as_str()),
            Button::Command { .. } => None,
        })
        .collect()
}

/// `text` with each link button's URL on a line of its own (for bodies whose escaping keeps a URL
/// intact: Telegram HTML, the console).
pub fn with_link_lines(text: &str, buttons: &[Button]) -> String {
    let mut out = text.to_string();
    for url in link_urls(buttons) {
        out.push('\n');
        out.push_str(url);
    }
    out
}

/// The cheap first half of handling a message: parsed, caller resolved, permission decided. Lets an
/// adapter learn the reply's visibility before the work (Discord must choose ephemeral when it
/// defers). Run it with [`ChatCore::execute`].
#[derive(Debug)]
pub struct Plan {
    pub visibility: Visibility,
    step: Step,
}

#[derive(Debug)]
enum Step {
    Silent,
    Answer(String),
    Run(Box<Run>),
}

#[derive(Debug)]
struct Run {
    caller: Caller,
    cmd: Command,
    identity: Identity,
    scope: Scope,
}

impl Plan {
    /// True when the message gets no answer at all (plain text in a group, another bot's command).
    pub fn is_silent(&self) -> bool {
        matches!(self.step, Step::Silent)
    }

    /// True when the answer is a refusal or an error written without running the command
    /// (Discord shows those only to the caller).
    pub fn is_refusal(&self) -> bool {
        matches!(self.step, Step::Answer(_))
    }
}

/// Why a command could not produce its normal answer; [`Fail::text`] is what the user reads.
#[derive(Debug)]
pub(crate) enum Fail {
    Store(StoreError),
    /// Already a safe Spanish sentence.
    User(String),
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

pub const UNAVAILABLE: &str =
    "⚠️ Datos temporalmente no disponibles: la base de datos no responde. Inténtalo en unos minutos.";
const QUERY_FAILED: &str = "⚠️ No pude completar la consulta. Inténtalo de nuevo en un momento.";
const PRIVATE_HINT: &str = "No entendí tu mensaje. Los comandos empiezan con /, por ejemplo /mis_metricas semana. Escribe /ayuda para ver todos.";

impl Fail {
    pub(crate) fn text(&self) -> String {
        match self {
            Fail::Store(e) if e.is_unavailable() => {
                tracing::error!(error = %e, "base de datos no disponible");
                UNAVAILABLE.to_string()
            }
            Fail::Store(e) => {
                tracing::error!(error = %e, "consulta fallida");
                QUERY_FAILED.to_string()
            }
            Fail::User(s) => s.clone(),
        }
    }
}

pub(crate) struct Inner {
    pub store: Arc<dyn Store>,
    pub queries: Arc<Queries>,
    pub engine: SyncEngine,
    pub tz: Tz,
    pub alerts: Option<Arc<dyn AlertDesk>>,
    pub connect: Option<Arc<dyn ConnectLinks>>,
    pub clock: Arc<dyn Clock>,
}

/// The chat core, cheap to clone and shared by every adapter.
#[derive(Clone)]
pub struct ChatCore {
    pub(crate) inner: Arc<Inner>,
}

impl ChatCore {
    /// `store` and `queries` are the daemon's; `engine` runs syncs (its clock is also the core's
    /// notion of "now"); `tz` is `office.time_zone`; `alerts` answers `/alertas` and `/silenciar`
    /// (None: "not configured"); `connect` makes `/conectar` links (None: "not available yet").
    pub fn new(
        store: Arc<dyn Store>,
        queries: Arc<Queries>,
        engine: SyncEngine,
        tz: Tz,
        alerts: Option<Arc<dyn AlertDesk>>,
        connect: Option<Arc<dyn ConnectLinks>>,
    ) -> Self {
        let clock = engine.inner.clock.clone();
        Self {
            inner: Arc::new(Inner {
                store,
                queries,
                engine,
                tz,
                alerts,
                connect,
                clock,
            }),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    pub fn tz(&self) -> Tz {
        self.inner.tz
    }

    pub fn engine(&self) -> &SyncEngine {
        &self.inner.engine
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Handles one message: None means stay silent.
    pub async fn handle(&self, caller: &Caller, text: &str, bot_name: Option<&str>) -> Option<Reply> {
        let plan = self.plan(caller, text, bot_name).await;
        self.execute(plan).await
    }

    /// Parses, resolves the caller and checks permissions (a few cheap reads).
    pub async fn plan(&self, caller: &Caller, text: &str, bot_name: Option<&str>) -> Plan {
        let cmd = match parse(text, bot_name) {
            ParseOutcome::NotCommand => {
                return match caller.chat {
                    ChatKind::Group => silent(),
                    ChatKind::Private => answer(PRIVATE_HINT.to_string(), Visibility::Public),
                };
            }
            ParseOutcome::OtherBot => return silent(),
            ParseOutcome::Invalid(why) => return answer(why, Visibility::Public),
            ParseOutcome::Command(cmd) => cmd,
        };
        let identity = match self.resolve(caller).await {
            Ok(identity) => identity,
            // Help needs no data: answer it even when the database is down.
            Err(_) if matches!(cmd, Command::Ayuda | Command::Start { payload: None }) => {
                if caller.is_admin {
                    Identity::Admin { agent: None }
                } else {
                    Identity::Unlinked
                }
            }
            Err(e) => return answer(e.text(), Visibility::Public),
        };
        let decision = access(&cmd, &identity);
        let visibility = visibility(&cmd, &decision);
        match decision {
            Access::Allowed(scope) => Plan {
                visibility,
                step: Step::Run(Box::new(Run {
                    caller: caller.clone(),
                    cmd,
                    identity,
                    scope,
                })),
            },
            Access::NeedsLink => answer(LINK_HINT.to_string(), visibility),
            Access::Denied(why) => answer(why, visibility),
        }
    }

    /// Does the work of a [`Plan`].
    pub async fn execute(&self, plan: Plan) -> Option<Reply> {
        let visibility = plan.visibility;
        match plan.step {
            Step::Silent => None,
            Step::Answer(text) => Some(Reply::text(text, visibility)),
            Step::Run(run) => {
                let Run {
                    caller,
                    cmd,
                    identity,
                    scope,
                } = *run;
                let name = cmd.name();
                let result = self.run(&caller, cmd, &identity, &scope).await;
                // Counted in pulso_commands_total and logged with its identifiers, never its arguments.
                crate::telemetry::command_handled(
                    name,
                    match &result {
                        Ok(_) => "ok",
                        Err(Fail::User(_)) => "refused",
                        Err(Fail::Store(_)) => "error",
                    },
                    caller.platform.as_str(),
                    &caller.user_id,
                    identity.agent().map(|a| a.id),
                );
                let mut reply = match result {
                    Ok(reply) => reply,
                    Err(fail) => {
                        tracing::debug!(command = name, "comando sin respuesta normal");
                        Reply::text(fail.text(), visibility)
                    }
                };
                reply.visibility = visibility;
                Some(reply)
            }
        }
    }

    async fn resolve(&self, caller: &Caller) -> Result<Identity, Fail> {
        let store = &self.inner.store;
        let agent = match caller.assume_agent {
            Some(id) => store.agent(id).await?,
            None => store.linked_agent(caller.platform.as_str(), &caller.user_id).await?,
        };
        Ok(match (caller.is_admin, agent) {
            (true, agent) => Identity::Admin { agent },
            (false, Some(agent)) => Identity::Agent(agent),
            (false, None) => Identity::Unlinked,
        })
    }

    async fn run(&self, caller: &Caller, cmd: Command, identity: &Identity, scope: &Scope) -> Result<Reply, Fail> {
        use Command as C;
        let v = Visibility::Public;
        match cmd {
            C::MisMetricas { period, chart } => self.card(scope, None, period, chart).await,
            C::Metricas { agent, period, chart } => self.card(scope, Some(&agent), period, chart).await,
            C::Ranking { period, network } => self.ranking(scope, period, network).await,
            C::Resumen { period } => self.resumen(period).await,
            C::Exportar { period } => self.exportar(scope, period).await,
            C::Estado => self.estado().await,
            C::Agentes => self.agentes().await,
            C::Actualizar { confirmed } => self.actualizar(caller, confirmed).await,
            C::ActualizarAgente { agent } => self.actualizar_agente(caller, identity, scope, agent.as_deref()).await,
            C::Vincular { code } => self.vincular(caller, &code).await,
            C::Start { payload: Some(code) } => self.vincular(caller, &code).await,
            C::Start { payload: None } => Ok(Reply::text(self.welcome(identity), v)),
            C::Conectar { step } => self.conectar(scope, step).await,
            C::Alertas => self.alertas().await,
            C::Silenciar { alert, duration } => self.silenciar(caller, &alert, duration).await,
            C::Ayuda => Ok(Reply::text(super::replies::help_text(identity), v)),
        }
    }
}

fn silent() -> Plan {
    Plan {
        visibility: Visibility::Public,
        step: Step::Silent,
    }
}

fn answer(text: String, visibility: Visibility) -> Plan {
    Plan {
        visibility,
        step: Step::Answer(text),
    }
}

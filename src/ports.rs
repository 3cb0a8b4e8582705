//! The seams between pulso's parts that are built separately: chat adapters deliver messages for
//! alerts and the sync engine, alerts answer `/alertas` and `/silenciar`, onboarding makes the
//! `/conectar` link. Each side depends only on these traits.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::AgentId;

/// Where a chat adapter reports whether it is connected, and why not (Spanish, no secrets): the
/// `/salud` registry in production.
pub type StatusHook = std::sync::Arc<dyn Fn(bool, Option<String>) + Send + Sync>;

/// A file sent with a message (PNG chart or CSV export), built in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub file_name: String,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
}

/// Something a person presses under a message. Each adapter renders it its own way: Telegram as an
/// inline keyboard button, Discord as a button component, the console as a line of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// A URL to open (Facebook Login). Also written out as the raw URL, unescaped, wherever the
    /// platform needs text (the console; the message body on Telegram and Discord).
    Link { label: String, url: String },
    /// A command run as if the presser had typed it (`/conectar confirmar`): a Telegram callback
    /// button, a Discord button interaction; the console shows the command to type. Whoever
    /// presses it goes through the same identity and permission checks as a typed command.
    Command { label: String, command: String },
}

impl Button {
    pub fn link(label: impl Into<String>, url: impl Into<String>) -> Self {
        Button::Link {
            label: label.into(),
            url: url.into(),
        }
    }

    pub fn command(label: impl Into<String>, command: impl Into<String>) -> Self {
        Button::Command {
            label: label.into(),
            command: command.into(),
        }
    }
}

/// A message pulso sends on its own initiative (not as a reply). `text` is plain Spanish text; each
/// adapter escapes or formats it for its platform.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutMessage {
    pub text: String,
    pub attachment: Option<Attachment>,
    /// Shown under the text, in order.
    pub buttons: Vec<Button>,
}

impl OutMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            attachment: None,
            buttons: Vec::new(),
        }
    }

    pub fn with_button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }
}

/// Delivery to the team channel and to one agent privately; implemented by the chat adapters
/// (every configured platform receives team messages; an agent gets private messages on every
/// platform where they linked an identity).
#[async_trait]
pub trait Outbox: Send + Sync {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()>;
    /// Returns how many chats the message reached (0 when the agent linked no chat identity).
    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize>;
    /// Sends to one chat of `platform` ("telegram", "discord", "console") by its id; Ok(false) when
    /// this outbox does not serve that platform (a sync's report for whoever asked).
    async fn to_chat(&self, _platform: &str, _chat_id: &str, _message: &OutMessage) -> anyhow::Result<bool> {
        Ok(false)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertSummary {
    /// Short name usable with `/silenciar`, e.g. "sync_fallos".
    pub name: String,
    pub severity: String,
    pub summary: String,
    pub since: DateTime<Utc>,
    pub silenced_until: Option<DateTime<Utc>>,
}

/// What `/alertas` and `/silenciar` need; implemented by the alerts module.
#[async_trait]
pub trait AlertDesk: Send + Sync {
    async fn active(&self) -> anyhow::Result<Vec<AlertSummary>>;
    /// Silences an alert by name for `duration`; Ok(confirmation) or Err(Spanish reason for chat).
    async fn silence(&self, name: &str, duration: Duration, by: &str) -> anyhow::Result<Result<String, String>>;
}

/// The Facebook Login link for `/conectar`; implemented by onboarding.
#[async_trait]
pub trait ConnectLinks: Send + Sync {
    async fn link_for(&self, agent: AgentId) -> anyhow::Result<String>;

    /// `/conectar confirmar` (`choice` None: the one Page the login found) or `/conectar N` (the
    /// N-th of several), in the agent's own chat after the Facebook login: Ok(confirmation) or
    /// Err(Spanish reason), both ready for chat.
    async fn confirm_page(&self, _agent: AgentId, _choice: Option<usize>) -> anyhow::Result<Result<String, String>> {
        Ok(Err(
            "No hay páginas pendientes de confirmar. Escribe /conectar para recibir el enlace.".into(),
        ))
    }
}

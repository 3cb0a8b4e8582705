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

/// A message pulso sends on its own initiative (not as a reply). `text` is plain Spanish text; each
/// adapter escapes or formats it for its platform.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutMessage {
    pub text: String,
    pub attachment: Option<Attachment>,
}

impl OutMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            attachment: None,
        }
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

    /// `/conectar N` after a login that found several Pages: Ok(confirmation) or Err(Spanish reason),
    /// both ready for chat.
    async fn choose_page(&self, _agent: AgentId, _n: usize) -> anyhow::Result<Result<String, String>> {
        Ok(Err(
            "No hay páginas pendientes de elegir. Escribe /conectar para recibir el enlace.".into(),
        ))
    }
}

//! Delivery across adapters: a fan-out [`Outbox`]. (Agents hear about a broken Facebook connection
//! from `Onboarding::notify_disconnections`, and about an expiring one from the `token_vence` alert.)

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::AgentId;
use crate::ports::{OutMessage, Outbox};

/// Sends to every adapter: team messages reach every configured team chat; private messages reach
/// the agent on every platform where they linked an identity. Fails only when every adapter failed.
pub struct FanOutOutbox {
    outboxes: Vec<Arc<dyn Outbox>>,
}

impl FanOutOutbox {
    pub fn new(outboxes: Vec<Arc<dyn Outbox>>) -> Self {
        Self { outboxes }
    }
}

#[async_trait]
impl Outbox for FanOutOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        let mut last_error = None;
        let mut delivered = false;
        for o in &self.outboxes {
            match o.to_team(message).await {
                Ok(()) => delivered = true,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "un canal de equipo no recibió el mensaje");
                    last_error = Some(e);
                }
            }
        }
        match (delivered, last_error) {
            (false, Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    async fn to_chat(&self, platform: &str, chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        for o in &self.outboxes {
            if o.to_chat(platform, chat_id, message).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        let mut reached = 0;
        let mut last_error = None;
        for o in &self.outboxes {
            match o.to_agent(agent, message).await {
                Ok(n) => reached += n,
                Err(e) => {
                    tracing::warn!(agent, error = format!("{e:#}"), "un chat privado no recibió el mensaje");
                    last_error = Some(e);
                }
            }
        }
        match (reached, last_error) {
            (0, Some(e)) => Err(e),
            _ => Ok(reached),
        }
    }
}

//! Team-chat delivery for tests that are not about the chat: an in-memory recorder. Tests about
//! what reaches Telegram use the real adapter against `tests/chat_support/fake_telegram.rs`.
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::bail;
use async_trait::async_trait;
use pulso::domain::AgentId;
use pulso::ports::{OutMessage, Outbox};

#[derive(Default)]
pub struct RecordingOutbox {
    pub team: Mutex<Vec<String>>,
    pub agents: Mutex<Vec<(AgentId, String)>>,
    /// While set, every delivery fails (a chat outage).
    pub down: AtomicBool,
}

impl RecordingOutbox {
    pub fn team(&self) -> Vec<String> {
        self.team.lock().unwrap().clone()
    }

    pub fn agents(&self) -> Vec<(AgentId, String)> {
        self.agents.lock().unwrap().clone()
    }
}

#[async_trait]
impl Outbox for RecordingOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        if self.down.load(Ordering::SeqCst) {
            bail!("chat caído");
        }
        self.team.lock().unwrap().push(message.text.clone());
        Ok(())
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        if self.down.load(Ordering::SeqCst) {
            bail!("chat caído");
        }
        self.agents.lock().unwrap().push((agent, message.text.clone()));
        Ok(1)
    }
}

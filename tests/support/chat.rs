//! Team-chat delivery for tests: an in-memory recorder, and a minimal Outbox that posts to a fake
//! Telegram Bot API server (axum on 127.0.0.1) with plain reqwest `sendMessage` calls.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use pulso::domain::AgentId;
use pulso::ports::{OutMessage, Outbox};
use serde_json::{Value, json};

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

/// (bot token, chat id, text) of every message the fake server accepted.
type Sent = Arc<Mutex<Vec<(String, i64, String)>>>;

/// A fake Telegram Bot API: records every `sendMessage` (chat id, text) per bot token.
#[derive(Clone)]
pub struct FakeTelegram {
    pub base: String,
    sent: Sent,
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let sent: Sent = Arc::default();
        let app = Router::new()
            .route("/{bot}/sendMessage", post(send_message))
            .with_state(sent.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeTelegram { base, sent }
    }

    /// Texts sent to `chat_id`.
    pub fn texts(&self, chat_id: i64) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c, _)| *c == chat_id)
            .map(|(_, _, t)| t.clone())
            .collect()
    }
}

async fn send_message(State(sent): State<Sent>, Path(bot): Path<String>, Json(body): Json<Value>) -> Json<Value> {
    let Some(token) = bot.strip_prefix("bot") else {
        return Json(json!({"ok": false, "error_code": 404, "description": "Not Found"}));
    };
    let chat_id = body["chat_id"].as_i64().unwrap_or_default();
    let text = body["text"].as_str().unwrap_or_default().to_string();
    let mut sent = sent.lock().unwrap();
    sent.push((token.to_string(), chat_id, text.clone()));
    Json(json!({
        "ok": true,
        "result": {"message_id": sent.len(), "date": 1_790_000_000, "chat": {"id": chat_id, "type": "group"}, "text": text}
    }))
}

/// The smallest Outbox over the Bot API, standing in for the real Telegram adapter.
pub struct TelegramOutbox {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
    pub team_chat_id: i64,
}

impl TelegramOutbox {
    async fn send(&self, chat_id: i64, text: &str) -> anyhow::Result<()> {
        let url = format!("{}/bot{}/sendMessage", self.base, self.token);
        let reply: Value = self
            .client
            .post(url)
            .json(&json!({"chat_id": chat_id, "text": text}))
            .send()
            .await
            .context("Telegram no respondió")?
            .json()
            .await?;
        if reply["ok"] != json!(true) {
            bail!("Telegram rechazó el mensaje: {}", reply["description"]);
        }
        Ok(())
    }
}

#[async_trait]
impl Outbox for TelegramOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        self.send(self.team_chat_id, &message.text).await
    }

    /// Test mapping: an agent's private chat id is their agent id.
    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        self.send(agent, &message.text).await.map(|_| 1)
    }
}

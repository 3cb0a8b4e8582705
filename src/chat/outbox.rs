//! Delivery across adapters: a fan-out [`Outbox`] and the task that tells agents privately when
//! their Facebook connection broke or is about to expire.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use super::text::{bold, plain};
use crate::domain::AgentId;
use crate::ports::{OutMessage, Outbox};
use crate::sync::{AgentNotice, SyncEngine, SyncEvent};

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

/// The private message for a notice.
pub fn notice_text(notice: &AgentNotice, tz: Tz) -> String {
    match notice {
        AgentNotice::Disconnected { reason } => format!(
            "{}\nNo pude leer tu página de Facebook: {}.\nPara volver a conectarla, usa /conectar.",
            bold("⚠️ Tu página de Facebook se desconectó"),
            plain(reason).trim_end_matches('.')
        ),
        AgentNotice::TokenExpiring { expires_at, days_left } => format!(
            "{}\nTu conexión con Facebook vence el {} (en {} {}). Usa /conectar para renovarla y no perder datos.",
            bold("⏰ Renueva tu conexión con Facebook"),
            expires_at.with_timezone(&tz).format("%d/%m/%Y"),
            days_left.max(&0),
            if *days_left == 1 { "día" } else { "días" }
        ),
    }
}

/// A notice is repeated to the same agent only after this long.
const NOTICE_QUIET: Duration = Duration::hours(24);

fn notice_key(agent: AgentId, notice: &AgentNotice) -> String {
    match notice {
        AgentNotice::Disconnected { reason } => format!("{agent}:desconectado:{reason}"),
        AgentNotice::TokenExpiring { expires_at, .. } => format!("{agent}:vence:{}", expires_at.timestamp()),
    }
}

/// Turns the engine's [`SyncEvent::Notice`]s into private messages, once each (the same notice for
/// the same agent is not repeated within 24 hours). Runs until the engine is dropped.
pub fn spawn_notice_forwarder(engine: &SyncEngine, outbox: Arc<dyn Outbox>, tz: Tz) -> JoinHandle<()> {
    let mut events = engine.subscribe();
    let clock = engine.inner.clock.clone();
    tokio::spawn(async move {
        let mut sent: HashMap<String, DateTime<Utc>> = HashMap::new();
        loop {
            let (agent_id, notice) = match events.recv().await {
                // Token expiry reminders are the alerts module's `token_vence` rule; sending them here
                // too would tell the agent twice.
                Ok(SyncEvent::Notice {
                    notice: AgentNotice::TokenExpiring { .. },
                    ..
                }) => continue,
                Ok(SyncEvent::Notice { agent_id, notice, .. }) => (agent_id, notice),
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "avisos a agentes perdidos por retraso");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let now = clock.now();
            let key = notice_key(agent_id, &notice);
            if sent.get(&key).is_some_and(|at| now - *at < NOTICE_QUIET) {
                continue;
            }
            sent.insert(key, now);
            let message = OutMessage::text(notice_text(&notice, tz));
            match outbox.to_agent(agent_id, &message).await {
                Ok(0) => tracing::warn!(agent_id, "el agente no tiene chat vinculado: no recibió el aviso"),
                Ok(_) => tracing::info!(agent_id, "aviso enviado al agente"),
                Err(e) => tracing::error!(agent_id, error = format!("{e:#}"), "no se pudo avisar al agente"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use secrecy::SecretString;

    use super::*;
    use crate::config::Config;
    use crate::crypto::{TokenCipher, generate_key_b64};
    use crate::sync::{AgentData, BudgetGate, FetchRequest, ManualClock, PageSource, SourceError, SyncSettings};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(AgentId, String)>>);

    #[async_trait]
    impl Outbox for Recorder {
        async fn to_team(&self, _: &OutMessage) -> anyhow::Result<()> {
            Ok(())
        }
        async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
            self.0.lock().unwrap().push((agent, message.text.clone()));
            Ok(1)
        }
    }

    struct NoSource;

    #[async_trait]
    impl PageSource for NoSource {
        async fn fetch(&self, _: &FetchRequest, _: &BudgetGate) -> Result<AgentData, SourceError> {
            Err(SourceError::Configuration {
                reason: "sin fuente".into(),
            })
        }
    }

    #[tokio::test]
    async fn each_notice_reaches_the_agent_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = crate::store::connect(&url, 2).await.unwrap();
        let config = Config::load_from(None, &[]).unwrap();
        let cipher = Arc::new(TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap());
        let clock = Arc::new(ManualClock::starting_at(Utc::now()));
        let tz = chrono_tz::America::Mexico_City;
        let engine = SyncEngine::new(
            store,
            Arc::new(NoSource),
            cipher,
            clock,
            SyncSettings::from_config(&config),
            tz,
        );
        let recorder = Arc::new(Recorder::default());
        let task = spawn_notice_forwarder(&engine, recorder.clone(), tz);
        let disconnected = |reason: &str| SyncEvent::Notice {
            agent_id: 7,
            name: "Ana".into(),
            notice: AgentNotice::Disconnected { reason: reason.into() },
        };
        for event in [
            disconnected("Facebook rechazó el token"),
            disconnected("Facebook rechazó el token"),
            disconnected("la página ya no existe"),
        ] {
            engine.inner.events.send(event).unwrap();
        }
        for _ in 0..100 {
            if recorder.0.lock().unwrap().len() >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let sent = recorder.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert!(sent[0].1.contains("Facebook rechazó el token"));
        assert!(sent[0].1.contains("/conectar"));
        task.abort();
    }
}

//! Staying connected: a disconnection notice from a sync becomes one private message, with a fresh
//! Facebook Login link as a button. (An expiring token is the `token_vence` alert's, with the same
//! button: one reminder path.)

use super::*;

impl Onboarding {
    /// Spawns the task that turns the sync engine's disconnection notices into private messages:
    /// one per disconnection (repeats are dropped until the agent reconnects).
    pub fn notify_disconnections(
        self: &Arc<Self>,
        mut events: broadcast::Receiver<SyncEvent>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
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

    /// Handles one sync event; true when a message went to the agent. Only disconnections are
    /// this task's: token expiry reminders are the alerts' `token_vence` rule.
    pub async fn handle_sync_event(&self, event: &SyncEvent) -> bool {
        let SyncEvent::Notice {
            agent_id,
            name,
            notice: AgentNotice::Disconnected { reason },
        } = event
        else {
            return false;
        };
        let agent = *agent_id;
        {
            let mut notified = self.notified.lock().unwrap_or_else(|p| p.into_inner());
            if notified.contains_key(&agent) {
                return false;
            }
            notified.insert(agent, reason.clone());
        }
        let name = crate::chat::text::plain(name);
        let first_name = name.split_whitespace().next().unwrap_or(&name);
        let mut message = OutMessage::text(format!(
            "⚠️ {first_name}, pulso ya no puede leer tu página de Facebook: {reason}.\nPara volver a conectarla pulsa el botón (el enlace vale {LINK_TTL_MINUTES} minutos; después escribe /conectar para pedir otro)."
        ));
        match self.login_url(agent).await {
            Ok(link) => message.buttons.push(Button::link(RETRY_BUTTON, link)),
            Err(_) => {
                message.text = format!(
                    "⚠️ {first_name}, pulso ya no puede leer tu página de Facebook: {reason}.\nEscribe /conectar para volver a conectarla."
                )
            }
        }
        let sent = self.send_to_agent(agent, message).await;
        if !sent && self.outbox.get().is_some() {
            // Delivery failed: let a later notice try again.
            self.notified.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
        }
        sent
    }
}

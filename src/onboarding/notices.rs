//! Staying connected: sync notices become one private message per disconnection, with a fresh link.

use super::*;

impl Onboarding {
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

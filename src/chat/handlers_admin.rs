//! Operational commands: syncs, status, agents, linking, connecting, alerts.

use std::time::Duration;

use super::commands::ConnectStep;
use super::core::{Caller, ChatCore, Fail, Reply, Visibility};
use super::handlers::{capitalize, team_last_sync};
use super::permissions::{Identity, Scope};
use super::progress::ProgressJob;
use super::replies;
use super::text::{bold, plain};
use crate::domain::freshness::footer;
use crate::domain::{find_by_name, hace};
use crate::ports::Button;
use crate::sync::{JobStarted, SyncRefusal};

const ALERTS_OFF: &str = "Las alertas no están configuradas en esta instalación.";
/// The label of the Facebook Login button.
const CONNECT_BUTTON: &str = "Conectar con Facebook";
const CONNECT_OFF: &str = "Conectar tu página desde el chat todavía no está disponible. Pide a tu admin que conecte tu página de Facebook por ti.";

impl ChatCore {
    fn progress_reply(
        &self,
        caller: &Caller,
        started: JobStarted,
        events: tokio::sync::broadcast::Receiver<crate::sync::SyncEvent>,
        name: Option<&str>,
    ) -> Reply {
        let text = match (started.queued_behind, name) {
            (Some(_), _) => replies::QUEUED_TEXT.to_string(),
            (None, Some(name)) => format!("🔄 Sincronizando a {}… [{}] 0%", plain(name), replies::bar(0, 1)),
            (None, None) => replies::starting_text(started.total),
        };
        self.follow_reply(caller, started.job_id, text, events)
    }

    /// A reply that follows job `job_id` and records the chat as waiting for its report.
    fn follow_reply(
        &self,
        caller: &Caller,
        job_id: crate::domain::JobId,
        text: String,
        events: tokio::sync::broadcast::Receiver<crate::sync::SyncEvent>,
    ) -> Reply {
        let engine = &self.inner.engine;
        Reply {
            progress: Some(
                ProgressJob::new(job_id, text.clone(), events, self.inner.store.clone(), self.inner.tz)
                    .subscribed(caller.tag(), engine.owner().to_string()),
            ),
            text,
            attachment: None,
            buttons: Vec::new(),
            visibility: Visibility::Public,
        }
    }

    /// `/actualizar [confirmar]`.
    pub(crate) async fn actualizar(&self, caller: &Caller, confirmed: bool) -> Result<Reply, Fail> {
        // Subscribe before the job exists, so not a single progress event is missed.
        let events = self.inner.engine.subscribe();
        match self.inner.engine.request_bulk(&caller.tag(), confirmed).await {
            Ok(started) => Ok(self.progress_reply(caller, started, events, None)),
            // Joins the running sync: this chat follows it and gets its report.
            Err(refusal @ SyncRefusal::AlreadyRunning) => match self.inner.engine.running_bulk().await {
                Some(job_id) => Ok(self.follow_reply(caller, job_id, refusal.to_string(), events)),
                None => Err(Fail::User(refusal.to_string())),
            },
            Err(refusal) => Err(Fail::User(refusal.to_string())),
        }
    }

    /// `/actualizar_agente [agente]`.
    pub(crate) async fn actualizar_agente(
        &self,
        caller: &Caller,
        identity: &Identity,
        scope: &Scope,
        name: Option<&str>,
    ) -> Result<Reply, Fail> {
        let agent = match (scope, name) {
            (Scope::Own(agent), _) => agent.clone(),
            (_, Some(name)) => {
                let agents = self.inner.store.agents().await?;
                match find_by_name(&agents, name) {
                    Ok(a) => a.clone(),
                    Err(e) => {
                        return Err(Fail::User(format!(
                            "{}. Uso: /actualizar_agente <agente>",
                            capitalize(&plain(&e.to_string()))
                        )));
                    }
                }
            }
            (_, None) => match identity.agent() {
                Some(own) => own.clone(),
                None => return Err(Fail::User("Indica el agente. Uso: /actualizar_agente <agente>".into())),
            },
        };
        let events = self.inner.engine.subscribe();
        match self.inner.engine.request_agent(agent.id, &caller.tag()).await {
            Ok(started) => Ok(self.progress_reply(caller, started, events, Some(&agent.name))),
            Err(refusal @ SyncRefusal::AgentBusy { .. }) => match self.inner.engine.active_agent_job(agent.id).await {
                Some(job_id) => Ok(self.follow_reply(caller, job_id, refusal.to_string(), events)),
                None => Err(Fail::User(refusal.to_string())),
            },
            Err(refusal) => Err(Fail::User(refusal.to_string())),
        }
    }

    /// `/estado`: sync job, API budget, freshness per agent.
    pub(crate) async fn estado(&self) -> Result<Reply, Fail> {
        let now = self.now();
        let store = &self.inner.store;
        let agents = store.agents().await?;
        let mut out = vec![format!("🩺 {}", bold("Estado de pulso"))];
        let active = store.active_jobs().await?;
        if active.is_empty() {
            match store.recent_jobs(1).await?.into_iter().next() {
                Some(job) => out.push(format!(
                    "Última sincronización: {} {} · {} de {} agentes sincronizados, {} fallidos",
                    job.status.label(),
                    hace(job.completed_at.unwrap_or(job.created_at), now),
                    job.synced_agents,
                    job.total_agents,
                    job.failed_agents
                )),
                None => out.push("Todavía no hay sincronizaciones. Usa /actualizar.".into()),
            }
        }
        for job in &active {
            let mut line = format!(
                "Sincronización {}: {}/{} agentes (empezó {})",
                job.status.label(),
                job.done_agents(),
                job.total_agents,
                hace(job.started_at.unwrap_or(job.created_at), now)
            );
            if let Some(until) = job.paused_until {
                line.push_str(&format!(
                    " · en pausa hasta las {}",
                    until.with_timezone(&self.inner.tz).format("%H:%M")
                ));
            }
            out.push(line);
        }
        out.push(replies::budget_line(&self.inner.engine.budget().usage().await?));
        out.push(String::new());
        out.push(bold(&format!("Frescura de datos ({} agentes)", agents.len())));
        if agents.is_empty() {
            out.push("No hay agentes. Impórtalos con: pulso agents import agentes.csv".into());
        }
        for a in &agents {
            out.push(replies::freshness_line(&a.name, a.last_synced_at, now));
        }
        if !agents.is_empty() {
            out.extend(super::instagram::estado_lines(&agents, now, self.inner.tz));
        }
        out.push(footer(team_last_sync(&agents), now));
        Ok(Reply::text(out.join("\n"), Visibility::Public))
    }

    /// `/agentes`: every agent with their Facebook connection status.
    pub(crate) async fn agentes(&self) -> Result<Reply, Fail> {
        let now = self.now();
        let agents = self.inner.store.agents().await?;
        let mut out = vec![format!("👥 {}", bold(&format!("Agentes ({})", agents.len())))];
        if agents.is_empty() {
            out.push("No hay agentes. Impórtalos con: pulso agents import agentes.csv".into());
        }
        for a in &agents {
            let page = if a.facebook_page_id.is_some() {
                ""
            } else {
                " · sin página"
            };
            let reason = a
                .status_reason
                .as_deref()
                .map(|r| format!(" ({})", plain(r)))
                .unwrap_or_default();
            let instagram = super::instagram::agent_suffix(a, now, self.inner.tz);
            out.push(format!(
                "{} · {}{page}{reason}{instagram}",
                a.status.label(),
                plain(&a.name)
            ));
        }
        Ok(Reply::text(out.join("\n"), Visibility::Public))
    }

    /// `/vincular <código>` (and Telegram's `/start <código>` deep link).
    pub(crate) async fn vincular(&self, caller: &Caller, code: &str) -> Result<Reply, Fail> {
        let now = self.now();
        let store = &self.inner.store;
        let Some(agent_id) = store.consume_link_code(code, &caller.tag(), now).await? else {
            return Err(Fail::User(
                "❌ Ese código no es válido, ya se usó o venció. Pide uno nuevo a tu admin.".into(),
            ));
        };
        store
            .link_identity(caller.platform.as_str(), &caller.user_id, agent_id, now)
            .await?;
        let name = store.agent(agent_id).await?.map(|a| plain(&a.name)).unwrap_or_default();
        tracing::info!(
            agent_id,
            platform = caller.platform.as_str(),
            "identidad de chat vinculada"
        );
        Ok(Reply::text(
            format!(
                "✅ Listo: quedaste vinculado como {}. Prueba /mis_metricas semana.",
                bold(&name)
            ),
            Visibility::Private,
        ))
    }

    pub(crate) fn welcome(&self, identity: &Identity) -> String {
        format!(
            "👋 Hola, soy pulso: las métricas de Facebook de la oficina.\n\n{}",
            replies::help_text(identity)
        )
    }

    /// `/conectar`: the Facebook Login link for the caller's own agent, as a button (plus the raw
    /// URL, written by each adapter); `/conectar confirmar` and `/conectar N` store the Page the
    /// login found, only from the agent's own chat identity.
    pub(crate) async fn conectar(&self, scope: &Scope, step: ConnectStep) -> Result<Reply, Fail> {
        let Scope::Own(agent) = scope else {
            return Err(Fail::User(CONNECT_OFF.into()));
        };
        let Some(links) = &self.inner.connect else {
            return Ok(Reply::text(CONNECT_OFF, Visibility::Private));
        };
        let choice = match step {
            ConnectStep::Link => None,
            ConnectStep::Confirm => Some(None),
            ConnectStep::Choose(n) => Some(Some(n)),
        };
        if let Some(choice) = choice {
            return match links.confirm_page(agent.id, choice).await {
                Ok(Ok(done)) | Ok(Err(done)) => Ok(Reply::text(plain_lines(&done), Visibility::Private)),
                Err(e) => {
                    tracing::error!(agent_id = agent.id, error = %e, "no se pudo confirmar la página");
                    Err(Fail::User(
                        "No pude conectar esa página ahora. Inténtalo en unos minutos.".into(),
                    ))
                }
            };
        }
        match links.link_for(agent.id).await {
            Ok(url) => Ok(Reply::text(
                "🔗 Pulsa el botón para conectar tu página de Facebook (el enlace sirve una vez y por pocos minutos). Después confirma aquí la página.",
                Visibility::Private,
            )
            .with_button(Button::link(CONNECT_BUTTON, url))),
            Err(e) => {
                tracing::error!(agent_id = agent.id, error = %e, "no se pudo crear el enlace de conexión");
                Err(Fail::User(
                    "No pude generar el enlace ahora. Inténtalo en unos minutos.".into(),
                ))
            }
        }
    }

    /// `/alertas`.
    pub(crate) async fn alertas(&self) -> Result<Reply, Fail> {
        let Some(desk) = &self.inner.alerts else {
            return Ok(Reply::text(ALERTS_OFF, Visibility::Public));
        };
        let alerts = desk.active().await.map_err(|e| {
            tracing::error!(error = %e, "no se pudieron leer las alertas");
            Fail::User("No pude leer las alertas ahora. Inténtalo en unos minutos.".into())
        })?;
        if alerts.is_empty() {
            return Ok(Reply::text("✅ No hay alertas activas.", Visibility::Public));
        }
        let now = self.now();
        let mut out = vec![format!("🚨 {}", bold(&format!("Alertas activas ({})", alerts.len())))];
        for a in &alerts {
            let mut line = format!(
                "• [{}] {} — {} (desde {})",
                plain(&a.severity),
                plain(&a.name),
                plain(&a.summary),
                hace(a.since, now)
            );
            if let Some(until) = a.silenced_until.filter(|u| *u > now) {
                line.push_str(&format!(
                    " · silenciada hasta las {}",
                    until.with_timezone(&self.inner.tz).format("%d/%m %H:%M")
                ));
            }
            out.push(line);
        }
        out.push("Para silenciar una: /silenciar <alerta> <duración>, por ejemplo /silenciar sync_fallos 2h".into());
        Ok(Reply::text(out.join("\n"), Visibility::Public))
    }

    /// `/silenciar <alerta> <duración>`.
    pub(crate) async fn silenciar(&self, caller: &Caller, alert: &str, duration: Duration) -> Result<Reply, Fail> {
        let Some(desk) = &self.inner.alerts else {
            return Ok(Reply::text(ALERTS_OFF, Visibility::Public));
        };
        match desk.silence(alert, duration, &caller.tag()).await {
            Ok(Ok(confirmation)) => Ok(Reply::text(plain(&confirmation), Visibility::Public)),
            Ok(Err(reason)) => Err(Fail::User(plain(&reason))),
            Err(e) => {
                tracing::error!(error = %e, "no se pudo silenciar la alerta");
                Err(Fail::User(
                    "No pude silenciar la alerta ahora. Inténtalo en unos minutos.".into(),
                ))
            }
        }
    }
}

/// Outside text kept on its lines: each line made [`plain`], the line breaks kept.
fn plain_lines(s: &str) -> String {
    s.lines().map(plain).collect::<Vec<_>>().join("\n")
}

//! Alerts: rules evaluated after every sync job and on every budget check, kept in the database with
//! Alertmanager's semantics (fingerprints, group wait, repeat, inhibition, silences, resolved
//! messages), delivered to the team chat through [`Outbox`] and by e-mail to the admins.
//!
//! Delivery is "send first, then mark sent": a notification is recorded only after the chat or SMTP
//! server accepted it, so a crash in between can repeat one message but never lose one, and a
//! restart (a new `Alerts` on the same database) does not re-send what was already sent.

pub mod email;
pub mod messages;
mod outage;
pub mod policy;
pub mod rules;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::domain::{ConnectionStatus, JobKind};
use crate::ports::{AlertDesk, AlertSummary, Button, ConnectLinks, OutMessage, Outbox};
use crate::store::{AlertChannel, AlertRecord, NewAlert, Store, hour_window};
use crate::sync::{Clock, JobReport, SyncEvent, countdown};

pub use email::{MailError, MailSettings, Mailer, TlsPolicy};
pub use policy::Timing;
pub use rules::{Rule, Severity, Thresholds};

use policy::{ChatStep, inhibited, next_step, silenced_until};
use rules::{AgentFacts, BudgetFacts, Evaluation, Facts, FailedAgent, JobFacts};

#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub timing: Timing,
    pub thresholds: Thresholds,
    /// The hourly Graph API budget (calls), to express usage in percent.
    pub hourly_budget: i64,
    pub office: String,
    pub tz: Tz,
    /// How often [`Alerts::run`] re-evaluates and delivers due notifications (real time).
    pub tick: Duration,
    /// After an e-mail failed every attempt, wait this long before trying that alert's e-mail again.
    pub email_retry_after: Duration,
    /// How long a database ping may take before the database counts as unreachable.
    pub db_timeout: Duration,
}

impl AlertSettings {
    pub fn from_config(c: &Config) -> Self {
        let a = &c.alerts;
        let secs = |v: i64| Duration::from_secs(v.max(0) as u64);
        Self {
            timing: Timing {
                group_wait: secs(a.group_wait_secs),
                resolve_wait: secs(a.resolve_wait_secs),
                repeat_critical: secs(a.repeat_critical_mins * 60),
                repeat_urgent: secs(a.repeat_urgent_mins * 60),
                repeat_warning: secs(a.repeat_warning_mins * 60),
                email_interval: secs(a.email_interval_mins * 60),
            },
            thresholds: Thresholds::default(),
            hourly_budget: c.facebook.hourly_budget(),
            office: c.office.name.clone(),
            tz: c.office.tz(),
            tick: secs(a.tick_secs),
            email_retry_after: secs(a.email_retry_mins * 60),
            db_timeout: secs(a.db_timeout_secs),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum EmailState {
    InFlight,
    FailedUntil(DateTime<Utc>),
}

struct Inner {
    store: Arc<dyn Store>,
    outbox: Arc<dyn Outbox>,
    mailer: Option<Mailer>,
    clock: Arc<dyn Clock>,
    settings: AlertSettings,
    /// One evaluation or delivery at a time in this process.
    busy: tokio::sync::Mutex<()>,
    emails: Mutex<HashMap<i64, EmailState>>,
    email_tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Makes the `/conectar` link the `token_vence` reminder carries as a button.
    links: OnceLock<Arc<dyn ConnectLinks>>,
    /// The database outage being announced (it cannot be kept in the database).
    outage: tokio::sync::Mutex<Option<outage::Outage>>,
}

/// The alerting service. Cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

impl Alerts {
    pub fn new(
        store: Arc<dyn Store>,
        outbox: Arc<dyn Outbox>,
        mailer: Option<Mailer>,
        clock: Arc<dyn Clock>,
        settings: AlertSettings,
    ) -> Self {
        crate::telemetry::install();
        Self {
            inner: Arc::new(Inner {
                store,
                outbox,
                mailer,
                clock,
                settings,
                busy: tokio::sync::Mutex::new(()),
                emails: Mutex::new(HashMap::new()),
                email_tasks: Mutex::new(Vec::new()),
                links: OnceLock::new(),
                outage: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// Wires onboarding's Facebook Login links, so that the `token_vence` reminder carries a
    /// button to renew the connection; false when already wired.
    pub fn set_connect_links(&self, links: Arc<dyn ConnectLinks>) -> bool {
        self.inner.links.set(links).is_ok()
    }

    /// An agent's private alert message; the token reminder gets a fresh Facebook Login button.
    async fn agent_out_message(&self, rule: Rule, a: &AlertRecord, agent: i64) -> OutMessage {
        let message = OutMessage::text(messages::agent_message(a));
        let Some(links) = self.inner.links.get().filter(|_| rule == Rule::TokenExpiring) else {
            return message;
        };
        match links.link_for(agent).await {
            Ok(url) => message.with_button(Button::link("Renovar conexión con Facebook", url)),
            Err(e) => {
                tracing::warn!(
                    agent_id = agent,
                    error = format!("{e:#}"),
                    "no se pudo crear el enlace de /conectar"
                );
                message
            }
        }
    }

    /// Reacts to the sync engine until it closes: counts metrics, evaluates after every finished
    /// job and every pause for the budget, and every `tick` re-evaluates the budget and agent rules
    /// and delivers what became due (group wait, repeats, resolutions, expired silences). Each tick
    /// first pings the database: while it is down, only the outage alert is sent.
    pub async fn run(self, mut events: broadcast::Receiver<SyncEvent>) {
        let mut tick = tokio::time::interval(self.inner.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => self.observe(&event).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "las alertas perdieron eventos de sincronización");
                        self.evaluate_now().await
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => match self.watch_database().await {
                    true => self.evaluate_now().await,
                    false => Ok(()),
                },
            };
            if let Err(e) = result {
                tracing::error!(error = format!("{e:#}"), "no se pudieron evaluar las alertas");
            }
        }
    }

    /// One sync event: metrics, then the rules it informs, then delivery.
    pub async fn observe(&self, event: &SyncEvent) -> anyhow::Result<()> {
        crate::telemetry::observe_sync_event(event);
        match event {
            SyncEvent::Finished(report) => {
                let job = self.job_facts(report).await?;
                self.evaluate(Some(job)).await?;
                self.deliver().await
            }
            SyncEvent::Paused { .. } => {
                self.evaluate(None).await?;
                self.deliver().await
            }
            _ => Ok(()),
        }
    }

    /// Evaluates the budget and agent rules now and delivers whatever is due.
    pub async fn evaluate_now(&self) -> anyhow::Result<()> {
        self.evaluate(None).await?;
        self.deliver().await
    }

    async fn job_facts(&self, report: &JobReport) -> anyhow::Result<JobFacts> {
        let agents = self.inner.store.agents().await?;
        let reconnect: HashSet<i64> = agents
            .iter()
            .filter(|a| {
                matches!(
                    a.status,
                    ConnectionStatus::Disconnected | ConnectionStatus::NeedsReconnection
                )
            })
            .map(|a| a.id)
            .collect();
        Ok(JobFacts {
            job_id: report.job_id,
            kind: report.kind,
            total: report.synced.len() + report.failed.len() + report.skipped.len(),
            synced: report.synced.len(),
            failed: report
                .failed
                .iter()
                .map(|f| FailedAgent {
                    agent_id: f.agent_id,
                    name: f.name.clone(),
                    reason: f.reason.clone().unwrap_or_else(|| "error desconocido".into()),
                    needs_reconnect: reconnect.contains(&f.agent_id),
                })
                .collect(),
            active_duration: report.duration.saturating_sub(report.paused_for),
        })
    }

    async fn facts(&self, job: Option<JobFacts>) -> anyhow::Result<Facts> {
        let store = &self.inner.store;
        let now = self.inner.clock.now();
        let window = hour_window(now);
        let usage = store.budget_usage(window).await?;
        let max_calls = usage.map_or(self.inner.settings.hourly_budget, |u| u.max_calls);
        let (calls, peak) = usage.map_or((0, 0), |u| (u.calls_made, u.peak_usage_pct));
        let own_pct = if max_calls > 0 {
            calls as f64 * 100.0 / max_calls as f64
        } else {
            0.0
        };
        // The last 24 hour windows, the current one included: a rolling day.
        let hits = store
            .rate_limit_hits_since(window - chrono::Duration::hours(23))
            .await?;
        let agents = store
            .agents()
            .await?
            .into_iter()
            .map(|a| AgentFacts {
                connected: a.is_syncable(),
                agent_id: a.id,
                name: a.name,
                last_synced_at: a.last_synced_at,
                token_expires_at: a.token_expires_at,
            })
            .collect();
        Ok(Facts {
            now,
            job,
            budget: Some(BudgetFacts {
                usage_pct: own_pct.max(peak as f64),
                calls_made: calls,
                max_calls,
                rate_limit_hits_24h: hits,
            }),
            agents: Some(agents),
            refused_metrics: Some(store.refused_metrics().await?),
        })
    }

    async fn evaluate(&self, job: Option<JobFacts>) -> anyhow::Result<()> {
        let _busy = self.inner.busy.lock().await;
        if let Some(j) = &job
            && j.kind != JobKind::Bulk
        {
            tracing::debug!(
                job_id = j.job_id,
                "las reglas de sincronización se evalúan solo en las masivas"
            );
        }
        let job_id = job.as_ref().map(|j| j.job_id);
        let facts = self.facts(job).await?;
        let eval = rules::evaluate(&facts, &self.inner.settings.thresholds);
        self.apply(&eval, facts.now, job_id).await
    }

    async fn apply(&self, eval: &Evaluation, now: DateTime<Utc>, job_id: Option<i64>) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let open = store.open_alerts().await?;
        let mut firing = HashSet::new();
        for c in &eval.firing {
            let fingerprint = c.fingerprint();
            let new = NewAlert {
                fingerprint: fingerprint.clone(),
                rule: c.rule.name().to_string(),
                family: c.rule.family().to_string(),
                labels: serde_json::to_string(&c.labels)?,
                severity: c.rule.severity(),
                summary: c.summary.clone(),
                details: c.details.clone(),
            };
            let (record, created) = store.fire_alert(&new, now).await?;
            if created {
                tracing::info!(alert = %record.rule, alert_id = record.id, fingerprint = %fingerprint, job_id,
                    severity = record.severity.as_str(), "alerta activada");
            }
            firing.insert(fingerprint);
        }
        for a in open {
            let evaluated = Rule::parse(&a.rule).is_some_and(|r| eval.evaluated.contains(&r));
            if evaluated && a.cleared_at.is_none() && !firing.contains(&a.fingerprint) {
                store.clear_alert(a.id, now).await?;
                tracing::info!(alert = %a.rule, alert_id = a.id, job_id, "la condición de la alerta ya no se cumple");
            }
        }
        Ok(())
    }

    /// Sends what is due now: first notifications after the group wait, repeats, e-mails and
    /// resolved messages. Safe to call at any time; nothing is sent twice.
    pub async fn deliver(&self) -> anyhow::Result<()> {
        let _busy = self.inner.busy.lock().await;
        let inner = &self.inner;
        let now = inner.clock.now();
        let open = inner.store.open_alerts().await?;
        let silences = inner.store.active_silences(now).await?;
        let mut firing_by_severity: HashMap<&'static str, i64> = HashMap::new();
        for a in &open {
            let muted = inhibited(a, &open) || silenced_until(a, &silences).is_some();
            let step = next_step(a, muted, inner.mailer.is_some(), now, &inner.settings.timing);
            if let Some(resolve) = step.resolve {
                if resolve.announce {
                    if !inner
                        .store
                        .claim_alert_send(a.id, AlertChannel::Resolved, 0, now)
                        .await?
                    {
                        // Another replica is announcing it.
                        continue;
                    }
                    let text = messages::chat_resolved(a, now);
                    if let Err(e) = inner.outbox.to_team(&OutMessage::text(text)).await {
                        tracing::warn!(alert = %a.rule, alert_id = a.id, error = format!("{e:#}"),
                            "no se pudo avisar en el chat que la alerta se resolvió; se reintentará");
                        inner
                            .store
                            .release_alert_send(a.id, AlertChannel::Resolved, 0, None)
                            .await?;
                        continue;
                    }
                    crate::telemetry::record_alert_notification("chat", "resolved");
                }
                inner.store.resolve_alert(a.id, resolve.announce, now).await?;
                tracing::info!(alert = %a.rule, alert_id = a.id, announced = resolve.announce, "alerta resuelta");
                continue;
            }
            if a.cleared_at.is_none() {
                *firing_by_severity.entry(a.severity.as_str()).or_default() += 1;
            }
            if let Some(chat) = step.chat {
                self.send_chat(a, chat, now).await?;
            }
            if step.email {
                self.spawn_email(a, now).await?;
            }
        }
        crate::telemetry::set_alerts_firing(&firing_by_severity, &Severity::ALL.map(Severity::as_str));
        Ok(())
    }

    async fn send_chat(&self, a: &AlertRecord, step: ChatStep, now: DateTime<Utc>) -> anyhow::Result<()> {
        let inner = &self.inner;
        let Some(rule) = Rule::parse(&a.rule) else {
            return Ok(());
        };
        let route = rule.route();
        if !inner
            .store
            .claim_alert_send(a.id, AlertChannel::Chat, a.chat_count, now)
            .await?
        {
            tracing::debug!(alert = %a.rule, alert_id = a.id, "otra réplica envía esta alerta");
            return Ok(());
        }
        let sent = if route.agent {
            let labels: HashMap<String, String> = serde_json::from_str(&a.labels).unwrap_or_default();
            let Some(agent) = labels.get("agent_id").and_then(|v| v.parse::<i64>().ok()) else {
                tracing::warn!(alert = %a.rule, alert_id = a.id, "alerta para un agente sin agent_id");
                return Ok(());
            };
            let message = self.agent_out_message(rule, a, agent).await;
            match inner.outbox.to_agent(agent, &message).await {
                Ok(0) => {
                    tracing::info!(alert = %a.rule, alert_id = a.id, agent_id = agent,
                        "el agente no vinculó ningún chat; el aviso queda en /alertas");
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            let text = messages::chat_firing(a, step == ChatStep::Repeat, now);
            inner.outbox.to_team(&OutMessage::text(text)).await
        };
        match sent {
            Ok(()) => {
                crate::telemetry::record_alert_notification("chat", a.severity.as_str());
                tracing::info!(alert = %a.rule, alert_id = a.id, repeat = step == ChatStep::Repeat,
                    severity = a.severity.as_str(), "alerta enviada al chat");
            }
            Err(e) => {
                tracing::warn!(alert = %a.rule, alert_id = a.id, error = format!("{e:#}"),
                    "no se pudo enviar la alerta al chat; se reintentará");
                inner
                    .store
                    .release_alert_send(a.id, AlertChannel::Chat, a.chat_count, a.last_chat_at)
                    .await?;
            }
        }
        Ok(())
    }

    /// E-mail goes out in the background (retries take seconds). The alert is claimed first, so one
    /// replica sends it, and the claim is given back if the SMTP server never accepted it.
    async fn spawn_email(&self, a: &AlertRecord, now: DateTime<Utc>) -> anyhow::Result<()> {
        let inner = &self.inner;
        let Some(mailer) = inner.mailer.clone() else {
            return Ok(());
        };
        {
            let emails = inner.emails.lock().expect("emails lock");
            match emails.get(&a.id) {
                Some(EmailState::InFlight) => return Ok(()),
                Some(EmailState::FailedUntil(until)) if *until > now => return Ok(()),
                _ => {}
            }
        }
        if !inner
            .store
            .claim_alert_send(a.id, AlertChannel::Email, a.email_count, now)
            .await?
        {
            return Ok(());
        }
        inner
            .emails
            .lock()
            .expect("emails lock")
            .insert(a.id, EmailState::InFlight);
        let content = messages::email(a, &inner.settings.office, inner.settings.tz, now);
        let this = self.inner.clone();
        let (id, rule, severity) = (a.id, a.rule.clone(), a.severity);
        let (claimed_count, previous) = (a.email_count, a.last_email_at);
        let task = tokio::spawn(async move {
            let result = mailer.send(&content).await;
            let done_at = this.clock.now();
            let next = match result {
                Ok(()) => {
                    crate::telemetry::record_alert_notification("email", severity.as_str());
                    None
                }
                Err(e) => {
                    crate::telemetry::record_email_failure();
                    tracing::error!(alert = %rule, alert_id = id, error = %e, "el correo de alerta falló tras reintentar");
                    if let Err(e) = this
                        .store
                        .release_alert_send(id, AlertChannel::Email, claimed_count, previous)
                        .await
                    {
                        tracing::error!(alert = %rule, alert_id = id, error = %e, "no se pudo devolver el correo a la cola");
                    }
                    let retry = chrono::Duration::from_std(this.settings.email_retry_after).unwrap_or_default();
                    Some(EmailState::FailedUntil(done_at + retry))
                }
            };
            let mut emails = this.emails.lock().expect("emails lock");
            match next {
                Some(state) => emails.insert(id, state),
                None => emails.remove(&id),
            };
        });
        let mut tasks = inner.email_tasks.lock().expect("email tasks lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
        Ok(())
    }

    /// Waits for the e-mails being sent in the background (tests, orderly shutdown).
    pub async fn flush_emails(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.email_tasks.lock().expect("email tasks lock"));
        for t in tasks {
            let _ = t.await;
        }
    }

    fn visible(open: &[AlertRecord]) -> impl Iterator<Item = &AlertRecord> {
        open.iter().filter(|a| a.cleared_at.is_none() && !inhibited(a, open))
    }
}

#[async_trait]
impl AlertDesk for Alerts {
    /// Firing alerts not inhibited by a more severe one of their family, most severe first;
    /// 1–4 failed agents appear here as `sync_fallos` without any notification.
    async fn active(&self) -> anyhow::Result<Vec<AlertSummary>> {
        let now = self.inner.clock.now();
        let open = self.inner.store.open_alerts().await?;
        let silences = self.inner.store.active_silences(now).await?;
        let mut shown: Vec<&AlertRecord> = Self::visible(&open).collect();
        shown.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.starts_at.cmp(&b.starts_at)));
        Ok(shown
            .into_iter()
            .map(|a| AlertSummary {
                name: a.rule.clone(),
                severity: a.severity.label().to_string(),
                summary: a.summary.clone(),
                since: a.starts_at,
                silenced_until: silenced_until(a, &silences),
            })
            .collect())
    }

    async fn silence(&self, name: &str, duration: Duration, by: &str) -> anyhow::Result<Result<String, String>> {
        let name = name.trim().trim_start_matches('/').to_lowercase();
        let known = rules::silenceable_names();
        if !known.contains(&name.as_str()) {
            return Ok(Err(format!(
                "No conozco la alerta «{name}». Puedes silenciar: {}. Ejemplo: /silenciar sync_fallos 2h",
                known.join(", ")
            )));
        }
        let max = Duration::from_secs(30 * 24 * 3600);
        if duration < Duration::from_secs(60) || duration > max {
            return Ok(Err(
                "La duración debe estar entre 1 minuto y 30 días. Ejemplo: /silenciar sync_fallos 2h".to_string(),
            ));
        }
        let now = self.inner.clock.now();
        let ends_at = now + chrono::Duration::from_std(duration)?;
        self.inner.store.create_silence(&name, by, now, ends_at).await?;
        tracing::info!(alert = %name, %ends_at, "alerta silenciada");
        let local = ends_at.with_timezone(&self.inner.settings.tz).format("%d/%m %H:%M");
        Ok(Ok(format!(
            "🔕 «{name}» silenciada durante {} (hasta el {local}). Seguirá visible en /alertas.",
            countdown(duration)
        )))
    }
}

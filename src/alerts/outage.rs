//! "Database connection issues" (seed §8.2): a critical alert about the database cannot be kept in
//! that database. The alert loop pings the store every tick; while it fails, the incident lives in
//! memory and goes out by chat and e-mail without touching the store. When the database answers
//! again the incident is recorded there (already resolved, with its notifications) and "✅ Resuelto"
//! is sent. Replicas cannot coordinate while the database is down, so each one announces it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::messages;
use super::rules::Severity;
use crate::ports::OutMessage;
use crate::store::{AlertChannel, AlertRecord, AlertState, NewAlert};

/// The incident's name in `/alertas` history and its fingerprint.
pub const RULE: &str = "base_datos_caida";
const SUMMARY: &str = "no hay conexión con la base de datos";

/// One outage, from the first failed ping until it is recorded and announced as resolved.
#[derive(Debug, Clone)]
pub(super) struct Outage {
    since: DateTime<Utc>,
    error: String,
    chat_at: Option<DateTime<Utc>>,
    email_at: Option<DateTime<Utc>>,
    recovered_at: Option<DateTime<Utc>>,
    recorded: bool,
}

impl Outage {
    fn record(&self, now: DateTime<Utc>) -> AlertRecord {
        AlertRecord {
            id: 0,
            fingerprint: RULE.into(),
            rule: RULE.into(),
            family: RULE.into(),
            labels: "{}".into(),
            severity: Severity::Critical,
            summary: SUMMARY.into(),
            details: format!(
                "pulso no puede leer ni guardar datos: {}\nLas sincronizaciones y los comandos fallarán hasta \
                 que vuelva. Revisa el servidor de la base de datos y la red.",
                self.error
            ),
            state: AlertState::Firing,
            starts_at: self.since,
            cleared_at: self.recovered_at,
            ends_at: None,
            notified_at: self.chat_at.or(self.email_at),
            last_chat_at: self.chat_at,
            chat_count: i64::from(self.chat_at.is_some()),
            last_email_at: self.email_at,
            email_count: i64::from(self.email_at.is_some()),
            resolved_sent_at: None,
            updated_at: now,
        }
    }
}

impl super::Alerts {
    /// Pings the database and, while it is unreachable, announces the outage by chat and e-mail
    /// (after the group wait, like any alert); when it answers again, records the incident and says
    /// "✅ Resuelto". Returns true when the database answered. [`Alerts::run`](super::Alerts::run)
    /// calls it every tick.
    pub async fn watch_database(&self) -> bool {
        let inner = &self.inner;
        let ping = tokio::time::timeout(inner.settings.db_timeout, inner.store.ping()).await;
        let now = inner.clock.now();
        let error = match ping {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no respondió en {} s", inner.settings.db_timeout.as_secs())),
        };
        let mut outage = inner.outage.lock().await;
        match error {
            Some(error) => {
                let o = outage.get_or_insert_with(|| {
                    tracing::error!(error = %error, "la base de datos no responde");
                    Outage {
                        since: now,
                        error: error.clone(),
                        chat_at: None,
                        email_at: None,
                        recovered_at: None,
                        recorded: false,
                    }
                });
                o.error = error;
                o.recovered_at = None;
                self.announce_outage(o, now).await;
                false
            }
            None => {
                if let Some(o) = outage.as_mut() {
                    o.recovered_at.get_or_insert(now);
                    if self.close_outage(o, now).await {
                        *outage = None;
                    }
                }
                true
            }
        }
    }

    async fn announce_outage(&self, o: &mut Outage, now: DateTime<Utc>) {
        let inner = &self.inner;
        let timing = &inner.settings.timing;
        if elapsed(o.since, now) < timing.group_wait {
            return;
        }
        let repeat = timing.repeat_critical;
        if o.chat_at.is_none_or(|last| elapsed(last, now) >= repeat) {
            let text = messages::database_down(&o.record(now), o.chat_at.is_some(), now);
            match inner.outbox.to_team(&OutMessage::text(text)).await {
                Ok(()) => {
                    crate::telemetry::record_alert_notification("chat", Severity::Critical.as_str());
                    tracing::info!(alert = RULE, "alerta de base de datos enviada al chat");
                    o.chat_at = Some(now);
                }
                Err(e) => tracing::warn!(
                    alert = RULE,
                    error = format!("{e:#}"),
                    "no se pudo enviar al chat la alerta de base de datos; se reintentará"
                ),
            }
        }
        let Some(mailer) = &inner.mailer else {
            return;
        };
        if o.email_at
            .is_none_or(|last| elapsed(last, now) >= timing.email_interval.max(repeat))
        {
            let content = messages::email(&o.record(now), &inner.settings.office, inner.settings.tz, now);
            match mailer.send(&content).await {
                Ok(()) => {
                    crate::telemetry::record_alert_notification("email", Severity::Critical.as_str());
                    tracing::info!(alert = RULE, "alerta de base de datos enviada por correo");
                    o.email_at = Some(now);
                }
                Err(e) => {
                    crate::telemetry::record_email_failure();
                    tracing::error!(alert = RULE, error = %e, "el correo de la alerta de base de datos falló");
                }
            }
        }
    }

    /// Records the incident (once) and announces the resolution; true when both are done.
    async fn close_outage(&self, o: &mut Outage, now: DateTime<Utc>) -> bool {
        let inner = &self.inner;
        let announced = o.chat_at.is_some();
        if !o.recorded {
            match self.record_outage(o, now).await {
                Ok(()) => o.recorded = true,
                Err(e) => {
                    tracing::warn!(
                        alert = RULE,
                        error = format!("{e:#}"),
                        "no se pudo guardar la alerta de base de datos; se reintentará"
                    );
                    return false;
                }
            }
        }
        if !announced {
            tracing::info!(alert = RULE, "la base de datos volvió antes de avisar");
            return true;
        }
        let text = messages::chat_resolved(&o.record(now), now);
        match inner.outbox.to_team(&OutMessage::text(text)).await {
            Ok(()) => {
                crate::telemetry::record_alert_notification("chat", "resolved");
                tracing::info!(alert = RULE, "la base de datos volvió; alerta resuelta");
                true
            }
            Err(e) => {
                tracing::warn!(
                    alert = RULE,
                    error = format!("{e:#}"),
                    "no se pudo avisar en el chat que la base de datos volvió; se reintentará"
                );
                false
            }
        }
    }

    /// The incident as the store keeps every alert: fired at the outage's start, with the
    /// notifications that went out, cleared when the database answered and resolved now.
    async fn record_outage(&self, o: &Outage, now: DateTime<Utc>) -> anyhow::Result<()> {
        let store = &self.inner.store;
        let r = o.record(now);
        let new = NewAlert {
            fingerprint: r.fingerprint.clone(),
            rule: r.rule.clone(),
            family: r.family.clone(),
            labels: r.labels.clone(),
            severity: r.severity,
            summary: r.summary.clone(),
            details: r.details.clone(),
        };
        let (alert, _) = store.fire_alert(&new, o.since).await?;
        if let Some(at) = o.chat_at {
            store
                .claim_alert_send(alert.id, AlertChannel::Chat, alert.chat_count, at)
                .await?;
        }
        if let Some(at) = o.email_at {
            store
                .claim_alert_send(alert.id, AlertChannel::Email, alert.email_count, at)
                .await?;
        }
        store.clear_alert(alert.id, o.recovered_at.unwrap_or(now)).await?;
        if o.chat_at.is_some() {
            store.claim_alert_send(alert.id, AlertChannel::Resolved, 0, now).await?;
        }
        store.resolve_alert(alert.id, o.chat_at.is_some(), now).await?;
        Ok(())
    }
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

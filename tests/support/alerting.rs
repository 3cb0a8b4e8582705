//! Shared pieces of the alert tests: settings, sync reports, a store and a manual clock.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use pulso::alerts::{AlertSettings, Alerts, MailSettings, Mailer, Thresholds, Timing, TlsPolicy};
use pulso::domain::{JobKind, JobStatus};
use pulso::ports::Outbox;
use pulso::store::Store;
use pulso::sync::{AgentOutcome, JobReport, ManualClock, SyncEvent};

pub const TEAM_CHAT: i64 = -100_123;

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap()
}

pub fn settings() -> AlertSettings {
    AlertSettings {
        timing: Timing::default(),
        thresholds: Thresholds::default(),
        hourly_budget: 200,
        office: "RE/MAX Centro".into(),
        tz: "America/Mexico_City".parse().unwrap(),
        tick: Duration::from_secs(10),
        email_retry_after: Duration::from_secs(600),
        db_timeout: Duration::from_secs(5),
    }
}

pub fn mail_settings(port: u16) -> MailSettings {
    MailSettings {
        smtp_url: format!("smtp://127.0.0.1:{port}"),
        // The sink offers no STARTTLS: a relay on the same host.
        tls: TlsPolicy::None,
        ca_file: None,
        user: None,
        password: None,
        from: "pulso <pulso@remax.mx>".into(),
        to: vec!["jefa@remax.mx".into(), "Dueño <dueno@remax.mx>".into()],
        timeout: Duration::from_secs(5),
        attempts: 3,
        backoff: Duration::from_millis(100),
    }
}

/// A finished bulk job over `total` agents where `failed` (id, name, reason) failed.
pub fn report(job_id: i64, total: usize, failed: &[(i64, &str, &str)]) -> SyncEvent {
    let failed: Vec<AgentOutcome> = failed
        .iter()
        .map(|(id, name, reason)| AgentOutcome {
            agent_id: *id,
            name: name.to_string(),
            reason: Some(reason.to_string()),
        })
        .collect();
    let synced = (0..total - failed.len())
        .map(|i| AgentOutcome {
            agent_id: 1000 + i as i64,
            name: format!("Agente {i}"),
            reason: None,
        })
        .collect::<Vec<_>>();
    SyncEvent::Finished(JobReport {
        job_id,
        kind: JobKind::Bulk,
        status: if synced.is_empty() {
            JobStatus::Failed
        } else if failed.is_empty() {
            JobStatus::Completed
        } else {
            JobStatus::Partial
        },
        synced,
        failed,
        skipped: vec![],
        deferred: vec![],
        api_calls: 2 * total as i64,
        duration: Duration::from_secs(90),
        paused_for: Duration::ZERO,
    })
}

pub fn failures(n: usize) -> Vec<(i64, &'static str, &'static str)> {
    const NAMES: [&str; 12] = [
        "Ana", "Beto", "Carla", "Dani", "Eva", "Fito", "Gala", "Hugo", "Iris", "Juan", "Kira", "Leo",
    ];
    (0..n)
        .map(|i| {
            (
                i as i64 + 1,
                NAMES[i],
                "Facebook no respondió (error temporal) (tras 3 intentos)",
            )
        })
        .collect()
}

pub struct Setup {
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub _db: super::TestStore,
}

pub async fn setup() -> Setup {
    let db = super::sqlite().await;
    Setup {
        store: db.store.clone(),
        clock: Arc::new(ManualClock::starting_at(start())),
        _db: db,
    }
}

impl Setup {
    pub fn alerts(&self, outbox: Arc<dyn Outbox>, mailer: Option<Mailer>) -> Alerts {
        Alerts::new(self.store.clone(), outbox, mailer, self.clock.clone(), settings())
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

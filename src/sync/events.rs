//! What the engine tells the rest of pulso: progress for the live chat message, notices for agents,
//! and the final report. Wording is Spanish because it goes straight to chat.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{AgentId, JobId, JobKind, JobStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub job_id: JobId,
    pub kind: JobKind,
    pub done: usize,
    pub total: usize,
    pub current_agent: Option<String>,
    pub elapsed: Duration,
    pub eta: Option<Duration>,
    pub paused_until: Option<DateTime<Utc>>,
}

impl Progress {
    pub fn percent(&self) -> u32 {
        (self.done * 100).checked_div(self.total).map_or(100, |p| p as u32)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentOutcome {
    pub agent_id: AgentId,
    pub name: String,
    /// Spanish reason for failed or skipped agents.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobReport {
    pub job_id: JobId,
    pub kind: JobKind,
    pub status: JobStatus,
    pub synced: Vec<AgentOutcome>,
    pub failed: Vec<AgentOutcome>,
    pub skipped: Vec<AgentOutcome>,
    /// Agents whose Page's own rate limit outlasted the job; the next sync tries them again.
    pub deferred: Vec<AgentOutcome>,
    pub api_calls: i64,
    pub duration: Duration,
    pub paused_for: Duration,
}

/// Something an agent must hear about privately.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum AgentNotice {
    /// The token or Page stopped working; they must reconnect with /conectar.
    Disconnected { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SyncEvent {
    Started(Progress),
    /// A single-agent job waits behind a running bulk sync.
    Queued {
        job_id: JobId,
        behind: JobId,
    },
    AgentStarted(Progress),
    AgentFinished(Progress),
    Paused {
        progress: Progress,
        until: DateTime<Utc>,
        reason: String,
    },
    Resumed(Progress),
    /// This process took the job over from one that died or stopped ("retomada tras un reinicio").
    TakenOver {
        job_id: JobId,
    },
    /// This process is shutting down: the job was handed back and another process continues it.
    Interrupted(Progress),
    Finished(JobReport),
    Notice {
        agent_id: AgentId,
        name: String,
        notice: AgentNotice,
    },
}

impl SyncEvent {
    pub fn job_id(&self) -> Option<JobId> {
        match self {
            SyncEvent::Started(p)
            | SyncEvent::AgentStarted(p)
            | SyncEvent::AgentFinished(p)
            | SyncEvent::Resumed(p)
            | SyncEvent::Interrupted(p) => Some(p.job_id),
            SyncEvent::TakenOver { job_id } => Some(*job_id),
            SyncEvent::Paused { progress, .. } => Some(progress.job_id),
            SyncEvent::Queued { job_id, .. } => Some(*job_id),
            SyncEvent::Finished(r) => Some(r.job_id),
            SyncEvent::Notice { .. } => None,
        }
    }
}

/// Why a sync was not started. The text is what the admin or agent reads.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SyncRefusal {
    #[error("La última actualización masiva empezó hace menos de una hora. Podrás volver a actualizar en {}.", countdown(*.wait))]
    TooSoon { wait: Duration },
    #[error(
        "Los datos son recientes (última actualización masiva {last_ago}). Si aun así quieres actualizar, escribe /actualizar confirmar."
    )]
    NeedsConfirmation { last_ago: String },
    #[error("Ya hay una actualización en curso. Te aviso cuando termine.")]
    AlreadyRunning,
    #[error("{name} se sincronizó hace menos de 30 minutos. Podrás volver a intentarlo en {}.", countdown(*.wait))]
    AgentTooSoon { name: String, wait: Duration },
    #[error("{name} ya se está sincronizando.")]
    AgentBusy { name: String },
    #[error("{name} no tiene su página de Facebook conectada ({status}). Debe usar /conectar.")]
    NotConnected { name: String, status: String },
    #[error("No hay agentes con Facebook conectado. Importa agentes o pide que usen /conectar.")]
    NoAgents,
    #[error("Datos temporalmente no disponibles: la base de datos no responde. Inténtalo en unos minutos.")]
    Unavailable,
}

/// "1 h 05 min", "12 min", "45 s".
pub fn countdown(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{} h {:02} min", secs / 3600, (secs % 3600).div_ceil(60).min(59))
    } else if secs >= 60 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{} s", secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(countdown(Duration::from_secs(45)), "45 s");
        assert_eq!(countdown(Duration::from_secs(12 * 60)), "12 min");
        assert_eq!(countdown(Duration::from_secs(3600 + 5 * 60)), "1 h 05 min");
        let refusal = SyncRefusal::TooSoon {
            wait: Duration::from_secs(25 * 60),
        };
        assert!(refusal.to_string().contains("25 min"));
    }
}

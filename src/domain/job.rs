use chrono::{DateTime, Utc};
use serde::Serialize;

use super::agent::AgentId;

pub type JobId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum JobKind {
    /// `/actualizar`: every connected agent.
    Bulk,
    /// `/actualizar_agente`: one agent.
    Single,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Bulk => "manual_all",
            JobKind::Single => "manual_single",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "manual_all" => Some(JobKind::Bulk),
            "manual_single" => Some(JobKind::Single),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum JobStatus {
    Pending,
    Running,
    Paused,
    Completed,
    /// Some agents synced, some failed.
    Partial,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Paused,
        JobStatus::Completed,
        JobStatus::Partial,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Paused => "paused",
            JobStatus::Completed => "completed",
            JobStatus::Partial => "partial",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Running | JobStatus::Paused)
    }

    pub fn label(self) -> &'static str {
        match self {
            JobStatus::Pending => "⏳ En cola",
            JobStatus::Running => "🔄 En curso",
            JobStatus::Paused => "⏸️ En pausa",
            JobStatus::Completed => "✅ Completada",
            JobStatus::Partial => "⚠️ Parcial",
            JobStatus::Failed => "❌ Fallida",
        }
    }

    /// The final status of a job from its item outcomes (Airbyte's meaning of partial).
    pub fn from_outcomes(synced: i64, failed: i64) -> JobStatus {
        match (synced, failed) {
            (_, 0) => JobStatus::Completed,
            (0, _) => JobStatus::Failed,
            _ => JobStatus::Partial,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ItemStatus {
    Pending,
    Running,
    Synced,
    Failed,
    Skipped,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Running => "running",
            ItemStatus::Synced => "synced",
            ItemStatus::Failed => "failed",
            ItemStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ItemStatus::Pending,
            ItemStatus::Running,
            ItemStatus::Synced,
            ItemStatus::Failed,
            ItemStatus::Skipped,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn is_done(self) -> bool {
        matches!(self, ItemStatus::Synced | ItemStatus::Failed | ItemStatus::Skipped)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncJob {
    pub id: JobId,
    pub kind: JobKind,
    pub status: JobStatus,
    pub agent_id: Option<AgentId>,
    pub requested_by: Option<String>,
    pub total_agents: i64,
    pub synced_agents: i64,
    pub failed_agents: i64,
    pub skipped_agents: i64,
    pub api_calls: i64,
    pub error_message: Option<String>,
    pub paused_until: Option<DateTime<Utc>>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub fencing_token: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl SyncJob {
    pub fn done_agents(&self) -> i64 {
        self.synced_agents + self.failed_agents + self.skipped_agents
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobItem {
    pub agent_id: AgentId,
    pub status: ItemStatus,
    pub attempts: i64,
    pub api_calls: i64,
    pub error: Option<String>,
    pub position: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_status_follows_outcomes() {
        assert_eq!(JobStatus::from_outcomes(20, 0), JobStatus::Completed);
        assert_eq!(JobStatus::from_outcomes(0, 0), JobStatus::Completed);
        assert_eq!(JobStatus::from_outcomes(18, 2), JobStatus::Partial);
        assert_eq!(JobStatus::from_outcomes(0, 3), JobStatus::Failed);
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
    }
}

//! Alert rules, pure: from what pulso knows after a sync job or a budget check to the alerts that
//! should be firing. No I/O here; `Alerts` gathers the facts and keeps the state.
//!
//! Thresholds (seed §6.2, §8.2; design "Alerts"):
//! - failures in one bulk sync: 1–4 → `sync_fallos` (info: only in `/alertas` and `/estado`);
//!   5 or more → `sync_fallos_varios` (warning, seed §8.2 "5–10 agents failed"); more than 5 →
//!   `sync_fallos_muchos` (urgent); more than 10 → `sync_fallos_masivos` (critical); every agent
//!   failed → `sync_fallida` (critical). They share the family `sync_fallos`, where the most severe
//!   firing alert inhibits the others, so one message describes the run.
//! - a bulk sync that ran more than 10 minutes (time paused for the budget not counted) → warning.
//! - API usage at or above 90 % of the hour window (where the engine pauses) → `api_presupuesto`
//!   warning; 3 or more rate-limit answers in the last 24 hour windows → `api_limite_repetido`
//!   critical (inhibits the warning).
//! - more than 5 connected agents with data older than 48 h → `datos_viejos` warning.
//! - an agent's token expiring within 10 days → `token_vence` info, sent to that agent only.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Urgent,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Info, Severity::Warning, Severity::Urgent, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Urgent => "urgent",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Spanish, upper case, for subjects and headlines: "URGENTE".
    pub fn headline(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "AVISO",
            Severity::Urgent => "URGENTE",
            Severity::Critical => "CRÍTICO",
        }
    }

    /// Spanish, lower case, for `/alertas`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "informativa",
            Severity::Warning => "aviso",
            Severity::Urgent => "urgente",
            Severity::Critical => "crítica",
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Severity::Info => "ℹ️",
            Severity::Warning => "⚠️",
            Severity::Urgent => "🚨",
            Severity::Critical => "🔴",
        }
    }
}

/// What a rule's notifications reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub team_chat: bool,
    pub email: bool,
    /// Sent privately to the agent named by the `agent_id` label.
    pub agent: bool,
}

/// Which facts a rule needs; a rule is only evaluated (and so can only resolve) when they are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The report of a finished bulk sync.
    BulkJob,
    /// API budget and rate-limit counters.
    Budget,
    /// The agent list (freshness, token expiry).
    Agents,
    /// Insights metrics Facebook refused.
    Metrics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    SyncFailuresFew,
    SyncFailuresSome,
    SyncFailuresMany,
    SyncFailuresMassive,
    SyncFailedCompletely,
    SyncSlow,
    BudgetHigh,
    RateLimitRepeated,
    DataStale,
    TokenExpiring,
    MetricRetired,
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::SyncFailuresFew,
        Rule::SyncFailuresSome,
        Rule::SyncFailuresMany,
        Rule::SyncFailuresMassive,
        Rule::SyncFailedCompletely,
        Rule::SyncSlow,
        Rule::BudgetHigh,
        Rule::RateLimitRepeated,
        Rule::DataStale,
        Rule::TokenExpiring,
        Rule::MetricRetired,
    ];

    /// The name used in `/alertas` and `/silenciar` (fits Telegram's `[a-z0-9_]`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::SyncFailuresFew => "sync_fallos",
            Rule::SyncFailuresSome => "sync_fallos_varios",
            Rule::SyncFailuresMany => "sync_fallos_muchos",
            Rule::SyncFailuresMassive => "sync_fallos_masivos",
            Rule::SyncFailedCompletely => "sync_fallida",
            Rule::SyncSlow => "sync_lenta",
            Rule::BudgetHigh => "api_presupuesto",
            Rule::RateLimitRepeated => "api_limite_repetido",
            Rule::DataStale => "datos_viejos",
            Rule::TokenExpiring => "token_vence",
            Rule::MetricRetired => "metrica_retirada",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Alerts of one family describe the same problem; the most severe one inhibits the rest.
    pub fn family(self) -> &'static str {
        match self {
            Rule::SyncFailuresFew
            | Rule::SyncFailuresSome
            | Rule::SyncFailuresMany
            | Rule::SyncFailuresMassive
            | Rule::SyncFailedCompletely => "sync_fallos",
            Rule::SyncSlow => "sync_lenta",
            Rule::BudgetHigh | Rule::RateLimitRepeated => "api",
            Rule::DataStale => "datos_viejos",
            Rule::TokenExpiring => "token_vence",
            Rule::MetricRetired => "metrica_retirada",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::SyncFailuresFew | Rule::TokenExpiring => Severity::Info,
            Rule::SyncFailuresSome | Rule::SyncSlow | Rule::BudgetHigh | Rule::DataStale | Rule::MetricRetired => {
                Severity::Warning
            }
            Rule::SyncFailuresMany => Severity::Urgent,
            Rule::SyncFailuresMassive | Rule::SyncFailedCompletely | Rule::RateLimitRepeated => Severity::Critical,
        }
    }

    pub fn scope(self) -> Scope {
        match self {
            Rule::SyncFailuresFew
            | Rule::SyncFailuresSome
            | Rule::SyncFailuresMany
            | Rule::SyncFailuresMassive
            | Rule::SyncFailedCompletely
            | Rule::SyncSlow => Scope::BulkJob,
            Rule::BudgetHigh | Rule::RateLimitRepeated => Scope::Budget,
            Rule::DataStale | Rule::TokenExpiring => Scope::Agents,
            Rule::MetricRetired => Scope::Metrics,
        }
    }

    /// Severity routing (seed §8.2, "Email for critical and warnings"): warning, urgent and
    /// critical → team chat + email; info is only shown in `/alertas`, except token expiry, which
    /// goes to the agent.
    pub fn route(self) -> Route {
        match (self, self.severity()) {
            (Rule::TokenExpiring, _) => Route {
                team_chat: false,
                email: false,
                agent: true,
            },
            (_, Severity::Info) => Route {
                team_chat: false,
                email: false,
                agent: false,
            },
            (_, Severity::Warning | Severity::Urgent | Severity::Critical) => Route {
                team_chat: true,
                email: true,
                agent: false,
            },
        }
    }

    /// True when `matcher` (from `/silenciar`) names this rule or its family.
    pub fn matches(self, matcher: &str) -> bool {
        self.name() == matcher || self.family() == matcher
    }
}

/// Every name `/silenciar` accepts: rule names and family names.
pub fn silenceable_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Rule::ALL.iter().flat_map(|r| [r.family(), r.name()]).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Identity of an alert: the rule plus its sorted labels (Alertmanager's fingerprint).
pub fn fingerprint(rule: Rule, labels: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rule.name().as_bytes());
    for (k, v) in labels {
        hasher.update([0]);
        hasher.update(k.as_bytes());
        hasher.update([b'=']);
        hasher.update(v.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}

mod conditions;

pub use conditions::*;

#[cfg(test)]
mod tests;

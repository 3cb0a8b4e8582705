//! Conditions of the alert rules: the facts an evaluation sees, the thresholds, and the alerts that
//! should be firing (with their Spanish summary, affected agents, errors and next steps).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Rule, Scope, fingerprint};
use crate::domain::instagram::{MEDIA_REFUSED_PREFIX, REFUSED_PREFIX};
use crate::domain::{AgentId, Freshness, JobId, JobKind};

#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// At least this many failures: warning.
    pub failures_warning: usize,
    /// More than this many failures: urgent.
    pub failures_urgent: usize,
    /// More than this many failures: critical.
    pub failures_critical: usize,
    pub slow_sync: Duration,
    pub budget_pct: f64,
    pub rate_limit_hits: i64,
    /// More than this many connected agents with data older than 48 h: warning.
    pub stale_agents: usize,
    pub token_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            failures_warning: 5,
            failures_urgent: 5,
            failures_critical: 10,
            slow_sync: Duration::from_secs(10 * 60),
            budget_pct: 90.0,
            rate_limit_hits: 3,
            stale_agents: 5,
            token_days: 10,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailedAgent {
    pub agent_id: AgentId,
    pub name: String,
    /// The engine's Spanish reason.
    pub reason: String,
    /// The agent's connection is broken (token, permissions or Page): they must use /conectar.
    pub needs_reconnect: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobFacts {
    pub job_id: JobId,
    pub kind: JobKind,
    /// Agents the job visited (synced + failed + skipped).
    pub total: usize,
    pub synced: usize,
    pub failed: Vec<FailedAgent>,
    /// Wall time minus the time paused waiting for the API budget.
    pub active_duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetFacts {
    /// The higher of pulso's own count and Meta's usage headers, in percent.
    pub usage_pct: f64,
    pub calls_made: i64,
    pub max_calls: i64,
    pub rate_limit_hits_24h: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentFacts {
    pub agent_id: AgentId,
    pub name: String,
    /// Connected (active with a Page): the agents a bulk sync visits.
    pub connected: bool,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// What is known at one evaluation; a `None` leaves that scope's alerts as they are.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub now: DateTime<Utc>,
    pub job: Option<JobFacts>,
    pub budget: Option<BudgetFacts>,
    pub agents: Option<Vec<AgentFacts>>,
    /// Insights metrics Facebook refused with (#100), remembered by the sync.
    pub refused_metrics: Option<Vec<String>>,
}

/// An alert that should be firing now.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub rule: Rule,
    pub labels: BTreeMap<String, String>,
    /// One line: what happened. Also the e-mail subject after the severity.
    pub summary: String,
    /// Further lines: which agents and each error, then what to do next.
    pub details: String,
}

impl Candidate {
    fn new(rule: Rule, summary: String, details: Vec<String>) -> Self {
        Self {
            rule,
            labels: BTreeMap::new(),
            summary,
            details: details.join("\n"),
        }
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(self.rule, &self.labels)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evaluation {
    /// Rules whose facts were known: their alerts not in `firing` have cleared.
    pub evaluated: Vec<Rule>,
    pub firing: Vec<Candidate>,
}

/// At most this many agents are listed in one message; the rest are counted.
const MAX_LISTED: usize = 15;

pub fn evaluate(facts: &Facts, t: &Thresholds) -> Evaluation {
    let mut out = Evaluation::default();
    for rule in Rule::ALL {
        let known = match rule.scope() {
            Scope::BulkJob => facts.job.as_ref().is_some_and(|j| j.kind == JobKind::Bulk),
            Scope::Budget => facts.budget.is_some(),
            Scope::Agents => facts.agents.is_some(),
            Scope::Metrics => facts.refused_metrics.is_some(),
        };
        if known {
            out.evaluated.push(rule);
        }
    }
    if let Some(job) = facts.job.as_ref().filter(|j| j.kind == JobKind::Bulk) {
        job_rules(job, t, &mut out.firing);
    }
    if let Some(budget) = &facts.budget {
        budget_rules(budget, t, &mut out.firing);
    }
    if let Some(agents) = &facts.agents {
        agent_rules(agents, facts.now, t, &mut out.firing);
    }
    for metric in facts.refused_metrics.iter().flatten() {
        // Instagram metrics are stored as `instagram:{name}`; Facebook ones by their bare name.
        let (network, name, table, of) = match metric.strip_prefix(REFUSED_PREFIX) {
            Some(name) => match name.strip_prefix(MEDIA_REFUSED_PREFIX) {
                Some(media) => (
                    "Instagram",
                    media,
                    "src/domain/instagram.rs",
                    " de las publicaciones de Instagram",
                ),
                None => ("Instagram", name, "src/domain/instagram.rs", " de Instagram"),
            },
            None => ("Facebook", metric.as_str(), "src/facebook/insights.rs", ""),
        };
        let mut c = Candidate::new(
            Rule::MetricRetired,
            format!("Meta retiró la métrica {name}{of}; pulso sigue con las demás"),
            vec![
                format!("{network} respondió «(#100) The value must be a valid insights metric» al pedir {name}."),
                "Las demás métricas y las publicaciones se siguen guardando; las sincronizaciones ya no la piden y \
                 su valor queda como desconocido (—)."
                    .to_string(),
                format!("Qué hacer: si Meta publicó un reemplazo, actualiza la tabla de métricas de pulso ({table})."),
            ],
        );
        c.labels.insert("metric".into(), metric.clone());
        out.firing.push(c);
    }
    out
}

fn agentes(n: usize) -> String {
    if n == 1 {
        "1 agente".to_string()
    } else {
        format!("{n} agentes")
    }
}

/// "• Ana: el token ya no es válido → pide a Ana que use /conectar".
fn failure_lines(failed: &[FailedAgent]) -> Vec<String> {
    let mut lines: Vec<String> = failed
        .iter()
        .take(MAX_LISTED)
        .map(|f| {
            let next = if f.needs_reconnect {
                format!("pide a {} que use /conectar", f.name)
            } else if f.reason.starts_with("error de configuración") {
                "revisa la configuración de pulso".to_string()
            } else {
                format!(
                    "se reintentará en la próxima /actualizar (o /actualizar_agente {})",
                    f.name
                )
            };
            format!("• {}: {} → {}", f.name, f.reason, next)
        })
        .collect();
    if failed.len() > MAX_LISTED {
        lines.push(format!("• … y {} más (ver /estado)", failed.len() - MAX_LISTED));
    }
    lines
}

fn job_rules(job: &JobFacts, t: &Thresholds, firing: &mut Vec<Candidate>) {
    let n = job.failed.len();
    let reconnect = job.failed.iter().filter(|f| f.needs_reconnect).count();
    let mut what_to_do = Vec::new();
    if reconnect > 0 {
        what_to_do.push(format!(
            "Qué hacer: {} debe(n) volver a conectar su página con /conectar.",
            agentes(reconnect)
        ));
    }
    if reconnect < n {
        what_to_do.push(
            "Qué hacer: los errores temporales de Facebook suelen pasar solos; revisa /estado y vuelve a intentar \
             /actualizar más tarde."
                .to_string(),
        );
    }
    let failures = |rule: Rule, summary: String| {
        let mut details = vec![format!(
            "Sincronización #{}: {} de {} agentes fallaron.",
            job.job_id, n, job.total
        )];
        details.extend(failure_lines(&job.failed));
        details.extend(what_to_do.iter().cloned());
        Candidate::new(rule, summary, details)
    };
    let summary = format!("{} fallaron al sincronizar", agentes(n));
    if n >= 1 {
        firing.push(failures(Rule::SyncFailuresFew, summary.clone()));
    }
    if n >= t.failures_warning {
        firing.push(failures(Rule::SyncFailuresSome, summary.clone()));
    }
    if n > t.failures_urgent {
        firing.push(failures(Rule::SyncFailuresMany, summary.clone()));
    }
    if n > t.failures_critical {
        firing.push(failures(Rule::SyncFailuresMassive, summary));
    }
    if n > 0 && job.synced == 0 {
        let mut c = failures(
            Rule::SyncFailedCompletely,
            format!("la sincronización masiva falló por completo ({} sin datos)", agentes(n)),
        );
        c.details.push_str(
            "\nSi fallan todos a la vez suele ser Facebook, la red o la configuración de la app: revisa los \
             registros de pulso.",
        );
        firing.push(c);
    }
    if job.active_duration > t.slow_sync {
        let mins = job.active_duration.as_secs() / 60;
        firing.push(Candidate::new(
            Rule::SyncSlow,
            format!(
                "la sincronización #{} tardó {mins} min (más de {} min)",
                job.job_id,
                t.slow_sync.as_secs() / 60
            ),
            vec![
                format!(
                    "{} sincronizados en {mins} minutos, sin contar pausas por presupuesto.",
                    agentes(job.total)
                ),
                "Qué hacer: revisa la red y las respuestas lentas de Facebook en /estado; con muchos agentes, \
                 considera aumentar sync.batch_size."
                    .to_string(),
            ],
        ));
    }
}

fn budget_rules(b: &BudgetFacts, t: &Thresholds, firing: &mut Vec<Candidate>) {
    if b.usage_pct >= t.budget_pct {
        firing.push(Candidate::new(
            Rule::BudgetHigh,
            format!("uso de la API de Facebook al {:.0} % de la hora", b.usage_pct),
            vec![
                format!("{} de {} llamadas usadas en esta hora.", b.calls_made, b.max_calls),
                "Las sincronizaciones quedan en pausa y siguen solas en la próxima hora.".to_string(),
                "Qué hacer: nada urgente; evita /actualizar_agente repetidos hasta entonces.".to_string(),
            ],
        ));
    }
    if b.rate_limit_hits_24h >= t.rate_limit_hits {
        firing.push(Candidate::new(
            Rule::RateLimitRepeated,
            format!(
                "Facebook limitó las llamadas {} veces en las últimas 24 h",
                b.rate_limit_hits_24h
            ),
            vec![
                "Meta respondió con límite de uso (códigos 4, 17, 32, 613 o 80001) varias veces.".to_string(),
                "Qué hacer: reduce las actualizaciones manuales y revisa facebook.app_users y el uso de la app en \
                 el panel de Meta."
                    .to_string(),
            ],
        ));
    }
}

fn agent_rules(agents: &[AgentFacts], now: DateTime<Utc>, t: &Thresholds, firing: &mut Vec<Candidate>) {
    let stale: Vec<&AgentFacts> = agents
        .iter()
        .filter(|a| a.connected && Freshness::of(a.last_synced_at, now).is_older_than_48h())
        .collect();
    if stale.len() > t.stale_agents {
        let mut details = vec![format!("{} con datos de hace más de 48 horas:", agentes(stale.len()))];
        details.extend(stale.iter().take(MAX_LISTED).map(|a| match a.last_synced_at {
            Some(last) => format!("• {}: {}", a.name, crate::domain::hace(last, now)),
            None => format!("• {}: nunca sincronizado", a.name),
        }));
        if stale.len() > MAX_LISTED {
            details.push(format!("• … y {} más (ver /estado)", stale.len() - MAX_LISTED));
        }
        details.push("Qué hacer: ejecuta /actualizar; si vuelven a fallar, revisa /estado.".to_string());
        firing.push(Candidate::new(
            Rule::DataStale,
            format!("{} sin datos recientes (más de 48 h)", agentes(stale.len())),
            details,
        ));
    }
    for a in agents.iter().filter(|a| a.connected) {
        let Some(expires) = a.token_expires_at else {
            continue;
        };
        // Whole days, rounded up: 8 days and 23 hours reads "en 9 días".
        let days_left = ((expires - now).num_minutes() + 1439) / 1440;
        if expires > now && days_left <= t.token_days {
            let when = if days_left <= 0 {
                "hoy".to_string()
            } else if days_left == 1 {
                "en 1 día".to_string()
            } else {
                format!("en {days_left} días")
            };
            let mut c = Candidate::new(
                Rule::TokenExpiring,
                format!("la conexión de {} con Facebook vence {when}", a.name),
                vec![format!(
                    "Hola, {}: tu conexión con Facebook vence {when}. Usa /conectar para renovarla y que tus \
                     métricas sigan actualizándose.",
                    a.name
                )],
            );
            c.labels.insert("agent_id".into(), a.agent_id.to_string());
            firing.push(c);
        }
    }
}

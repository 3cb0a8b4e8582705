//! Unit tests of the alert rules.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::domain::JobKind;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap()
}

fn job(failed: usize, total: usize) -> JobFacts {
    JobFacts {
        job_id: 7,
        kind: JobKind::Bulk,
        total,
        synced: total - failed,
        failed: (0..failed)
            .map(|i| FailedAgent {
                agent_id: i as i64,
                name: format!("Agente {i}"),
                reason: "el token ya no es válido".into(),
                needs_reconnect: i % 2 == 0,
            })
            .collect(),
        active_duration: Duration::from_secs(60),
    }
}

fn rules_for(job: JobFacts) -> Vec<Rule> {
    let facts = Facts {
        now: now(),
        job: Some(job),
        budget: None,
        agents: None,
        refused_metrics: None,
    };
    evaluate(&facts, &Thresholds::default())
        .firing
        .into_iter()
        .map(|c| c.rule)
        .collect()
}

#[test]
fn failure_counts_map_to_severities() {
    assert!(rules_for(job(0, 20)).is_empty());
    assert_eq!(rules_for(job(4, 20)), vec![Rule::SyncFailuresFew]);
    assert_eq!(
        rules_for(job(5, 20)),
        vec![Rule::SyncFailuresFew, Rule::SyncFailuresSome]
    );
    assert_eq!(
        rules_for(job(6, 20)),
        vec![Rule::SyncFailuresFew, Rule::SyncFailuresSome, Rule::SyncFailuresMany]
    );
    assert!(rules_for(job(11, 20)).contains(&Rule::SyncFailuresMassive));
    assert!(!rules_for(job(10, 20)).contains(&Rule::SyncFailuresMassive));
    assert!(rules_for(job(3, 3)).contains(&Rule::SyncFailedCompletely));
    assert!(Rule::SyncFailuresMany.route().email);
    assert!(Rule::SyncFailuresSome.route().email, "warnings are e-mailed too");
    assert!(!Rule::SyncFailuresFew.route().email);
    assert!(!Rule::SyncFailuresFew.route().team_chat);
}

#[test]
fn a_single_agent_job_leaves_job_rules_unevaluated() {
    let mut single = job(1, 1);
    single.kind = JobKind::Single;
    let facts = Facts {
        now: now(),
        job: Some(single),
        budget: None,
        agents: None,
        refused_metrics: None,
    };
    let eval = evaluate(&facts, &Thresholds::default());
    assert!(eval.evaluated.is_empty() && eval.firing.is_empty());
}

#[test]
fn failure_messages_name_agents_errors_and_next_steps() {
    let facts = Facts {
        now: now(),
        job: Some(job(7, 20)),
        budget: None,
        agents: None,
        refused_metrics: None,
    };
    let eval = evaluate(&facts, &Thresholds::default());
    let many = eval.firing.iter().find(|c| c.rule == Rule::SyncFailuresMany).unwrap();
    assert_eq!(many.summary, "7 agentes fallaron al sincronizar");
    assert!(
        many.details
            .contains("• Agente 0: el token ya no es válido → pide a Agente 0 que use /conectar")
    );
    assert!(
        many.details
            .contains("Agente 1: el token ya no es válido → se reintentará")
    );
    assert!(many.details.contains("Qué hacer"));
}

#[test]
fn budget_rate_limit_slow_stale_and_token_rules() {
    let mut slow = job(0, 20);
    slow.active_duration = Duration::from_secs(11 * 60);
    let agents: Vec<AgentFacts> = (0..7)
        .map(|i| AgentFacts {
            agent_id: i,
            name: format!("A{i}"),
            connected: i != 6,
            last_synced_at: (i > 0).then(|| now() - chrono::Duration::hours(50)),
            token_expires_at: (i == 1).then(|| now() + chrono::Duration::days(9)),
        })
        .collect();
    let facts = Facts {
        now: now(),
        job: Some(slow),
        budget: Some(BudgetFacts {
            usage_pct: 91.0,
            calls_made: 182,
            max_calls: 200,
            rate_limit_hits_24h: 3,
        }),
        agents: Some(agents),
        refused_metrics: Some(Vec::new()),
    };
    let eval = evaluate(&facts, &Thresholds::default());
    let rules: Vec<Rule> = eval.firing.iter().map(|c| c.rule).collect();
    assert_eq!(
        rules,
        vec![
            Rule::SyncSlow,
            Rule::BudgetHigh,
            Rule::RateLimitRepeated,
            Rule::DataStale,
            Rule::TokenExpiring
        ]
    );
    let token = eval.firing.last().unwrap();
    assert_eq!(token.labels.get("agent_id").map(String::as_str), Some("1"));
    assert!(token.details.contains("/conectar"));
    assert_eq!(eval.evaluated.len(), Rule::ALL.len());
}

#[test]
fn every_budget_pause_is_announced_from_ninety_percent() {
    let at = |pct: f64| {
        let facts = Facts {
            now: now(),
            job: None,
            budget: Some(BudgetFacts {
                usage_pct: pct,
                calls_made: 0,
                max_calls: 200,
                rate_limit_hits_24h: 2,
            }),
            agents: None,
            refused_metrics: None,
        };
        evaluate(&facts, &Thresholds::default()).firing.len()
    };
    assert_eq!((at(89.5), at(90.0)), (0, 1));
}

#[test]
fn exactly_five_stale_agents_do_not_fire() {
    let agents: Vec<AgentFacts> = (0..5)
        .map(|i| AgentFacts {
            agent_id: i,
            name: format!("A{i}"),
            connected: true,
            last_synced_at: None,
            token_expires_at: None,
        })
        .collect();
    let facts = Facts {
        now: now(),
        job: None,
        budget: None,
        agents: Some(agents),
        refused_metrics: None,
    };
    assert!(evaluate(&facts, &Thresholds::default()).firing.is_empty());
}

#[test]
fn fingerprints_depend_on_rule_and_labels_only() {
    let mut a = BTreeMap::new();
    a.insert("agent_id".to_string(), "1".to_string());
    let mut b = BTreeMap::new();
    b.insert("agent_id".to_string(), "2".to_string());
    assert_ne!(
        fingerprint(Rule::TokenExpiring, &a),
        fingerprint(Rule::TokenExpiring, &b)
    );
    assert_eq!(
        fingerprint(Rule::TokenExpiring, &a),
        fingerprint(Rule::TokenExpiring, &a.clone())
    );
    assert_ne!(
        fingerprint(Rule::SyncSlow, &BTreeMap::new()),
        fingerprint(Rule::DataStale, &BTreeMap::new())
    );
    assert!(silenceable_names().contains(&"sync_fallos"));
    assert!(silenceable_names().contains(&"api"));
}

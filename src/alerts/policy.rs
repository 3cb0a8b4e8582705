//! When an incident is notified, repeated or resolved (Alertmanager's timers), pure:
//! - `group_wait`: a new alert waits before its first message; if it clears meanwhile, nothing is
//!   sent, so flapping stays quiet.
//! - `resolve_wait` (Prometheus' `keep_firing_for`): a notified alert whose condition cleared stays
//!   firing that long; if it comes back meanwhile nothing is sent, otherwise "✅ Resuelto".
//! - `repeat`: per severity, while firing and not muted; e-mail at most once per `email_interval`.
//! - muted (inhibited by a more severe alert of its family, or silenced): no messages at all.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::rules::{Rule, Severity};
use crate::store::{AlertRecord, Silence};

#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub group_wait: Duration,
    pub resolve_wait: Duration,
    pub repeat_critical: Duration,
    pub repeat_urgent: Duration,
    pub repeat_warning: Duration,
    pub email_interval: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            group_wait: Duration::from_secs(30),
            resolve_wait: Duration::from_secs(5 * 60),
            repeat_critical: Duration::from_secs(4 * 3600),
            repeat_urgent: Duration::from_secs(4 * 3600),
            repeat_warning: Duration::from_secs(24 * 3600),
            email_interval: Duration::from_secs(24 * 3600),
        }
    }
}

impl Timing {
    /// None: sent once per incident (info to an agent).
    pub fn repeat(&self, severity: Severity) -> Option<Duration> {
        match severity {
            Severity::Critical => Some(self.repeat_critical),
            Severity::Urgent => Some(self.repeat_urgent),
            Severity::Warning => Some(self.repeat_warning),
            Severity::Info => None,
        }
    }
}

/// What to do with one open incident now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub chat: Option<ChatStep>,
    pub email: bool,
    /// Close the incident; `announce` = send "✅ Resuelto" first.
    pub resolve: Option<Resolve>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatStep {
    First,
    Repeat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolve {
    pub announce: bool,
}

impl Step {
    const NOTHING: Step = Step {
        chat: None,
        email: false,
        resolve: None,
    };
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or(Duration::ZERO)
}

/// `email_enabled` is false when no mailer is configured.
pub fn next_step(alert: &AlertRecord, muted: bool, email_enabled: bool, now: DateTime<Utc>, t: &Timing) -> Step {
    let rule = Rule::parse(&alert.rule);
    let route = rule.map(Rule::route);
    let notifies = route.is_some_and(|r| r.team_chat || r.agent);
    let wants_email = email_enabled && route.is_some_and(|r| r.email);
    if let Some(cleared) = alert.cleared_at {
        if alert.notified_at.is_none() {
            // Never announced (pending, muted or info): ends quietly at once.
            return Step {
                resolve: Some(Resolve { announce: false }),
                ..Step::NOTHING
            };
        }
        if elapsed(cleared, now) >= t.resolve_wait {
            // Resolved messages go to the team chat only (Alertmanager: email send_resolved=false).
            let announce = !muted && route.is_some_and(|r| r.team_chat);
            return Step {
                resolve: Some(Resolve { announce }),
                ..Step::NOTHING
            };
        }
        return Step::NOTHING;
    }
    if muted || elapsed(alert.starts_at, now) < t.group_wait {
        return Step::NOTHING;
    }
    let chat = if !notifies {
        None
    } else {
        match alert.last_chat_at {
            None => Some(ChatStep::First),
            Some(last) => t
                .repeat(alert.severity)
                .filter(|every| elapsed(last, now) >= *every)
                .map(|_| ChatStep::Repeat),
        }
    };
    let email = wants_email
        && match alert.last_email_at {
            None => true,
            Some(last) => elapsed(last, now) >= t.email_interval.max(t.repeat(alert.severity).unwrap_or_default()),
        };
    Step {
        chat,
        email,
        resolve: None,
    }
}

/// True when a more severe alert of the same family is firing (and its condition still holds). Two
/// alerts of one family with the same severity are ordered by rule (`sync_fallida` over
/// `sync_fallos_masivos`), so a family speaks with one voice.
pub fn inhibited(alert: &AlertRecord, open: &[AlertRecord]) -> bool {
    let rank = |a: &AlertRecord| (a.severity, Rule::parse(&a.rule));
    alert.cleared_at.is_none()
        && open
            .iter()
            .any(|o| o.id != alert.id && o.cleared_at.is_none() && o.family == alert.family && rank(o) > rank(alert))
}

/// The end of the longest silence covering this alert, if any is in force.
pub fn silenced_until(alert: &AlertRecord, silences: &[Silence]) -> Option<DateTime<Utc>> {
    let rule = Rule::parse(&alert.rule)?;
    silences
        .iter()
        .filter(|s| rule.matches(&s.matcher))
        .map(|s| s.ends_at)
        .max()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::AlertState;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap()
    }

    fn alert(rule: Rule) -> AlertRecord {
        AlertRecord {
            id: 1,
            fingerprint: "f".into(),
            rule: rule.name().into(),
            family: rule.family().into(),
            labels: "{}".into(),
            severity: rule.severity(),
            summary: "s".into(),
            details: String::new(),
            state: AlertState::Firing,
            starts_at: t0(),
            cleared_at: None,
            ends_at: None,
            notified_at: None,
            last_chat_at: None,
            chat_count: 0,
            last_email_at: None,
            email_count: 0,
            resolved_sent_at: None,
            updated_at: t0(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::seconds(secs)
    }

    #[test]
    fn first_message_waits_for_the_group_window() {
        let t = Timing::default();
        let a = alert(Rule::SyncFailuresMany);
        assert_eq!(next_step(&a, false, true, at(10), &t), Step::NOTHING);
        let s = next_step(&a, false, true, at(30), &t);
        assert_eq!(s.chat, Some(ChatStep::First));
        assert!(s.email);
        assert!(!next_step(&a, false, false, at(30), &t).email);
    }

    #[test]
    fn critical_repeats_every_four_hours_and_email_once_a_day() {
        let t = Timing::default();
        let mut a = alert(Rule::SyncFailedCompletely);
        a.notified_at = Some(at(30));
        a.last_chat_at = Some(at(30));
        a.last_email_at = Some(at(30));
        assert_eq!(next_step(&a, false, true, at(30 + 3 * 3600), &t), Step::NOTHING);
        let s = next_step(&a, false, true, at(30 + 4 * 3600), &t);
        assert_eq!((s.chat, s.email), (Some(ChatStep::Repeat), false));
        a.last_chat_at = Some(at(30 + 20 * 3600));
        let s = next_step(&a, false, true, at(30 + 24 * 3600), &t);
        assert_eq!((s.chat, s.email), (Some(ChatStep::Repeat), true));
    }

    #[test]
    fn muted_alerts_say_nothing_and_unannounced_ones_resolve_quietly() {
        let t = Timing::default();
        let mut a = alert(Rule::BudgetHigh);
        assert_eq!(next_step(&a, true, true, at(3600), &t), Step::NOTHING);
        a.cleared_at = Some(at(5));
        assert_eq!(
            next_step(&a, false, true, at(6), &t).resolve,
            Some(Resolve { announce: false })
        );
        a.notified_at = Some(at(1));
        assert_eq!(next_step(&a, false, true, at(60), &t), Step::NOTHING);
        assert_eq!(
            next_step(&a, false, true, at(5 + 300), &t).resolve,
            Some(Resolve { announce: true })
        );
    }

    #[test]
    fn critical_inhibits_lower_severities_of_its_family_only() {
        let warning = alert(Rule::BudgetHigh);
        let mut critical = alert(Rule::RateLimitRepeated);
        critical.id = 2;
        let mut other = alert(Rule::DataStale);
        other.id = 3;
        let open = vec![warning.clone(), critical.clone(), other.clone()];
        assert!(inhibited(&warning, &open));
        assert!(!inhibited(&critical, &open));
        assert!(!inhibited(&other, &open));
        critical.cleared_at = Some(at(1));
        assert!(!inhibited(&warning, &[warning.clone(), critical]));
        let mut massive = alert(Rule::SyncFailuresMassive);
        let mut complete = alert(Rule::SyncFailedCompletely);
        (massive.id, complete.id) = (4, 5);
        let family = [massive.clone(), complete.clone()];
        assert!(inhibited(&massive, &family) && !inhibited(&complete, &family));
    }
}

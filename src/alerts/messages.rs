//! The words of alert notifications: chat text, the resolved message and the e-mail (subject, plain
//! text and HTML). Pure.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::rules::{Rule, Severity};
use crate::domain::hace;
use crate::store::AlertRecord;
use crate::sync::countdown;

/// The team-chat message for a first notification or a repeat.
pub fn chat_firing(a: &AlertRecord, repeat: bool, now: DateTime<Utc>) -> String {
    let mut text = headline(a, repeat, now);
    text.push_str(&format!("\nPara silenciarla: /silenciar {} 2h", a.rule));
    text
}

/// The database outage (kept in memory, so it cannot be silenced from the chat).
pub fn database_down(a: &AlertRecord, repeat: bool, now: DateTime<Utc>) -> String {
    headline(a, repeat, now)
}

fn headline(a: &AlertRecord, repeat: bool, now: DateTime<Utc>) -> String {
    let mut text = if repeat {
        format!(
            "🔁 {} {} (sigue activa, empezó {}): {}",
            a.severity.emoji(),
            a.severity.headline(),
            hace(a.starts_at, now),
            a.summary
        )
    } else {
        format!("{} {}: {}", a.severity.emoji(), a.severity.headline(), a.summary)
    };
    if !a.details.is_empty() {
        text.push('\n');
        text.push_str(&a.details);
    }
    text
}

/// The private message to an agent (token expiry): the details are written to them.
pub fn agent_message(a: &AlertRecord) -> String {
    if a.details.is_empty() {
        a.summary.clone()
    } else {
        a.details.clone()
    }
}

pub fn chat_resolved(a: &AlertRecord, now: DateTime<Utc>) -> String {
    let end = a.cleared_at.unwrap_or(now);
    let lasted = (end - a.starts_at).to_std().unwrap_or_default();
    format!("✅ Resuelto: {} (duró {})", a.summary, countdown(lasted))
}

/// An alert e-mail: subject, plain text and HTML with the same content.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn email(a: &AlertRecord, office: &str, tz: Tz, now: DateTime<Utc>) -> EmailContent {
    let subject = format!("[pulso] {}: {}", a.severity.headline(), capitalise(&a.summary));
    let since = a.starts_at.with_timezone(&tz).format("%d/%m/%Y %H:%M");
    let mut text = format!(
        "{}: {}\n\nOficina: {office}\nActiva desde: {since} ({})\nAlerta: {}\n\n",
        a.severity.headline(),
        capitalise(&a.summary),
        hace(a.starts_at, now),
        a.rule
    );
    text.push_str(&a.details);
    if silenceable(a) {
        text.push_str(&format!("\n\nPara silenciarla desde el chat: /silenciar {} 2h", a.rule));
    }
    text.push_str("\n-- \npulso\n");

    let colour = match a.severity {
        Severity::Critical => "#b00020",
        Severity::Urgent => "#d35400",
        Severity::Warning => "#b7950b",
        Severity::Info => "#2e86c1",
    };
    let mut items = String::new();
    let mut paragraphs = String::new();
    for line in a.details.lines() {
        if let Some(item) = line.strip_prefix("• ") {
            items.push_str(&format!("<li>{}</li>\n", escape_html(item)));
        } else {
            paragraphs.push_str(&format!("<p>{}</p>\n", escape_html(line)));
        }
    }
    let list = if items.is_empty() {
        String::new()
    } else {
        format!("<ul>\n{items}</ul>\n")
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"es\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif\">\n\
         <h2 style=\"color: {colour}\">{headline}: {summary}</h2>\n\
         <p>Oficina: {office}<br>Activa desde: {since} ({ago})<br>Alerta: <code>{rule}</code></p>\n\
         {list}{paragraphs}{silence}</body></html>\n",
        title = escape_html(&subject),
        headline = a.severity.headline(),
        summary = escape_html(&capitalise(&a.summary)),
        office = escape_html(office),
        ago = hace(a.starts_at, now),
        rule = escape_html(&a.rule),
        silence = if silenceable(a) {
            format!(
                "<p>Para silenciarla desde el chat: <code>/silenciar {} 2h</code></p>\n",
                escape_html(&a.rule)
            )
        } else {
            String::new()
        },
    );
    EmailContent { subject, text, html }
}

/// Alerts kept in the database can be silenced; the database outage cannot.
fn silenceable(a: &AlertRecord) -> bool {
    Rule::parse(&a.rule).is_some()
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::AlertState;

    fn record() -> AlertRecord {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap();
        AlertRecord {
            id: 1,
            fingerprint: "f".into(),
            rule: "sync_fallos_muchos".into(),
            family: "sync_fallos".into(),
            labels: "{}".into(),
            severity: Severity::Urgent,
            summary: "7 agentes fallaron al sincronizar".into(),
            details: "Sincronización #3: 7 de 20.\n• Ana <A&B>: token → pide a Ana que use /conectar\nQué hacer: x"
                .into(),
            state: AlertState::Firing,
            starts_at: t,
            cleared_at: None,
            ends_at: None,
            notified_at: None,
            last_chat_at: None,
            chat_count: 0,
            last_email_at: None,
            email_count: 0,
            resolved_sent_at: None,
            updated_at: t,
        }
    }

    #[test]
    fn email_has_the_severity_in_the_subject_and_escapes_html() {
        let a = record();
        let e = email(&a, "RE/MAX Centro", chrono_tz::America::Mexico_City, a.starts_at);
        assert_eq!(e.subject, "[pulso] URGENTE: 7 agentes fallaron al sincronizar");
        assert!(e.text.contains("• Ana <A&B>: token → pide a Ana que use /conectar"));
        assert!(
            e.html
                .contains("<li>Ana &lt;A&amp;B&gt;: token → pide a Ana que use /conectar</li>")
        );
        assert!(e.text.contains("26/11/2026 09:00"));
    }

    #[test]
    fn chat_texts() {
        let mut a = record();
        let now = a.starts_at + chrono::Duration::hours(4);
        assert!(chat_firing(&a, false, now).starts_with("🚨 URGENTE: 7 agentes fallaron"));
        assert!(chat_firing(&a, true, now).contains("sigue activa, empezó hace 4 horas"));
        a.cleared_at = Some(now);
        assert_eq!(
            chat_resolved(&a, now),
            "✅ Resuelto: 7 agentes fallaron al sincronizar (duró 4 h 00 min)"
        );
    }
}

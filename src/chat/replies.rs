//! Spanish reply text. Pure functions over query results: no I/O, so every wording is testable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::commands::{Audience, COMMANDS};
use super::permissions::Identity;
use super::text::{bold, plain};
use crate::domain::freshness::footer;
use crate::domain::{Freshness, JobStatus, KpiLine, Post, RankedAgent, SyncJob, hace, thousands};
use crate::queries::AgentCard;
use crate::store::BudgetUsage;
use crate::sync::{JobReport, Progress};

/// "123,4": a score with one decimal and a Spanish comma.
pub fn score(s: f64) -> String {
    let s = if s.is_finite() { s } else { 0.0 };
    let whole = s.trunc() as i64;
    let tenth = ((s - s.trunc()).abs() * 10.0).round() as i64;
    let (whole, tenth) = if tenth == 10 {
        (whole + s.signum() as i64, 0)
    } else {
        (whole, tenth)
    };
    format!("{},{tenth}", thousands(whole))
}

/// One KPI line: "👁️ Vistas: 12.345 (+12,5 % ▲)".
pub fn kpi_line(line: &KpiLine) -> String {
    let arrow = line.delta.arrow();
    let delta = if arrow.is_empty() {
        line.delta.label()
    } else {
        format!("{} {arrow}", line.delta.label())
    };
    format!(
        "{} {}: {} ({delta})",
        line.kpi.emoji(),
        line.kpi.label(),
        line.kpi.format(line.value)
    )
}

/// The KPI card of one agent: title with period and dates, all 11 KPIs with Δ%, score, the period's
/// most engaging posts (`top_posts`, best first), the Instagram block when the agent has an account
/// (see `chat::instagram::card_block`) and the footer.
pub fn card_text(card: &AgentCard, top_posts: &[&Post], instagram: Option<&str>, now: DateTime<Utc>) -> String {
    let mut out = vec![
        format!(
            "📊 {}",
            bold(&format!("{} · {}", plain(&card.agent.name), card.period.label()))
        ),
        format!(
            "{} · comparado con {}",
            card.range.label(),
            card.range.previous().label()
        ),
    ];
    out.extend(card.lines.iter().map(kpi_line));
    out.push(format!(
        "🏅 Puntuación: {}",
        score(crate::domain::performance_score(&card.current))
    ));
    if !card.current.has_data() {
        out.push("Sin datos en este periodo.".into());
    }
    out.extend(card.note.clone());
    out.push(String::new());
    out.push(bold("📝 Publicaciones destacadas"));
    out.push(crate::export::top_posts_text(top_posts));
    out.extend(instagram.map(str::to_string));
    out.push(footer(card.agent.last_synced_at, now));
    out.join("\n")
}

/// The admin's ranking list (top `limit`), with the team average.
pub fn ranking_text(title: &str, range_label: &str, ranked: &[RankedAgent], average: f64, limit: usize) -> String {
    let mut out = vec![
        format!("🏆 {}", bold(title)),
        format!("{range_label} · puntuación compuesta"),
    ];
    if ranked.is_empty() {
        out.push("No hay agentes todavía.".into());
    }
    for r in ranked.iter().take(limit) {
        out.push(format!("{}. {} — {}", r.position, plain(&r.name), score(r.score)));
    }
    if ranked.len() > limit {
        out.push(format!("… y {} agentes más", ranked.len() - limit));
    }
    if !ranked.is_empty() {
        out.push(format!("Promedio del equipo: {}", score(average)));
    }
    out.join("\n")
}

/// An agent's own position: nothing about anyone else.
pub fn own_position_text(title: &str, range_label: &str, position: usize, of: usize, own_score: f64) -> String {
    [
        format!("🏆 {}", bold(title)),
        range_label.to_string(),
        format!("Estás en el puesto {position} de {of}."),
        format!("Tu puntuación: {}", score(own_score)),
    ]
    .join("\n")
}

/// 8-cell bar: "▓▓▓░░░░░".
pub fn bar(done: usize, total: usize) -> String {
    let cells = 8;
    let filled = (done * cells).checked_div(total).unwrap_or(cells).min(cells);
    format!("{}{}", "▓".repeat(filled), "░".repeat(cells - filled))
}

/// "45 s", "2 min 05 s", "1 h 05 min".
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{s} s")
    }
}

/// The live progress line: "🔄 Sincronizando 5/20 agentes… [▓▓░░░░░░] 25% · Juan Pérez · ~40 s restantes".
pub fn progress_text(p: &Progress) -> String {
    let mut s = format!(
        "🔄 Sincronizando {}/{} agentes… [{}] {}%",
        p.done,
        p.total,
        bar(p.done, p.total),
        p.percent()
    );
    if let Some(name) = &p.current_agent {
        s.push_str(&format!(" · {}", plain(name)));
    }
    if let Some(eta) = p.eta {
        s.push_str(&format!(" · ~{} restantes", duration(eta)));
    }
    s
}

/// "⏸️ En pausa hasta las 15:00 por límite de la API · 5/20 agentes [▓▓░░░░░░] 25%".
pub fn paused_text(p: &Progress, until: DateTime<Utc>, tz: Tz) -> String {
    format!(
        "⏸️ En pausa hasta las {} por límite de la API · {}/{} agentes [{}] {}%",
        until.with_timezone(&tz).format("%H:%M"),
        p.done,
        p.total,
        bar(p.done, p.total),
        p.percent()
    )
}

pub const QUEUED_TEXT: &str = "⏳ En cola: empieza cuando termine la actualización masiva en curso…";

pub fn starting_text(total: usize) -> String {
    format!("🔄 Sincronizando 0/{total} agentes… [{}] 0%", bar(0, total))
}

/// The final report of a sync: synced / failed with reasons / skipped.
pub fn report_text(r: &JobReport) -> String {
    let title = match r.status {
        _ if r.synced.is_empty() && r.failed.is_empty() && r.deferred.is_empty() => {
            "⏭️ No se actualizó ningún agente: todos fueron omitidos"
        }
        JobStatus::Completed if !r.deferred.is_empty() => "⚠️ Actualización terminada con agentes en espera",
        JobStatus::Completed => "✅ Datos actualizados exitosamente",
        JobStatus::Partial => "⚠️ Actualización terminada con errores",
        _ => "❌ La actualización falló",
    };
    let total = r.synced.len() + r.failed.len() + r.skipped.len() + r.deferred.len();
    let mut out = vec![
        bold(title),
        format!(
            "Sincronizados: {}/{total} · Fallidos: {} · Omitidos: {}",
            r.synced.len(),
            r.failed.len(),
            r.skipped.len()
        ),
    ];
    if !r.deferred.is_empty() {
        out.push(format!("En espera por el límite de su página: {}", r.deferred.len()));
    }
    for (label, list) in [
        ("❌ Fallidos:", &r.failed),
        ("⏭️ Omitidos:", &r.skipped),
        ("⏳ En espera (límite de llamadas de su página):", &r.deferred),
    ] {
        if !list.is_empty() {
            out.push(label.to_string());
            for a in list.iter().take(25) {
                let reason = a.reason.as_deref().map(plain).unwrap_or_else(|| "sin detalle".into());
                out.push(format!("• {}: {}", plain(&a.name), reason));
            }
            if list.len() > 25 {
                out.push(format!("• … y {} más", list.len() - 25));
            }
        }
    }
    let mut last = format!(
        "Llamadas a la API: {} · Duración: {}",
        r.api_calls,
        duration(r.duration)
    );
    if !r.paused_for.is_zero() {
        last.push_str(&format!(" (en pausa {})", duration(r.paused_for)));
    }
    out.push(last);
    out.join("\n")
}

/// A report rebuilt from the job row, when the live report was missed.
pub fn job_summary_text(job: &SyncJob) -> String {
    format!(
        "{}\nSincronizados: {}/{} · Fallidos: {} · Omitidos: {}",
        bold(job.status.label()),
        job.synced_agents,
        job.total_agents,
        job.failed_agents,
        job.skipped_agents
    )
}

/// 🟢 < 50 %, 🟡 50–80 %, 🔴 > 80 %, ⛔ 100 % (blocked).
pub fn budget_line(u: &BudgetUsage) -> String {
    let pct = u.percent();
    let (icon, note) = if pct >= 100.0 {
        ("⛔", " · bloqueado hasta la próxima hora")
    } else if pct > 80.0 {
        ("🔴", "")
    } else if pct >= 50.0 {
        ("🟡", "")
    } else {
        ("🟢", "")
    };
    format!(
        "{icon} Presupuesto de la API: {:.0} % ({} de {} llamadas esta hora){note}",
        pct.min(100.0),
        thousands(u.calls_made),
        thousands(u.max_calls)
    )
}

/// One agent's freshness: "✅ Ana García — hace 3 horas (Actualizado recientemente)".
pub fn freshness_line(name: &str, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let f = Freshness::of(last, now);
    let when = last.map(|t| hace(t, now)).unwrap_or_else(|| "nunca".into());
    format!("{} {} — {when} ({})", f.badge(), plain(name), f.label())
}

/// `/ayuda`: the caller's commands and the metric definitions.
pub fn help_text(identity: &Identity) -> String {
    let linked = identity.agent().is_some();
    let mut out = vec![bold("Comandos de pulso")];
    for c in COMMANDS {
        let shown = match c.audience {
            Audience::Everyone => true,
            Audience::Admins => identity.is_admin(),
            Audience::Agents => linked,
            Audience::AdminsAndAgents => identity.is_admin() || linked,
        };
        if shown {
            out.push(format!("{} — {}", c.usage, c.description));
        }
    }
    if !identity.is_admin() && !linked {
        out.push(String::new());
        out.push(super::permissions::LINK_HINT.to_string());
    }
    out.push(String::new());
    out.push(bold("Periodos"));
    out.push("hoy · semana (7d) · mes (30d) · 6meses (180d). Los cambios (Δ %) comparan con el periodo anterior de la misma duración.".into());
    out.push(String::new());
    out.push(bold("Ranking por red"));
    out.push("/ranking mes instagram — la red va después o antes del periodo: facebook (por defecto), instagram o total (la suma de las dos puntuaciones).".into());
    out.push(String::new());
    out.push(bold("Métricas"));
    out.extend(
        [
            "Seguidores: personas que siguen la página (al final del periodo).",
            "Vistas: veces que se vio el contenido de la página.",
            "Alcance: personas distintas que vieron el contenido (suma de cada día).",
            "Interacciones con publicaciones: reacciones, comentarios, compartidos y clics.",
            "Publicaciones: publicaciones hechas en el periodo.",
            "Reacciones, Comentarios, Compartidos: sobre las publicaciones del periodo.",
            "Clics en enlaces: clics en los enlaces de las publicaciones.",
            "Clics a WhatsApp: clics en enlaces a wa.me o api.whatsapp.com.",
            "Tasa de interacción: (reacciones + comentarios + compartidos) ÷ vistas.",
            "Puntuación: publicaciones × 10 + vistas ÷ 1.000 + alcance ÷ 500 + clics × 5.",
        ]
        .map(|s| format!("• {s}")),
    );
    out.push(String::new());
    out.push(bold("Métricas de Instagram"));
    out.extend(crate::domain::card_instagram::instagram_help_lines());
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobKind, RankedAgent};

    #[test]
    fn scores_and_bars() {
        assert_eq!(score(1234.56), "1.234,6");
        assert_eq!(score(0.0), "0,0");
        assert_eq!(score(9.96), "10,0");
        assert_eq!(bar(5, 20), "▓▓░░░░░░");
        assert_eq!(bar(0, 0), "▓▓▓▓▓▓▓▓");
        assert_eq!(duration(Duration::from_secs(125)), "2 min 05 s");
    }

    #[test]
    fn progress_line_follows_the_seed() {
        let p = Progress {
            job_id: 1,
            kind: JobKind::Bulk,
            done: 5,
            total: 20,
            current_agent: Some("Juan Pérez".into()),
            elapsed: Duration::from_secs(13),
            eta: Some(Duration::from_secs(40)),
            paused_until: None,
        };
        assert_eq!(
            progress_text(&p),
            "🔄 Sincronizando 5/20 agentes… [▓▓░░░░░░] 25% · Juan Pérez · ~40 s restantes"
        );
    }

    #[test]
    fn budget_colours() {
        let u = |calls| BudgetUsage {
            hour_window: Utc::now(),
            calls_made: calls,
            max_calls: 200,
            rate_limit_hits: 0,
            peak_usage_pct: 0,
        };
        assert!(budget_line(&u(20)).starts_with("🟢"));
        assert!(budget_line(&u(100)).starts_with("🟡"));
        assert!(budget_line(&u(170)).starts_with("🔴"));
        assert!(budget_line(&u(200)).starts_with("⛔"));
    }

    #[test]
    fn ranking_lists_the_top() {
        let r = |p, n: &str, s| RankedAgent {
            position: p,
            agent_id: p as i64,
            name: n.into(),
            score: s,
            totals: Default::default(),
        };
        let text = ranking_text("Ranking", "x", &[r(1, "Ana", 10.0), r(2, "Beto", 5.0)], 7.5, 1);
        assert!(text.contains("1. Ana — 10,0"));
        assert!(text.contains("… y 1 agentes más"));
        assert!(!text.contains("Beto"));
    }
}

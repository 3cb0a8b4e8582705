//! The Spanish text of the team summaries. Pure functions over query results.

use crate::chat::replies::{kpi_line, report_text, score};
use crate::chat::text::{bold, plain};
use crate::domain::{RankedAgent, kpi_lines, month_label, thousands};
use crate::queries::TeamView;
use crate::store::ApiUsageSummary;
use crate::sync::JobReport;

/// Agents named in a summary's podium.
const PODIUM: usize = 3;

/// Posted to the team after every bulk sync.
pub fn completion_text(report: &JobReport) -> String {
    format!(
        "🏁 {}\n{}",
        bold("Sincronización del equipo terminada"),
        report_text(report)
    )
}

/// The week that ended against the week before: team KPIs, podium, biggest climb and fall, then
/// the Instagram section (`instagram`, from `chat::instagram::team_instagram_text`; empty: none).
pub fn weekly_text(current: &TeamView, previous: &TeamView, instagram: &[String]) -> String {
    let mut out = vec![
        format!("📅 {}", bold(&format!("Resumen semanal · {}", current.range.label()))),
        format!("Comparado con la semana anterior ({})", previous.range.label()),
    ];
    out.extend(team_lines(current, previous));
    out.extend(movers(current, previous));
    out.extend(instagram.iter().cloned());
    out.join("\n")
}

/// The month that ended against the month before, its Instagram section (`instagram`, may be
/// empty), and the month's use of the Graph API.
pub fn monthly_text(current: &TeamView, previous: &TeamView, instagram: &[String], usage: &ApiUsageSummary) -> String {
    let mut out = vec![
        format!(
            "🗓️ {}",
            bold(&format!("Resumen mensual · {}", month_label(current.range.from)))
        ),
        format!(
            "{} · comparado con {}",
            current.range.label(),
            month_label(previous.range.from)
        ),
    ];
    out.extend(team_lines(current, previous));
    out.extend(instagram.iter().cloned());
    out.push(String::new());
    out.push(bold("🔌 Uso de la API de Facebook"));
    out.extend(usage_lines(usage));
    out.join("\n")
}

/// Team KPIs with Δ%, who had data, the podium and the team's average score.
fn team_lines(current: &TeamView, previous: &TeamView) -> Vec<String> {
    let mut out: Vec<String> = kpi_lines(&current.team.totals, &previous.team.totals)
        .iter()
        .map(kpi_line)
        .collect();
    out.push(format!(
        "Agentes con datos: {} de {}",
        current.team.agents_with_data, current.team.agents
    ));
    let podium: Vec<&RankedAgent> = current
        .ranked
        .iter()
        .filter(|r| r.totals.has_data())
        .take(PODIUM)
        .collect();
    if podium.is_empty() {
        out.push("Sin datos de ningún agente en este periodo.".into());
        return out;
    }
    out.push(String::new());
    out.push(bold("🏆 Mejores del periodo"));
    let medals = ["🥇", "🥈", "🥉"];
    for (r, medal) in podium.iter().zip(medals) {
        out.push(format!("{medal} {} — {}", plain(&r.name), score(r.score)));
    }
    out.push(format!(
        "Promedio del equipo: {} (antes {})",
        score(current.average_score),
        score(previous.average_score)
    ));
    out
}

/// The agent who climbed most places and the one who fell most, among agents with data both times.
fn movers(current: &TeamView, previous: &TeamView) -> Vec<String> {
    let mut changes: Vec<(&RankedAgent, usize, i64)> = current
        .ranked
        .iter()
        .filter(|r| r.totals.has_data())
        .filter_map(|r| {
            let before = previous
                .ranked
                .iter()
                .find(|p| p.agent_id == r.agent_id && p.totals.has_data())?;
            Some((r, before.position, before.position as i64 - r.position as i64))
        })
        .collect();
    // Ties go to the better-placed agent, so the text does not depend on the order of the query.
    changes.sort_by_key(|(r, _, change)| (std::cmp::Reverse(*change), r.position));
    let mut out = Vec::new();
    if let Some((r, before, change)) = changes.first().filter(|(_, _, c)| *c > 0) {
        out.push(format!(
            "📈 Más subió: {} (+{change} {}: del {before}.º al {}.º)",
            plain(&r.name),
            if *change == 1 { "puesto" } else { "puestos" },
            r.position
        ));
    }
    if let Some((r, before, change)) = changes.last().filter(|(_, _, c)| *c < 0) {
        out.push(format!(
            "📉 Más bajó: {} (−{} {}: del {before}.º al {}.º)",
            plain(&r.name),
            change.unsigned_abs(),
            if *change == -1 { "puesto" } else { "puestos" },
            r.position
        ));
    }
    out
}

fn usage_lines(u: &ApiUsageSummary) -> Vec<String> {
    if u.calls_made == 0 && u.bulk_syncs + u.single_syncs == 0 {
        return vec!["No hubo sincronizaciones este mes.".into()];
    }
    let per_hour = u.calls_made.checked_div(u.active_hours).unwrap_or(0);
    let mut out = vec![format!(
        "Llamadas: {} en {} {} con actividad (promedio {} por hora)",
        thousands(u.calls_made),
        thousands(u.active_hours),
        if u.active_hours == 1 { "hora" } else { "horas" },
        thousands(per_hour)
    )];
    if u.hourly_budget > 0 {
        out.push(format!(
            "Hora más intensa: {} de {} llamadas ({} %)",
            thousands(u.busiest_hour_calls),
            thousands(u.hourly_budget),
            u.busiest_hour_calls * 100 / u.hourly_budget
        ));
    }
    let mut limits = format!("Límites de Facebook alcanzados: {}", thousands(u.rate_limit_hits));
    if u.peak_usage_pct > 0 {
        limits.push_str(&format!(" · uso máximo informado: {} %", u.peak_usage_pct));
    }
    out.push(limits);
    out.push(format!(
        "Sincronizaciones: {} {} y {} {} · agentes con error: {}",
        thousands(u.bulk_syncs),
        if u.bulk_syncs == 1 { "masiva" } else { "masivas" },
        thousands(u.single_syncs),
        if u.single_syncs == 1 {
            "individual"
        } else {
            "individuales"
        },
        thousands(u.failed_agents)
    ));
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::chat::text::to_console;
    use crate::domain::ranking::average_score;
    use crate::domain::{AgentTotals, DateRange, TeamTotals, rank};

    fn view(from: u32, views: &[(i64, &str, i64)]) -> TeamView {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let ranked = rank(views.iter().map(|&(id, name, v)| {
            let totals = AgentTotals {
                impressions: Some(v),
                reach: Some(v / 2),
                days_with_data: i64::from(v > 0),
                ..Default::default()
            };
            (id, name.to_string(), totals)
        }));
        TeamView {
            range: DateRange::new(day(from), day(from + 6)),
            average_score: average_score(&ranked),
            team: TeamTotals::from_agents(ranked.iter().map(|r| &r.totals)),
            ranked,
            agents: Vec::new(),
        }
    }

    #[test]
    fn the_weekly_summary_names_the_podium_and_who_climbed_and_fell_most() {
        let before = view(
            9,
            &[(1, "Ana", 9000), (2, "Beto", 5000), (3, "Carla", 1000), (4, "Nadie", 0)],
        );
        let now = view(
            16,
            &[(1, "Ana", 1000), (2, "Beto", 6000), (3, "Carla", 8000), (4, "Nadie", 0)],
        );
        let text = to_console(&weekly_text(&now, &before, &[]));
        assert!(text.starts_with("📅 Resumen semanal · 16/11–22/11/2026\n"), "{text}");
        assert!(
            text.contains("Comparado con la semana anterior (09/11–15/11/2026)"),
            "{text}"
        );
        assert!(text.contains("👁️ Vistas: 15.000 (0 %)"), "{text}");
        assert!(text.contains("Promedio del equipo: 7,5 (antes 7,5)"), "{text}");
        assert!(text.contains("Agentes con datos: 3 de 4"), "{text}");
        let podium: Vec<&str> = text
            .lines()
            .filter(|l| ["🥇", "🥈", "🥉"].iter().any(|m| l.starts_with(m)))
            .collect();
        assert_eq!(podium.len(), 3, "agents without data stay off the podium: {text}");
        assert!(podium[0].starts_with("🥇 Carla"), "{text}");
        assert!(
            text.contains("📈 Más subió: Carla (+2 puestos: del 3.º al 1.º)"),
            "{text}"
        );
        assert!(text.contains("📉 Más bajó: Ana (−2 puestos: del 1.º al 3.º)"), "{text}");
    }

    #[test]
    fn a_month_without_syncs_or_data_says_so_plainly() {
        let empty = view(1, &[(1, "Ana", 0)]);
        let text = to_console(&monthly_text(&empty, &empty, &[], &ApiUsageSummary::default()));
        assert!(text.starts_with("🗓️ Resumen mensual · noviembre de 2026"), "{text}");
        assert!(text.contains("Sin datos de ningún agente en este periodo."), "{text}");
        assert!(text.contains("No hubo sincronizaciones este mes."), "{text}");
        assert!(!text.contains("Más subió"), "{text}");
    }
}

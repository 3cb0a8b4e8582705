//! The Instagram block of a KPI card, the team's Instagram lines and top media: pure formatting
//! over stored numbers. Unknown is "—", never 0; a change compares only days known in both periods
//! (see [`super::instagram::shared_instagram_days`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::card::{counted, thousands};
use super::instagram::{ACCOUNT_METRICS, InstagramMedia, InstagramTotals};
use super::metrics::{Delta, delta_pct};
use super::text::{chat_excerpt, outside_line};

/// The Instagram metrics a card shows, in reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum IgKpi {
    Followers,
    NewFollowers,
    Views,
    Reach,
    Interactions,
    ProfileLinksTaps,
    Media,
}

impl IgKpi {
    pub const ALL: [IgKpi; 7] = [
        IgKpi::Followers,
        IgKpi::NewFollowers,
        IgKpi::Views,
        IgKpi::Reach,
        IgKpi::Interactions,
        IgKpi::ProfileLinksTaps,
        IgKpi::Media,
    ];

    pub fn label(self) -> &'static str {
        match self {
            IgKpi::Followers => "Seguidores",
            IgKpi::NewFollowers => "Nuevos seguidores",
            IgKpi::Views => "Visualizaciones",
            IgKpi::Reach => "Cuentas alcanzadas",
            IgKpi::Interactions => "Interacciones totales",
            IgKpi::ProfileLinksTaps => "Toques en enlaces del perfil",
            IgKpi::Media => "Publicaciones",
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            IgKpi::Followers => "👥",
            IgKpi::NewFollowers => "➕",
            IgKpi::Views => "👁️",
            IgKpi::Reach => "📡",
            IgKpi::Interactions => "🙌",
            IgKpi::ProfileLinksTaps => "🔗",
            IgKpi::Media => "🖼️",
        }
    }

    /// The value in a period's totals; None = Instagram has not published it.
    pub fn value(self, t: &InstagramTotals) -> Option<i64> {
        match self {
            IgKpi::Followers => t.followers,
            IgKpi::NewFollowers => t.new_followers,
            IgKpi::Views => t.views,
            IgKpi::Reach => t.reach,
            IgKpi::Interactions => t.total_interactions,
            IgKpi::ProfileLinksTaps => t.profile_links_taps,
            IgKpi::Media => t.media,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IgLine {
    pub kpi: IgKpi,
    pub value: Option<i64>,
    pub delta: Delta,
}

/// Every Instagram KPI showing `current`, each change computed between `basis_current` and
/// `basis_previous` (the two periods restricted to the days known in both).
pub fn instagram_lines(
    current: &InstagramTotals,
    basis_current: &InstagramTotals,
    basis_previous: &InstagramTotals,
) -> Vec<IgLine> {
    IgKpi::ALL
        .into_iter()
        .map(|kpi| {
            let value = kpi.value(current);
            let delta = match (value, kpi.value(basis_current)) {
                (Some(_), Some(now)) => delta_pct(now as f64, kpi.value(basis_previous).map(|v| v as f64)),
                _ => Delta::NotComparable,
            };
            IgLine { kpi, value, delta }
        })
        .collect()
}

/// "👁️ Visualizaciones: 1.234 (+5,0 % ▲)"; "—" for unknown.
pub fn instagram_line_text(line: &IgLine) -> String {
    let value = line.value.map(thousands).unwrap_or_else(|| "—".into());
    let arrow = line.delta.arrow();
    let delta = if arrow.is_empty() {
        line.delta.label()
    } else {
        format!("{} {arrow}", line.delta.label())
    };
    format!("{} {}: {value} ({delta})", line.kpi.emoji(), line.kpi.label())
}

/// The block's title without markup: "Instagram (@ana.casas)"; the username is outside text.
pub fn instagram_title(username: Option<&str>) -> String {
    match username.map(outside_line).filter(|u| !u.is_empty()) {
        Some(u) => format!("Instagram (@{})", u.trim_start_matches('@')),
        None => "Instagram".into(),
    }
}

/// The freshness line when the period's latest days have no account insights yet (`missing` of
/// `range_days`, counted back from the period's last day).
pub fn instagram_freshness_note(missing: i64, range_days: i64) -> Option<String> {
    const LAG: &str = "ℹ️ Instagram publica con hasta 48 h de retraso";
    match missing {
        m if m <= 0 => None,
        m if m >= range_days && range_days == 1 => Some(format!("{LAG}: aún no hay datos de este día (—).")),
        m if m >= range_days => Some(format!("{LAG}: aún no hay datos de este periodo (—).")),
        1 => Some(format!(
            "{LAG}: falta el último día (—); el cambio compara solo días con datos en ambos periodos."
        )),
        m => Some(format!(
            "{LAG}: faltan los últimos {m} días (—); el cambio compara solo días con datos en ambos periodos."
        )),
    }
}

/// "1. 20/11 · reel · «Casa con alberca…» · 34 interacciones · 340 visualizaciones", one line per
/// media item, numbered in the given order; `owner` adds "· Ana García" (team lists). Dates are the
/// item's UTC calendar day, like Facebook posts.
pub fn top_media_text(media: &[(&InstagramMedia, Option<&str>)]) -> String {
    if media.is_empty() {
        return "Sin publicaciones de Instagram en este periodo".to_string();
    }
    media
        .iter()
        .enumerate()
        .map(|(i, (m, owner))| {
            let excerpt = chat_excerpt(&m.excerpt);
            let mut line = format!(
                "{}. {} · {} · {} · {}",
                i + 1,
                m.created_at.format("%d/%m"),
                m.kind.label(),
                excerpt,
                counted(m.engagement(), "interacción", "interacciones"),
            );
            if let Some(views) = m.views {
                line.push_str(&format!(" · {}", counted(views, "visualización", "visualizaciones")));
            }
            if let Some(owner) = owner {
                line.push_str(&format!(" · {}", outside_line(owner)));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Short definitions of the account metrics, by Graph name (the names come from [`ACCOUNT_METRICS`]).
fn definition(metric: &str) -> &'static str {
    match metric {
        "views" => "veces que se vio el contenido de la cuenta",
        "reach" => "cuentas distintas que vieron el contenido (suma de cada día)",
        "accounts_engaged" => "cuentas distintas que interactuaron con el contenido",
        "total_interactions" => "me gusta, comentarios, guardados, compartidos y respuestas",
        "likes" => "me gusta en las publicaciones",
        "comments" => "comentarios en las publicaciones",
        "shares" => "veces que se compartieron las publicaciones",
        "saves" => "veces que se guardaron las publicaciones",
        "profile_links_taps" => "toques en los enlaces y botones del perfil (sitio web, WhatsApp, llamar…)",
        _ => "métrica de la cuenta de Instagram",
    }
}

/// `/ayuda`'s Instagram lines: every account metric pulso reads, by its Spanish name, plus the
/// numbers pulso derives and the Instagram score.
pub fn instagram_help_lines() -> Vec<String> {
    let mut out = vec![
        "• Seguidores: seguidores de la cuenta (el último dato del periodo).".to_string(),
        "• Nuevos seguidores: seguidores ganados cada día (Instagram no lo da con menos de 100 seguidores).".into(),
    ];
    out.extend(ACCOUNT_METRICS.iter().map(|(metric, name)| {
        let mut chars = name.chars();
        let name: String = chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default();
        format!("• {name}: {}.", definition(metric))
    }));
    out.push("• Publicaciones: publicaciones, reels y carruseles del periodo.".into());
    out.push(
        "• Puntuación Instagram: publicaciones × 10 + visualizaciones ÷ 1.000 + alcance ÷ 500 + toques en enlaces × 5."
            .into(),
    );
    out.push("Instagram publica con hasta 48 h de retraso: los días sin datos se muestran como —.".into());
    out
}

/// "hasta las 15:30" style time is formatted by the caller (it knows the office zone); this only
/// says whether a pause is still in force.
pub fn instagram_paused(until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    until.filter(|u| *u > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MediaKind;

    #[test]
    fn unknown_is_a_dash_and_changes_use_the_basis() {
        let cur = InstagramTotals {
            views: Some(150),
            days_with_data: 2,
            ..Default::default()
        };
        let basis_prev = InstagramTotals {
            views: Some(100),
            days_with_data: 2,
            ..Default::default()
        };
        let lines = instagram_lines(&cur, &cur, &basis_prev);
        let views = lines.iter().find(|l| l.kpi == IgKpi::Views).unwrap();
        assert_eq!(instagram_line_text(views), "👁️ Visualizaciones: 150 (+50,0 % ▲)");
        let reach = lines.iter().find(|l| l.kpi == IgKpi::Reach).unwrap();
        assert_eq!(instagram_line_text(reach), "📡 Cuentas alcanzadas: — (—)");
    }

    #[test]
    fn captions_are_data() {
        let m = InstagramMedia {
            media_id: "1".into(),
            created_at: DateTime::parse_from_rfc3339("2026-11-20T15:00:00Z").unwrap().to_utc(),
            kind: MediaKind::Reel,
            excerpt: "hola\n2. falso \u{E000}@everyone\u{202e}".into(),
            permalink: None,
            likes: Some(3),
            comments: None,
            views: Some(1000),
            reach: None,
            saves: None,
            shares: None,
            total_interactions: None,
        };
        let text = top_media_text(&[(&m, Some("Ana\nGarcía"))]);
        assert_eq!(text.lines().count(), 1);
        assert!(!text.contains('\u{E000}') && !text.contains('\u{202e}'));
        assert_eq!(
            text,
            "1. 20/11 · reel · «hola 2. falso @\u{200b}everyone» · 3 interacciones · 1.000 visualizaciones · Ana García"
        );
        assert_eq!(instagram_title(Some("@ana.casas\u{E001}")), "Instagram (@ana.casas)");
    }

    #[test]
    fn help_names_every_account_metric() {
        let help = instagram_help_lines().join("\n").to_lowercase();
        for (_, name) in ACCOUNT_METRICS {
            assert!(help.contains(name), "{name}");
        }
    }
}

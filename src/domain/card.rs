use serde::Serialize;

use super::metrics::{AgentTotals, Delta, delta_pct};

/// The metrics of a KPI card, in the order people read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Kpi {
    Followers,
    Views,
    Reach,
    EngagedUsers,
    Posts,
    Reactions,
    Comments,
    Shares,
    LinkClicks,
    WhatsappClicks,
    EngagementRate,
}

impl Kpi {
    pub const ALL: [Kpi; 11] = [
        Kpi::Followers,
        Kpi::Views,
        Kpi::Reach,
        Kpi::EngagedUsers,
        Kpi::Posts,
        Kpi::Reactions,
        Kpi::Comments,
        Kpi::Shares,
        Kpi::LinkClicks,
        Kpi::WhatsappClicks,
        Kpi::EngagementRate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kpi::Followers => "Seguidores",
            Kpi::Views => "Vistas",
            Kpi::Reach => "Alcance",
            Kpi::EngagedUsers => "Interacciones con publicaciones",
            Kpi::Posts => "Publicaciones",
            Kpi::Reactions => "Reacciones",
            Kpi::Comments => "Comentarios",
            Kpi::Shares => "Compartidos",
            Kpi::LinkClicks => "Clics en enlaces",
            Kpi::WhatsappClicks => "Clics a WhatsApp",
            Kpi::EngagementRate => "Tasa de interacción",
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Kpi::Followers => "👥",
            Kpi::Views => "👁️",
            Kpi::Reach => "📡",
            Kpi::EngagedUsers => "🙌",
            Kpi::Posts => "📝",
            Kpi::Reactions => "❤️",
            Kpi::Comments => "💬",
            Kpi::Shares => "🔁",
            Kpi::LinkClicks => "🔗",
            Kpi::WhatsappClicks => "📲",
            Kpi::EngagementRate => "📈",
        }
    }

    /// The value of this metric in a period's totals (None: Facebook has not published it).
    pub fn value(self, t: &AgentTotals) -> Option<f64> {
        let v = match self {
            Kpi::Followers => return t.followers.map(|f| f as f64),
            Kpi::Views => return t.impressions.map(|v| v as f64),
            Kpi::Reach => return t.reach.map(|v| v as f64),
            Kpi::EngagedUsers => return t.engaged_users.map(|v| v as f64),
            Kpi::Posts => t.posts,
            Kpi::Reactions => t.reactions,
            Kpi::Comments => t.comments,
            Kpi::Shares => t.shares,
            Kpi::LinkClicks => t.link_clicks,
            Kpi::WhatsappClicks => t.whatsapp_clicks,
            Kpi::EngagementRate => return t.engagement_rate().map(|r| r * 100.0),
        };
        Some(v as f64)
    }

    /// Days of the period on which this metric is known, for Page metrics (from Page insights);
    /// `None` for post metrics, which are known for every day whose posts were read.
    pub fn known_days(self, t: &AgentTotals) -> Option<i64> {
        match self {
            Kpi::Views | Kpi::EngagementRate => Some(t.impressions_days),
            Kpi::Reach => Some(t.reach_days),
            Kpi::EngagedUsers => Some(t.engaged_days),
            _ => None,
        }
    }

    /// "1.234", "4,2 %" — Spanish number formatting.
    pub fn format(self, value: Option<f64>) -> String {
        match value {
            None => "—".into(),
            Some(v) if self == Kpi::EngagementRate => format!("{} %", format!("{v:.1}").replace('.', ",")),
            Some(v) => thousands(v.round() as i64),
        }
    }
}

/// 1234567 → "1.234.567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "1 clic", "1.234 clics": a count with its noun in the right number.
pub fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiLine {
    pub kpi: Kpi,
    pub value: Option<f64>,
    #[serde(skip)]
    pub delta: Delta,
}

/// Every KPI of a period with its change against the previous period of equal length. Without any
/// data in the previous period, every change is "—"; a Page metric's change is "—" too unless both
/// periods know it on the same number of days (see [`kpi_lines_compared`] for an exact pairing).
pub fn kpi_lines(current: &AgentTotals, previous: &AgentTotals) -> Vec<KpiLine> {
    kpi_lines_compared(current, current, previous)
}

/// KPI lines showing `current`, with each change computed between `basis_current` and
/// `basis_previous`: the two periods restricted to the days known in both (built with
/// [`crate::domain::shared_known_days`]), so unpublished days never compare against published ones.
pub fn kpi_lines_compared(
    current: &AgentTotals,
    basis_current: &AgentTotals,
    basis_previous: &AgentTotals,
) -> Vec<KpiLine> {
    Kpi::ALL
        .into_iter()
        .map(|kpi| {
            let value = kpi.value(current);
            let same_days = kpi.known_days(basis_current) == kpi.known_days(basis_previous);
            let before = if basis_previous.has_data() && same_days {
                kpi.value(basis_previous)
            } else {
                None
            };
            let delta = match kpi.value(basis_current) {
                Some(v) if value.is_some() => delta_pct(v, before),
                _ => Delta::NotComparable,
            };
            KpiLine { kpi, value, delta }
        })
        .collect()
}

/// The line a card adds when some Page metrics of the period are not published yet: Facebook
/// publishes a day's Page insights only after the (Pacific) day is over, often hours later.
pub fn unpublished_note(t: &AgentTotals, range_days: i64, includes_today: bool) -> Option<String> {
    if !t.has_data() && t.posts == 0 {
        return None;
    }
    let missing = range_days - t.impressions_days.min(t.reach_days).min(t.engaged_days);
    match missing {
        m if m <= 0 => None,
        m if m == range_days && includes_today && range_days == 1 => {
            Some("ℹ️ Facebook aún no publica las métricas de página de hoy (—).".to_string())
        }
        m if m == range_days => {
            Some("ℹ️ Facebook aún no publica las métricas de página de este periodo (—).".to_string())
        }
        1 => Some("ℹ️ Facebook aún no publica las métricas de página de 1 día del periodo; se comparan solo los días publicados.".to_string()),
        m => Some(format!(
            "ℹ️ Facebook aún no publica las métricas de página de {m} días del periodo; se comparan solo los días publicados."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_use_spanish_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1.234.567");
        assert_eq!(Kpi::EngagementRate.format(Some(4.25)), "4,2 %");
        assert_eq!(Kpi::Followers.format(None), "—");
    }

    #[test]
    fn lines_compare_with_the_previous_period() {
        let cur = AgentTotals {
            impressions: Some(1500),
            impressions_days: 7,
            reactions: 30,
            followers: Some(200),
            days_with_data: 7,
            ..Default::default()
        };
        let prev = AgentTotals {
            impressions: Some(1000),
            impressions_days: 7,
            reactions: 30,
            followers: Some(100),
            days_with_data: 7,
            ..Default::default()
        };
        let lines = kpi_lines(&cur, &prev);
        let views = lines.iter().find(|l| l.kpi == Kpi::Views).unwrap();
        assert_eq!(views.delta.label(), "+50,0 %");
        let followers = lines.iter().find(|l| l.kpi == Kpi::Followers).unwrap();
        assert_eq!(followers.delta.label(), "+100,0 %");
        let none = kpi_lines(&cur, &AgentTotals::default());
        assert!(none.iter().all(|l| l.delta == Delta::NotComparable));
    }

    #[test]
    fn unknown_views_show_a_dash_and_unequal_days_do_not_compare() {
        let cur = AgentTotals {
            impressions: Some(1500),
            impressions_days: 6,
            reactions: 30,
            days_with_data: 7,
            ..Default::default()
        };
        let prev = AgentTotals {
            impressions: Some(1000),
            impressions_days: 7,
            reactions: 15,
            days_with_data: 7,
            ..Default::default()
        };
        let lines = kpi_lines(&cur, &prev);
        let views = lines.iter().find(|l| l.kpi == Kpi::Views).unwrap();
        assert_eq!(views.delta, Delta::NotComparable);
        let reactions = lines.iter().find(|l| l.kpi == Kpi::Reactions).unwrap();
        assert_eq!(reactions.delta.label(), "+100,0 %");
        let today = AgentTotals {
            posts: 2,
            days_with_data: 1,
            ..Default::default()
        };
        let lines = kpi_lines(&today, &prev);
        let views = lines.iter().find(|l| l.kpi == Kpi::Views).unwrap();
        assert_eq!(Kpi::Views.format(views.value), "—");
        assert_eq!(
            unpublished_note(&today, 1, true).unwrap(),
            "ℹ️ Facebook aún no publica las métricas de página de hoy (—)."
        );
        let all_known = AgentTotals {
            impressions_days: 6,
            reach_days: 6,
            engaged_days: 6,
            days_with_data: 6,
            ..Default::default()
        };
        assert_eq!(unpublished_note(&all_known, 6, false), None);
    }
}

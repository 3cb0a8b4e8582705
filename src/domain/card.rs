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

    /// The value of this metric in a period's totals (None: no follower data yet).
    pub fn value(self, t: &AgentTotals) -> Option<f64> {
        let v = match self {
            Kpi::Followers => return t.followers.map(|f| f as f64),
            Kpi::Views => t.impressions,
            Kpi::Reach => t.reach,
            Kpi::EngagedUsers => t.engaged_users,
            Kpi::Posts => t.posts,
            Kpi::Reactions => t.reactions,
            Kpi::Comments => t.comments,
            Kpi::Shares => t.shares,
            Kpi::LinkClicks => t.link_clicks,
            Kpi::WhatsappClicks => t.whatsapp_clicks,
            Kpi::EngagementRate => return Some(t.engagement_rate() * 100.0),
        };
        Some(v as f64)
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KpiLine {
    pub kpi: Kpi,
    pub value: Option<f64>,
    #[serde(skip)]
    pub delta: Delta,
}

/// Every KPI of a period with its change against the previous period of equal length. Without any
/// data in the previous period, every change is "—".
pub fn kpi_lines(current: &AgentTotals, previous: &AgentTotals) -> Vec<KpiLine> {
    Kpi::ALL
        .into_iter()
        .map(|kpi| {
            let value = kpi.value(current);
            let before = if previous.has_data() { kpi.value(previous) } else { None };
            let delta = match value {
                Some(v) => delta_pct(v, before),
                None => Delta::NotComparable,
            };
            KpiLine { kpi, value, delta }
        })
        .collect()
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
            impressions: 1500,
            reactions: 30,
            followers: Some(200),
            days_with_data: 7,
            ..Default::default()
        };
        let prev = AgentTotals {
            impressions: 1000,
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
}

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One agent's Page metrics for one calendar day, as stored in `facebook_metrics_daily`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DailyMetrics {
    pub date: NaiveDate,
    /// Followers at the end of the day (a stock, not a flow).
    pub followers: i64,
    /// Views (`page_media_view`), the successor of impressions.
    pub impressions: i64,
    pub reach: i64,
    pub engaged_users: i64,
    pub posts: i64,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub whatsapp_clicks: i64,
    pub engagement_rate: f64,
}

impl DailyMetrics {
    /// Recomputes the engagement rate from the day's own counts.
    pub fn with_engagement_rate(mut self) -> Self {
        self.engagement_rate = engagement_rate(self.reactions + self.comments + self.shares, self.impressions);
        self
    }
}

/// (reactions + comments + shares) / views, as a fraction; 0 when there were no views.
pub fn engagement_rate(interactions: i64, views: i64) -> f64 {
    if views <= 0 {
        0.0
    } else {
        interactions as f64 / views as f64
    }
}

/// A published post, kept for post counts, top posts and WhatsApp click attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub post_id: String,
    pub created_at: DateTime<Utc>,
    /// First characters of the message, never the full text.
    pub excerpt: String,
    pub permalink: Option<String>,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub links_to_whatsapp: bool,
}

impl Post {
    pub fn engagement(&self) -> i64 {
        self.reactions + self.comments + self.shares
    }
}

/// An agent's numbers summed over a period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AgentTotals {
    /// Last known follower count in the period (stock, not summed).
    pub followers: Option<i64>,
    pub impressions: i64,
    pub reach: i64,
    pub engaged_users: i64,
    pub posts: i64,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub whatsapp_clicks: i64,
    /// Days in the period with a stored row.
    pub days_with_data: i64,
}

impl AgentTotals {
    /// Sums daily rows; the follower count is taken from the latest day.
    pub fn from_days<'a>(days: impl IntoIterator<Item = &'a DailyMetrics>) -> Self {
        let mut totals = AgentTotals::default();
        let mut latest: Option<NaiveDate> = None;
        for day in days {
            totals.impressions += day.impressions;
            totals.reach += day.reach;
            totals.engaged_users += day.engaged_users;
            totals.posts += day.posts;
            totals.reactions += day.reactions;
            totals.comments += day.comments;
            totals.shares += day.shares;
            totals.link_clicks += day.link_clicks;
            totals.whatsapp_clicks += day.whatsapp_clicks;
            totals.days_with_data += 1;
            if latest.is_none_or(|l| day.date >= l) {
                latest = Some(day.date);
                totals.followers = Some(day.followers);
            }
        }
        totals
    }

    pub fn has_data(&self) -> bool {
        self.days_with_data > 0
    }

    /// Engagement rate recomputed from the period's sums, never an average of daily rates.
    pub fn engagement_rate(&self) -> f64 {
        engagement_rate(self.reactions + self.comments + self.shares, self.impressions)
    }

    pub fn add(&mut self, other: &AgentTotals) {
        self.followers = match (self.followers, other.followers) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
        self.impressions += other.impressions;
        self.reach += other.reach;
        self.engaged_users += other.engaged_users;
        self.posts += other.posts;
        self.reactions += other.reactions;
        self.comments += other.comments;
        self.shares += other.shares;
        self.link_clicks += other.link_clicks;
        self.whatsapp_clicks += other.whatsapp_clicks;
        self.days_with_data += other.days_with_data;
    }
}

/// The whole office's totals over a period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TeamTotals {
    pub agents: usize,
    pub agents_with_data: usize,
    pub totals: AgentTotals,
}

impl TeamTotals {
    pub fn from_agents<'a>(agents: impl IntoIterator<Item = &'a AgentTotals>) -> Self {
        let mut team = TeamTotals::default();
        for totals in agents {
            team.agents += 1;
            if totals.has_data() {
                team.agents_with_data += 1;
            }
            team.totals.add(totals);
        }
        team
    }
}

/// Change of a metric against the previous period of equal length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delta {
    /// No comparable previous value: shown as "—".
    NotComparable,
    Percent(f64),
}

impl Delta {
    /// "+12,5 %", "−3,0 %", "0 %" or "—", with a Spanish decimal comma.
    pub fn label(self) -> String {
        match self {
            Delta::NotComparable => "—".to_string(),
            Delta::Percent(p) if p.abs() < 0.05 => "0 %".to_string(),
            Delta::Percent(p) => {
                let sign = if p > 0.0 { "+" } else { "−" };
                format!("{sign}{} %", format!("{:.1}", p.abs()).replace('.', ","))
            }
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Delta::Percent(p) if p >= 0.05 => "▲",
            Delta::Percent(p) if p <= -0.05 => "▼",
            _ => "",
        }
    }
}

/// Δ% of `current` against `previous`; not comparable when there is no previous data or it is 0.
pub fn delta_pct(current: f64, previous: Option<f64>) -> Delta {
    match previous {
        Some(prev) if prev != 0.0 && prev.is_finite() && current.is_finite() => {
            Delta::Percent((current - prev) / prev.abs() * 100.0)
        }
        _ => Delta::NotComparable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32, followers: i64, views: i64, reactions: i64) -> DailyMetrics {
        DailyMetrics {
            date: NaiveDate::from_ymd_opt(2026, 11, d).unwrap(),
            followers,
            impressions: views,
            reactions,
            ..Default::default()
        }
        .with_engagement_rate()
    }

    #[test]
    fn totals_sum_flows_and_keep_the_latest_follower_count() {
        let days = [day(3, 120, 1000, 10), day(1, 100, 3000, 290), day(2, 110, 0, 0)];
        let t = AgentTotals::from_days(&days);
        assert_eq!(t.followers, Some(120));
        assert_eq!(t.impressions, 4000);
        assert_eq!(t.days_with_data, 3);
        // Rate from sums (300/4000), not the mean of daily rates ((0.01+0.0967+0)/3).
        assert!((t.engagement_rate() - 0.075).abs() < 1e-12);
    }

    #[test]
    fn empty_totals_have_no_followers_and_zero_rate() {
        let t = AgentTotals::from_days(&[]);
        assert_eq!(t.followers, None);
        assert!(!t.has_data());
        assert_eq!(t.engagement_rate(), 0.0);
    }

    #[test]
    fn delta_labels() {
        assert_eq!(delta_pct(150.0, Some(100.0)).label(), "+50,0 %");
        assert_eq!(delta_pct(75.0, Some(100.0)).label(), "−25,0 %");
        assert_eq!(delta_pct(100.0, Some(100.0)).label(), "0 %");
        assert_eq!(delta_pct(10.0, None).label(), "—");
        assert_eq!(delta_pct(10.0, Some(0.0)).label(), "—");
        assert_eq!(delta_pct(150.0, Some(100.0)).arrow(), "▲");
    }

    #[test]
    fn team_totals_count_agents_with_data() {
        let a = AgentTotals::from_days(&[day(1, 10, 100, 1)]);
        let b = AgentTotals::default();
        let team = TeamTotals::from_agents([&a, &b]);
        assert_eq!(team.agents, 2);
        assert_eq!(team.agents_with_data, 1);
        assert_eq!(team.totals.followers, Some(10));
    }
}

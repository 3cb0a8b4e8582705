use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One agent's metrics for one calendar day, as stored in `facebook_metrics_daily`.
///
/// Page metrics (followers, views, reach, engaged users) come from Page insights, which Facebook
/// publishes only after the Pacific day is over, often hours later: `None` means "not published (or
/// refused) yet", never zero. Post metrics count the posts created that day (office time), known
/// as soon as the posts are read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DailyMetrics {
    pub date: NaiveDate,
    /// Followers at the end of the day (a stock, not a flow).
    pub followers: Option<i64>,
    /// Views (`page_media_view`), the successor of impressions.
    pub impressions: Option<i64>,
    pub reach: Option<i64>,
    pub engaged_users: Option<i64>,
    pub posts: i64,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub whatsapp_clicks: i64,
    /// Unknown while the day's views are.
    pub engagement_rate: Option<f64>,
}

impl DailyMetrics {
    /// Recomputes the engagement rate from the day's own counts.
    pub fn with_engagement_rate(mut self) -> Self {
        self.engagement_rate = self
            .impressions
            .map(|views| engagement_rate(self.reactions + self.comments + self.shares, views));
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
    /// Sums of the days Facebook has published; `None` when it has published none.
    pub impressions: Option<i64>,
    pub reach: Option<i64>,
    pub engaged_users: Option<i64>,
    pub posts: i64,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub whatsapp_clicks: i64,
    /// Days in the period with a stored row.
    pub days_with_data: i64,
    /// Days whose views, reach and engaged users are known (a Δ % compares equal counts only).
    pub impressions_days: i64,
    pub reach_days: i64,
    pub engaged_days: i64,
}

/// Adds an optional count to an optional sum: unknown + unknown stays unknown.
pub(crate) fn add_known(sum: Option<i64>, value: Option<i64>) -> Option<i64> {
    match (sum, value) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

impl AgentTotals {
    /// Sums daily rows; the follower count is the latest known one.
    pub fn from_days<'a>(days: impl IntoIterator<Item = &'a DailyMetrics>) -> Self {
        let mut totals = AgentTotals::default();
        let mut latest: Option<NaiveDate> = None;
        for day in days {
            totals.impressions = add_known(totals.impressions, day.impressions);
            totals.reach = add_known(totals.reach, day.reach);
            totals.engaged_users = add_known(totals.engaged_users, day.engaged_users);
            totals.impressions_days += i64::from(day.impressions.is_some());
            totals.reach_days += i64::from(day.reach.is_some());
            totals.engaged_days += i64::from(day.engaged_users.is_some());
            totals.posts += day.posts;
            totals.reactions += day.reactions;
            totals.comments += day.comments;
            totals.shares += day.shares;
            totals.link_clicks += day.link_clicks;
            totals.whatsapp_clicks += day.whatsapp_clicks;
            totals.days_with_data += 1;
            if let Some(f) = day.followers
                && latest.is_none_or(|l| day.date >= l)
            {
                latest = Some(day.date);
                totals.followers = Some(f);
            }
        }
        totals
    }

    pub fn has_data(&self) -> bool {
        self.days_with_data > 0
    }

    /// Engagement rate recomputed from the period's sums, never an average of daily rates; unknown
    /// while no day's views are known.
    pub fn engagement_rate(&self) -> Option<f64> {
        self.impressions
            .map(|views| engagement_rate(self.reactions + self.comments + self.shares, views))
    }

    pub fn add(&mut self, other: &AgentTotals) {
        self.followers = add_known(self.followers, other.followers);
        self.impressions = add_known(self.impressions, other.impressions);
        self.reach = add_known(self.reach, other.reach);
        self.engaged_users = add_known(self.engaged_users, other.engaged_users);
        self.posts += other.posts;
        self.reactions += other.reactions;
        self.comments += other.comments;
        self.shares += other.shares;
        self.link_clicks += other.link_clicks;
        self.whatsapp_clicks += other.whatsapp_clicks;
        self.days_with_data += other.days_with_data;
        self.impressions_days += other.impressions_days;
        self.reach_days += other.reach_days;
        self.engaged_days += other.engaged_days;
    }
}

/// The two periods' days with each Page metric kept only where it is known on the matching day
/// of the other period (day *i* of `current` matches day *i* of `previous`), so a Δ % of views,
/// reach or engaged users compares the same days on both sides.
pub fn shared_known_days(
    current: &[DailyMetrics],
    current_from: NaiveDate,
    previous: &[DailyMetrics],
    previous_from: NaiveDate,
) -> (Vec<DailyMetrics>, Vec<DailyMetrics>) {
    masked_by_offset(
        current,
        current_from,
        previous,
        previous_from,
        |d| d.date,
        |day, twin| {
            let keep = |v: Option<i64>, t: Option<i64>| v.filter(|_| t.is_some());
            DailyMetrics {
                impressions: keep(day.impressions, twin.and_then(|t| t.impressions)),
                reach: keep(day.reach, twin.and_then(|t| t.reach)),
                engaged_users: keep(day.engaged_users, twin.and_then(|t| t.engaged_users)),
                followers: keep(day.followers, twin.and_then(|t| t.followers)),
                ..day.clone()
            }
        },
    )
}

/// Pairs day *i* of `current` with day *i* of `previous` (by offset from each period's start) and
/// lets `mask` keep, on each side, only what the matching day of the other side knows; each side
/// comes back sorted by date. The rule behind every Δ %, for the Page and for Instagram.
pub(crate) fn masked_by_offset<T>(
    current: &[T],
    current_from: NaiveDate,
    previous: &[T],
    previous_from: NaiveDate,
    date: impl Fn(&T) -> NaiveDate,
    mask: impl Fn(&T, Option<&T>) -> T,
) -> (Vec<T>, Vec<T>) {
    use std::collections::HashMap;
    let index = |days: &'_ [T], from: NaiveDate| -> HashMap<i64, usize> {
        days.iter()
            .enumerate()
            .map(|(i, d)| ((date(d) - from).num_days(), i))
            .collect()
    };
    let side = |mine: &[T], mine_from: NaiveDate, other: &[T], other_from: NaiveDate| -> Vec<T> {
        let other_index = index(other, other_from);
        let mut out: Vec<T> = mine
            .iter()
            .map(|day| {
                let offset = (date(day) - mine_from).num_days();
                mask(day, other_index.get(&offset).map(|&i| &other[i]))
            })
            .collect();
        out.sort_by_key(|d| date(d));
        out
    };
    (
        side(current, current_from, previous, previous_from),
        side(previous, previous_from, current, current_from),
    )
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
            followers: Some(followers),
            impressions: Some(views),
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
        assert_eq!(t.impressions, Some(4000));
        assert_eq!(t.days_with_data, 3);
        // Rate from sums (300/4000), not the mean of daily rates ((0.01+0.0967+0)/3).
        assert!((t.engagement_rate().unwrap() - 0.075).abs() < 1e-12);
    }

    #[test]
    fn empty_totals_have_no_followers_and_zero_rate() {
        let t = AgentTotals::from_days(&[]);
        assert_eq!(t.followers, None);
        assert!(!t.has_data());
        assert_eq!(t.engagement_rate(), None);
    }

    #[test]
    fn unknown_page_metrics_stay_unknown_and_post_metrics_still_count() {
        let mut today = day(4, 0, 0, 7);
        today.followers = None;
        today.impressions = None;
        today.posts = 2;
        let t = AgentTotals::from_days(&[today.clone()]);
        assert_eq!((t.impressions, t.followers, t.posts, t.reactions), (None, None, 2, 7));
        assert_eq!(t.impressions_days, 0);
        let t = AgentTotals::from_days(&[day(3, 120, 1000, 10), today]);
        assert_eq!(
            (t.impressions, t.followers, t.impressions_days),
            (Some(1000), Some(120), 1)
        );
    }

    #[test]
    fn shared_days_keep_only_days_known_on_both_sides() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let prev_from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let mut unknown = day(4, 0, 0, 0);
        unknown.impressions = None;
        let (cur, prev) = shared_known_days(
            &[day(3, 1, 100, 0), unknown],
            from,
            &[day(1, 1, 50, 0), day(2, 1, 70, 0)],
            prev_from,
        );
        assert_eq!(AgentTotals::from_days(&cur).impressions, Some(100));
        assert_eq!(AgentTotals::from_days(&prev).impressions, Some(50));
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

//! Instagram professional accounts: an agent's second network, beside the Facebook Page.
//!
//! The same rules as for the Page hold: a number Instagram has not published (up to 48 h late, or
//! never under 100 followers for `follower_count`) is unknown (`None`), never zero, and media
//! lifetime numbers keep growing, so they are re-read while they are recent.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::metrics::{add_known, masked_by_offset};

/// The professional account linked to an agent's Page (`instagram_business_account`), discovered
/// in the Page call the Facebook sync already makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstagramAccount {
    pub id: String,
    pub username: Option<String>,
    /// The account's `followers_count` when it was read.
    pub followers: Option<i64>,
}

/// One agent's Instagram numbers for one office day, as stored in `instagram_metrics_daily`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstagramDaily {
    pub date: NaiveDate,
    /// `followers_count` read at a sync on that day (a stock, not a flow).
    pub followers: Option<i64>,
    /// New followers that day (`follower_count` time series); unknown under 100 followers.
    pub new_followers: Option<i64>,
    pub views: Option<i64>,
    pub reach: Option<i64>,
    pub accounts_engaged: Option<i64>,
    pub total_interactions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub saves: Option<i64>,
    pub profile_links_taps: Option<i64>,
    /// Media (posts, reels, carousels) published that day, office time; unknown until media are read.
    pub media: Option<i64>,
    /// When the day's account insights were last read with data (finality: read ≥ 48 h after the
    /// day ended). `None` when they never came back.
    pub account_read_at: Option<DateTime<Utc>>,
}

impl InstagramDaily {
    pub fn new(date: NaiveDate) -> Self {
        InstagramDaily {
            date,
            ..Default::default()
        }
    }

    /// Whether any account insight of the day is known.
    pub fn has_account_metrics(&self) -> bool {
        [
            self.views,
            self.reach,
            self.accounts_engaged,
            self.total_interactions,
            self.likes,
            self.comments,
            self.shares,
            self.saves,
            self.profile_links_taps,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// What kind of media an item is, from `media_type` and `media_product_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaKind {
    Post,
    Reel,
    Carousel,
}

impl MediaKind {
    /// From Graph's `media_type` (IMAGE, VIDEO, CAROUSEL_ALBUM) and `media_product_type` (FEED, REELS, …).
    pub fn from_graph(media_type: &str, product_type: Option<&str>) -> Self {
        if product_type == Some("REELS") {
            MediaKind::Reel
        } else if media_type == "CAROUSEL_ALBUM" {
            MediaKind::Carousel
        } else {
            MediaKind::Post
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Post => "post",
            MediaKind::Reel => "reel",
            MediaKind::Carousel => "carousel",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "post" => Some(MediaKind::Post),
            "reel" => Some(MediaKind::Reel),
            "carousel" => Some(MediaKind::Carousel),
            _ => None,
        }
    }

    /// Spanish name shown in chat.
    pub fn label(self) -> &'static str {
        match self {
            MediaKind::Post => "publicación",
            MediaKind::Reel => "reel",
            MediaKind::Carousel => "carrusel",
        }
    }
}

/// One published media item with its lifetime numbers (they grow; re-read while recent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstagramMedia {
    pub media_id: String,
    pub created_at: DateTime<Utc>,
    pub kind: MediaKind,
    /// First characters of the caption, never the full text (outside text: data, not markup).
    pub excerpt: String,
    pub permalink: Option<String>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub views: Option<i64>,
    pub reach: Option<i64>,
    pub saves: Option<i64>,
    pub shares: Option<i64>,
    pub total_interactions: Option<i64>,
}

impl InstagramMedia {
    /// Interactions for "top media": Instagram's own total when known, else likes + comments + saves + shares.
    pub fn engagement(&self) -> i64 {
        self.total_interactions.unwrap_or_else(|| {
            self.likes.unwrap_or(0) + self.comments.unwrap_or(0) + self.saves.unwrap_or(0) + self.shares.unwrap_or(0)
        })
    }
}

/// An agent's Instagram numbers over a period.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct InstagramTotals {
    /// Latest known follower count in the period.
    pub followers: Option<i64>,
    /// Sums of the known days; `None` when no day is known.
    pub new_followers: Option<i64>,
    pub views: Option<i64>,
    pub reach: Option<i64>,
    pub accounts_engaged: Option<i64>,
    pub total_interactions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub saves: Option<i64>,
    pub profile_links_taps: Option<i64>,
    pub media: Option<i64>,
    /// Days in the period with a stored row.
    pub days_with_data: i64,
    /// Days whose views / reach / interactions are known (a Δ % compares equal counts only).
    pub views_days: i64,
    pub reach_days: i64,
    pub interactions_days: i64,
}

impl InstagramTotals {
    /// Sums daily rows; followers is the latest known value.
    pub fn from_days<'a>(days: impl IntoIterator<Item = &'a InstagramDaily>) -> Self {
        let mut t = InstagramTotals::default();
        let mut latest: Option<NaiveDate> = None;
        for d in days {
            t.new_followers = add_known(t.new_followers, d.new_followers);
            t.views = add_known(t.views, d.views);
            t.reach = add_known(t.reach, d.reach);
            t.accounts_engaged = add_known(t.accounts_engaged, d.accounts_engaged);
            t.total_interactions = add_known(t.total_interactions, d.total_interactions);
            t.likes = add_known(t.likes, d.likes);
            t.comments = add_known(t.comments, d.comments);
            t.shares = add_known(t.shares, d.shares);
            t.saves = add_known(t.saves, d.saves);
            t.profile_links_taps = add_known(t.profile_links_taps, d.profile_links_taps);
            t.media = add_known(t.media, d.media);
            t.days_with_data += 1;
            t.views_days += i64::from(d.views.is_some());
            t.reach_days += i64::from(d.reach.is_some());
            t.interactions_days += i64::from(d.total_interactions.is_some());
            if d.followers.is_some() && latest.is_none_or(|l| d.date >= l) {
                latest = Some(d.date);
                t.followers = d.followers;
            }
        }
        t
    }
}

/// The seed's composite score applied to Instagram: media×10 + views/1000 + reach/500 + profile
/// link taps×5 (link taps stand in for link clicks). Unknown days add nothing.
pub fn instagram_score(t: &InstagramTotals) -> f64 {
    t.media.unwrap_or(0) as f64 * 10.0
        + t.views.unwrap_or(0) as f64 / 1000.0
        + t.reach.unwrap_or(0) as f64 / 500.0
        + t.profile_links_taps.unwrap_or(0) as f64 * 5.0
}

/// Which network a ranking scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Network {
    #[default]
    Facebook,
    Instagram,
    Total,
}

impl Network {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_lowercase().as_str() {
            "facebook" | "fb" => Some(Network::Facebook),
            "instagram" | "ig" => Some(Network::Instagram),
            "total" | "ambas" | "todo" => Some(Network::Total),
            _ => None,
        }
    }

    /// The word `/ranking` takes.
    pub fn keyword(self) -> &'static str {
        match self {
            Network::Facebook => "facebook",
            Network::Instagram => "instagram",
            Network::Total => "total",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Network::Facebook => "Facebook",
            Network::Instagram => "Instagram",
            Network::Total => "Facebook + Instagram",
        }
    }
}

/// Instagram account metrics pulso asks for, with their Spanish names: the one table to change when
/// Meta retires a metric (`impressions` is retired and never asked).
pub const ACCOUNT_METRICS: &[(&str, &str)] = &[
    ("views", "visualizaciones"),
    ("reach", "cuentas alcanzadas"),
    ("accounts_engaged", "cuentas que interactuaron"),
    ("total_interactions", "interacciones totales"),
    ("likes", "me gusta"),
    ("comments", "comentarios"),
    ("shares", "veces compartido"),
    ("saves", "guardados"),
    ("profile_links_taps", "toques en enlaces del perfil"),
];

/// Prefix of an Instagram metric in `refused_metrics` (`instagram:views`; Facebook's are bare).
pub const REFUSED_PREFIX: &str = "instagram:";
/// Prefix of a media metric after [`REFUSED_PREFIX`] (`instagram:media.saved`), so a refused media
/// metric never stops the account metric of the same name (both have `views`, `reach`, `shares`).
pub const MEDIA_REFUSED_PREFIX: &str = "media.";

/// Lifetime metrics asked for on each media item.
pub const MEDIA_METRICS: &[(&str, &str)] = &[
    ("views", "visualizaciones"),
    ("reach", "cuentas alcanzadas"),
    ("saved", "guardados"),
    ("shares", "veces compartido"),
    ("total_interactions", "interacciones totales"),
];

/// The two periods' days restricted, metric by metric, to the days known in both (the day at the
/// same offset from each period's start), like [`crate::domain::shared_known_days`] for the Page:
/// a Δ % never compares a day Instagram has not published (up to 48 h late) against one it has.
/// Days present in one period only keep no metric.
pub fn shared_instagram_days(
    current: &[InstagramDaily],
    current_from: NaiveDate,
    previous: &[InstagramDaily],
    previous_from: NaiveDate,
) -> (Vec<InstagramDaily>, Vec<InstagramDaily>) {
    masked_by_offset(
        current,
        current_from,
        previous,
        previous_from,
        |d| d.date,
        |day, twin| {
            let keep = |v: Option<i64>, t: fn(&InstagramDaily) -> Option<i64>| v.filter(|_| twin.and_then(t).is_some());
            InstagramDaily {
                date: day.date,
                followers: keep(day.followers, |t| t.followers),
                new_followers: keep(day.new_followers, |t| t.new_followers),
                views: keep(day.views, |t| t.views),
                reach: keep(day.reach, |t| t.reach),
                accounts_engaged: keep(day.accounts_engaged, |t| t.accounts_engaged),
                total_interactions: keep(day.total_interactions, |t| t.total_interactions),
                likes: keep(day.likes, |t| t.likes),
                comments: keep(day.comments, |t| t.comments),
                shares: keep(day.shares, |t| t.shares),
                saves: keep(day.saves, |t| t.saves),
                profile_links_taps: keep(day.profile_links_taps, |t| t.profile_links_taps),
                media: keep(day.media, |t| t.media),
                account_read_at: day.account_read_at,
            }
        },
    )
}

/// How many of the range's latest days (counting back from `to`) have no account insights yet:
/// Instagram publishes a day up to 48 h late, so a period's newest days are often unknown.
pub fn trailing_unknown_days(days: &[InstagramDaily], from: NaiveDate, to: NaiveDate) -> i64 {
    let known: std::collections::HashSet<NaiveDate> = days
        .iter()
        .filter(|d| d.has_account_metrics())
        .map(|d| d.date)
        .collect();
    let mut missing = 0;
    let mut day = to;
    while day >= from && !known.contains(&day) {
        missing += 1;
        day -= chrono::Duration::days(1);
    }
    missing
}

impl InstagramTotals {
    /// The sum of several accounts' totals (a team): sums of the known values, followers summed
    /// over the accounts whose count is known; day counters added.
    pub fn add(&mut self, other: &InstagramTotals) {
        self.followers = add_known(self.followers, other.followers);
        self.new_followers = add_known(self.new_followers, other.new_followers);
        self.views = add_known(self.views, other.views);
        self.reach = add_known(self.reach, other.reach);
        self.accounts_engaged = add_known(self.accounts_engaged, other.accounts_engaged);
        self.total_interactions = add_known(self.total_interactions, other.total_interactions);
        self.likes = add_known(self.likes, other.likes);
        self.comments = add_known(self.comments, other.comments);
        self.shares = add_known(self.shares, other.shares);
        self.saves = add_known(self.saves, other.saves);
        self.profile_links_taps = add_known(self.profile_links_taps, other.profile_links_taps);
        self.media = add_known(self.media, other.media);
        self.days_with_data += other.days_with_data;
        self.views_days += other.views_days;
        self.reach_days += other.reach_days;
        self.interactions_days += other.interactions_days;
    }

    /// Whether any number of the period is known.
    pub fn has_data(&self) -> bool {
        self.days_with_data > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn unknown_days_stay_unknown_and_followers_is_the_latest() {
        let a = InstagramDaily {
            followers: Some(120),
            views: Some(10),
            media: Some(1),
            ..InstagramDaily::new(day(2))
        };
        let b = InstagramDaily {
            followers: Some(100),
            ..InstagramDaily::new(day(1))
        };
        let t = InstagramTotals::from_days([&a, &b]);
        assert_eq!(t.followers, Some(120));
        assert_eq!(t.views, Some(10));
        assert_eq!(t.reach, None);
        assert_eq!(t.views_days, 1);
        assert_eq!(t.days_with_data, 2);
    }

    #[test]
    fn media_kind_follows_product_type_first() {
        assert_eq!(MediaKind::from_graph("VIDEO", Some("REELS")), MediaKind::Reel);
        assert_eq!(
            MediaKind::from_graph("CAROUSEL_ALBUM", Some("FEED")),
            MediaKind::Carousel
        );
        assert_eq!(MediaKind::from_graph("IMAGE", None), MediaKind::Post);
    }

    #[test]
    fn network_parses_spanish_and_short_forms() {
        assert_eq!(Network::parse("Instagram"), Some(Network::Instagram));
        assert_eq!(Network::parse("total"), Some(Network::Total));
        assert_eq!(Network::parse("tiktok"), None);
    }

    #[test]
    fn shared_days_drop_what_the_other_period_does_not_know() {
        let cur = [
            InstagramDaily {
                views: Some(10),
                reach: Some(5),
                ..InstagramDaily::new(day(8))
            },
            InstagramDaily {
                views: Some(20),
                ..InstagramDaily::new(day(9))
            },
        ];
        let prev = [InstagramDaily {
            views: Some(7),
            ..InstagramDaily::new(day(1))
        }];
        let (c, p) = shared_instagram_days(&cur, day(8), &prev, day(1));
        let (c, p) = (InstagramTotals::from_days(&c), InstagramTotals::from_days(&p));
        assert_eq!((c.views, c.reach), (Some(10), None));
        assert_eq!(p.views, Some(7));
        assert_eq!(trailing_unknown_days(&cur, day(8), day(11)), 2);
        assert_eq!(trailing_unknown_days(&[], day(8), day(11)), 4);
    }
}

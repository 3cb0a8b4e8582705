//! Deterministic synthetic Instagram professional accounts, computed on demand from (seed, Page
//! number, day) like the Page data in `data.rs`: followers, daily account insights and media
//! (posts, reels, carousels) whose lifetime numbers grow with the sandbox clock.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

use super::data::{day_of_number, hash, utc_midnight_of_number};

/// Salts so that Instagram quantities are independent of the Page's.
mod salt {
    pub const PROFILE: u64 = 0x16_01;
    pub const DAY: u64 = 0x16_02;
    pub const MEDIA: u64 = 0x16_03;
    pub const MEDIA_PER_DAY: u64 = 0x16_04;
}

const REF_DAY: i64 = 19723; // 2024-01-01

/// A number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether Page number `n` has a linked professional account: every Page but one in seven
/// (numbers 3, 10, 17, …), so a seeded office always has agents without Instagram.
pub fn has_account(n: u64) -> bool {
    n % 7 != 3
}

/// Whether the account of Page number `n` stays under 100 followers (numbers 1, 6, 11, 16, …),
/// where Instagram never reports `follower_count`.
pub fn is_small(n: u64) -> bool {
    n % 5 == 1
}

/// The account id of Page number `n`: `178414` and the number, zero padded to 17 digits.
pub fn account_id(n: u64) -> String {
    format!("178414{:011}", n + 1)
}

/// The Page number of an account id, if it has the sandbox's form.
pub fn page_number(ig_id: &str) -> Option<u64> {
    let digits = ig_id.strip_prefix("178414").filter(|d| d.len() == 11)?;
    digits.parse::<u64>().ok()?.checked_sub(1)
}

/// The character of one account.
#[derive(Debug, Clone, Copy)]
pub struct IgProfile {
    base_followers: f64,
    growth_per_day: f64,
    small: bool,
    base_views: f64,
    /// Chance of publishing on a given day; a second item is rarer.
    media_chance: f64,
    audience: f64,
}

pub fn profile(seed: u64, n: u64) -> IgProfile {
    let h = |k: u64| unit(hash(&[seed, n, salt::PROFILE, k]));
    let small = is_small(n);
    let (base_followers, growth_per_day) = if small {
        (35.0 + 30.0 * h(1), 0.01 * h(2))
    } else {
        (300.0 + 6000.0 * h(1).powi(2), 0.2 + 3.0 * h(2))
    };
    IgProfile {
        base_followers,
        growth_per_day,
        small,
        base_views: 30.0 + base_followers * (0.1 + 0.3 * h(3)),
        media_chance: 0.3 + 0.5 * h(4),
        audience: 0.4 + (base_followers / 600.0) * (0.5 + h(5)),
    }
}

/// `followers_count` at the end of day number `day`: a rising trend, under 100 for small accounts.
pub fn followers_on(seed: u64, n: u64, day: i64) -> i64 {
    let p = profile(seed, n);
    let trend = (p.base_followers + p.growth_per_day * (day - REF_DAY) as f64)
        .max(0.0)
        .floor() as i64;
    if p.small { trend.min(99) } else { trend }
}

/// The account-level numbers of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IgDay {
    /// `followers_count` at the end of the day.
    pub followers: i64,
    /// `follower_count`: new followers that day (followers − previous day + unfollows).
    pub new_followers: i64,
    pub views: i64,
    pub reach: i64,
    pub accounts_engaged: i64,
    pub total_interactions: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
    pub saves: i64,
    pub replies: i64,
    pub profile_links_taps: i64,
}

/// Account numbers for day number `day`; that day's media add views and interactions.
pub fn day_values(seed: u64, n: u64, day: i64, media: &[IgMedia]) -> IgDay {
    let p = profile(seed, n);
    let h = |k: u64| unit(hash(&[seed, n, salt::DAY, day as u64, k]));
    let followers = followers_on(seed, n, day);
    let unfollows = (h(1) * 2.0 * p.audience).round() as i64;
    let new_followers = (followers - followers_on(seed, n, day - 1)).max(0) + unfollows;
    let weekday = day_of_number(day);
    let rhythm = match weekday.weekday() {
        Weekday::Sat | Weekday::Sun => 1.2,
        Weekday::Mon => 0.9,
        _ => 1.0,
    };
    let media_views: i64 = media.iter().map(|m| m.views).sum();
    let media_likes: i64 = media.iter().map(|m| m.likes).sum();
    let views = (p.base_views * rhythm * (0.7 + 0.6 * h(2))).round() as i64 + media_views * 6 / 10;
    let reach = ((views as f64) * (0.35 + 0.25 * h(3))).round() as i64;
    let accounts_engaged = ((reach as f64) * (0.03 + 0.06 * h(4))).round() as i64;
    let likes = (p.audience * (3.0 + 20.0 * h(5))).round() as i64 + media_likes * 7 / 10;
    let comments = ((likes as f64) * 0.12 * h(6)).round() as i64;
    let shares = ((likes as f64) * 0.08 * h(7)).round() as i64;
    let saves = ((likes as f64) * 0.15 * h(8)).round() as i64;
    let replies = (p.audience * h(9)).round() as i64;
    IgDay {
        followers,
        new_followers,
        views,
        reach: reach.min(views),
        accounts_engaged: accounts_engaged.min(reach),
        total_interactions: likes + comments + shares + saves + replies,
        likes,
        comments,
        shares,
        saves,
        replies,
        profile_links_taps: (p.audience * 3.0 * h(10)).round() as i64,
    }
}

/// What kind of media item, as Graph's `media_type` and `media_product_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgKind {
    Image,
    Reel,
    Carousel,
}

impl IgKind {
    pub fn media_type(self) -> &'static str {
        match self {
            IgKind::Image => "IMAGE",
            IgKind::Reel => "VIDEO",
            IgKind::Carousel => "CAROUSEL_ALBUM",
        }
    }

    pub fn product_type(self) -> &'static str {
        match self {
            IgKind::Reel => "REELS",
            _ => "FEED",
        }
    }
}

/// A synthetic media item with its final lifetime numbers (see [`IgMedia::grown`]).
#[derive(Debug, Clone, PartialEq)]
pub struct IgMedia {
    pub id: String,
    pub day: i64,
    /// Position within its day (0 or 1), part of the paging cursor.
    pub slot: u32,
    pub created: DateTime<Utc>,
    pub kind: IgKind,
    pub caption: String,
    pub shortcode: String,
    /// The owner hid the like count: Graph leaves `like_count` out.
    pub likes_hidden: bool,
    pub likes: i64,
    pub comments: i64,
    pub saved: i64,
    pub shares: i64,
    pub views: i64,
    pub reach: i64,
}

impl IgMedia {
    pub fn total_interactions(&self) -> i64 {
        self.likes + self.comments + self.saved + self.shares
    }

    pub fn permalink(&self) -> String {
        let kind = if self.kind == IgKind::Reel { "reel" } else { "p" };
        format!("https://www.instagram.com/{kind}/{}/", self.shortcode)
    }

    /// Lifetime numbers as they stand when `share` (0–1] of the final totals is reached.
    pub fn grown(mut self, share: f64) -> IgMedia {
        if share >= 1.0 {
            return self;
        }
        let part = |v: i64| (v as f64 * share).floor() as i64;
        self.likes = part(self.likes);
        self.comments = part(self.comments);
        self.saved = part(self.saved);
        self.shares = part(self.shares);
        self.views = part(self.views);
        self.reach = part(self.reach);
        self
    }
}

const CAPTIONS: &[&str] = &[
    "Casa en venta en Coyoacán 🏡 3 recámaras y jardín. #bienesraices #cdmx",
    "Recorrido por este depa en la Roma Norte ✨ ¿Te lo imaginas tuyo?",
    "Tips para tu primer crédito hipotecario 💡 Guarda este post.",
    "Open house el sábado, 11 a 14 h ☕ ¡Te espero!",
    "Antes y después: así quedó la remodelación de esta cocina 🔨",
    "Terreno de 300 m² en Tlalpan & escrituras en regla <3",
    "¿Rentar o comprar? Te cuento en este reel 🎬",
    "Vista al atardecer desde este penthouse en Polanco 🌇",
    "Carrusel: 5 cosas que revisar antes de firmar 📋",
    "¡Vendida! Gracias a la familia Ordóñez por su confianza 🔑",
];

const SHORTCODE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// Media published on day number `day` (0 to 2, or exactly `fixed` when set, at most 2), oldest first.
pub fn media_on_day(seed: u64, n: u64, day: i64, fixed: Option<u32>) -> Vec<IgMedia> {
    let p = profile(seed, n);
    let r = unit(hash(&[seed, n, salt::MEDIA_PER_DAY, day as u64]));
    let count = match fixed {
        Some(f) => f.min(2),
        None if r < p.media_chance * 0.2 => 2,
        None if r < p.media_chance => 1,
        None => 0,
    };
    (0..count).map(|slot| make_media(seed, n, day, slot, &p)).collect()
}

fn make_media(seed: u64, n: u64, day: i64, slot: u32, p: &IgProfile) -> IgMedia {
    let hk = |k: u64| hash(&[seed, n, salt::MEDIA, day as u64, slot as u64, k]);
    let h = |k: u64| unit(hk(k));
    let midnight = utc_midnight_of_number(day);
    // 15:00–23:59 UTC; the second item of a day comes later.
    let minute = 15 * 60 + (slot as i64) * 270 + (hk(1) % 260) as i64;
    let created = midnight + Duration::minutes(minute) + Duration::seconds((hk(2) % 60) as i64);
    let kind = match h(3) {
        k if k < 0.5 => IgKind::Image,
        k if k < 0.8 => IgKind::Reel,
        _ => IgKind::Carousel,
    };
    let boost = if kind == IgKind::Reel { 1.6 } else { 1.0 };
    let likes = (p.audience * (4.0 + 45.0 * h(4)) * boost).round() as i64;
    let comments = ((likes as f64) * 0.15 * h(5)).round() as i64;
    let saved = ((likes as f64) * (if kind == IgKind::Carousel { 0.4 } else { 0.15 }) * h(6)).round() as i64;
    let shares = ((likes as f64) * 0.15 * boost * h(7)).round() as i64;
    let views = (p.base_views * (1.0 + 3.0 * h(8)) * boost).round() as i64 + likes * 8;
    let code: String = (0..11)
        .map(|i| SHORTCODE[(hk(20 + i) % SHORTCODE.len() as u64) as usize] as char)
        .collect();
    IgMedia {
        id: format!("18{:06}{:08}{}", n % 1_000_000, day, slot),
        day,
        slot,
        created,
        kind,
        caption: CAPTIONS[(hk(9) % CAPTIONS.len() as u64) as usize].to_string(),
        shortcode: code,
        likes_hidden: h(10) < 0.06,
        likes,
        comments,
        saved,
        shares,
        views,
        reach: ((views as f64) * (0.5 + 0.35 * h(11))).round() as i64,
    }
}

/// `José Núñez` → `jose.nunez.casas` (or another office-like suffix).
pub fn username(seed: u64, n: u64, agent_name: &str) -> String {
    const SUFFIXES: &[&str] = &[".casas", ".inmuebles", "_bienesraices", ".propiedades", ".mx"];
    let email = super::data::email_for(agent_name);
    let base = email.split('@').next().unwrap_or("agente");
    let suffix = SUFFIXES[(hash(&[seed, n, salt::PROFILE, 99]) % SUFFIXES.len() as u64) as usize];
    format!("{base}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_consistent_and_deterministic() {
        assert_eq!(account_id(0), "17841400000000001");
        assert_eq!(page_number("17841400000000001"), Some(0));
        assert_eq!(page_number("1784140000000000"), None);
        let today = 20_600;
        for n in 0..14 {
            for day in today - 730..today {
                let media = media_on_day(5, n, day, None);
                assert_eq!(media, media_on_day(5, n, day, None));
                let v = day_values(5, n, day, &media);
                assert!(v.reach <= v.views && v.accounts_engaged <= v.reach, "{v:?}");
                assert!(v.new_followers >= 0);
                assert_eq!(
                    v.total_interactions,
                    v.likes + v.comments + v.shares + v.saves + v.replies
                );
                assert_eq!(v.followers, followers_on(5, n, day));
                for m in &media {
                    assert!(m.reach <= m.views);
                }
            }
            assert_eq!(is_small(n), followers_on(5, n, today) < 100, "page {n}");
        }
    }
}

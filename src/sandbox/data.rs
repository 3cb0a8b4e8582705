//! Deterministic synthetic Page data, computed on demand from (seed, page number, day) so that a
//! thousand Pages cost nothing until they are asked for.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// splitmix64: a tiny, well-mixed hash, good enough for synthetic data.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of several keys.
pub fn hash(keys: &[u64]) -> u64 {
    keys.iter().fold(0x5EED_u64, |acc, k| mix(acc ^ mix(*k)))
}

/// A number in [0, 1) from a hash.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Days since 1970-01-01, the stable key of a day.
pub fn day_number(day: NaiveDate) -> i64 {
    (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days()
}

/// The day of a [`day_number`].
pub(crate) fn day_of_number(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + Duration::days(day)
}

/// UTC midnight of a [`day_number`].
pub(crate) fn utc_midnight_of_number(day: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day_of_number(day).and_hms_opt(0, 0, 0).expect("midnight"))
}

/// Salts so that different quantities of the same day are independent.
mod salt {
    pub const PROFILE: u64 = 1;
    pub const DAY: u64 = 2;
    pub const POST: u64 = 3;
    pub const POSTS_PER_DAY: u64 = 4;
}

/// The character of one Page: its size, growth and habits.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Followers on 2024-01-01.
    base_followers: f64,
    /// Net new followers per day.
    growth_per_day: f64,
    /// Typical views on a weekday without posts.
    base_views: f64,
    /// Chance of posting on a given day (0–1); a second post is rarer.
    post_chance: f64,
    /// Share of posts that link to WhatsApp.
    whatsapp_share: f64,
    /// Multiplier for post engagement.
    audience: f64,
}

pub fn profile(seed: u64, page: u64) -> Profile {
    let h = |k: u64| unit(hash(&[seed, page, salt::PROFILE, k]));
    // Some Pages are small (under 100 followers) on purpose: insights must still work for them.
    let base_followers = 40.0 + 4000.0 * h(1).powi(2);
    Profile {
        base_followers,
        growth_per_day: 0.05 + 2.5 * h(2),
        base_views: 30.0 + base_followers * (0.3 + 0.9 * h(3)),
        post_chance: 0.25 + 0.6 * h(4),
        whatsapp_share: 0.2 + 0.3 * h(5),
        audience: 0.3 + (base_followers / 800.0) * (0.5 + h(6)),
    }
}

/// The Page-level numbers of one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayValues {
    pub followers: i64,
    pub follows: i64,
    pub unfollows: i64,
    pub views: i64,
    pub reach: i64,
    pub post_engagements: i64,
    pub total_actions: i64,
    pub page_views: i64,
    pub video_views: i64,
}

/// A synthetic post.
#[derive(Debug, Clone, PartialEq)]
pub struct GenPost {
    pub id: String,
    /// Position of the post within its day (0 or 1), part of the paging cursor.
    pub slot: u32,
    pub day: i64,
    pub created: DateTime<Utc>,
    pub message: String,
    pub reactions: i64,
    pub comments: i64,
    pub shares: i64,
    pub link_clicks: i64,
    pub other_clicks: i64,
    pub photo_views: i64,
    pub views: i64,
    pub reach: i64,
    /// Where the post links to, if anywhere.
    pub link: Option<String>,
}

const REF_DAY: i64 = 19723; // 2024-01-01

fn followers_on(p: &Profile, seed: u64, page: u64, day: i64) -> i64 {
    let trend = p.base_followers + p.growth_per_day * (day - REF_DAY) as f64;
    let wobble = (hash(&[seed, page, salt::DAY, day as u64, 9]) % 4) as f64;
    (trend + wobble).max(0.0).round() as i64
}

/// Page numbers for one day; posts of the day drive engagement and add views.
pub fn day_values(seed: u64, page: u64, day: i64, posts: &[GenPost]) -> DayValues {
    let p = profile(seed, page);
    let h = |k: u64| unit(hash(&[seed, page, salt::DAY, day as u64, k]));
    let followers = followers_on(&p, seed, page, day);
    let net = followers - followers_on(&p, seed, page, day - 1);
    let unfollows = (h(1) * 3.0 * p.audience).round() as i64;
    let weekday = day_of_number(day);
    let rhythm = match weekday.weekday() {
        Weekday::Sat => 0.7,
        Weekday::Sun => 0.6,
        Weekday::Tue | Weekday::Wed | Weekday::Thu => 1.15,
        _ => 1.0,
    };
    let post_views: i64 = posts.iter().map(|x| x.views).sum();
    let organic = (p.base_views * rhythm * (0.7 + 0.6 * h(2))).round() as i64;
    let views = organic + post_views;
    let reach = ((views as f64) * (0.45 + 0.3 * h(3))).round() as i64;
    let post_engagements: i64 = posts
        .iter()
        .map(|x| x.reactions + x.comments + x.shares + x.link_clicks + x.other_clicks)
        .sum::<i64>()
        + (h(4) * 4.0 * p.audience).round() as i64;
    DayValues {
        followers,
        follows: (net + unfollows).max(0),
        unfollows,
        views,
        reach: reach.min(views),
        post_engagements,
        total_actions: (h(5) * 6.0 * p.audience).round() as i64,
        page_views: ((views as f64) * (0.05 + 0.05 * h(6))).round() as i64,
        video_views: ((views as f64) * 0.1 * h(7)).round() as i64,
    }
}

const PROPERTIES: &[&str] = &[
    "Casa en venta en Coyoacán: 3 recámaras, jardín y cochera para dos autos.",
    "Departamento en renta en la Narvarte, muy iluminado, cerca del metro.",
    "¡Nuevo precio! Terreno de 300 m² en Tlalpan, escrituras en regla.",
    "Open house este sábado de 11 a 14 h. ¡Te espero con café!",
    "Consejo del día: revisa el uso de suelo antes de comprar un terreno.",
    "Penthouse con terraza y vista a la ciudad en Polanco. Agenda tu visita.",
    "Casa de una planta en Querétaro, ideal para familia, cerca de escuelas.",
    "Oficina en renta en Santa Fe, 120 m², lista para ocupar.",
    "¿Quieres vender tu casa? Te hago una valuación sin costo.",
    "Departamento pre-venta en Guadalajara con amenidades y alberca.",
];

/// Posts published on `day` (0 to 2, or exactly `fixed` when set), oldest first.
pub fn posts_on_day(seed: u64, page: u64, page_id: &str, day: i64, fixed: Option<u32>) -> Vec<GenPost> {
    let p = profile(seed, page);
    let r = unit(hash(&[seed, page, salt::POSTS_PER_DAY, day as u64]));
    let count = if let Some(n) = fixed {
        n.min(2)
    } else if r < p.post_chance * 0.25 {
        2
    } else if r < p.post_chance {
        1
    } else {
        0
    };
    (0..count)
        .map(|slot| make_post(seed, page, page_id, day, slot, &p))
        .collect()
}

fn make_post(seed: u64, page: u64, page_id: &str, day: i64, slot: u32, p: &Profile) -> GenPost {
    let hk = |k: u64| hash(&[seed, page, salt::POST, day as u64, slot as u64, k]);
    let h = |k: u64| unit(hk(k));
    let midnight = utc_midnight_of_number(day);
    // 14:00–23:59 UTC, office hours in the Americas; the second post of a day comes later.
    let minute = 14 * 60 + (slot as i64) * 300 + (hk(1) % 290) as i64;
    let created = midnight + Duration::minutes(minute) + Duration::seconds((hk(2) % 60) as i64);
    let kind = h(3);
    let phone = 5_215_500_000_000u64 + hk(4) % 99_999_999;
    let (link, extra) = if kind < p.whatsapp_share {
        if hk(5) % 2 == 0 {
            let l = format!("https://wa.me/{phone}");
            (Some(l.clone()), format!(" Escríbeme por WhatsApp: {l}"))
        } else {
            let l = format!("https://api.whatsapp.com/send?phone={phone}");
            (Some(l.clone()), " Más información por WhatsApp 👇".to_string())
        }
    } else if kind < p.whatsapp_share + 0.25 {
        let l = format!("https://inmuebles.example.mx/propiedad/{}", hk(6) % 100_000);
        (Some(l), " Ficha completa en el enlace.".to_string())
    } else {
        (None, String::new())
    };
    let message = format!("{}{}", PROPERTIES[(hk(7) % PROPERTIES.len() as u64) as usize], extra);
    let reactions = (p.audience * (3.0 + 40.0 * h(8))).round() as i64;
    let comments = (reactions as f64 * 0.25 * h(9)).round() as i64;
    // Many posts are never shared, which makes Graph omit the `shares` field.
    let shares = if h(10) < 0.4 {
        0
    } else {
        (reactions as f64 * 0.2 * h(11)).round() as i64
    };
    let link_clicks = if link.is_some() {
        (p.audience * (1.0 + 25.0 * h(12))).round() as i64
    } else {
        0
    };
    let views = (p.base_views * (1.0 + 3.0 * h(13))).round() as i64 + reactions * 8;
    GenPost {
        id: format!(
            "{page_id}_{}",
            122_100_000_000_000_000u64 + (day as u64) * 10 + slot as u64
        ),
        slot,
        day,
        created,
        message,
        reactions,
        comments,
        shares,
        link_clicks,
        other_clicks: (reactions as f64 * 0.6 * h(14)).round() as i64,
        photo_views: (reactions as f64 * 0.4 * h(15)).round() as i64,
        views,
        reach: ((views as f64) * (0.5 + 0.3 * h(16))).round() as i64,
        link,
    }
}

const FIRST: &[&str] = &[
    "José",
    "María",
    "Sofía",
    "Ángel",
    "Lucía",
    "Joaquín",
    "Inés",
    "Andrés",
    "Verónica",
    "Raúl",
    "Mónica",
    "Héctor",
    "Begoña",
    "Íñigo",
    "Ramón",
    "Valentina",
    "Martín",
    "Ximena",
    "Tomás",
    "Renée",
];
const LAST: &[&str] = &[
    "Núñez",
    "Fernández",
    "Peña",
    "Muñoz",
    "Ibáñez",
    "Gómez",
    "López",
    "Pérez",
    "Rodríguez",
    "Martínez",
    "Hernández",
    "Jiménez",
    "Álvarez",
    "Castañeda",
    "Ordóñez",
    "Zúñiga",
    "Ortiz",
    "Sánchez",
    "Díaz",
    "Montaño",
    "Quiñones",
];

/// A realistic Spanish name for Page number `n`; distinct for the first few hundred Pages.
pub fn agent_name(n: u64) -> String {
    let (f, l) = (FIRST.len() as u64, LAST.len() as u64);
    let first = FIRST[(n % f) as usize];
    // (n mod F, (n mod F + n div F) mod L) is distinct for every n below F × L.
    let last = LAST[((n % f + n / f) % l) as usize];
    let second = LAST[((n / 7 + 3 * n + 5) % LAST.len() as u64) as usize];
    if n < (FIRST.len() * LAST.len()) as u64 {
        format!("{first} {last}")
    } else {
        format!("{first} {last} {second}")
    }
}

/// `José Núñez` → `jose.nunez@inmobiliaria.example`.
pub fn email_for(name: &str) -> String {
    let ascii: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ï' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            'ñ' => 'n',
            ' ' => '.',
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => c,
            _ => '-',
        })
        .collect();
    format!("{ascii}@inmobiliaria.example")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_consistent() {
        let day = day_number(NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
        let posts = posts_on_day(7, 3, "100", day, None);
        assert_eq!(posts, posts_on_day(7, 3, "100", day, None));
        let v = day_values(7, 3, day, &posts);
        assert_eq!(v, day_values(7, 3, day, &posts));
        assert!(v.reach <= v.views);
        assert!(v.followers > 0);
        for d in day - 730..day {
            let posts = posts_on_day(7, 3, "100", d, None);
            let v = day_values(7, 3, d, &posts);
            assert!(v.reach <= v.views && v.views > 0);
        }
    }

    #[test]
    fn names_have_spanish_accents_and_ascii_emails() {
        assert_eq!(agent_name(0), "José Núñez");
        assert_eq!(agent_name(1), "María Fernández");
        assert_eq!(email_for("José Núñez"), "jose.nunez@inmobiliaria.example");
        let names: std::collections::HashSet<_> = (0..400).map(agent_name).collect();
        assert_eq!(names.len(), 400);
    }
}

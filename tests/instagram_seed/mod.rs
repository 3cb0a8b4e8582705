//! Instagram data for the chat tests: three agents (Ana and Beto with Instagram, Carla without),
//! written through the store's own Instagram methods, and the helpers that recompute what a reply
//! should say from what the store gives back.
#![allow(dead_code)]

use std::time::Duration;

use chrono::{Duration as Days, NaiveDate};
use pulso::chat::{ChatKind, Reply};
use pulso::domain::{DateRange, InstagramAccount, InstagramDaily, InstagramMedia, MediaKind, Period, delta_pct};
use pulso::store::Store;

use crate::chat_support::*;

pub const ANA: usize = 0;
pub const BETO: usize = 1;
pub const CARLA: usize = 2;

pub fn username(i: usize) -> &'static str {
    ["ana.casas", "beto.ruiz.inmuebles", ""][i]
}

/// Ana's hostile caption: a private-use marker, a line break and a mention.
pub const ANA_CAPTION: &str = "Reel\u{E000} Polanco\n@todos";

/// Stored Instagram days of agent `i`: 41 days; the newest two without account insights (48 h),
/// Ana's day 10 (in the previous week) without views; profile link taps never known for Ana.
pub fn ig_days(i: usize) -> Vec<InstagramDaily> {
    (0..=40)
        .map(|d: i64| {
            let date = today() - Days::days(d);
            let late = d <= 1;
            let known = |v: i64| (!late).then_some(v);
            let k = i as i64;
            InstagramDaily {
                followers: Some(1500 + 700 * k - d),
                new_followers: Some(3 + d % 4),
                views: if i == ANA && d == 10 {
                    None
                } else {
                    known(800 + 17 * d + 300 * k)
                },
                reach: known(400 + 5 * d),
                accounts_engaged: known(30 + k),
                total_interactions: known(60 + d),
                likes: known(40),
                comments: known(5),
                shares: known(2),
                saves: known(3),
                profile_links_taps: if i == ANA { None } else { known(1 + d % 2) },
                media: Some(if i == ANA { 2 } else { i64::from(d % 3 == 0) }),
                ..InstagramDaily::new(date)
            }
        })
        .collect()
}

pub fn media(i: usize, n: usize, kind: MediaKind, caption: &str, interactions: i64) -> InstagramMedia {
    InstagramMedia {
        media_id: format!("18{i:02}{n:04}"),
        created_at: now() - Days::days(2) - Days::hours(n as i64),
        kind,
        excerpt: caption.to_string(),
        permalink: Some(format!("https://www.instagram.com/p/{i}{n}/")),
        likes: Some(interactions - 3),
        comments: Some(3),
        views: Some(100 * interactions),
        reach: Some(50 * interactions),
        saves: None,
        shares: None,
        total_interactions: Some(interactions),
    }
}

/// Three agents linked on Telegram (2000 + i); Ana and Beto have Instagram, Carla does not.
pub async fn seeded() -> Office {
    let o = office(3, 40, 3, Duration::ZERO).await;
    for i in [ANA, BETO] {
        let id = o.agents[i];
        let account = InstagramAccount {
            id: format!("1784140000000000{i}"),
            username: Some(username(i).to_string()),
            followers: Some(1500),
        };
        o.store.set_agent_instagram(id, Some(&account), now()).await.unwrap();
        o.store.upsert_instagram_daily(id, &ig_days(i), now()).await.unwrap();
    }
    let ana = [
        media(ANA, 1, MediaKind::Reel, ANA_CAPTION, 90),
        media(ANA, 2, MediaKind::Carousel, "Departamento en Roma Norte", 40),
    ];
    o.store
        .upsert_instagram_media(o.agents[ANA], &ana, now())
        .await
        .unwrap();
    let beto = [media(BETO, 1, MediaKind::Post, "Terreno en Valle de Bravo", 70)];
    o.store
        .upsert_instagram_media(o.agents[BETO], &beto, now())
        .await
        .unwrap();
    o
}

pub async fn ask(o: &Office, user: i64, admin: bool, text: &str) -> Reply {
    o.core
        .handle(&tg(user, admin, ChatKind::Private), text, None)
        .await
        .expect("an answer")
}

pub fn range(period: Period) -> DateRange {
    period.range_ending(today())
}

/// Sum of the known values; None when no day is known.
pub fn sum(days: &[InstagramDaily], f: impl Fn(&InstagramDaily) -> Option<i64>) -> Option<i64> {
    days.iter().filter_map(&f).reduce(|a, b| a + b)
}

/// A metric over the current and previous periods restricted to the day offsets known in both.
pub fn shared_sums(
    cur: &[InstagramDaily],
    cur_from: NaiveDate,
    prev: &[InstagramDaily],
    prev_from: NaiveDate,
    f: impl Fn(&InstagramDaily) -> Option<i64>,
) -> (i64, i64) {
    let (mut a, mut b) = (0, 0);
    for c in cur {
        let offset = (c.date - cur_from).num_days();
        let twin = prev.iter().find(|p| (p.date - prev_from).num_days() == offset);
        if let (Some(x), Some(y)) = (f(c), twin.and_then(&f)) {
            a += x;
            b += y;
        }
    }
    (a, b)
}

/// "(+12,5 % ▲)" as a card writes the change from `before` to `now`.
pub fn change(now: i64, before: i64) -> String {
    let d = delta_pct(now as f64, Some(before as f64));
    match d.arrow() {
        "" => format!("({})", d.label()),
        a => format!("({} {a})", d.label()),
    }
}

/// Instagram score over a range, from the stored days: media×10 + views/1000 + reach/500 + taps×5.
pub async fn ig_score(store: &dyn Store, agent: i64, r: DateRange) -> f64 {
    let days = store.instagram_daily(agent, r).await.unwrap();
    let s = |f: fn(&InstagramDaily) -> Option<i64>| sum(&days, f).unwrap_or(0) as f64;
    s(|d| d.media) * 10.0 + s(|d| d.views) / 1000.0 + s(|d| d.reach) / 500.0 + s(|d| d.profile_links_taps) * 5.0
}

/// Facebook score over a range, from the stored totals, by the seed's formula.
pub async fn fb_score(store: &dyn Store, agent: i64, r: DateRange) -> f64 {
    let t = store.agent_totals(agent, r).await.unwrap();
    t.posts as f64 * 10.0
        + t.impressions.unwrap_or(0) as f64 / 1000.0
        + t.reach.unwrap_or(0) as f64 / 500.0
        + t.link_clicks as f64 * 5.0
}

pub fn score_text(s: f64) -> String {
    pulso::chat::replies::score(s)
}

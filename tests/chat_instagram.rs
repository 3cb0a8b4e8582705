//! Instagram in chat (#16), through the real chat core and the real Telegram adapter: the card's
//! Instagram block (Δ % over days known in both periods, "—" for unknown, the 48 h note), no block
//! without an account, `/ranking` by network with the agents' visibility rule, `/resumen` with the
//! team's Instagram and top media, `/ayuda`, `/agentes` and `/estado` with pause and problem.
//!
//! Data goes in through the store's own Instagram writes; every expected number is recomputed here
//! from what the store gives back (`instagram_daily`, `agent_totals`, `top_instagram_media`).

mod chat_support;
mod support;

use std::time::Duration;

use chat_support::*;
use chrono::{Duration as Days, NaiveDate, TimeZone};
use pulso::chat::text::to_console;
use pulso::chat::{ChatKind, Reply};
use pulso::domain::instagram::ACCOUNT_METRICS;
use pulso::domain::{
    DateRange, InstagramAccount, InstagramDaily, InstagramMedia, MediaKind, Period, delta_pct, thousands,
};
use pulso::store::Store;

const ANA: usize = 0;
const BETO: usize = 1;
const CARLA: usize = 2;

fn username(i: usize) -> &'static str {
    ["ana.casas", "beto.ruiz.inmuebles", ""][i]
}

/// Ana's hostile caption: a private-use marker, a line break and a mention.
const ANA_CAPTION: &str = "Reel\u{E000} Polanco\n@todos";

/// Stored Instagram days of agent `i`: 41 days; the newest two without account insights (48 h),
/// Ana's day 10 (in the previous week) without views; profile link taps never known for Ana.
fn ig_days(i: usize) -> Vec<InstagramDaily> {
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

fn media(i: usize, n: usize, kind: MediaKind, caption: &str, interactions: i64) -> InstagramMedia {
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
async fn seeded() -> Office {
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

async fn ask(o: &Office, user: i64, admin: bool, text: &str) -> Reply {
    o.core
        .handle(&tg(user, admin, ChatKind::Private), text, None)
        .await
        .expect("an answer")
}

fn range(period: Period) -> DateRange {
    period.range_ending(today())
}

/// Sum of the known values; None when no day is known.
fn sum(days: &[InstagramDaily], f: impl Fn(&InstagramDaily) -> Option<i64>) -> Option<i64> {
    days.iter().filter_map(&f).reduce(|a, b| a + b)
}

/// A metric over the current and previous periods restricted to the day offsets known in both.
fn shared_sums(
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
fn change(now: i64, before: i64) -> String {
    let d = delta_pct(now as f64, Some(before as f64));
    match d.arrow() {
        "" => format!("({})", d.label()),
        a => format!("({} {a})", d.label()),
    }
}

/// Instagram score over a range, from the stored days: media×10 + views/1000 + reach/500 + taps×5.
async fn ig_score(store: &dyn Store, agent: i64, r: DateRange) -> f64 {
    let days = store.instagram_daily(agent, r).await.unwrap();
    let s = |f: fn(&InstagramDaily) -> Option<i64>| sum(&days, f).unwrap_or(0) as f64;
    s(|d| d.media) * 10.0 + s(|d| d.views) / 1000.0 + s(|d| d.reach) / 500.0 + s(|d| d.profile_links_taps) * 5.0
}

/// Facebook score over a range, from the stored totals, by the seed's formula.
async fn fb_score(store: &dyn Store, agent: i64, r: DateRange) -> f64 {
    let t = store.agent_totals(agent, r).await.unwrap();
    t.posts as f64 * 10.0
        + t.impressions.unwrap_or(0) as f64 / 1000.0
        + t.reach.unwrap_or(0) as f64 / 500.0
        + t.link_clicks as f64 * 5.0
}

fn score_text(s: f64) -> String {
    pulso::chat::replies::score(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_shows_the_stored_instagram_numbers_with_changes_over_shared_days() {
    let o = seeded().await;
    let ana = o.agents[ANA];
    let week = range(Period::Week);
    let cur = o.store.instagram_daily(ana, week).await.unwrap();
    let prev = o.store.instagram_daily(ana, week.previous()).await.unwrap();
    assert_eq!(cur.len(), 7, "the store holds the week");

    let text = to_console(&ask(&o, 2000, false, "/mis_metricas semana").await.text);
    assert!(text.contains("📸 Instagram (@ana.casas)"), "{text}");
    // Under the Facebook block.
    assert!(
        text.find("Publicaciones destacadas").unwrap() < text.find("Instagram (@ana.casas)").unwrap(),
        "{text}"
    );

    // Views: the week's known days; the change only over day offsets known in both weeks.
    let views = sum(&cur, |d| d.views).unwrap();
    let (now_v, before_v) = shared_sums(&cur, week.from, &prev, week.previous().from, |d| d.views);
    let all_cur = cur.iter().filter_map(|d| d.views).sum::<i64>();
    let all_prev = prev.iter().filter_map(|d| d.views).sum::<i64>();
    assert_ne!(
        change(now_v, before_v),
        change(all_cur, all_prev),
        "the seed makes the shared-days rule visible"
    );
    let line = format!("👁️ Visualizaciones: {} {}", thousands(views), change(now_v, before_v));
    assert!(text.contains(&line), "expected «{line}»:\n{text}");

    // Followers: the latest stored count of each week.
    let latest = |days: &[InstagramDaily]| days.iter().max_by_key(|d| d.date).and_then(|d| d.followers).unwrap();
    let line = format!(
        "👥 Seguidores: {} {}",
        thousands(latest(&cur)),
        change(latest(&cur), latest(&prev))
    );
    assert!(text.contains(&line), "expected «{line}»:\n{text}");

    // Unknown is a dash, never 0.
    assert!(cur.iter().all(|d| d.profile_links_taps.is_none()));
    assert!(text.contains("🔗 Toques en enlaces del perfil: — (—)"), "{text}");
    // The newest days are not published yet: the 48 h note.
    assert!(
        cur.iter()
            .filter(|d| d.date >= today() - Days::days(1))
            .all(|d| d.views.is_none())
    );
    assert!(text.contains("Instagram publica con hasta 48 h de retraso"), "{text}");
    // Ana's own media, kind and caption as data (marker gone, one line, mention defused).
    assert!(text.contains("reel · «Reel Polanco @\u{200b}todos»"), "{text}");
    assert!(!text.contains("Terreno en Valle de Bravo"), "Beto's media: {text}");
    let score = format!(
        "🏅 Puntuación Instagram: {}",
        score_text(ig_score(o.store.as_ref(), ana, week).await)
    );
    assert!(text.contains(&score), "expected «{score}»:\n{text}");

    // An agent without Instagram gets no block.
    let carla = to_console(&ask(&o, 2002, false, "/mis_metricas semana").await.text);
    assert!(carla.contains("Carla Núñez"), "{carla}");
    assert!(!carla.contains("Instagram"), "{carla}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_never_see_another_agents_instagram() {
    let o = seeded().await;
    let beto_week = o
        .store
        .instagram_daily(o.agents[BETO], range(Period::Week))
        .await
        .unwrap();
    let beto_views = thousands(sum(&beto_week, |d| d.views).unwrap());
    // The admin sees Beto's block…
    let admin = to_console(&ask(&o, ADMIN_TG, true, "/metricas Beto Ruiz semana").await.text);
    assert!(admin.contains("Instagram (@beto.ruiz.inmuebles)"), "{admin}");
    assert!(admin.contains(&format!("Visualizaciones: {beto_views} ")), "{admin}");
    // …Ana does not, whatever she asks.
    for cmd in [
        "/metricas Beto Ruiz semana",
        "/mis_metricas semana",
        "/ranking instagram",
        "/ranking total semana",
        "/ranking semana instagram",
        "/resumen semana",
        "/agentes",
        "/estado",
    ] {
        let text = to_console(&ask(&o, 2000, false, cmd).await.text);
        for leak in ["beto.ruiz", "Beto", "Terreno en Valle de Bravo", &beto_views] {
            assert!(!text.contains(leak), "{cmd}: leaked «{leak}»:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranking_by_network_orders_by_each_score_and_agents_see_only_their_place() {
    let o = seeded().await;
    let month = range(Period::Month);
    let store = o.store.as_ref();
    let mut fb = Vec::new();
    let mut ig = Vec::new();
    for (i, id) in o.agents.iter().enumerate() {
        fb.push((i, fb_score(store, *id, month).await));
        if i != CARLA {
            ig.push((i, ig_score(store, *id, month).await));
        }
    }
    let total: Vec<(usize, f64)> = fb
        .iter()
        .map(|(i, f)| (*i, f + ig.iter().find(|(j, _)| j == i).map(|(_, s)| *s).unwrap_or(0.0)))
        .collect();
    let order = |mut v: Vec<(usize, f64)>| {
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    };
    let (fb, ig, total) = (order(fb), order(ig), order(total));
    assert_ne!(
        fb.iter().map(|x| x.0).collect::<Vec<_>>(),
        ig.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert_ne!(
        fb.iter().map(|x| x.0).collect::<Vec<_>>(),
        total.iter().map(|x| x.0).collect::<Vec<_>>()
    );

    for (cmd, expected) in [
        ("/ranking", &fb),
        ("/ranking mes facebook", &fb),
        ("/ranking instagram mes", &ig),
        ("/ranking total", &total),
    ] {
        let reply = ask(&o, ADMIN_TG, true, cmd).await;
        let text = to_console(&reply.text);
        let listed: Vec<&str> = text.lines().filter(|l| l.contains(" — ")).collect();
        let want: Vec<String> = expected
            .iter()
            .enumerate()
            .map(|(p, (i, s))| format!("{}. {} — {}", p + 1, agent_name(*i), score_text(*s)))
            .collect();
        assert_eq!(listed, want, "{cmd}:\n{text}");
        assert!(reply.attachment.is_some(), "{cmd}: the chart still comes");
    }

    // An agent: their own place on the chosen network, nobody else's name.
    for (who, i) in [(2000, ANA), (2001, BETO)] {
        for (cmd, expected) in [("/ranking instagram", &ig), ("/ranking total", &total)] {
            let text = to_console(&ask(&o, who, false, cmd).await.text);
            let place = expected.iter().position(|(j, _)| *j == i).unwrap() + 1;
            let line = format!("Estás en el puesto {place} de {}.", expected.len());
            assert!(
                text.contains(&line),
                "{cmd} as {}: expected «{line}»:\n{text}",
                agent_name(i)
            );
            for other in (0..3).filter(|j| *j != i) {
                assert!(!text.contains(&agent_name(other)), "{cmd}: {text}");
            }
        }
    }
    let carla = to_console(&ask(&o, 2002, false, "/ranking instagram").await.text);
    assert!(carla.contains("No tienes una cuenta de Instagram"), "{carla}");

    // A bad network word: Spanish error with the usage, nothing run.
    let bad = ask(&o, ADMIN_TG, true, "/ranking mes tiktok").await;
    assert!(bad.text.contains("No entiendo «tiktok»"), "{}", bad.text);
    assert!(
        bad.text
            .contains("Uso: /ranking [hoy|semana|mes|6meses] [facebook|instagram|total]"),
        "{}",
        bad.text
    );
    assert!(bad.attachment.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_summary_adds_instagram_totals_and_top_media() {
    let o = seeded().await;
    let week = range(Period::Week);
    let text = to_console(&ask(&o, ADMIN_TG, true, "/resumen semana").await.text);
    assert!(text.contains("📸 Instagram del equipo"), "{text}");
    assert!(text.contains("Agentes con Instagram: 2 de 3"), "{text}");
    let mut views = 0;
    for i in [ANA, BETO] {
        let days = o.store.instagram_daily(o.agents[i], week).await.unwrap();
        views += sum(&days, |d| d.views).unwrap();
    }
    assert!(
        text.contains(&format!("👁️ Visualizaciones: {} (", thousands(views))),
        "team views {views}:\n{text}"
    );
    // The most engaging media of the week, as the store ranks them, with kind and owner.
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .to_utc()
    };
    let top = o
        .store
        .top_instagram_media(None, start(week.from), start(week.to + Days::days(1)), 3)
        .await
        .unwrap();
    assert_eq!(top.len(), 3);
    let section = &text[text.find("Publicaciones destacadas de Instagram").expect(&text)..];
    for (n, m) in top.iter().enumerate() {
        let owner = o.agents.iter().position(|id| *id == m.agent_id).unwrap();
        let head = format!(
            "{}. {} · {} · ",
            n + 1,
            m.media.created_at.format("%d/%m"),
            m.media.kind.label()
        );
        let line = section
            .lines()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("«{head}»:\n{text}"));
        assert!(line.ends_with(&agent_name(owner)), "{line}");
        assert!(
            line.contains(&format!("{} interacciones", m.media.engagement())),
            "{line}"
        );
    }
    assert!(section.contains("«Reel Polanco @\u{200b}todos»"), "{text}");
    assert!(!text.contains('\u{E000}'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_agents_and_status_speak_instagram() {
    let o = seeded().await;
    let help = to_console(&ask(&o, 2000, false, "/ayuda").await.text).to_lowercase();
    for (metric, name) in ACCOUNT_METRICS {
        assert!(help.contains(name), "/ayuda names {metric} as «{name}»:\n{help}");
    }
    assert!(help.contains("facebook|instagram|total"), "{help}");

    let agentes = to_console(&ask(&o, ADMIN_TG, true, "/agentes").await.text);
    for i in [ANA, BETO] {
        let line = agentes.lines().find(|l| l.contains(&agent_name(i))).unwrap();
        assert!(line.contains(&format!("Instagram (@{})", username(i))), "{agentes}");
    }
    let carla = agentes.lines().find(|l| l.contains(&agent_name(CARLA))).unwrap();
    assert!(!carla.contains("Instagram"), "{agentes}");

    // Beto hit Instagram's per-account limit; Ana lost the Instagram permission.
    let until = o.core.now() + Days::minutes(90);
    let problem = "falta el permiso instagram_manage_insights: vuelve a conectar con /conectar";
    o.store
        .set_instagram_state(o.agents[BETO], Some(until), None, now())
        .await
        .unwrap();
    o.store
        .set_instagram_state(o.agents[ANA], None, Some(problem), now())
        .await
        .unwrap();
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let hhmm = until.with_timezone(&tz).format("%H:%M").to_string();
    let estado = to_console(&ask(&o, ADMIN_TG, true, "/estado").await.text);
    assert!(estado.contains("Instagram (2 de 3 agentes con cuenta)"), "{estado}");
    assert!(
        estado.contains(&format!("⏸ Instagram en pausa hasta las {hhmm}")),
        "{estado}"
    );
    assert!(estado.contains(problem), "{estado}");
    // The agent's own card says it too.
    let card = to_console(&ask(&o, 2001, false, "/mis_metricas").await.text);
    assert!(
        card.contains(&format!("⏸ Instagram en pausa hasta las {hhmm}")),
        "{card}"
    );
    let card = to_console(&ask(&o, 2000, false, "/mis_metricas").await.text);
    assert!(card.contains(&format!("⚠️ Instagram: {problem}")), "{card}");
    // Once the pause is over, it is no longer shown.
    o.clock.advance(Duration::from_secs(91 * 60));
    let estado = to_console(&ask(&o, ADMIN_TG, true, "/estado").await.text);
    assert!(!estado.contains("en pausa hasta"), "{estado}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_and_ranking_through_the_real_telegram_adapter() {
    let o = seeded().await;
    let week = range(Period::Week);
    let cur = o.store.instagram_daily(o.agents[ANA], week).await.unwrap();
    let views = thousands(sum(&cur, |d| d.views).unwrap());
    let bot = TelegramBot::start(o.core.clone(), Some(Duration::from_millis(50))).await;
    let f = bot.fake.clone();
    f.inject(2000, 2000, "/mis_metricas semana");
    let calls = f
        .wait_for(Duration::from_secs(10), "the card", |c| {
            c.iter().any(|c| c.method == "sendMessage" && c.chat_id == Some(2000))
        })
        .await;
    let html: String = calls
        .iter()
        .filter(|c| c.method == "sendMessage" && c.chat_id == Some(2000))
        .filter_map(|c| c.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(html.contains("<b>Instagram (@ana.casas)</b>"), "{html}");
    let read = normalize_telegram(&html);
    assert!(read.contains(&format!("👁️ Visualizaciones: {views} (")), "{read}");
    assert!(read.contains("🔗 Toques en enlaces del perfil: — (—)"), "{read}");
    assert!(read.contains("«Reel Polanco @\u{200b}todos»"), "{read}");

    let before = f.calls().len();
    f.inject(2000, 2000, "/ranking total");
    let calls = f
        .wait_for(Duration::from_secs(10), "the ranking", |c| {
            c[before..]
                .iter()
                .any(|c| c.chat_id == Some(2000) && c.text.as_deref().is_some_and(|t| t.contains("Estás en el puesto")))
        })
        .await;
    let sent: String = calls[before..]
        .iter()
        .filter_map(|c| c.text.clone())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(sent.contains("Estás en el puesto"), "{sent}");
    assert!(!sent.contains("Beto") && !sent.contains("Carla"), "{sent}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_and_the_network_option_through_the_discord_adapter() {
    use chat_support::fake_discord::{FakeDiscord, interaction};
    use serde_json::json;
    let o = seeded().await;
    let week = range(Period::Week);
    let cur = o.store.instagram_daily(o.agents[ANA], week).await.unwrap();
    let views = thousands(sum(&cur, |d| d.views).unwrap());
    let fake = FakeDiscord::start_with_clock(o.clock.clone()).await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let chat = pulso::chat::DiscordChat::new(
        o.core.clone(),
        &config,
        discord_rest(&o, &fake),
        Some(Duration::from_millis(50)),
    );
    // Ana (Discord user 3000) in the guild: her card, then her place on Instagram via the "red" option.
    chat.handle_interaction(interaction(
        1,
        3000,
        Some(&[]),
        "mis_metricas",
        &[("periodo", json!("semana"))],
    ))
    .await;
    chat.handle_interaction(interaction(
        2,
        3000,
        Some(&[]),
        "ranking",
        &[("red", json!("instagram")), ("periodo", json!("mes"))],
    ))
    .await;
    let calls = fake.calls();
    let content = |token: &str| {
        let edit = calls
            .iter()
            .find(|c| c.target == token && c.path.ends_with("@original"))
            .unwrap_or_else(|| panic!("no answer for {token}"));
        assert_eq!(
            calls.iter().find(|c| c.target == token).unwrap().flags & 64,
            64,
            "ephemeral"
        );
        normalize_discord(edit.content.as_deref().unwrap())
    };
    let card = content("tok1");
    assert!(card.contains("ana.casas"), "{card}");
    assert!(card.contains(&format!("Visualizaciones: {views} (")), "{card}");
    let ranking = content("tok2");
    assert!(ranking.contains("Instagram"), "{ranking}");
    assert!(ranking.contains("Estás en el puesto"), "{ranking}");
    assert!(!ranking.contains("Beto"), "{ranking}");
}

//! Instagram end to end (#16), on SQLite and on PostgreSQL: the sandbox served over HTTP with its
//! Instagram accounts, the real Graph client and sync engine on a manual clock, the store, the
//! alerts, and the chat through the real Telegram and Discord adapters (fake servers). Every
//! expected number comes from the sandbox's own truth for the days its call log shows were asked
//! (`tests/instagram_e2e/world.rs`); assertions read the chat messages the fakes received, the
//! store and the call log.
//!
//! PostgreSQL runs when `PULSO_TEST_POSTGRES_URL` is set (see `tests/support/mod.rs`).

mod chat_support;
mod support;
#[path = "instagram_e2e/world.rs"]
mod world;

use chrono::Duration as Days;
use pulso::chat::replies::score;
use pulso::domain::{DateRange, thousands};
use pulso::sandbox::Fault;
use world::*;

/// Agent `i`'s Telegram and Discord users.
fn tg_user(i: usize) -> i64 {
    2000 + i as i64
}

fn dc_user(i: usize) -> u64 {
    3000 + i as u64
}

/// The card's Instagram block shows `t` (unknown as "—"), its score, under the agent's @username.
fn assert_card(card: &str, username: &str, t: &Totals) {
    assert!(card.contains(&format!("Instagram (@{username})")), "{card}");
    let block = instagram_block(card);
    let expect = [
        ("Seguidores", shown(t.followers)),
        ("Nuevos seguidores", shown(t.new_followers)),
        ("Visualizaciones", shown(t.views)),
        ("Cuentas alcanzadas", shown(t.reach)),
        ("Interacciones totales", shown(t.interactions)),
        ("Toques en enlaces del perfil", shown(t.taps)),
        ("Publicaciones", thousands(t.media)),
    ];
    for (label, value) in expect {
        assert_eq!(value_of(block, label), value, "«{label}» in:\n{card}");
    }
    let s = format!("Puntuación Instagram: {}", score(t.score()));
    assert!(block.contains(&s), "expected «{s}»:\n{card}");
}

/// Case 1: The week's card through Telegram and Discord equals the sandbox; the day Instagram has not
/// produced yet is unknown ("—", an empty export cell), and appears once the clock passes the delay.
async fn card_equals_the_sandbox_and_late_days_fill_in(db: Db) {
    let Some(w) = world(db, |_| {}).await else { return };
    let log = w.sync().await;
    let a = w.regular()[0];
    let ig = w.ig(a).unwrap();
    let agent = w.agents[a];
    let mut e = Expected::default();
    w.learn(a, &log, &mut e);
    let yesterday = w.today() - Days::days(1);
    // IG-1 asked for yesterday; Instagram had not produced it (30 h lag), so nothing is known.
    assert!(w.sandbox.instagram_day(&ig.ig_id, yesterday).is_none());
    assert!(!e.account.contains_key(&yesterday));
    assert!(e.account.contains_key(&(yesterday - Days::days(1))), "{log:#?}");
    let t = w.totals(a, &e, w.week());
    assert!(t.views.is_some() && t.new_followers.is_some(), "{t:?}");

    let tg = w.telegram(tg_user(a), "/mis_metricas semana").await;
    let dc = w
        .discord(dc_user(a), false, "mis_metricas", &[("periodo", "semana")])
        .await;
    for card in [&tg, &dc] {
        assert_card(card, &ig.username, &t);
        assert!(card.contains("faltan los últimos 2 días (—)"), "{card}");
    }
    let row = w
        .store()
        .instagram_daily(agent, DateRange::new(yesterday, yesterday))
        .await
        .unwrap();
    assert!(
        row.iter().all(|d| d.views.is_none() && d.reach.is_none()),
        "unknown, not 0: {row:?}"
    );

    // Today: every account metric unknown, shown as a dash.
    let today_card = w.telegram(tg_user(a), "/mis_metricas hoy").await;
    let block = instagram_block(&today_card);
    for label in ["Visualizaciones", "Cuentas alcanzadas", "Interacciones totales"] {
        assert_eq!(value_of(block, label), "—", "{today_card}");
    }
    assert!(today_card.contains("aún no hay datos de este día (—)"), "{today_card}");

    // The export: yesterday's Instagram cells are empty, the day before has the sandbox's numbers.
    let export = async || {
        w.telegram(tg_user(a), "/exportar semana").await;
        pulso::export::parse_export_csv(&w.telegram_file(tg_user(a))).unwrap()
    };
    let rows = export().await;
    assert!(rows.iter().all(|r| r.agent_name == w.name(a)), "only their own rows");
    let ig_day = |rows: &[pulso::export::ExportDay], d| {
        rows.iter()
            .find(|r| r.date == d)
            .and_then(|r| r.instagram.clone())
            .unwrap_or_else(|| panic!("no Instagram row for {d}: {rows:#?}"))
    };
    assert_eq!(ig_day(&rows, yesterday).views, None);
    let before = ig_day(&rows, yesterday - Days::days(1));
    assert_eq!(before.views, Some(e.account[&(yesterday - Days::days(1))].views));

    // Past the delay (48 h later, when the day can be final) the next sync reads it.
    w.advance(Days::hours(48));
    let log = w.sync().await;
    let truth = w.sandbox.instagram_day(&ig.ig_id, yesterday).expect("produced by now");
    w.learn(a, &log, &mut e);
    assert_eq!(e.account.get(&yesterday), Some(&truth), "IG-1 asked for it: {log:#?}");
    let row = w
        .store()
        .instagram_daily(agent, DateRange::new(yesterday, yesterday))
        .await
        .unwrap();
    assert_eq!(row[0].views, Some(truth.views));
    assert_eq!(row[0].profile_links_taps, Some(truth.profile_links_taps));
    let rows = export().await;
    assert_eq!(ig_day(&rows, yesterday).views, Some(truth.views));
    let t = w.totals(a, &e, w.week());
    let tg = w.telegram(tg_user(a), "/mis_metricas semana").await;
    let dc = w
        .discord(dc_user(a), false, "mis_metricas", &[("periodo", "semana")])
        .await;
    for card in [&tg, &dc] {
        assert_card(card, &ig.username, &t);
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_equals_the_sandbox_and_late_days_fill_in_sqlite() {
    card_equals_the_sandbox_and_late_days_fill_in(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_equals_the_sandbox_and_late_days_fill_in_postgres() {
    card_equals_the_sandbox_and_late_days_fill_in(Db::Postgres).await;
}

/// Case 2: An agent never sees another agent's Instagram: `/metricas <other>` is refused, `/ranking
/// semana instagram` shows only their own position; the admin sees every agent.
async fn agents_never_see_another_agents_instagram(db: Db) {
    let Some(w) = world(db, |_| {}).await else { return };
    let log = w.sync().await;
    let with_ig: Vec<usize> = (0..w.pages.len()).filter(|&i| w.ig(i).is_some()).collect();
    assert!(
        with_ig.len() >= 2 && with_ig.len() < w.pages.len(),
        "the sandbox seeds both kinds"
    );
    let scores: Vec<(usize, f64)> = with_ig
        .iter()
        .map(|&i| {
            let mut e = Expected::default();
            w.learn(i, &log, &mut e);
            (i, w.totals(i, &e, w.week()).score())
        })
        .collect();
    let mut order = scores.clone();
    order.sort_by(|x, y| y.1.total_cmp(&x.1));
    let (me, other) = (with_ig[0], with_ig[1]);
    let other_ig = w.ig(other).unwrap();
    let mut e = Expected::default();
    w.learn(other, &log, &mut e);
    let other_views = shown(w.totals(other, &e, w.week()).views);

    // The admin sees the other agent's block, so the refusals below hide something real.
    let admin = w.telegram(ADMIN, &format!("/metricas {} semana", w.name(other))).await;
    assert_eq!(
        value_of(instagram_block(&admin), "Visualizaciones"),
        other_views,
        "{admin}"
    );

    let tg = w
        .telegram(tg_user(me), &format!("/metricas {} semana", w.name(other)))
        .await;
    let dc = w
        .discord(
            dc_user(me),
            false,
            "metricas",
            &[("agente", w.name(other)), ("periodo", "semana")],
        )
        .await;
    for reply in [&tg, &dc] {
        assert!(reply.contains("Solo un admin puede usar /metricas"), "{reply}");
        for leak in [other_ig.username.as_str(), other_views.as_str(), "Instagram"] {
            assert!(!reply.contains(leak), "leaked «{leak}»: {reply}");
        }
    }

    // Ranking by Instagram: the agent gets their position and score only.
    let position = order.iter().position(|(i, _)| *i == me).unwrap() + 1;
    let own = scores.iter().find(|(i, _)| *i == me).unwrap().1;
    let tg = w.telegram(tg_user(me), "/ranking semana instagram").await;
    let dc = w
        .discord(
            dc_user(me),
            false,
            "ranking",
            &[("periodo", "semana"), ("red", "instagram")],
        )
        .await;
    for reply in [&tg, &dc] {
        let place = format!("Estás en el puesto {position} de {}.", with_ig.len());
        assert!(reply.contains(&place), "expected «{place}»: {reply}");
        assert!(reply.contains(&format!("Tu puntuación: {}", score(own))), "{reply}");
        for &(i, s) in scores.iter().filter(|(i, _)| *i != me) {
            let ig = w.ig(i).unwrap();
            for leak in [w.name(i), ig.username.as_str(), &format!("— {}", score(s))] {
                assert!(!reply.contains(leak), "leaked «{leak}»: {reply}");
            }
        }
    }

    // The admin's ranking lists every agent with Instagram, in order, and nobody else.
    let tg = w.telegram(ADMIN, "/ranking instagram semana").await;
    let dc = w
        .discord(
            ADMIN_DC,
            true,
            "ranking",
            &[("periodo", "semana"), ("red", "instagram")],
        )
        .await;
    for reply in [&tg, &dc] {
        for (k, (i, s)) in order.iter().enumerate() {
            let line = format!("{}. {} — {}", k + 1, w.name(*i), score(*s));
            assert!(reply.contains(&line), "expected «{line}»: {reply}");
        }
        let without: Vec<usize> = (0..w.pages.len()).filter(|i| !with_ig.contains(i)).collect();
        for i in without {
            assert!(!reply.contains(w.name(i)), "no Instagram, not ranked: {reply}");
        }
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_never_see_another_agents_instagram_sqlite() {
    agents_never_see_another_agents_instagram(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_never_see_another_agents_instagram_postgres() {
    agents_never_see_another_agents_instagram(Db::Postgres).await;
}

/// Case 3: An account under 100 followers: Instagram gives no `follower_count`, so new followers are
/// unknown ("—"), while its other numbers arrive.
async fn small_account_new_followers_are_unknown(db: Db) {
    let Some(w) = world(db, |_| {}).await else { return };
    let log = w.sync().await;
    let s = (0..w.pages.len())
        .find(|&i| w.ig(i).is_some_and(|a| a.followers_count < 100))
        .expect("the sandbox seeds a small account");
    let ig = w.ig(s).unwrap();
    assert!(
        log.iter()
            .any(|l| l.starts_with(&format!("GET /v25.0/{}?", ig.ig_id)) && l.contains("follower_count")),
        "the series was asked: {log:#?}"
    );
    let mut e = Expected::default();
    w.learn(s, &log, &mut e);
    assert!(e.new_followers.is_empty(), "the sandbox reports no series under 100");
    let t = w.totals(s, &e, w.week());
    assert!(t.new_followers.is_none() && t.views.is_some(), "{t:?}");
    let rows = w.store().instagram_daily(w.agents[s], w.week()).await.unwrap();
    assert!(
        rows.iter().all(|d| d.new_followers.is_none()),
        "unknown, not 0: {rows:?}"
    );
    assert!(rows.iter().any(|d| d.views.is_some()), "{rows:?}");
    let tg = w.telegram(tg_user(s), "/mis_metricas semana").await;
    let dc = w
        .discord(dc_user(s), false, "mis_metricas", &[("periodo", "semana")])
        .await;
    for card in [&tg, &dc] {
        assert_card(card, &ig.username, &t);
        assert_eq!(value_of(instagram_block(card), "Nuevos seguidores"), "—", "{card}");
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_account_new_followers_are_unknown_sqlite() {
    small_account_new_followers_are_unknown(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_account_new_followers_are_unknown_postgres() {
    small_account_new_followers_are_unknown(Db::Postgres).await;
}

/// Case 4: Meta retires an account metric and a media metric: the other Instagram numbers and the
/// Facebook ones still arrive, the retired ones are unknown, and the admins' alert names them.
async fn a_retired_metric_leaves_the_rest_and_is_named_in_the_alert(db: Db) {
    let Some(w) = world(db, |sb| {
        sb.retire_instagram_metric("profile_links_taps", true);
        sb.retire_instagram_metric("saved", true);
    })
    .await
    else {
        return;
    };
    let log = w.sync().await;
    let a = w.regular()[0];
    let ig = w.ig(a).unwrap();
    let agent = w.agents[a];
    let mut refused = w.store().refused_metrics().await.unwrap();
    refused.sort();
    assert_eq!(refused, ["instagram:media.saved", "instagram:profile_links_taps"]);
    let mut e = Expected::default();
    w.learn(a, &log, &mut e);
    let t = Totals {
        taps: None,
        ..w.totals(a, &e, w.week())
    };
    assert!(t.views.is_some() && t.reach.is_some(), "{t:?}");
    let tg = w.telegram(tg_user(a), "/mis_metricas semana").await;
    let dc = w
        .discord(dc_user(a), false, "mis_metricas", &[("periodo", "semana")])
        .await;
    let fb = w.store().agent_totals(agent, w.week()).await.unwrap();
    let fb_views = shown(fb.impressions);
    assert_ne!(fb_views, "—", "Facebook arrived: {fb:?}");
    for card in [&tg, &dc] {
        assert_card(card, &ig.username, &t);
        let facebook = &card[..card.find("Instagram (@").unwrap()];
        assert_eq!(value_of(facebook, "Vistas"), fb_views, "{card}");
    }
    // Media keep every lifetime number but the retired one.
    let media = w
        .store()
        .top_instagram_media(Some(agent), w.now() - Days::days(60), w.now() + Days::days(1), 1000)
        .await
        .unwrap();
    assert!(!media.is_empty());
    let truth = w.sandbox.instagram_media(&ig.ig_id);
    for m in &media {
        let sb = truth.iter().find(|x| x.id == m.media.media_id).unwrap();
        assert_eq!((m.media.saves, m.media.views), (None, Some(sb.views)), "{m:?}");
    }
    // The admins hear about it on both chats once the group wait is over.
    w.advance(Days::seconds(31));
    w.alerts.deliver().await.unwrap();
    for (chat, messages) in [("Telegram", w.telegram_team()), ("Discord", w.discord_team())] {
        for metric in ["profile_links_taps", "saved"] {
            assert!(
                messages.iter().any(|m| m.contains("retiró") && m.contains(metric)),
                "{chat}: no alert naming {metric}: {messages:#?}"
            );
        }
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_metric_leaves_the_rest_and_is_named_in_the_alert_sqlite() {
    a_retired_metric_leaves_the_rest_and_is_named_in_the_alert(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_metric_leaves_the_rest_and_is_named_in_the_alert_postgres() {
    a_retired_metric_leaves_the_rest_and_is_named_in_the_alert(Db::Postgres).await;
}

/// Case 5: Bad data: Instagram answering with an HTML error page keeps Facebook and shows Instagram as
/// unknown until a later sync reads it; media whose owner hid the likes keep them unknown.
async fn odd_instagram_answers_are_unknown_not_zero(db: Db) {
    let Some(w) = world(db, |_| {}).await else { return };
    let a = w.regular()[0];
    let ig = w.ig(a).unwrap();
    let agent = w.agents[a];
    // Plenty of media, so some have hidden likes; and HTML 503s on every Instagram call for now.
    w.sandbox.set_instagram_media_per_day(&ig.ig_id, Some(2));
    w.sandbox
        .set_instagram_fault(&w.pages[a].page_id, Fault::Http503Html { remaining: 100 });
    let log = w.sync().await;
    assert!(
        log.iter().any(|l| l.contains(&format!("/{}/insights?", ig.ig_id))),
        "{log:#?}"
    );
    let fb = w.store().agent_totals(agent, w.week()).await.unwrap();
    assert!(fb.impressions.is_some(), "Facebook kept: {fb:?}");
    let rows = w.store().instagram_daily(agent, w.week()).await.unwrap();
    assert!(rows.iter().all(|d| !d.has_account_metrics()), "{rows:?}");
    let tg = w.telegram(tg_user(a), "/mis_metricas semana").await;
    let dc = w
        .discord(dc_user(a), false, "mis_metricas", &[("periodo", "semana")])
        .await;
    for card in [&tg, &dc] {
        let block = instagram_block(card);
        for label in [
            "Visualizaciones",
            "Cuentas alcanzadas",
            "Interacciones totales",
            "Nuevos seguidores",
        ] {
            assert_eq!(value_of(block, label), "—", "{card}");
        }
        assert_eq!(value_of(block, "Seguidores"), thousands(ig.followers_count), "{card}");
        let facebook = &card[..card.find("Instagram (@").unwrap()];
        assert_eq!(value_of(facebook, "Vistas"), shown(fb.impressions), "{card}");
    }

    // Instagram answers again: the next sync reads what was missed.
    w.sandbox.set_instagram_fault(&w.pages[a].page_id, Fault::None);
    w.advance(Days::hours(1));
    let log = w.sync().await;
    let mut e = Expected::default();
    w.learn(a, &log, &mut e);
    let t = w.totals(a, &e, w.week());
    assert!(t.views.is_some(), "{log:#?}");
    let card = w.telegram(tg_user(a), "/mis_metricas semana").await;
    assert_card(&card, &ig.username, &t);

    // Hidden like counts: absent in the answer, unknown in the store, the rest kept.
    let stored = w
        .store()
        .top_instagram_media(Some(agent), w.now() - Days::days(365), w.now() + Days::days(1), 1000)
        .await
        .unwrap();
    let truth = w.sandbox.instagram_media(&ig.ig_id);
    let hidden: Vec<_> = stored
        .iter()
        .filter_map(|m| truth.iter().find(|t| t.id == m.media.media_id).map(|t| (m, t)))
        .filter(|(_, t)| t.like_count.is_none())
        .collect();
    assert!(!hidden.is_empty(), "the sandbox hides some likes in the window");
    for (m, t) in hidden {
        assert_eq!(m.media.likes, None, "unknown, not 0: {m:?}");
        assert_eq!(m.media.comments, Some(t.comments_count));
        assert_eq!(m.media.total_interactions, Some(t.total_interactions));
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_instagram_answers_are_unknown_not_zero_sqlite() {
    odd_instagram_answers_are_unknown_not_zero(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_instagram_answers_are_unknown_not_zero_postgres() {
    odd_instagram_answers_are_unknown_not_zero(Db::Postgres).await;
}

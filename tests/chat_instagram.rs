//! Instagram in chat (#16), through the real chat core (the adapters: `chat_instagram_adapters.rs`):
//! the card's Instagram block (Δ % over days known in both periods, "—" for unknown, the 48 h note), no block
//! without an account, `/ranking` by network with the agents' visibility rule, `/resumen` with the
//! team's Instagram and top media, `/ayuda`, `/agentes` and `/estado` with pause and problem.
//!
//! Data goes in through the store's own Instagram writes; every expected number is recomputed here
//! from what the store gives back (`instagram_daily`, `agent_totals`, `top_instagram_media`).

mod chat_support;
mod instagram_seed;
mod support;

use std::time::Duration;

use chat_support::*;
use chrono::{Duration as Days, NaiveDate, TimeZone};
use instagram_seed::*;
use pulso::chat::text::to_console;
use pulso::domain::instagram::ACCOUNT_METRICS;
use pulso::domain::{InstagramDaily, Period, thousands};

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

/// Pixels of exactly this colour in a PNG reply (chart bars and lines are drawn without blending).
fn pixels_of(reply: &pulso::chat::Reply, colour: plotters::style::RGBColor) -> usize {
    let png = &reply.attachment.as_ref().expect("a chart").bytes;
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8();
    img.pixels().filter(|p| p.0 == [colour.0, colour.1, colour.2]).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_carry_instagram_where_the_command_asks_for_it() {
    use pulso::charts::palette::INSTAGRAM;
    let o = seeded().await;
    // `/ranking … total`: the two-network chart, an Instagram segment beside each Facebook one.
    let total = ask(&o, ADMIN_TG, true, "/ranking mes total").await;
    assert_eq!(total.attachment.as_ref().unwrap().file_name, "ranking_total_mes.png");
    assert!(pixels_of(&total, INSTAGRAM) > 0, "no Instagram segment drawn");
    let facebook = ask(&o, ADMIN_TG, true, "/ranking mes facebook").await;
    assert_eq!(pixels_of(&facebook, INSTAGRAM), 0);
    // The trend chart of an agent with Instagram data draws its views beside Facebook's.
    let ana = ask(&o, 2000, false, "/mis_metricas semana grafico").await;
    assert!(pixels_of(&ana, INSTAGRAM) > 0, "no Instagram line on Ana's trend chart");
    // Carla has no Instagram: her chart is Facebook's alone.
    let carla = ask(&o, 2002, false, "/mis_metricas semana grafico").await;
    assert_eq!(pixels_of(&carla, INSTAGRAM), 0);
    // The team chart of /resumen carries the team's Instagram views.
    let resumen = ask(&o, ADMIN_TG, true, "/resumen semana").await;
    assert!(
        pixels_of(&resumen, INSTAGRAM) > 0,
        "no Instagram line on the team chart"
    );
}

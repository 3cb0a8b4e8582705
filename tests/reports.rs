//! Team summaries without a scheduler: every bulk sync posts its completion summary to the team
//! chat; the first of a new week adds the week's summary with its ranking chart, the first of a new
//! month the month's with its use of the API. Driven through the real sync engine, the real store
//! and, end to end, the real Telegram adapter against a fake Bot API.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_support::*;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use pulso::chat::text::to_console;
use pulso::domain::{DateRange, InstagramDaily, InstagramMedia, JobStatus, MediaKind};
use pulso::reports::Reports;
use pulso::sync::{Clock, JobReport, SyncEvent};
use tokio::sync::broadcast;

/// Team views of `range` as the office was seeded: agent i has 700 + 37·i + (d mod 5) views on the
/// day d days before [`today`].
fn seeded_views(agents: usize, range: DateRange) -> i64 {
    (0..agents as i64)
        .map(|i| {
            range
                .iter_days()
                .map(|day| 700 + 37 * i + (today() - day).num_days() % 5)
                .sum::<i64>()
        })
        .sum()
}

fn d(m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, day).unwrap()
}

fn dotted(n: i64) -> String {
    pulso::domain::thousands(n)
}

async fn finished(events: &mut broadcast::Receiver<SyncEvent>) -> JobReport {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Ok(SyncEvent::Finished(r))) => return r,
            Ok(Ok(_)) => {}
            other => panic!("no report: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_first_sync_posts_the_completion_the_week_and_the_month_to_the_team_chat() {
    let office = office(6, 70, 0, Duration::ZERO).await;
    // October's API use: one busy hour that hit Facebook's limit once.
    let october_hour = Utc.with_ymd_and_hms(2026, 10, 14, 16, 0, 0).unwrap();
    office
        .store
        .reserve_calls(october_hour, 200, 150, october_hour)
        .await
        .unwrap()
        .unwrap();
    office
        .store
        .record_rate_limit_hit(october_hour, 200, october_hour)
        .await
        .unwrap();

    // Two agents with Instagram days and media in the week that will be summarised and the one before.
    for (i, id) in office.agents.iter().take(2).enumerate() {
        let rows: Vec<InstagramDaily> = DateRange::new(d(11, 9), d(11, 22))
            .iter_days()
            .map(|day| InstagramDaily {
                views: Some(1000 + 100 * i as i64 + day.day() as i64),
                reach: Some(500),
                media: Some(1),
                ..InstagramDaily::new(day)
            })
            .collect();
        office
            .store
            .upsert_instagram_daily(*id, &rows, Utc::now())
            .await
            .unwrap();
        let media = InstagramMedia {
            media_id: format!("1800{i}"),
            created_at: Utc.with_ymd_and_hms(2026, 11, 18, 18, i as u32, 0).unwrap(),
            kind: if i == 0 { MediaKind::Reel } else { MediaKind::Carousel },
            excerpt: format!("Casa frente al mar {i}"),
            permalink: None,
            likes: Some(10),
            comments: Some(2),
            views: Some(300),
            reach: Some(200),
            saves: None,
            shares: None,
            total_interactions: Some(20 + i as i64),
        };
        office
            .store
            .upsert_instagram_media(*id, &[media], Utc::now())
            .await
            .unwrap();
    }

    let bot = TelegramBot::start(office.core.clone(), Some(Duration::from_millis(50))).await;
    let reports = Arc::new(Reports::new(
        office.store.clone(),
        office.queries.clone(),
        bot.chat.outbox(),
        TZ.parse().unwrap(),
    ));
    reports.spawn(office.engine.subscribe());
    let fake = bot.fake.clone();

    fake.inject(ADMIN_TG, ADMIN_TG, "/actualizar");
    let calls = fake
        .wait_for(Duration::from_secs(60), "the monthly ranking chart", |calls| {
            calls
                .iter()
                .any(|c| c.chat_id == Some(TEAM_CHAT) && c.file_name.as_deref() == Some("ranking_mensual.png"))
        })
        .await;
    bot.stop().await;

    let team: Vec<_> = calls
        .iter()
        .filter(|c| c.chat_id == Some(TEAM_CHAT) && c.method.starts_with("send") && !c.failed)
        .collect();
    let texts: Vec<String> = team
        .iter()
        .map(|c| normalize_telegram(c.text.as_deref().unwrap_or("")))
        .collect();
    let position = |needle: &str| {
        texts
            .iter()
            .position(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no team message with {needle:?}: {texts:#?}"))
    };
    let completion = position("Sincronización del equipo terminada");
    let weekly = position("Resumen semanal · 16/11–22/11/2026");
    let monthly = position("Resumen mensual · octubre de 2026");
    assert!(completion < weekly && weekly < monthly, "{texts:#?}");
    assert!(
        texts[completion].contains("Sincronizados: 6/6"),
        "{}",
        texts[completion]
    );

    // Thursday 26 November: the week that ended is 16–22 November, against 9–15 November.
    let week = DateRange::new(d(11, 16), d(11, 22));
    let weekly_text = &texts[weekly];
    assert!(weekly_text.contains("(09/11–15/11/2026)"), "{weekly_text}");
    assert!(
        weekly_text.contains(&format!("Vistas: {}", dotted(seeded_views(6, week)))),
        "{weekly_text}"
    );
    assert!(weekly_text.contains("Agentes con datos: 6 de 6"), "{weekly_text}");
    // The seeded agents keep their order week to week, the last one leading.
    assert!(weekly_text.contains("🥇 Fausto Ortega"), "{weekly_text}");
    assert!(!weekly_text.contains("Más subió"), "nobody moved: {weekly_text}");
    // The week's Instagram: team views as stored, the most engaging media first, with its owner.
    let mut ig_views = 0;
    for id in office.agents.iter().take(2) {
        let days = office.store.instagram_daily(*id, week).await.unwrap();
        ig_views += days.iter().filter_map(|d| d.views).sum::<i64>();
    }
    assert!(weekly_text.contains("Instagram del equipo"), "{weekly_text}");
    assert!(
        weekly_text.contains(&format!("👁️ Visualizaciones: {} (", dotted(ig_views))),
        "{weekly_text}"
    );
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let start = |day: NaiveDate| {
        tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
            .unwrap()
            .to_utc()
    };
    let top = office
        .store
        .top_instagram_media(None, start(week.from), start(week.to + chrono::Duration::days(1)), 3)
        .await
        .unwrap();
    assert_eq!(top.len(), 2);
    for (n, m) in top.iter().enumerate() {
        let owner = office.agents.iter().position(|id| *id == m.agent_id).unwrap();
        let line = format!(
            "{}. {} · {} · «{}» · {} interacciones · {} visualizaciones · {}",
            n + 1,
            m.media.created_at.format("%d/%m"),
            m.media.kind.label(),
            m.media.excerpt,
            m.media.engagement(),
            m.media.views.unwrap(),
            agent_name(owner)
        );
        assert!(weekly_text.contains(&line), "«{line}»: {weekly_text}");
    }

    let monthly_text = &texts[monthly];
    let october = DateRange::new(d(10, 1), d(10, 31));
    assert!(
        monthly_text.contains(&format!("Vistas: {}", dotted(seeded_views(6, october)))),
        "{monthly_text}"
    );
    assert!(
        monthly_text.contains("comparado con septiembre de 2026"),
        "{monthly_text}"
    );
    assert!(monthly_text.contains("Uso de la API de Facebook"), "{monthly_text}");
    assert!(
        monthly_text.contains("Llamadas: 150 en 1 hora con actividad"),
        "{monthly_text}"
    );
    assert!(
        monthly_text.contains("Hora más intensa: 150 de 200 llamadas (75 %)"),
        "{monthly_text}"
    );
    assert!(
        monthly_text.contains("Límites de Facebook alcanzados: 1"),
        "{monthly_text}"
    );

    for name in ["ranking_semanal.png", "ranking_mensual.png"] {
        let photo = team
            .iter()
            .find(|c| c.method == "sendPhoto" && c.file_name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no {name}"));
        let img = image::load_from_memory_with_format(&photo.bytes, image::ImageFormat::Png)
            .expect("a PNG")
            .to_rgb8();
        assert_eq!(img.width(), pulso::charts::WIDTH);
        let distinct: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
        assert!(distinct.len() > 10, "{name} is not blank");
    }
    // The requester's own chat got the live progress, not the team summaries.
    assert!(
        calls
            .iter()
            .filter(|c| c.chat_id == Some(ADMIN_TG))
            .all(|c| !to_console(c.text.as_deref().unwrap_or("")).contains("Resumen semanal"))
    );
}

/// Runs one bulk sync at the office clock's current time and returns what the team would get.
async fn bulk_sync(office: &Office, reports: &Reports) -> (JobReport, Vec<String>) {
    let mut events = office.engine.subscribe();
    office.engine.request_bulk("admin", true).await.unwrap();
    let report = finished(&mut events).await;
    let messages = reports.after_bulk_sync(&report).await.unwrap();
    let texts = messages.iter().map(|m| to_console(&m.text)).collect();
    (report, texts)
}

fn titles(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .map(|t| t.lines().next().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_first_sync_of_a_new_week_or_month_brings_its_summary() {
    let office = office(4, 70, 0, Duration::ZERO).await;
    let reports = Reports::new(
        office.store.clone(),
        office.queries.clone(),
        Arc::new(pulso::app::LateOutbox::default()),
        TZ.parse().unwrap(),
    );
    let hours = |h: i64| std::time::Duration::from_secs(h as u64 * 3600);

    // Thursday 26 November, 12:00 in Mexico City: the first sync ever brings both summaries.
    let (_, texts) = bulk_sync(&office, &reports).await;
    assert_eq!(
        titles(&texts),
        [
            "🏁 Sincronización del equipo terminada",
            "📅 Resumen semanal · 16/11–22/11/2026",
            "🗓️ Resumen mensual · octubre de 2026"
        ]
    );

    // Later the same day: the completion summary only.
    office.clock.advance(hours(2));
    let (_, texts) = bulk_sync(&office, &reports).await;
    assert_eq!(titles(&texts), ["🏁 Sincronización del equipo terminada"]);

    // Monday 30 November: last week, but November is not over.
    office.clock.advance(hours(4 * 24));
    let local = office.clock.now().with_timezone(&chrono_tz::America::Mexico_City);
    assert_eq!((local.weekday(), local.day()), (chrono::Weekday::Mon, 30));
    let (_, texts) = bulk_sync(&office, &reports).await;
    assert_eq!(
        titles(&texts),
        [
            "🏁 Sincronización del equipo terminada",
            "📅 Resumen semanal · 23/11–29/11/2026"
        ]
    );

    // Tuesday 1 December, every agent failing: no data, so no summary yet…
    office.clock.advance(hours(24));
    for page in 5000..5004 {
        office
            .source
            .inner
            .fail(&page.to_string(), vec![support::scripted::transient(); 3]);
    }
    let (report, texts) = bulk_sync(&office, &reports).await;
    assert_eq!(report.status, JobStatus::Failed);
    assert_eq!(titles(&texts), ["🏁 Sincronización del equipo terminada"]);
    assert!(texts[0].contains("La actualización falló"), "{}", texts[0]);
    assert!(texts[0].contains("Fallidos: 4"), "{}", texts[0]);

    // …the next one that fetches data brings November's.
    office.clock.advance(hours(2));
    let (_, texts) = bulk_sync(&office, &reports).await;
    assert_eq!(
        titles(&texts),
        [
            "🏁 Sincronización del equipo terminada",
            "🗓️ Resumen mensual · noviembre de 2026"
        ]
    );
    assert!(
        texts[1].contains("01/11–30/11/2026 · comparado con octubre de 2026"),
        "{}",
        texts[1]
    );
    // November's bulk syncs: the three before December's.
    assert!(
        texts[1].contains("Sincronizaciones: 3 masivas y 0 individuales"),
        "{}",
        texts[1]
    );
}

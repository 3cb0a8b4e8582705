//! Read-side queries and operator imports on a real SQLite database.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Duration as Days, NaiveDate, TimeZone, Utc};
use pulso::admin::import_agents_csv;
use pulso::crypto::{TokenCipher, generate_key_b64};
use pulso::domain::{ConnectionStatus, DailyMetrics, Kpi, Period};
use pulso::queries::Queries;
use pulso::sync::{Clock, ManualClock, SyncEngine, SyncEvent, SyncSettings};
use secrecy::{ExposeSecret, SecretString};
use support::scripted::ScriptedSource;

fn now() -> DateTime<Utc> {
    // 18:00 UTC = 12:00 in Mexico City: "today" is 2026-11-26 in the office.
    Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

fn cipher() -> TokenCipher {
    TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap()
}

const CSV: &str = "name,email,facebook_page_id,facebook_token,telegram_user_id\n\
Ana García,ana@remax.mx,1001,EAA-ana,11111\n\
José Núñez,jose@remax.mx,1002,EAA-jose,\n";

#[tokio::test]
async fn kpi_card_compares_with_the_previous_week() {
    let t = support::sqlite().await;
    let s = t.store.as_ref();
    import_agents_csv(s, &cipher(), CSV.as_bytes(), now()).await.unwrap();
    let ana = s
        .agents()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == "Ana García")
        .unwrap();
    // 14 days: the previous week has 100 views a day, this week 150.
    let days: Vec<_> = (0..14)
        .map(|i| DailyMetrics {
            date: today() - Days::days(i),
            followers: Some(500 - i),
            impressions: Some(if i < 7 { 150 } else { 100 }),
            reactions: 3,
            ..Default::default()
        })
        .collect();
    s.upsert_daily_metrics(ana.id, &days, now()).await.unwrap();
    let q = Queries::new(t.store.clone(), "America/Mexico_City".parse().unwrap());
    let card = q.agent_card(&ana, Period::Week, now()).await.unwrap();
    assert_eq!(card.range.to, today());
    assert_eq!(card.current.impressions, Some(1050));
    assert_eq!(card.previous.impressions, Some(700));
    let views = card.lines.iter().find(|l| l.kpi == Kpi::Views).unwrap();
    assert_eq!(views.delta.label(), "+50,0 %");
    let followers = card.lines.iter().find(|l| l.kpi == Kpi::Followers).unwrap();
    assert_eq!(followers.value, Some(500.0));
    // A six-month card has no previous data: every change is "—".
    let card = q.agent_card(&ana, Period::SixMonths, now()).await.unwrap();
    assert!(card.lines.iter().all(|l| l.delta.label() == "—"));
}

#[tokio::test]
async fn team_view_is_cached_until_a_sync_writes_and_expires_after_five_minutes() {
    let t = support::sqlite().await;
    let s = t.store.as_ref();
    let c = Arc::new(cipher());
    import_agents_csv(s, &c, CSV.as_bytes(), now()).await.unwrap();
    let agents = s.agents().await.unwrap();
    let tz: chrono_tz::Tz = "America/Mexico_City".parse().unwrap();
    let q = Arc::new(Queries::new(t.store.clone(), tz));
    let clock = Arc::new(ManualClock::starting_at(now()));
    let settings = SyncSettings {
        batch_delay: Duration::ZERO,
        agent_min_interval: Duration::ZERO,
        ..support::sync_settings()
    };
    let engine = SyncEngine::builder(
        t.store.clone(),
        Arc::new(ScriptedSource::default()),
        c.clone(),
        clock.clone(),
        settings,
        tz,
    )
    .queries(q.clone())
    .build();
    let day = |views| DailyMetrics {
        date: today(),
        impressions: Some(views),
        posts: 1,
        ..Default::default()
    };
    s.upsert_daily_metrics(agents[0].id, &[day(1000)], now()).await.unwrap();
    let first = q.team_view(Period::Month, clock.now()).await.unwrap();
    assert_eq!(first.ranked.len(), 2, "agents without data are ranked too");
    assert_eq!(first.ranked[0].agent_id, agents[0].id);
    // A write that is not a sync: the cached view is still served.
    s.upsert_daily_metrics(agents[1].id, &[day(90_000)], now())
        .await
        .unwrap();
    let cached = q.team_view(Period::Month, clock.now()).await.unwrap();
    assert_eq!(cached.team.totals.impressions, Some(1000), "served from cache");
    // A sync (of the other agent) writes through the engine, which drops the cache.
    let mut events = engine.subscribe();
    let job = engine.request_agent(agents[0].id, "admin").await.unwrap();
    loop {
        if let SyncEvent::Finished(r) = events.recv().await.unwrap()
            && r.job_id == job.job_id
        {
            break;
        }
    }
    let fresh = q.team_view(Period::Month, clock.now()).await.unwrap();
    let synced = s.agent_totals(agents[0].id, fresh.range).await.unwrap();
    assert_eq!(
        fresh.team.totals.impressions,
        Some(90_000 + synced.impressions.unwrap()),
        "the fresh view has the sync's rows"
    );
    // Without a sync the view lives 5 minutes on the engine's clock.
    s.upsert_daily_metrics(agents[1].id, &[day(500_000)], now())
        .await
        .unwrap();
    clock.advance(Duration::from_secs(4 * 60 + 59));
    let still = q.team_view(Period::Month, clock.now()).await.unwrap();
    assert_eq!(
        still.team.totals.impressions, fresh.team.totals.impressions,
        "4 min 59 s: cached"
    );
    clock.advance(Duration::from_secs(1));
    let expired = q.team_view(Period::Month, clock.now()).await.unwrap();
    assert_eq!(
        expired.team.totals.impressions,
        Some(500_000 + synced.impressions.unwrap()),
        "5 min: recomputed"
    );
}

#[tokio::test]
async fn import_reports_bad_rows_by_line_and_keeps_the_rest() {
    let t = support::sqlite().await;
    let s = t.store.as_ref();
    let c = cipher();
    let csv = "name,email,facebook_page_id,facebook_token,telegram_user_id\n\
Ana García,ana@remax.mx,1001,EAA-ana,11111\n\
,nadie@remax.mx,1002,tok,\n\
Beto,beto-at-remax,1003,tok,\n\
Carla,carla@remax.mx,abc,tok,\n\
Dora,dora@remax.mx,1004,tok,xyz\n\
Ana Bis,ANA@remax.mx,1005,tok,\n\
\"Eva \"\"la mejor\"\"\",eva@remax.mx,1006,,\n";
    let report = import_agents_csv(s, &c, csv.as_bytes(), now()).await.unwrap();
    assert_eq!((report.created, report.updated), (2, 0));
    let lines: Vec<u64> = report.rejected.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7]);
    assert!(report.rejected[0].1.contains("nombre"));
    assert!(report.rejected[4].1.contains("línea 2"), "{:?}", report.rejected[4]);
    // Re-import updates, never duplicates; tokens are stored encrypted and bound to the agent.
    let again = import_agents_csv(s, &c, csv.as_bytes(), now()).await.unwrap();
    assert_eq!((again.created, again.updated), (0, 2));
    let agents = s.agents().await.unwrap();
    assert_eq!(agents.len(), 2);
    let ana = agents.iter().find(|a| a.email == "ana@remax.mx").unwrap();
    assert_eq!(ana.status, ConnectionStatus::Active);
    let stored = s.agent_token(ana.id).await.unwrap().unwrap();
    assert!(!stored.contains("EAA-ana"));
    assert_eq!(c.decrypt(ana.id, &stored).unwrap().expose_secret(), "EAA-ana");
    assert_eq!(
        s.linked_agent("telegram", "11111").await.unwrap().map(|a| a.id),
        Some(ana.id)
    );
    let eva = agents.iter().find(|a| a.email == "eva@remax.mx").unwrap();
    assert_eq!(eva.status, ConnectionStatus::Inactive, "no token: not connected yet");
    assert_eq!(eva.name, "Eva \"la mejor\"");
}

#[tokio::test]
async fn import_without_the_required_header_is_refused() {
    let t = support::sqlite().await;
    let err = import_agents_csv(
        t.store.as_ref(),
        &cipher(),
        "nombre,correo\nAna,a@x.mx\n".as_bytes(),
        now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("name, email"), "{err}");
    assert!(t.store.agents().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let err = match pulso::store::connect("postgres://pulso:hunter2@127.0.0.1:1/pulso", 1).await {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on port 1"),
    };
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:1") && !text.contains("hunter2"), "{text}");
    assert!(err.is_unavailable());
}

//! Alert semantics end to end: rules fed with sync reports, state in a real database, the team chat
//! on a fake Telegram server or a recorder. Time is a manual clock, so group waits and repeat
//! intervals are exercised without sleeping.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_support::fake_telegram::FakeTelegram as FakeTelegramApi;
use pulso::alerts::{AlertSettings, Alerts, Mailer, Severity};
use pulso::chat::TelegramChat;
use pulso::config::Config;
use pulso::domain::{ConnectionStatus, Role};
use pulso::ports::AlertDesk;
use pulso::store::{AlertState, Store};
use pulso::store::{NewAgent, hour_window};
use pulso::sync::Clock;
use pulso::sync::ManualClock;
use support::alerting::*;
use support::chat::RecordingOutbox;
use support::proxy::proxied_pg_store;
use support::smtp_sink::{self, SmtpSink};

#[tokio::test]
async fn team_chat_on_telegram_gets_the_alert_the_repeat_after_the_interval_and_the_resolution() {
    let s = setup().await;
    let (telegram, chat, _office) = telegram_team_chat().await;
    let alerts = s.alerts(chat.outbox(), None);

    alerts.observe(&report(1, 20, &failures(7))).await.unwrap();
    assert!(team_texts(&telegram).is_empty(), "group wait");
    s.advance(30);
    alerts.evaluate_now().await.unwrap();
    let sent = team_texts(&telegram);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].starts_with("🚨 URGENTE: 7 agentes fallaron al sincronizar"));
    assert!(sent[0].contains("• Ana: Facebook no respondió"));
    assert!(sent[0].contains("/silenciar sync_fallos_muchos"));
    // Sent as production sends it: Telegram HTML, outside text escaped.
    let first = telegram
        .calls()
        .into_iter()
        .find(|c| c.method == "sendMessage" && c.chat_id == Some(chat_support::TEAM_CHAT))
        .unwrap();
    assert_eq!(first.parse_mode.as_deref(), Some("HTML"));

    // The next sync fails the same way: same alert, no new message.
    s.advance(3600);
    alerts.observe(&report(2, 20, &failures(7))).await.unwrap();
    s.advance(2 * 3600 + 59 * 60);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(team_texts(&telegram).len(), 1, "no repeat before 4 h");
    s.advance(60);
    alerts.evaluate_now().await.unwrap();
    let sent = team_texts(&telegram);
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].starts_with("🔁 🚨 URGENTE (sigue activa, empezó hace 4 horas)"),
        "{}",
        sent[1]
    );

    // A clean sync: resolved after the resolve wait, announced once.
    alerts.observe(&report(3, 20, &[])).await.unwrap();
    assert_eq!(team_texts(&telegram).len(), 2);
    s.advance(5 * 60);
    alerts.evaluate_now().await.unwrap();
    alerts.evaluate_now().await.unwrap();
    let sent = team_texts(&telegram);
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent[2].starts_with("✅ Resuelto: 7 agentes fallaron al sincronizar"),
        "{}",
        sent[2]
    );
    assert!(s.store.open_alerts().await.unwrap().is_empty());
    assert!(alerts.active().await.unwrap().is_empty());
}

#[tokio::test]
async fn alert_timings_come_from_the_configuration() {
    let s = setup().await;
    let env = [
        ("PULSO__ALERTS__GROUP_WAIT_SECS", "5"),
        ("PULSO__ALERTS__REPEAT_URGENT_MINS", "60"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let config = Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &env).unwrap();
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = Alerts::new(
        s.store.clone(),
        chat.clone(),
        None,
        s.clock.clone(),
        AlertSettings::from_config(&config),
    );
    alerts.observe(&report(1, 20, &failures(7))).await.unwrap();
    s.advance(4);
    alerts.evaluate_now().await.unwrap();
    assert!(chat.team().is_empty(), "group wait of 5 s");
    s.advance(1);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
    s.advance(60 * 60 - 1);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1, "no repeat before the configured hour");
    s.advance(1);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 2);
    assert!(chat.team()[1].starts_with("🔁 🚨 URGENTE"), "{:?}", chat.team());
}

#[tokio::test]
async fn flapping_within_the_group_window_sends_at_most_one_notification() {
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), None);
    // Ten fire/clear cycles inside the 30 s group wait: nothing is ever announced.
    for i in 0..10 {
        alerts.observe(&report(i * 2, 20, &failures(7))).await.unwrap();
        s.advance(1);
        alerts.observe(&report(i * 2 + 1, 20, &[])).await.unwrap();
        s.advance(1);
        alerts.evaluate_now().await.unwrap();
    }
    assert!(chat.team().is_empty(), "{:?}", chat.team());
    // It settles firing: one message after the group wait.
    alerts.observe(&report(100, 20, &failures(7))).await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
    // Ten more flaps inside the resolve wait: no resolved message, no new alert.
    for i in 0..10 {
        alerts.observe(&report(200 + i * 2, 20, &[])).await.unwrap();
        s.advance(10);
        alerts.evaluate_now().await.unwrap();
        alerts.observe(&report(201 + i * 2, 20, &failures(7))).await.unwrap();
        s.advance(10);
        alerts.evaluate_now().await.unwrap();
    }
    assert_eq!(chat.team().len(), 1, "{:?}", chat.team());
    let history = s.store.recent_alerts(100).await.unwrap();
    let urgent: Vec<_> = history.iter().filter(|a| a.rule == "sync_fallos_muchos").collect();
    assert_eq!(urgent.iter().filter(|a| a.notified_at.is_some()).count(), 1);
}

#[tokio::test]
async fn a_firing_alert_is_not_resent_after_a_restart() {
    let s = setup().await;
    let first_chat = Arc::new(RecordingOutbox::default());
    let first = s.alerts(first_chat.clone(), None);
    first.observe(&report(1, 12, &failures(12))).await.unwrap();
    s.advance(31);
    first.evaluate_now().await.unwrap();
    let sent = first_chat.team();
    assert_eq!(sent.len(), 1, "one voice for the family: {sent:?}");
    assert!(
        sent[0].starts_with("🔴 CRÍTICO: la sincronización masiva falló por completo"),
        "{}",
        sent[0]
    );
    drop(first);

    // A new process on the same database, seeing the same failure again.
    let chat = Arc::new(RecordingOutbox::default());
    let second = s.alerts(chat.clone(), None);
    second.evaluate_now().await.unwrap();
    second.observe(&report(2, 12, &failures(12))).await.unwrap();
    s.advance(60);
    second.evaluate_now().await.unwrap();
    assert!(chat.team().is_empty(), "{:?}", chat.team());
    // Its repeat timer survived too: critical repeats 4 h after the first message.
    s.advance(4 * 3600 - 60);
    second.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
    assert!(chat.team()[0].starts_with("🔁 🔴 CRÍTICO"));
}

#[tokio::test]
async fn a_chat_outage_delays_the_message_without_losing_it() {
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), None);
    chat.down.store(true, std::sync::atomic::Ordering::SeqCst);
    alerts.observe(&report(1, 20, &failures(7))).await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    assert!(
        s.store
            .open_alerts()
            .await
            .unwrap()
            .iter()
            .all(|a| a.notified_at.is_none())
    );
    chat.down.store(false, std::sync::atomic::Ordering::SeqCst);
    s.advance(10);
    alerts.evaluate_now().await.unwrap();
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
}

#[tokio::test]
async fn a_critical_inhibits_its_warning_and_silences_are_time_boxed() {
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), None);
    let now = s.clock.now();
    for _ in 0..3 {
        s.store.record_rate_limit_hit(hour_window(now), 200, now).await.unwrap();
    }
    s.store.record_usage_pct(hour_window(now), 200, 95, now).await.unwrap();
    alerts.evaluate_now().await.unwrap();
    let active = alerts.active().await.unwrap();
    let names: Vec<&str> = active.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["api_limite_repetido"], "the warning is inhibited");
    assert_eq!(active[0].severity, "crítica");
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    let team = chat.team();
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(team[0].starts_with("🔴 CRÍTICO: Facebook limitó las llamadas 3 veces"));

    let refused = alerts
        .silence("nada", Duration::from_secs(3600), "telegram:1")
        .await
        .unwrap();
    assert!(refused.unwrap_err().contains("sync_fallos"));
    let too_long = alerts
        .silence("api", Duration::from_secs(90 * 86400), "telegram:1")
        .await
        .unwrap();
    assert!(too_long.is_err());
    let ok = alerts
        .silence("api", Duration::from_secs(6 * 3600), "telegram:1")
        .await
        .unwrap()
        .unwrap();
    assert!(ok.contains("6 h 00 min"), "{ok}");
    assert!(alerts.active().await.unwrap()[0].silenced_until.is_some());

    // Silenced: the 4-hour repeat is skipped; after the silence it comes back.
    s.advance(5 * 3600);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
    s.advance(3600 + 60);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 2);
    assert!(chat.team()[1].contains("CRÍTICO"));
}

#[tokio::test]
async fn few_failures_are_visible_but_silent_and_token_expiry_goes_to_the_agent_once() {
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), None);
    alerts.observe(&report(1, 20, &failures(3))).await.unwrap();
    let active = alerts.active().await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].name, "sync_fallos");
    assert_eq!(active[0].summary, "3 agentes fallaron al sincronizar");

    let (agent, _) = s
        .store
        .upsert_agent(
            &NewAgent {
                name: "Beto".into(),
                email: "beto@remax.mx".into(),
                role: Role::Agent,
                facebook_page_id: Some("77".into()),
                instagram_account_id: None,
            },
            start(),
        )
        .await
        .unwrap();
    s.store
        .set_agent_token(
            agent.id,
            "v1:k1:opaque",
            Some(start() + chrono::Duration::days(9)),
            start(),
        )
        .await
        .unwrap();
    s.store
        .set_agent_status(agent.id, ConnectionStatus::Active, None, start())
        .await
        .unwrap();
    s.store.mark_agent_synced(agent.id, start()).await.unwrap();
    alerts.evaluate_now().await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    s.advance(2 * 86400);
    alerts.evaluate_now().await.unwrap();
    let private = chat.agents();
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(private[0].0, agent.id);
    assert!(private[0].1.contains("vence en 9 días") && private[0].1.contains("/conectar"));
    assert!(chat.team().is_empty(), "{:?}", chat.team());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_announce_each_alert_and_its_resolution_once() {
    let s = setup().await;
    let (chat_a, chat_b) = (
        Arc::new(RecordingOutbox::default()),
        Arc::new(RecordingOutbox::default()),
    );
    let (a, b) = (s.alerts(chat_a.clone(), None), s.alerts(chat_b.clone(), None));
    let both = |chat_a: &RecordingOutbox, chat_b: &RecordingOutbox| {
        let mut all = chat_a.team();
        all.extend(chat_b.team());
        all
    };
    // Both replicas see the failed sync (one ran it, the other evaluates on its timer).
    a.observe(&report(1, 20, &failures(7))).await.unwrap();
    s.advance(31);
    for _ in 0..5 {
        let (x, y) = tokio::join!(a.evaluate_now(), b.evaluate_now());
        x.unwrap();
        y.unwrap();
    }
    let sent = both(&chat_a, &chat_b);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].starts_with("🚨 URGENTE"), "{}", sent[0]);

    // Replica A's chat is down when the repeat is due: B takes it, nothing is lost or doubled.
    chat_a.down.store(true, std::sync::atomic::Ordering::SeqCst);
    s.advance(4 * 3600);
    a.evaluate_now().await.unwrap();
    assert_eq!(
        both(&chat_a, &chat_b).len(),
        1,
        "A failed to send and gave the repeat back"
    );
    b.evaluate_now().await.unwrap();
    a.evaluate_now().await.unwrap();
    let sent = both(&chat_a, &chat_b);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].starts_with("🔁"), "{}", sent[1]);
    chat_a.down.store(false, std::sync::atomic::Ordering::SeqCst);

    b.observe(&report(2, 20, &[])).await.unwrap();
    s.advance(5 * 60);
    for _ in 0..5 {
        let (x, y) = tokio::join!(a.evaluate_now(), b.evaluate_now());
        x.unwrap();
        y.unwrap();
    }
    let sent = both(&chat_a, &chat_b);
    let resolved: Vec<_> = sent.iter().filter(|t| t.starts_with("✅ Resuelto")).collect();
    assert_eq!(resolved.len(), 1, "{sent:?}");
    assert!(s.store.open_alerts().await.unwrap().is_empty());
}

/// The real Telegram adapter, as production wires it, connected to a fake Bot API; its team chat
/// is [`chat_support::TEAM_CHAT`].
async fn telegram_team_chat() -> (FakeTelegramApi, TelegramChat, chat_support::Office) {
    let office = chat_support::office(0, 0, 0, Duration::ZERO).await;
    let fake = FakeTelegramApi::start().await;
    let chat = chat_support::connect_telegram(office.core.clone(), &fake, None).await;
    (fake, chat, office)
}

/// Texts the fake Bot API accepted for the team chat.
fn team_texts(fake: &FakeTelegramApi) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == "sendMessage" && c.chat_id == Some(chat_support::TEAM_CHAT) && !c.failed)
        .filter_map(|c| c.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_is_announced_by_chat_and_email_and_recorded_when_it_returns() {
    let Some((mut proxy, store)) = proxied_pg_store().await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let (telegram, chat, _office) = telegram_team_chat().await;
    let sink = SmtpSink::start().await;
    let clock = Arc::new(ManualClock::starting_at(start()));
    let mut settings = settings();
    settings.db_timeout = Duration::from_secs(3);
    let alerts = Alerts::new(
        store.clone(),
        chat.outbox(),
        Some(Mailer::new(&mail_settings(sink.addr.port())).unwrap()),
        clock.clone(),
        settings,
    );
    assert!(alerts.watch_database().await);

    proxy.stop().await;
    assert!(!alerts.watch_database().await);
    assert!(team_texts(&telegram).is_empty(), "group wait");
    clock.advance(Duration::from_secs(30));
    assert!(!alerts.watch_database().await);
    let sent = team_texts(&telegram);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].starts_with("🔴 CRÍTICO: no hay conexión con la base de datos"),
        "{}",
        sent[0]
    );
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 1);
    let text = smtp_sink::parts(&mails[0].data)
        .into_iter()
        .find(|(kind, _)| kind.starts_with("text/plain"))
        .unwrap()
        .1;
    assert!(text.contains("CRÍTICO: No hay conexión con la base de datos"), "{text}");
    assert!(!text.contains("/silenciar"), "it cannot be silenced: {text}");

    // Still down a little later: no second message before the repeat interval.
    clock.advance(Duration::from_secs(20));
    assert!(!alerts.watch_database().await);
    assert_eq!(team_texts(&telegram).len(), 1);
    assert_eq!(sink.messages().len(), 1);

    proxy.restart().await;
    clock.advance(Duration::from_secs(60));
    let mut back = false;
    for _ in 0..50 {
        if alerts.watch_database().await {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the database did not come back");
    let sent = team_texts(&telegram);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].starts_with("✅ Resuelto: no hay conexión con la base de datos (duró 2 min)"),
        "{}",
        sent[1]
    );
    let recorded = store.recent_alerts(10).await.unwrap();
    let outage = recorded
        .iter()
        .find(|a| a.rule == "base_datos_caida")
        .expect("the outage is recorded once the database is back");
    assert_eq!(outage.severity, Severity::Critical);
    assert_eq!(outage.starts_at, start());
    assert_eq!(outage.state, AlertState::Resolved);
    assert_eq!((outage.chat_count, outage.email_count), (1, 1));
    assert!(outage.resolved_sent_at.is_some());
    assert!(store.open_alerts().await.unwrap().is_empty());

    // Nothing more to say once it is back.
    clock.advance(Duration::from_secs(3600));
    assert!(alerts.watch_database().await);
    assert_eq!(team_texts(&telegram).len(), 2);
}

//! The Telegram adapter through the real teloxide client and a fake Bot API: one progress message
//! edited within the debounce, groups and private chats, flood control, webhook secret, outbox.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_support::fake_telegram::{self, FakeTelegram, Fault};
use chat_support::*;
use pulso::chat::{FanOutOutbox, TelegramChat};
use pulso::http::{Health, HttpState};
use pulso::ports::{OutMessage, Outbox};
use secrecy::SecretString;

const NOT_MODIFIED: &str = "Bad Request: message is not modified: specified new message content and reply markup \
                            are exactly the same as a current content and reply markup of the message";

struct Running {
    office: Office,
    bot: TelegramBot,
}

impl Running {
    async fn stop(self) {
        self.bot.stop().await;
    }
}

async fn start(office: Office, debounce: Duration) -> Running {
    let bot = TelegramBot::start(office.core.clone(), Some(debounce)).await;
    Running { office, bot }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_agent_sync_edits_one_message_within_the_debounce_and_ends_with_the_report() {
    let mut s = settings();
    s.batch_size = 2;
    let office = office_with(20, 5, 0, Duration::from_millis(250), s).await;
    let debounce = Duration::from_millis(300);
    let r = start(office, debounce).await;
    // Flood control on the first edit and a "not modified" answer on the second must not break it.
    r.bot.fake.fail_next("editMessageText", None, Fault::RetryAfter(1));
    r.bot
        .fake
        .fail_next("editMessageText", None, Fault::Error(400, NOT_MODIFIED.into()));
    r.bot.fake.inject(ADMIN_TG, ADMIN_TG, "/actualizar");
    // The report edit is the adapter's last request for this command (it was delivered, so no
    // extra message follows): waiting for it is waiting for the whole exchange.
    let calls = r
        .bot
        .fake
        .wait_for(Duration::from_secs(60), "the report", |calls| {
            calls.iter().any(|c| {
                c.method == "editMessageText"
                    && !c.failed
                    && c.text.as_deref().unwrap_or("").contains("Sincronizados: 20/20")
            })
        })
        .await;
    let sends: Vec<_> = calls
        .iter()
        .filter(|c| c.method.starts_with("send") && c.chat_id == Some(ADMIN_TG))
        .collect();
    assert_eq!(
        sends.len(),
        1,
        "one progress message: {:#?}",
        fake_telegram::summary(&calls)
    );
    let id = sends[0].message_id.unwrap();
    assert!(sends[0].text.as_deref().unwrap().contains("Sincronizando 0/20 agentes"));
    let edits: Vec<_> = calls.iter().filter(|c| c.method == "editMessageText").collect();
    assert!(
        edits
            .iter()
            .all(|e| e.message_id == Some(id) && e.chat_id == Some(ADMIN_TG))
    );
    let ok: Vec<_> = edits.iter().filter(|e| !e.failed).collect();
    assert!(
        ok.len() >= 3,
        "edited several times: {:#?}",
        fake_telegram::summary(&calls)
    );
    assert!(
        ok[..ok.len() - 1]
            .iter()
            .all(|e| e.text.as_deref().unwrap().contains("Sincronizando"))
    );
    let last = ok.last().unwrap().text.clone().unwrap();
    assert!(last.contains("Datos actualizados exitosamente"), "{last}");
    assert!(
        last.contains("Sincronizados: 20/20 · Fallidos: 0 · Omitidos: 0"),
        "{last}"
    );
    assert_eq!(r.bot.fake.message_text(ADMIN_TG, id).unwrap(), last);
    // No more than one edit per debounce window, counting from the first message. Each edit is
    // sent a full window after the previous request was answered, and the fake stamps a request
    // before answering it, so the gaps it sees cannot be shorter (no slack needed).
    let mut previous = sends[0].at;
    for e in &edits {
        let gap = e.at.duration_since(previous);
        assert!(gap >= debounce, "edits {gap:?} apart");
        previous = e.at;
    }
    // After the 429 (retry after 1 s) the next edit waited at least that long.
    assert!(edits[1].at.duration_since(edits[0].at) >= Duration::from_secs(1));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_chats_get_personal_data_by_private_message() {
    let office = office(3, 10, 2, Duration::ZERO).await;
    let r = start(office, Duration::from_millis(50)).await;
    let f = &r.bot.fake;
    // Personal data asked in the group: the card goes by DM, a short note stays in the group.
    f.inject(2000, TEAM_CHAT, "/mis_metricas@PulsoBot semana");
    let calls = f
        .wait_for(Duration::from_secs(10), "DM and note", |c| {
            c.iter().filter(|c| c.method == "sendMessage").count() >= 2
        })
        .await;
    let dm: Vec<_> = calls.iter().filter(|c| c.chat_id == Some(2000)).collect();
    let group: Vec<_> = calls.iter().filter(|c| c.chat_id == Some(TEAM_CHAT)).collect();
    assert!(
        dm[0]
            .text
            .as_deref()
            .unwrap()
            .contains("<b>Ana García · Última semana</b>")
    );
    assert_eq!(group.len(), 1);
    assert!(group[0].text.as_deref().unwrap().contains("Te respondí por privado"));
    assert!(!group[0].text.as_deref().unwrap().contains("Seguidores"));

    // The user never opened a private chat: Telegram refuses, the group note says what to do.
    let before = f.calls().len();
    f.fail_next(
        "sendMessage",
        Some(2001),
        Fault::Error(403, "Forbidden: bot can't initiate conversation with a user".into()),
    );
    f.inject(2001, TEAM_CHAT, "/mis_metricas");
    let calls = f
        .wait_for(Duration::from_secs(10), "the note", |c| {
            c[before..].iter().any(|c| c.chat_id == Some(TEAM_CHAT) && !c.failed)
        })
        .await;
    let note = calls[before..].iter().find(|c| c.chat_id == Some(TEAM_CHAT)).unwrap();
    assert!(
        note.text
            .as_deref()
            .unwrap()
            .contains("No puedo escribirte por privado")
    );
    assert!(note.text.as_deref().unwrap().contains("@PulsoBot"));

    // Plain chatter and other bots' commands: silence. Private plain text: a hint. The silent
    // updates are queued first; the hint's arrival is the event waited for, and whatever else
    // arrived by then is an answer that should not exist.
    let before = f.calls().len();
    f.inject(2000, TEAM_CHAT, "buenos días equipo");
    f.inject(2000, TEAM_CHAT, "/ranking@OtroBot");
    f.inject(2000, 2000, "hola");
    let calls = f
        .wait_for(Duration::from_secs(10), "the hint", |c| {
            c[before..].iter().any(|c| c.chat_id == Some(2000))
        })
        .await;
    let new: Vec<_> = calls[before..].to_vec();
    assert_eq!(new.len(), 1, "{:#?}", fake_telegram::summary(&calls));
    assert_eq!(new[0].chat_id, Some(2000));
    assert!(new[0].text.as_deref().unwrap().contains("/ayuda"));

    // Escaping: an agent name with HTML cannot break the message.
    put_agent(r.office.store.as_ref(), "Zoe <b>&", "z@remax.mx").await;
    let before = f.calls().len();
    f.inject(ADMIN_TG, ADMIN_TG, "/agentes");
    let calls = f
        .wait_for(Duration::from_secs(10), "agents", |c| c.len() > before)
        .await;
    let text = calls[before].text.clone().unwrap();
    assert!(text.contains("Zoe &lt;b&gt;&amp;"), "{text}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_control_on_sends_is_waited_out_and_delivered_once() {
    let office = office(3, 10, 2, Duration::ZERO).await;
    let r = start(office, Duration::from_millis(50)).await;
    let f = &r.bot.fake;
    f.fail_next("sendPhoto", Some(ADMIN_TG), Fault::RetryAfter(1));
    f.inject(ADMIN_TG, ADMIN_TG, "/ranking semana");
    let calls = f
        .wait_for(Duration::from_secs(15), "the photo", |c| {
            c.iter().any(|c| c.method == "sendPhoto" && !c.failed)
        })
        .await;
    let photos: Vec<_> = calls.iter().filter(|c| c.method == "sendPhoto").collect();
    assert_eq!(photos.len(), 2, "one 429 and one delivery");
    // The retry waited the second Telegram asked for (stamped by the fake on arrival).
    assert!(photos[1].at.duration_since(photos[0].at) >= Duration::from_secs(1));
    assert!(photos[0].failed && !photos[1].failed);
    assert!(photos[1].bytes.starts_with(b"\x89PNG"));
    assert_eq!(photos[1].file_name.as_deref(), Some("ranking_semana.png"));
    assert!(
        photos[1]
            .text
            .as_deref()
            .unwrap()
            .contains("<b>Ranking · Última semana</b>")
    );

    // Documents: the CSV export.
    let before = f.calls().len();
    f.inject(ADMIN_TG, ADMIN_TG, "/exportar semana");
    let calls = f
        .wait_for(Duration::from_secs(10), "the CSV", |c| {
            c[before..].iter().any(|c| c.method == "sendDocument")
        })
        .await;
    let doc = calls[before..].iter().find(|c| c.method == "sendDocument").unwrap();
    assert!(doc.file_name.as_deref().unwrap().starts_with("pulso_equipo_semana_"));
    assert!(String::from_utf8_lossy(&doc.bytes).contains("agente,fecha,seguidores"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_reaches_the_team_chat_and_linked_agents() {
    let office = office(3, 10, 2, Duration::ZERO).await;
    let r = start(office, Duration::from_millis(50)).await;
    let f = &r.bot.fake;
    let outbox: Arc<dyn Outbox> = Arc::new(FanOutOutbox::new(vec![r.bot.chat.outbox()]));
    outbox.to_team(&OutMessage::text("🚨 Alerta de prueba")).await.unwrap();
    assert_eq!(
        outbox
            .to_agent(r.office.agents[0], &OutMessage::text("hola Ana"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        outbox
            .to_agent(r.office.agents[2], &OutMessage::text("nadie"))
            .await
            .unwrap(),
        0
    );
    let calls = f.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.chat_id == Some(TEAM_CHAT) && c.text.as_deref() == Some("🚨 Alerta de prueba"))
    );
    assert!(
        calls
            .iter()
            .any(|c| c.chat_id == Some(2000) && c.text.as_deref() == Some("hola Ana"))
    );

    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_checks_telegrams_secret_header() {
    let office = office(2, 5, 1, Duration::ZERO).await;
    let fake = FakeTelegram::start().await;
    let mut config = config(&fake.url, "http://127.0.0.1:9");
    config.telegram.webhook_url = "https://pulso.example/tg/hook".into();
    config.secrets.telegram_webhook_secret = Some(SecretString::from("s3creto"));
    let chat = TelegramChat::connect(
        office.core.clone(),
        &config,
        &SecretString::from(fake_telegram::TOKEN),
        None,
    )
    .await
    .unwrap();
    chat.register_webhook().await.unwrap();
    assert_eq!(
        fake.webhook(),
        Some(("https://pulso.example/tg/hook".into(), "s3creto".into()))
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = chat.webhook_router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let update = serde_json::json!({"update_id": 1, "message": {
        "message_id": 5, "date": 1_790_000_000,
        "chat": {"id": 2000, "type": "private", "first_name": "Ana"},
        "from": {"id": 2000, "is_bot": false, "first_name": "Ana"},
        "text": "/mis_metricas", "entities": [{"type": "bot_command", "offset": 0, "length": 13}]}});
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/tg/hook");
    let denied = client.post(&url).json(&update).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "otro")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = client
        .post(&url)
        .header("X-Telegram-Bot-Api-Secret-Token", "s3creto")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let calls = fake
        .wait_for(Duration::from_secs(10), "the card", |c| {
            c.iter().any(|c| c.method == "sendMessage")
        })
        .await;
    let card = calls.iter().find(|c| c.method == "sendMessage").unwrap();
    assert_eq!(card.chat_id, Some(2000));
    assert!(card.text.as_deref().unwrap().contains("Ana García"));
    assert_eq!(calls.iter().filter(|c| c.method == "sendMessage").count(), 1);
}

/// /salud as production serves it, on the health registry the adapters report to.
async fn salud(health: &Health, store: Arc<dyn pulso::store::Store>) -> impl Fn() -> BoxedSalud {
    let clock = Arc::new(pulso::sync::ManualClock::starting_at(now()));
    let state = HttpState::new(store, clock, health.clone(), 200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/salud", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, pulso::http::router(state)).await.unwrap() });
    move || {
        let url = url.clone();
        Box::pin(async move {
            let body = reqwest::get(&url).await.unwrap().text().await.unwrap();
            serde_json::from_str(&body).unwrap()
        })
    }
}

type BoxedSalud = std::pin::Pin<Box<dyn std::future::Future<Output = serde_json::Value> + Send>>;

/// Polls /salud until `pred` holds (the adapter reports asynchronously), or panics.
async fn wait_salud(get: &impl Fn() -> BoxedSalud, what: &str, pred: impl Fn(&serde_json::Value) -> bool) {
    let mut last = serde_json::Value::Null;
    for _ in 0..300 {
        last = get().await;
        if pred(&last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salud_shows_telegram_down_while_polling_fails_and_up_when_it_works_again() {
    let office = office(1, 1, 0, Duration::ZERO).await;
    let health = Health::new();
    let get = salud(&health, office.store.clone()).await;
    let fake = FakeTelegram::start().await;
    let chat = connect_telegram(office.core.clone(), &fake, None).await;
    chat.report_status(health.hook("telegram"));
    let bot = TelegramBot::polling(fake, chat);
    let fake = bot.fake.clone();
    let telegram = |v: &serde_json::Value| v["adapters"]["telegram"].clone();
    wait_salud(&get, "telegram connected", |v| {
        telegram(v)["connected"] == true && v["ready"] == true
    })
    .await;

    fake.set_updates_down(true);
    wait_salud(&get, "telegram disconnected", |v| telegram(v)["connected"] == false).await;
    let v = get().await;
    assert_eq!(v["ready"], false, "{v}");
    let detail = telegram(&v)["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("getUpdates"), "{detail}");
    assert!(!detail.contains(fake_telegram::TOKEN), "{detail}");

    fake.set_updates_down(false);
    wait_salud(&get, "telegram connected again", |v| {
        telegram(v)["connected"] == true && v["ready"] == true
    })
    .await;
    bot.stop().await;
}

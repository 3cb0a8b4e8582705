//! The Discord adapter through serenity's request building and HTTP client against a fake REST API:
//! deferred and ephemeral answers, attachments, progress edits, Discord's rate limits (route
//! buckets, 429s, global limits, on the manual clock both sides share), long syncs that outlive
//! the interaction, team channel and DMs; and once end to end through serenity's real gateway
//! client against a fake WebSocket gateway.

mod chat_support;
mod support;

use std::time::Duration;

use chat_support::fake_discord::{self, FakeDiscord, interaction};
use chat_support::*;
use pulso::chat::DiscordChat;
use pulso::ports::OutMessage;
use pulso::sync::Clock;
use secrecy::SecretString;
use serde_json::json;

async fn start(office: &Office, debounce: Duration) -> (FakeDiscord, DiscordChat) {
    let fake = FakeDiscord::start_with_clock(office.clock.clone()).await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let chat = DiscordChat::new(
        office.core.clone(),
        &config,
        discord_rest(office, &fake),
        Some(debounce),
    );
    (fake, chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_are_registered_with_their_options() {
    let office = office(1, 1, 0, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    chat.register_commands().await.unwrap();
    let commands = fake.commands();
    let metricas = commands.iter().find(|c| c["name"] == "metricas").unwrap();
    let options: Vec<_> = metricas["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(options, [json!("agente"), json!("periodo"), json!("grafico")]);
    assert_eq!(metricas["options"][0]["required"], json!(true));
    let periodo = &metricas["options"][1];
    assert_eq!(periodo["choices"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_answers_are_ephemeral_and_charts_are_attached() {
    let office = office(3, 30, 2, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    // An agent's card in the guild: deferred ephemerally, then edited with the card.
    chat.handle_interaction(interaction(
        1,
        3000,
        Some(&[]),
        "mis_metricas",
        &[("grafico", json!(true))],
    ))
    .await;
    // The admin's ranking: public, with the PNG; the first edit is rate limited and retried.
    fake.rate_limit_next("@original", 1);
    chat.handle_interaction(interaction(
        2,
        3999,
        Some(&[ADMIN_ROLE]),
        "ranking",
        &[("periodo", json!("semana"))],
    ))
    .await;
    // Not linked, in a DM.
    chat.handle_interaction(interaction(3, 4444, None, "mis_metricas", &[]))
        .await;
    // Not linked, a team command in the guild channel: the refusal is shown only to them.
    chat.handle_interaction(interaction(4, 4444, Some(&[]), "ranking", &[]))
        .await;
    let calls = fake.calls();
    let of = |token: &str| calls.iter().filter(|c| c.target == token).cloned().collect::<Vec<_>>();
    let card = of("tok1");
    assert_eq!(card[0].kind, Some(5));
    assert_eq!(card[0].flags & 64, 64);
    let edit = card.iter().find(|c| c.path.ends_with("@original")).unwrap();
    let content = edit.content.clone().unwrap();
    assert!(content.contains("**Ana García · Última semana**"), "{content}");
    assert_eq!(edit.files.len(), 1);
    assert!(edit.files[0].0.starts_with("tendencia_ana_garcia"));
    assert!(edit.files[0].1.starts_with(b"\x89PNG"));

    let ranking = of("tok2");
    assert_eq!(ranking[0].flags & 64, 0, "public");
    let edits: Vec<_> = ranking.iter().filter(|c| c.path.ends_with("@original")).collect();
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0].status, 429);
    assert_eq!(edits[1].status, 200);
    assert_eq!(edits[1].files[0].0, "ranking_semana.png");

    let stranger = of("tok3");
    let text = stranger
        .iter()
        .find(|c| c.path.ends_with("@original"))
        .unwrap()
        .content
        .clone()
        .unwrap();
    assert!(text.contains("/vincular"), "{text}");

    let refused = of("tok4");
    assert_eq!(
        (refused[0].kind, refused[0].flags & 64),
        (Some(5), 64),
        "ephemeral refusal"
    );
    let text = refused
        .iter()
        .find(|c| c.path.ends_with("@original"))
        .and_then(|c| c.text.clone())
        .unwrap();
    assert!(text.contains("/vincular"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_is_followed_by_editing_the_deferred_response() {
    let mut s = settings();
    s.batch_size = 2;
    let office = office_with(8, 5, 0, Duration::from_millis(150), s).await;
    let debounce = Duration::from_millis(200);
    let (fake, chat) = start(&office, debounce).await;
    chat.handle_interaction(interaction(9, 3999, Some(&[ADMIN_ROLE]), "actualizar", &[]))
        .await;
    let edits: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.target == "tok9" && c.path.ends_with("@original"))
        .collect();
    assert!(edits.len() >= 3, "{edits:#?}");
    assert!(
        edits[0]
            .content
            .as_deref()
            .unwrap()
            .contains("Sincronizando 0/8 agentes")
    );
    let last = edits.last().unwrap().content.clone().unwrap();
    assert!(last.contains("Datos actualizados exitosamente"), "{last}");
    assert!(last.contains("Sincronizados: 8/8"), "{last}");
    // One edit per debounce window: each edit is sent `debounce` after the previous one was
    // answered, so the fake sees them at least that far apart.
    for pair in edits[1..].windows(2) {
        assert!(pair[1].at.duration_since(pair[0].at) >= debounce);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_posts_to_the_team_channel_and_dms_linked_agents() {
    let office = office(3, 5, 1, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    let outbox = chat.outbox();
    fake.rate_limit_next("channels/777", 1);
    outbox
        .to_team(&OutMessage::text("🚨 *Alerta* de prueba"))
        .await
        .unwrap();
    assert_eq!(
        outbox
            .to_agent(office.agents[0], &OutMessage::text("hola"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        outbox
            .to_agent(office.agents[1], &OutMessage::text("nadie"))
            .await
            .unwrap(),
        0
    );
    let calls = fake.calls();
    let team: Vec<_> = calls.iter().filter(|c| c.path == "channels/777/messages").collect();
    assert_eq!(team.len(), 2, "one 429 and one delivery");
    assert_eq!(team[1].content.as_deref(), Some("🚨 \\*Alerta\\* de prueba"));
    assert!(
        calls
            .iter()
            .any(|c| c.path == "users/@me/channels" && c.target == "3000")
    );
    assert!(
        calls
            .iter()
            .any(|c| c.path == "channels/83000/messages" && c.content.as_deref() == Some("hola"))
    );
}

/// The production path: `start_discord` connects serenity's real gateway client to the fake
/// gateway (found through `GET /gateway`), registers the commands once Ready arrives, and answers
/// interactions delivered as gateway events; its outbox posts to the team channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_arrive_through_the_real_gateway_and_are_answered() {
    let office = office(3, 30, 2, Duration::ZERO).await;
    let fake = FakeDiscord::start().await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let (outbox, gateway) = pulso::chat::discord::start_discord(
        office.core.clone(),
        &config,
        SecretString::from(fake_discord::TOKEN),
        None,
    )
    .await
    .unwrap();
    fake.wait_for(Duration::from_secs(30), "commands registered after Ready", |calls| {
        calls.iter().any(|c| c.method == "PUT" && c.path.ends_with("commands"))
    })
    .await;
    let identify = fake.identified();
    assert_eq!(identify.len(), 1);
    // serenity identifies with the same "Bot <token>" it sends over REST; Discord accepts both.
    let token = identify[0]["token"].as_str().unwrap();
    assert_eq!(token.trim_start_matches("Bot "), fake_discord::TOKEN);
    assert!(fake.commands().iter().any(|c| c["name"] == "mis_metricas"));

    fake.dispatch_interaction(fake_discord::interaction_json(
        21,
        3000,
        Some(&[]),
        "mis_metricas",
        &[("periodo", json!("semana"))],
    ));
    fake.dispatch_interaction(fake_discord::interaction_json(
        22,
        3999,
        Some(&[ADMIN_ROLE]),
        "ranking",
        &[("periodo", json!("mes"))],
    ));
    let calls = fake
        .wait_for(Duration::from_secs(30), "both answers", |calls| {
            ["tok21", "tok22"].iter().all(|t| {
                calls
                    .iter()
                    .any(|c| c.target == *t && c.path.ends_with("@original") && c.status == 200)
            })
        })
        .await;
    let answer = |token: &str| {
        calls
            .iter()
            .find(|c| c.target == token && c.path.ends_with("@original") && c.status == 200)
            .unwrap()
            .clone()
    };
    let deferred = calls
        .iter()
        .find(|c| c.target == "tok21" && c.path.ends_with("callback"))
        .unwrap();
    assert_eq!(
        (deferred.kind, deferred.flags & 64),
        (Some(5), 64),
        "the card is ephemeral"
    );
    let card = answer("tok21").content.unwrap();
    assert!(card.contains("**Ana García · Última semana**"), "{card}");
    assert!(!card.contains("Beto Ruiz"), "{card}");
    let ranking = answer("tok22");
    assert_eq!(ranking.files[0].0, "ranking_mes.png");
    assert!(ranking.files[0].1.starts_with(b"\x89PNG"));

    outbox.to_team(&OutMessage::text("🚨 prueba de alerta")).await.unwrap();
    let posted = fake.calls();
    assert!(
        posted
            .iter()
            .any(|c| c.target == TEAM_CHANNEL.to_string() && c.content.as_deref() == Some("🚨 prueba de alerta"))
    );
    gateway.abort();
}

/// The edit of a deferred answer as the fake saw it: (429s, the successful one).
fn original_edits(fake: &FakeDiscord, token: &str) -> Vec<fake_discord::DCall> {
    fake.calls()
        .into_iter()
        .filter(|c| c.target == token && c.path.ends_with("@original"))
        .collect()
}

/// Discord's documented 429 on `PATCH …/@original` (`Retry-After: 2`, `X-RateLimit-Reset-After:
/// 2.000`, body `retry_after: 2.0` with no `code`): pulso waits the advertised 2 s and sends
/// nothing into the exhausted route before then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_for_as_long_as_discord_says() {
    let office = office(3, 30, 2, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    fake.exhaust("@original", 1, 2.0);
    chat.handle_interaction(interaction(
        31,
        3999,
        Some(&[ADMIN_ROLE]),
        "ranking",
        &[("periodo", json!("semana"))],
    ))
    .await;
    let edits = original_edits(&fake, "tok31");
    assert_eq!(
        edits.iter().map(|e| e.status).collect::<Vec<_>>(),
        [429, 200],
        "{edits:#?}"
    );
    let waited = edits[1].clock_at - edits[0].clock_at;
    assert!(waited >= chrono::Duration::seconds(2), "retried after {waited}");
    assert!(fake.early_requests().is_empty(), "{:#?}", fake.early_requests());
    assert_eq!(edits[1].files[0].0, "ranking_semana.png");
    assert!(edits[1].text.as_deref().unwrap().contains("Ranking · Última semana"));
}

/// A 5-second `retry_after` (three times what the old fixed backoff tried) still completes the
/// deferred reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_second_retry_after_still_completes_the_reply() {
    let office = office(3, 30, 2, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    fake.exhaust("@original", 1, 5.0);
    chat.handle_interaction(interaction(32, 3000, Some(&[]), "mis_metricas", &[]))
        .await;
    let edits = original_edits(&fake, "tok32");
    assert_eq!(
        edits.iter().map(|e| e.status).collect::<Vec<_>>(),
        [429, 200],
        "{edits:#?}"
    );
    assert!(edits[1].clock_at - edits[0].clock_at >= chrono::Duration::seconds(5));
    assert!(fake.early_requests().is_empty());
    assert!(edits[1].text.as_deref().unwrap().contains("Ana García · Última semana"));
}

/// A bucket announced in `X-RateLimit-*` headers (2 requests per 3 s) is waited for *before* a
/// request would hit it: five team messages go out without a single 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_buckets_are_waited_for_before_sending() {
    let office = office(1, 1, 0, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    fake.bucket("channels/777", 2, 3.0);
    let outbox = chat.outbox();
    for i in 0..5 {
        outbox.to_team(&OutMessage::text(format!("aviso {i}"))).await.unwrap();
    }
    let sent: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.path == "channels/777/messages")
        .collect();
    assert_eq!(sent.len(), 5, "{sent:#?}");
    assert!(
        sent.iter().all(|c| c.status == 200),
        "no request into the exhausted bucket"
    );
    assert!(fake.early_requests().is_empty());
    // Requests 3 and 5 waited for the bucket to refill.
    assert!(sent[2].clock_at - sent[0].clock_at >= chrono::Duration::seconds(3));
    assert!(sent[4].clock_at - sent[2].clock_at >= chrono::Duration::seconds(3));
    let texts: Vec<_> = sent.iter().map(|c| c.text.clone().unwrap()).collect();
    assert_eq!(texts, ["aviso 0", "aviso 1", "aviso 2", "aviso 3", "aviso 4"]);
}

/// A global 429 (`X-RateLimit-Global`, `"global": true`) holds every request for its
/// `retry_after`, whatever the route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_429_holds_every_request() {
    let office = office(3, 5, 1, Duration::ZERO).await;
    let (fake, chat) = start(&office, Duration::from_millis(50)).await;
    fake.global_limit_next(1.5);
    let outbox = chat.outbox();
    assert_eq!(
        outbox
            .to_agent(office.agents[0], &OutMessage::text("hola"))
            .await
            .unwrap(),
        1
    );
    let calls = fake.calls();
    assert_eq!(calls[0].path, "users/@me/channels");
    assert_eq!(calls[0].status, 429);
    let after: Vec<_> = calls[1..].iter().collect();
    assert!(after.iter().all(|c| c.status == 200), "{calls:#?}");
    assert!(
        after
            .iter()
            .all(|c| c.clock_at - calls[0].clock_at >= chrono::Duration::milliseconds(1500))
    );
    assert!(fake.early_requests().is_empty());
    assert!(
        after
            .iter()
            .any(|c| c.path == "channels/83000/messages" && c.text.as_deref() == Some("hola"))
    );
}

/// A bulk sync that pauses on the API budget for an hour (manual clock) outlives the interaction's
/// 15-minute token: its progress and report continue in a channel message, and the expired token
/// is never used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_paused_past_the_interaction_lifetime_reports_in_the_channel() {
    let mut s = settings();
    s.hourly_budget = 30;
    s.batch_size = 2;
    let office = office_with(20, 5, 0, Duration::ZERO, s).await;
    let (fake, chat) = start(&office, Duration::from_millis(20)).await;
    let started = office.clock.now();
    chat.handle_interaction(interaction(41, 3999, Some(&[ADMIN_ROLE]), "actualizar", &[]))
        .await;
    assert!(
        office.clock.now() - started > chrono::Duration::minutes(15),
        "the sync paused past the token's lifetime"
    );
    let calls = fake.calls();
    let lifetime = started + chrono::Duration::minutes(15);
    let on_token: Vec<_> = calls.iter().filter(|c| c.target == "tok41").collect();
    assert!(
        on_token.iter().all(|c| c.clock_at < lifetime && c.status < 300),
        "{on_token:#?}"
    );
    let channel = fake_discord::CHANNEL.to_string();
    let posted = calls
        .iter()
        .position(|c| c.method == "POST" && c.path == format!("channels/{channel}/messages"))
        .expect("the progress moved to a channel message");
    let report = calls
        .iter()
        .rev()
        .find(|c| c.path.starts_with(&format!("channels/{channel}/messages")) && c.status == 200)
        .unwrap();
    let text = report.text.clone().unwrap();
    assert!(text.contains("Sincronizados: 20/20"), "{text}");
    assert!(calls[posted].clock_at >= started + interaction_use());
}

fn interaction_use() -> chrono::Duration {
    chrono::Duration::from_std(pulso::chat::discord::INTERACTION_USE).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salud_shows_discord_down_while_the_gateway_is_closed_and_up_when_it_is_back() {
    let office = office(1, 1, 0, Duration::ZERO).await;
    let health = pulso::http::Health::new();
    let fake = FakeDiscord::start().await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let (_outbox, gateway) = pulso::chat::discord::start_discord(
        office.core.clone(),
        &config,
        SecretString::from(fake_discord::TOKEN),
        Some(health.hook("discord")),
    )
    .await
    .unwrap();
    let discord = |health: &pulso::http::Health| health.adapters().get("discord").cloned();
    let wait = |what: &'static str, want: bool| {
        let health = health.clone();
        async move {
            for _ in 0..600 {
                if discord(&health).is_some_and(|a| a.connected == want) {
                    return discord(&health).unwrap();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("timed out waiting for {what}: {:?}", discord(&health));
        }
    };
    wait("discord connected", true).await;

    fake.set_gateway_down(true);
    let down = wait("discord disconnected", false).await;
    let detail = down.detail.unwrap_or_default();
    assert!(detail.contains("gateway de Discord"), "{detail}");
    assert!(!detail.contains(fake_discord::TOKEN), "{detail}");

    fake.set_gateway_down(false);
    wait("discord connected again", true).await;
    gateway.abort();
}

//! Instagram in chat through the real adapters: the card and `/ranking`'s network on Telegram
//! (teloxide against a fake Bot API) and on Discord (the slash command's "red" option).

mod chat_support;
mod instagram_seed;
mod support;

use std::time::Duration;

use chat_support::*;
use instagram_seed::*;
use pulso::domain::{Period, thousands};

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

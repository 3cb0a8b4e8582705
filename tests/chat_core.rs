//! The chat core without any platform: the permission matrix, hostile input, and a database that
//! stops answering.

mod chat_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use chat_support::*;
use pulso::chat::permissions::LINK_HINT;
use pulso::chat::{Caller, ChatCore, ChatKind, ParseOutcome, Platform, Reply, Visibility};
use pulso::domain::thousands;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Every command, with arguments that would show data if allowed.
const COMMANDS: &[&str] = &[
    "/mis_metricas semana",
    "/mis_metricas mes grafico",
    "/metricas Beto Ruiz mes",
    "/metricas Ana García",
    "/ranking mes",
    "/ranking total semana",
    "/resumen mes",
    "/estado",
    "/agentes",
    "/exportar mes",
    "/conectar",
    "/alertas",
    "/silenciar sync_fallos 2h",
    "/ayuda",
    "/vincular ZZZZ9999",
    "/actualizar_agente Beto Ruiz",
    "/actualizar_agente Nadie Existe",
    "/actualizar_agente",
    "/actualizar",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Admin,
    LinkedAdmin,
    AgentAna,
    AgentBeto,
    Unlinked,
}

fn caller(who: Who, chat: ChatKind) -> Caller {
    let (user, admin) = match who {
        Who::Admin => (ADMIN_TG, true),
        // Telegram user 2001 is linked to Beto; make them an admin too.
        Who::LinkedAdmin => (2001, true),
        Who::AgentAna => (2000, false),
        Who::AgentBeto => (2001, false),
        Who::Unlinked => (5555, false),
    };
    tg(user, admin, chat)
}

/// Strings that identify agent i's data: their name and their follower count.
fn markers(i: usize) -> Vec<String> {
    vec![
        agent_name(i),
        thousands(followers_of(i)),
        followers_of(i).to_string(),
        format!("Casa en venta número {i}"),
    ]
}

fn everything(reply: &Reply) -> String {
    let mut all = reply.text.clone();
    if let Some(a) = &reply.attachment {
        all.push_str(&String::from_utf8_lossy(&a.bytes));
        all.push_str(&a.file_name);
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_agents_never_see_other_agents_data() {
    let o = office(6, 40, 2, Duration::ZERO).await;
    let admin_only = [
        "/metricas",
        "/resumen",
        "/estado",
        "/agentes",
        "/alertas",
        "/silenciar",
        "/actualizar",
    ];
    for chat in [ChatKind::Private, ChatKind::Group] {
        for who in [
            Who::Admin,
            Who::LinkedAdmin,
            Who::AgentAna,
            Who::AgentBeto,
            Who::Unlinked,
        ] {
            for &cmd in COMMANDS {
                let c = caller(who, chat);
                let reply = o
                    .core
                    .handle(&c, cmd, None)
                    .await
                    .expect("commands always get an answer");
                let all = everything(&reply);
                let head = cmd.split_whitespace().next().unwrap();
                let is_admin_only = admin_only.contains(&head);
                match who {
                    Who::AgentAna | Who::AgentBeto => {
                        let own = if who == Who::AgentAna { 0 } else { 1 };
                        // No other agent's name or numbers, anywhere, in any answer or file.
                        for other in (0..6).filter(|i| *i != own) {
                            for m in markers(other) {
                                assert!(
                                    !all.contains(&m),
                                    "{who:?} {chat:?} {cmd}: leaked «{m}»:\n{}",
                                    reply.text
                                );
                            }
                        }
                        if is_admin_only {
                            assert!(reply.text.contains("Solo un admin"), "{who:?} {cmd}: {}", reply.text);
                        }
                        if head == "/actualizar_agente" && cmd.len() > head.len() {
                            let named_self = (who == Who::AgentBeto) && cmd.contains("Beto");
                            if !named_self {
                                assert!(
                                    reply.text.contains("Solo puedes actualizar tus propios datos"),
                                    "{who:?} {cmd}: {}",
                                    reply.text
                                );
                            }
                        }
                        if head == "/ranking" {
                            assert!(reply.text.contains("Estás en el puesto"), "{}", reply.text);
                            assert!(reply.attachment.is_some(), "their highlighted chart");
                            assert_eq!(reply.visibility, Visibility::Private);
                        }
                        if head == "/mis_metricas" || head == "/exportar" {
                            assert!(all.contains(&agent_name(own)), "{cmd}: own data shown");
                            assert_eq!(reply.visibility, Visibility::Private);
                        }
                        if head == "/mis_metricas" {
                            assert!(
                                reply.text.contains("Publicaciones destacadas")
                                    && reply.text.contains(&format!("«Casa en venta número {own}»")),
                                "{cmd}: own top posts: {}",
                                reply.text
                            );
                        }
                    }
                    Who::Unlinked => {
                        if !matches!(head, "/ayuda" | "/vincular") {
                            assert_eq!(reply.text, LINK_HINT, "{cmd}");
                        }
                        for i in 0..6 {
                            for m in markers(i) {
                                assert!(!all.contains(&m), "unlinked {cmd}: leaked «{m}»");
                            }
                        }
                    }
                    Who::Admin | Who::LinkedAdmin => {
                        assert!(!reply.text.contains("Solo un admin"), "{who:?} {cmd}: {}", reply.text);
                        if head == "/metricas" {
                            assert!(reply.text.contains("👥 Seguidores"), "{cmd}: {}", reply.text);
                            assert_eq!(reply.visibility, Visibility::Private, "cards are private");
                        }
                        if head == "/ranking" {
                            assert!(reply.attachment.is_some());
                            assert_eq!(reply.visibility, Visibility::Public);
                        }
                        if head == "/mis_metricas" {
                            if who == Who::LinkedAdmin {
                                assert!(reply.text.contains("Beto Ruiz"), "{}", reply.text);
                            } else {
                                assert!(reply.text.contains("No tienes un perfil de agente"));
                            }
                        }
                    }
                }
                if head == "/vincular" {
                    assert!(reply.text.contains("no es válido"), "{}", reply.text);
                }
            }
        }
    }
    // Exports: an agent's CSV has only their rows.
    let csv = o
        .core
        .handle(&caller(Who::AgentAna, ChatKind::Private), "/exportar mes", None)
        .await
        .unwrap()
        .attachment
        .unwrap();
    let text = String::from_utf8(csv.bytes).unwrap();
    assert_eq!(text.lines().count(), 1 + 30);
    assert!(text.lines().skip(1).all(|l| l.starts_with("Ana García,")));
}

/// The bars of a ranking PNG, top to bottom: (first row, last row, highlighted), read down the
/// column just right of where every bar starts.
fn ranking_bars(png: &[u8]) -> (image::RgbImage, Vec<(u32, u32, bool)>) {
    use pulso::charts::palette::{BAR, HIGHLIGHT};
    let img = image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .expect("a PNG")
        .to_rgb8();
    let x = 424;
    let mut bars: Vec<(u32, u32, bool)> = Vec::new();
    for y in 0..img.height() {
        let p = img.get_pixel(x, y).0;
        let kind = if p == [HIGHLIGHT.0, HIGHLIGHT.1, HIGHLIGHT.2] {
            Some(true)
        } else if p == [BAR.0, BAR.1, BAR.2] {
            Some(false)
        } else {
            None
        };
        match (kind, bars.last_mut()) {
            (Some(h), Some(last)) if last.1 + 1 == y && last.2 == h => last.1 = y,
            (Some(h), _) => bars.push((y, y, h)),
            (None, _) => {}
        }
    }
    (img, bars)
}

/// Dark (text) pixels in the name column of the rows `y0..=y1`.
fn name_ink(img: &image::RgbImage, y0: u32, y1: u32) -> usize {
    (y0..=y1)
        .flat_map(|y| (110..400).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().map(|&c| c as u32).sum::<u32>() < 300)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_ranking_chart_highlights_only_their_own_named_bar() {
    for (agents, bars_shown) in [(6, 6), (30, 21)] {
        let o = office(agents, 10, 2, Duration::ZERO).await;
        let ana = caller(Who::AgentAna, ChatKind::Private);
        let reply = o.core.handle(&ana, "/ranking mes", None).await.unwrap();
        let png = reply.attachment.expect("a chart").bytes;
        let (img, bars) = ranking_bars(&png);
        assert_eq!(bars.len(), bars_shown, "{agents} agents: {bars:?}");
        let mine: Vec<_> = bars.iter().filter(|b| b.2).collect();
        assert_eq!(mine.len(), 1, "only Ana's bar is highlighted: {bars:?}");
        // Ana has the lowest score: past 25 agents she comes after the top 20.
        assert_eq!(*mine[0], *bars.last().unwrap());
        assert!(name_ink(&img, mine[0].0, mine[0].1) > 20, "her name is written");
        for other in bars.iter().filter(|b| !b.2) {
            assert_eq!(name_ink(&img, other.0, other.1), 0, "no other name: {other:?}");
        }

        // The admin's chart: every name, no highlight.
        let admin = caller(Who::Admin, ChatKind::Private);
        let png = o
            .core
            .handle(&admin, "/ranking mes", None)
            .await
            .unwrap()
            .attachment
            .unwrap()
            .bytes;
        let (img, bars) = ranking_bars(&png);
        assert_eq!(bars.len(), if agents <= 25 { agents } else { 20 });
        assert!(bars.iter().all(|b| !b.2));
        assert!(bars.iter().all(|b| name_ink(&img, b.0, b.1) > 20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_with_a_single_use_code() {
    let o = office(3, 10, 0, Duration::ZERO).await;
    let code = pulso::admin::issue_link_code(o.store.as_ref(), o.agents[2], now())
        .await
        .unwrap();
    let stranger = tg(7777, false, ChatKind::Private);
    let before = o.core.handle(&stranger, "/mis_metricas", None).await.unwrap();
    assert_eq!(before.text, LINK_HINT);
    let linked = o
        .core
        .handle(&stranger, &format!("/vincular {}", code.to_lowercase()), None)
        .await
        .unwrap();
    assert!(linked.text.contains("Carla Núñez"), "{}", linked.text);
    assert_eq!(linked.visibility, Visibility::Private);
    let card = o.core.handle(&stranger, "/mis_metricas", None).await.unwrap();
    assert!(card.text.contains("Carla Núñez · Última semana"));
    // Single use.
    let again = o
        .core
        .handle(&tg(8888, false, ChatKind::Private), &format!("/vincular {code}"), None)
        .await
        .unwrap();
    assert!(again.text.contains("ya se usó"), "{}", again.text);
    // Telegram deep link: /start CODE.
    let code2 = pulso::admin::issue_link_code(o.store.as_ref(), o.agents[1], now())
        .await
        .unwrap();
    let deep = o
        .core
        .handle(&tg(9999, false, ChatKind::Private), &format!("/start {code2}"), None)
        .await
        .unwrap();
    assert!(deep.text.contains("Beto Ruiz"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_is_silent_in_groups_and_hinted_in_private() {
    let o = office(1, 1, 1, Duration::ZERO).await;
    let group = tg(2000, false, ChatKind::Group);
    assert!(o.core.handle(&group, "hola a todos", None).await.is_none());
    assert!(
        o.core
            .handle(&group, "/ranking@OtroBot", Some("PulsoBot"))
            .await
            .is_none()
    );
    assert!(
        o.core
            .handle(&group, "/ranking@pulsobot", Some("PulsoBot"))
            .await
            .is_some()
    );
    let private = tg(2000, false, ChatKind::Private);
    let hint = o.core.handle(&private, "hola", None).await.unwrap();
    assert!(hint.text.contains("/ayuda"));
}

fn hostile_pool() -> Vec<String> {
    let mut pool: Vec<String> = [
        "'; DROP TABLE agents;--",
        "\" OR 1=1 --",
        "../../../../etc/passwd",
        "..\\..\\windows\\system32",
        "%s%s%n%x",
        "{{7*7}}",
        "<script>alert(1)</script>",
        "<b>negrita</b>",
        "**bold** @everyone <@123>",
        "99999999999999999999999999",
        "-1",
        "0",
        "1e309",
        "NaN",
        "18446744073709551616d",
        "9999999999m",
        "30m",
        "2h",
        "1d",
        "semana",
        "mes",
        "6meses",
        "hoy",
        "180d",
        "grafico",
        "confirmar",
        "Ana",
        "Beto Ruiz",
        "😀😀😀🏠",
        "\u{202e}evil\u{202c}",
        "\u{0}\u{1}\u{7}\u{1b}[31m",
        "\u{E000}\u{E001}",
        "ñáéíóú",
        "null",
        "undefined",
        "\n\n\n",
        "\t",
        "@",
        "/",
        "//",
        "ZZZZ9999",
        "A",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    pool.push("x".repeat(5000));
    pool.push("ñ".repeat(999));
    pool
}

const FORBIDDEN: [&str; 9] = [
    "sqlx",
    "panicked",
    "Error {",
    "error de base de datos",
    "thread '",
    "RUST_BACKTRACE",
    "SQLITE",
    "called `",
    "Os {",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_hostile_messages_get_spanish_errors_or_silence() {
    let o = office(4, 10, 2, Duration::ZERO).await;
    let names: Vec<&str> = pulso::chat::commands::COMMANDS.iter().map(|c| c.name).collect();
    let pool = hostile_pool();
    let mut rng = StdRng::seed_from_u64(20261126);
    let callers = [
        tg(ADMIN_TG, true, ChatKind::Private),
        tg(2000, false, ChatKind::Private),
        tg(2001, false, ChatKind::Group),
        tg(6666, false, ChatKind::Private),
        tg(6667, false, ChatKind::Group),
    ];
    let mut answered = 0;
    for n in 0..10_000 {
        let text = match rng.random_range(0..10) {
            // A real command name (maybe upper-cased or @-addressed) with hostile arguments.
            0..=5 => {
                let name = names[rng.random_range(0..names.len())];
                let name = if rng.random_bool(0.2) {
                    name.to_uppercase()
                } else {
                    name.to_string()
                };
                let mention = if rng.random_bool(0.1) { "@PulsoBot" } else { "" };
                let args: Vec<&str> = (0..rng.random_range(0..4))
                    .map(|_| pool[rng.random_range(0..pool.len())].as_str())
                    .collect();
                format!("/{name}{mention} {}", args.join(" "))
            }
            // Random bytes as text, command-shaped or not.
            6 | 7 => {
                let len = rng.random_range(0..200);
                let s: String = (0..len)
                    .map(|_| char::from_u32(rng.random_range(0..0x3_0000)).unwrap_or('?'))
                    .collect();
                if rng.random_bool(0.5) { format!("/{s}") } else { s }
            }
            8 => pool[rng.random_range(0..pool.len())].clone(),
            // Huge messages.
            _ => {
                let piece = &pool[rng.random_range(0..pool.len())];
                format!("/metricas {}", piece.repeat(rng.random_range(1..50)))
            }
        };
        // Keep the few real syncs and charts from dominating the run.
        let lower = text.to_lowercase();
        if lower.starts_with("/actualizar") && n > 100 {
            continue;
        }
        let c = &callers[n % callers.len()];
        let reply = o.core.handle(c, &text, Some("PulsoBot")).await;
        match reply {
            None => {
                let parsed = pulso::chat::parse(&text, Some("PulsoBot"));
                assert!(
                    parsed == ParseOutcome::OtherBot
                        || (parsed == ParseOutcome::NotCommand && c.chat == ChatKind::Group),
                    "silence only for plain text in groups or other bots' commands: {text:?}"
                );
            }
            Some(r) => {
                answered += 1;
                assert!(!r.text.trim().is_empty(), "{text:?}");
                assert!(r.text.chars().count() < 20_000, "{text:?}");
                for f in FORBIDDEN {
                    assert!(!r.text.contains(f), "{text:?} → internal text «{f}»: {}", r.text);
                }
                if !text.trim_start().starts_with('/') {
                    assert!(r.text.contains("/ayuda"), "plain text hint: {}", r.text);
                }
            }
        }
    }
    assert!(answered > 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_stops_answering_gives_a_spanish_notice() {
    let (sqlite, _dir) = support::sqlite_store().await;
    let pool = sqlite.pool().clone();
    let store: Arc<dyn pulso::store::Store> = Arc::new(sqlite);
    let o = office(1, 1, 1, Duration::ZERO).await;
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let queries = Arc::new(pulso::queries::Queries::new(store.clone(), tz));
    let core = ChatCore::new(store, queries, o.engine.clone(), tz, None, None);
    pool.close().await;
    let admin = Caller {
        platform: Platform::Telegram,
        user_id: ADMIN_TG.to_string(),
        is_admin: true,
        chat: ChatKind::Private,
        assume_agent: None,
    };
    for cmd in [
        "/ranking",
        "/estado",
        "/metricas Ana",
        "/vincular ABCD1234",
        "/mis_metricas",
    ] {
        let r = core.handle(&admin, cmd, None).await.unwrap();
        assert!(
            r.text.contains("Datos temporalmente no disponibles"),
            "{cmd}: {}",
            r.text
        );
    }
    // Help needs no data.
    let help = core.handle(&admin, "/ayuda", None).await.unwrap();
    assert!(help.text.contains("/ranking"));
}

//! The same scripted conversation on Telegram (real teloxide against a fake Bot API), Discord (real
//! serenity HTTP against a fake REST API, interactions injected as the gateway would) and the
//! console gives the same answers, once formatting is taken away.

mod chat_support;
mod support;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use chat_support::fake_discord::{self, FakeDiscord};
use chat_support::fake_telegram::FakeTelegram;
use chat_support::*;
use pulso::chat::{ConsoleChat, ConsoleOptions, DiscordChat};
use serde_json::{Value, json};
use tokio::io::AsyncWrite;

/// One step: the command line, its Discord form (name + options), and whether it starts a sync.
struct Step {
    text: &'static str,
    name: &'static str,
    options: Vec<(&'static str, Value)>,
    progress: bool,
}

fn step(text: &'static str, name: &'static str, options: Vec<(&'static str, Value)>) -> Step {
    Step {
        text,
        name,
        options,
        progress: false,
    }
}

fn admin_script() -> Vec<Step> {
    vec![
        step("/ayuda", "ayuda", vec![]),
        step(
            "/mis_metricas semana",
            "mis_metricas",
            vec![("periodo", json!("semana"))],
        ),
        step(
            "/metricas Ana García mes",
            "metricas",
            vec![("agente", json!("Ana García")), ("periodo", json!("mes"))],
        ),
        step(
            "/metricas Beto 6meses grafico",
            "metricas",
            vec![
                ("agente", json!("Beto")),
                ("periodo", json!("6meses")),
                ("grafico", json!(true)),
            ],
        ),
        step("/metricas Nadie", "metricas", vec![("agente", json!("Nadie"))]),
        step("/ranking mes", "ranking", vec![("periodo", json!("mes"))]),
        step("/resumen semana", "resumen", vec![("periodo", json!("semana"))]),
        step("/estado", "estado", vec![]),
        step("/agentes", "agentes", vec![]),
        step("/exportar semana", "exportar", vec![("periodo", json!("semana"))]),
        step(
            "/silenciar sync_fallos 2h",
            "silenciar",
            vec![("alerta", json!("sync_fallos")), ("duracion", json!("2h"))],
        ),
        step("/alertas", "alertas", vec![]),
        step("/conectar", "conectar", vec![]),
        step("/ranking año", "ranking", vec![("periodo", json!("año"))]),
        step("/foo", "foo", vec![]),
        Step {
            progress: true,
            ..step("/actualizar", "actualizar", vec![])
        },
        step("/actualizar", "actualizar", vec![]),
        step("/estado", "estado", vec![]),
    ]
}

fn agent_script() -> Vec<Step> {
    vec![
        step("/ayuda", "ayuda", vec![]),
        step(
            "/mis_metricas semana",
            "mis_metricas",
            vec![("periodo", json!("semana"))],
        ),
        step("/ranking mes", "ranking", vec![("periodo", json!("mes"))]),
        step("/exportar mes", "exportar", vec![("periodo", json!("mes"))]),
        step("/metricas Beto", "metricas", vec![("agente", json!("Beto"))]),
        step("/estado", "estado", vec![]),
        step("/conectar", "conectar", vec![]),
        Step {
            progress: true,
            ..step("/actualizar_agente", "actualizar_agente", vec![])
        },
    ]
}

/// What a person sees after one command: all text (joined), and the files.
#[derive(Debug, PartialEq)]
struct Seen {
    text: String,
    files: Vec<String>,
}

fn clean(s: &str) -> String {
    s.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

// ── console ──

#[derive(Clone, Default)]
struct Capture {
    inner: Arc<Mutex<(String, Vec<String>)>>,
}

impl Capture {
    fn messages(&self) -> Vec<String> {
        self.inner.lock().unwrap().1.clone()
    }
}

impl AsyncWrite for Capture {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.inner.lock().unwrap().0.push_str(&String::from_utf8_lossy(buf));
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let mut g = self.inner.lock().unwrap();
        let msg = std::mem::take(&mut g.0);
        if !msg.is_empty() {
            g.1.push(msg.trim_end_matches('\n').to_string());
        }
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

async fn console_run(script: &[Step], as_agent: Option<&str>) -> Vec<Seen> {
    let office = office(6, 60, 2, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let capture = Capture::default();
    let mut opts = ConsoleOptions::new(dir.path());
    opts.as_agent = as_agent.map(str::to_string);
    opts.debounce = Duration::from_millis(50);
    let chat = ConsoleChat::new(office.core.clone(), capture.clone(), opts)
        .await
        .unwrap();
    let mut seen = Vec::new();
    for s in script {
        let before = capture.messages().len();
        chat.run(format!("{}\n", s.text).as_bytes()).await.unwrap();
        // Skip the banner each run prints.
        let msgs: Vec<String> = capture.messages()[before + 1..].to_vec();
        let (files, texts): (Vec<_>, Vec<_>) = msgs.into_iter().partition(|m| m.starts_with("📎 Archivo: "));
        let files = files
            .iter()
            .map(|f| {
                let name = std::path::Path::new(f.trim_start_matches("📎 Archivo: "))
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                name[4..].to_string()
            })
            .collect();
        let text = if s.progress {
            texts.last().cloned().unwrap_or_default()
        } else {
            texts.join("\n")
        };
        seen.push(Seen {
            text: clean(&text),
            files,
        });
    }
    seen
}

// ── Telegram ──

async fn telegram_run(script: &[Step], user: i64) -> (Vec<Seen>, FakeTelegram) {
    let office = office(6, 60, 2, Duration::ZERO).await;
    let bot = TelegramBot::start(office.core.clone(), Some(Duration::from_millis(50))).await;
    let fake = bot.fake.clone();
    let mut seen = Vec::new();
    for s in script {
        let before = fake.calls().len();
        fake.inject(user, user, s.text);
        if s.progress {
            fake.wait_for(Duration::from_secs(20), "the sync report", |calls| {
                calls[before..].iter().any(|c| {
                    c.method == "editMessageText" && c.text.as_deref().unwrap_or("").contains("Sincronizados:")
                })
            })
            .await;
        } else {
            fake.wait_for(Duration::from_secs(20), s.text, |calls| calls.len() > before)
                .await;
        }
        fake.settle(Duration::from_millis(150)).await;
        let calls = fake.calls();
        let mut texts = Vec::new();
        let mut files = Vec::new();
        for c in &calls[before..] {
            if c.failed || !c.method.starts_with("send") {
                continue;
            }
            let current = fake.message_text(user, c.message_id.unwrap()).unwrap_or_default();
            if !current.is_empty() {
                texts.push(normalize_telegram(&current));
            }
            if let Some(name) = &c.file_name {
                files.push(name.clone());
            }
        }
        seen.push(Seen {
            text: clean(&texts.join("\n")),
            files,
        });
    }
    bot.stop().await;
    (seen, fake)
}

// ── Discord ──

async fn discord_run(script: &[Step], user: u64, roles: &[u64]) -> (Vec<Seen>, FakeDiscord) {
    let office = office(6, 60, 2, Duration::ZERO).await;
    let fake = FakeDiscord::start_with_clock(office.clock.clone()).await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let chat = DiscordChat::new(
        office.core.clone(),
        &config,
        discord_rest(&office, &fake),
        Some(Duration::from_millis(50)),
    );
    chat.register_commands().await.unwrap();
    let mut seen = Vec::new();
    for (i, s) in script.iter().enumerate() {
        let id = 70_000 + i as u64;
        let token = format!("tok{id}");
        let before = fake.calls().len();
        chat.handle_interaction(fake_discord::interaction(id, user, Some(roles), s.name, &s.options))
            .await;
        let calls = fake.calls();
        let mine: Vec<_> = calls[before..].iter().filter(|c| c.target == token).collect();
        let original = mine
            .iter()
            .rfind(|c| c.path.ends_with("@original") && c.status == 200)
            .and_then(|c| c.content.clone())
            .unwrap_or_default();
        let mut texts = vec![normalize_discord(&original)];
        let mut files = Vec::new();
        for c in &mine {
            if c.method == "POST" && c.path.starts_with("webhooks/") {
                texts.push(normalize_discord(c.content.as_deref().unwrap_or("")));
            }
            files.extend(c.files.iter().map(|(n, _)| n.clone()));
        }
        seen.push(Seen {
            text: clean(&texts.join("\n")),
            files,
        });
    }
    (seen, fake)
}

fn compare(script: &[Step], a: &[Seen], b: &[Seen], names: (&str, &str)) {
    for (i, s) in script.iter().enumerate() {
        assert_eq!(a[i], b[i], "«{}» differs between {} and {}", s.text, names.0, names.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_conversation_reads_the_same_on_every_platform() {
    let script = admin_script();
    let console = console_run(&script, None).await;
    let (telegram, tg_fake) = telegram_run(&script, ADMIN_TG).await;
    let (discord, dc_fake) = discord_run(&script, 3999, &[ADMIN_ROLE]).await;
    if std::env::var_os("PULSO_SHOW_TRANSCRIPT").is_some() {
        for (s, seen) in script.iter().zip(&console) {
            eprintln!("> {}\n{}\n{:?}\n", s.text, seen.text, seen.files);
        }
    }
    compare(&script, &console, &telegram, ("console", "telegram"));
    compare(&script, &console, &discord, ("console", "discord"));

    // Spot checks of the content itself.
    let by = |t: &str| &console[script.iter().position(|s| s.text == t).unwrap()];
    assert!(by("/ayuda").text.contains("/actualizar [confirmar]"));
    assert!(
        by("/mis_metricas semana")
            .text
            .contains("No tienes un perfil de agente")
    );
    let card = &by("/metricas Ana García mes").text;
    assert!(card.contains("Ana García · Último mes"), "{card}");
    assert!(card.contains("👥 Seguidores: 11.111"), "{card}");
    assert!(card.contains("Última actualización: hace 3 horas (Actualizado recientemente)"));
    for kpi in pulso::domain::Kpi::ALL {
        assert!(
            card.contains(&format!("{}: ", kpi.label())),
            "{kpi:?} missing from {card}"
        );
    }
    assert_eq!(
        by("/metricas Beto 6meses grafico").files,
        ["tendencia_beto_ruiz_6meses.png"]
    );
    assert!(
        by("/metricas Nadie")
            .text
            .contains("No encontré a ningún agente llamado «Nadie»")
    );
    assert_eq!(by("/ranking mes").files, ["ranking_mes.png"]);
    assert!(by("/ranking mes").text.contains("1. "));
    assert_eq!(by("/resumen semana").files, ["equipo_semana.png"]);
    assert!(by("/resumen semana").text.contains("Publicaciones destacadas"));
    assert!(by("/estado").text.contains("🟢 Presupuesto de la API"));
    assert!(by("/exportar semana").files[0].ends_with(".csv"));
    assert!(by("/silenciar sync_fallos 2h").text.contains("no están configuradas"));
    assert!(by("/ranking año").text.contains("Uso: /ranking"));
    assert!(by("/foo").text.contains("No conozco el comando /foo"));
    let report = &console[script.iter().position(|s| s.progress).unwrap()].text;
    assert!(report.contains("Datos actualizados exitosamente"), "{report}");
    assert!(report.contains("Sincronizados: 6/6"), "{report}");
    assert!(console[16].text.contains("menos de una hora"), "{}", console[16].text);

    // Telegram: the menu was published; PNGs are real PNGs.
    let commands = tg_fake.commands();
    assert_eq!(commands.len(), pulso::chat::commands::COMMANDS.len());
    let photos: Vec<_> = tg_fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "sendPhoto")
        .collect();
    assert!(!photos.is_empty());
    assert!(photos.iter().all(|p| p.bytes.starts_with(b"\x89PNG")));
    // Discord: slash commands registered; deferred answers; the admin's team views are public.
    assert_eq!(dc_fake.commands().len(), pulso::chat::commands::COMMANDS.len());
    let callbacks: Vec<_> = dc_fake
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/callback"))
        .collect();
    assert_eq!(callbacks.len(), script.len());
    assert!(callbacks.iter().all(|c| c.kind == Some(5) && c.status == 204));
    let files: Vec<_> = dc_fake.calls().into_iter().flat_map(|c| c.files).collect();
    assert!(
        files
            .iter()
            .any(|(n, b)| n == "ranking_mes.png" && b.starts_with(b"\x89PNG"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_conversation_reads_the_same_on_every_platform() {
    let script = agent_script();
    let console = console_run(&script, Some("Ana García")).await;
    let (telegram, _) = telegram_run(&script, 2000).await;
    let (discord, dc_fake) = discord_run(&script, 3000, &[]).await;
    compare(&script, &console, &telegram, ("console", "telegram"));
    compare(&script, &console, &discord, ("console", "discord"));
    assert!(console[1].text.contains("Ana García · Última semana"));
    assert!(console[2].text.contains("Estás en el puesto"), "{}", console[2].text);
    assert_eq!(
        console[2].files.len(),
        1,
        "the agent's chart, only their bar named: {:?}",
        console[2]
    );
    assert!(console[4].text.contains("Solo un admin"));
    assert!(console[7].text.contains("Sincronizados: 1/1"), "{}", console[7].text);
    for seen in &console {
        for other in &NAMES[1..] {
            assert!(!seen.text.contains(other), "{other} leaked into {seen:?}");
        }
    }
    // Personal answers are ephemeral on Discord.
    let callbacks: Vec<_> = dc_fake
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/callback"))
        .collect();
    assert_eq!(callbacks[1].flags & 64, 64, "mis_metricas is ephemeral");
    assert_eq!(callbacks[2].flags & 64, 64, "an agent's ranking position is ephemeral");
    assert_eq!(callbacks[4].flags & 64, 64, "a refusal is shown only to the caller");
}

/// Outside text is data: a Facebook post and an agent name carrying the renderer's private-use
/// bold markers, HTML, markdown characters and control characters enter through production's
/// parsers and store, and every reply that shows them is valid Telegram HTML (checked by the fake
/// Bot API with Telegram's rules) and intended Discord text (checked by the fake's markdown
/// reader).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_post_text_reach_every_platform_as_plain_text() {
    const HOSTILE: &str = "\u{E000}<b>&*_\u{0007}\u{E001}\u{202E}";
    let office = office(2, 10, 2, Duration::ZERO).await;
    // The agent's name as an import or onboarding would write it.
    put_agent(office.store.as_ref(), &format!("Ana {HOSTILE} García"), "a0@remax.mx").await;
    // A post as Facebook's Graph API returns it, through pulso's parser.
    let created = (now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+0000");
    let body = json!({"data": [{
        "id": "5000_9", "created_time": created.to_string(),
        "message": format!("Casa {HOSTILE} en\nventa"),
        "reactions": {"data": [], "summary": {"total_count": 500}},
    }]});
    let page = pulso::facebook::parse_posts_page(body.to_string().as_bytes()).unwrap();
    office
        .store
        .upsert_posts(office.agents[0], &page.posts, now())
        .await
        .unwrap();
    let name = "Ana <b>&*_ García";
    let excerpt = "Casa <b>&*_ en venta";
    // What entered pulso is data: no markers, controls or bidi overrides were stored.
    let stored = office.store.agent(office.agents[0]).await.unwrap().unwrap();
    assert_eq!(stored.name, name);
    assert_eq!(page.posts[0].excerpt, excerpt);

    // Telegram: the agent's card, the admin's summary and agent list.
    let bot = TelegramBot::start(office.core.clone(), Some(Duration::from_millis(50))).await;
    let f = bot.fake.clone();
    for (user, text) in [
        (2000, "/mis_metricas semana"),
        (ADMIN_TG, "/resumen semana"),
        (ADMIN_TG, "/agentes"),
    ] {
        let before = f.calls().len();
        f.inject(user, user, text);
        f.wait_for(Duration::from_secs(20), text, |calls| {
            calls[before..].iter().any(|c| c.method.starts_with("send"))
        })
        .await;
    }
    let calls = f.calls();
    assert!(f.markup_errors().is_empty(), "{:#?}", fake_telegram::summary(&calls));
    let shown: Vec<String> = calls.iter().filter_map(|c| c.rendered.clone()).collect();
    let card = shown.iter().find(|t| t.contains("Última semana")).expect("the card");
    assert!(card.contains(&format!("{name} · Última semana")), "{card}");
    assert!(card.contains(excerpt), "{card}");
    assert!(
        shown
            .iter()
            .any(|t| t.contains("Publicaciones destacadas") && t.contains(excerpt))
    );
    assert!(
        shown.iter().any(|t| t.contains(name) && !t.contains("Última semana")),
        "{shown:#?}"
    );
    bot.stop().await;

    // Discord: the same answers, read back as markdown by the fake.
    let fake = FakeDiscord::start_with_clock(office.clock.clone()).await;
    let config = config("http://127.0.0.1:9", &fake.url);
    let chat = DiscordChat::new(
        office.core.clone(),
        &config,
        discord_rest(&office, &fake),
        Some(Duration::from_millis(50)),
    );
    chat.handle_interaction(fake_discord::interaction(1, 3000, Some(&[]), "mis_metricas", &[]))
        .await;
    chat.handle_interaction(fake_discord::interaction(
        2,
        3999,
        Some(&[ADMIN_ROLE]),
        "resumen",
        &[("periodo", json!("semana"))],
    ))
    .await;
    chat.handle_interaction(fake_discord::interaction(3, 3999, Some(&[ADMIN_ROLE]), "agentes", &[]))
        .await;
    let calls = fake.calls();
    assert!(calls.iter().all(|c| c.status < 400), "{calls:#?}");
    let texts: Vec<String> = calls.iter().filter_map(|c| c.text.clone()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("{name} · Última semana")) && t.contains(excerpt)),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Publicaciones destacadas") && t.contains(excerpt))
    );
    assert!(
        calls
            .iter()
            .any(|c| c.target == "tok3" && c.text.as_deref().unwrap_or("").contains(name))
    );
}

/// Lists of people follow Spanish alphabetical order: accents fold, ñ after n.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_listed_in_spanish_alphabetical_order() {
    let office = office(0, 0, 0, Duration::ZERO).await;
    for (i, name) in [
        "Zoe Ortiz",
        "Íñigo Castañeda",
        "Ángel Muñoz",
        "Beto Ruiz",
        "Nora Peña",
        "Ñoño López",
    ]
    .iter()
    .enumerate()
    {
        put_agent(office.store.as_ref(), name, &format!("p{i}@remax.mx")).await;
    }
    let reply = office.core.handle(&console_admin(), "/agentes", None).await.unwrap();
    let order: Vec<usize> = ["Ángel", "Beto", "Íñigo", "Nora", "Ñoño", "Zoe"]
        .iter()
        .map(|n| reply.text.find(n).unwrap_or_else(|| panic!("{n} in {}", reply.text)))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", reply.text);
}

//! The CSV export read back the way a spreadsheet (and our own re-import) would see it, and the
//! rows `/exportar` sends read from the store on both databases: Instagram beside Facebook.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use pulso::domain::{AgentId, DailyMetrics, DateRange, InstagramAccount, InstagramDaily, Role};
use pulso::export::{ExportDay, ExportError, HEADER, export_csv, export_days, parse_export_csv};
use pulso::store::{NewAgent, Store};
use support::TestStore;

/// A Facebook-only day (no Instagram row), for the file-format tests.
fn row(name: &str, day: u32, views: i64, reactions: i64) -> ExportDay {
    let date = NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
    ExportDay {
        agent_name: name.to_string(),
        date,
        instagram: None,
        facebook: Some(
            DailyMetrics {
                date,
                followers: Some(1234),
                impressions: Some(views),
                reach: Some(views / 2),
                engaged_users: Some(17),
                posts: 2,
                reactions,
                comments: 3,
                shares: 1,
                link_clicks: 5,
                whatsapp_clicks: 2,
                engagement_rate: None,
            }
            .with_engagement_rate(),
        ),
    }
}

fn sample() -> Vec<ExportDay> {
    vec![
        row("José Núñez", 1, 1000, 38),
        row("María Fernández Ibáñez", 1, 3000, 100),
        row("=HYPERLINK(\"http://evil.example\",\"clic\")", 2, 7, 0),
        row("+34 600 000 000", 2, 0, 0),
        row("-1", 3, 10, 1),
        row("@SUMA(A1:A9)", 3, 10, 1),
        row("'comillas", 4, 10, 1),
        row("Pérez, \"El Rápido\"\nsegunda línea", 5, 123_456_789, 4),
    ]
}

#[test]
fn starts_with_a_bom_and_the_spanish_header() {
    let bytes = export_csv(&sample());
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let first_line = text.lines().next().unwrap();
    assert_eq!(
        first_line,
        "agente,fecha,seguidores,vistas,alcance,usuarios_interactuando,publicaciones,reacciones,comentarios,\
         compartidos,clics_enlace,clics_whatsapp,tasa_interaccion,instagram_seguidores,\
         instagram_seguidores_nuevos,instagram_visualizaciones,instagram_alcance,\
         instagram_cuentas_interactuando,instagram_interacciones,instagram_me_gusta,instagram_comentarios,\
         instagram_compartidos,instagram_guardados,instagram_toques_enlace_perfil,instagram_publicaciones"
    );
    assert_eq!(first_line, HEADER.join(","));
    // An empty export is still a valid file with the header.
    assert_eq!(
        export_csv(&[]),
        "\u{feff}"
            .bytes()
            .chain(format!("{first_line}\r\n").bytes())
            .collect::<Vec<_>>()
    );
}

#[test]
fn rows_are_spreadsheet_friendly() {
    let bytes = export_csv(&[row("José Núñez", 1, 1000, 38)]);
    let text = String::from_utf8(bytes).unwrap();
    // (38 + 3 + 1) / 1000; no Instagram row: twelve empty Instagram cells.
    assert!(
        text.contains("José Núñez,2026-11-01,1234,1000,500,17,2,38,3,1,5,2,0.042,,,,,,,,,,,,\r\n"),
        "{text}"
    );
}

#[test]
fn formula_looking_names_are_neutralised_in_the_file() {
    let text = String::from_utf8(export_csv(&sample())).unwrap();
    for line in text.lines().skip(1) {
        let first = line.trim_start_matches('"').chars().next();
        assert!(!matches!(first, Some('=' | '+' | '-' | '@')), "unguarded: {line}");
    }
    assert!(text.contains("'=HYPERLINK"));
    assert!(text.contains("'+34 600"));
}

#[test]
fn round_trips() {
    let rows = sample();
    let parsed = parse_export_csv(&export_csv(&rows)).unwrap();
    assert_eq!(parsed, rows);
    assert!(parse_export_csv(&export_csv(&[])).unwrap().is_empty());
    // Rates that are not short decimals come back bit for bit.
    let mut odd = row("Ana", 9, 3, 1);
    odd.facebook.as_mut().unwrap().engagement_rate = Some(1.0 / 3.0);
    assert_eq!(
        parse_export_csv(&export_csv(std::slice::from_ref(&odd))).unwrap(),
        vec![odd]
    );
}

#[test]
fn parse_rejects_foreign_files_with_a_spanish_message() {
    let err = parse_export_csv(b"name,date\nAna,2026-11-01\n").unwrap_err();
    assert!(matches!(err, ExportError::Header { .. }), "{err}");
    let mut bytes = export_csv(&[row("Ana", 1, 10, 1)]);
    bytes.extend_from_slice("Luis,2026-13-01,1,1,1,1,1,1,1,1,1,1,0.1,,,,,,,,,,,,\r\n".as_bytes());
    let err = parse_export_csv(&bytes).unwrap_err();
    assert!(err.to_string().contains("fila 3"), "{err}");
    assert!(err.to_string().contains("AAAA-MM-DD"), "{err}");
}

#[test]
fn old_files_without_instagram_columns_are_refused() {
    let old = "agente,fecha,seguidores,vistas,alcance,usuarios_interactuando,publicaciones,reacciones,\
               comentarios,compartidos,clics_enlace,clics_whatsapp,tasa_interaccion\r\n";
    assert!(matches!(
        parse_export_csv(old.as_bytes()),
        Err(ExportError::Header { .. })
    ));
}

// ── From the store: Instagram beside Facebook ──

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
}

fn at(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 12, 0, 0).unwrap()
}

fn november() -> DateRange {
    DateRange::new(date(1), date(30))
}

async fn new_agent(s: &dyn Store, name: &str, page: &str) -> AgentId {
    let new = NewAgent {
        name: name.into(),
        email: format!("{}@remax.mx", name.to_lowercase().replace(' ', ".")),
        role: Role::Agent,
        facebook_page_id: Some(page.into()),
        instagram_account_id: None,
    };
    s.upsert_agent(&new, at(1)).await.unwrap().0.id
}

fn fb_day(d: u32, base: i64) -> DailyMetrics {
    DailyMetrics {
        date: date(d),
        followers: Some(base + d as i64),
        impressions: (d != 3).then_some(base * 10 + d as i64),
        reach: Some(base * 5 + d as i64),
        engaged_users: None,
        posts: (d % 2) as i64,
        reactions: base / 10,
        comments: 2,
        shares: 1,
        link_clicks: 3,
        whatsapp_clicks: 1,
        engagement_rate: None,
    }
    .with_engagement_rate()
}

/// An Instagram day with distinct values per agent (`base`), some unknown, a known zero.
fn ig_day(d: u32, base: i64) -> InstagramDaily {
    InstagramDaily {
        followers: Some(base * 100 + d as i64),
        // Under 100 followers Instagram gives no follower series: unknown on even days here.
        new_followers: (d % 2 == 1).then_some(base + d as i64),
        views: (d != 3).then_some(base * 20 + d as i64),
        reach: Some(base * 7 + d as i64),
        accounts_engaged: Some(base + 2),
        total_interactions: Some(base + 3),
        likes: Some(0),
        comments: Some(base + 4),
        shares: None,
        saves: Some(base + 5),
        profile_links_taps: Some(base + 6),
        media: Some((d % 3) as i64),
        account_read_at: Some(at(d + 2)),
        ..InstagramDaily::new(date(d))
    }
}

/// Ana: Facebook days 1–5, Instagram days 2–6 (day 6 Instagram only). Beto: both networks days
/// 1–5, other numbers. Eva: Facebook only, no Instagram account.
async fn office(s: &dyn Store) -> (AgentId, AgentId, AgentId) {
    let ana = new_agent(s, "Ana Pérez", "101").await;
    let beto = new_agent(s, "=Beto Ruiz", "102").await;
    let eva = new_agent(s, "Eva Gómez", "103").await;
    for (id, ig_id, user) in [
        (ana, "17841400000000001", "ana.casas"),
        (beto, "17841400000000002", "beto"),
    ] {
        let account = InstagramAccount {
            id: ig_id.into(),
            username: Some(user.into()),
            followers: Some(500),
        };
        s.set_agent_instagram(id, Some(&account), at(1)).await.unwrap();
    }
    let fb = |base| (1..=5).map(|d| fb_day(d, base)).collect::<Vec<_>>();
    s.upsert_daily_metrics(ana, &fb(100), at(7)).await.unwrap();
    s.upsert_daily_metrics(beto, &fb(900), at(7)).await.unwrap();
    s.upsert_daily_metrics(eva, &fb(400), at(7)).await.unwrap();
    let ig = |base, days: std::ops::RangeInclusive<u32>| days.map(|d| ig_day(d, base)).collect::<Vec<_>>();
    s.upsert_instagram_daily(ana, &ig(1000, 2..=6), at(8)).await.unwrap();
    s.upsert_instagram_daily(beto, &ig(7000, 1..=5), at(8)).await.unwrap();
    (ana, beto, eva)
}

/// The store's Instagram days as the export carries them (no read time).
async fn stored_ig(s: &dyn Store, id: AgentId) -> BTreeMap<NaiveDate, InstagramDaily> {
    s.instagram_daily(id, november())
        .await
        .unwrap()
        .into_iter()
        .map(|d| {
            (
                d.date,
                InstagramDaily {
                    account_read_at: None,
                    ..d
                },
            )
        })
        .collect()
}

/// The raw cells of the file's rows, BOM and header dropped.
fn raw_cells(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().from_reader(&bytes[3..]);
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn column(name: &str) -> usize {
    HEADER.iter().position(|h| *h == name).unwrap()
}

async fn instagram_columns_hold_what_the_store_holds(t: TestStore) {
    let s = t.store.as_ref();
    let (ana, beto, eva) = office(s).await;
    let agents = s.agents().await.unwrap();
    let bytes = export_csv(&export_days(s, &agents, november()).await.unwrap());
    let parsed = parse_export_csv(&bytes).unwrap();

    for agent in &agents {
        let rows: Vec<&ExportDay> = parsed.iter().filter(|r| r.agent_name == agent.name).collect();
        let ig = stored_ig(s, agent.id).await;
        let fb: BTreeMap<NaiveDate, DailyMetrics> = s
            .daily_metrics(agent.id, november())
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.date, d))
            .collect();
        // One row per day either network has, oldest first, each network as the store holds it.
        let dates: Vec<NaiveDate> = rows.iter().map(|r| r.date).collect();
        let mut expected: Vec<NaiveDate> = ig.keys().chain(fb.keys()).copied().collect();
        expected.sort();
        expected.dedup();
        assert_eq!(dates, expected, "{}", agent.name);
        for row in rows {
            assert_eq!(row.instagram.as_ref(), ig.get(&row.date), "{} {}", agent.name, row.date);
            assert_eq!(row.facebook.as_ref(), fb.get(&row.date), "{} {}", agent.name, row.date);
        }
    }
    assert!(!stored_ig(s, ana).await.is_empty() && !stored_ig(s, beto).await.is_empty());

    // In the file itself: unknown is an empty cell, a known zero is "0".
    let cells = raw_cells(&bytes);
    let line = |name: &str, d: u32| {
        cells
            .iter()
            .find(|c| c[0] == name && c[1] == date(d).to_string())
            .unwrap_or_else(|| panic!("no row {name} {d}"))
    };
    let ana3 = line("Ana Pérez", 3);
    assert_eq!(ana3[column("instagram_visualizaciones")], "", "unknown views");
    assert_eq!(ana3[column("instagram_compartidos")], "", "unknown shares");
    assert_eq!(ana3[column("instagram_me_gusta")], "0", "a known zero");
    assert_eq!(
        ana3[column("instagram_alcance")],
        stored_ig(s, ana).await[&date(3)].reach.unwrap().to_string()
    );
    assert_eq!(line("Ana Pérez", 2)[column("instagram_seguidores_nuevos")], "");
    // Day 6: Instagram only, every Facebook cell empty (not 0).
    let ana6 = line("Ana Pérez", 6);
    assert!(ana6[2..13].iter().all(String::is_empty), "{ana6:?}");
    assert_ne!(ana6[column("instagram_seguidores")], "");
    // Day 1: Facebook only for Ana, every Instagram cell empty.
    assert!(line("Ana Pérez", 1)[13..].iter().all(String::is_empty));
    // Eva has no Instagram: every Instagram cell of hers is empty.
    let eva_rows: Vec<&Vec<String>> = cells.iter().filter(|c| c[0] == "Eva Gómez").collect();
    assert_eq!(eva_rows.len(), 5);
    assert!(eva_rows.iter().all(|c| c[13..].iter().all(String::is_empty)));
    assert!(stored_ig(s, eva).await.is_empty());
    // A formula-looking name stays neutralised with Instagram columns too.
    assert!(cells.iter().any(|c| c[0] == "'=Beto Ruiz"));
}

async fn an_agents_own_export_holds_only_their_rows(t: TestStore) {
    let s = t.store.as_ref();
    let (ana, beto, _) = office(s).await;
    let me = s.agent(ana).await.unwrap().unwrap();
    let parsed = parse_export_csv(&export_csv(&export_days(s, &[me], november()).await.unwrap())).unwrap();
    assert_eq!(parsed.len(), 6, "Ana's days 1–6");
    assert!(parsed.iter().all(|r| r.agent_name == "Ana Pérez"));
    let mine = stored_ig(s, ana).await;
    let theirs = stored_ig(s, beto).await;
    for row in &parsed {
        assert_eq!(row.instagram.as_ref(), mine.get(&row.date));
        if let Some(ig) = &row.instagram {
            assert!(
                theirs.values().all(|b| b.followers != ig.followers),
                "Beto's numbers in Ana's export"
            );
        }
    }
}

#[tokio::test]
async fn sqlite_instagram_columns_hold_what_the_store_holds() {
    instagram_columns_hold_what_the_store_holds(support::sqlite().await).await;
}

#[tokio::test]
async fn postgres_instagram_columns_hold_what_the_store_holds() {
    if let Some(t) = support::postgres().await {
        instagram_columns_hold_what_the_store_holds(t).await;
    }
}

#[tokio::test]
async fn sqlite_an_agents_own_export_holds_only_their_rows() {
    an_agents_own_export_holds_only_their_rows(support::sqlite().await).await;
}

#[tokio::test]
async fn postgres_an_agents_own_export_holds_only_their_rows() {
    if let Some(t) = support::postgres().await {
        an_agents_own_export_holds_only_their_rows(t).await;
    }
}

//! The CSV export read back the way a spreadsheet (and our own re-import) would see it.

use chrono::NaiveDate;
use pulso::domain::DailyMetrics;
use pulso::export::{ExportError, ExportRow, HEADER, metrics_csv, parse_metrics_csv};

fn row(name: &str, day: u32, views: i64, reactions: i64) -> ExportRow {
    ExportRow {
        agent_name: name.to_string(),
        metrics: DailyMetrics {
            date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
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
    }
}

fn sample() -> Vec<ExportRow> {
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
    let bytes = metrics_csv(&sample());
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let first_line = text.lines().next().unwrap();
    assert_eq!(
        first_line,
        "agente,fecha,seguidores,vistas,alcance,usuarios_interactuando,publicaciones,reacciones,comentarios,\
         compartidos,clics_enlace,clics_whatsapp,tasa_interaccion"
    );
    assert_eq!(first_line, HEADER.join(","));
    // An empty export is still a valid file with the header.
    assert_eq!(
        metrics_csv(&[]),
        "\u{feff}"
            .bytes()
            .chain(format!("{first_line}\r\n").bytes())
            .collect::<Vec<_>>()
    );
}

#[test]
fn rows_are_spreadsheet_friendly() {
    let bytes = metrics_csv(&[row("José Núñez", 1, 1000, 38)]);
    let text = String::from_utf8(bytes).unwrap();
    // (38 + 3 + 1) / 1000
    assert!(
        text.contains("José Núñez,2026-11-01,1234,1000,500,17,2,38,3,1,5,2,0.042\r\n"),
        "{text}"
    );
}

#[test]
fn formula_looking_names_are_neutralised_in_the_file() {
    let text = String::from_utf8(metrics_csv(&sample())).unwrap();
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
    let parsed = parse_metrics_csv(&metrics_csv(&rows)).unwrap();
    assert_eq!(parsed, rows);
    assert!(parse_metrics_csv(&metrics_csv(&[])).unwrap().is_empty());
    // Rates that are not short decimals come back bit for bit.
    let mut odd = row("Ana", 9, 3, 1);
    odd.metrics.engagement_rate = Some(1.0 / 3.0);
    assert_eq!(
        parse_metrics_csv(&metrics_csv(std::slice::from_ref(&odd))).unwrap(),
        [odd]
    );
}

#[test]
fn parse_rejects_foreign_files_with_a_spanish_message() {
    let err = parse_metrics_csv(b"name,date\nAna,2026-11-01\n").unwrap_err();
    assert!(matches!(err, ExportError::Header { .. }), "{err}");
    let mut bytes = metrics_csv(&[row("Ana", 1, 10, 1)]);
    bytes.extend_from_slice("Luis,2026-13-01,1,1,1,1,1,1,1,1,1,1,0.1\r\n".as_bytes());
    let err = parse_metrics_csv(&bytes).unwrap_err();
    assert!(err.to_string().contains("fila 3"), "{err}");
    assert!(err.to_string().contains("AAAA-MM-DD"), "{err}");
}

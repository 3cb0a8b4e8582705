//! Files people download: the CSV export of daily metrics (`/exportar`) and the top-posts list.
//!
//! The CSV is meant for spreadsheets: UTF-8 with a BOM (so Excel reads the accents), a Spanish
//! header, ISO dates, plain integers and the engagement rate as a decimal with a dot; the Facebook
//! columns, then the Instagram ones (prefixed `instagram_`). An unknown number is an empty cell,
//! never 0, and an agent without Instagram has empty Instagram cells. Agent names that a
//! spreadsheet would run as a formula are neutralised with a leading `'`, which
//! [`parse_export_csv`] removes again.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::domain::card::counted;
use crate::domain::text::chat_excerpt;
use crate::domain::{Agent, DailyMetrics, DateRange, InstagramDaily, Post};
use crate::store::{Store, StoreResult};

/// The exact header line of the export: agent and day, the Facebook Page columns, then the
/// Instagram ones.
pub const HEADER: [&str; 25] = [
    "agente",
    "fecha",
    "seguidores",
    "vistas",
    "alcance",
    "usuarios_interactuando",
    "publicaciones",
    "reacciones",
    "comentarios",
    "compartidos",
    "clics_enlace",
    "clics_whatsapp",
    "tasa_interaccion",
    "instagram_seguidores",
    "instagram_seguidores_nuevos",
    "instagram_visualizaciones",
    "instagram_alcance",
    "instagram_cuentas_interactuando",
    "instagram_interacciones",
    "instagram_me_gusta",
    "instagram_comentarios",
    "instagram_compartidos",
    "instagram_guardados",
    "instagram_toques_enlace_perfil",
    "instagram_publicaciones",
];
/// Columns before the Instagram ones.
const FACEBOOK_END: usize = 13;

const BOM: &[u8] = "\u{feff}".as_bytes();

/// One agent's numbers for one day on both networks: one line of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportDay {
    pub agent_name: String,
    pub date: NaiveDate,
    /// None: no Facebook row stored for the day (every Facebook cell empty, not 0).
    pub facebook: Option<DailyMetrics>,
    /// None: no Instagram row (no account, or not read yet): every Instagram cell empty.
    pub instagram: Option<InstagramDaily>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("la cabecera del CSV no es la esperada: «{found}»")]
    Header { found: String },
    /// `row` counts like a spreadsheet does: the header is row 1, the first data row is row 2.
    #[error("fila {row}: {message}")]
    Row { row: usize, message: String },
    #[error("CSV ilegible: {0}")]
    Csv(#[from] csv::Error),
}

/// The rows `/exportar` sends for `agents` (in the order given) over `range`: one per agent per
/// day that has a stored Facebook or Instagram row, oldest day first, each network read through
/// the store (`daily_metrics`, `instagram_daily`). Only the agents passed are read, so an agent's
/// own export (`agents` = just them) holds nobody else's rows.
pub async fn export_days(store: &dyn Store, agents: &[Agent], range: DateRange) -> StoreResult<Vec<ExportDay>> {
    let mut out = Vec::new();
    for agent in agents {
        let (facebook, instagram) = tokio::join!(
            store.daily_metrics(agent.id, range),
            store.instagram_daily(agent.id, range)
        );
        let mut days: BTreeMap<NaiveDate, ExportDay> = BTreeMap::new();
        let empty = |date: NaiveDate| ExportDay {
            agent_name: agent.name.clone(),
            date,
            facebook: None,
            instagram: None,
        };
        for m in facebook? {
            let date = m.date;
            days.entry(date).or_insert_with(|| empty(date)).facebook = Some(m);
        }
        for ig in instagram? {
            let date = ig.date;
            days.entry(date).or_insert_with(|| empty(date)).instagram = Some(ig);
        }
        out.extend(days.into_values());
    }
    Ok(out)
}

/// First characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection"),
/// plus the quote itself, so that un-neutralising is unambiguous.
fn needs_guard(s: &str) -> bool {
    matches!(s.chars().next(), Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\''))
}

fn guard(s: &str) -> String {
    if needs_guard(s) { format!("'{s}") } else { s.to_string() }
}

fn unguard(s: &str) -> &str {
    s.strip_prefix('\'').unwrap_or(s)
}

/// A rate as the shortest decimal that reads back to the same number ("0.0423"); never exponent
/// notation, never a comma.
fn fmt_rate(rate: f64) -> String {
    if rate.is_finite() {
        format!("{rate}")
    } else {
        "0".to_string()
    }
}

fn cell(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_default()
}

/// The Facebook cells of a day: all empty when the day has no Facebook row.
fn facebook_cells(m: Option<&DailyMetrics>) -> Vec<String> {
    let Some(m) = m else {
        return vec![String::new(); FACEBOOK_END - 2];
    };
    // A Page metric Facebook has not published is an empty cell, never 0.
    let mut cells: Vec<String> = [
        m.followers,
        m.impressions,
        m.reach,
        m.engaged_users,
        Some(m.posts),
        Some(m.reactions),
        Some(m.comments),
        Some(m.shares),
        Some(m.link_clicks),
        Some(m.whatsapp_clicks),
    ]
    .into_iter()
    .map(cell)
    .collect();
    cells.push(m.engagement_rate.map(fmt_rate).unwrap_or_default());
    cells
}

/// The Instagram values in header order.
fn instagram_values(d: &InstagramDaily) -> [Option<i64>; 12] {
    [
        d.followers,
        d.new_followers,
        d.views,
        d.reach,
        d.accounts_engaged,
        d.total_interactions,
        d.likes,
        d.comments,
        d.shares,
        d.saves,
        d.profile_links_taps,
        d.media,
    ]
}

/// The CSV file: BOM, header, then one row per agent per day, in the order given.
pub fn export_csv(days: &[ExportDay]) -> Vec<u8> {
    let mut out = BOM.to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        // Writing to a Vec cannot fail: the only csv errors are I/O errors of the sink.
        w.write_record(HEADER).expect("CSV to memory");
        for day in days {
            let mut record = Vec::with_capacity(HEADER.len());
            record.push(guard(&day.agent_name));
            record.push(day.date.format("%Y-%m-%d").to_string());
            record.extend(facebook_cells(day.facebook.as_ref()));
            match &day.instagram {
                Some(ig) => record.extend(instagram_values(ig).into_iter().map(cell)),
                None => record.extend(std::iter::repeat_n(String::new(), HEADER.len() - FACEBOOK_END)),
            }
            w.write_record(&record).expect("CSV to memory");
        }
        w.flush().expect("CSV to memory");
    }
    out
}

/// Reads a file written by [`export_csv`] (BOM optional) back into rows. A network whose cells are
/// all empty comes back as None; an Instagram cell left empty as an unknown value. Instagram's
/// read time is not exported.
pub fn parse_export_csv(bytes: &[u8]) -> Result<Vec<ExportDay>, ExportError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = r.headers()?;
    if header.iter().ne(HEADER) {
        return Err(ExportError::Header {
            found: header.iter().collect::<Vec<_>>().join(","),
        });
    }
    let mut rows = Vec::new();
    for (i, record) in r.records().enumerate() {
        let record = record?;
        let err = |message: String| ExportError::Row { row: i + 2, message };
        if record.len() != HEADER.len() {
            return Err(err(format!(
                "se esperaban {} columnas y hay {}",
                HEADER.len(),
                record.len()
            )));
        }
        let int = |i: usize| -> Result<i64, ExportError> {
            record[i]
                .trim()
                .parse::<i64>()
                .map_err(|_| err(format!("«{}» no es un número entero ({})", &record[i], HEADER[i])))
        };
        // An empty cell is unknown.
        let known = |i: usize| -> Result<Option<i64>, ExportError> {
            if record[i].trim().is_empty() {
                Ok(None)
            } else {
                int(i).map(Some)
            }
        };
        let all_empty = |cols: std::ops::Range<usize>| cols.into_iter().all(|c| record[c].trim().is_empty());
        let date = NaiveDate::parse_from_str(record[1].trim(), "%Y-%m-%d")
            .map_err(|_| err(format!("«{}» no es una fecha AAAA-MM-DD", &record[1])))?;
        let facebook = if all_empty(2..FACEBOOK_END) {
            None
        } else {
            let engagement_rate = match record[12].trim() {
                "" => None,
                text => Some(
                    text.parse::<f64>()
                        .ok()
                        .filter(|r| r.is_finite())
                        .ok_or_else(|| err(format!("«{}» no es una tasa decimal", &record[12])))?,
                ),
            };
            Some(DailyMetrics {
                date,
                followers: known(2)?,
                impressions: known(3)?,
                reach: known(4)?,
                engaged_users: known(5)?,
                posts: int(6)?,
                reactions: int(7)?,
                comments: int(8)?,
                shares: int(9)?,
                link_clicks: int(10)?,
                whatsapp_clicks: int(11)?,
                engagement_rate,
            })
        };
        let instagram = if all_empty(FACEBOOK_END..HEADER.len()) {
            None
        } else {
            let v = |k: usize| known(FACEBOOK_END + k);
            Some(InstagramDaily {
                followers: v(0)?,
                new_followers: v(1)?,
                views: v(2)?,
                reach: v(3)?,
                accounts_engaged: v(4)?,
                total_interactions: v(5)?,
                likes: v(6)?,
                comments: v(7)?,
                shares: v(8)?,
                saves: v(9)?,
                profile_links_taps: v(10)?,
                media: v(11)?,
                ..InstagramDaily::new(date)
            })
        };
        rows.push(ExportDay {
            agent_name: unguard(&record[0]).to_string(),
            date,
            facebook,
            instagram,
        });
    }
    Ok(rows)
}

/// The `n` posts with the most interactions (reactions + comments + shares); ties go to the newer post.
pub fn top_posts(posts: &[Post], n: usize) -> Vec<&Post> {
    let mut sorted: Vec<&Post> = posts.iter().collect();
    sorted.sort_by(|a, b| {
        b.engagement()
            .cmp(&a.engagement())
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.post_id.cmp(&b.post_id))
    });
    sorted.truncate(n);
    sorted
}

/// "1. 12/11 · «Casa en venta en…» · 34 interacciones · 5 clics", one line per post, numbered in
/// the given order. Dates are the post's UTC calendar day.
pub fn top_posts_text(posts: &[&Post]) -> String {
    if posts.is_empty() {
        return "Sin publicaciones en este periodo".to_string();
    }
    posts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let excerpt = chat_excerpt(&p.excerpt);
            format!(
                "{}. {} · {} · {} · {}",
                i + 1,
                p.created_at.format("%d/%m"),
                excerpt,
                counted(p.engagement(), "interacción", "interacciones"),
                counted(p.link_clicks, "clic", "clics"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn post(id: &str, day: u32, reactions: i64, excerpt: &str) -> Post {
        Post {
            post_id: id.to_string(),
            created_at: DateTime::<Utc>::from_naive_utc_and_offset(
                NaiveDate::from_ymd_opt(2026, 11, day)
                    .unwrap()
                    .and_hms_opt(15, 0, 0)
                    .unwrap(),
                Utc,
            ),
            excerpt: excerpt.to_string(),
            permalink: None,
            reactions,
            comments: 0,
            shares: 0,
            link_clicks: 5,
            links_to_whatsapp: false,
        }
    }

    #[test]
    fn guard_round_trips_every_trigger() {
        for name in ["=1+1", "+34 600", "-x", "@SUM(A1)", "\tx", "'quoted", "''", "Ana", ""] {
            assert_eq!(unguard(&guard(name)), name);
        }
        assert_eq!(guard("=HYPERLINK()"), "'=HYPERLINK()");
        assert_eq!(guard("José"), "José");
    }

    #[test]
    fn rates_use_a_dot_and_no_exponent() {
        assert_eq!(fmt_rate(0.0423), "0.0423");
        assert_eq!(fmt_rate(0.0), "0");
        assert_eq!(fmt_rate(1e-7), "0.0000001");
        assert_eq!(fmt_rate(f64::NAN), "0");
    }

    #[test]
    fn top_posts_by_engagement_then_newest() {
        let posts = [
            post("a", 1, 10, "a"),
            post("b", 3, 30, "b"),
            post("c", 2, 10, "c"),
            post("d", 4, 5, "d"),
        ];
        let ids: Vec<&str> = top_posts(&posts, 3).iter().map(|p| p.post_id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert!(top_posts(&posts, 0).is_empty());
        assert_eq!(top_posts(&[], 5).len(), 0);
    }

    #[test]
    fn top_posts_text_in_spanish() {
        let p = Post {
            comments: 3,
            shares: 1,
            ..post(
                "x",
                12,
                30,
                "Casa en venta en Polanco con jardín y alberca, 3 recámaras",
            )
        };
        let one = Post {
            link_clicks: 1,
            ..post("y", 2, 1, "")
        };
        let text = top_posts_text(&[&p, &one]);
        assert_eq!(
            text,
            "1. 12/11 · «Casa en venta en Polanco con jardín y al…» · 34 interacciones · 5 clics\n\
             2. 02/11 · (sin texto) · 1 interacción · 1 clic"
        );
        assert_eq!(top_posts_text(&[]), "Sin publicaciones en este periodo");
    }

    #[test]
    fn excerpts_cannot_fake_lines_or_ping_everyone() {
        let p = post("x", 1, 1, "hola\n2. falso\u{202e}txet @everyone");
        let text = top_posts_text(&[&p]);
        assert_eq!(text.lines().count(), 1);
        assert!(!text.contains('\u{202e}'));
        assert!(!text.contains("@everyone"));
        assert!(text.contains("@\u{200b}everyone"));
    }
}

//! `cargo bench --bench charts`: time to PNG bytes (drawing + encoding) and PNG size of the charts
//! the chat layer sends, next to the same 20-agent ranking drawn by Python matplotlib
//! (`benches/matplotlib_ranking.py`), the tool a person would otherwise reach for.
//!
//! Plain `Instant` loops, p50 over RUNS runs after a warm-up. The "codificación PNG" line re-encodes
//! the decoded image with the same encoder settings, to show how the time splits between drawing
//! and encoding.

use std::io::{Cursor, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use pulso::charts::{
    Png, RankingChart, StackedAgent, StackedRankingChart, TrendChart, ranking_png, ranking_stacked,
    stacked_from_ranked, trend_png,
};
use pulso::domain::ranking::{network_score, rank_scored};
use pulso::domain::{AgentId, AgentTotals, DailyMetrics, DateRange, InstagramTotals, Network, RankedAgent};

/// Both networks' scores summed and ranked by the domain, as `/ranking … total` does.
fn rank_stacked(
    agents: impl IntoIterator<Item = (AgentId, String, AgentTotals, Option<InstagramTotals>)>,
) -> Vec<StackedAgent> {
    stacked_from_ranked(&rank_scored(agents.into_iter().map(|(id, name, fb, ig)| {
        let score = network_score(Network::Total, &fb, ig.as_ref());
        (id, name, fb, score)
    })))
}

const RUNS: usize = 50;
const WARMUP: usize = 3;
const NAMES: [&str; 5] = [
    "José Núñez",
    "María Fernández Ibáñez",
    "Ana Sofía Ruiz",
    "Íñigo Peña",
    "Begoña Muñoz",
];

fn agents(n: usize) -> Vec<RankedAgent> {
    (0..n)
        .map(|i| RankedAgent {
            position: i + 1,
            agent_id: i as i64 + 1,
            name: format!("{} {}", NAMES[i % NAMES.len()], i + 1),
            score: 1000.0 / (i as f64 + 1.0) + 40.0,
            totals: AgentTotals {
                days_with_data: 30,
                ..Default::default()
            },
        })
        .collect()
}

fn month() -> DateRange {
    DateRange::new(
        NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
    )
}

fn series(range: DateRange) -> Vec<DailyMetrics> {
    range
        .iter_days()
        .enumerate()
        .map(|(i, date)| {
            let wave = ((i as f64) / 6.0).sin();
            DailyMetrics {
                date,
                followers: Some(1200 + i as i64 * 3),
                impressions: Some((2000.0 + 600.0 * wave + (i * 37 % 200) as f64) as i64),
                reach: Some((1100.0 + 300.0 * wave + (i * 53 % 120) as f64) as i64),
                posts: (i % 3) as i64,
                ..Default::default()
            }
        })
        .collect()
}

fn p(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `f` WARMUP + RUNS times; returns (p50 ms, p90 ms, last output).
fn time<T>(mut f: impl FnMut() -> T) -> (f64, f64, T) {
    for _ in 0..WARMUP {
        std::hint::black_box(f());
    }
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let out = std::hint::black_box(f());
        times.push(start.elapsed());
        last = Some(out);
    }
    times.sort();
    (p(&times, 0.5), p(&times, 0.9), last.unwrap())
}

fn report(label: &str, render: impl FnMut() -> Png, target_ms: Option<f64>, target_kb: Option<f64>) {
    let (p50, p90, png) = time(render);
    let img = image::load_from_memory(&png.0).expect("valid PNG").to_rgb8();
    let (w, h) = img.dimensions();
    let kb = png.0.len() as f64 / 1024.0;
    let mut verdict = Vec::new();
    if let Some(t) = target_ms {
        verdict.push(format!("objetivo < {t} ms: {}", if p50 < t { "OK" } else { "NO" }));
    }
    if let Some(t) = target_kb {
        verdict.push(format!("objetivo < {t} KB: {}", if kb < t { "OK" } else { "NO" }));
    }
    println!(
        "{label:<28} {w}x{h:<5} p50 {p50:>6.2} ms  p90 {p90:>6.2} ms  PNG {kb:>6.1} KB  {}",
        verdict.join(" · ")
    );
    let raw = img.into_raw();
    let (enc50, _, _) = time(|| {
        let mut out = Vec::new();
        PngEncoder::new_with_quality(Cursor::new(&mut out), CompressionType::Fast, FilterType::Adaptive)
            .write_image(&raw, w, h, image::ColorType::Rgb8)
            .unwrap();
        out
    });
    println!(
        "{:<28} de ello codificación PNG ≈ {enc50:.2} ms, dibujo ≈ {:.2} ms",
        "",
        (p50 - enc50).max(0.0)
    );
}

fn python_has_matplotlib() -> bool {
    Command::new("python3")
        .args(["-c", "import matplotlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn matplotlib(ranked: &[RankedAgent]) {
    if !python_has_matplotlib() {
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "matplotlib"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    if !python_has_matplotlib() {
        println!("matplotlib: no disponible");
        return;
    }
    let input = serde_json::json!({
        "title": "Ranking · Último mes",
        "subtitle": format!("{} · puntuación compuesta", month().label()),
        "names": ranked.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        "positions": ranked.iter().map(|r| r.position).collect::<Vec<_>>(),
        "scores": ranked.iter().map(|r| r.score).collect::<Vec<_>>(),
        "highlight_index": 3,
        "footer": "datos de hace 3 horas",
        "runs": RUNS,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/matplotlib_ranking.py");
    let child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("matplotlib: no disponible");
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => print!("{}", String::from_utf8_lossy(&out.stdout)),
        Ok(out) => println!(
            "matplotlib: no disponible (el script falló: {})",
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        ),
        Err(e) => println!("matplotlib: no disponible ({e})"),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too: nothing to parse.
    println!("pulso · gráficos: tiempo hasta los bytes PNG (dibujo + codificación), p50 de {RUNS} ejecuciones");
    let twenty = agents(20);
    let hundred = agents(100);
    report(
        "ranking, 20 agentes",
        || {
            ranking_png(&RankingChart {
                title: "Ranking · Último mes",
                range: month(),
                ranked: &twenty,
                highlight: Some(4),
                data_age: Some("hace 3 horas".to_string()),
            })
            .unwrap()
        },
        Some(15.0),
        Some(200.0),
    );
    report(
        "ranking, 100 agentes (top 20+1)",
        || {
            ranking_png(&RankingChart {
                title: "Ranking · Último mes",
                range: month(),
                ranked: &hundred,
                highlight: Some(57),
                data_age: Some("hace 3 horas".to_string()),
            })
            .unwrap()
        },
        Some(40.0),
        None,
    );
    // Both networks: every agent's Facebook score plus, for most, an Instagram segment.
    let stacked = rank_stacked(twenty.iter().map(|r| {
        let i = r.agent_id;
        let fb = AgentTotals {
            posts: 30 - i,
            link_clicks: i % 5,
            impressions: Some(20_000 + i * 500),
            reach: Some(9_000 + i * 200),
            days_with_data: 30,
            ..Default::default()
        };
        let ig = (i % 6 != 0).then(|| InstagramTotals {
            media: Some(i % 9),
            views: Some(15_000 + i * 700),
            reach: Some(6_000 + i * 150),
            profile_links_taps: Some(i % 4),
            days_with_data: 30,
            ..Default::default()
        });
        (i, r.name.clone(), fb, ig)
    }));
    report(
        "ranking total FB+IG, 20",
        || {
            ranking_stacked(&StackedRankingChart {
                title: "Ranking total · Último mes",
                range: month(),
                ranked: &stacked,
                highlight: Some(4),
                data_age: Some("hace 3 horas".to_string()),
            })
            .unwrap()
        },
        Some(15.0),
        Some(200.0),
    );
    let range = DateRange::new(
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
    );
    let current = series(range);
    let previous = series(range.previous());
    report(
        "tendencia, 180 días",
        || {
            trend_png(&TrendChart {
                title: "Tendencia · José Núñez",
                range,
                current: &current,
                previous: &previous,
            })
            .unwrap()
        },
        None,
        None,
    );
    matplotlib(&twenty);
}

//! Renders every chart, decodes the PNG and checks what a person would look for: size, that it is
//! not blank, title text where the title goes, bar lengths proportional to scores, the caller's bar
//! in its own colour, and no panic on awkward inputs.

use chrono::NaiveDate;
use image::RgbImage;
use plotters::style::RGBColor;
use pulso::charts::{
    NO_DATA, Png, RankingChart, TOP_WHEN_CAPPED, TeamChart, TrendChart, WIDTH, palette, ranking_png, ranking_stacked,
    render_off_runtime, team_png, trend_png, trend_with_instagram_png,
};
use pulso::domain::{AgentTotals, DailyMetrics, DateRange, RankedAgent};

#[path = "charts/instagram.rs"]
mod instagram;
use instagram::{ig_series, stacked_chart, two_networks};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn decode(png: &Png) -> RgbImage {
    assert_eq!(&png.0[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    image::load_from_memory_with_format(&png.0, image::ImageFormat::Png)
        .expect("decodable PNG")
        .to_rgb8()
}

fn is(c: RGBColor, p: &image::Rgb<u8>) -> bool {
    p.0 == [c.0, c.1, c.2]
}

fn count(img: &RgbImage, c: RGBColor) -> usize {
    img.pixels().filter(|p| is(c, p)).count()
}

/// Dark pixels (text is drawn in near-black) inside the given rows.
fn dark_pixels(img: &RgbImage, rows: std::ops::Range<u32>) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = img.get_pixel(x, y).0;
            p.iter().map(|&v| v as u32).sum::<u32>() < 3 * 90
        })
        .count()
}

fn non_background(img: &RgbImage) -> usize {
    img.pixels().filter(|p| p.0 != [255, 255, 255]).count()
}

fn assert_readable(img: &RgbImage) {
    assert_eq!(img.width(), WIDTH);
    assert!(non_background(img) > 5_000, "image is (nearly) blank");
    // The title is drawn in bold near-black in the top band.
    assert!(dark_pixels(img, 20..80) > 200, "no title text in the top band");
    // Telegram photo limits: width + height ≤ 10 000, ratio ≤ 20.
    assert!(img.width() + img.height() <= 10_000 && img.height() / img.width() <= 20);
}

/// Bars of colour `c`: (first row, last row, min x, max x) of every vertical run of rows containing it.
fn bars(img: &RgbImage, colors: &[RGBColor]) -> Vec<(u32, u32, u32, u32)> {
    let mut out: Vec<(u32, u32, u32, u32)> = Vec::new();
    let mut current: Option<(u32, u32, u32, u32)> = None;
    for y in 0..img.height() {
        // A bar row has a long horizontal run of the colour (the average line is only 3 px wide).
        let xs: Vec<u32> = (0..img.width())
            .filter(|&x| colors.iter().any(|&c| is(c, img.get_pixel(x, y))))
            .collect();
        if xs.len() >= 4 {
            let (lo, hi) = (xs[0], *xs.last().unwrap());
            current = Some(match current {
                Some((y0, _, a, b)) => (y0, y, a.min(lo), b.max(hi)),
                None => (y, y, lo, hi),
            });
        } else if let Some(bar) = current.take() {
            out.push(bar);
        }
    }
    out.extend(current);
    out
}

fn agent(position: usize, id: i64, name: &str, score: f64) -> RankedAgent {
    RankedAgent {
        position,
        agent_id: id,
        name: name.to_string(),
        score,
        totals: AgentTotals {
            days_with_data: 30,
            ..Default::default()
        },
    }
}

fn many_agents(n: usize) -> Vec<RankedAgent> {
    let names = [
        "José Núñez",
        "María Fernández Ibáñez",
        "Ana",
        "Íñigo Peña",
        "Begoña Muñoz",
    ];
    (0..n)
        .map(|i| {
            agent(
                i + 1,
                i as i64 + 1,
                &format!("{} {}", names[i % names.len()], i + 1),
                1000.0 / (i as f64 + 1.0),
            )
        })
        .collect()
}

fn month() -> DateRange {
    DateRange::new(d(2026, 11, 1), d(2026, 11, 30))
}

fn ranking(ranked: &[RankedAgent], highlight: Option<i64>) -> RgbImage {
    let png = ranking_png(&RankingChart {
        title: "Ranking · Último mes",
        range: month(),
        ranked,
        highlight,
        data_age: Some("hace 3 horas".to_string()),
    })
    .unwrap();
    decode(&png)
}

#[test]
fn ranking_bars_are_proportional_to_scores() {
    let ranked = [
        agent(1, 1, "José Núñez", 100.0),
        agent(2, 2, "María Fernández Ibáñez", 50.0),
    ];
    let img = ranking(&ranked, None);
    assert_readable(&img);
    let found = bars(&img, &[palette::BAR]);
    assert_eq!(found.len(), 2, "{found:?}");
    let (top, bottom) = (found[0], found[1]);
    assert!(top.0 < bottom.0, "highest score on top");
    assert_eq!(top.2, bottom.2, "bars start at the same x");
    let ratio = (top.3 - top.2 + 1) as f64 / (bottom.3 - bottom.2 + 1) as f64;
    assert!((ratio - 2.0).abs() < 0.02, "ratio {ratio}");
    // Bars are thick enough to see on a phone.
    assert!(top.1 - top.0 >= 30);
    // The dashed average line (75) is drawn across the bars.
    assert!(count(&img, palette::AVERAGE) > 100);
    assert_eq!(count(&img, palette::HIGHLIGHT), 0, "no highlight requested");
}

#[test]
fn the_callers_bar_has_its_own_colour() {
    let ranked = [
        agent(1, 1, "José Núñez", 100.0),
        agent(2, 2, "Ana", 50.0),
        agent(3, 3, "Luis", 20.0),
    ];
    let img = ranking(&ranked, Some(2));
    let highlighted = bars(&img, &[palette::HIGHLIGHT]);
    assert_eq!(highlighted.len(), 1);
    let all = bars(&img, &[palette::BAR, palette::HIGHLIGHT]);
    assert_eq!(all.len(), 3);
    assert_eq!(all[1], highlighted[0], "the second bar is the caller's");
}

#[test]
fn height_grows_with_the_number_of_bars() {
    let small = ranking(&many_agents(3), None);
    let big = ranking(&many_agents(20), None);
    assert!(big.height() > small.height() + 17 * 40);
    assert_eq!(bars(&big, &[palette::BAR]).len(), 20);
}

#[test]
fn a_thousand_agents_show_the_top_and_the_caller() {
    let ranked = many_agents(1000);
    let img = ranking(&ranked, Some(57));
    assert_readable(&img);
    let all = bars(&img, &[palette::BAR, palette::HIGHLIGHT]);
    assert_eq!(all.len(), TOP_WHEN_CAPPED + 1);
    let caller = bars(&img, &[palette::HIGHLIGHT]);
    assert_eq!(caller.len(), 1);
    assert_eq!(caller[0], *all.last().unwrap(), "the caller's bar comes after the top");
    // Footer text ("mostrando 20 de 1.000") in the last rows.
    let h = img.height();
    let muted = (h - 60..h - 10)
        .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| is(palette::MUTED, img.get_pixel(x, y)))
        .count();
    assert!(muted > 50, "footer text");

    // Without a highlight: just the top 20.
    let img = ranking(&ranked, None);
    assert_eq!(bars(&img, &[palette::BAR, palette::HIGHLIGHT]).len(), TOP_WHEN_CAPPED);
}

#[test]
fn long_names_are_cut_before_the_bars() {
    let long = "María Fernández Ibáñez de la Peña y Muñoz Gutiérrez Castañeda Olvera Ñúñez Iñárritu";
    assert!(long.chars().count() >= 80);
    let ranked = [agent(1, 1, long, 100.0), agent(2, 2, &long.repeat(3), 80.0)];
    let img = ranking(&ranked, None);
    for (y0, y1, x0, _) in bars(&img, &[palette::BAR]) {
        // Nothing dark in the 12 px just left of the bar: the name stopped short of it.
        let dark = (y0..=y1)
            .flat_map(|y| (x0 - 12..x0).map(move |x| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0.iter().map(|&v| v as u32).sum::<u32>() < 600)
            .count();
        assert_eq!(dark, 0, "name runs into the bar");
    }
}

fn assert_no_data(img: &RgbImage) {
    assert_readable(img);
    // The centred message: a band of muted text in the middle of the image.
    let mid = img.height() / 2;
    let muted = (mid - 40..mid + 40)
        .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| is(palette::MUTED, img.get_pixel(x, y)))
        .count();
    assert!(muted > 300, "no '{NO_DATA}' message");
}

#[test]
fn empty_rankings_say_there_is_no_data() {
    assert_no_data(&ranking(&[], None));
    // Agents exist but none has data for the period.
    let idle = RankedAgent {
        totals: AgentTotals::default(),
        ..agent(1, 1, "Ana", 0.0)
    };
    assert_no_data(&ranking(&[idle], Some(1)));
}

#[test]
fn one_agent_renders() {
    let img = ranking(&[agent(1, 1, "Begoña", 12.5)], Some(1));
    assert_readable(&img);
    assert_eq!(bars(&img, &[palette::HIGHLIGHT]).len(), 1);
}

#[test]
fn zero_and_odd_scores_do_not_panic() {
    let ranked = [
        agent(1, 1, "Ana", 0.0),
        agent(2, 2, "Luis", f64::NAN),
        agent(3, 3, "Eva", -5.0),
        agent(4, 4, "", f64::INFINITY),
        agent(5, 5, "emoji 🏠 y\ncontrol\u{7}", 1.0),
    ];
    let img = ranking(&ranked, Some(99));
    assert_readable(&img);
}

fn series(range: DateRange, base: i64) -> Vec<DailyMetrics> {
    range
        .iter_days()
        .enumerate()
        .map(|(i, date)| DailyMetrics {
            date,
            followers: Some(1200 + i as i64 * 3),
            impressions: Some(base + (i as i64 * 37) % 900),
            reach: Some(base / 2 + (i as i64 * 53) % 500),
            posts: (i as i64) % 3,
            ..Default::default()
        })
        .collect()
}

#[test]
fn trend_chart_shows_both_periods() {
    let range = DateRange::new(d(2026, 6, 1), d(2026, 11, 27));
    assert_eq!(range.days(), 180);
    let current = series(range, 2000);
    let previous = series(range.previous(), 1500);
    let png = trend_png(&TrendChart {
        title: "Tendencia · José Núñez",
        range,
        current: &current,
        previous: &previous,
    })
    .unwrap();
    let img = decode(&png);
    assert_readable(&img);
    assert!(count(&img, palette::VIEWS) > 1000, "views line");
    assert!(count(&img, palette::REACH) > 1000, "reach line");
    assert!(count(&img, palette::FOLLOWERS) > 300, "followers line");
    let faint = palette::faint(palette::VIEWS, 60);
    assert!(count(&img, faint) > 300, "previous period overlay");

    // Without a previous period there is no faint overlay (nor its legend entry).
    let img = decode(
        &trend_png(&TrendChart {
            title: "Tendencia",
            range,
            current: &current,
            previous: &[],
        })
        .unwrap(),
    );
    assert_eq!(count(&img, faint), 0);
}

#[test]
fn short_and_gappy_trends_render() {
    let week = DateRange::new(d(2026, 11, 20), d(2026, 11, 26));
    let mut current = series(week, 300);
    current.remove(3);
    let img = decode(
        &trend_png(&TrendChart {
            title: "Tendencia · Última semana",
            range: week,
            current: &current,
            previous: &[],
        })
        .unwrap(),
    );
    assert_readable(&img);
    let today = DateRange::new(d(2026, 11, 26), d(2026, 11, 26));
    let img = decode(
        &trend_png(&TrendChart {
            title: "Hoy",
            range: today,
            current: &series(today, 10),
            previous: &series(today.previous(), 10),
        })
        .unwrap(),
    );
    assert_readable(&img);
    assert!(count(&img, palette::VIEWS) > 20, "a single day is a visible dot");
}

#[test]
fn trend_without_data_says_so() {
    let img = decode(
        &trend_png(&TrendChart {
            title: "Tendencia · Ana",
            range: month(),
            current: &[],
            previous: &series(month().previous(), 100),
        })
        .unwrap(),
    );
    assert_no_data(&img);
    // Rows outside the range do not count as data either.
    let img = decode(
        &trend_png(&TrendChart {
            title: "Tendencia · Ana",
            range: month(),
            current: &series(month().previous(), 100),
            previous: &[],
        })
        .unwrap(),
    );
    assert_no_data(&img);
}

#[test]
fn team_chart_has_lines_and_post_bars() {
    let img = decode(
        &team_png(&TeamChart {
            title: "Equipo · Último mes",
            range: month(),
            daily: &series(month(), 20_000),
        })
        .unwrap(),
    );
    assert_readable(&img);
    assert!(count(&img, palette::VIEWS) > 1000);
    assert!(count(&img, palette::REACH) > 1000);
    assert!(count(&img, palette::POSTS) > 1000, "posts bars");
    let img = decode(
        &team_png(&TeamChart {
            title: "Equipo",
            range: month(),
            daily: &[],
        })
        .unwrap(),
    );
    assert_no_data(&img);
}

#[tokio::test]
async fn rendering_runs_on_the_blocking_pool() {
    let ranked = many_agents(20);
    let png = render_off_runtime(move || {
        ranking_png(&RankingChart {
            title: "Ranking · Última semana",
            range: month(),
            ranked: &ranked,
            highlight: Some(4),
            data_age: None,
        })
    })
    .await
    .unwrap();
    assert_readable(&decode(&png));
    let err = render_off_runtime(|| panic!("boom")).await.unwrap_err();
    assert!(err.to_string().contains("did not finish"), "{err}");
}

/// Writes sample charts to $PULSO_CHART_DIR for a person to look at (skipped when unset).
#[test]
fn write_samples_for_review() {
    let Some(dir) = std::env::var_os("PULSO_CHART_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, png: Png| std::fs::write(dir.join(name), png.0).unwrap();
    let chart = |ranked: &[RankedAgent], highlight| {
        ranking_png(&RankingChart {
            title: "Ranking · Último mes",
            range: month(),
            ranked,
            highlight,
            data_age: Some("hace 3 horas".to_string()),
        })
        .unwrap()
    };
    write("ranking_20.png", chart(&many_agents(20), Some(4)));
    write("ranking_1000.png", chart(&many_agents(1000), Some(57)));
    write("ranking_empty.png", chart(&[], None));
    let long = "María Fernández Ibáñez de la Peña y Muñoz Gutiérrez Castañeda Olvera Ñúñez Iñárritu";
    write(
        "ranking_long.png",
        chart(&[agent(1, 1, long, 100.0), agent(2, 2, "José Núñez", 50.0)], Some(2)),
    );
    for (name, range) in [
        ("trend_180.png", DateRange::new(d(2026, 6, 1), d(2026, 11, 27))),
        ("trend_30.png", month()),
        ("trend_7.png", DateRange::new(d(2026, 11, 20), d(2026, 11, 26))),
    ] {
        let current = series(range, 2000);
        let previous = series(range.previous(), 1500);
        let png = trend_png(&TrendChart {
            title: "Tendencia · José Núñez",
            range,
            current: &current,
            previous: &previous,
        })
        .unwrap();
        write(name, png);
    }
    let png = team_png(&TeamChart {
        title: "Equipo · Último mes",
        range: month(),
        daily: &series(month(), 20_000),
    })
    .unwrap();
    write("team_30.png", png);
    let zeros: Vec<DailyMetrics> = month()
        .iter_days()
        .map(|date| DailyMetrics {
            date,
            ..Default::default()
        })
        .collect();
    let png = trend_png(&TrendChart {
        title: "Tendencia · Ana (todo en cero)",
        range: month(),
        current: &zeros,
        previous: &[],
    })
    .unwrap();
    write("trend_zeros.png", png);
    let today = DateRange::new(d(2026, 11, 26), d(2026, 11, 26));
    let png = trend_png(&TrendChart {
        title: "Tendencia · Hoy",
        range: today,
        current: &series(today, 40),
        previous: &series(today.previous(), 30),
    })
    .unwrap();
    write("trend_today.png", png);
    let range = month();
    let current = series(range, 2000);
    let previous = series(range.previous(), 1500);
    let png = trend_with_instagram_png(
        &TrendChart {
            title: "Tendencia · José Núñez",
            range,
            current: &current,
            previous: &previous,
        },
        &ig_series(range, 1800),
    )
    .unwrap();
    write("trend_instagram_30.png", png);
    write(
        "ranking_total.png",
        ranking_stacked(&stacked_chart(&two_networks(), Some(3))).unwrap(),
    );
}

//! The Instagram side of the charts: the two-network ranking (a Facebook and an Instagram segment
//! per agent, where the layout says), and Instagram lines on the trend and team charts.

use super::*;
use pulso::charts::{
    HIGHLIGHT_FRAME, StackedAgent, StackedRankingChart, stacked_from_ranked, stacked_layout, team_with_instagram_png,
};
use pulso::domain::ranking::{network_score, rank_scored};
use pulso::domain::{AgentId, InstagramDaily, InstagramTotals, Network, instagram_score, performance_score};

/// Both networks' scores summed and ranked by the domain, as `/ranking … total` does.
fn rank_stacked(
    agents: impl IntoIterator<Item = (AgentId, String, AgentTotals, Option<InstagramTotals>)>,
) -> Vec<StackedAgent> {
    stacked_from_ranked(&rank_scored(agents.into_iter().map(|(id, name, fb, ig)| {
        let score = network_score(Network::Total, &fb, ig.as_ref());
        (id, name, fb, score)
    })))
}

fn fb_totals(posts: i64, link_clicks: i64) -> AgentTotals {
    AgentTotals {
        posts,
        link_clicks,
        impressions: Some(4000),
        reach: Some(1000),
        days_with_data: 30,
        ..Default::default()
    }
}

fn ig_totals(media: i64, taps: i64) -> InstagramTotals {
    InstagramTotals {
        media: Some(media),
        profile_links_taps: Some(taps),
        views: Some(9000),
        reach: Some(2500),
        days_with_data: 30,
        ..Default::default()
    }
}

/// Three agents: one strong on both networks, one mostly Instagram, one without Instagram.
pub(super) fn two_networks() -> Vec<StackedAgent> {
    rank_stacked([
        (1, "José Núñez".to_string(), fb_totals(6, 4), Some(ig_totals(2, 1))),
        (
            2,
            "Begoña <b>Muñoz</b>".to_string(),
            fb_totals(1, 0),
            Some(ig_totals(4, 2)),
        ),
        (3, "Ana".to_string(), fb_totals(2, 1), None),
    ])
}

pub(super) fn stacked_chart<'a>(ranked: &'a [StackedAgent], highlight: Option<i64>) -> StackedRankingChart<'a> {
    StackedRankingChart {
        title: "Ranking total · Último mes",
        range: month(),
        ranked,
        highlight,
        data_age: Some("hace 3 horas".to_string()),
    }
}

/// Pixels of colour `c` in row `y` between x0 and x1 (exclusive).
fn run_in_row(img: &RgbImage, c: RGBColor, y: u32, xs: std::ops::Range<u32>) -> usize {
    xs.filter(|&x| is(c, img.get_pixel(x, y))).count()
}

/// In row `y`, colour `c` fills exactly `span` (x0..x1), except where the 4-px average line at
/// `avg_x` crosses it.
fn assert_span(img: &RgbImage, y: u32, c: RGBColor, span: (i32, i32), avg_x: i32) {
    for x in 0..img.width() as i32 {
        let p = img.get_pixel(x as u32, y);
        let on_average = (avg_x - 1..=avg_x + 2).contains(&x) && is(palette::AVERAGE, p);
        if (span.0..span.1).contains(&x) {
            assert!(is(c, p) || on_average, "x={x} y={y} should be {c:?}, is {p:?}");
        } else {
            assert!(!is(c, p), "x={x} y={y} outside {span:?} is {c:?}");
        }
    }
}

#[test]
fn stacked_ranking_draws_a_facebook_and_an_instagram_segment_per_agent() {
    let ranked = two_networks();
    // The scores are the domain's, per network, and the bar order is by their sum.
    assert_eq!(ranked[0].facebook, performance_score(&fb_totals(6, 4)));
    assert_eq!(ranked[0].instagram, instagram_score(&ig_totals(2, 1)));
    assert_eq!(ranked.iter().map(|r| r.agent_id).collect::<Vec<_>>(), [1, 2, 3]);

    let chart = stacked_chart(&ranked, None);
    let layout = stacked_layout(&chart).unwrap();
    let img = decode(&ranking_stacked(&chart).unwrap());
    assert_readable(&img);
    assert_eq!(img.height(), layout.height);
    assert_eq!(layout.bars.len(), 3);

    let mut widths = Vec::new();
    for bar in &layout.bars {
        let r = &ranked[bar.index];
        assert_eq!(r.agent_id, bar.agent_id);
        let mid = (bar.top + bar.thickness / 2) as u32;
        let (f0, f1) = bar.facebook;
        let (i0, i1) = bar.instagram;
        // What the image holds at the positions the layout computed for these scores.
        assert!(
            is(palette::FACEBOOK, img.get_pixel(((f0 + f1) / 2) as u32, mid)),
            "{bar:?}"
        );
        assert_span(&img, mid, palette::FACEBOOK, bar.facebook, layout.average_x);
        assert_span(&img, mid, palette::INSTAGRAM, bar.instagram, layout.average_x);
        if r.instagram > 0.0 {
            assert!(is(palette::INSTAGRAM, img.get_pixel(((i0 + i1) / 2) as u32, mid)));
            assert_eq!(f1, i0, "the Instagram segment starts where the Facebook one ends");
            // Segment lengths follow the two scores.
            let ratio = (f1 - f0) as f64 / (i1 - i0) as f64;
            let want = r.facebook / r.instagram;
            assert!((ratio - want).abs() < 0.03 * want, "ratio {ratio}, scores {want}");
        } else {
            assert_eq!(i0, i1, "no Instagram, no segment");
        }
        // Full thickness, solid.
        let col = ((f0 + f1) / 2) as u32;
        let tall = (0..img.height())
            .filter(|&y| is(palette::FACEBOOK, img.get_pixel(col, y)))
            .count();
        assert!(tall >= bar.thickness as usize, "bar thickness at x={col}");
        widths.push((i1 - f0, r.total()));
    }
    // Whole bars are proportional to the sums, highest on top.
    let ratio = widths[0].0 as f64 / widths[1].0 as f64;
    assert!((ratio - widths[0].1 / widths[1].1).abs() < 0.02, "{widths:?}");
    assert!(layout.bars[0].top < layout.bars[1].top && layout.bars[1].top < layout.bars[2].top);
    // The team-average line (of the sums) crosses the bars at the computed x.
    let x = layout.average_x as u32;
    let dashes = (layout.bars[0].top as u32..layout.bars[2].top as u32)
        .filter(|&y| is(palette::AVERAGE, img.get_pixel(x, y)))
        .count();
    assert!(dashes > 40, "average line at x={x}: {dashes}");
    // The legend names both colours above the bars.
    let legend_top = 120..(layout.bars[0].top as u32 - 40);
    let legend = |c| {
        legend_top
            .clone()
            .map(|y| run_in_row(&img, c, y, 0..WIDTH))
            .sum::<usize>()
    };
    assert!(
        legend(palette::FACEBOOK) > 200 && legend(palette::INSTAGRAM) > 200,
        "legend swatches"
    );
    assert_eq!(count(&img, palette::HIGHLIGHT), 0, "no highlight requested");
}

#[test]
fn stacked_ranking_frames_the_callers_bar() {
    let ranked = two_networks();
    let chart = stacked_chart(&ranked, Some(3));
    let layout = stacked_layout(&chart).unwrap();
    let img = decode(&ranking_stacked(&chart).unwrap());
    let mine = layout.bars.iter().find(|b| b.agent_id == 3).unwrap();
    assert!(mine.highlighted);
    // One orange frame, around the caller's bar only.
    let frame = bars(&img, &[palette::HIGHLIGHT]);
    assert_eq!(
        frame,
        [(
            (mine.top - HIGHLIGHT_FRAME) as u32,
            (mine.top + mine.thickness + HIGHLIGHT_FRAME - 1) as u32,
            (mine.facebook.0 - HIGHLIGHT_FRAME) as u32,
            (mine.instagram.1 + HIGHLIGHT_FRAME - 1) as u32,
        )]
    );
    // Inside it, the bar keeps its network colour.
    let mid = (mine.top + mine.thickness / 2) as u32;
    assert_span(&img, mid, palette::FACEBOOK, mine.facebook, layout.average_x);

    // A thousand agents: the top 20 plus the caller after a gap.
    let many = rank_stacked((0..1000).map(|i| {
        (
            i + 1,
            format!("Agente {}", i + 1),
            fb_totals(1000 - i, 0),
            (i % 2 == 0).then(|| ig_totals(i % 7, 0)),
        )
    }));
    let caller = many[500].agent_id;
    let chart = stacked_chart(&many, Some(caller));
    let layout = stacked_layout(&chart).unwrap();
    assert_eq!(layout.bars.len(), TOP_WHEN_CAPPED + 1);
    assert_eq!(layout.bars.last().unwrap().agent_id, caller);
    let img = decode(&ranking_stacked(&chart).unwrap());
    assert_readable(&img);
    let last = layout.bars.last().unwrap();
    assert!(is(
        palette::FACEBOOK,
        img.get_pixel(last.facebook.0 as u32 + 2, (last.top + 2) as u32)
    ));
}

/// An agent's own view: every other bar nameless and with id 0 (as the chat layer anonymises
/// them); each bar still follows its own scores.
#[test]
fn anonymous_bars_keep_their_own_lengths() {
    let mut ranked = two_networks();
    for r in ranked.iter_mut().filter(|r| r.agent_id != 3) {
        r.agent_id = 0;
        r.name = String::new();
    }
    let chart = stacked_chart(&ranked, Some(3));
    let layout = stacked_layout(&chart).unwrap();
    let img = decode(&ranking_stacked(&chart).unwrap());
    let widths: Vec<i32> = layout.bars.iter().map(|b| b.instagram.1 - b.facebook.0).collect();
    assert!(widths[0] > widths[1] && widths[1] > widths[2], "{widths:?}");
    for bar in &layout.bars {
        let mid = (bar.top + bar.thickness / 2) as u32;
        assert_span(&img, mid, palette::FACEBOOK, bar.facebook, layout.average_x);
        assert_span(&img, mid, palette::INSTAGRAM, bar.instagram, layout.average_x);
    }
    assert_eq!(layout.bars.iter().filter(|b| b.highlighted).count(), 1);
    // Ids are never drawn: the same nameless ranking with the real ids is the same image (each
    // bar's position and score text is its own, not the first bar with the same id).
    let mut with_ids = two_networks();
    for r in with_ids.iter_mut().filter(|r| r.agent_id != 3) {
        r.name = String::new();
    }
    assert_eq!(
        ranking_stacked(&stacked_chart(&with_ids, Some(3))).unwrap(),
        ranking_stacked(&chart).unwrap()
    );
}

#[test]
fn stacked_ranking_without_data_says_so_and_odd_input_does_not_panic() {
    let idle = rank_stacked([(1, "Ana".to_string(), AgentTotals::default(), None)]);
    assert!(stacked_layout(&stacked_chart(&idle, Some(1))).is_none());
    assert_no_data(&decode(&ranking_stacked(&stacked_chart(&idle, Some(1))).unwrap()));
    assert_no_data(&decode(&ranking_stacked(&stacked_chart(&[], None)).unwrap()));
    let odd = vec![
        StackedAgent {
            position: 1,
            agent_id: 1,
            name: "emoji 🏠 y\ncontrol\u{7}".into(),
            facebook: f64::NAN,
            instagram: f64::INFINITY,
            has_data: true,
        },
        StackedAgent {
            position: 2,
            agent_id: 2,
            name: String::new(),
            facebook: -3.0,
            instagram: 4.0,
            has_data: true,
        },
    ];
    assert_readable(&decode(&ranking_stacked(&stacked_chart(&odd, Some(2))).unwrap()));
}

pub(super) fn ig_series(range: DateRange, base: i64) -> Vec<InstagramDaily> {
    range
        .iter_days()
        .enumerate()
        .map(|(i, date)| InstagramDaily {
            views: Some(base + (i as i64 * 41) % 700),
            reach: Some(base / 3 + (i as i64 * 29) % 300),
            ..InstagramDaily::new(date)
        })
        .collect()
}

#[test]
fn trend_chart_can_show_instagram_views_and_reach() {
    let range = month();
    let current = series(range, 2000);
    let previous = series(range.previous(), 1500);
    let chart = TrendChart {
        title: "Tendencia · José Núñez",
        range,
        current: &current,
        previous: &previous,
    };
    let img = decode(&trend_with_instagram_png(&chart, &ig_series(range, 1800)).unwrap());
    assert_readable(&img);
    assert!(count(&img, palette::INSTAGRAM) > 1000, "Instagram views line");
    assert!(count(&img, palette::INSTAGRAM_REACH) > 1000, "Instagram reach line");
    assert!(count(&img, palette::VIEWS) > 1000, "Facebook lines stay");

    // Unknown Instagram days are left out, never drawn as zero: with no known day the chart is
    // the Facebook one, byte for byte.
    let unknown: Vec<InstagramDaily> = range.iter_days().map(InstagramDaily::new).collect();
    let fb_only = trend_png(&chart).unwrap();
    assert_eq!(trend_with_instagram_png(&chart, &unknown).unwrap(), fb_only);
    assert_eq!(count(&decode(&fb_only), palette::INSTAGRAM), 0);
    // A gap of unknown days splits the line: fewer pixels than the full series.
    let mut gappy = ig_series(range, 1800);
    for d in &mut gappy[10..20] {
        d.views = None;
        d.reach = None;
    }
    let gap_img = decode(&trend_with_instagram_png(&chart, &gappy).unwrap());
    assert!(count(&gap_img, palette::INSTAGRAM) < count(&img, palette::INSTAGRAM) * 8 / 10);
    // Instagram alone is data too.
    let ig_only = TrendChart {
        current: &[],
        previous: &[],
        ..chart
    };
    let img = decode(&trend_with_instagram_png(&ig_only, &ig_series(range, 500)).unwrap());
    assert!(count(&img, palette::INSTAGRAM) > 1000);
}

#[test]
fn team_chart_can_show_instagram_lines() {
    let daily = series(month(), 20_000);
    let chart = TeamChart {
        title: "Equipo · Último mes",
        range: month(),
        daily: &daily,
    };
    let img = decode(&team_with_instagram_png(&chart, &ig_series(month(), 15_000)).unwrap());
    assert_readable(&img);
    assert!(count(&img, palette::INSTAGRAM) > 1000);
    assert!(count(&img, palette::INSTAGRAM_REACH) > 1000);
    assert!(count(&img, palette::POSTS) > 1000, "posts bars stay");
    assert_eq!(team_with_instagram_png(&chart, &[]).unwrap(), team_png(&chart).unwrap());
}

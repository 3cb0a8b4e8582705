//! The two-network ranking (`/ranking … total`): one horizontal bar per agent, a Facebook segment
//! followed by an Instagram segment, so the bar's length is the sum of both scores; the team
//! average of the sums as a dashed line, and a legend naming the two colours. Same layout as the
//! single-network ranking (see `ranking.rs`), with the legend between the header and the bars.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::ranking::{
    BAR_THICKNESS, BAR_X0, FOOTER, GAP_ROW, NAME_X, ROW, Ranked, bar_len, draw_average_from, draw_name, draw_score,
    finite, select,
};
use super::{
    Area, ChartError, MARGIN, Png, WIDTH, anchor, bold, draw_footer, draw_header, no_data_png, palette, render, text,
    thousands,
};
use crate::domain::{AgentId, DateRange, RankedAgent, performance_score};

/// One agent's bar in the two-network ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedAgent {
    /// 1-based position by the sum of both scores.
    pub position: usize,
    pub agent_id: AgentId,
    /// Drawn as plain text (outside text: never markup), cut to fit.
    pub name: String,
    /// `performance_score` of the agent's Facebook totals.
    pub facebook: f64,
    /// `instagram_score` of the agent's Instagram totals; 0 for an agent without Instagram.
    pub instagram: f64,
    /// Whether the agent has any stored day in the period on either network.
    pub has_data: bool,
}

impl StackedAgent {
    /// Facebook + Instagram (each segment finite and non-negative first).
    pub fn total(&self) -> f64 {
        finite(self.facebook) + finite(self.instagram)
    }
}

impl Ranked for StackedAgent {
    fn agent_id(&self) -> AgentId {
        self.agent_id
    }
    fn raw_score(&self) -> f64 {
        self.total()
    }
}

/// The bars of `/ranking … total` from the domain's ranking by [`Network::Total`] (its order and
/// positions kept): each agent's Facebook segment is `performance_score` of their Facebook totals,
/// the Instagram segment the rest of their total score.
///
/// [`Network::Total`]: crate::domain::Network::Total
pub fn stacked_from_ranked(ranked: &[RankedAgent]) -> Vec<StackedAgent> {
    ranked
        .iter()
        .map(|r| {
            let facebook = performance_score(&r.totals);
            StackedAgent {
                position: r.position,
                agent_id: r.agent_id,
                name: r.name.clone(),
                facebook,
                instagram: (r.score - facebook).max(0.0),
                has_data: r.totals.has_data() || r.score > 0.0,
            }
        })
        .collect()
}

/// Inputs of [`ranking_stacked`].
pub struct StackedRankingChart<'a> {
    /// e.g. "Ranking total · Último mes".
    pub title: &'a str,
    pub range: DateRange,
    /// Every agent (the average line uses them all, not only the bars shown), e.g. from
    /// [`rank_stacked`]; drawn highest sum first whatever the order given.
    pub ranked: &'a [StackedAgent],
    /// The caller's own bar: bold name and an orange frame (and added below the top when past
    /// [`super::MAX_BARS_UNCAPPED`] agents it is not in it).
    pub highlight: Option<AgentId>,
    /// "hace 3 horas", for the footer "datos de hace 3 horas".
    pub data_age: Option<String>,
}

/// Legend row, between the header and the average label.
const LEGEND_Y: i32 = 152;
/// Below the legend and the average label.
pub const STACKED_BARS_TOP: i32 = 240;
/// The frame around the caller's bar, in pixels outside it.
pub const HIGHLIGHT_FRAME: i32 = 4;

/// Where one agent's bar is drawn, in image pixels (inclusive-exclusive x spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackedBar {
    /// Index of the agent in [`StackedRankingChart::ranked`] (ids may repeat, e.g. 0 for the
    /// anonymous bars of an agent's own view).
    pub index: usize,
    pub agent_id: AgentId,
    /// Rows of the bar: `top..top + thickness`.
    pub top: i32,
    pub thickness: i32,
    /// Facebook segment `x0..x1` (empty when the score is 0).
    pub facebook: (i32, i32),
    /// Instagram segment, starting where the Facebook one ends.
    pub instagram: (i32, i32),
    pub highlighted: bool,
}

/// The computed layout of a stacked ranking: image height, the bars, the average line's x.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedLayout {
    pub height: u32,
    pub bars: Vec<StackedBar>,
    pub average_x: i32,
    /// "mostrando 20 de 1.000" when capped.
    shown_note: Option<String>,
    bars_bottom: i32,
    max: f64,
    average: f64,
    /// Centre of the "⋮" drawn before an out-of-top bar.
    gap_marker: Option<i32>,
}

/// The layout [`ranking_stacked`] draws for `chart` (None when there is nothing to draw).
pub fn stacked_layout(chart: &StackedRankingChart) -> Option<StackedLayout> {
    if !chart.ranked.iter().any(|r| r.has_data || r.total() > 0.0) {
        return None;
    }
    let sel = select(chart.ranked, chart.highlight);
    let max = sel
        .top
        .iter()
        .chain(sel.extra.iter())
        .map(|r| r.total())
        .fold(0.0, f64::max);
    let average = finite(chart.ranked.iter().map(StackedAgent::total).sum::<f64>() / chart.ranked.len() as f64);
    let mut bars = Vec::with_capacity(sel.top.len() + 1);
    let bar = |r: &StackedAgent, y: i32| {
        let index = chart
            .ranked
            .iter()
            .position(|x| std::ptr::eq(x, r))
            .expect("selected from the ranking");
        let fb_end = BAR_X0 + bar_len(finite(r.facebook), max);
        let end = BAR_X0 + bar_len(r.total(), max);
        StackedBar {
            index,
            agent_id: r.agent_id,
            top: y + (ROW - BAR_THICKNESS) / 2,
            thickness: BAR_THICKNESS,
            facebook: (BAR_X0, fb_end),
            instagram: (fb_end, end.max(fb_end)),
            highlighted: chart.highlight == Some(r.agent_id),
        }
    };
    let mut y = STACKED_BARS_TOP;
    for r in &sel.top {
        bars.push(bar(r, y));
        y += ROW;
    }
    let mut gap_marker = None;
    if let Some(r) = sel.extra {
        gap_marker = Some(y + GAP_ROW / 2);
        bars.push(bar(r, y + GAP_ROW));
        y += GAP_ROW + ROW;
    }
    let shown_note = sel.capped.then(|| {
        format!(
            "mostrando {} de {}",
            sel.top.len(),
            thousands(chart.ranked.len() as i64)
        )
    });
    Some(StackedLayout {
        height: (y + 24 + FOOTER) as u32,
        average_x: BAR_X0 + bar_len(average, max),
        bars,
        shown_note,
        bars_bottom: y,
        max,
        average,
        gap_marker,
    })
}

/// Renders the two-network ranking. Inputs: see [`StackedRankingChart`] (scores per network from
/// [`rank_stacked`] or computed the same way). An empty ranking, or one where nobody has data, gives
/// the "Sin datos para este periodo" image.
pub fn ranking_stacked(chart: &StackedRankingChart) -> Result<Png, ChartError> {
    let subtitle = format!("{} · puntuación compuesta, Facebook + Instagram", chart.range.label());
    let footer = chart.data_age.as_deref().map(|age| format!("datos de {age}"));
    let Some(layout) = stacked_layout(chart) else {
        return no_data_png(chart.title, &subtitle, footer.as_deref());
    };
    render(WIDTH, layout.height, |area| {
        area.fill(&palette::BACKGROUND)?;
        draw_header(area, chart.title, &subtitle)?;
        draw_legend(area)?;
        if let Some(y) = layout.gap_marker {
            let style = bold(28.0, &palette::MUTED);
            area.draw_text("⋮", &anchor(&style, HPos::Center, VPos::Center), (NAME_X, y))?;
        }
        for bar in &layout.bars {
            let r = &chart.ranked[bar.index];
            draw_name(area, r.position, &r.name, bar.top + bar.thickness / 2, bar.highlighted)?;
            draw_segments(area, bar)?;
        }
        draw_average_from(area, layout.average, layout.max, STACKED_BARS_TOP, layout.bars_bottom)?;
        for bar in &layout.bars {
            let r = &chart.ranked[bar.index];
            let x = bar.instagram.1 + 10 + if bar.highlighted { HIGHLIGHT_FRAME } else { 0 };
            draw_score(area, r.total(), bar.top + bar.thickness / 2, x, bar.highlighted)?;
        }
        draw_footer(area, footer.as_deref(), layout.shown_note.as_deref())
    })
}

fn draw_segments(area: &Area, bar: &StackedBar) -> Result<(), ChartError> {
    let (top, bottom) = (bar.top, bar.top + bar.thickness);
    if bar.highlighted {
        let f = HIGHLIGHT_FRAME;
        area.draw(&Rectangle::new(
            [
                (bar.facebook.0 - f, top - f),
                (bar.instagram.1.max(bar.facebook.0 + 1) + f, bottom + f),
            ],
            palette::HIGHLIGHT.filled(),
        ))?;
        area.draw(&Rectangle::new(
            [(bar.facebook.0, top), (bar.instagram.1.max(bar.facebook.0 + 1), bottom)],
            palette::BACKGROUND.filled(),
        ))?;
    }
    // A filled rectangle on the bitmap covers x0..x1 and y0..y1, far corner excluded.
    if bar.facebook.1 > bar.facebook.0 {
        area.draw(&Rectangle::new(
            [(bar.facebook.0, top), (bar.facebook.1, bottom)],
            palette::FACEBOOK.filled(),
        ))?;
    }
    if bar.instagram.1 > bar.instagram.0 {
        area.draw(&Rectangle::new(
            [(bar.instagram.0, top), (bar.instagram.1, bottom)],
            palette::INSTAGRAM.filled(),
        ))?;
    }
    Ok(())
}

/// "■ Facebook  ■ Instagram  ┆ promedio del equipo (total)".
fn draw_legend(area: &Area) -> Result<(), ChartError> {
    let style = text(22.0, &palette::TEXT);
    let mut x = MARGIN;
    for (color, label) in [
        (palette::FACEBOOK, "Facebook"),
        (palette::INSTAGRAM, "Instagram"),
        (palette::AVERAGE, "Promedio del equipo (suma de ambas)"),
    ] {
        if color == palette::AVERAGE {
            area.draw(&Rectangle::new(
                [(x + 15, LEGEND_Y - 11), (x + 18, LEGEND_Y + 11)],
                color.filled(),
            ))?;
        } else {
            area.draw(&Rectangle::new(
                [(x + 6, LEGEND_Y - 11), (x + 28, LEGEND_Y + 11)],
                color.filled(),
            ))?;
        }
        x += 40;
        area.draw_text(label, &anchor(&style, HPos::Left, VPos::Center), (x, LEGEND_Y))?;
        x += area.estimate_text_size(label, &style)?.0 as i32 + 30;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ranking::{network_score, rank_scored};
    use crate::domain::{AgentTotals, InstagramTotals, Network};

    /// Both networks' scores summed and ranked by the domain, as `/ranking … total` does.
    fn rank_stacked(
        agents: impl IntoIterator<Item = (AgentId, String, AgentTotals, Option<InstagramTotals>)>,
    ) -> Vec<StackedAgent> {
        stacked_from_ranked(&rank_scored(agents.into_iter().map(|(id, name, fb, ig)| {
            let score = network_score(Network::Total, &fb, ig.as_ref());
            (id, name, fb, score)
        })))
    }

    fn totals(posts: i64) -> AgentTotals {
        AgentTotals {
            posts,
            days_with_data: 1,
            ..Default::default()
        }
    }

    #[test]
    fn ranks_by_the_sum_of_both_networks() {
        let ig = InstagramTotals {
            media: Some(5),
            days_with_data: 1,
            ..Default::default()
        };
        let ranked = rank_stacked([
            (1, "Ana".to_string(), totals(3), None),
            (2, "Luis".to_string(), totals(1), Some(ig)),
        ]);
        assert_eq!(ranked[0].agent_id, 2);
        assert_eq!((ranked[0].facebook, ranked[0].instagram), (10.0, 50.0));
        assert_eq!(ranked[1].instagram, 0.0);
        assert_eq!(ranked[1].position, 2);
    }

    #[test]
    fn segments_are_contiguous_and_proportional() {
        let ranked = rank_stacked([
            (1, "Ana".to_string(), totals(6), None),
            (
                2,
                "Luis".to_string(),
                totals(2),
                Some(InstagramTotals {
                    media: Some(1),
                    ..Default::default()
                }),
            ),
        ]);
        let chart = StackedRankingChart {
            title: "t",
            range: DateRange::new(chrono::NaiveDate::MIN, chrono::NaiveDate::MIN),
            ranked: &ranked,
            highlight: None,
            data_age: None,
        };
        let layout = stacked_layout(&chart).unwrap();
        let (a, l) = (layout.bars[0], layout.bars[1]);
        assert_eq!(a.instagram.0, a.instagram.1, "no Instagram, no segment");
        assert_eq!(l.facebook.1, l.instagram.0);
        assert_eq!((l.instagram.1 - BAR_X0) * 2, a.facebook.1 - BAR_X0);
    }
}

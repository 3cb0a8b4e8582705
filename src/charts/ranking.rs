//! The ranking chart: horizontal bars by composite score, highest on top, with the team average as
//! a dashed line. Laid out by hand on the drawing area (no axes: every bar carries its value), so
//! bar lengths are exactly proportional to the scores.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    Area, ChartError, MARGIN, Png, WIDTH, anchor, bold, draw_footer, draw_header, fit_text, fmt_score, no_data_png,
    palette, render, text, thousands,
};
use crate::domain::ranking::average_score;
use crate::domain::{AgentId, DateRange, RankedAgent};

/// Up to this many agents, every one gets a bar.
pub const MAX_BARS_UNCAPPED: usize = 25;
/// Past [`MAX_BARS_UNCAPPED`], the chart shows this many from the top, plus the highlighted agent.
pub const TOP_WHEN_CAPPED: usize = 20;

pub struct RankingChart<'a> {
    /// e.g. "Ranking · Último mes".
    pub title: &'a str,
    pub range: DateRange,
    /// The whole ranking (the average line uses every agent, not only the bars shown).
    pub ranked: &'a [RankedAgent],
    /// The caller's own bar, drawn in a distinct colour (and added below the top when it is not in it).
    pub highlight: Option<AgentId>,
    /// "hace 3 horas", for the footer "datos de hace 3 horas".
    pub data_age: Option<String>,
}

// Layout, in pixels.
/// Leaves room for the average label between the header and the first bar.
const BARS_TOP: i32 = 196;
const _: () = assert!(super::HEADER_BOTTOM + 60 <= BARS_TOP);
pub(super) const ROW: i32 = 52;
pub(super) const BAR_THICKNESS: i32 = 36;
/// The gap row before an out-of-top highlighted bar.
pub(super) const GAP_ROW: i32 = 40;
pub(super) const POSITION_X: i32 = MARGIN;
pub(super) const NAME_X: i32 = MARGIN + 78;
pub(super) const BAR_X0: i32 = 420;
/// Room right of the longest bar for its value label.
const VALUE_ROOM: i32 = 130;
pub(super) const BAR_MAX: i32 = WIDTH as i32 - MARGIN - VALUE_ROOM - BAR_X0;
pub(super) const FOOTER: i32 = 84;

/// A row of a horizontal-bar ranking: what ordering and capping need.
pub(super) trait Ranked {
    fn agent_id(&self) -> AgentId;
    /// The whole bar's score, as given (possibly not finite).
    fn raw_score(&self) -> f64;
}

impl Ranked for RankedAgent {
    fn agent_id(&self) -> AgentId {
        self.agent_id
    }
    fn raw_score(&self) -> f64 {
        self.score
    }
}

/// The bars to draw: the top of the ranking and, when the ranking is capped and the highlighted
/// agent is below the cut, that agent after a gap.
#[derive(Debug)]
pub(super) struct Selection<'a, T> {
    pub top: Vec<&'a T>,
    pub extra: Option<&'a T>,
    pub capped: bool,
}

pub(super) fn select<T: Ranked>(ranked: &[T], highlight: Option<AgentId>) -> Selection<'_, T> {
    let mut ordered: Vec<&T> = ranked.iter().collect();
    // Highest first whatever order the caller used; the sort is stable, so ties keep theirs.
    ordered.sort_by(|a, b| finite(b.raw_score()).total_cmp(&finite(a.raw_score())));
    if ordered.len() <= MAX_BARS_UNCAPPED {
        return Selection {
            top: ordered,
            extra: None,
            capped: false,
        };
    }
    let extra = highlight.and_then(|id| ordered[TOP_WHEN_CAPPED..].iter().copied().find(|r| r.agent_id() == id));
    ordered.truncate(TOP_WHEN_CAPPED);
    Selection {
        top: ordered,
        extra,
        capped: true,
    }
}

/// A finite, non-negative value for drawing.
pub(super) fn finite(x: f64) -> f64 {
    if x.is_finite() { x.max(0.0) } else { 0.0 }
}

/// A finite, non-negative score for drawing.
fn score_of(r: &RankedAgent) -> f64 {
    finite(r.score)
}

/// Bar length in pixels for `score` when `max` fills the bar area.
pub(super) fn bar_len(score: f64, max: f64) -> i32 {
    if max <= 0.0 {
        0
    } else {
        ((score / max).clamp(0.0, 1.0) * BAR_MAX as f64).round() as i32
    }
}

/// Renders the ranking chart; an empty ranking (or one where nobody has data) gives the
/// "Sin datos para este periodo" image.
pub fn ranking_png(chart: &RankingChart) -> Result<Png, ChartError> {
    let subtitle = format!("{} · puntuación compuesta", chart.range.label());
    let footer = chart.data_age.as_deref().map(|age| format!("datos de {age}"));
    let has_data = chart.ranked.iter().any(|r| r.totals.has_data() || score_of(r) > 0.0);
    if !has_data {
        return no_data_png(chart.title, &subtitle, footer.as_deref());
    }

    let sel = select(chart.ranked, chart.highlight);
    let rows = sel.top.len() as i32;
    let bars_bottom = BARS_TOP + rows * ROW + sel.extra.map_or(0, |_| GAP_ROW + ROW);
    let height = (bars_bottom + 24 + FOOTER) as u32;
    let max = sel
        .top
        .iter()
        .chain(sel.extra.iter())
        .map(|r| score_of(r))
        .fold(0.0, f64::max);
    let average = {
        let avg = average_score(chart.ranked);
        if avg.is_finite() { avg.max(0.0) } else { 0.0 }
    };
    let shown_note = sel.capped.then(|| {
        format!(
            "mostrando {} de {}",
            TOP_WHEN_CAPPED,
            thousands(chart.ranked.len() as i64)
        )
    });

    render(WIDTH, height, |area| {
        area.fill(&palette::BACKGROUND)?;
        draw_header(area, chart.title, &subtitle)?;

        // (agent, top of its row, highlighted)
        let mut rows: Vec<(&RankedAgent, i32, bool)> = Vec::with_capacity(sel.top.len() + 1);
        let mut y = BARS_TOP;
        for r in &sel.top {
            rows.push((r, y, chart.highlight == Some(r.agent_id)));
            y += ROW;
        }
        if let Some(r) = sel.extra {
            let style = bold(28.0, &palette::MUTED);
            area.draw_text(
                "⋮",
                &anchor(&style, HPos::Center, VPos::Center),
                (NAME_X, y + GAP_ROW / 2),
            )?;
            rows.push((r, y + GAP_ROW, true));
        }

        // Bars, then the average line over them, then the values on white so the line never
        // crosses a number.
        for &(r, y, highlighted) in &rows {
            draw_bar(area, r, y, max, highlighted)?;
        }
        draw_average(area, average, max, bars_bottom)?;
        for &(r, y, highlighted) in &rows {
            draw_value(area, r, y, max, highlighted)?;
        }
        draw_footer(area, footer.as_deref(), shown_note.as_deref())
    })
}

fn draw_bar(area: &Area, r: &RankedAgent, y: i32, max: f64, highlighted: bool) -> Result<(), ChartError> {
    let center = y + ROW / 2;
    draw_name(area, r.position, &r.name, center, highlighted)?;
    let color = if highlighted { palette::HIGHLIGHT } else { palette::BAR };
    let len = bar_len(score_of(r), max);
    let top = center - BAR_THICKNESS / 2;
    if len > 0 {
        area.draw(&Rectangle::new(
            [(BAR_X0, top), (BAR_X0 + len, top + BAR_THICKNESS)],
            color.filled(),
        ))?;
    }
    Ok(())
}

/// "#3" and the name (plain text, cut to fit before the bars), bold when highlighted.
pub(super) fn draw_name(
    area: &Area,
    position: usize,
    name: &str,
    center: i32,
    highlighted: bool,
) -> Result<(), ChartError> {
    let name_style = if highlighted {
        bold(24.0, &palette::TEXT)
    } else {
        text(24.0, &palette::TEXT)
    };
    let position_style = text(22.0, &palette::MUTED);
    area.draw_text(
        &format!("#{position}"),
        &anchor(&position_style, HPos::Left, VPos::Center),
        (POSITION_X, center),
    )?;
    let name = fit_text(area, name, &name_style, (BAR_X0 - 16 - NAME_X) as u32)?;
    area.draw_text(&name, &anchor(&name_style, HPos::Left, VPos::Center), (NAME_X, center))?;
    Ok(())
}

fn draw_value(area: &Area, r: &RankedAgent, y: i32, max: f64, highlighted: bool) -> Result<(), ChartError> {
    draw_score(
        area,
        score_of(r),
        y + ROW / 2,
        BAR_X0 + bar_len(score_of(r), max) + 10,
        highlighted,
    )
}

/// The score at `x`, on a white box so the average line never crosses the number.
pub(super) fn draw_score(area: &Area, score: f64, center: i32, x: i32, highlighted: bool) -> Result<(), ChartError> {
    let style = if highlighted {
        bold(22.0, &palette::TEXT)
    } else {
        text(22.0, &palette::TEXT)
    };
    let value = fmt_score(score);
    let (w, h) = area.estimate_text_size(&value, &style)?;
    let (w, h) = (w as i32, h as i32);
    area.draw(&Rectangle::new(
        [(x - 5, center - h / 2 - 4), (x + w + 5, center + h / 2 + 4)],
        palette::BACKGROUND.filled(),
    ))?;
    area.draw_text(&value, &anchor(&style, HPos::Left, VPos::Center), (x, center))?;
    Ok(())
}

/// The dashed vertical team-average line across the bars, labelled above them.
fn draw_average(area: &Area, average: f64, max: f64, bars_bottom: i32) -> Result<(), ChartError> {
    draw_average_from(area, average, max, BARS_TOP, bars_bottom)
}

/// The dashed team-average line from just above `bars_top` down to `bars_bottom`, labelled above.
pub(super) fn draw_average_from(
    area: &Area,
    average: f64,
    max: f64,
    bars_top: i32,
    bars_bottom: i32,
) -> Result<(), ChartError> {
    let x = BAR_X0 + bar_len(average, max);
    let (dash, gap) = (10, 7);
    let mut y = bars_top - 12;
    while y < bars_bottom {
        let end = (y + dash).min(bars_bottom);
        area.draw(&Rectangle::new([(x - 1, y), (x + 2, end)], palette::AVERAGE.filled()))?;
        y += dash + gap;
    }

    let style = bold(22.0, &palette::AVERAGE);
    let label = format!("Promedio del equipo: {}", fmt_score(average));
    let (w, _) = area.estimate_text_size(&label, &style)?;
    let left = (x - w as i32 / 2).clamp(MARGIN, WIDTH as i32 - MARGIN - w as i32);
    area.draw_text(&label, &anchor(&style, HPos::Left, VPos::Center), (left, bars_top - 32))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AgentTotals;

    fn agents(n: usize) -> Vec<RankedAgent> {
        (0..n)
            .map(|i| RankedAgent {
                position: i + 1,
                agent_id: i as AgentId + 1,
                name: format!("Agente {}", i + 1),
                score: (n - i) as f64,
                totals: AgentTotals::default(),
            })
            .collect()
    }

    #[test]
    fn small_rankings_show_every_agent() {
        let ranked = agents(MAX_BARS_UNCAPPED);
        let sel = select(&ranked, Some(25));
        assert_eq!(sel.top.len(), 25);
        assert!(sel.extra.is_none() && !sel.capped);
    }

    #[test]
    fn large_rankings_show_the_top_and_the_highlighted_agent() {
        let ranked = agents(1000);
        let sel = select(&ranked, Some(57));
        assert_eq!(sel.top.len(), TOP_WHEN_CAPPED);
        assert!(sel.capped);
        assert_eq!(sel.extra.map(|r| r.position), Some(57));
        // Highlighted agent already in the top: no extra bar.
        assert!(select(&ranked, Some(3)).extra.is_none());
        assert!(select(&ranked, None).extra.is_none());
        assert!(select(&ranked, Some(5000)).extra.is_none());
    }

    #[test]
    fn bars_are_sorted_highest_first_even_if_the_input_is_not() {
        let mut ranked = agents(5);
        ranked.reverse();
        let sel = select(&ranked, None);
        assert_eq!(sel.top[0].score, 5.0);
        assert_eq!(sel.top[4].score, 1.0);
    }

    #[test]
    fn bar_lengths_are_proportional() {
        assert_eq!(bar_len(100.0, 100.0), BAR_MAX);
        assert_eq!(bar_len(50.0, 100.0), (BAR_MAX as f64 / 2.0).round() as i32);
        assert_eq!(bar_len(10.0, 0.0), 0);
        assert_eq!(bar_len(200.0, 100.0), BAR_MAX);
    }
}

//! The shared daily line chart behind the trend and team charts: day offsets on x (labelled with
//! dates), values on the left axis, an optional secondary series on the right axis, and a legend
//! row under the title.

use chrono::{Datelike, Duration, NaiveDate};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{Area, ChartError, MARGIN, Png, WIDTH, anchor, draw_header, fmt_axis, palette, render, text};
use crate::domain::{DailyMetrics, DateRange, InstagramDaily};

pub(super) const HEIGHT: u32 = 780;
const LEGEND_Y: i32 = 158;
/// Between legend rows, when the legend wraps.
const LEGEND_ROW: i32 = 32;
const PLOT_TOP: i32 = 196;
const PLOT_BOTTOM_MARGIN: i32 = 24;

/// One value per day offset (0 = first day of the range), sorted, one point per offset.
pub(super) type Points = Vec<(i64, f64)>;

/// A daily row of either network.
pub(super) trait Dated {
    fn day(&self) -> NaiveDate;
}

impl Dated for DailyMetrics {
    fn day(&self) -> NaiveDate {
        self.date
    }
}

impl Dated for InstagramDaily {
    fn day(&self) -> NaiveDate {
        self.date
    }
}

/// `metric` of every row whose date falls in `range`, keyed by its offset from `range.from`.
/// One point per day of `range` whose value is known: a day Facebook (or Instagram) has not
/// published yet has no point (the line does not dip to a false zero).
pub(super) fn day_points<T: Dated>(days: &[T], range: DateRange, metric: impl Fn(&T) -> Option<i64>) -> Points {
    let mut points: Points = days
        .iter()
        .filter(|d| range.contains(d.day()))
        .filter_map(|d| Some(((d.day() - range.from).num_days(), metric(d)? as f64)))
        .collect();
    points.sort_by_key(|p| p.0);
    // A repeated date keeps its last row.
    points.reverse();
    points.dedup_by_key(|p| p.0);
    points.reverse();
    points
}

pub(super) struct Line {
    pub color: RGBColor,
    pub width: u32,
    /// Dots on the data points (useful on short ranges, noise on long ones).
    pub markers: bool,
    pub points: Points,
}

/// What goes on the right axis.
pub(super) enum Secondary {
    Line(Line),
    /// Bars drawn behind the lines (e.g. posts per day).
    Bars {
        color: RGBColor,
        points: Points,
    },
}

pub(super) enum Swatch {
    Line(RGBColor),
    Block(RGBColor),
}

pub(super) struct LineChartSpec<'a> {
    pub title: &'a str,
    pub subtitle: String,
    pub range: DateRange,
    /// Drawn in order, so faint overlays go first.
    pub lines: Vec<Line>,
    pub secondary: Secondary,
    pub legend: Vec<(Swatch, String)>,
}

/// Spanish date for an x offset: "05/11".
fn day_label(from: NaiveDate, offset: i64) -> String {
    (from + Duration::days(offset)).format("%d/%m").to_string()
}

/// Offsets that get a date label, at most ~9 under a 1000 px plot: every day up to ten days,
/// every other day up to twenty, weekly up to nine weeks, then the 1st and 15th of each month, then
/// the 1st of each month.
pub(super) fn tick_offsets(range: DateRange) -> Vec<i64> {
    let days = range.days().max(1);
    let every = |step: usize| (0..days).step_by(step).collect::<Vec<_>>();
    let on_days_of_month = |wanted: &[u32]| {
        let ticks: Vec<i64> = (0..days)
            .filter(|&i| wanted.contains(&(range.from + Duration::days(i)).day()))
            .collect();
        if ticks.len() >= 2 { ticks } else { every(30) }
    };
    match days {
        ..=10 => every(1),
        11..=20 => every(2),
        21..=63 => every(7),
        64..=126 => on_days_of_month(&[1, 15]),
        _ => on_days_of_month(&[1]),
    }
}

/// Top of a count axis: 12 % headroom, and at least 5 so an all-zero series still gets a sensible scale.
fn padded_max(values: impl Iterator<Item = f64>) -> f64 {
    let max = values.filter(|v| v.is_finite()).fold(0.0, f64::max);
    (max * 1.12).max(5.0)
}

/// Axis label for a count: blank between whole numbers (plotters may pick 0,5 steps on small scales).
fn count_label(v: f64) -> String {
    if (v - v.round()).abs() > 1e-6 {
        String::new()
    } else {
        fmt_axis(v)
    }
}

/// A y range around a stock like followers, which moves little: not from zero, padded, never empty.
fn padded_span(points: &Points) -> (f64, f64) {
    let (lo, hi) = points
        .iter()
        .map(|p| p.1)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.01).max(2.0);
    ((lo - pad).max(0.0), hi + pad)
}

/// Splits points into runs of consecutive days, so a missing day is a gap rather than a made-up line.
fn runs(points: &Points) -> Vec<&[(i64, f64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].0 != points[i - 1].0 + 1 {
            if start < i {
                out.push(&points[start..i]);
            }
            start = i;
        }
    }
    out
}

pub(super) fn line_chart_png(spec: &LineChartSpec) -> Result<Png, ChartError> {
    let days = spec.range.days().max(1);
    let x_range = -0.5..(days as f64 - 0.5);
    let y_max = padded_max(spec.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
    let (s_lo, s_hi) = match &spec.secondary {
        Secondary::Line(line) => padded_span(&line.points),
        Secondary::Bars { points, .. } => (0.0, padded_max(points.iter().map(|p| p.1))),
    };

    render(WIDTH, HEIGHT, |area| {
        area.fill(&palette::BACKGROUND)?;
        draw_header(area, spec.title, &spec.subtitle)?;
        let legend_rows = draw_legend(area, &spec.legend)?;
        let plot_top = PLOT_TOP + (legend_rows - 1).max(0) * LEGEND_ROW;

        let plot = area.margin(plot_top, PLOT_BOTTOM_MARGIN, MARGIN / 2, MARGIN / 2);
        let label_style = text(19.0, &palette::MUTED);
        let mut chart = ChartBuilder::on(&plot)
            .x_label_area_size(48)
            .y_label_area_size(96)
            .right_y_label_area_size(96)
            .build_cartesian_2d(x_range.clone(), 0.0..y_max)?
            .set_secondary_coord(x_range.clone(), s_lo..s_hi);

        // Our own x labels (dates) below; plotters draws the y grid and labels.
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(6)
            .y_label_formatter(&|v| count_label(*v))
            .label_style(label_style.clone())
            .bold_line_style(palette::GRID)
            .light_line_style(palette::BACKGROUND)
            .axis_style(palette::MUTED)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_labels(6)
            .y_label_formatter(&|v| count_label(*v))
            .label_style(label_style.clone())
            .axis_style(palette::MUTED)
            .draw()?;

        for offset in tick_offsets(spec.range) {
            // Backend (absolute) pixels, so drawn on the root area.
            let (px, py) = chart.backend_coord(&(offset as f64, 0.0));
            area.draw(&PathElement::new(vec![(px, py), (px, py + 6)], palette::MUTED))?;
            area.draw_text(
                &day_label(spec.range.from, offset),
                &anchor(&label_style, HPos::Center, VPos::Top),
                (px, py + 12),
            )?;
        }

        if let Secondary::Bars { color, points } = &spec.secondary {
            let half = 0.36;
            chart.draw_secondary_series(
                points
                    .iter()
                    .filter(|p| p.1 > 0.0)
                    .map(|&(x, y)| Rectangle::new([(x as f64 - half, 0.0), (x as f64 + half, y)], color.filled())),
            )?;
        }
        for line in &spec.lines {
            let style = line.color.stroke_width(line.width);
            for run in runs(&line.points) {
                chart.draw_series(LineSeries::new(run.iter().map(|&(x, y)| (x as f64, y)), style))?;
                if line.markers || run.len() == 1 {
                    chart.draw_series(
                        run.iter()
                            .map(|&(x, y)| Circle::new((x as f64, y), line.width + 2, line.color.filled())),
                    )?;
                }
            }
        }
        if let Secondary::Line(line) = &spec.secondary {
            let style = line.color.stroke_width(line.width);
            for run in runs(&line.points) {
                chart.draw_secondary_series(LineSeries::new(run.iter().map(|&(x, y)| (x as f64, y)), style))?;
                if line.markers || run.len() == 1 {
                    chart.draw_secondary_series(
                        run.iter()
                            .map(|&(x, y)| Circle::new((x as f64, y), line.width + 2, line.color.filled())),
                    )?;
                }
            }
        }
        Ok(())
    })
}

/// Draws the legend from left to right, wrapping to a new row when an item would run past the
/// right margin; returns the number of rows used.
fn draw_legend(area: &Area, items: &[(Swatch, String)]) -> Result<i32, ChartError> {
    let style = text(22.0, &palette::TEXT);
    let mut x = MARGIN;
    let mut y = LEGEND_Y;
    let mut rows = 1;
    for (swatch, label) in items {
        let width = 44 + area.estimate_text_size(label, &style)?.0 as i32;
        if x > MARGIN && x + width > WIDTH as i32 - MARGIN {
            x = MARGIN;
            y += LEGEND_ROW;
            rows += 1;
        }
        match swatch {
            Swatch::Line(c) => area.draw(&Rectangle::new([(x, y - 3), (x + 34, y + 3)], c.filled()))?,
            Swatch::Block(c) => area.draw(&Rectangle::new([(x + 6, y - 11), (x + 28, y + 11)], c.filled()))?,
        }
        area.draw_text(label, &anchor(&style, HPos::Left, VPos::Center), (x + 44, y))?;
        x += width + 30;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn row(day: u32, views: i64) -> DailyMetrics {
        DailyMetrics {
            date: d(day),
            impressions: Some(views),
            ..Default::default()
        }
    }

    #[test]
    fn points_are_offsets_in_range_sorted_and_unique() {
        let range = DateRange::new(d(10), d(16));
        let rows = [row(12, 5), row(9, 100), row(10, 1), row(17, 100), row(12, 7)];
        assert_eq!(day_points(&rows, range, |m| m.impressions), vec![(0, 1.0), (2, 7.0)]);
    }

    #[test]
    fn runs_split_at_missing_days() {
        let points = vec![(0, 1.0), (1, 1.0), (3, 1.0), (5, 1.0), (6, 1.0)];
        let lens: Vec<usize> = runs(&points).iter().map(|r| r.len()).collect();
        assert_eq!(lens, [2, 1, 2]);
        assert!(runs(&Vec::new()).is_empty());
    }

    #[test]
    fn tick_spacing_keeps_labels_readable() {
        let ending = |to: NaiveDate, days: i64| DateRange::new(to - Duration::days(days - 1), to);
        assert_eq!(tick_offsets(ending(d(26), 1)), [0]);
        assert_eq!(tick_offsets(ending(d(26), 7)), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(tick_offsets(ending(d(30), 30)), [0, 7, 14, 21, 28]);
        // Six months: the 1st of each month (Jun 1 … Nov 1 for a range starting on May 31).
        let six = ending(d(26), 180);
        assert_eq!(six.from, NaiveDate::from_ymd_opt(2026, 5, 31).unwrap());
        assert_eq!(tick_offsets(six), [1, 31, 62, 93, 123, 154]);
        assert_eq!(tick_offsets(ending(d(26), 90)).len(), 6);
    }

    #[test]
    fn count_axes_label_whole_numbers_only() {
        assert_eq!(count_label(2.0), "2");
        assert_eq!(count_label(2.5), "");
        assert_eq!(count_label(150_000.0), "150 mil");
        assert_eq!(padded_max([0.0, 0.0].into_iter()), 5.0);
        assert!((padded_max([100.0, f64::NAN].into_iter()) - 112.0).abs() < 1e-9);
    }

    #[test]
    fn follower_span_is_padded_and_never_empty() {
        assert_eq!(padded_span(&Vec::new()), (0.0, 1.0));
        let (lo, hi) = padded_span(&vec![(0, 500.0), (1, 500.0)]);
        assert!(lo < 500.0 && hi > 500.0);
    }
}

//! One agent's daily views and reach over a period, the previous period of the same length as a
//! faint overlay (aligned by day offset), and followers on the right axis; optionally the agent's
//! Instagram views and reach beside the Facebook lines.

use super::lines::{Line, LineChartSpec, Secondary, Swatch, day_points, line_chart_png};
use super::{ChartError, Png, no_data_png, palette};
use crate::domain::{DailyMetrics, DateRange, InstagramDaily};

pub struct TrendChart<'a> {
    pub title: &'a str,
    pub range: DateRange,
    pub current: &'a [DailyMetrics],
    /// The previous period of equal length (`range.previous()`), drawn faint, aligned by day offset.
    pub previous: &'a [DailyMetrics],
}

/// Markers on the points only while they are few enough to read as dots.
const MARKERS_UP_TO_DAYS: i64 = 31;

/// The Facebook trend (see [`trend_with_instagram_png`] for both networks).
pub fn trend_png(chart: &TrendChart) -> Result<Png, ChartError> {
    trend_with_instagram_png(chart, &[])
}

/// The trend with the agent's Instagram views and reach as two more lines on the same left axis
/// (`instagram`: the agent's stored Instagram days, e.g. `Store::instagram_daily(agent, range)`;
/// rows outside `chart.range` and unknown days are left out, as for Facebook). With no known
/// Instagram day in the range this is exactly [`trend_png`]. "Sin datos" only when neither network
/// has a known view in the range.
pub fn trend_with_instagram_png(chart: &TrendChart, instagram: &[InstagramDaily]) -> Result<Png, ChartError> {
    let range = chart.range;
    let previous_range = range.previous();
    let subtitle = format!("{} · comparado con {}", range.label(), previous_range.label());
    let views = day_points(chart.current, range, |d| d.impressions);
    let ig_views = day_points(instagram, range, |d| d.views);
    let ig_reach = day_points(instagram, range, |d| d.reach);
    let with_instagram = !ig_views.is_empty() || !ig_reach.is_empty();
    if (views.is_empty() && !with_instagram) || range.days() < 1 {
        return no_data_png(chart.title, &subtitle, None);
    }
    let reach = day_points(chart.current, range, |d| d.reach);
    let followers = day_points(chart.current, range, |d| d.followers);
    // Previous rows are keyed by their offset in the previous range, which lines them up day by day.
    let prev_views = day_points(chart.previous, previous_range, |d| d.impressions);
    let prev_reach = day_points(chart.previous, previous_range, |d| d.reach);
    let markers = range.days() <= MARKERS_UP_TO_DAYS;

    // With both networks each line says which one it is.
    let fb = if with_instagram { " Facebook" } else { "" };
    let mut legend = vec![
        (Swatch::Line(palette::VIEWS), format!("Vistas{fb}")),
        (Swatch::Line(palette::REACH), format!("Alcance{fb}")),
        (Swatch::Line(palette::FOLLOWERS), format!("Seguidores{fb} (eje der.)")),
    ];
    if with_instagram {
        legend.push((Swatch::Line(palette::INSTAGRAM), "Vistas Instagram".to_string()));
        legend.push((Swatch::Line(palette::INSTAGRAM_REACH), "Alcance Instagram".to_string()));
    }
    if !prev_views.is_empty() {
        legend.push((
            Swatch::Line(palette::faint(palette::VIEWS, 60)),
            "periodo anterior".to_string(),
        ));
    }
    let mut lines = vec![
        Line {
            color: palette::faint(palette::VIEWS, 60),
            width: 2,
            markers: false,
            points: prev_views,
        },
        Line {
            color: palette::faint(palette::REACH, 60),
            width: 2,
            markers: false,
            points: prev_reach,
        },
        Line {
            color: palette::VIEWS,
            width: 4,
            markers,
            points: views,
        },
        Line {
            color: palette::REACH,
            width: 4,
            markers,
            points: reach,
        },
    ];
    if with_instagram {
        lines.push(Line {
            color: palette::INSTAGRAM,
            width: 3,
            markers,
            points: ig_views,
        });
        lines.push(Line {
            color: palette::INSTAGRAM_REACH,
            width: 3,
            markers,
            points: ig_reach,
        });
    }
    let spec = LineChartSpec {
        title: chart.title,
        subtitle,
        range,
        lines,
        secondary: Secondary::Line(Line {
            color: palette::FOLLOWERS,
            width: 3,
            markers: false,
            points: followers,
        }),
        legend,
    };
    line_chart_png(&spec)
}

//! One agent's daily views and reach over a period, the previous period of the same length as a
//! faint overlay (aligned by day offset), and followers on the right axis.

use super::lines::{Line, LineChartSpec, Secondary, Swatch, day_points, line_chart_png};
use super::{ChartError, Png, no_data_png, palette};
use crate::domain::{DailyMetrics, DateRange};

pub struct TrendChart<'a> {
    pub title: &'a str,
    pub range: DateRange,
    pub current: &'a [DailyMetrics],
    /// The previous period of equal length (`range.previous()`), drawn faint, aligned by day offset.
    pub previous: &'a [DailyMetrics],
}

/// Markers on the points only while they are few enough to read as dots.
const MARKERS_UP_TO_DAYS: i64 = 31;

pub fn trend_png(chart: &TrendChart) -> Result<Png, ChartError> {
    let range = chart.range;
    let previous_range = range.previous();
    let subtitle = format!("{} · comparado con {}", range.label(), previous_range.label());
    let views = day_points(chart.current, range, |d| d.impressions);
    if views.is_empty() || range.days() < 1 {
        return no_data_png(chart.title, &subtitle, None);
    }
    let reach = day_points(chart.current, range, |d| d.reach);
    let followers = day_points(chart.current, range, |d| d.followers);
    // Previous rows are keyed by their offset in the previous range, which lines them up day by day.
    let prev_views = day_points(chart.previous, previous_range, |d| d.impressions);
    let prev_reach = day_points(chart.previous, previous_range, |d| d.reach);
    let markers = range.days() <= MARKERS_UP_TO_DAYS;

    let mut legend = vec![
        (Swatch::Line(palette::VIEWS), "Vistas".to_string()),
        (Swatch::Line(palette::REACH), "Alcance".to_string()),
        (Swatch::Line(palette::FOLLOWERS), "Seguidores (eje der.)".to_string()),
    ];
    if !prev_views.is_empty() {
        legend.push((
            Swatch::Line(palette::faint(palette::VIEWS, 60)),
            "periodo anterior".to_string(),
        ));
    }
    let spec = LineChartSpec {
        title: chart.title,
        subtitle,
        range,
        lines: vec![
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
        ],
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

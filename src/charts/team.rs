//! The office's totals per day: views and reach as lines, posts as bars on the right axis.

use super::lines::{Line, LineChartSpec, Secondary, Swatch, day_points, line_chart_png};
use super::{ChartError, Png, no_data_png, palette};
use crate::domain::{DailyMetrics, DateRange};

pub struct TeamChart<'a> {
    pub title: &'a str,
    pub range: DateRange,
    /// Team totals per day (one row per date).
    pub daily: &'a [DailyMetrics],
}

pub fn team_png(chart: &TeamChart) -> Result<Png, ChartError> {
    let range = chart.range;
    let subtitle = format!("{} · totales del equipo por día", range.label());
    let views = day_points(chart.daily, range, |d| d.impressions);
    if views.is_empty() || range.days() < 1 {
        return no_data_png(chart.title, &subtitle, None);
    }
    let markers = range.days() <= 31;
    let spec = LineChartSpec {
        title: chart.title,
        subtitle,
        range,
        lines: vec![
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
                points: day_points(chart.daily, range, |d| d.reach),
            },
        ],
        secondary: Secondary::Bars {
            color: palette::POSTS,
            points: day_points(chart.daily, range, |d| Some(d.posts)),
        },
        legend: vec![
            (Swatch::Line(palette::VIEWS), "Vistas".to_string()),
            (Swatch::Line(palette::REACH), "Alcance".to_string()),
            (Swatch::Block(palette::POSTS), "Publicaciones (eje der.)".to_string()),
        ],
    };
    line_chart_png(&spec)
}

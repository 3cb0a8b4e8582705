//! The office's totals per day: views and reach as lines, posts as bars on the right axis;
//! optionally the team's Instagram views and reach as two more lines.

use super::lines::{Line, LineChartSpec, Secondary, Swatch, day_points, line_chart_png};
use super::{ChartError, Png, no_data_png, palette};
use crate::domain::{DailyMetrics, DateRange, InstagramDaily};

pub struct TeamChart<'a> {
    pub title: &'a str,
    pub range: DateRange,
    /// Team totals per day (one row per date).
    pub daily: &'a [DailyMetrics],
}

/// The Facebook team chart (see [`team_with_instagram_png`] for both networks).
pub fn team_png(chart: &TeamChart) -> Result<Png, ChartError> {
    team_with_instagram_png(chart, &[])
}

/// The team chart with the team's Instagram views and reach per day as two more lines
/// (`instagram`: e.g. `Store::team_instagram_daily(range)`; unknown days left out). With no known
/// Instagram day it is exactly [`team_png`].
pub fn team_with_instagram_png(chart: &TeamChart, instagram: &[InstagramDaily]) -> Result<Png, ChartError> {
    let range = chart.range;
    let subtitle = format!("{} · totales del equipo por día", range.label());
    let views = day_points(chart.daily, range, |d| d.impressions);
    let ig_views = day_points(instagram, range, |d| d.views);
    let ig_reach = day_points(instagram, range, |d| d.reach);
    let with_instagram = !ig_views.is_empty() || !ig_reach.is_empty();
    if (views.is_empty() && !with_instagram) || range.days() < 1 {
        return no_data_png(chart.title, &subtitle, None);
    }
    let markers = range.days() <= 31;
    let fb = if with_instagram { " Facebook" } else { "" };
    let mut legend = vec![
        (Swatch::Line(palette::VIEWS), format!("Vistas{fb}")),
        (Swatch::Line(palette::REACH), format!("Alcance{fb}")),
    ];
    if with_instagram {
        legend.push((Swatch::Line(palette::INSTAGRAM), "Vistas Instagram".to_string()));
        legend.push((Swatch::Line(palette::INSTAGRAM_REACH), "Alcance Instagram".to_string()));
    }
    legend.push((Swatch::Block(palette::POSTS), format!("Publicaciones{fb} (eje der.)")));
    let mut lines = vec![
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
    ];
    if with_instagram {
        for (color, points) in [(palette::INSTAGRAM, ig_views), (palette::INSTAGRAM_REACH, ig_reach)] {
            lines.push(Line {
                color,
                width: 3,
                markers,
                points,
            });
        }
    }
    let spec = LineChartSpec {
        title: chart.title,
        subtitle,
        range,
        lines,
        secondary: Secondary::Bars {
            color: palette::POSTS,
            points: day_points(chart.daily, range, |d| Some(d.posts)),
        },
        legend,
    };
    line_chart_png(&spec)
}

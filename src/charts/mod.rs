//! PNG charts for chat replies, drawn with plotters into an in-memory RGB buffer and encoded with
//! the `image` crate. Rendering is synchronous and CPU-bound: async callers go through
//! [`render_off_runtime`] so a chart never blocks a tokio worker thread.
//!
//! Every chart is 1080 px wide (a phone screen at full resolution, well within Telegram's photo
//! limits); text is Spanish and drawn with the embedded DejaVu Sans (see `font.rs`). Empty inputs
//! give a "Sin datos para este periodo" image instead of an error, so the chat layer always has
//! something to send.

mod font;
mod lines;
mod ranking;
mod stacked;
mod team;
mod trend;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

pub use ranking::{MAX_BARS_UNCAPPED, RankingChart, TOP_WHEN_CAPPED, ranking_png};
pub use stacked::{
    HIGHLIGHT_FRAME, STACKED_BARS_TOP, StackedAgent, StackedBar, StackedLayout, StackedRankingChart, ranking_stacked,
    stacked_from_ranked, stacked_layout,
};
pub use team::{TeamChart, team_png, team_with_instagram_png};
pub use trend::{TrendChart, trend_png, trend_with_instagram_png};

/// An encoded PNG image, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Png(pub Vec<u8>);

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the embedded chart font could not be registered")]
    Font,
    #[error("drawing the chart failed: {0}")]
    Draw(String),
    #[error("encoding the chart as PNG failed: {0}")]
    Encode(String),
    #[error("chart rendering panicked: {0}")]
    Panicked(String),
    #[error("the chart rendering task did not finish: {0}")]
    Task(String),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// Runs a chart function on tokio's blocking pool and waits for it, so rendering never occupies an
/// async worker thread. A panic inside `f` comes back as [`ChartError::Task`].
pub async fn render_off_runtime<F>(f: F) -> Result<Png, ChartError>
where
    F: FnOnce() -> Result<Png, ChartError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ChartError::Task(e.to_string()))?
}

/// Colours shared by the charts. Bars are flat fills (no anti-aliasing), so tests can find them by
/// exact colour.
pub mod palette {
    use plotters::style::RGBColor;

    pub const BACKGROUND: RGBColor = RGBColor(255, 255, 255);
    /// Titles, names and values.
    pub const TEXT: RGBColor = RGBColor(33, 37, 41);
    /// Subtitles, footers, axis labels.
    pub const MUTED: RGBColor = RGBColor(108, 117, 125);
    pub const GRID: RGBColor = RGBColor(226, 230, 234);
    /// Ranking bars.
    pub const BAR: RGBColor = RGBColor(66, 110, 186);
    /// The caller's own ranking bar.
    pub const HIGHLIGHT: RGBColor = RGBColor(240, 140, 0);
    /// The dashed team-average line and its label.
    pub const AVERAGE: RGBColor = RGBColor(200, 35, 51);
    /// Views (impressions) lines.
    pub const VIEWS: RGBColor = RGBColor(66, 110, 186);
    /// Reach lines.
    pub const REACH: RGBColor = RGBColor(25, 135, 84);
    /// Followers line (secondary axis).
    pub const FOLLOWERS: RGBColor = RGBColor(111, 66, 193);
    /// Posts bars in the team chart.
    pub const POSTS: RGBColor = RGBColor(206, 212, 218);
    /// The Facebook segment of the two-network ranking (the single-network bar colour).
    pub const FACEBOOK: RGBColor = BAR;
    /// The Instagram segment of the two-network ranking, and Instagram views lines.
    pub const INSTAGRAM: RGBColor = RGBColor(193, 53, 132);
    /// Instagram reach lines.
    pub const INSTAGRAM_REACH: RGBColor = RGBColor(232, 93, 40);

    /// `c` mixed with white, for faint overlays (`amount_pct` 0 = `c`, 100 = white).
    pub const fn faint(c: RGBColor, amount_pct: u16) -> RGBColor {
        const fn mix(v: u8, pct: u16) -> u8 {
            (v as u16 + (255 - v as u16) * pct / 100) as u8
        }
        RGBColor(mix(c.0, amount_pct), mix(c.1, amount_pct), mix(c.2, amount_pct))
    }
}

/// Width of every chart, in pixels.
pub const WIDTH: u32 = 1080;
/// Horizontal margin of text and plots.
const MARGIN: i32 = 40;
/// Bottom of the title and subtitle block.
const HEADER_BOTTOM: i32 = 130;
/// The message of the empty-data image.
pub const NO_DATA: &str = "Sin datos para este periodo";

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Draws on a fresh white `width`×`height` canvas and encodes it. Panics inside plotters become
/// [`ChartError::Panicked`] rather than taking a chat handler down.
fn render(width: u32, height: u32, draw: impl FnOnce(&Area) -> Result<(), ChartError>) -> Result<Png, ChartError> {
    font::ensure_registered()?;
    let mut buf = vec![255u8; width as usize * height as usize * 3];
    let drawn = catch_unwind(AssertUnwindSafe(|| -> Result<(), ChartError> {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root)?;
        root.present()?;
        Ok(())
    }));
    match drawn {
        Ok(result) => result?,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            return Err(ChartError::Panicked(msg));
        }
    }
    encode_png(&buf, width, height)
}

/// Encodes an RGB buffer. Fast deflate: these images are mostly flat colour, so a higher level
/// buys a few KB for several times the CPU.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Png, ChartError> {
    let mut out = Vec::with_capacity(rgb.len() / 16);
    PngEncoder::new_with_quality(Cursor::new(&mut out), CompressionType::Fast, FilterType::Adaptive)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| ChartError::Encode(e.to_string()))?;
    Ok(Png(out))
}

fn text(size: f64, color: &'static RGBColor) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size).into_font()).color(color)
}

fn bold(size: f64, color: &'static RGBColor) -> TextStyle<'static> {
    TextStyle::from((font::FAMILY, size, FontStyle::Bold).into_font()).color(color)
}

fn anchor<'a>(style: &TextStyle<'a>, h: HPos, v: VPos) -> TextStyle<'a> {
    style.pos(Pos::new(h, v))
}

/// Removes characters that would draw as boxes or break the layout (control characters, line
/// breaks), collapsing whitespace.
fn clean_label(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` as drawn in `style`, truncated with "…" so it fits in `max_width` pixels.
fn fit_text(area: &Area, s: &str, style: &TextStyle, max_width: u32) -> Result<String, ChartError> {
    let s = clean_label(s);
    if area.estimate_text_size(&s, style)?.0 <= max_width {
        return Ok(s);
    }
    let chars: Vec<char> = s.chars().collect();
    // Longest prefix that still fits with the ellipsis (binary search: at most ~7 measurements).
    let (mut lo, mut hi) = (0usize, chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let candidate: String = chars[..mid].iter().collect::<String>().trim_end().to_string() + "…";
        if area.estimate_text_size(&candidate, style)?.0 <= max_width {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(chars[..lo].iter().collect::<String>().trim_end().to_string() + "…")
}

/// Draws the bold title and the muted subtitle; returns the y just below them.
fn draw_header(area: &Area, title: &str, subtitle: &str) -> Result<i32, ChartError> {
    let max = WIDTH - 2 * MARGIN as u32;
    let title_style = bold(40.0, &palette::TEXT);
    let title = fit_text(area, title, &title_style, max)?;
    area.draw_text(&title, &anchor(&title_style, HPos::Left, VPos::Top), (MARGIN, 28))?;
    let sub_style = text(24.0, &palette::MUTED);
    let subtitle = fit_text(area, subtitle, &sub_style, max)?;
    area.draw_text(&subtitle, &anchor(&sub_style, HPos::Left, VPos::Top), (MARGIN, 84))?;
    Ok(HEADER_BOTTOM)
}

/// Muted footer text at the bottom-left (and optionally bottom-right) of the image.
fn draw_footer(area: &Area, left: Option<&str>, right: Option<&str>) -> Result<(), ChartError> {
    let (_, h) = area.dim_in_pixel();
    let y = h as i32 - 36;
    let style = text(22.0, &palette::MUTED);
    let half = WIDTH / 2 - MARGIN as u32;
    if let Some(left) = left {
        let left = fit_text(area, left, &style, half)?;
        area.draw_text(&left, &anchor(&style, HPos::Left, VPos::Center), (MARGIN, y))?;
    }
    if let Some(right) = right {
        let right = fit_text(area, right, &style, half)?;
        area.draw_text(
            &right,
            &anchor(&style, HPos::Right, VPos::Center),
            (WIDTH as i32 - MARGIN, y),
        )?;
    }
    Ok(())
}

/// The image sent when there is nothing to plot: title, subtitle and "Sin datos para este periodo".
fn no_data_png(title: &str, subtitle: &str, footer: Option<&str>) -> Result<Png, ChartError> {
    render(WIDTH, 540, |area| {
        area.fill(&palette::BACKGROUND)?;
        let top = draw_header(area, title, subtitle)?;
        area.draw(&Rectangle::new(
            [(MARGIN, top + 20), (WIDTH as i32 - MARGIN, 540 - 90)],
            ShapeStyle::from(&palette::GRID).stroke_width(2),
        ))?;
        let style = bold(34.0, &palette::MUTED);
        area.draw_text(
            NO_DATA,
            &anchor(&style, HPos::Center, VPos::Center),
            (WIDTH as i32 / 2, (top + 20 + 540 - 90) / 2),
        )?;
        draw_footer(area, footer, None)
    })
}

/// Groups thousands with a dot, Spanish style (the cards' formatting), for the charts.
pub(crate) use crate::domain::thousands;

/// One decimal with a comma: 1234.56 → "1.234,6"; whole numbers drop the decimal: 50.0 → "50".
pub(crate) fn fmt_score(x: f64) -> String {
    let x = if x.is_finite() { x } else { 0.0 };
    let tenths = (x * 10.0).round() as i64;
    let whole = thousands(tenths / 10);
    let frac = (tenths % 10).abs();
    let sign = if tenths < 0 && tenths / 10 == 0 { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole},{frac}")
    }
}

/// Short axis labels: 950 → "950", 12.000 → "12.000", 150.000 → "150 mil", 2.300.000 → "2,3 M".
pub(crate) fn fmt_axis(x: f64) -> String {
    let a = x.abs();
    if a >= 1_000_000.0 {
        format!("{} M", fmt_score(x / 1_000_000.0))
    } else if a >= 100_000.0 {
        format!("{} mil", fmt_score(x / 1000.0))
    } else {
        thousands(x.round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1.000");
        assert_eq!(thousands(-1234567), "-1.234.567");
        assert_eq!(fmt_score(50.0), "50");
        assert_eq!(fmt_score(1234.56), "1.234,6");
        assert_eq!(fmt_score(0.04), "0");
        assert_eq!(fmt_score(-0.5), "-0,5");
        assert_eq!(fmt_score(f64::NAN), "0");
        assert_eq!(fmt_axis(12_000.0), "12.000");
        assert_eq!(fmt_axis(150_000.0), "150 mil");
        assert_eq!(fmt_axis(2_300_000.0), "2,3 M");
    }

    #[test]
    fn labels_lose_control_characters() {
        assert_eq!(clean_label(" Ana\n\tMaría  "), "Ana María");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis_to_fit() {
        font::ensure_registered().unwrap();
        let mut buf = vec![0u8; 200 * 50 * 3];
        let area = BitMapBackend::with_buffer(&mut buf, (200, 50)).into_drawing_area();
        let style = text(24.0, &palette::TEXT);
        let long = "María Fernández Ibáñez ".repeat(4);
        let fitted = fit_text(&area, &long, &style, 300).unwrap();
        assert!(fitted.ends_with('…'), "{fitted}");
        assert!(area.estimate_text_size(&fitted, &style).unwrap().0 <= 300);
        assert!(fitted.starts_with("María Fernández"));
        assert_eq!(fit_text(&area, "Ana", &style, 300).unwrap(), "Ana");
    }

    #[test]
    fn faint_mixes_towards_white() {
        assert_eq!(palette::faint(RGBColor(0, 100, 255), 50), RGBColor(127, 177, 255));
    }
}

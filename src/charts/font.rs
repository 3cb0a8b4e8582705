//! The one place that knows about fonts. plotters draws text with `ab_glyph` (the `ttf` feature is
//! off on purpose: it would pull fontconfig and silently use system fonts), so the fonts are
//! embedded in the binary and registered once, under the family plotters uses by default.

use std::sync::OnceLock;

use plotters::style::{FontFamily, FontStyle, register_font};

use super::ChartError;

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu.txt`): covers á é í ó ú ü ñ ¿ ¡ – …
static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The family every chart asks for. Registering under plotters' default name means that text
/// plotters styles by itself (axis labels) finds the embedded font too.
pub(crate) const FAMILY: FontFamily<'static> = FontFamily::SansSerif;

/// Registers the embedded fonts the first time it is called; later calls only read the outcome.
pub(crate) fn ensure_registered() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        let family = FAMILY.as_str();
        register_font(family, FontStyle::Normal, REGULAR).is_ok()
            && register_font(family, FontStyle::Bold, BOLD).is_ok()
    });
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_fonts_register_and_stay_registered() {
        ensure_registered().unwrap();
        ensure_registered().unwrap();
    }

    /// A missing glyph draws nothing, silently: check every character the charts print, plus the
    /// Spanish letters names use.
    #[test]
    fn embedded_fonts_cover_spanish_and_our_symbols() {
        use ab_glyph::{Font, FontRef};
        let needed = "áéíóúüñÁÉÍÓÚÜÑ¿¡·–…⋮#«»°%0123456789,.:;()abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for bytes in [REGULAR, BOLD] {
            let font = FontRef::try_from_slice(bytes).unwrap();
            let missing: String = needed.chars().filter(|&c| font.glyph_id(c).0 == 0).collect();
            assert!(missing.is_empty(), "missing glyphs: {missing}");
        }
    }
}

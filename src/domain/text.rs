//! Outside text (agent names, Page names, post excerpts, chat display names) made into data, and
//! names compared the Spanish way. Pure functions: no I/O.
//!
//! pulso's replies carry private-use characters as bold markers (see `chat::text`); text that
//! comes from outside must never contain them, nor control or bidi-override characters that
//! could reorder or hide what a person reads. [`outside_line`] is applied where such text enters
//! pulso (Facebook parsing, agent import, chat identities), so the store only ever holds data.

use std::cmp::Ordering;

/// Characters removed from outside text: private-use (the renderer's markers live there), bidi
/// overrides and isolates, and directional marks.
fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{E000}'..='\u{F8FF}'
        | '\u{F0000}'..='\u{FFFFD}'
        | '\u{100000}'..='\u{10FFFD}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}'
    )
}

/// Outside text with its line breaks kept: forbidden characters removed, tabs and carriage
/// returns as spaces, every other control character removed.
pub fn outside_text(s: &str) -> String {
    s.chars()
        .filter(|c| !is_forbidden(*c))
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// Outside text on one line (names, excerpts): [`outside_text`] with every run of whitespace,
/// line breaks included, as one space, and no leading or trailing space.
pub fn outside_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in outside_text(s).split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Characters of a post or media excerpt shown in a chat list.
pub const CHAT_EXCERPT_CHARS: usize = 40;

/// A stored excerpt as it appears in a chat list: «one line, cut to [`CHAT_EXCERPT_CHARS`] with
/// "…"», mentions defused (a zero-width space after `@` keeps "@everyone" or "<@123>" from pinging
/// on Discord), or "(sin texto)" when there is none.
pub fn chat_excerpt(s: &str) -> String {
    let line = outside_line(s);
    if line.is_empty() {
        return "(sin texto)".to_string();
    }
    let mut cut: String = line.chars().take(CHAT_EXCERPT_CHARS).collect();
    if line.chars().count() > CHAT_EXCERPT_CHARS {
        cut = cut.trim_end().to_string() + "…";
    }
    format!("«{}»", cut.replace('@', "@\u{200b}"))
}

/// The letter a character sorts as in Spanish: accents fold to the base letter (`Á` → `a`,
/// `ü` → `u`), `ñ` is its own letter right after `n`. Returned as a number so that `ñ` fits
/// between `n` and `o`.
fn primary(c: char) -> u32 {
    let base = match c {
        'á' | 'à' | 'ä' | 'â' | 'ã' | 'å' | 'Á' | 'À' | 'Ä' | 'Â' | 'Ã' | 'Å' => 'a',
        'é' | 'è' | 'ë' | 'ê' | 'É' | 'È' | 'Ë' | 'Ê' => 'e',
        'í' | 'ì' | 'ï' | 'î' | 'Í' | 'Ì' | 'Ï' | 'Î' => 'i',
        'ó' | 'ò' | 'ö' | 'ô' | 'õ' | 'Ó' | 'Ò' | 'Ö' | 'Ô' | 'Õ' => 'o',
        'ú' | 'ù' | 'ü' | 'û' | 'Ú' | 'Ù' | 'Ü' | 'Û' => 'u',
        'ç' | 'Ç' => 'c',
        'ý' | 'ÿ' | 'Ý' => 'y',
        'ñ' | 'Ñ' => return u32::from('n') * 2 + 1,
        c => c.to_lowercase().next().unwrap_or(c),
    };
    u32::from(base) * 2
}

/// Sort key of a name in Spanish alphabetical order (see [`spanish_cmp`]).
pub fn spanish_key(name: &str) -> (Vec<u32>, String) {
    let words = name.split_whitespace().collect::<Vec<_>>().join(" ");
    (words.chars().map(primary).collect(), words)
}

/// Compares two names as a Spanish reader expects: case and accents ignored first ("Ángel"
/// next to "Angélica", not after "Zoe"), `ñ` after `n` ("Nuñez" after "Nuzo"); names equal that
/// way are ordered by their exact text so the order is total and stable.
pub fn spanish_cmp(a: &str, b: &str) -> Ordering {
    spanish_key(a).cmp(&spanish_key(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_loses_markers_controls_and_bidi() {
        let hostile = "Ana\u{E000} <b>&*_\u{0007}\u{202E}x\u{E001}\ny\tz";
        assert_eq!(outside_text(hostile), "Ana <b>&*_x\ny z");
        assert_eq!(outside_line(hostile), "Ana <b>&*_x y z");
        assert_eq!(outside_line("  José \u{0000}  Núñez\r\n"), "José Núñez");
        // Emoji sequences (zero-width joiners) are text, not markup.
        assert_eq!(
            outside_line("Casa 👨\u{200D}👩\u{200D}👧"),
            "Casa 👨\u{200D}👩\u{200D}👧"
        );
    }

    #[test]
    fn names_sort_the_spanish_way() {
        let mut names = vec![
            "Zoe Ortiz",
            "Íñigo Castañeda",
            "Ángel Muñoz",
            "Ana Nuñez",
            "Ana Nuzo",
            "Ana Ñandú",
            "angel muñoz",
            "Beto Ruiz",
            "Ana Núñez",
        ];
        names.sort_by(|a, b| spanish_cmp(a, b));
        assert_eq!(
            names,
            [
                "Ana Nuñez",
                "Ana Núñez",
                "Ana Nuzo",
                "Ana Ñandú",
                "angel muñoz",
                "Ángel Muñoz",
                "Beto Ruiz",
                "Íñigo Castañeda",
                "Zoe Ortiz",
            ]
        );
    }
}

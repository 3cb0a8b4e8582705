//! Reply text: plain Spanish with one marker pair for bold, rendered by each adapter. Markers are
//! private-use characters, so nothing a user types (agent names, post excerpts) can forge them:
//! outside text is cleaned where it enters pulso ([`crate::domain::outside_line`]) and again by
//! [`plain`] before it goes into a reply; the renderers never emit an unbalanced span either.

use crate::domain::{outside_line, outside_text};

/// Start of a bold span.
pub const BOLD_START: char = '\u{E000}';
/// End of a bold span.
pub const BOLD_END: char = '\u{E001}';

/// `s` in bold, on one line (a span never crosses a line, so chunks never split one).
pub fn bold(s: &str) -> String {
    format!("{BOLD_START}{}{BOLD_END}", outside_line(s))
}

/// Outside text made safe to embed: markers and other private-use characters, bidi overrides and
/// control characters removed; line breaks are kept, so a multi-line text stays multi-line.
pub fn plain(s: &str) -> String {
    outside_text(s)
}

/// Console (and normalised comparison): markers removed.
pub fn to_console(s: &str) -> String {
    s.chars().filter(|c| *c != BOLD_START && *c != BOLD_END).collect()
}

/// Renders marker text: `open`/`close` for well-nested bold spans (a stray end marker is dropped,
/// a span left open is closed at the end), every other character through `escape`.
fn render(s: &str, open: &str, close: &str, escape: impl Fn(char, &mut String)) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    let mut in_bold = false;
    for c in s.chars() {
        match c {
            BOLD_START if !in_bold => {
                out.push_str(open);
                in_bold = true;
            }
            BOLD_END if in_bold => {
                out.push_str(close);
                in_bold = false;
            }
            BOLD_START | BOLD_END => {}
            c => escape(c, &mut out),
        }
    }
    if in_bold {
        out.push_str(close);
    }
    out
}

/// Telegram `parse_mode=HTML`: `&`, `<`, `>` escaped, bold as `<b>`.
pub fn to_telegram_html(s: &str) -> String {
    render(s, "<b>", "</b>", |c, out| match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    })
}

/// Discord markdown: markdown characters escaped with `\`, mentions defused, bold as `**`.
pub fn to_discord_markdown(s: &str) -> String {
    render(s, "**", "**", |c, out| match c {
        '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' => {
            out.push('\\');
            out.push(c);
        }
        '@' => out.push_str("@\u{200b}"),
        '<' => out.push_str("<\u{200b}"),
        c => out.push(c),
    })
}

/// Splits marker text (before rendering) into chunks of at most `max` characters, at line breaks
/// when possible. Lines break between bold spans ([`bold`] keeps a span on one line); a line
/// longer than `max` is cut by characters, and a span it cuts is closed at the end of one piece
/// and reopened at the start of the next, so every chunk renders balanced.
pub fn split_chunks(s: &str, max: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in s.split('\n') {
        let line_len = line.chars().count();
        if current_len > 0 && current_len + 1 + line_len > max {
            chunks.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if line_len > max {
            // A single huge line: cut it by characters, leaving room to close and reopen a span.
            let chars: Vec<char> = line.chars().collect();
            let mut in_bold = false;
            for piece in chars.chunks(max.saturating_sub(2).max(1)) {
                if current_len > 0 {
                    chunks.push(std::mem::take(&mut current));
                }
                current = String::new();
                if in_bold {
                    current.push(BOLD_START);
                }
                for &c in piece {
                    match c {
                        BOLD_START => in_bold = true,
                        BOLD_END => in_bold = false,
                        _ => {}
                    }
                    current.push(c);
                }
                if in_bold {
                    current.push(BOLD_END);
                }
                current_len = current.chars().count();
            }
            continue;
        }
        if current_len > 0 {
            current.push('\n');
            current_len += 1;
        }
        current.push_str(line);
        current_len += line_len;
    }
    if !current.is_empty() || chunks.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_cannot_forge_markers() {
        let name = format!("Ana{BOLD_START}<script>");
        let line = format!("{} · {}", bold("Ranking"), plain(&name));
        assert_eq!(to_telegram_html(&line), "<b>Ranking</b> · Ana&lt;script&gt;");
        assert_eq!(to_console(&line), "Ranking · Ana<script>");
        assert_eq!(
            to_discord_markdown("**x** @everyone"),
            "\\*\\*x\\*\\* @\u{200b}everyone"
        );
    }

    #[test]
    fn unbalanced_markers_never_reach_the_markup() {
        let s = format!("a{BOLD_END}b{BOLD_START}c");
        assert_eq!(to_telegram_html(&s), "ab<b>c</b>");
        assert_eq!(to_discord_markdown(&s), "ab**c**");
        assert_eq!(plain("uno\ndos\u{E000}"), "uno\ndos");
    }

    #[test]
    fn chunks_respect_the_limit() {
        let text = (0..100).map(|i| format!("línea {i}")).collect::<Vec<_>>().join("\n");
        let chunks = split_chunks(&text, 50);
        assert!(chunks.iter().all(|c| c.chars().count() <= 50));
        assert_eq!(chunks.join("\n"), text);
        let huge = "x".repeat(120);
        assert_eq!(split_chunks(&huge, 50).len(), 3);
        // A bold span cut by a huge line is closed and reopened: every chunk renders balanced.
        let long_bold = format!("{BOLD_START}{}{BOLD_END}", "y".repeat(120));
        let chunks = split_chunks(&long_bold, 50);
        assert!(chunks.iter().all(|c| c.chars().count() <= 50));
        for c in &chunks {
            let html = to_telegram_html(c);
            assert!(html.starts_with("<b>") && html.ends_with("</b>"), "{html}");
        }
        assert_eq!(to_console(&chunks.concat()), "y".repeat(120));
    }
}

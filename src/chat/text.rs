//! Reply text: plain Spanish with one marker pair for bold, rendered by each adapter. Markers are
//! private-use characters, so nothing a user types (agent names, post excerpts) can forge them:
//! [`plain`] strips them from any outside text before it goes into a reply.

/// Start of a bold span.
pub const BOLD_START: char = '\u{E000}';
/// End of a bold span.
pub const BOLD_END: char = '\u{E001}';

/// `s` in bold.
pub fn bold(s: &str) -> String {
    format!("{BOLD_START}{}{BOLD_END}", plain(s))
}

/// Outside text made safe to embed: markers and other private-use characters removed, bidi
/// overrides removed, control characters (newlines too) turned into spaces: one line.
pub fn plain(s: &str) -> String {
    s.chars()
        .filter(|c| {
            !matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Console (and normalised comparison): markers removed.
pub fn to_console(s: &str) -> String {
    s.chars().filter(|c| *c != BOLD_START && *c != BOLD_END).collect()
}

/// Telegram `parse_mode=HTML`: `&`, `<`, `>` escaped, bold as `<b>`.
pub fn to_telegram_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            BOLD_START => out.push_str("<b>"),
            BOLD_END => out.push_str("</b>"),
            c => out.push(c),
        }
    }
    out
}

/// Discord markdown: markdown characters escaped with `\`, mentions defused, bold as `**`.
pub fn to_discord_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' => {
                out.push('\\');
                out.push(c);
            }
            '@' => out.push_str("@\u{200b}"),
            '<' => out.push_str("<\u{200b}"),
            BOLD_START | BOLD_END => out.push_str("**"),
            c => out.push(c),
        }
    }
    out
}

/// Splits rendered text into chunks of at most `max` characters, at line breaks when possible. A
/// chunk never ends inside a `<b>…</b>` or `**…**` span because spans never cross a line.
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
            // A single huge line: cut it by characters.
            let chars: Vec<char> = line.chars().collect();
            for piece in chars.chunks(max) {
                if current_len > 0 {
                    chunks.push(std::mem::take(&mut current));
                }
                current = piece.iter().collect();
                current_len = piece.len();
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
    fn chunks_respect_the_limit() {
        let text = (0..100).map(|i| format!("línea {i}")).collect::<Vec<_>>().join("\n");
        let chunks = split_chunks(&text, 50);
        assert!(chunks.iter().all(|c| c.chars().count() <= 50));
        assert_eq!(chunks.join("\n"), text);
        let huge = "x".repeat(120);
        assert_eq!(split_chunks(&huge, 50).len(), 3);
    }
}

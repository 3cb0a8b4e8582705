//! Markup checkers the fakes apply to everything pulso sends: Telegram's HTML parse mode as the Bot
//! API documents it, and the Discord markdown pulso means to write. Each returns the text a person
//! reads, or the error the platform would give.

/// Tags Telegram accepts in `parse_mode=HTML` (Bot API, "HTML style").
const TELEGRAM_TAGS: [&str; 15] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
];

/// Parses Telegram HTML: only the allowed tags, properly nested and closed; `<`, `>`, `&` outside
/// tags only as entities; named entities only `&lt; &gt; &amp; &quot;` (numeric ones are fine).
/// Errors are worded like Telegram's "Bad Request: can't parse entities: …" descriptions.
pub fn parse_telegram_html(html: &str) -> Result<String, String> {
    let fail = |why: String| Err(format!("Bad Request: can't parse entities: {why}"));
    let chars: Vec<char> = html.chars().collect();
    let mut out = String::new();
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let offset = chars[..i].iter().map(|c| c.len_utf16()).sum::<usize>();
        match chars[i] {
            '<' => {
                let Some(end) = chars[i..].iter().position(|&c| c == '>') else {
                    return fail(format!("Unclosed start tag at byte offset {offset}"));
                };
                let inner: String = chars[i + 1..i + end].iter().collect();
                i += end + 1;
                if let Some(name) = inner.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match open.pop() {
                        Some(top) if top == name => {}
                        Some(top) => {
                            return fail(format!(
                                "Can't find end tag corresponding to start tag \"{top}\" at byte offset {offset}"
                            ));
                        }
                        None => return fail(format!("Unexpected end tag at byte offset {offset}")),
                    }
                    continue;
                }
                let mut parts = inner.splitn(2, char::is_whitespace);
                let name = parts.next().unwrap_or("").to_ascii_lowercase();
                let attrs = parts.next().unwrap_or("").trim().to_string();
                if !TELEGRAM_TAGS.contains(&name.as_str()) {
                    return fail(format!("Unsupported start tag \"{name}\" at byte offset {offset}"));
                }
                match name.as_str() {
                    "a" if !(attrs.starts_with("href=\"") && attrs.ends_with('"')) => {
                        return fail(format!(
                            "Tag \"a\" must have attribute \"href\" at byte offset {offset}"
                        ));
                    }
                    "span" if attrs != "class=\"tg-spoiler\"" => {
                        return fail(format!(
                            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {offset}"
                        ));
                    }
                    "a" | "span" => {}
                    "blockquote" if attrs.is_empty() || attrs == "expandable" => {}
                    "code" | "pre" if attrs.is_empty() || attrs.starts_with("class=\"language-") => {}
                    _ if attrs.is_empty() => {}
                    _ => {
                        return fail(format!(
                            "Unsupported attribute in tag \"{name}\" at byte offset {offset}"
                        ));
                    }
                }
                open.push(name);
            }
            '&' => {
                let Some(end) = chars[i..].iter().take(12).position(|&c| c == ';') else {
                    return fail(format!("Character '&' must be escaped at byte offset {offset}"));
                };
                let entity: String = chars[i + 1..i + end].iter().collect();
                let decoded = match entity.as_str() {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
                    e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
                    _ => None,
                };
                let Some(c) = decoded else {
                    return fail(format!(
                        "Unsupported HTML entity \"&{entity};\" at byte offset {offset}"
                    ));
                };
                out.push(c);
                i += end + 1;
            }
            '>' => return fail(format!("Character '>' must be escaped at byte offset {offset}")),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if let Some(top) = open.pop() {
        return fail(format!("Can't find end tag corresponding to start tag \"{top}\""));
    }
    Ok(out)
}

/// Reads the Discord markdown pulso writes: `**` bold spans (balanced), `\` escapes, raw
/// `http(s)://` links; anything else Discord would format (italics, strikes, code, spoilers,
/// masked links, headings, quotes, lists) or turn into a ping (`@everyone`, `<@…>`) is an error.
/// Returns the text a person reads.
pub fn parse_discord_markdown(md: &str) -> Result<String, String> {
    let chars: Vec<char> = md.chars().collect();
    let mut out = String::new();
    let mut bold = false;
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..chars.len().min(i + 10)].iter().collect();
        if line_start && (rest.starts_with("- ") || rest.starts_with("* ") || rest.starts_with("-# ")) {
            return Err(format!("a line starts a list or subtext: {rest:?}"));
        }
        line_start = c == '\n';
        match c {
            '\\' if i + 1 < chars.len() && chars[i + 1].is_ascii_punctuation() => {
                out.push(chars[i + 1]);
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                bold = !bold;
                i += 2;
            }
            'h' if rest.starts_with("https://") || rest.starts_with("http://") => {
                while i < chars.len() && !chars[i].is_whitespace() {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '*' | '_' | '~' | '`' | '|' | '[' | ']' | '(' | ')' | '>' | '#' | '\\' => {
                return Err(format!("unescaped markdown {c:?} at character {i}"));
            }
            '@' if rest.starts_with("@everyone") || rest.starts_with("@here") => {
                return Err(format!("a mass mention at character {i}"));
            }
            '<' if matches!(chars.get(i + 1), Some('@' | '#' | ':' | 'a' | 't' | '/')) => {
                return Err(format!("a mention or emoji tag at character {i}"));
            }
            '\u{200b}' => i += 1,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if bold {
        return Err("a bold span is never closed".into());
    }
    Ok(out)
}

#[test]
fn telegram_rules() {
    assert_eq!(parse_telegram_html("<b>Hola</b> &lt;b&gt;&amp;").unwrap(), "Hola <b>&");
    assert!(
        parse_telegram_html("<b>Hola")
            .unwrap_err()
            .contains("Can't find end tag")
    );
    assert!(parse_telegram_html("a & b").is_err());
    assert!(parse_telegram_html("<script>x</script>").is_err());
    assert!(parse_telegram_html("<b><i>x</b></i>").is_err());
    assert!(parse_telegram_html("&nbsp;").is_err());
    assert_eq!(
        parse_telegram_html("<a href=\"https://x.y/?a=1&amp;b=2\">ir</a>").unwrap(),
        "ir"
    );
}

#[test]
fn discord_rules() {
    assert_eq!(
        parse_discord_markdown("**Ana** \\*x\\_ @\u{200b}everyone").unwrap(),
        "Ana *x_ @everyone"
    );
    assert!(parse_discord_markdown("**Ana").is_err());
    assert!(parse_discord_markdown("a_b_").is_err());
    assert!(parse_discord_markdown("@everyone").is_err());
    assert_eq!(
        parse_discord_markdown("abre https://x.y/?client_id=1&state=a_b").unwrap(),
        "abre https://x.y/?client_id=1&state=a_b"
    );
}

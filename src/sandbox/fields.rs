//! The `fields` mini-language: `a,b.limit(0),c{x,y}` and field expansion with modifiers such as
//! `insights.metric(m1,m2).period(day).since(X).until(Y)`.

use super::request::Params;

/// Splits a `fields` value at top-level commas: `a,b.limit(0),c{x,y}` → `a`, `b.limit(0)`, `c{x,y}`.
pub(crate) fn split_fields(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            ')' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(text[start..].trim());
    out.into_iter().filter(|f| !f.is_empty()).collect()
}

pub(crate) fn base_name(field: &str) -> &str {
    field.split(['.', '{', '(']).next().unwrap_or(field).trim()
}

/// An expanded field: its modifiers as request parameters (`metric`, `period`, `since`, `until`,
/// `limit`…) and its nested `{…}` field list as `fields`.
pub(crate) fn expansion(field: &str) -> Params {
    let mut params = Params::new();
    let name = base_name(field);
    let mut rest = &field[name.len()..];
    while let Some(after_dot) = rest.strip_prefix('.') {
        let Some(open) = after_dot.find('(') else { break };
        let key = after_dot[..open].trim();
        let Some(close) = matching(after_dot, open, '(', ')') else {
            break;
        };
        params.insert(key.to_string(), after_dot[open + 1..close].to_string());
        rest = &after_dot[close + 1..];
    }
    if rest.starts_with('{')
        && let Some(close) = matching(rest, 0, '{', '}')
    {
        params.insert("fields".to_string(), rest[1..close].to_string());
    }
    params
}

/// Index of the bracket closing the one at `open`.
fn matching(text: &str, open: usize, left: char, right: char) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        if c == left {
            depth += 1;
        } else if c == right {
            depth -= 1;
            if depth == 0 {
                return Some(open + i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_reads_modifiers_and_nested_fields() {
        let p =
            expansion("insights.metric(page_follows,page_media_view).period(day).since(2026-09-01).until(2026-09-05)");
        assert_eq!(p["metric"], "page_follows,page_media_view");
        assert_eq!(p["period"], "day");
        assert_eq!(p["until"], "2026-09-05");
        let p = expansion(
            "published_posts.since(1).until(2).limit(100){id,reactions.summary(true).limit(0),attachments{url}}",
        );
        assert_eq!(p["limit"], "100");
        assert_eq!(p["fields"], "id,reactions.summary(true).limit(0),attachments{url}");
        assert_eq!(split_fields("a,b.limit(0),c{x,y}"), vec!["a", "b.limit(0)", "c{x,y}"]);
    }
}

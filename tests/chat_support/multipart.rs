//! A small multipart/form-data reader for the fake servers (enough for teloxide's and serenity's
//! uploads).

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Part {
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

pub fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// Parts by name.
pub fn parse(body: &[u8], boundary: &str) -> HashMap<String, Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = HashMap::new();
    let mut pos = match find(body, &delimiter, 0) {
        Some(p) => p + delimiter.len(),
        None => return parts,
    };
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        // Skip the CRLF after the delimiter.
        pos += 2;
        let Some(headers_end) = find(body, b"\r\n\r\n", pos) else {
            break;
        };
        let headers = String::from_utf8_lossy(&body[pos..headers_end]).to_string();
        let content_start = headers_end + 4;
        let Some(next) = find(body, &delimiter, content_start) else {
            break;
        };
        let content = &body[content_start..next.saturating_sub(2)];
        let mut name = None;
        let mut filename = None;
        for line in headers.lines() {
            if line.to_ascii_lowercase().starts_with("content-disposition") {
                for item in line.split(';').map(str::trim) {
                    if let Some(v) = item.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_string());
                    } else if let Some(v) = item.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            }
        }
        if let Some(name) = name {
            parts.insert(
                name,
                Part {
                    filename,
                    bytes: content.to_vec(),
                },
            );
        }
        pos = next + delimiter.len();
        if pos >= body.len() {
            break;
        }
    }
    parts
}

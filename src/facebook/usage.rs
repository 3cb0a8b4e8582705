//! Rate-limit usage headers, read on every response including errors.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// What the usage headers of one response say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Highest percentage over `call_count`, `total_cputime`, `total_time` of every header; `None`
    /// when no usage header was present (Meta omits them near 0 %).
    pub pct: Option<u32>,
    /// Longest `estimated_time_to_regain_access` (minutes in the header) when above zero.
    pub regain_after: Option<Duration>,
}

const PCT_KEYS: [&str; 3] = ["call_count", "total_cputime", "total_time"];

/// Parses `X-App-Usage`, `X-Page-Usage` and `X-Business-Use-Case-Usage`. Malformed headers are ignored:
/// usage is advice, and a broken header must not fail an otherwise good response.
pub fn read_usage(headers: &HeaderMap) -> Usage {
    let mut usage = Usage::default();
    for name in ["x-app-usage", "x-page-usage"] {
        if let Some(obj) = header_json(headers, name) {
            merge_counters(&mut usage, &obj);
        }
    }
    if let Some(Value::Object(by_object)) = header_json(headers, "x-business-use-case-usage") {
        for entries in by_object.values() {
            for entry in entries.as_array().into_iter().flatten() {
                merge_counters(&mut usage, entry);
                let minutes = entry
                    .get("estimated_time_to_regain_access")
                    .and_then(number)
                    .unwrap_or(0);
                if minutes > 0 {
                    let regain = Duration::from_secs(minutes * 60);
                    usage.regain_after = Some(usage.regain_after.map_or(regain, |r| r.max(regain)));
                }
            }
        }
    }
    usage
}

fn header_json(headers: &HeaderMap, name: &str) -> Option<Value> {
    let raw = headers.get(name)?.to_str().ok()?;
    serde_json::from_str(raw).ok()
}

fn merge_counters(usage: &mut Usage, obj: &Value) {
    for key in PCT_KEYS {
        if let Some(v) = obj.get(key).and_then(number) {
            let v = u32::try_from(v).unwrap_or(u32::MAX);
            usage.pct = Some(usage.pct.map_or(v, |p| p.max(v)));
        }
    }
}

/// Whole numbers as Meta sends them; tolerates floats and numeric strings, refuses negatives.
fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0)
            .map(|f| f.round() as u64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn takes_the_highest_percentage_of_all_headers() {
        let h = headers(&[
            ("x-app-usage", r#"{"call_count":28,"total_cputime":25,"total_time":25}"#),
            (
                "x-business-use-case-usage",
                r#"{"723701000827665":[{"type":"pages","call_count":97,"total_cputime":23,"total_time":23,"estimated_time_to_regain_access":0}]}"#,
            ),
        ]);
        assert_eq!(
            read_usage(&h),
            Usage {
                pct: Some(97),
                regain_after: None
            }
        );
    }

    #[test]
    fn regain_minutes_become_a_duration() {
        let h = headers(&[(
            "x-business-use-case-usage",
            r#"{"1":[{"type":"pages","call_count":118,"total_cputime":5,"total_time":5,"estimated_time_to_regain_access":12}]}"#,
        )]);
        let u = read_usage(&h);
        assert_eq!(u.pct, Some(118));
        assert_eq!(u.regain_after, Some(Duration::from_secs(720)));
    }

    #[test]
    fn absent_or_broken_headers_mean_unknown() {
        assert_eq!(read_usage(&HeaderMap::new()), Usage::default());
        let h = headers(&[
            ("x-app-usage", "not json"),
            ("x-business-use-case-usage", r#"{"1":"x"}"#),
        ]);
        assert_eq!(read_usage(&h), Usage::default());
    }
}

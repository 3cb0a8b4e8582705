//! Rate-limit usage headers, read on every response including errors.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

/// What the usage headers of one response say.
///
/// Two kinds of limit, kept apart (reference/graph-api.md §10.7): the app's (`X-App-Usage`), which
/// concerns every agent at once, and one business object's (`X-Business-Use-Case-Usage` for a Page or
/// an Instagram account, the older `X-Page-Usage`), which says nothing about the other Pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// The app's usage: highest percentage over `call_count`, `total_cputime`, `total_time` of
    /// `X-App-Usage`; `None` when absent (Meta omits it near 0 %).
    pub pct: Option<u32>,
    /// The Page's or Instagram account's own usage (same keys), from `X-Business-Use-Case-Usage`
    /// and `X-Page-Usage`; a high value here holds back that object only, never the whole sync.
    pub object_pct: Option<u32>,
    /// Longest `estimated_time_to_regain_access` (minutes in the header) when above zero.
    pub regain_after: Option<Duration>,
}

const PCT_KEYS: [&str; 3] = ["call_count", "total_cputime", "total_time"];

/// Parses `X-App-Usage`, `X-Page-Usage` and `X-Business-Use-Case-Usage`. Malformed headers are ignored:
/// usage is advice, and a broken header must not fail an otherwise good response.
pub fn read_usage(headers: &HeaderMap) -> Usage {
    let mut usage = Usage::default();
    if let Some(obj) = header_json(headers, "x-app-usage") {
        merge_counters(&mut usage.pct, &obj);
    }
    if let Some(obj) = header_json(headers, "x-page-usage") {
        merge_counters(&mut usage.object_pct, &obj);
    }
    if let Some(Value::Object(by_object)) = header_json(headers, "x-business-use-case-usage") {
        for entries in by_object.values() {
            for entry in entries.as_array().into_iter().flatten() {
                merge_counters(&mut usage.object_pct, entry);
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

fn merge_counters(pct: &mut Option<u32>, obj: &Value) {
    for key in PCT_KEYS {
        if let Some(v) = obj.get(key).and_then(number) {
            let v = u32::try_from(v).unwrap_or(u32::MAX);
            *pct = Some(pct.map_or(v, |p| p.max(v)));
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
    fn keeps_the_apps_usage_apart_from_one_pages() {
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
                pct: Some(28),
                object_pct: Some(97),
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
        assert_eq!((u.pct, u.object_pct), (None, Some(118)));
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

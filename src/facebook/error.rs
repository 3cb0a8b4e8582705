//! Graph API failures, sorted into the classes the sync engine acts on.

use std::time::Duration;

use serde::Deserialize;

use super::gate::GateClosed;

/// Graph codes that mean "stop calling this bucket for a while" rather than "retry soon".
/// 368 is a policy block, not a quota, but the right reaction is the same: pause, don't hammer.
const RATE_LIMIT_CODES: [i64; 7] = [4, 17, 32, 341, 368, 613, 80001];
/// Business-use-case throttles (80000–80014): Pages, Instagram, ads, messenger…
const BUC_CODES: std::ops::RangeInclusive<i64> = 80000..=80014;

/// True for the limits of one Page (#32, #80001 and the other business-use-case codes): only that
/// Page must wait; the app's own limits (#4, #17, #613…) stop every call.
pub fn is_page_limit(code: i64) -> bool {
    code == 32 || BUC_CODES.contains(&code)
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Network error, timeout, HTTP 5xx, Graph codes 1/2 or `is_transient`: worth retrying soon.
    #[error("Graph API temporary failure: {detail}{}", trace(.fbtrace_id))]
    Retriable { detail: String, fbtrace_id: Option<String> },
    /// A rate limit answered; `resume_after` comes from `estimated_time_to_regain_access`.
    #[error("Graph API rate limit reached (code {code}){}", trace(.fbtrace_id))]
    RateLimited {
        code: i64,
        resume_after: Option<Duration>,
        fbtrace_id: Option<String>,
    },
    /// Code 190 (any subcode) or 102: the token must be replaced by a new login.
    #[error("Graph API rejected the token (code {code}{}): {message}{}", sub(.subcode), trace(.fbtrace_id))]
    TokenInvalid {
        code: i64,
        subcode: Option<i64>,
        message: String,
        fbtrace_id: Option<String>,
    },
    /// Codes 10 and 200–299: a permission is missing or was removed.
    #[error("Graph API permission missing (code {code}): {message}{}", trace(.fbtrace_id))]
    Permission {
        code: i64,
        message: String,
        fbtrace_id: Option<String>,
    },
    /// Code 100 subcode 33: the Page does not exist or cannot be loaded.
    #[error("Graph API object not found: {message}{}", trace(.fbtrace_id))]
    NotFound {
        message: String,
        fbtrace_id: Option<String>,
    },
    /// A request the API refuses for good (retired metric, unknown field, code 3001, a code this
    /// client does not know): fixing it needs a code or configuration change, not a retry.
    #[error("Graph API refused the request (code {code}{}): {message}{}", sub(.subcode), trace(.fbtrace_id))]
    Configuration {
        code: i64,
        subcode: Option<i64>,
        message: String,
        fbtrace_id: Option<String>,
    },
    /// The engine's call gate refused to spend budget.
    #[error("call budget closed: {0}")]
    Gate(GateClosed),
    /// A response that could not be understood (not JSON, wrong shape, missing `data`).
    #[error("unexpected Graph API response: {detail}{}", trace(.fbtrace_id))]
    BadResponse { detail: String, fbtrace_id: Option<String> },
}

fn trace(id: &Option<String>) -> String {
    id.as_ref().map(|t| format!(" [fbtrace_id {t}]")).unwrap_or_default()
}

fn sub(subcode: &Option<i64>) -> String {
    subcode.map(|s| format!("/{s}")).unwrap_or_default()
}

impl FetchError {
    /// True only for failures a short backoff can fix; rate limits pause instead.
    pub fn is_retriable(&self) -> bool {
        matches!(self, FetchError::Retriable { .. })
    }

    /// A short Spanish reason, safe for chat: no token, no URL, no raw Graph message.
    pub fn user_reason(&self) -> String {
        match self {
            FetchError::Retriable { .. } => "Facebook no respondió (error temporal)",
            FetchError::RateLimited { .. } => "límite de llamadas de la API alcanzado",
            FetchError::TokenInvalid { .. } => "el token de Facebook expiró o fue revocado",
            FetchError::Permission { .. } => "faltan permisos de la página",
            FetchError::NotFound { .. } => "la página ya no existe o no es accesible",
            FetchError::Configuration { .. } => "Facebook rechazó la consulta (revisar la configuración de métricas)",
            FetchError::Gate(_) => "presupuesto de llamadas agotado; se reanudará más tarde",
            FetchError::BadResponse { .. } => "Facebook devolvió una respuesta inesperada",
        }
        .to_string()
    }

    pub fn fbtrace_id(&self) -> Option<&str> {
        match self {
            FetchError::Retriable { fbtrace_id, .. }
            | FetchError::RateLimited { fbtrace_id, .. }
            | FetchError::TokenInvalid { fbtrace_id, .. }
            | FetchError::Permission { fbtrace_id, .. }
            | FetchError::NotFound { fbtrace_id, .. }
            | FetchError::Configuration { fbtrace_id, .. }
            | FetchError::BadResponse { fbtrace_id, .. } => fbtrace_id.as_deref(),
            FetchError::Gate(_) => None,
        }
    }

    pub(crate) fn bad(detail: impl Into<String>) -> Self {
        FetchError::BadResponse {
            detail: detail.into(),
            fbtrace_id: None,
        }
    }

    /// A transport failure. The URL is dropped because it carries `appsecret_proof`.
    pub(crate) fn from_transport(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            "timeout"
        } else if err.is_connect() {
            "connection failed"
        } else if err.is_body() || err.is_decode() {
            "response body interrupted"
        } else {
            "network error"
        };
        FetchError::Retriable {
            detail: format!("{kind}: {}", err.without_url()),
            fbtrace_id: None,
        }
    }
}

/// The `error` object of a Graph error body.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GraphErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: GraphErrorBody,
}

/// Extracts the Graph error from a body, if it is one.
pub fn parse_error_body(body: &[u8]) -> Option<GraphErrorBody> {
    serde_json::from_slice::<Envelope>(body).ok().map(|e| e.error)
}

/// Classifies a non-2xx response (or a 2xx one carrying an `error` object).
/// `regain` is the usage headers' `estimated_time_to_regain_access`; `sent_token` is scrubbed from
/// any message because Graph echoes malformed tokens back ("Malformed access token EAA…").
pub fn classify(status: u16, body: &[u8], regain: Option<Duration>, sent_token: Option<&str>) -> FetchError {
    let Some(err) = parse_error_body(body) else {
        let detail = format!("HTTP {status} without a Graph error body");
        return match status {
            429 => FetchError::RateLimited {
                code: 0,
                resume_after: regain,
                fbtrace_id: None,
            },
            s if s >= 500 => FetchError::Retriable {
                detail,
                fbtrace_id: None,
            },
            _ => FetchError::bad(detail),
        };
    };
    let message = scrub(&err.message, sent_token);
    let fbtrace_id = err.fbtrace_id.clone();
    let code = err.code.unwrap_or(0);
    let subcode = err.error_subcode;
    let transient = err.is_transient.unwrap_or(false);
    match code {
        c if RATE_LIMIT_CODES.contains(&c) || BUC_CODES.contains(&c) => FetchError::RateLimited {
            code: c,
            resume_after: regain,
            fbtrace_id,
        },
        190 | 102 => FetchError::TokenInvalid {
            code,
            subcode,
            message,
            fbtrace_id,
        },
        10 | 200..=299 => FetchError::Permission {
            code,
            message,
            fbtrace_id,
        },
        100 if subcode == Some(33) => FetchError::NotFound { message, fbtrace_id },
        2 => FetchError::Retriable {
            detail: format!("code 2: {message}"),
            fbtrace_id,
        },
        // Code 1 is "unknown error" and comes with HTTP 500; with a 4xx it is a refusal such as
        // the 93-day window message, which a retry would only repeat.
        1 if status >= 500 || transient => FetchError::Retriable {
            detail: format!("code 1: {message}"),
            fbtrace_id,
        },
        c if c != 100 && c != 1 && c != 3001 && (status >= 500 || transient) => FetchError::Retriable {
            detail: format!("code {c}: {message}"),
            fbtrace_id,
        },
        _ => FetchError::Configuration {
            code,
            subcode,
            message,
            fbtrace_id,
        },
    }
}

/// Replaces the sent token, and anything shaped like a Meta token, with `[token]`.
fn scrub(message: &str, sent_token: Option<&str>) -> String {
    let mut out = match sent_token {
        Some(t) if t.len() >= 8 => message.replace(t, "[token]"),
        _ => message.to_string(),
    };
    if out.contains("EAA") {
        out = out
            .split(' ')
            .map(|w| {
                if w.starts_with("EAA") && w.len() > 20 {
                    "[token]"
                } else {
                    w
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    // A very long message is most likely not a Graph message; keep logs bounded.
    if out.chars().count() > 300 {
        out = out.chars().take(300).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: i64, subcode: Option<i64>, transient: Option<bool>) -> Vec<u8> {
        let mut e = serde_json::json!({"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "T1"});
        if let Some(s) = subcode {
            e["error_subcode"] = s.into();
        }
        if let Some(t) = transient {
            e["is_transient"] = t.into();
        }
        serde_json::to_vec(&serde_json::json!({ "error": e })).unwrap()
    }

    #[test]
    fn codes_map_to_classes() {
        let c = |status, code, sub, tr| classify(status, &body(code, sub, tr), None, None);
        assert!(matches!(c(500, 1, None, None), FetchError::Retriable { .. }));
        assert!(matches!(c(500, 2, None, Some(true)), FetchError::Retriable { .. }));
        assert!(matches!(c(400, 1, None, None), FetchError::Configuration { .. }));
        for code in [4, 17, 32, 613, 80001, 80002] {
            assert!(
                matches!(c(400, code, None, Some(true)), FetchError::RateLimited { .. }),
                "{code}"
            );
        }
        for sub in [Some(458), Some(460), Some(463), Some(466), None] {
            assert!(matches!(c(400, 190, sub, None), FetchError::TokenInvalid { .. }));
        }
        assert!(matches!(c(400, 102, None, None), FetchError::TokenInvalid { .. }));
        assert!(matches!(c(403, 10, None, None), FetchError::Permission { .. }));
        assert!(matches!(c(403, 200, None, None), FetchError::Permission { .. }));
        assert!(matches!(c(400, 100, Some(33), None), FetchError::NotFound { .. }));
        assert!(matches!(c(400, 100, None, None), FetchError::Configuration { .. }));
        assert!(matches!(
            c(400, 3001, Some(1504028), None),
            FetchError::Configuration { .. }
        ));
        assert!(matches!(c(503, 9999, None, None), FetchError::Retriable { .. }));
        assert_eq!(c(400, 190, None, None).fbtrace_id(), Some("T1"));
    }

    #[test]
    fn non_json_bodies_are_classified_by_status() {
        let html = b"<html><body>Service Unavailable</body></html>";
        assert!(classify(503, html, None, None).is_retriable());
        assert!(matches!(
            classify(404, html, None, None),
            FetchError::BadResponse { .. }
        ));
        assert!(matches!(classify(429, b"", None, None), FetchError::RateLimited { .. }));
    }

    #[test]
    fn tokens_never_reach_the_message() {
        let raw = br#"{"error":{"message":"Malformed access token EAAGm0PX4ZCpsBAKZCZCZBZAZAZD123 and mytoken-123","code":190}}"#;
        let shown = classify(400, raw, None, Some("mytoken-123")).to_string();
        assert!(!shown.contains("EAAGm0"), "{shown}");
        assert!(!shown.contains("mytoken-123"), "{shown}");
    }

    #[test]
    fn user_reasons_are_spanish_and_short() {
        let e = classify(400, &body(190, Some(463), None), None, None);
        assert_eq!(e.user_reason(), "el token de Facebook expiró o fue revocado");
        assert!(!e.is_retriable());
    }
}

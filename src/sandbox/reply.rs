//! Graph-shaped responses: JSON bodies, error envelopes and the headers Meta sends.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Graph API answer being built: status, body and extra headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Body,
    /// Extra headers; a list rather than a `HeaderMap` keeps `Result<_, Reply>` small.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Debug)]
pub(crate) enum Body {
    Json(Value),
    Html(&'static str),
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: Body::Json(body),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }
}

/// A random fbtrace id of 23 URL-safe characters, like Meta's.
pub(crate) fn fbtrace_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..23)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Builder for a Graph error envelope.
pub(crate) struct GraphError {
    pub status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub kind: &'static str,
    pub message: String,
    pub transient: Option<bool>,
}

impl GraphError {
    pub fn new(status: u16, code: i64, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code,
            subcode: None,
            kind: "OAuthException",
            message: message.into(),
            transient: None,
        }
    }

    pub fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub fn transient(mut self, transient: bool) -> Self {
        self.transient = Some(transient);
        self
    }

    pub fn reply(self) -> Reply {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
        });
        if let Some(s) = self.subcode {
            error["error_subcode"] = s.into();
        }
        if let Some(t) = self.transient {
            error["is_transient"] = t.into();
        }
        error["fbtrace_id"] = fbtrace_id().into();
        let mut reply = Reply {
            status: StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            body: Body::Json(json!({ "error": error })),
            headers: Vec::new(),
        };
        if self.code == 190 {
            let challenge = format!(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                self.message.replace('"', "'")
            );
            reply = reply.header("www-authenticate", &challenge);
        }
        reply
    }
}

// The bodies below are the captures listed in reference/graph-api.md §4.3 and §5.

pub(crate) fn token_expired(expired_at: chrono::DateTime<chrono::Utc>) -> Reply {
    let pacific = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::America::Los_Angeles)
            .format("%A, %d-%b-%y %H:%M:%S %Z")
            .to_string()
    };
    GraphError::new(
        400,
        190,
        format!(
            "Error validating access token: Session has expired on {}. The current time is {}.",
            pacific(expired_at),
            pacific(chrono::Utc::now())
        ),
    )
    .subcode(463)
    .reply()
}

pub(crate) fn token_password_changed() -> Reply {
    GraphError::new(400, 190, "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.").subcode(460).reply()
}

pub(crate) fn token_deauthorized(app_id: &str) -> Reply {
    GraphError::new(
        400,
        190,
        format!("Error validating access token: The user has not authorized application {app_id}."),
    )
    .subcode(458)
    .reply()
}

pub(crate) fn token_invalidated() -> Reply {
    GraphError::new(
        400,
        190,
        "Error validating access token: The session was invalidated explicitly using an API call.",
    )
    .subcode(466)
    .reply()
}

pub(crate) fn token_unparseable() -> Reply {
    GraphError::new(400, 190, "Invalid OAuth access token - Cannot parse access token").reply()
}

pub(crate) fn token_required() -> Reply {
    GraphError::new(400, 104, "An access token is required to request this resource.").reply()
}

pub(crate) fn page_token_required() -> Reply {
    GraphError::new(400, 190, "(#190) This method must be called with a Page Access Token").reply()
}

pub(crate) fn permission_denied() -> Reply {
    GraphError::new(
        400,
        10,
        "(#10) This endpoint requires the 'pages_read_engagement' permission or the 'Page Public Content Access' feature. Refer to https://developers.facebook.com/docs/apps/review/login-permissions#manage-pages and https://developers.facebook.com/docs/apps/review/feature#reference-PAGES_ACCESS for details.",
    )
    .reply()
}

pub(crate) fn object_missing(id: &str) -> Reply {
    GraphError::new(400, 100, format!("Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"))
        .subcode(33)
        .kind("GraphMethodException")
        .reply()
}

pub(crate) fn invalid_metric() -> Reply {
    GraphError::new(400, 100, "(#100) The value must be a valid insights metric").reply()
}

pub(crate) fn no_metric() -> Reply {
    GraphError::new(
        400,
        3001,
        "No metric was specified to be fetched. Please specify one or more metrics to be fetched and try again.",
    )
    .subcode(1_504_028)
    .reply()
}

pub(crate) fn nonexisting_field(field: &str, node: &str) -> Reply {
    GraphError::new(
        400,
        100,
        format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node})"),
    )
    .reply()
}

pub(crate) fn too_many_days() -> Reply {
    GraphError::new(
        400,
        1,
        "There cannot be more than 93 days (8035200 s) between since and until",
    )
    .reply()
}

pub(crate) fn transient() -> Reply {
    GraphError::new(
        500,
        2,
        "An unexpected error has occurred. Please retry your request later.",
    )
    .transient(true)
    .reply()
}

pub(crate) fn html_503() -> Reply {
    Reply {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body: Body::Html(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><title>Facebook | Error</title><meta charset=\"utf-8\"></head>\
             <body><div id=\"content\"><h1>Sorry, something went wrong.</h1>\
             <p>We're working on it and we'll get it fixed as soon as we can.</p></div></body></html>",
        ),
        headers: Vec::new(),
    }
}

pub(crate) fn page_rate_limited() -> Reply {
    GraphError::new(400, 80001, "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.")
        .transient(true)
        .reply()
}

pub(crate) fn app_rate_limited() -> Reply {
    GraphError::new(400, 4, "(#4) Application request limit reached")
        .transient(true)
        .reply()
}

pub(crate) fn proof_invalid() -> Reply {
    GraphError::new(400, 100, "Invalid appsecret_proof provided in the API argument")
        .kind("GraphMethodException")
        .reply()
}

pub(crate) fn proof_missing() -> Reply {
    GraphError::new(
        400,
        100,
        "API calls from the server require an appsecret_proof argument",
    )
    .kind("GraphMethodException")
    .reply()
}

pub(crate) fn unsupported(method: &str, path: &str) -> Reply {
    GraphError::new(400, 100, format!("Unsupported {method} request. Object with ID '{path}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"))
        .subcode(33)
        .kind("GraphMethodException")
        .reply()
}

pub(crate) fn bad_parameter(message: impl Into<String>) -> Reply {
    GraphError::new(400, 100, message).reply()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let (content_type, bytes) = match self.body {
            Body::Json(v) => (
                "application/json; charset=UTF-8",
                serde_json::to_vec(&v).unwrap_or_default(),
            ),
            Body::Html(h) => ("text/html; charset=utf-8", h.as_bytes().to_vec()),
        };
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            HeaderName::from_static("x-fb-rev"),
            HeaderValue::from_static("1026154367"),
        );
        if let Ok(trace) = HeaderValue::from_str(&fbtrace_id()) {
            headers.insert(HeaderName::from_static("x-fb-trace-id"), trace);
        }
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

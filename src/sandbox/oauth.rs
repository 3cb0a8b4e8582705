//! Facebook Login imitation and token endpoints: dialog, code and long-lived exchanges,
//! `debug_token`, `/me/accounts`.

use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::reply::{self, GraphError, Reply};
use super::request::{Params, Request};
use super::state::{CodeGrant, MANAGER_USER_ID, Revoked, TokenKind};
use super::{PageState, Sandbox};

/// Long-lived user tokens last about 60 days (Meta answers `expires_in` ≈ 5184000).
const LONG_LIVED: i64 = 5_184_000;
/// Tokens from the code exchange are short-lived.
const SHORT_LIVED: i64 = 7_200;

/// `GET /dialog/oauth`: approves at once and redirects back with a code (or `access_denied`).
pub(crate) fn dialog(sb: &Sandbox, params: &Params) -> Response {
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| url::Url::parse(r).is_ok()) else {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>URL bloqueada</h1><p>Falta redirect_uri o no es válida.</p>"),
        )
            .into_response();
    };
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    if !sb.inner.app_id.is_empty() && client_id != sb.inner.app_id {
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>Error</h1><p>Invalid App ID: the provided app ID does not look like a valid app ID.</p>"),
        )
            .into_response();
    }
    let mut target = url::Url::parse(redirect_uri).expect("checked above");
    let mut state = sb.state();
    if state.login_denied {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_description", "Permissions error")
            .append_pair("error_reason", "user_denied");
    } else {
        let user_id = state
            .login_page
            .as_deref()
            .and_then(|p| state.page(p))
            .map_or_else(|| MANAGER_USER_ID.to_string(), |p| p.page.user_id.clone());
        let code = format!("AQ{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 48]>()));
        let scopes = params
            .get("scope")
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .filter(|s: &Vec<String>| !s.is_empty())
            .unwrap_or_else(super::default_scopes);
        state.codes.insert(
            code.clone(),
            CodeGrant {
                user_id,
                redirect_uri: redirect_uri.clone(),
                scopes,
                used: false,
            },
        );
        target.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(s) = params.get("state") {
        target.query_pairs_mut().append_pair("state", s);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn client_error() -> Reply {
    GraphError::new(400, 1, "Error validating client secret.").reply()
}

/// `GET /oauth/access_token`: code exchange, `fb_exchange_token` and `client_credentials`.
pub(crate) fn access_token(sb: &Sandbox, params: &Params) -> Reply {
    let client_id = params.get("client_id").map(String::as_str).unwrap_or("");
    if !sb.inner.app_id.is_empty() && client_id != sb.inner.app_id {
        return GraphError::new(400, 101, "Error validating application. Invalid application ID.").reply();
    }
    let secret_ok = match (&sb.inner.app_secret, params.get("client_secret")) {
        (Some(expected), Some(given)) => expected == given,
        (Some(_), None) => false,
        (None, _) => true,
    };
    if !secret_ok {
        return client_error();
    }
    match params.get("grant_type").map(String::as_str) {
        Some("fb_exchange_token") => {
            let Some(short) = params.get("fb_exchange_token") else {
                return reply::bad_parameter("(#100) Missing parameter fb_exchange_token");
            };
            let user_id = match sb.token_kind(short) {
                Ok(TokenKind::User { user_id }) => user_id,
                Ok(_) => return reply::bad_parameter("(#100) fb_exchange_token must be a user access token"),
                Err(r) => return r,
            };
            let scopes = sb
                .state()
                .tokens
                .get(short)
                .map(|t| t.scopes.clone())
                .unwrap_or_default();
            let token = sb
                .state()
                .mint_user_token(&user_id, Some(Duration::seconds(LONG_LIVED)), scopes);
            Reply::ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED - 56 }))
        }
        Some("client_credentials") => {
            let secret = sb.inner.app_secret.clone().unwrap_or_else(|| "sandbox".to_string());
            Reply::ok(json!({ "access_token": format!("{}|{secret}", sb.inner.app_id), "token_type": "bearer" }))
        }
        Some(other) => reply::bad_parameter(format!("(#100) Unsupported grant_type {other}")),
        None => exchange_code(sb, params),
    }
}

fn exchange_code(sb: &Sandbox, params: &Params) -> Reply {
    let Some(code) = params.get("code") else {
        return reply::bad_parameter("(#100) Missing authorization code");
    };
    let mut state = sb.state();
    let Some(grant) = state.codes.get_mut(code) else {
        return GraphError::new(400, 100, "Invalid verification code format.")
            .subcode(36007)
            .reply();
    };
    if grant.used {
        return GraphError::new(400, 100, "This authorization code has been used.")
            .subcode(36009)
            .reply();
    }
    if params.get("redirect_uri") != Some(&grant.redirect_uri) {
        return GraphError::new(400, 100, "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
            .subcode(36008)
            .reply();
    }
    grant.used = true;
    let (user_id, scopes) = (grant.user_id.clone(), grant.scopes.clone());
    let token = state.mint_user_token(&user_id, Some(Duration::seconds(SHORT_LIVED)), scopes);
    Reply::ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED }))
}

pub(crate) fn debug_token_unauthorized() -> Reply {
    GraphError::new(
        400,
        100,
        "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app",
    )
    .reply()
}

/// `GET /debug_token?input_token=`: always 200 with `data`, also for bad tokens.
pub(crate) fn debug_token(sb: &Sandbox, caller_token: &str, params: &Params) -> Reply {
    // The caller must be the app, or a valid user token.
    match sb.token_kind(caller_token) {
        Ok(TokenKind::App | TokenKind::User { .. }) => {}
        _ => return debug_token_unauthorized(),
    }
    let Some(input) = params.get("input_token") else {
        return reply::bad_parameter("(#100) The parameter input_token is required");
    };
    let app_id = if sb.inner.app_id.is_empty() {
        "1234567890".to_string()
    } else {
        sb.inner.app_id.clone()
    };
    if input.contains('|') {
        let valid = sb.token_kind(input).is_ok();
        return Reply::ok(
            json!({ "data": { "app_id": app_id, "type": "APP", "application": "pulso sandbox", "is_valid": valid, "scopes": [] } }),
        );
    }
    let state = sb.state();
    let Some(record) = state.tokens.get(input) else {
        return Reply::ok(json!({ "data": {
            "error": { "code": 190, "message": "Invalid OAuth access token - Cannot parse access token" },
            "is_valid": false,
            "scopes": [],
        }}));
    };
    let now = Utc::now();
    let (kind, user_id, profile_id) = match &record.kind {
        TokenKind::User { user_id } => ("USER", user_id.clone(), None),
        TokenKind::Page { page_id, user_id } => ("PAGE", user_id.clone(), Some(page_id.clone())),
        TokenKind::App => ("APP", String::new(), None),
    };
    let targets: Vec<String> = match &profile_id {
        Some(p) => vec![p.clone()],
        None => state.users.get(&user_id).cloned().unwrap_or_default(),
    };
    let mut data = json!({
        "app_id": app_id,
        "type": kind,
        "application": "pulso sandbox",
        "data_access_expires_at": (now + Duration::days(90)).timestamp(),
        "expires_at": record.expires_at.map_or(0, |e| e.timestamp()),
        "is_valid": true,
        "issued_at": record.issued_at.timestamp(),
        "scopes": record.scopes,
        "granular_scopes": record.scopes.iter()
            .filter(|s| s.starts_with("pages_") || *s == "read_insights")
            .map(|s| json!({ "scope": s, "target_ids": targets }))
            .collect::<Vec<_>>(),
        "user_id": user_id,
    });
    if let Some(p) = profile_id {
        data["profile_id"] = json!(p);
    }
    let error = match (record.revoked, record.expires_at) {
        (Some(Revoked::PasswordChanged), _) => Some((460, "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.".to_string())),
        (Some(Revoked::Deauthorized), _) => Some((458, format!("Error validating access token: The user has not authorized application {app_id}."))),
        (Some(Revoked::Invalidated), _) => Some((466, "Error validating access token: The session was invalidated explicitly using an API call.".to_string())),
        (None, Some(e)) if e <= now => Some((463, format!("Error validating access token: Session has expired on {}. The current time is {}.", e.format("%A, %d-%b-%y %H:%M:%S UTC"), now.format("%A, %d-%b-%y %H:%M:%S UTC")))),
        _ => None,
    };
    if let Some((subcode, message)) = error {
        data["is_valid"] = json!(false);
        data["error"] = json!({ "code": 190, "message": message, "subcode": subcode });
    }
    Reply::ok(json!({ "data": data }))
}

/// `GET /me/accounts`: the user's Pages with Page tokens, 25 per page by default, cursor paging.
pub(crate) fn accounts(sb: &Sandbox, req: &Request<'_>) -> Reply {
    let TokenKind::User { user_id } = &req.caller.kind else {
        return reply::nonexisting_field("accounts", "Page");
    };
    let limit = req
        .params
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(25)
        .min(100);
    let start = req
        .params
        .get("after")
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("acct:").and_then(|n| n.parse::<usize>().ok()))
        .map_or(0, |n| n + 1);
    let page_ids: Vec<String> = {
        let state = sb.state();
        state
            .users
            .get(user_id)
            .into_iter()
            .flatten()
            .filter(|p| state.page(p).is_some_and(|r| r.page.state != PageState::Gone))
            .cloned()
            .collect()
    };
    let fields: Option<Vec<String>> = req
        .params
        .get("fields")
        .map(|f| f.split(',').map(|x| x.trim().to_string()).collect());
    let window: Vec<(usize, &String)> = page_ids.iter().enumerate().skip(start).take(limit).collect();
    let data: Vec<Value> = window
        .iter()
        .map(|(_, page_id)| {
            let token = sb.page_token_for(page_id, &req.caller);
            let name = sb
                .state()
                .page(page_id)
                .map(|p| p.page.page_name.clone())
                .unwrap_or_default();
            let full = json!({
                "access_token": token,
                "category": "Agente inmobiliario",
                "category_list": [ { "id": "2209", "name": "Real Estate Agent" } ],
                "name": name,
                "id": page_id,
                "tasks": ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
            });
            match &fields {
                Some(wanted) => Value::Object(
                    full.as_object()
                        .expect("object literal")
                        .iter()
                        .filter(|(k, _)| *k == "id" || wanted.iter().any(|w| w == *k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                None => full,
            }
        })
        .collect();
    let mut body = json!({ "data": data });
    if let (Some((first, _)), Some((last, _))) = (window.first(), window.last()) {
        let cursor = |i: usize| URL_SAFE_NO_PAD.encode(format!("acct:{i}"));
        let mut paging = json!({ "cursors": { "before": cursor(*first), "after": cursor(*last) } });
        if last + 1 < page_ids.len() {
            let mut next = req.link("me/accounts");
            next.query_pairs_mut()
                .append_pair("access_token", &req.caller.token)
                .append_pair("limit", &limit.to_string())
                .append_pair("after", &cursor(*last));
            paging["next"] = json!(next.to_string());
        }
        body["paging"] = paging;
    }
    Reply::ok(body)
}

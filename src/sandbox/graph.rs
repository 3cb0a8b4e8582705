//! Request entry point: versioned paths, tokens, appsecret_proof, faults, rate buckets, dispatch.

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::fault::Fault;
use super::fields::{base_name, expansion, split_fields};
use super::instagram_account as ig;
use super::reply::{self, Body, Reply};
use super::request::{Caller, Params, Request};
use super::state::{Revoked, TokenKind};
use super::{Sandbox, insights, instagram, oauth, posts};

pub(crate) async fn handle(State(sb): State<Sandbox>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let params: Params = uri
        .query()
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let (version, rest) = match segments.split_first() {
        Some((first, rest)) if is_version(first) => (*first, rest),
        _ => (super::DEFAULT_VERSION, &segments[..]),
    };
    if rest == ["dialog", "oauth"] {
        return oauth::dialog(&sb, &params).into_response();
    }
    {
        let mut state = sb.state();
        state.count_call(rest.first().copied());
        // Decoded and sorted, so tests and people read `fields=insights.metric(…)` as sent.
        let mut logged: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "access_token")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        logged.sort();
        state
            .log
            .push(format!("{method} /{version}/{}?{}", rest.join("/"), logged.join("&")));
    }
    if let Some(delay) = sb.inner.latency {
        tokio::time::sleep(delay).await;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("graph.facebook.com");
    let origin = if host == "graph.facebook.com" {
        format!("https://{host}")
    } else {
        format!("http://{host}")
    };
    let reply = sb.answer(&method, version, rest, &params, &headers, &origin).await;
    reply.header("facebook-api-version", version).into_response()
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth")).then(|| token.trim().to_string())
}

impl Sandbox {
    async fn answer(
        &self,
        method: &Method,
        version: &str,
        path: &[&str],
        params: &Params,
        headers: &HeaderMap,
        origin: &str,
    ) -> Reply {
        if method != Method::GET && method != Method::HEAD {
            return reply::unsupported(&method.as_str().to_ascii_lowercase(), &path.join("/"));
        }
        match path {
            ["oauth", "access_token"] => return oauth::access_token(self, params),
            [] => return reply::bad_parameter("(#100) Missing object id"),
            _ => {}
        }
        let Some(token) = bearer(headers).or_else(|| params.get("access_token").cloned()) else {
            return if path == ["debug_token"] {
                oauth::debug_token_unauthorized()
            } else {
                reply::token_required()
            };
        };
        if path == ["debug_token"] {
            return match self.check_proof(&token, params) {
                Err(r) => r,
                Ok(()) => oauth::debug_token(self, &token, params),
            };
        }
        let (caller, usage_header) = match self.admit(&token, path.first().copied(), params).await {
            Ok(admitted) => admitted,
            Err(r) => return r,
        };
        let request = Request {
            version,
            params,
            caller,
            origin,
        };
        let reply = self.dispatch(path, &request);
        match usage_header {
            Some((name, value)) => reply.header(name, &value),
            None => reply,
        }
    }

    /// appsecret_proof, faults, token validity and the rate bucket, in that order.
    async fn admit(
        &self,
        token: &str,
        target: Option<&str>,
        params: &Params,
    ) -> Result<(Caller, Option<(&'static str, String)>), Reply> {
        self.check_proof(token, params)?;
        let fault = target.map(|t| self.state().take_fault(t)).unwrap_or_default();
        let kind = self.token_kind(token);
        // Calls to an Instagram account: its own faults, bucket (BUC type `instagram`) and 80002.
        let ig_target = target.filter(|t| ig::is_instagram_id(t));
        if let Some(r) = ig_target.and_then(|ig| ig::fault_reply(&fault, ig)) {
            return Err(r);
        }
        match fault {
            Fault::None => {}
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::TokenExpired => return Err(reply::token_expired(Utc::now() - chrono::Duration::days(1))),
            Fault::TokenInvalid => return Err(reply::token_password_changed()),
            Fault::PermissionDenied => return Err(reply::permission_denied()),
            Fault::NotFound => return Err(reply::object_missing(target.unwrap_or_default())),
            Fault::Transient { .. } => return Err(reply::transient()),
            Fault::Http503Html { .. } => return Err(reply::html_503()),
            Fault::PageLimited { regain_minutes, .. } => {
                let page = target.unwrap_or_default();
                return Err(reply::page_rate_limited()
                    .header("x-business-use-case-usage", &buc_usage(page, 100, regain_minutes)));
            }
            Fault::RateLimited => {
                let page = target.unwrap_or_default();
                return Err(match kind {
                    Ok(TokenKind::Page { .. }) => {
                        reply::page_rate_limited().header("x-business-use-case-usage", &buc_usage(page, 100, 10))
                    }
                    _ => reply::app_rate_limited().header("x-app-usage", &app_usage(100)),
                });
            }
        }
        let kind = kind?;
        let (bucket, page_bucket) = match &kind {
            TokenKind::Page { page_id, .. } => (ig_target.unwrap_or(page_id.as_str()).to_string(), true),
            TokenKind::User { user_id } => (format!("user:{user_id}"), false),
            TokenKind::App => ("app".to_string(), false),
        };
        let hit = self.state().hit_bucket(&bucket);
        let regain = if hit.limited { hit.regain_minutes } else { 0 };
        if let Some(ig) = ig_target.filter(|_| page_bucket) {
            if hit.limited {
                return Err(ig::rate_limited(ig, hit.pct, regain));
            }
            let header = (hit.pct > 0).then(|| ("x-business-use-case-usage", ig::usage(ig, hit.pct, 0)));
            return Ok((
                Caller {
                    token: token.to_string(),
                    kind,
                },
                header,
            ));
        }
        let header = match (page_bucket, hit.pct) {
            (_, 0) => None,
            (true, pct) => Some(("x-business-use-case-usage", buc_usage(&bucket, pct, regain))),
            (false, pct) => Some(("x-app-usage", app_usage(pct))),
        };
        if hit.limited {
            let limited = if page_bucket {
                reply::page_rate_limited()
            } else {
                reply::app_rate_limited()
            };
            return Err(match header {
                Some((name, value)) => limited.header(name, &value),
                None => limited,
            });
        }
        Ok((
            Caller {
                token: token.to_string(),
                kind,
            },
            header,
        ))
    }

    fn check_proof(&self, token: &str, params: &Params) -> Result<(), Reply> {
        let Some(secret) = &self.inner.app_secret else {
            return Ok(());
        };
        match params.get("appsecret_proof") {
            None => Err(reply::proof_missing()),
            Some(proof) if *proof == crate::facebook::appsecret_proof(token, secret) => Ok(()),
            Some(_) => Err(reply::proof_invalid()),
        }
    }

    /// What a token is, or the 190 error it earns.
    pub(crate) fn token_kind(&self, token: &str) -> Result<TokenKind, Reply> {
        if let Some((app_id, secret)) = token.split_once('|') {
            let id_ok = self.inner.app_id.is_empty() || app_id == self.inner.app_id;
            let secret_ok = self.inner.app_secret.as_deref().is_none_or(|s| s == secret);
            return if id_ok && secret_ok {
                Ok(TokenKind::App)
            } else {
                Err(reply::token_unparseable())
            };
        }
        let state = self.state();
        let Some(record) = state.tokens.get(token) else {
            return Err(reply::token_unparseable());
        };
        match record.revoked {
            Some(Revoked::PasswordChanged) => return Err(reply::token_password_changed()),
            Some(Revoked::Deauthorized) => return Err(reply::token_deauthorized(&self.inner.app_id)),
            Some(Revoked::Invalidated) => return Err(reply::token_invalidated()),
            None => {}
        }
        if let Some(expired_at) = record.expires_at.filter(|e| *e <= Utc::now()) {
            return Err(reply::token_expired(expired_at));
        }
        Ok(record.kind.clone())
    }

    fn dispatch(&self, path: &[&str], req: &Request<'_>) -> Reply {
        match path {
            ["me"] => self.me(req),
            ["me", "accounts"] => oauth::accounts(self, req),
            ["me", edge] => match &req.caller.kind {
                TokenKind::Page { page_id, .. } => self.page_edge(page_id, edge, &[], req),
                _ => reply::nonexisting_field(edge, "User"),
            },
            [id, rest @ ..] if ig::is_instagram_id(id) => instagram::answer(self, id, rest, req),
            [id] => self.page_node(id, req),
            [id, edge, rest @ ..] => self.page_edge(id, edge, rest, req),
            [] => reply::bad_parameter("(#100) Missing object id"),
        }
    }

    fn page_edge(&self, id: &str, edge: &str, rest: &[&str], req: &Request<'_>) -> Reply {
        let (n, page_id) = match self.readable_page(id, req) {
            Ok(found) => found,
            Err(r) => return r,
        };
        match edge {
            "insights" => match &req.caller.kind {
                TokenKind::Page { .. } => insights::answer(self, n, &page_id, rest, req),
                _ => reply::page_token_required(),
            },
            "published_posts" | "posts" | "feed" if rest.is_empty() => posts::answer(self, n, &page_id, edge, req),
            other => reply::nonexisting_field(other, "Page"),
        }
    }

    /// The Page's generator number, if it exists and the caller may read it.
    fn readable_page(&self, id: &str, req: &Request<'_>) -> Result<(u64, String), Reply> {
        let state = self.state();
        let Some(record) = state.page(id).filter(|r| r.page.state != super::PageState::Gone) else {
            return Err(reply::object_missing(id));
        };
        let allowed = match &req.caller.kind {
            TokenKind::Page { page_id, .. } => page_id == id,
            TokenKind::User { user_id } => state.users.get(user_id).is_some_and(|p| p.iter().any(|p| p == id)),
            TokenKind::App => true,
        };
        if !allowed {
            return Err(reply::object_missing(id));
        }
        Ok((record.n, record.page.page_id.clone()))
    }

    fn me(&self, req: &Request<'_>) -> Reply {
        match &req.caller.kind {
            TokenKind::Page { page_id, .. } => self.page_node(&page_id.clone(), req),
            TokenKind::User { user_id } => {
                let name = if user_id == super::MANAGER_USER_ID {
                    "Gerente de Oficina".to_string()
                } else {
                    let state = self.state();
                    state
                        .pages
                        .iter()
                        .find(|p| &p.page.user_id == user_id)
                        .map(|p| p.page.agent_name.clone())
                        .unwrap_or_default()
                };
                Reply::ok(json!({ "name": name, "id": user_id }))
            }
            TokenKind::App => reply::GraphError::new(
                400,
                2500,
                "An active access token must be used to query information about the current user.",
            )
            .reply(),
        }
    }

    fn page_node(&self, id: &str, req: &Request<'_>) -> Reply {
        let (n, page_id) = match self.readable_page(id, req) {
            Ok(found) => found,
            Err(r) => return r,
        };
        let fields = req.params.get("fields").map(String::as_str).unwrap_or("name,id");
        let today = self.today();
        let mut body = serde_json::Map::new();
        for field in split_fields(fields) {
            let value = match field {
                "id" => json!(page_id),
                "name" => json!(self.state().page(&page_id).map(|p| p.page.page_name.clone())),
                "access_token" => match self.page_token_for(&page_id, &req.caller) {
                    Some(token) => json!(token),
                    None => continue,
                },
                "followers_count" | "fan_count" => json!(insights::values_for_day(self, n, &page_id, today).followers),
                "category" => json!("Agente inmobiliario"),
                "link" => json!(format!("https://www.facebook.com/{page_id}")),
                f if base_name(f) == "instagram_business_account" => {
                    match instagram::discovery(self, &page_id, field) {
                        Some(account) => account,
                        None => continue,
                    }
                }
                _ => match self.expanded_edge(n, &page_id, field, req) {
                    Ok(Some(value)) => value,
                    Ok(None) => continue,
                    Err(r) => return r,
                },
            };
            body.insert(base_name(field).to_string(), value);
        }
        body.entry("id").or_insert_with(|| json!(page_id));
        Reply::ok(serde_json::Value::Object(body))
    }

    /// Field expansion of an edge on the Page node (`insights.metric(…).since(…)`,
    /// `published_posts.limit(…){…}`): the edge's own answer, inlined. One failing edge fails the
    /// whole request, as on Graph; an empty posts edge is left out.
    fn expanded_edge(
        &self,
        n: u64,
        page_id: &str,
        field: &str,
        req: &Request<'_>,
    ) -> Result<Option<serde_json::Value>, Reply> {
        let edge = base_name(field);
        let params = expansion(field);
        let sub = Request {
            version: req.version,
            params: &params,
            caller: req.caller.clone(),
            origin: req.origin,
        };
        let reply = match edge {
            "insights" => match &req.caller.kind {
                TokenKind::Page { .. } => insights::answer(self, n, page_id, &[], &sub),
                _ => reply::page_token_required(),
            },
            "published_posts" | "posts" | "feed" => posts::answer(self, n, page_id, edge, &sub),
            other => reply::nonexisting_field(other, "Page"),
        };
        if !reply.status.is_success() {
            return Err(reply);
        }
        match reply.body {
            Body::Json(value) if value["data"].as_array().is_some_and(|d| d.is_empty()) && edge != "insights" => {
                Ok(None)
            }
            Body::Json(value) => Ok(Some(value)),
            Body::Html(_) => Ok(None),
        }
    }

    /// The Page token a caller may see: its own for a Page token, a working one for a user who
    /// manages the Page, none otherwise (Graph then omits the field).
    pub(crate) fn page_token_for(&self, page_id: &str, caller: &Caller) -> Option<String> {
        let mut state = self.state();
        match &caller.kind {
            TokenKind::Page { page_id: own, .. } if own == page_id => Some(caller.token.clone()),
            TokenKind::User { user_id } if state.users.get(user_id).is_some_and(|p| p.iter().any(|p| p == page_id)) => {
                state.fresh_page_token(page_id)
            }
            _ => None,
        }
    }
}

pub(crate) fn app_usage(pct: u32) -> String {
    json!({"call_count": pct, "total_cputime": pct / 3, "total_time": pct / 2}).to_string()
}

pub(crate) fn buc_usage(object_id: &str, pct: u32, regain_minutes: u64) -> String {
    json!({ object_id: [{
        "type": "pages",
        "call_count": pct,
        "total_cputime": pct / 3,
        "total_time": pct / 2,
        "estimated_time_to_regain_access": regain_minutes,
    }]})
    .to_string()
}

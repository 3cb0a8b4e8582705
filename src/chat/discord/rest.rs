//! Discord REST as Discord documents its rate limits. Requests are built by serenity (its routes,
//! its authorization and user agent, its multipart form, its `proxy` rewrite of
//! `https://discord.com`) and sent with the same reqwest client serenity holds; rate limiting is
//! pulso's, because serenity's ratelimiter cannot be pointed at `[discord] api_url` and, without
//! it, a 429 reaches the caller with its headers gone and its documented body (no `code`)
//! unreadable.
//!
//! - Buckets come from the `X-RateLimit-*` headers of every answer (`-Bucket` groups routes that
//!   share one, `-Remaining` and `-Reset-After` say when it refills); a request whose bucket is
//!   exhausted waits for the reset *before* it is sent.
//! - A 429 is waited out for the longest of `Retry-After`, the body's `retry_after` and
//!   `X-RateLimit-Reset-After`; a global one (`X-RateLimit-Global`, `"global": true` or scope
//!   `global`) holds every request.
//! - Waits use pulso's [`Clock`], so tests drive them with the manual clock; a request that could
//!   only go out after its `deadline` (an interaction token about to expire) is not sent and
//!   answers [`RestError::Deadline`], so the caller can post elsewhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use serenity::all::{ChannelId, CreateAttachment, MessageId};
use serenity::http::{LightMethod, Multipart, MultipartUpload, Request, Route};

use crate::sync::Clock;

/// Discord's default REST base; anything else (a test server, a proxy) is reached through
/// serenity's `proxy` rewrite.
pub const DISCORD_BASE: &str = "https://discord.com";
/// 429 answers one request may get before pulso gives up on it (each is waited out first).
const MAX_RATE_LIMITED: u32 = 8;

/// Why a Discord call failed.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Discord respondió {status}: {message}")]
    Status {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    #[error("no se pudo hablar con Discord: {0}")]
    Transport(String),
    #[error("Discord siguió limitando la petición tras {MAX_RATE_LIMITED} esperas")]
    RateLimited,
    #[error("la petición solo podría salir después de que venza la interacción")]
    Deadline,
}

impl RestError {
    /// The interaction's token can no longer be used (expired or unknown).
    pub fn interaction_gone(&self) -> bool {
        match self {
            // 10062 Unknown interaction, 10015 Unknown webhook, 50027 Invalid webhook token.
            Self::Status { code, status, .. } => {
                matches!(code, Some(10062 | 10015 | 50027)) || *status == 401 || *status == 404
            }
            Self::Deadline => true,
            _ => false,
        }
    }
}

/// A request body.
pub enum Body {
    Empty,
    Json(Value),
    /// `payload_json` plus one file as `files[0]` (the payload lists it under `attachments`).
    File(Value, CreateAttachment),
}

#[derive(Debug, Clone)]
struct Bucket {
    remaining: i64,
    reset_at: DateTime<Utc>,
}

#[derive(Default)]
struct Limits {
    /// Route key → the bucket id Discord named in `X-RateLimit-Bucket`.
    shared: HashMap<String, String>,
    /// Bucket (shared id or route key, plus the major parameter) → its state.
    buckets: HashMap<String, Bucket>,
    global_until: Option<DateTime<Utc>>,
}

impl Limits {
    fn bucket_id(&self, route: &RouteKey) -> String {
        let name = self.shared.get(&route.key).unwrap_or(&route.key);
        format!("{name}|{}", route.major)
    }

    /// How long a request on `route` must wait now (None: it may go, and is counted).
    fn reserve(&mut self, route: &RouteKey, now: DateTime<Utc>) -> Option<Duration> {
        if let Some(until) = self.global_until
            && until > now
        {
            return (until - now).to_std().ok();
        }
        let id = self.bucket_id(route);
        let bucket = self.buckets.get_mut(&id)?;
        if bucket.reset_at <= now {
            return None;
        }
        if bucket.remaining <= 0 {
            return (bucket.reset_at - now).to_std().ok();
        }
        bucket.remaining -= 1;
        None
    }
}

/// The bucket a path belongs to: the route with its ids as placeholders (`key`), and the major
/// parameter Discord limits separately (a channel, a guild, a webhook or interaction token).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RouteKey {
    key: String,
    major: String,
}

fn route_key(method: &LightMethod, path: &str) -> RouteKey {
    let path = path.split("/api/v10/").nth(1).unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let major = match segments.as_slice() {
        ["channels" | "guilds", id, ..] => format!("{}/{id}", segments[0]),
        ["webhooks" | "interactions", id, token, ..] => format!("{}/{id}/{token}", segments[0]),
        _ => String::new(),
    };
    let templated: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let token_position = i == 2 && matches!(segments[0], "webhooks" | "interactions");
            if token_position || s.chars().all(|c| c.is_ascii_digit()) {
                "{}"
            } else {
                s
            }
        })
        .collect();
    RouteKey {
        key: format!("{method:?} {}", templated.join("/")),
        major,
    }
}

fn header_f64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn header_str<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.clamp(0.0, 3600.0) } else { 1.0 })
}

struct Inner {
    client: reqwest::Client,
    /// The `Authorization` header value, `Bot <token>`.
    authorization: SecretString,
    proxy: Option<String>,
    clock: Arc<dyn Clock>,
    application_id: AtomicU64,
    limits: Mutex<Limits>,
}

/// pulso's Discord REST client. Cheap to clone; clones share their rate-limit state.
#[derive(Clone)]
pub struct DiscordRest {
    inner: Arc<Inner>,
}

impl DiscordRest {
    /// A client for `api_base` (`https://discord.com`, or a proxy or test server).
    pub fn new(api_base: &str, token: &SecretString, application_id: Option<u64>, clock: Arc<dyn Clock>) -> Self {
        let base = api_base.trim_end_matches('/');
        let token = token.expose_secret().trim();
        let authorization = if token.starts_with("Bot ") {
            token.to_string()
        } else {
            format!("Bot {token}")
        };
        Self {
            inner: Arc::new(Inner {
                client: reqwest::Client::builder()
                    .use_rustls_tls()
                    .connect_timeout(Duration::from_secs(10))
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap_or_default(),
                authorization: SecretString::from(authorization),
                proxy: (base != DISCORD_BASE).then(|| base.to_string()),
                clock,
                application_id: AtomicU64::new(application_id.unwrap_or(0)),
                limits: Mutex::default(),
            }),
        }
    }

    /// The reqwest client requests go through (also handed to serenity's `Http`).
    pub fn client(&self) -> reqwest::Client {
        self.inner.client.clone()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The application id (from the configuration or the gateway's Ready).
    pub fn application_id(&self) -> Option<u64> {
        Some(self.inner.application_id.load(Ordering::Relaxed)).filter(|id| *id != 0)
    }

    pub fn set_application_id(&self, id: u64) {
        self.inner.application_id.store(id, Ordering::Relaxed);
    }

    /// Sends one request, waiting first for its bucket (or a global limit) and after every 429 for
    /// as long as Discord says. `deadline`: give up with [`RestError::Deadline`] rather than send
    /// after it. Returns the body of the successful answer.
    pub async fn call(
        &self,
        route: Route<'_>,
        method: LightMethod,
        body: Body,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Vec<u8>, RestError> {
        let key = route_key(&method, &route.path());
        let clock = &self.inner.clock;
        let mut limited = 0;
        loop {
            if deadline.is_some_and(|d| clock.now() >= d) {
                return Err(RestError::Deadline);
            }
            // Wait for the bucket and any global limit before sending.
            loop {
                let now = clock.now();
                let wait = self.inner.limits.lock().expect("rate limits").reserve(&key, now);
                let Some(wait) = wait else { break };
                if deadline.is_some_and(|d| now + wait > d) {
                    return Err(RestError::Deadline);
                }
                tracing::debug!(route = %key.key, wait_ms = wait.as_millis() as u64, "esperando al límite de Discord");
                clock.sleep(wait).await;
            }
            let request = self.build(route, method, &body)?;
            let response = self
                .inner
                .client
                .execute(request)
                .await
                .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
            let now = clock.now();
            let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
            let wait = self.learn(&key, &headers, status, parsed.as_ref(), now);
            if status == 429 {
                limited += 1;
                if limited >= MAX_RATE_LIMITED {
                    return Err(RestError::RateLimited);
                }
                let wait = wait.unwrap_or(Duration::from_secs(1));
                tracing::info!(
                    route = %key.key,
                    wait_ms = wait.as_millis() as u64,
                    "Discord pidió esperar (429)"
                );
                continue;
            }
            if (200..300).contains(&status) {
                return Ok(bytes.to_vec());
            }
            return Err(RestError::Status {
                status,
                code: parsed.as_ref().and_then(|v| v["code"].as_i64()),
                message: parsed
                    .as_ref()
                    .and_then(|v| v["message"].as_str().map(str::to_string))
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
            });
        }
    }

    /// Updates the buckets from an answer's headers; for a 429, records the wait and returns it.
    fn learn(
        &self,
        route: &RouteKey,
        headers: &reqwest::header::HeaderMap,
        status: u16,
        body: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Option<Duration> {
        let mut limits = self.inner.limits.lock().expect("rate limits");
        if let Some(shared) = header_str(headers, "x-ratelimit-bucket") {
            limits.shared.insert(route.key.clone(), shared.to_string());
        }
        let id = limits.bucket_id(route);
        let reset_after = header_f64(headers, "x-ratelimit-reset-after").map(secs);
        if let (Some(remaining), Some(reset_after)) = (header_f64(headers, "x-ratelimit-remaining"), reset_after) {
            limits.buckets.insert(
                id.clone(),
                Bucket {
                    remaining: remaining as i64,
                    reset_at: now + reset_after,
                },
            );
        }
        if status != 429 {
            return None;
        }
        let global = header_str(headers, "x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || header_str(headers, "x-ratelimit-scope") == Some("global")
            || body.is_some_and(|b| b["global"].as_bool() == Some(true));
        let retry_after = [
            header_f64(headers, "retry-after").map(secs),
            body.and_then(|b| b["retry_after"].as_f64()).map(secs),
            (!global).then_some(reset_after).flatten(),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(Duration::from_secs(1));
        let until = now + retry_after;
        if global {
            limits.global_until = Some(limits.global_until.map_or(until, |g| g.max(until)));
        } else {
            limits.buckets.insert(
                id,
                Bucket {
                    remaining: 0,
                    reset_at: until,
                },
            );
        }
        Some(retry_after)
    }

    fn build(&self, route: Route<'_>, method: LightMethod, body: &Body) -> Result<reqwest::Request, RestError> {
        let mut request = Request::new(route, method);
        match body {
            Body::Empty => {}
            Body::Json(v) => request = request.body(Some(v.to_string().into_bytes())),
            Body::File(payload, file) => {
                request = request.multipart(Some(Multipart {
                    upload: MultipartUpload::Attachments(vec![file.clone()]),
                    fields: Vec::new(),
                    payload_json: Some(payload.to_string()),
                }))
            }
        }
        request
            .build(
                &self.inner.client,
                self.inner.authorization.expose_secret(),
                self.inner.proxy.as_deref(),
            )
            .map_err(|e| RestError::Transport(e.to_string()))?
            .build()
            .map_err(|e| RestError::Transport(e.without_url().to_string()))
    }

    /// Posts a message in a channel; returns its id.
    pub async fn send_message(
        &self,
        channel: ChannelId,
        payload: Value,
        file: Option<CreateAttachment>,
    ) -> Result<MessageId, RestError> {
        let body = with_file(payload, file);
        let bytes = self
            .call(
                Route::ChannelMessages { channel_id: channel },
                LightMethod::Post,
                body,
                None,
            )
            .await?;
        message_id(&bytes)
    }

    /// Replaces a channel message's content.
    pub async fn edit_message(&self, channel: ChannelId, message: MessageId, payload: Value) -> Result<(), RestError> {
        self.call(
            Route::ChannelMessage {
                channel_id: channel,
                message_id: message,
            },
            LightMethod::Patch,
            Body::Json(payload),
            None,
        )
        .await
        .map(drop)
    }

    /// The DM channel with a user.
    pub async fn dm_channel(&self, user: u64) -> Result<ChannelId, RestError> {
        let bytes = self
            .call(
                Route::UserMeDmChannels,
                LightMethod::Post,
                Body::Json(serde_json::json!({"recipient_id": user.to_string()})),
                None,
            )
            .await?;
        let id = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["id"].as_str().and_then(|s| s.parse::<u64>().ok()))
            .filter(|id| *id != 0)
            .ok_or_else(|| RestError::Transport("Discord no devolvió el canal privado".into()))?;
        Ok(ChannelId::new(id))
    }
}

/// `payload` with `file` as its only attachment, or as plain JSON.
pub fn with_file(mut payload: Value, file: Option<CreateAttachment>) -> Body {
    match file {
        Some(file) => {
            payload["attachments"] = serde_json::json!([{"id": 0, "filename": file.filename}]);
            Body::File(payload, file)
        }
        None => Body::Json(payload),
    }
}

fn message_id(bytes: &[u8]) -> Result<MessageId, RestError> {
    serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v["id"].as_str().and_then(|s| s.parse::<u64>().ok()))
        .filter(|id| *id != 0)
        .map(MessageId::new)
        .ok_or_else(|| RestError::Transport("Discord no devolvió el mensaje".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::ManualClock;

    #[test]
    fn a_global_429_holds_every_route_and_a_route_429_only_its_own() {
        let start = Utc::now();
        let rest = DiscordRest::new(
            "http://127.0.0.1:9",
            &SecretString::from("t"),
            Some(1),
            Arc::new(ManualClock::starting_at(start)),
        );
        let dm = route_key(&LightMethod::Post, "x/api/v10/users/@me/channels");
        let team = route_key(&LightMethod::Post, "x/api/v10/channels/777/messages");
        let other = route_key(&LightMethod::Post, "x/api/v10/channels/778/messages");
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "1".parse().unwrap());
        h.insert("x-ratelimit-scope", "user".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "2.500".parse().unwrap());
        let body = serde_json::json!({"message": "You are being rate limited.", "retry_after": 2.5, "global": false});
        assert_eq!(
            rest.learn(&team, &h, 429, Some(&body), start),
            Some(Duration::from_millis(2500))
        );
        let mut limits = rest.inner.limits.lock().unwrap();
        assert_eq!(limits.reserve(&team, start), Some(Duration::from_millis(2500)));
        assert_eq!(limits.reserve(&other, start), None, "another channel is another bucket");
        assert_eq!(limits.reserve(&dm, start), None);
        drop(limits);
        let mut g = reqwest::header::HeaderMap::new();
        g.insert("retry-after", "2".parse().unwrap());
        g.insert("x-ratelimit-global", "true".parse().unwrap());
        let body = serde_json::json!({"message": "You are being rate limited.", "retry_after": 1.5, "global": true});
        assert_eq!(
            rest.learn(&dm, &g, 429, Some(&body), start),
            Some(Duration::from_secs(2))
        );
        let mut limits = rest.inner.limits.lock().unwrap();
        assert_eq!(limits.reserve(&other, start), Some(Duration::from_secs(2)));
        assert_eq!(limits.reserve(&other, start + Duration::from_secs(2)), None);
    }

    #[test]
    fn routes_are_bucketed_by_their_major_parameter() {
        let edit = route_key(
            &LightMethod::Patch,
            "https://discord.com/api/v10/webhooks/42/tok1/messages/@original",
        );
        assert_eq!(edit.key, "Patch webhooks/{}/{}/messages/@original");
        assert_eq!(edit.major, "webhooks/42/tok1");
        let other = route_key(
            &LightMethod::Patch,
            "https://discord.com/api/v10/webhooks/42/tok2/messages/@original",
        );
        assert_eq!(other.key, edit.key);
        assert_ne!(other.major, edit.major);
        let channel = route_key(&LightMethod::Post, "http://127.0.0.1:9/api/v10/channels/777/messages");
        assert_eq!(
            (channel.key.as_str(), channel.major.as_str()),
            ("Post channels/{}/messages", "channels/777")
        );
    }
}

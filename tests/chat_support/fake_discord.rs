//! A fake Discord REST API on 127.0.0.1 for serenity's real `Http` client (proxy mode): command
//! registration, interaction callbacks (204; a second one is "already acknowledged"), edits of the
//! original response and follow-ups (JSON or multipart with files), channel messages, DM channels,
//! and Discord's rate limits as documented: routes with a bucket (`X-RateLimit-*` headers on every
//! answer, 429 while it is exhausted), one-off 429s that leave the route exhausted for their
//! `retry_after`, and global 429s; the timeline is a [`Clock`] the test controls, and a request that
//! arrives while its bucket (or the global limit) is still exhausted after Discord said so is
//! recorded as `early`. Message content is read as Discord markdown
//! ([`markup::parse_discord_markdown`]): formatting pulso did not mean is rejected with 400.
//! Interactions are built as the gateway would deliver them, and a WebSocket
//! gateway (`GET /gateway` points serenity at it) says Hello, takes Identify, answers heartbeats,
//! sends Ready and then whatever interactions a test dispatches.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::any;
use chrono::{DateTime, Utc};
use pulso::sync::{Clock, SystemClock};
use serde_json::{Value, json};
use serenity::all::CommandInteraction;

use super::{markup, multipart};

pub const TOKEN: &str = "discord-test-token";
pub const APP_ID: u64 = 4242;
pub const GUILD: u64 = 9000;
pub const CHANNEL: u64 = 9100;

#[derive(Debug, Clone)]
pub struct DCall {
    pub method: String,
    pub path: String,
    /// Interaction token or channel id the call is about.
    pub target: String,
    pub kind: Option<i64>,
    pub flags: i64,
    pub content: Option<String>,
    /// The content as a person reads it (markdown parsed).
    pub text: Option<String>,
    pub files: Vec<(String, Vec<u8>)>,
    pub at: Instant,
    /// Arrival on the fake's clock.
    pub clock_at: DateTime<Utc>,
    pub status: u16,
    /// Sent into a bucket (or global limit) the fake had announced as exhausted.
    pub early: bool,
    /// The message's components (action rows of buttons), as JSON; Null when none.
    pub components: Value,
}

/// A rate-limit bucket on the routes whose path contains its fragment.
#[derive(Debug, Clone)]
struct Bucket {
    fragment: String,
    name: String,
    limit: u32,
    remaining: u32,
    reset_after: f64,
    reset_at: Option<DateTime<Utc>>,
    /// A 429 or `remaining: 0` told the client it is exhausted until `reset_at`.
    announced: bool,
    /// One-off 429s still to give (each leaves the bucket exhausted for `reset_after`).
    forced: u32,
}

#[derive(Debug, Clone, Copy)]
struct Global {
    retry_after: f64,
    until: Option<DateTime<Utc>>,
    pending: bool,
}

#[derive(Default)]
struct St {
    calls: Vec<DCall>,
    acknowledged: HashSet<String>,
    /// When each interaction was acknowledged (its token lives 15 minutes from then).
    acked_at: HashMap<String, DateTime<Utc>>,
    commands: Vec<Value>,
    buckets: Vec<Bucket>,
    global: Option<Global>,
    next_id: u64,
}

#[derive(Clone)]
pub struct FakeDiscord {
    st: Arc<Mutex<St>>,
    clock: Arc<dyn Clock>,
    pub url: String,
    /// `ws://127.0.0.1:PORT` of the gateway.
    pub gateway_url: String,
    dispatch: tokio::sync::broadcast::Sender<Value>,
    /// Identify payloads received, in order.
    identified: Arc<Mutex<Vec<Value>>>,
    /// While true, the gateway drops every session and refuses new ones (Discord unreachable).
    gateway_down: tokio::sync::watch::Sender<bool>,
}

fn message(id: u64, channel: &str, content: &str, files: &[(String, Vec<u8>)]) -> Value {
    let attachments: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            json!({"id": (id * 10 + i as u64).to_string(), "filename": name, "size": bytes.len(),
                   "url": format!("https://cdn.example/{name}"), "proxy_url": format!("https://cdn.example/{name}")})
        })
        .collect();
    json!({
        "id": id.to_string(), "channel_id": channel,
        "author": {"id": APP_ID.to_string(), "username": "pulso", "discriminator": "0000", "avatar": null, "bot": true},
        "content": content, "timestamp": "2026-11-26T18:00:00.000000+00:00", "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": attachments,
        "embeds": [], "pinned": false, "type": 0
    })
}

impl FakeDiscord {
    pub async fn start() -> Self {
        Self::start_with_clock(Arc::new(SystemClock)).await
    }

    /// A fake whose rate-limit timeline is `clock` (share pulso's manual clock to make waits
    /// instant and exact).
    pub async fn start_with_clock(clock: Arc<dyn Clock>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("ws://{}", ws_listener.local_addr().unwrap());
        let fake = FakeDiscord {
            st: Arc::new(Mutex::new(St {
                next_id: 1_000_000,
                ..Default::default()
            })),
            clock,
            url,
            gateway_url,
            dispatch: tokio::sync::broadcast::channel(64).0,
            identified: Arc::default(),
            gateway_down: tokio::sync::watch::channel(false).0,
        };
        let app = Router::new()
            .route("/api/v10/{*rest}", any(handle))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let gateway = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = ws_listener.accept().await {
                if *gateway.gateway_down.borrow() {
                    drop(stream);
                    continue;
                }
                tokio::spawn(gateway.clone().session(stream));
            }
        });
        fake
    }

    /// Closes every gateway session and refuses new ones (true), or accepts them again (false).
    pub fn set_gateway_down(&self, down: bool) {
        self.gateway_down.send_replace(down);
    }

    /// Identify payloads the gateway received so far.
    pub fn identified(&self) -> Vec<Value> {
        self.identified.lock().unwrap().clone()
    }

    /// Sends an `INTERACTION_CREATE` to every connected session.
    pub fn dispatch_interaction(&self, interaction: Value) {
        self.dispatch.send(interaction).expect("a gateway session is connected");
    }

    /// One gateway connection: Hello, Identify → Ready, heartbeat acks, dispatched interactions.
    async fn session(self, stream: tokio::net::TcpStream) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let mut dispatches = self.dispatch.subscribe();
        let mut down = self.gateway_down.subscribe();
        let send = |v: Value| Message::Text(v.to_string());
        if ws
            .send(send(json!({"op": 10, "d": {"heartbeat_interval": 1000}})))
            .await
            .is_err()
        {
            return;
        }
        let mut seq = 0u64;
        loop {
            tokio::select! {
                _ = async { down.wait_for(|d| *d).await.is_ok() } => {
                    let _ = ws.close(None).await;
                    return;
                }
                frame = ws.next() => {
                    let Some(Ok(Message::Text(text))) = frame else {
                        match frame {
                            Some(Ok(_)) => continue,
                            _ => return,
                        }
                    };
                    let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                    let reply = match payload["op"].as_i64() {
                        Some(1) => json!({"op": 11}),
                        Some(2) => {
                            self.identified.lock().unwrap().push(payload["d"].clone());
                            seq += 1;
                            json!({"op": 0, "t": "READY", "s": seq, "d": {
                                "v": 10,
                                "user": {"id": APP_ID.to_string(), "username": "pulso", "discriminator": "0000",
                                         "avatar": null, "bot": true},
                                "guilds": [], "session_id": "fake-session",
                                "resume_gateway_url": self.gateway_url,
                                "application": {"id": APP_ID.to_string(), "flags": 0}
                            }})
                        }
                        // Resume: the session goes on where it was.
                        Some(6) => json!({"op": 0, "t": "RESUMED", "s": seq, "d": {}}),
                        _ => continue,
                    };
                    if ws.send(send(reply)).await.is_err() {
                        return;
                    }
                }
                interaction = dispatches.recv() => {
                    let Ok(interaction) = interaction else { return };
                    seq += 1;
                    let event = json!({"op": 0, "t": "INTERACTION_CREATE", "s": seq, "d": interaction});
                    if ws.send(send(event)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    pub fn calls(&self) -> Vec<DCall> {
        self.st.lock().unwrap().calls.clone()
    }

    pub fn commands(&self) -> Vec<Value> {
        self.st.lock().unwrap().commands.clone()
    }

    /// The next `n` calls whose path contains `fragment` get 429 with Discord's headers and body
    /// (`retry_after` 0.2 s); the route stays exhausted until then.
    pub fn rate_limit_next(&self, fragment: &str, n: u32) {
        self.exhaust(fragment, n, 0.2);
    }

    /// The next `n` calls on `fragment` get a 429 saying `retry_after` seconds (header, body and
    /// `X-RateLimit-Reset-After`), as Discord words it; until then the route stays exhausted.
    pub fn exhaust(&self, fragment: &str, n: u32, retry_after: f64) {
        self.add_bucket(fragment, 5, retry_after, n);
    }

    /// Routes on `fragment` share a bucket of `limit` requests per `reset_after` seconds, announced
    /// in `X-RateLimit-*` headers; a request into the exhausted bucket gets 429.
    pub fn bucket(&self, fragment: &str, limit: u32, reset_after: f64) {
        self.add_bucket(fragment, limit, reset_after, 0);
    }

    fn add_bucket(&self, fragment: &str, limit: u32, reset_after: f64, forced: u32) {
        let mut st = self.st.lock().unwrap();
        let name = format!("bucket-{}", st.buckets.len());
        st.buckets.push(Bucket {
            fragment: fragment.to_string(),
            name,
            limit,
            remaining: limit,
            reset_after,
            reset_at: None,
            announced: false,
            forced,
        });
    }

    /// The next request, on any route, gets a global 429 of `retry_after` seconds; every request
    /// before then gets one too.
    pub fn global_limit_next(&self, retry_after: f64) {
        self.st.lock().unwrap().global = Some(Global {
            retry_after,
            until: None,
            pending: true,
        });
    }

    /// Requests sent into a limit the fake had announced as exhausted.
    pub fn early_requests(&self) -> Vec<DCall> {
        self.calls().into_iter().filter(|c| c.early).collect()
    }

    pub async fn wait_for(&self, timeout: Duration, what: &str, pred: impl Fn(&[DCall]) -> bool) -> Vec<DCall> {
        let start = Instant::now();
        loop {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; calls: {calls:#?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A press of the button with `custom_id` under the bot's message `message_id`, as the gateway
/// delivers it (a message component interaction, type 3); `guild_roles` as in [`interaction`].
pub fn button_press(
    id: u64,
    user: u64,
    guild_roles: Option<&[u64]>,
    custom_id: &str,
    message_id: u64,
) -> serenity::all::ComponentInteraction {
    let mut v = interaction_json(id, user, guild_roles, "x", &[]);
    v["type"] = json!(3);
    v["data"] = json!({"custom_id": custom_id, "component_type": 2});
    v["message"] = message(message_id, &CHANNEL.to_string(), "", &[]);
    serde_json::from_value(v).expect("component interaction JSON")
}

/// An application command as the gateway delivers it. `guild_roles` Some = invoked in the guild by
/// a member with these roles; None = in a DM.
pub fn interaction(
    id: u64,
    user: u64,
    guild_roles: Option<&[u64]>,
    name: &str,
    options: &[(&str, Value)],
) -> CommandInteraction {
    serde_json::from_value(interaction_json(id, user, guild_roles, name, options)).expect("interaction JSON")
}

/// The JSON of [`interaction`], as it travels in an `INTERACTION_CREATE` event.
pub fn interaction_json(
    id: u64,
    user: u64,
    guild_roles: Option<&[u64]>,
    name: &str,
    options: &[(&str, Value)],
) -> Value {
    let options: Vec<Value> = options
        .iter()
        .map(|(n, v)| {
            let kind = if v.is_boolean() { 5 } else { 3 };
            json!({"name": n, "type": kind, "value": v})
        })
        .collect();
    let user_json =
        json!({"id": user.to_string(), "username": format!("u{user}"), "discriminator": "0000", "avatar": null});
    let mut v = json!({
        "id": id.to_string(), "application_id": APP_ID.to_string(), "type": 2,
        "data": {"id": "1", "name": name, "type": 1, "options": options},
        "channel_id": CHANNEL.to_string(), "token": format!("tok{id}"), "version": 1,
        "locale": "es-ES", "entitlements": [], "attachment_size_limit": 10485760,
    });
    match guild_roles {
        Some(roles) => {
            v["guild_id"] = json!(GUILD.to_string());
            v["member"] = json!({
                "user": user_json, "roles": roles.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "deaf": false, "mute": false, "flags": 0, "joined_at": "2024-01-01T00:00:00Z"
            });
        }
        None => v["user"] = user_json,
    }
    v
}

async fn handle(
    State(fake): State<FakeDiscord>,
    method: Method,
    uri: Uri,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bot {TOKEN}")) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 0, "message": "401: Unauthorized"})),
        )
            .into_response();
    }
    let _ = uri;
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (payload, files) = match multipart::boundary(&content_type).filter(|_| content_type.starts_with("multipart/")) {
        Some(b) => {
            let parts = multipart::parse(&body, &b);
            let payload = parts
                .get("payload_json")
                .map(|p| serde_json::from_slice(&p.bytes).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            let mut files: Vec<(String, Vec<u8>)> = parts
                .iter()
                .filter(|(k, _)| k.starts_with("files["))
                .map(|(k, p)| (k.clone(), p.clone()))
                .map(|(_, p)| (p.filename.unwrap_or_default(), p.bytes))
                .collect();
            files.sort();
            (payload, files)
        }
        None => (serde_json::from_slice(&body).unwrap_or(Value::Null), Vec::new()),
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let components = payload.get("components").cloned().unwrap_or(Value::Null);
    let mut st = fake.st.lock().unwrap();
    st.next_id += 1;
    let id = st.next_id;
    let mut call = DCall {
        method: method.to_string(),
        path: rest.clone(),
        target: String::new(),
        kind: None,
        flags: 0,
        content: None,
        text: None,
        files: files.clone(),
        components,
        at: Instant::now(),
        clock_at: fake.clock.now(),
        status: 200,
        early: false,
    };
    call.target = match segments.as_slice() {
        ["webhooks", _, token, ..] | ["interactions", _, token, ..] => token.to_string(),
        ["channels", channel, ..] => channel.to_string(),
        _ => String::new(),
    };
    if let Some(limited) = rate_limit(&mut st, &mut call, &rest) {
        st.calls.push(call);
        return limited;
    }
    let mut headers = Vec::new();
    if let Some(b) = st.buckets.iter().find(|b| rest.contains(b.fragment.as_str())) {
        let reset = b
            .reset_at
            .map(|r| (r - call.clock_at).num_milliseconds().max(0) as f64 / 1000.0);
        headers = vec![
            ("x-ratelimit-bucket", b.name.clone()),
            ("x-ratelimit-limit", b.limit.to_string()),
            ("x-ratelimit-remaining", b.remaining.to_string()),
            (
                "x-ratelimit-reset-after",
                format!("{:.3}", reset.unwrap_or(b.reset_after)),
            ),
        ];
    }
    if let Some(md) = payload
        .get("content")
        .or_else(|| payload["data"].get("content"))
        .and_then(Value::as_str)
    {
        match markup::parse_discord_markdown(md) {
            Ok(text) => call.text = Some(text),
            Err(why) => {
                call.status = 400;
                st.calls.push(call);
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"code": 50035, "message": format!("Invalid Form Body (fake: {why})")})),
                )
                    .into_response();
            }
        }
    }
    if let ["webhooks", _, token, ..] = segments.as_slice()
        && st
            .acked_at
            .get(*token)
            .is_some_and(|at| call.clock_at >= *at + chrono::Duration::minutes(15))
    {
        call.status = 401;
        st.calls.push(call);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 50027, "message": "Invalid Webhook Token"})),
        )
            .into_response();
    }
    let response = match (method.as_str(), segments.as_slice()) {
        ("PUT", ["applications", _, "commands"]) | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            let list = payload.as_array().cloned().unwrap_or_default();
            let echoed: Vec<Value> = list
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let mut c = c.clone();
                    c["id"] = json!((5000 + i).to_string());
                    c["application_id"] = json!(APP_ID.to_string());
                    c["version"] = json!("1");
                    c["type"] = json!(1);
                    if c.get("options").is_none() {
                        c["options"] = json!([]);
                    }
                    c
                })
                .collect();
            st.commands = list;
            Json(Value::Array(echoed)).into_response()
        }
        ("POST", ["interactions", _, token, "callback"]) => {
            call.target = token.to_string();
            call.kind = payload["type"].as_i64();
            call.flags = payload["data"]["flags"].as_i64().unwrap_or(0);
            call.content = payload["data"]["content"].as_str().map(str::to_string);
            st.acked_at.entry(token.to_string()).or_insert(call.clock_at);
            if !st.acknowledged.insert(token.to_string()) {
                call.status = 400;
                st.calls.push(call);
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"code": 40060, "message": "Interaction has already been acknowledged."})),
                )
                    .into_response();
            }
            call.status = 204;
            StatusCode::NO_CONTENT.into_response()
        }
        ("PATCH", ["webhooks", _, token, "messages", "@original"]) => {
            call.target = token.to_string();
            call.content = payload["content"].as_str().map(str::to_string);
            if !st.acknowledged.contains(*token) {
                call.status = 404;
                st.calls.push(call);
                return (StatusCode::NOT_FOUND, Json(json!({"code": 10062, "message": "Unknown interaction"})))
                    .into_response();
            }
            Json(message(id, &CHANNEL.to_string(), call.content.as_deref().unwrap_or(""), &files)).into_response()
        }
        ("POST", ["webhooks", _, token]) => {
            call.target = token.to_string();
            call.content = payload["content"].as_str().map(str::to_string);
            call.flags = payload["flags"].as_i64().unwrap_or(0);
            Json(message(id, &CHANNEL.to_string(), call.content.as_deref().unwrap_or(""), &files)).into_response()
        }
        ("POST", ["channels", channel, "messages"]) => {
            call.target = channel.to_string();
            call.content = payload["content"].as_str().map(str::to_string);
            Json(message(id, channel, call.content.as_deref().unwrap_or(""), &files)).into_response()
        }
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = payload["recipient_id"].as_str().unwrap_or("0").to_string();
            call.target = recipient.clone();
            let channel = format!("8{recipient}");
            Json(json!({
                "id": channel, "type": 1, "last_message_id": null,
                "recipients": [{"id": recipient, "username": "agent", "discriminator": "0000", "avatar": null}]
            }))
            .into_response()
        }
        ("GET", ["gateway"]) => Json(json!({"url": fake.gateway_url})).into_response(),
        ("GET", ["gateway", "bot"]) => Json(json!({
            "url": fake.gateway_url, "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}
        }))
        .into_response(),
        ("GET", ["users", "@me"]) => {
            Json(json!({"id": APP_ID.to_string(), "username": "pulso", "discriminator": "0000", "avatar": null, "bot": true}))
                .into_response()
        }
        _ => {
            call.status = 404;
            st.calls.push(call);
            return (StatusCode::NOT_FOUND, Json(json!({"code": 0, "message": "404: Not Found"}))).into_response();
        }
    };
    st.calls.push(call);
    let mut response = response;
    for (name, value) in headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// Discord's 429 for `call`, if its route (or the global limit) is exhausted now; otherwise the
/// request is counted in its bucket.
fn rate_limit(st: &mut St, call: &mut DCall, path: &str) -> Option<Response> {
    let limited = limit_check(st, call, path);
    if limited.is_some() {
        call.status = 429;
    }
    limited
}

fn limit_check(st: &mut St, call: &mut DCall, path: &str) -> Option<Response> {
    let now = call.clock_at;
    let too_many = |retry_after: f64, global: bool, bucket: Option<&str>| {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global})),
        )
            .into_response();
        let h = response.headers_mut();
        h.insert("retry-after", format!("{}", retry_after.ceil() as u64).parse().unwrap());
        h.insert(
            "x-ratelimit-scope",
            if global { "global" } else { "user" }.parse().unwrap(),
        );
        if global {
            h.insert("x-ratelimit-global", "true".parse().unwrap());
        } else {
            h.insert("x-ratelimit-limit", "5".parse().unwrap());
            h.insert("x-ratelimit-remaining", "0".parse().unwrap());
            h.insert("x-ratelimit-reset-after", format!("{retry_after:.3}").parse().unwrap());
        }
        if let Some(name) = bucket {
            h.insert("x-ratelimit-bucket", name.parse().unwrap());
        }
        response
    };
    if let Some(g) = &mut st.global {
        if let Some(until) = g.until
            && now < until
        {
            call.early = true;
            let left = (until - now).num_milliseconds() as f64 / 1000.0;
            return Some(too_many(left, true, None));
        }
        if g.pending {
            g.pending = false;
            g.until = Some(now + chrono::Duration::milliseconds((g.retry_after * 1000.0) as i64));
            let retry_after = g.retry_after;
            return Some(too_many(retry_after, true, None));
        }
    }
    let b = st.buckets.iter_mut().find(|b| path.contains(b.fragment.as_str()))?;
    let window = chrono::Duration::milliseconds((b.reset_after * 1000.0) as i64);
    if b.reset_at.is_none_or(|r| now >= r) {
        b.remaining = b.limit;
        b.reset_at = Some(now + window);
        b.announced = false;
    }
    let reset_at = b.reset_at.unwrap();
    if b.remaining == 0 {
        call.early = b.announced;
        b.announced = true;
        let left = (reset_at - now).num_milliseconds() as f64 / 1000.0;
        let name = b.name.clone();
        return Some(too_many(left, false, Some(&name)));
    }
    if b.forced > 0 {
        b.forced -= 1;
        b.remaining = 0;
        b.reset_at = Some(now + window);
        b.announced = true;
        let (after, name) = (b.reset_after, b.name.clone());
        return Some(too_many(after, false, Some(&name)));
    }
    b.remaining -= 1;
    if b.remaining == 0 {
        b.announced = true;
    }
    None
}

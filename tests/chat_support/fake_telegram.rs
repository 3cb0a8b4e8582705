//! A fake Telegram Bot API on 127.0.0.1 for the real teloxide client: getMe, getWebhookInfo,
//! deleteWebhook, setMyCommands, setWebhook, long-polled getUpdates, sendMessage, editMessageText
//! ("not modified" and "not found" as Telegram words them), sendPhoto / sendDocument (multipart,
//! `attach://` resolved), and injectable faults (429 with retry_after, 403, any description).
//! Every text or caption sent with `parse_mode=HTML` goes through Telegram's HTML rules
//! ([`markup::parse_telegram_html`]): invalid markup gets Telegram's "can't parse entities" 400
//! and is not delivered, so every test through this fake checks pulso's HTML.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Notify;

use super::{markup, multipart};

pub const TOKEN: &str = "123456:TEST";
pub const BOT_ID: i64 = 999;
pub const BOT_NAME: &str = "PulsoBot";

/// One request the bot made, as recorded.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub chat_id: Option<i64>,
    pub message_id: Option<i64>,
    pub text: Option<String>,
    /// The text as the person reads it (HTML parsed), when it was sent as HTML and was valid.
    pub rendered: Option<String>,
    /// Telegram's error description when the HTML was rejected.
    pub markup_error: Option<String>,
    /// `parse_mode` as sent ("HTML"), for text and captions.
    pub parse_mode: Option<String>,
    pub file_name: Option<String>,
    pub bytes: Vec<u8>,
    pub at: Instant,
    /// Whether the fake answered with an error.
    pub failed: bool,
    /// The inline keyboard sent with the message, as JSON.
    pub reply_markup: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum Fault {
    RetryAfter(u32),
    /// Any error description, e.g. "Forbidden: bot can't initiate conversation with a user".
    Error(u16, String),
}

#[derive(Default)]
struct State_ {
    updates: VecDeque<Value>,
    next_update: i64,
    /// (chat, message id) → current text.
    messages: HashMap<(i64, i64), String>,
    next_message: HashMap<i64, i64>,
    calls: Vec<Call>,
    /// Injection time of each update id, for latency measurements.
    injected: HashMap<i64, Instant>,
    faults: HashMap<String, VecDeque<(Option<i64>, Fault)>>,
    commands: Vec<Value>,
    webhook: Option<(String, String)>,
    /// While set, every getUpdates is answered with an error (Telegram unreachable for polling).
    updates_down: bool,
}

#[derive(Clone)]
pub struct FakeTelegram {
    state: Arc<Mutex<State_>>,
    notify: Arc<Notify>,
    pub url: String,
}

fn ok(result: Value) -> Response {
    Json(json!({"ok": true, "result": result})).into_response()
}

fn error(code: u16, description: &str) -> Response {
    (
        axum::http::StatusCode::from_u16(code).unwrap(),
        Json(json!({"ok": false, "error_code": code, "description": description})),
    )
        .into_response()
}

fn retry_after(secs: u32) -> Response {
    (
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "ok": false, "error_code": 429,
            "description": format!("Too Many Requests: retry after {secs}"),
            "parameters": {"retry_after": secs}
        })),
    )
        .into_response()
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "Pulso", "username": BOT_NAME})
}

fn chat_json(id: i64) -> Value {
    if id > 0 {
        json!({"id": id, "type": "private", "first_name": format!("U{id}")})
    } else {
        json!({"id": id, "type": "group", "title": "Equipo"})
    }
}

/// Request fields as strings or JSON, from a JSON or multipart body.
struct Fields {
    json: Value,
    parts: HashMap<String, multipart::Part>,
}

impl Fields {
    fn get(&self, key: &str) -> Option<Value> {
        if let Some(v) = self.json.get(key) {
            return Some(v.clone());
        }
        self.parts.get(key).map(|p| {
            let t = p.text();
            serde_json::from_str(&t).unwrap_or(Value::String(t))
        })
    }

    fn i64(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }

    /// The uploaded file of field `key` (`attach://<name>` points at another part).
    fn file(&self, key: &str) -> Option<multipart::Part> {
        let reference = self.parts.get(key)?.text();
        match reference.strip_prefix("attach://") {
            Some(name) => self.parts.get(name).cloned(),
            None => self.parts.get(key).cloned(),
        }
    }
}

impl FakeTelegram {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State_ {
            next_update: 1,
            ..Default::default()
        }));
        let notify = Arc::new(Notify::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeTelegram { state, notify, url };
        let app = Router::new()
            .route("/{bot}/{method}", post(handle))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// Queues a text message from `user` in `chat` (a private chat when chat == user).
    pub fn inject(&self, user: i64, chat: i64, text: &str) -> i64 {
        let mut s = self.state.lock().unwrap();
        let id = s.next_update;
        s.next_update += 1;
        let mut message = json!({
            "message_id": 10_000 + id,
            "date": 1_790_000_000,
            "chat": chat_json(chat),
            "from": {"id": user, "is_bot": false, "first_name": format!("U{user}")},
            "text": text,
        });
        if text.starts_with('/') {
            let len = text.split_whitespace().next().unwrap_or("").encode_utf16().count();
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": len}]);
        }
        s.updates.push_back(json!({"update_id": id, "message": message}));
        s.injected.insert(id, Instant::now());
        drop(s);
        self.notify.notify_waiters();
        id
    }

    /// Queues a press by `user` of an inline button carrying `data` under the bot's message
    /// `message_id` in `chat`.
    pub fn inject_callback(&self, user: i64, chat: i64, message_id: i64, data: &str) -> i64 {
        let mut s = self.state.lock().unwrap();
        let id = s.next_update;
        s.next_update += 1;
        let text = s.messages.get(&(chat, message_id)).cloned().unwrap_or_default();
        let query = json!({
            "id": format!("cb{id}"),
            "from": {"id": user, "is_bot": false, "first_name": format!("U{user}")},
            "message": {
                "message_id": message_id, "date": 1_790_000_000, "chat": chat_json(chat),
                "from": bot_user(), "text": text,
            },
            "chat_instance": format!("ci{chat}"),
            "data": data,
        });
        s.updates.push_back(json!({"update_id": id, "callback_query": query}));
        s.injected.insert(id, Instant::now());
        drop(s);
        self.notify.notify_waiters();
        id
    }

    /// Makes every getUpdates fail (true) or work again (false).
    pub fn set_updates_down(&self, down: bool) {
        self.state.lock().unwrap().updates_down = down;
        self.notify.notify_waiters();
    }

    pub fn injected_at(&self, update: i64) -> Option<Instant> {
        self.state.lock().unwrap().injected.get(&update).copied()
    }

    /// The next call of `method` (for `chat`, if given) gets `fault`.
    pub fn fail_next(&self, method: &str, chat: Option<i64>, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(method.to_string())
            .or_default()
            .push_back((chat, fault));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn commands(&self) -> Vec<Value> {
        self.state.lock().unwrap().commands.clone()
    }

    pub fn webhook(&self) -> Option<(String, String)> {
        self.state.lock().unwrap().webhook.clone()
    }

    /// Current text of a message.
    pub fn message_text(&self, chat: i64, id: i64) -> Option<String> {
        self.state.lock().unwrap().messages.get(&(chat, id)).cloned()
    }

    /// Calls whose HTML Telegram would have rejected.
    pub fn markup_errors(&self) -> Vec<Call> {
        self.calls().into_iter().filter(|c| c.markup_error.is_some()).collect()
    }

    /// Waits until `pred` holds over the calls, or panics after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, what: &str, pred: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let start = Instant::now();
        loop {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; calls: {:#?}", summary(&calls));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until no call arrived for `quiet`.
    pub async fn settle(&self, quiet: Duration) {
        loop {
            let n = self.calls().len();
            tokio::time::sleep(quiet).await;
            if self.calls().len() == n {
                return;
            }
        }
    }
}

pub fn summary(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            format!(
                "{} chat={:?} id={:?} failed={} {:?}{}",
                c.method,
                c.chat_id,
                c.message_id,
                c.failed,
                c.text.as_deref().map(|t| t.chars().take(80).collect::<String>()),
                c.markup_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            )
        })
        .collect()
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot != format!("bot{TOKEN}") {
        return error(401, "Unauthorized");
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let fields = if let Some(b) = multipart::boundary(&content_type).filter(|_| content_type.starts_with("multipart/"))
    {
        Fields {
            json: Value::Null,
            parts: multipart::parse(&body, &b),
        }
    } else {
        Fields {
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            parts: HashMap::new(),
        }
    };
    // Telegram's method names are case-insensitive (teloxide sends "GetMe"); record them camelCase.
    let method = canonical(&method);
    if method == "getUpdates" {
        if fake.state.lock().unwrap().updates_down {
            return error(502, "Bad Gateway");
        }
        return get_updates(&fake, &fields).await;
    }
    let chat = fields.i64("chat_id");
    let mut call = Call {
        method: method.clone(),
        chat_id: chat,
        message_id: fields.i64("message_id"),
        text: fields.str("text").or_else(|| fields.str("caption")),
        rendered: None,
        markup_error: None,
        parse_mode: fields.str("parse_mode"),
        file_name: None,
        bytes: Vec::new(),
        at: Instant::now(),
        failed: false,
        reply_markup: fields.get("reply_markup"),
    };
    let mut s = fake.state.lock().unwrap();
    // Injected faults first.
    if let Some(queue) = s.faults.get_mut(&method)
        && let Some(pos) = queue.iter().position(|(c, _)| c.is_none() || *c == chat)
    {
        let (_, fault) = queue.remove(pos).unwrap();
        call.failed = true;
        s.calls.push(call);
        return match fault {
            Fault::RetryAfter(secs) => retry_after(secs),
            Fault::Error(code, description) => error(code, &description),
        };
    }
    if matches!(
        method.as_str(),
        "sendMessage" | "editMessageText" | "sendPhoto" | "sendDocument"
    ) && fields.str("parse_mode").is_some_and(|m| m.eq_ignore_ascii_case("HTML"))
    {
        let limit = if method == "sendMessage" || method == "editMessageText" {
            4096
        } else {
            1024
        };
        match markup::parse_telegram_html(call.text.as_deref().unwrap_or("")) {
            Ok(text) if text.encode_utf16().count() > limit => {
                call.failed = true;
                call.markup_error = Some("Bad Request: message is too long".into());
                s.calls.push(call);
                return error(400, "Bad Request: message is too long");
            }
            Ok(text) => call.rendered = Some(text),
            Err(description) => {
                call.failed = true;
                call.markup_error = Some(description.clone());
                s.calls.push(call);
                return error(400, &description);
            }
        }
    }
    let response = match method.as_str() {
        "getMe" => {
            let mut me = bot_user();
            me["can_join_groups"] = json!(true);
            me["can_read_all_group_messages"] = json!(false);
            me["supports_inline_queries"] = json!(false);
            me["has_main_web_app"] = json!(false);
            ok(me)
        }
        "getWebhookInfo" => ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})),
        "deleteWebhook" | "sendChatAction" | "answerCallbackQuery" => ok(json!(true)),
        "setWebhook" => {
            s.webhook = Some((
                fields.str("url").unwrap_or_default(),
                fields.str("secret_token").unwrap_or_default(),
            ));
            ok(json!(true))
        }
        "setMyCommands" => {
            let commands = fields.get("commands").unwrap_or(Value::Null);
            let valid = commands.as_array().is_some_and(|list| {
                list.iter().all(|c| {
                    let name = c["command"].as_str().unwrap_or("");
                    let desc = c["description"].as_str().unwrap_or("");
                    (1..=32).contains(&name.len())
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                        && (1..=256).contains(&desc.chars().count())
                })
            });
            if !valid {
                call.failed = true;
                s.calls.push(call);
                return error(400, "Bad Request: BOT_COMMAND_INVALID");
            }
            s.commands = commands.as_array().cloned().unwrap_or_default();
            ok(json!(true))
        }
        "sendMessage" | "sendPhoto" | "sendDocument" => {
            let Some(chat) = chat else {
                return error(400, "Bad Request: chat not found");
            };
            let id = {
                let n = s.next_message.entry(chat).or_insert(0);
                *n += 1;
                *n
            };
            let mut message = json!({
                "message_id": id, "date": 1_790_000_000, "chat": chat_json(chat), "from": bot_user(),
            });
            let text = call.text.clone().unwrap_or_default();
            match method.as_str() {
                "sendMessage" => message["text"] = json!(text),
                "sendPhoto" => {
                    let file = fields.file("photo").unwrap_or_default();
                    call.file_name = file.filename.clone();
                    call.bytes = file.bytes.clone();
                    message["photo"] = json!([{"file_id": "f", "file_unique_id": "u", "width": 1080, "height": 800, "file_size": file.bytes.len()}]);
                    if !text.is_empty() {
                        message["caption"] = json!(text);
                    }
                }
                _ => {
                    let file = fields.file("document").unwrap_or_default();
                    call.file_name = file.filename.clone();
                    call.bytes = file.bytes.clone();
                    message["document"] = json!({"file_id": "d", "file_unique_id": "du", "file_name": file.filename});
                    if !text.is_empty() {
                        message["caption"] = json!(text);
                    }
                }
            }
            call.message_id = Some(id);
            s.messages.insert((chat, id), text);
            ok(message)
        }
        "editMessageText" => {
            let (Some(chat), Some(id)) = (chat, call.message_id) else {
                return error(400, "Bad Request: message to edit not found");
            };
            let text = call.text.clone().unwrap_or_default();
            match s.messages.get(&(chat, id)) {
                None => {
                    call.failed = true;
                    s.calls.push(call);
                    return error(400, "Bad Request: message to edit not found");
                }
                Some(current) if *current == text => {
                    call.failed = true;
                    s.calls.push(call);
                    return error(
                        400,
                        "Bad Request: message is not modified: specified new message content and reply markup are \
                         exactly the same as a current content and reply markup of the message",
                    );
                }
                Some(_) => {}
            }
            s.messages.insert((chat, id), text.clone());
            ok(json!({
                "message_id": id, "date": 1_790_000_000, "edit_date": 1_790_000_001,
                "chat": chat_json(chat), "from": bot_user(), "text": text,
            }))
        }
        _ => error(400, &format!("Bad Request: method {method} not found")),
    };
    s.calls.push(call);
    response
}

async fn get_updates(fake: &FakeTelegram, fields: &Fields) -> Response {
    let offset = fields.i64("offset").unwrap_or(0);
    let limit = fields.i64("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(fields.i64("timeout").unwrap_or(0).clamp(0, 5) as u64);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = fake.notify.notified();
        {
            let mut s = fake.state.lock().unwrap();
            s.updates.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
            if !s.updates.is_empty() || tokio::time::Instant::now() >= deadline {
                let batch: Vec<Value> = s.updates.iter().take(limit).cloned().collect();
                return ok(Value::Array(batch));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return ok(json!([]));
        }
    }
}

fn canonical(method: &str) -> String {
    const KNOWN: [&str; 13] = [
        "answerCallbackQuery",
        "getMe",
        "getUpdates",
        "getWebhookInfo",
        "deleteWebhook",
        "setWebhook",
        "setMyCommands",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
        "editMessageText",
        "close",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(method))
        .map(|k| k.to_string())
        .unwrap_or_else(|| method.to_string())
}

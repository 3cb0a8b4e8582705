//! Shared helpers: a replay server for recorded Graph bodies, a recording call gate, clients.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use pulso::facebook::{CallGate, GateClosed, GraphClient, GraphConfig};
use secrecy::SecretString;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/graph/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn client(base: &str, secret: Option<&str>) -> GraphClient {
    client_with_timeout(base, secret, Duration::from_secs(5))
}

pub fn client_with_timeout(base: &str, secret: Option<&str>, timeout: Duration) -> GraphClient {
    GraphClient::new(GraphConfig {
        base_url: base.to_string(),
        api_version: "v25.0".to_string(),
        app_id: "1234567890".to_string(),
        app_secret: secret.map(|s| SecretString::from(s.to_string())),
        timeout,
    })
}

/// One recorded response.
#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Canned {
    pub fn json(status: u16, fixture_name: &str) -> Self {
        Canned {
            status,
            body: fixture(fixture_name),
            headers: vec![("content-type", "application/json; charset=UTF-8".to_string())],
        }
    }

    pub fn raw(status: u16, body: &[u8], content_type: &str) -> Self {
        Canned {
            status,
            body: body.to_vec(),
            headers: vec![("content-type", content_type.to_string())],
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// What the client sent.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

/// A server on 127.0.0.1 answering queued recorded bodies in order.
#[derive(Clone, Default)]
pub struct Replay {
    queue: Arc<Mutex<VecDeque<Canned>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Replay {
    pub async fn start(responses: Vec<Canned>) -> (Self, String) {
        let replay = Replay::default();
        replay.queue.lock().unwrap().extend(responses);
        let app = axum::Router::new().fallback(answer).with_state(replay.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (replay, format!("http://{addr}"))
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(r): State<Replay>, uri: Uri, headers: HeaderMap) -> Response {
    r.seen.lock().unwrap().push(Seen {
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
    let Some(canned) = r.queue.lock().unwrap().pop_front() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "replay queue empty").into_response();
    };
    let mut response = (StatusCode::from_u16(canned.status).unwrap(), canned.body).into_response();
    for (name, value) in canned.headers {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), HeaderValue::from_str(&value).unwrap());
    }
    response
}

/// A gate that counts calls, records usage and can refuse after a number of calls.
#[derive(Default)]
pub struct RecordingGate {
    pub opened: AtomicU32,
    pub usage: Mutex<Vec<u32>>,
    pub allow: Option<u32>,
}

impl RecordingGate {
    pub fn allowing(n: u32) -> Self {
        RecordingGate {
            allow: Some(n),
            ..Self::default()
        }
    }

    pub fn opened(&self) -> u32 {
        self.opened.load(Ordering::SeqCst)
    }

    pub fn usage(&self) -> Vec<u32> {
        self.usage.lock().unwrap().clone()
    }
}

impl CallGate for RecordingGate {
    async fn before_call(&self) -> Result<(), GateClosed> {
        let n = self.opened.fetch_add(1, Ordering::SeqCst);
        match self.allow {
            Some(limit) if n >= limit => {
                self.opened.fetch_sub(1, Ordering::SeqCst);
                Err(GateClosed {
                    resume_at: None,
                    reason: "budget spent".to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    fn observe_usage(&self, pct: u32) {
        self.usage.lock().unwrap().push(pct);
    }
}

//! The operator's HTTP surface: `GET /salud` (liveness and readiness as JSON) on `http.listen`,
//! next to the public Facebook Login callback, and `GET /metrics` (Prometheus text format) from
//! [`metrics_router`], served on its own listener `http.metrics_listen` (or merged into the main
//! one when that is empty) and, with `http.metrics_token` set, only to `Authorization: Bearer …`.
//! Both return plain `axum::Router`s, so other routes are added with `Router::merge` before
//! [`serve`].

pub mod health;
pub mod metrics;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;

use crate::store::Store;
use crate::sync::Clock;

pub use health::{AdapterStatus, Health, HealthReport};

/// What the handlers read. Clone it freely.
#[derive(Clone)]
pub struct HttpState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The adapters registry; chat adapters report connected/disconnected here.
    pub health: Health,
    /// Hourly Graph API budget in calls, for the budget gauges before the first call of a window.
    pub hourly_budget: i64,
    /// Longest wait for the database before `/salud` reports it down.
    pub db_timeout: Duration,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<SecretString>,
    /// The database gauges are read from the store at most this often, however often Prometheus
    /// scrapes; scrapes in between render the values already recorded.
    pub gauges_max_age: Duration,
    gauges_refreshed: Arc<Mutex<Option<Instant>>>,
}

impl HttpState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, health: Health, hourly_budget: i64) -> Self {
        Self {
            store,
            clock,
            health,
            hourly_budget,
            db_timeout: Duration::from_secs(3),
            metrics_token: None,
            gauges_max_age: Duration::from_secs(15),
            gauges_refreshed: Arc::default(),
        }
    }

    /// True when the database gauges are older than `gauges_max_age` (and marks them refreshed).
    fn gauges_due(&self) -> bool {
        let mut last = self.gauges_refreshed.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|at| at.elapsed() >= self.gauges_max_age);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

/// `/salud`, for the public listener.
pub fn router(state: HttpState) -> Router {
    Router::new().route("/salud", get(salud)).with_state(state)
}

/// `/metrics`, for `http.metrics_listen` (or merged into [`router`]'s listener when that is
/// empty). Installs the Prometheus recorder if nobody did yet.
pub fn metrics_router(state: HttpState) -> Router {
    metrics::install();
    Router::new().route("/metrics", get(prometheus)).with_state(state)
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    serve_with_shutdown(listener, router, std::future::pending()).await
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "servidor HTTP escuchando");
    }
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}

async fn salud(State(state): State<HttpState>) -> Response {
    let report = health::check(&state).await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

/// Compares in time independent of where the first difference is.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn prometheus(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.expose_secret().as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "se requiere Authorization: Bearer con http.metrics_token\n",
            )
                .into_response();
        }
    }
    let handle = metrics::install();
    if state.gauges_due() {
        metrics::refresh(
            state.store.as_ref(),
            state.clock.as_ref(),
            state.hourly_budget,
            state.db_timeout,
        )
        .await;
    }
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}

//! The operator's HTTP surface (`http.listen`): `GET /salud` (liveness and readiness as JSON) and
//! `GET /metrics` (Prometheus text format). [`router`] returns a plain `axum::Router`, so other
//! routes (the Facebook Login callback of `/conectar`) are added with `Router::merge` before
//! [`serve`].

pub mod health;
pub mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::store::Store;
use crate::sync::Clock;

pub use health::{AdapterStatus, Health, HealthReport};
pub use metrics::record_command;

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
}

impl HttpState {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, health: Health, hourly_budget: i64) -> Self {
        Self {
            store,
            clock,
            health,
            hourly_budget,
            db_timeout: Duration::from_secs(3),
        }
    }
}

/// `/salud` and `/metrics`. Installs the Prometheus recorder if nobody did yet.
pub fn router(state: HttpState) -> Router {
    metrics::install();
    Router::new()
        .route("/salud", get(salud))
        .route("/metrics", get(prometheus))
        .with_state(state)
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
        tracing::info!(%addr, "servidor HTTP escuchando (/salud, /metrics)");
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

async fn prometheus(State(state): State<HttpState>) -> Response {
    let handle = metrics::install();
    metrics::refresh(
        state.store.as_ref(),
        state.clock.as_ref(),
        state.hourly_budget,
        state.db_timeout,
    )
    .await;
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}

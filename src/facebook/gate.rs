//! The hook through which the sync engine meters every Graph API request.

use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};

/// Asked before every HTTP request and told the usage seen after every response.
///
/// `before_call` returns `impl Future` (not a boxed future) so implementations stay plain `async fn`s;
/// the trait is therefore not object-safe, and callers pass `&impl CallGate` (the `?Sized` bound in
/// [`super::GraphClient::fetch_agent`] is harmless but cannot admit `dyn CallGate`).
pub trait CallGate: Send + Sync {
    /// Reserves budget for one request; `Err` stops the fetch with `FetchError::Gate`.
    fn before_call(&self) -> impl Future<Output = Result<(), GateClosed>> + Send;
    /// The highest usage percentage found in the response's usage headers.
    fn observe_usage(&self, pct: u32);
}

/// Why the engine refused a request, and when it may be tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateClosed {
    pub resume_at: Option<DateTime<Utc>>,
    pub reason: String,
}

impl fmt::Display for GateClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.resume_at {
            Some(at) => write!(f, "{} (until {})", self.reason, at.to_rfc3339()),
            None => f.write_str(&self.reason),
        }
    }
}

/// A gate that always opens and ignores usage: for tests, tools and token endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGate;

impl CallGate for NoGate {
    async fn before_call(&self) -> Result<(), GateClosed> {
        Ok(())
    }

    fn observe_usage(&self, _pct: u32) {}
}

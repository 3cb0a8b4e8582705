//! Logging: human-readable by default, JSON with `log.format = "json"`.
//!
//! Identifiers are structured fields, never part of the message: `job_id`, `agent_id`, `command`,
//! `alert`/`alert_id`. In JSON they sit at the top level of each line (flattened), so collectors can
//! filter on them. What is never logged: tokens, e-mail bodies, the full text of chat messages.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::Config;

pub fn init(config: &Config) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    // try_init: tests and embedded uses may already have a subscriber.
    if config.log.format == "json" {
        let _ = json_subscriber(filter, std::io::stderr).try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// One JSON object per line with the event's fields at the top level.
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .finish()
}

/// An error and its causes on one line, each cause once: `a: b: c`, skipping a cause whose text
/// the message already carries (thiserror's `"…: {0}"` plus `#[source]` would print it twice).
pub struct Chain<'a, E: ?Sized>(pub &'a E);

impl<E: std::error::Error + ?Sized> std::fmt::Display for Chain<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        f.write_str(&shown)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.is_empty() && !shown.contains(&text) {
                write!(f, ": {text}")?;
                shown.push_str(&text);
            }
            source = cause.source();
        }
        Ok(())
    }
}

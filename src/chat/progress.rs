//! Following a sync in one chat message: the adapter sends the first text, then [`follow`] edits
//! it as the engine's events arrive — at most one edit per debounce window, always ending with the
//! report — and copes with "message is not modified" and retry-after answers.
//!
//! A chat whose sink has an address is also recorded in the database as waiting for the job's
//! report: if this process stops or dies before the job ends, whichever process ends it sends the
//! report there (the report delivery task); the report goes out once, claimed in the database.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono_tz::Tz;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Instant, sleep_until, timeout};

use super::replies;
use crate::domain::JobId;
use crate::store::{NewSubscriber, Store};
use crate::sync::{Progress, SyncEvent};

/// Default minimum gap between two edits of one progress message.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_secs(2);
/// Retries of the final edit before giving up on editing (the adapter then sends a new message).
const FINAL_ATTEMPTS: u32 = 5;
/// How long without events before the job row is checked (a crashed engine sends no report).
const QUIET_CHECK: Duration = Duration::from_secs(60);

/// A running sync whose progress a reply follows.
pub struct ProgressJob {
    pub job_id: JobId,
    /// The text of the message the adapter sends first.
    pub initial_text: String,
    events: broadcast::Receiver<SyncEvent>,
    store: Arc<dyn Store>,
    tz: Tz,
    /// Who asked and which process follows: set for chats that must get the report in any case.
    asked: Option<Asked>,
}

#[derive(Debug, Clone)]
struct Asked {
    requested_by: String,
    follower: String,
}

impl std::fmt::Debug for ProgressJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressJob").field("job_id", &self.job_id).finish()
    }
}

impl ProgressJob {
    pub(crate) fn new(
        job_id: JobId,
        initial_text: String,
        events: broadcast::Receiver<SyncEvent>,
        store: Arc<dyn Store>,
        tz: Tz,
    ) -> Self {
        Self {
            job_id,
            initial_text,
            events,
            store,
            tz,
            asked: None,
        }
    }

    /// Records the chat as waiting for the report (when the sink has an address), on behalf of
    /// `requested_by` ("telegram:123"), followed live by the process `follower` (the engine's owner).
    pub(crate) fn subscribed(mut self, requested_by: String, follower: String) -> Self {
        self.asked = Some(Asked { requested_by, follower });
        self
    }
}

/// A chat a report can be sent to later, by any process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatAddress {
    /// `Platform::as_str()`: "telegram", "discord" or "console".
    pub platform: &'static str,
    /// Telegram chat id, Discord channel id, "console".
    pub chat_id: String,
}

/// Why an edit did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum EditError {
    /// The platform says the text is unchanged: nothing to do.
    NotModified,
    /// Flood control: try again after this long.
    RetryAfter(Duration),
    /// Anything else (message deleted, token expired…).
    Failed(String),
}

/// One editable message on some platform.
#[async_trait]
pub trait ProgressSink: Send + Sync {
    /// Replaces the message's text (plain text with bold markers; the sink renders it).
    async fn edit(&self, text: &str) -> Result<(), EditError>;

    /// Where a later report for this chat goes if the message cannot be edited any more (another
    /// process ends the job). None: the report is only edited in.
    fn address(&self) -> Option<ChatAddress> {
        None
    }
}

/// How following ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FollowOutcome {
    /// The report (or what is known when the engine went quiet), None if events stopped.
    pub final_text: Option<String>,
    /// Whether the final text was written into the message; if not, send it as a new message.
    pub delivered: bool,
    /// Edits that reached the platform, the final one included.
    pub edits: usize,
}

/// Edits `sink` as the job advances, waiting `debounce` between edits, until the job's report.
pub async fn follow(mut job: ProgressJob, sink: &dyn ProgressSink, debounce: Duration) -> FollowOutcome {
    // The first message was just sent: it opens the first window.
    let mut last_edit = Instant::now();
    let mut shown = job.initial_text.clone();
    let mut pending: Option<String> = None;
    let mut edits = 0;
    let subscription = subscribe(&job, sink).await;
    let mut taken_over = false;
    let final_text = loop {
        let due = last_edit + debounce;
        tokio::select! {
            event = timeout(QUIET_CHECK, job.events.recv()) => match event {
                Ok(Ok(event)) if event.job_id() == Some(job.job_id) => match event {
                    SyncEvent::Finished(report) => break Some(replies::report_text(&report)),
                    SyncEvent::TakenOver { .. } => taken_over = true,
                    SyncEvent::Interrupted(progress) => {
                        // This process is stopping: say so now; the report comes from the process
                        // that finishes the job (the subscription was handed over).
                        let text = interrupted_text(&progress);
                        let delivered = sink.edit(&text).await.is_ok();
                        return FollowOutcome {
                            final_text: None,
                            delivered,
                            edits: edits + usize::from(delivered),
                        };
                    }
                    other => {
                        if let Some(mut text) = event_text(&other, job.tz) {
                            if taken_over {
                                text.push_str(TAKEN_OVER_NOTE);
                            }
                            pending = Some(text);
                        }
                    }
                },
                Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                Ok(Err(RecvError::Closed)) => break None,
                Err(_) => {
                    if let Some(text) = finished_job_text(&job).await {
                        break Some(text);
                    }
                }
            },
            _ = sleep_until(due), if pending.is_some() => {
                let text = pending.take().unwrap_or_default();
                if text == shown {
                    continue;
                }
                match sink.edit(&text).await {
                    Ok(()) => {
                        edits += 1;
                        shown = text;
                        last_edit = Instant::now();
                    }
                    Err(EditError::NotModified) => {
                        shown = text;
                        last_edit = Instant::now();
                    }
                    Err(EditError::RetryAfter(wait)) => {
                        // Keep the text (unless a newer one arrives) and try after the wait.
                        pending.get_or_insert(text);
                        last_edit = Instant::now() + wait.saturating_sub(debounce);
                    }
                    Err(EditError::Failed(why)) => {
                        tracing::warn!(job_id = job.job_id, why, "no se pudo editar el progreso");
                        last_edit = Instant::now();
                    }
                }
            }
        }
    };
    let Some(text) = final_text else {
        return FollowOutcome {
            final_text: None,
            delivered: false,
            edits,
        };
    };
    if !claim(&job, subscription).await {
        // Another process already sent this chat its report.
        return FollowOutcome {
            final_text: None,
            delivered: true,
            edits,
        };
    }
    let mut due = last_edit + debounce;
    for _ in 0..FINAL_ATTEMPTS {
        sleep_until(due).await;
        match sink.edit(&text).await {
            Ok(()) => {
                return FollowOutcome {
                    final_text: Some(text),
                    delivered: true,
                    edits: edits + 1,
                };
            }
            Err(EditError::NotModified) => {
                return FollowOutcome {
                    final_text: Some(text),
                    delivered: true,
                    edits,
                };
            }
            Err(EditError::RetryAfter(wait)) => due = Instant::now() + wait.max(debounce),
            Err(EditError::Failed(why)) => {
                tracing::warn!(
                    job_id = job.job_id,
                    why,
                    "no se pudo escribir el informe final en el mensaje"
                );
                break;
            }
        }
    }
    FollowOutcome {
        final_text: Some(text),
        delivered: false,
        edits,
    }
}

const TAKEN_OVER_NOTE: &str = "\n↩️ Retomada tras un reinicio";

/// What the message says when this process stops in the middle of the sync.
pub fn interrupted_text(p: &Progress) -> String {
    format!(
        "⏸️ Sincronización pausada por un reinicio de pulso ({}/{} agentes). Continuará sola y te enviaré el informe aquí cuando termine.",
        p.done, p.total
    )
}

/// Records the chat as waiting for the job's report; the subscription's id when recorded.
async fn subscribe(job: &ProgressJob, sink: &dyn ProgressSink) -> Option<i64> {
    let asked = job.asked.as_ref()?;
    let address = sink.address()?;
    let sub = NewSubscriber {
        job_id: job.job_id,
        platform: address.platform.to_string(),
        chat_id: address.chat_id,
        requested_by: asked.requested_by.clone(),
        follower: Some(asked.follower.clone()),
    };
    match job.store.add_job_subscriber(&sub, chrono::Utc::now()).await {
        Ok(id) => Some(id),
        Err(e) => {
            tracing::warn!(job_id = job.job_id, error = %e, "no se pudo registrar quién espera el informe");
            None
        }
    }
}

/// Claims the chat's report before writing it: false when another process already sent it.
async fn claim(job: &ProgressJob, subscription: Option<i64>) -> bool {
    let Some(id) = subscription else {
        return true;
    };
    match job.store.claim_job_subscriber(id, chrono::Utc::now()).await {
        Ok(claimed) => claimed,
        Err(e) => {
            // Better twice than never: the database is the only other way to know.
            tracing::warn!(job_id = job.job_id, error = %e, "no se pudo reclamar el envío del informe");
            true
        }
    }
}

/// The text an event puts in the message (None: nothing to show).
fn event_text(event: &SyncEvent, tz: Tz) -> Option<String> {
    match event {
        SyncEvent::Started(p) | SyncEvent::AgentStarted(p) | SyncEvent::AgentFinished(p) | SyncEvent::Resumed(p) => {
            Some(replies::progress_text(p))
        }
        SyncEvent::Paused { progress, until, .. } => Some(replies::paused_text(progress, *until, tz)),
        SyncEvent::Queued { .. } => Some(replies::QUEUED_TEXT.to_string()),
        SyncEvent::Finished(_) | SyncEvent::Notice { .. } | SyncEvent::TakenOver { .. } | SyncEvent::Interrupted(_) => {
            None
        }
    }
}

/// When no event came for a while: if the job row says it ended, its counters are the report.
async fn finished_job_text(job: &ProgressJob) -> Option<String> {
    match job.store.job(job.job_id).await {
        Ok(Some(row)) if !row.status.is_active() => Some(replies::job_summary_text(&row)),
        _ => None,
    }
}

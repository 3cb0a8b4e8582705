//! Reports owed to the chats that asked for a sync, delivered by whichever process sees the job
//! end: also when the process that was following the chat's progress message stopped or died.
//! Each report is claimed in the database before it is sent, so it goes out once.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

use super::replies;
use crate::ports::{OutMessage, Outbox};
use crate::store::{JobSubscriber, Store};
use crate::sync::{Clock, SyncEngine, SyncEvent};

/// How often undelivered reports are looked for besides the moment a job ends here.
const TICK: Duration = Duration::from_secs(30);
/// A chat followed live by another process gets its report from that process; only when that
/// process has not delivered it this long after the job ended does this one step in.
const OTHER_FOLLOWER_GRACE: Duration = Duration::from_secs(180);

pub struct ReportDelivery {
    store: Arc<dyn Store>,
    engine: SyncEngine,
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
}

impl ReportDelivery {
    /// `clock` is the engine's (jobs' `completed_at` is written with it).
    pub fn new(store: Arc<dyn Store>, engine: SyncEngine, outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            engine,
            outbox,
            clock,
        }
    }

    /// Sends every report that is due; returns how many went out.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let now = self.clock.now();
        let mut sent = 0;
        for sub in self.store.undelivered_subscribers().await? {
            if !self.is_due(&sub, now) {
                continue;
            }
            if !self.store.claim_job_subscriber(sub.id, Utc::now()).await? {
                continue;
            }
            match self.send(&sub).await {
                Ok(true) => sent += 1,
                Ok(false) => {
                    // No adapter for that platform here: leave it to a process that has one.
                    self.store.unclaim_job_subscriber(sub.id).await?;
                }
                Err(e) => {
                    tracing::warn!(
                        job_id = sub.job_id,
                        platform = sub.platform,
                        error = format!("{e:#}"),
                        "no se pudo enviar el informe a quien lo pidió"
                    );
                    self.store.unclaim_job_subscriber(sub.id).await?;
                }
            }
        }
        Ok(sent)
    }

    /// A chat nobody follows is due at once; one another process follows, after a grace period
    /// (it edits the report into its own message); ours is left to our own follower.
    fn is_due(&self, sub: &JobSubscriber, now: chrono::DateTime<Utc>) -> bool {
        match &sub.follower {
            None => true,
            Some(f) if f == self.engine.owner() => false,
            Some(_) => sub
                .job_completed_at
                .is_none_or(|ended| (now - ended).to_std().unwrap_or(Duration::ZERO) >= OTHER_FOLLOWER_GRACE),
        }
    }

    async fn send(&self, sub: &JobSubscriber) -> anyhow::Result<bool> {
        let Some(report) = self.engine.job_report(sub.job_id).await? else {
            return Ok(false);
        };
        let message = OutMessage::text(replies::report_text(&report));
        self.outbox.to_chat(&sub.platform, &sub.chat_id, &message).await
    }

    /// Delivers when a job ends in this process and every 30 s (jobs other processes ended).
    pub fn spawn(self: Arc<Self>, mut events: broadcast::Receiver<SyncEvent>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(SyncEvent::Finished(_)) | Err(RecvError::Lagged(_)) => {}
                        Ok(_) => continue,
                        Err(RecvError::Closed) => return,
                    },
                    _ = tick.tick() => {}
                }
                if let Err(e) = self.deliver_due().await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "no se pudieron revisar los informes pendientes"
                    );
                }
            }
        })
    }
}

//! Team summaries that ride on bulk syncs (pulso has no scheduler): after every bulk sync a
//! completion summary; after the first of a new week, the week that ended with its ranking chart;
//! after the first of a new month, the month that ended with its use of the Graph API.

pub mod text;

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::charts::{self, RankingChart};
use crate::domain::period::today_in;
use crate::domain::{DateRange, JobId, JobKind, JobStatus, month_containing, month_label, reports_due};
use crate::ports::{Attachment, OutMessage, Outbox};
use crate::queries::{Queries, TeamView};
use crate::store::Store;
use crate::sync::{JobReport, SyncEvent};

pub struct Reports {
    store: Arc<dyn Store>,
    queries: Arc<Queries>,
    outbox: Arc<dyn Outbox>,
    tz: Tz,
    /// The latest bulk job whose summaries went out (or failed to).
    reported: watch::Sender<JobId>,
}

impl Reports {
    pub fn new(store: Arc<dyn Store>, queries: Arc<Queries>, outbox: Arc<dyn Outbox>, tz: Tz) -> Self {
        Self {
            store,
            queries,
            outbox,
            tz,
            reported: watch::Sender::new(0),
        }
    }

    /// Waits until the summaries of bulk job `job` (or a later one) were handled; false on timeout.
    /// Lets a short-lived process (the demo reading a script) post them before it exits.
    pub async fn wait_reported(&self, job: JobId, timeout: std::time::Duration) -> bool {
        let mut reported = self.reported.subscribe();
        tokio::time::timeout(timeout, reported.wait_for(|last| *last >= job))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Posts the summaries of every bulk sync this process finishes, until the engine is dropped.
    pub fn spawn(self: Arc<Self>, mut events: broadcast::Receiver<SyncEvent>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let report = match events.recv().await {
                    Ok(SyncEvent::Finished(report)) if report.kind == JobKind::Bulk => report,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "eventos de sincronización perdidos por retraso");
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                // One summary per job, whichever runner or replica reports its end.
                match self.store.claim_job_summary(report.job_id, Utc::now()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.reported.send_replace(report.job_id);
                        continue;
                    }
                    Err(e) => tracing::warn!(job_id = report.job_id, error = %e, "no se pudo reclamar el resumen"),
                }
                match self.after_bulk_sync(&report).await {
                    Ok(messages) => {
                        for message in messages {
                            if let Err(e) = self.outbox.to_team(&message).await {
                                tracing::error!(
                                    job_id = report.job_id,
                                    error = format!("{e:#}"),
                                    "no se pudo enviar el resumen al equipo"
                                );
                            }
                        }
                    }
                    Err(e) => tracing::error!(
                        job_id = report.job_id,
                        error = format!("{e:#}"),
                        "no se pudieron preparar los resúmenes"
                    ),
                }
                self.reported.send_replace(report.job_id);
            }
        })
    }

    /// The team messages a finished bulk sync brings, in the order they are posted.
    pub async fn after_bulk_sync(&self, report: &JobReport) -> anyhow::Result<Vec<OutMessage>> {
        let mut messages = vec![OutMessage::text(text::completion_text(report))];
        if report.status == JobStatus::Failed {
            // Nothing new to summarise: the next sync that fetches data brings the summaries.
            return Ok(messages);
        }
        let job = self
            .store
            .job(report.job_id)
            .await?
            .context("la sincronización terminada no existe")?;
        let ended = job.completed_at.unwrap_or_else(Utc::now);
        let previous = self.store.previous_bulk_finished_at(job.id).await?;
        let due = reports_due(previous.map(|t| today_in(self.tz, t)), today_in(self.tz, ended));
        if let Some(week) = due.weekly {
            messages.push(self.weekly(week).await?);
        }
        if let Some(month) = due.monthly {
            messages.push(self.monthly(month).await?);
        }
        Ok(messages)
    }

    async fn weekly(&self, week: DateRange) -> anyhow::Result<OutMessage> {
        let current = self.queries.team_view_of(week).await?;
        let previous = self.queries.team_view_of(week.previous()).await?;
        let instagram = self.instagram(&current).await?;
        let text = text::weekly_text(&current, &previous, &instagram);
        let attachment = ranking_chart("Ranking semanal".into(), "ranking_semanal.png", current).await;
        Ok(OutMessage {
            text,
            attachment,
            ..Default::default()
        })
    }

    async fn monthly(&self, month: DateRange) -> anyhow::Result<OutMessage> {
        let before = month_containing(month.from - Duration::days(1));
        let current = self.queries.team_view_of(month).await?;
        let previous = self.queries.team_view_of(before).await?;
        let usage = self
            .store
            .api_usage_between(self.start_of(month.from), self.start_of(month.to + Duration::days(1)))
            .await?;
        let instagram = self.instagram(&current).await?;
        let text = text::monthly_text(&current, &previous, &instagram, &usage);
        let title = format!("Ranking de {}", month_label(month.from));
        let attachment = ranking_chart(title, "ranking_mensual.png", current).await;
        Ok(OutMessage {
            text,
            attachment,
            ..Default::default()
        })
    }

    /// The Instagram section of a summary of `view`'s range: team totals with Δ %, the best agents
    /// on Instagram and the top media.
    /// A failed read leaves a short line instead, so the summary still goes out.
    async fn instagram(&self, view: &TeamView) -> anyhow::Result<Vec<String>> {
        let team = crate::chat::instagram::team_instagram(self.store.as_ref(), &view.agents, view.range, self.tz).await;
        Ok(crate::chat::instagram::team_section(team))
    }

    /// Local midnight of `day` in the office's time zone.
    fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        crate::domain::period::local_midnight(day, self.tz)
    }
}

/// The ranking PNG of a summary; None (logged) when it cannot be drawn, so the text still goes out.
async fn ranking_chart(title: String, file_name: &str, view: TeamView) -> Option<Attachment> {
    let rendered = charts::render_off_runtime(move || {
        charts::ranking_png(&RankingChart {
            title: &title,
            range: view.range,
            ranked: &view.ranked,
            highlight: None,
            data_age: None,
        })
    })
    .await;
    match rendered {
        Ok(png) => Some(Attachment {
            file_name: file_name.to_string(),
            mime: "image/png",
            bytes: png.0,
        }),
        Err(e) => {
            tracing::error!(error = %e, "no se pudo dibujar el ranking del resumen");
            None
        }
    }
}

//! Alert incidents and silences as the store keeps them, and the SQL both backends share for them
//! (expanded into `impl_store!` by `alert_methods!`).

use chrono::{DateTime, Utc};

use super::StoreError;
use crate::alerts::Severity;

/// What a rule evaluation asks the store to keep firing.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub fingerprint: String,
    pub rule: String,
    pub family: String,
    /// JSON object of the labels that make the fingerprint.
    pub labels: String,
    pub severity: Severity,
    pub summary: String,
    pub details: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Firing,
    Resolved,
}

/// What a replica claims before it notifies, for
/// [`Store::claim_alert_send`](super::Store::claim_alert_send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertChannel {
    /// Team chat, or the agent's private chat for agent-routed alerts.
    Chat,
    Email,
    /// The "✅ Resuelto" message of an incident that is about to be resolved.
    Resolved,
}

/// One incident: a fingerprint from the moment it fired until it resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: i64,
    pub fingerprint: String,
    pub rule: String,
    pub family: String,
    pub labels: String,
    pub severity: Severity,
    pub summary: String,
    pub details: String,
    pub state: AlertState,
    pub starts_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub notified_at: Option<DateTime<Utc>>,
    pub last_chat_at: Option<DateTime<Utc>>,
    pub chat_count: i64,
    pub last_email_at: Option<DateTime<Utc>>,
    pub email_count: i64,
    pub resolved_sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    pub id: i64,
    /// A rule name (`sync_fallos_muchos`) or a family (`sync_fallos`).
    pub matcher: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: i64,
    fingerprint: String,
    rule: String,
    family: String,
    labels: String,
    severity: String,
    summary: String,
    details: String,
    state: String,
    starts_at: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    notified_at: Option<DateTime<Utc>>,
    last_chat_at: Option<DateTime<Utc>>,
    chat_count: i64,
    last_email_at: Option<DateTime<Utc>>,
    email_count: i64,
    resolved_sent_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<AlertRow> for AlertRecord {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str, v: &str| StoreError::Database(sqlx::Error::Decode(format!("{what} desconocido: {v}").into()));
        let state = match r.state.as_str() {
            "firing" => AlertState::Firing,
            "resolved" => AlertState::Resolved,
            other => return Err(corrupt("estado de alerta", other)),
        };
        Ok(AlertRecord {
            severity: Severity::parse(&r.severity).ok_or_else(|| corrupt("severidad", &r.severity))?,
            state,
            id: r.id,
            fingerprint: r.fingerprint,
            rule: r.rule,
            family: r.family,
            labels: r.labels,
            summary: r.summary,
            details: r.details,
            starts_at: r.starts_at,
            cleared_at: r.cleared_at,
            ends_at: r.ends_at,
            notified_at: r.notified_at,
            last_chat_at: r.last_chat_at,
            chat_count: r.chat_count,
            last_email_at: r.last_email_at,
            email_count: r.email_count,
            resolved_sent_at: r.resolved_sent_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SilenceRow {
    id: i64,
    matcher: String,
    created_by: String,
    created_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
}

impl From<SilenceRow> for Silence {
    fn from(r: SilenceRow) -> Self {
        Silence {
            id: r.id,
            matcher: r.matcher,
            created_by: r.created_by,
            created_at: r.created_at,
            ends_at: r.ends_at,
        }
    }
}

macro_rules! alert_columns {
    () => {
        "id, fingerprint, rule, family, labels, severity, summary, details, state, starts_at, cleared_at, ends_at, \
         notified_at, last_chat_at, chat_count, last_email_at, email_count, resolved_sent_at, updated_at"
    };
}

/// The SQL of the alert methods of [`Store`](super::Store), as inherent methods of each store type;
/// `impl_store!` delegates to them (async_trait cannot see methods produced by a nested macro).
macro_rules! alert_methods {
    ($store:ty) => {
        impl $store {
            pub(crate) async fn fire_alert_sql(
                &self,
                alert: &$crate::store::NewAlert,
                now: DateTime<Utc>,
            ) -> StoreResult<($crate::store::AlertRecord, bool)> {
                use $crate::store::alerts::AlertRow;
                // Two tries: a concurrent replica may insert the firing row between our UPDATE and INSERT;
                // the partial unique index then refuses ours and the UPDATE finds theirs.
                for _ in 0..2 {
                    let updated: Option<AlertRow> = sqlx::query_as(concat!(
                        "UPDATE alerts SET severity = $2, summary = $3, details = $4, labels = $5, cleared_at = NULL, \
                       updated_at = $6 WHERE fingerprint = $1 AND state = 'firing' RETURNING ",
                        $crate::store::alerts::alert_columns!()
                    ))
                    .bind(&alert.fingerprint)
                    .bind(alert.severity.as_str())
                    .bind(&alert.summary)
                    .bind(&alert.details)
                    .bind(&alert.labels)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(row) = updated {
                        return Ok((row.try_into()?, false));
                    }
                    let inserted: Result<AlertRow, sqlx::Error> = sqlx::query_as(concat!(
                        "INSERT INTO alerts (fingerprint, rule, family, labels, severity, summary, details, state, \
                       starts_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'firing', $8, $8) RETURNING ",
                        $crate::store::alerts::alert_columns!()
                    ))
                    .bind(&alert.fingerprint)
                    .bind(&alert.rule)
                    .bind(&alert.family)
                    .bind(&alert.labels)
                    .bind(alert.severity.as_str())
                    .bind(&alert.summary)
                    .bind(&alert.details)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await;
                    match inserted.map_err(StoreError::from) {
                        Ok(row) => return Ok((row.try_into()?, true)),
                        Err(e) if e.is_unique_violation() => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::Conflict(format!(
                    "la alerta {} cambia demasiado rápido",
                    alert.fingerprint
                )))
            }

            pub(crate) async fn open_alerts_sql(&self) -> StoreResult<Vec<$crate::store::AlertRecord>> {
                let rows: Vec<$crate::store::alerts::AlertRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::alerts::alert_columns!(),
                    " FROM alerts WHERE state = 'firing' ORDER BY starts_at, id"
                ))
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            pub(crate) async fn recent_alerts_sql(&self, limit: i64) -> StoreResult<Vec<$crate::store::AlertRecord>> {
                let rows: Vec<$crate::store::alerts::AlertRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    $crate::store::alerts::alert_columns!(),
                    " FROM alerts ORDER BY starts_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            pub(crate) async fn clear_alert_sql(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE alerts SET cleared_at = $2, updated_at = $2 \
                 WHERE id = $1 AND state = 'firing' AND cleared_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn resolve_alert_sql(
                &self,
                id: i64,
                message_sent: bool,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE alerts SET state = 'resolved', ends_at = COALESCE(cleared_at, $2), \
                   resolved_sent_at = CASE WHEN $3 THEN $2 ELSE NULL END, updated_at = $2 \
                 WHERE id = $1 AND state = 'firing'",
                )
                .bind(id)
                .bind(now)
                .bind(message_sent)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            pub(crate) async fn claim_alert_send_sql(
                &self,
                id: i64,
                channel: $crate::store::AlertChannel,
                seen_count: i64,
                now: DateTime<Utc>,
            ) -> StoreResult<bool> {
                // Compare-and-set on the count this replica read: of several replicas evaluating the
                // same incident, exactly one wins each notification.
                let query = match channel {
                    $crate::store::AlertChannel::Chat => sqlx::query(
                        "UPDATE alerts SET notified_at = COALESCE(notified_at, $2), last_chat_at = $2, \
                       chat_count = chat_count + 1 WHERE id = $1 AND chat_count = $3 AND state = 'firing'",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(seen_count),
                    $crate::store::AlertChannel::Email => sqlx::query(
                        "UPDATE alerts SET notified_at = COALESCE(notified_at, $2), last_email_at = $2, \
                       email_count = email_count + 1 WHERE id = $1 AND email_count = $3 AND state = 'firing'",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(seen_count),
                    // A claim left by a replica that died before it sent is taken over after a while.
                    $crate::store::AlertChannel::Resolved => sqlx::query(
                        "UPDATE alerts SET resolved_sent_at = $2 WHERE id = $1 AND state = 'firing' \
                       AND (resolved_sent_at IS NULL OR resolved_sent_at < $3)",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(now - chrono::Duration::minutes(5)),
                };
                Ok(query.execute(&self.pool).await?.rows_affected() == 1)
            }

            pub(crate) async fn release_alert_send_sql(
                &self,
                id: i64,
                channel: $crate::store::AlertChannel,
                seen_count: i64,
                previous: Option<DateTime<Utc>>,
            ) -> StoreResult<()> {
                let query = match channel {
                    $crate::store::AlertChannel::Chat => sqlx::query(
                        "UPDATE alerts SET chat_count = chat_count - 1, last_chat_at = $3, \
                       notified_at = CASE WHEN chat_count - 1 + email_count = 0 THEN NULL ELSE notified_at END \
                     WHERE id = $1 AND chat_count = $2 + 1",
                    )
                    .bind(id)
                    .bind(seen_count)
                    .bind(previous),
                    $crate::store::AlertChannel::Email => sqlx::query(
                        "UPDATE alerts SET email_count = email_count - 1, last_email_at = $3, \
                       notified_at = CASE WHEN chat_count + email_count - 1 = 0 THEN NULL ELSE notified_at END \
                     WHERE id = $1 AND email_count = $2 + 1",
                    )
                    .bind(id)
                    .bind(seen_count)
                    .bind(previous),
                    $crate::store::AlertChannel::Resolved => {
                        sqlx::query("UPDATE alerts SET resolved_sent_at = $2 WHERE id = $1 AND state = 'firing'")
                            .bind(id)
                            .bind(previous)
                    }
                };
                query.execute(&self.pool).await?;
                Ok(())
            }

            pub(crate) async fn create_silence_sql(
                &self,
                matcher: &str,
                created_by: &str,
                now: DateTime<Utc>,
                ends_at: DateTime<Utc>,
            ) -> StoreResult<$crate::store::Silence> {
                let row: $crate::store::alerts::SilenceRow = sqlx::query_as(
                    "INSERT INTO alert_silences (matcher, created_by, created_at, ends_at) VALUES ($1, $2, $3, $4) \
                 RETURNING id, matcher, created_by, created_at, ends_at",
                )
                .bind(matcher)
                .bind(created_by)
                .bind(now)
                .bind(ends_at)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.into())
            }

            pub(crate) async fn active_silences_sql(
                &self,
                now: DateTime<Utc>,
            ) -> StoreResult<Vec<$crate::store::Silence>> {
                let rows: Vec<$crate::store::alerts::SilenceRow> = sqlx::query_as(
                    "SELECT id, matcher, created_by, created_at, ends_at FROM alert_silences \
                 WHERE ends_at > $1 AND created_at <= $1 ORDER BY ends_at DESC, id",
                )
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }
        }
    };
}

pub(crate) use {alert_columns, alert_methods};

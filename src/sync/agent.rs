//! One agent's sync: the fetch window, retries with backoff, what each kind of failure does to the
//! agent, and the writes.

use std::time::Duration;

use chrono::{DateTime, Duration as Days, Utc};

use super::Inner;
use super::clock::backoff;
use super::events::{AgentNotice, SyncEvent};
use super::source::{FetchRequest, SourceError};
use crate::domain::period::today_in;
use crate::domain::{Agent, AgentId, ConnectionStatus};

/// How one agent ended in this attempt at the job.
pub(super) enum ItemResult {
    Synced {
        calls: u64,
        attempts: u32,
    },
    Failed {
        reason: String,
        calls: u64,
        attempts: u32,
    },
    Skipped {
        reason: String,
    },
    /// This agent's Page reached its own rate limit: only this agent waits `after`.
    Deferred {
        after: Duration,
        calls: u64,
    },
    /// The budget or Meta's app-wide rate limit stopped us: the item goes back to pending.
    Paused {
        until: DateTime<Utc>,
        reason: String,
    },
}

/// Syncs one agent with retries; returns the result and the highest usage % Meta reported.
pub(super) async fn sync_agent(inner: &Inner, agent_id: AgentId) -> (ItemResult, u32) {
    let agent = match inner.store.agent(agent_id).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return (
                ItemResult::Skipped {
                    reason: "el agente ya no existe".into(),
                },
                0,
            );
        }
        Err(e) => {
            tracing::error!(agent_id, error = %e, "no se pudo leer el agente");
            return (
                ItemResult::Failed {
                    reason: "la base de datos no respondió".into(),
                    calls: 0,
                    attempts: 0,
                },
                0,
            );
        }
    };
    if !agent.is_syncable() {
        let reason = format!("no conectado ({})", agent.status.label());
        return (ItemResult::Skipped { reason }, 0);
    }
    let token = match inner.store.agent_token(agent.id).await {
        Ok(Some(stored)) => match inner.cipher.decrypt(agent.id, &stored) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(agent_id = agent.id, error = %e, "token guardado ilegible");
                let reason = "el token guardado no se pudo descifrar; hay que volver a conectar la página".to_string();
                mark_disconnected(inner, &agent, ConnectionStatus::NeedsReconnection, &reason).await;
                return (
                    ItemResult::Failed {
                        reason,
                        calls: 0,
                        attempts: 0,
                    },
                    0,
                );
            }
        },
        _ => {
            return (
                ItemResult::Skipped {
                    reason: "sin token de Facebook".into(),
                },
                0,
            );
        }
    };
    let now = inner.clock.now();
    let today = today_in(inner.tz, now);
    let oldest = today - Days::days(inner.settings.backfill_days - 1);
    let since = match agent.last_synced_at {
        None => oldest,
        Some(last) => (today_in(inner.tz, last) - Days::days(inner.settings.lookback_days)).max(oldest),
    };
    // Posts keep gaining reactions and clicks for weeks: re-read the recent ones on every sync.
    let posts_since = since.min(today - Days::days(inner.settings.post_refresh_days - 1));
    let skip_metrics = match inner.store.refused_metrics().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(agent_id = agent.id, error = %e, "no se pudieron leer las métricas rechazadas");
            Vec::new()
        }
    };
    let request = FetchRequest {
        page_id: agent.facebook_page_id.clone().unwrap_or_default(),
        token,
        since,
        until: today,
        posts_since,
        tz: inner.tz,
        skip_metrics,
    };
    let mut calls = 0;
    let mut max_usage = 0;
    let mut attempt = 0;
    let mut local_waits = 0;
    loop {
        attempt += 1;
        let gate = inner.budget.gate();
        let result = inner.source.fetch(&request, &gate).await;
        calls += gate.calls();
        max_usage = max_usage.max(gate.max_usage_pct());
        if gate.max_usage_pct() > 0 {
            let _ = inner.budget.record_usage_pct(gate.max_usage_pct()).await;
        }
        let error = match result {
            Ok(mut data) => {
                let discovered = data.instagram.take();
                let result = store_data(inner, &agent, data, calls, attempt).await;
                let ItemResult::Synced { calls, attempts } = result else {
                    return (result, max_usage);
                };
                // Instagram after the Page: its failures never undo the Facebook data just stored.
                let ig = super::instagram::sync_instagram(inner, &agent, &request, discovered).await;
                let calls = calls + ig.calls;
                let result = match ig.token_invalid {
                    // The Page token died between the two halves: the same handling as on Facebook.
                    Some(reason) => {
                        mark_disconnected(inner, &agent, ConnectionStatus::Disconnected, &reason).await;
                        ItemResult::Failed {
                            reason,
                            calls,
                            attempts,
                        }
                    }
                    None => ItemResult::Synced { calls, attempts },
                };
                return (result, max_usage.max(ig.max_usage_pct));
            }
            Err(e) => e,
        };
        if gate.local_failure() && local_waits < inner.settings.max_attempts * 2 {
            // pulso's own database (a busy pool) stopped the request before it reached Facebook:
            // wait and try again without counting a Graph attempt.
            local_waits += 1;
            attempt -= 1;
            inner
                .clock
                .sleep(backoff(inner.settings.retry_base_delay, local_waits))
                .await;
            continue;
        }
        tracing::info!(agent_id, attempt, error = %error, "fallo al sincronizar un agente");
        match error {
            SourceError::Retriable { reason } => {
                if attempt >= inner.settings.max_attempts {
                    return (
                        ItemResult::Failed {
                            reason: format!("{reason} (tras {attempt} intentos)"),
                            calls,
                            attempts: attempt,
                        },
                        max_usage,
                    );
                }
                inner
                    .clock
                    .sleep(backoff(inner.settings.retry_base_delay, attempt))
                    .await;
            }
            SourceError::BudgetExhausted { resume_at } => {
                let reason = "presupuesto de llamadas de la hora agotado".to_string();
                return (
                    ItemResult::Paused {
                        until: resume_at,
                        reason,
                    },
                    max_usage,
                );
            }
            SourceError::RateLimited {
                resume_after,
                page_level: true,
                ..
            } => {
                let _ = inner.budget.record_rate_limit_hit().await;
                let after = resume_after
                    .filter(|d| !d.is_zero())
                    .unwrap_or(inner.settings.page_limit_default);
                // The usage Facebook reported with it is this Page's own: it must not pause the
                // other agents' sync, only this agent waits.
                return (ItemResult::Deferred { after, calls }, 0);
            }
            SourceError::RateLimited {
                reason, resume_after, ..
            } => {
                let _ = inner.budget.record_rate_limit_hit().await;
                let until = match resume_after {
                    Some(d) if !d.is_zero() => inner.clock.now() + d,
                    _ => inner.budget.next_window(),
                };
                return (ItemResult::Paused { until, reason }, max_usage);
            }
            SourceError::TokenInvalid { reason } | SourceError::NotFound { reason } => {
                mark_disconnected(inner, &agent, ConnectionStatus::Disconnected, &reason).await;
                return (
                    ItemResult::Failed {
                        reason,
                        calls,
                        attempts: attempt,
                    },
                    max_usage,
                );
            }
            SourceError::Permission { reason } => {
                mark_disconnected(inner, &agent, ConnectionStatus::NeedsReconnection, &reason).await;
                return (
                    ItemResult::Failed {
                        reason,
                        calls,
                        attempts: attempt,
                    },
                    max_usage,
                );
            }
            SourceError::Configuration { reason } => {
                return (
                    ItemResult::Failed {
                        reason: format!("error de configuración de pulso: {reason}"),
                        calls,
                        attempts: attempt,
                    },
                    max_usage,
                );
            }
        }
    }
}

async fn store_data(
    inner: &Inner,
    agent: &Agent,
    data: super::source::AgentData,
    calls: u64,
    attempts: u32,
) -> ItemResult {
    let now = inner.clock.now();
    for metric in &data.refused_metrics {
        match inner.store.add_refused_metric(metric, now).await {
            Ok(true) => tracing::warn!(
                agent_id = agent.id,
                metric,
                "Meta retiró una métrica; pulso sigue con las demás"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(metric, error = %e, "no se pudo recordar la métrica rechazada"),
        }
    }
    let written = async {
        inner.store.upsert_daily_metrics(agent.id, &data.days, now).await?;
        inner.store.upsert_posts(agent.id, &data.posts, now).await?;
        inner.store.mark_agent_synced(agent.id, now).await
    }
    .await;
    if let Err(e) = written {
        tracing::error!(agent_id = agent.id, error = %e, "no se pudieron guardar los datos del agente");
        return ItemResult::Failed {
            reason: "no se pudieron guardar los datos (la base de datos no respondió)".into(),
            calls,
            attempts,
        };
    }
    ItemResult::Synced { calls, attempts }
}

async fn mark_disconnected(inner: &Inner, agent: &Agent, status: ConnectionStatus, reason: &str) {
    if let Err(e) = inner
        .store
        .set_agent_status(agent.id, status, Some(reason), inner.clock.now())
        .await
    {
        tracing::error!(agent_id = agent.id, error = %e, "no se pudo marcar al agente como desconectado");
    }
    let _ = inner.events.send(SyncEvent::Notice {
        agent_id: agent.id,
        name: agent.name.clone(),
        notice: AgentNotice::Disconnected {
            reason: reason.to_string(),
        },
    });
}

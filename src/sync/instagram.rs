//! An agent's Instagram half, after its Page: discovery recorded, the IG-1 day(s) chosen, the read
//! made through the same budget, and the writes. Instagram never takes the Facebook half down:
//! its own limit (#80002) pauses only this account's Instagram calls, a missing permission is
//! recorded as the account's problem, and the Page data of the same sync stay stored.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use chrono_tz::Tz;

use super::Inner;
use super::clock::backoff;
use super::source::{FetchRequest, InstagramFailure, InstagramPlan, InstagramRequest, SourceError};
use crate::domain::instagram::REFUSED_PREFIX;
use crate::domain::period::{local_midnight, today_in};
use crate::domain::{Agent, DateRange, InstagramAccount, InstagramDaily};

/// Instagram publishes a day's account insights with up to this delay; a day read later is final.
const FINAL_AFTER_HOURS: i64 = 48;
/// Office days IG-1 revisits on a daily sync: `today-3 ..= today-1`.
const REVISIT_DAYS: i64 = 3;
/// Stored days looked at to tell a first sync from a daily one.
const HISTORY_DAYS: i64 = 30;

/// What the Instagram half did to the agent's item.
#[derive(Debug, Default)]
pub(super) struct IgOutcome {
    pub calls: u64,
    pub max_usage_pct: u32,
    /// The Page token turned out dead on the Instagram call (190): the item fails and the agent is
    /// marked disconnected, as for a Facebook 190.
    pub token_invalid: Option<String>,
}

/// IG-1's office day(s). First sync (no stored day in the last 30): each of the last
/// `backfill_days` complete days, oldest first. Daily, among `today-3 ..= today-1`: the oldest
/// non-final day that can now be final (48 h after its end); else the newest day never read with
/// data; else the oldest non-final day; none when all are final.
pub(crate) fn account_days(
    stored: &[InstagramDaily],
    today: NaiveDate,
    now: DateTime<Utc>,
    tz: Tz,
    backfill_days: i64,
) -> Vec<NaiveDate> {
    // A day counts as read by an earlier sync when its media or account insights were; a row with
    // only the Page call's follower count does not (the Instagram calls may have been paused).
    let recent = DateRange::new(today - Days::days(HISTORY_DAYS), today);
    if !stored
        .iter()
        .any(|d| recent.contains(d.date) && (d.media.is_some() || d.account_read_at.is_some()))
    {
        return (1..=backfill_days.max(1))
            .rev()
            .map(|k| today - Days::days(k))
            .collect();
    }
    let final_at = |day: NaiveDate| local_midnight(day + Days::days(1), tz) + Days::hours(FINAL_AFTER_HOURS);
    let read_at = |day: NaiveDate| stored.iter().find(|d| d.date == day).and_then(|d| d.account_read_at);
    let candidates: Vec<NaiveDate> = (1..=REVISIT_DAYS).rev().map(|k| today - Days::days(k)).collect();
    let non_final: Vec<NaiveDate> = candidates
        .iter()
        .copied()
        .filter(|&d| read_at(d).is_none_or(|r| r < final_at(d)))
        .collect();
    let choice = non_final
        .iter()
        .copied()
        .find(|&d| now >= final_at(d))
        .or_else(|| candidates.iter().rev().copied().find(|&d| read_at(d).is_none()))
        .or_else(|| non_final.first().copied());
    choice.into_iter().collect()
}

/// After the Page data were stored: records what the Page call said about Instagram and, when the
/// agent has an account and Instagram is on and not paused, reads and stores it.
pub(super) async fn sync_instagram(
    inner: &Inner,
    agent: &Agent,
    request: &FetchRequest,
    discovered: Option<InstagramAccount>,
) -> IgOutcome {
    let now = inner.clock.now();
    // Written when it changed (the same account and @username need no write on every sync).
    let unchanged = match &discovered {
        Some(a) => {
            agent.instagram_account_id.as_deref() == Some(a.id.as_str()) && agent.instagram_username == a.username
        }
        None => agent.instagram_account_id.is_none(),
    };
    if !unchanged
        && let Err(e) = inner
            .store
            .set_agent_instagram(agent.id, discovered.as_ref(), now)
            .await
    {
        tracing::warn!(agent_id = agent.id, error = %e, "no se pudo guardar la cuenta de Instagram del agente");
    }
    let Some(account) = discovered else {
        return IgOutcome::default();
    };
    if !inner.settings.instagram_enabled {
        return IgOutcome::default();
    }
    let today = today_in(inner.tz, now);
    // The Page call's followers_count is today's stock, whatever happens to the Instagram calls.
    let followers_row = InstagramDaily {
        followers: account.followers,
        ..InstagramDaily::new(today)
    };
    if account.followers.is_some()
        && let Err(e) = inner
            .store
            .upsert_instagram_daily(agent.id, std::slice::from_ref(&followers_row), now)
            .await
    {
        tracing::warn!(agent_id = agent.id, error = %e, "no se pudieron guardar los seguidores de Instagram");
    }
    if let Some(until) = agent.instagram_paused_until
        && until > now
    {
        tracing::info!(agent_id = agent.id, %until, "Instagram en pausa por su límite de llamadas; solo Facebook");
        return IgOutcome::default();
    }
    let stored = match inner
        .store
        .instagram_daily(agent.id, DateRange::new(today - Days::days(HISTORY_DAYS), today))
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(agent_id = agent.id, error = %e, "no se pudieron leer los días de Instagram; se omite Instagram");
            return IgOutcome::default();
        }
    };
    let days = account_days(&stored, today, now, inner.tz, inner.settings.instagram_backfill_days);
    let first_day = days.first().copied().unwrap_or(today);
    let refresh_from = today - Days::days(inner.settings.post_refresh_days - 1);
    let ig_request = InstagramRequest {
        token: request.token.clone(),
        plan: InstagramPlan {
            account_id: account.id.clone(),
            account_days: days,
            series_from: first_day.min(today - Days::days(REVISIT_DAYS)),
            media_from: first_day.min(refresh_from),
            today,
            tz: inner.tz,
            skip_metrics: request
                .skip_metrics
                .iter()
                .filter_map(|m| m.strip_prefix(REFUSED_PREFIX))
                .map(str::to_string)
                .collect(),
        },
    };
    let mut outcome = IgOutcome::default();
    let mut attempt = 0;
    let result = loop {
        attempt += 1;
        let gate = inner.budget.gate();
        let result = inner.source.fetch_instagram(&ig_request, &gate).await;
        outcome.calls += gate.calls();
        match result {
            Err(InstagramFailure::Source(SourceError::Retriable { reason }))
                if attempt < inner.settings.max_attempts && !gate.local_failure() =>
            {
                tracing::info!(agent_id = agent.id, attempt, error = %reason, "fallo temporal al leer Instagram");
                inner
                    .clock
                    .sleep(backoff(inner.settings.retry_base_delay, attempt))
                    .await;
            }
            Ok(data) => {
                outcome.max_usage_pct = gate.max_usage_pct();
                if gate.max_usage_pct() > 0 {
                    let _ = inner.budget.record_usage_pct(gate.max_usage_pct()).await;
                }
                break Ok(data);
            }
            Err(e) => break Err(e),
        }
    };
    match result {
        Ok(data) => store_instagram(inner, agent, data, now).await,
        Err(InstagramFailure::AccountLimited { resume_after }) => {
            let _ = inner.budget.record_rate_limit_hit().await;
            let wait = resume_after
                .filter(|d| !d.is_zero())
                .unwrap_or(inner.settings.page_limit_default);
            let until = now + Days::from_std(wait).unwrap_or(Days::minutes(10));
            tracing::warn!(agent_id = agent.id, %until, "Instagram (#80002): sus llamadas esperan; Facebook sigue");
            set_state(inner, agent, Some(until), agent.instagram_problem.as_deref()).await;
        }
        Err(InstagramFailure::Permission { reason }) => {
            tracing::warn!(agent_id = agent.id, "Instagram sin permiso; Facebook sigue");
            set_state(inner, agent, None, Some(&reason)).await;
        }
        Err(InstagramFailure::Source(SourceError::TokenInvalid { reason })) => {
            outcome.token_invalid = Some(reason);
        }
        Err(InstagramFailure::Source(SourceError::RateLimited { reason, .. })) => {
            let _ = inner.budget.record_rate_limit_hit().await;
            tracing::warn!(agent_id = agent.id, error = %reason, "límite de la API al leer Instagram; se leerá en la próxima sincronización");
        }
        Err(other) => {
            tracing::warn!(agent_id = agent.id, error = %other, "no se pudo leer Instagram; se leerá en la próxima sincronización");
        }
    }
    outcome
}

async fn store_instagram(inner: &Inner, agent: &Agent, data: super::source::InstagramData, now: DateTime<Utc>) {
    for metric in &data.refused_metrics {
        match inner.store.add_refused_metric(metric, now).await {
            Ok(true) => tracing::warn!(
                agent_id = agent.id,
                metric,
                "Meta retiró una métrica de Instagram; pulso sigue con las demás"
            ),
            Ok(false) => {}
            Err(e) => tracing::error!(metric, error = %e, "no se pudo recordar la métrica rechazada"),
        }
    }
    let mut days = data.days;
    for d in &mut days {
        if d.has_account_metrics() {
            d.account_read_at = Some(now);
        }
    }
    let written = async {
        inner.store.upsert_instagram_daily(agent.id, &days, now).await?;
        inner.store.upsert_instagram_media(agent.id, &data.media, now).await
    }
    .await;
    match written {
        Ok(_) => {
            if agent.instagram_paused_until.is_some() || agent.instagram_problem.is_some() {
                set_state(inner, agent, None, None).await;
            }
        }
        Err(e) => {
            tracing::error!(agent_id = agent.id, error = %e, "no se pudieron guardar los datos de Instagram");
        }
    }
}

async fn set_state(inner: &Inner, agent: &Agent, paused_until: Option<DateTime<Utc>>, problem: Option<&str>) {
    if let Err(e) = inner
        .store
        .set_instagram_state(agent.id, paused_until, problem, inner.clock.now())
        .await
    {
        tracing::error!(agent_id = agent.id, error = %e, "no se pudo guardar el estado de Instagram");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ: Tz = chrono_tz::America::Mexico_City;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn read(day: u32, at: &str) -> InstagramDaily {
        InstagramDaily {
            account_read_at: Some(at.parse().unwrap()),
            media: Some(0),
            ..InstagramDaily::new(d(day))
        }
    }

    fn unread(day: u32) -> InstagramDaily {
        InstagramDaily {
            media: Some(0),
            ..InstagramDaily::new(d(day))
        }
    }

    #[test]
    fn first_sync_backfills_complete_days_oldest_first() {
        let now = "2026-11-20T18:00:00Z".parse().unwrap();
        assert_eq!(account_days(&[], d(20), now, TZ, 3), vec![d(17), d(18), d(19)]);
        // Only the Page call's follower count stored (Instagram paused so far): still a first sync.
        let followers_only = InstagramDaily {
            followers: Some(120),
            ..InstagramDaily::new(d(20))
        };
        assert_eq!(account_days(&[followers_only], d(20), now, TZ, 2), vec![d(18), d(19)]);
    }

    #[test]
    fn daily_sync_prefers_a_day_that_can_become_final_then_the_newest_unread() {
        // Office today Nov 20, 12:00 in Mexico City.
        let now: DateTime<Utc> = "2026-11-20T18:00:00Z".parse().unwrap();
        // Nov 17 read too early (Nov 18 at noon): it can be final now (ended Nov 18 06:00 UTC + 48 h).
        let rows = [read(17, "2026-11-18T18:00:00Z"), unread(18), unread(19)];
        assert_eq!(account_days(&rows, d(20), now, TZ, 7), vec![d(17)]);
        // Nov 17 final: the newest day never read.
        let rows = [read(17, "2026-11-20T07:00:00Z"), unread(18), unread(19)];
        assert_eq!(account_days(&rows, d(20), now, TZ, 7), vec![d(19)]);
        // Every day read, none can be final yet but 18 and 19: the oldest non-final.
        let rows = [
            read(17, "2026-11-20T07:00:00Z"),
            read(18, "2026-11-20T07:00:00Z"),
            read(19, "2026-11-20T07:00:00Z"),
        ];
        assert_eq!(account_days(&rows, d(20), now, TZ, 7), vec![d(18)]);
    }
}

//! Read-side queries for chat replies: an agent's KPI card, the team ranking and team totals.
//! Every number is read from the database; nothing here calls Facebook. The admin aggregation
//! (the ranking every admin command builds on) is cached for 5 minutes and dropped whenever a
//! sync writes new data.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::period::today_in;
use crate::domain::ranking::average_score;
use crate::domain::{
    Agent, AgentTotals, DateRange, KpiLine, Period, RankedAgent, TeamTotals, kpi_lines_compared, rank,
    shared_known_days, unpublished_note,
};
use crate::store::{Store, StoreResult};

pub const ADMIN_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
pub struct AgentCard {
    pub agent: Agent,
    pub period: Period,
    pub range: DateRange,
    pub current: AgentTotals,
    pub previous: AgentTotals,
    pub lines: Vec<KpiLine>,
    /// "Facebook aún no publica las métricas de página de hoy" and the like, when some Page metrics
    /// of the period are unknown.
    pub note: Option<String>,
}

/// The whole office over a period: every agent ranked, plus team totals.
#[derive(Debug, Clone)]
pub struct TeamView {
    pub range: DateRange,
    pub ranked: Vec<RankedAgent>,
    pub average_score: f64,
    pub team: TeamTotals,
    pub agents: Vec<Agent>,
}

/// A computed team view and the `now` it was computed at.
type Cached = (DateTime<Utc>, Arc<TeamView>);

pub struct Queries {
    store: Arc<dyn Store>,
    tz: Tz,
    ttl: Duration,
    /// Views by range, with the `now` they were computed at: the expiry is judged by the caller's
    /// clock (the engine's), so it follows the manual clock in tests.
    cache: Mutex<HashMap<DateRange, Cached>>,
}

impl Queries {
    pub fn new(store: Arc<dyn Store>, tz: Tz) -> Self {
        Self {
            store,
            tz,
            ttl: ADMIN_CACHE_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Overrides the 5-minute cache lifetime (0 disables caching).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The inclusive day range of `period` ending today in the office time zone.
    pub fn range(&self, period: Period, now: DateTime<Utc>) -> DateRange {
        period.range_ending(today_in(self.tz, now))
    }

    /// Called after every sync write, so no admin sees numbers older than the database.
    pub fn invalidate(&self) {
        self.cache.lock().expect("cache lock").clear();
    }

    pub async fn agent_card(&self, agent: &Agent, period: Period, now: DateTime<Utc>) -> StoreResult<AgentCard> {
        let range = self.range(period, now);
        // Two independent reads on two pooled connections: a card waits for the slower one only.
        let (current, previous) = tokio::join!(
            self.store.agent_totals(agent.id, range),
            self.store.agent_totals(agent.id, range.previous())
        );
        let (current, previous) = (current?, previous?);
        // Page metrics compare only the days Facebook has published in both periods.
        let same_days = current.impressions_days == previous.impressions_days
            && current.reach_days == previous.reach_days
            && current.engaged_days == previous.engaged_days;
        let (basis_current, basis_previous) = if same_days || !previous.has_data() {
            (current.clone(), previous.clone())
        } else {
            let (cur_days, prev_days) = tokio::join!(
                self.store.daily_metrics(agent.id, range),
                self.store.daily_metrics(agent.id, range.previous())
            );
            let (cur, prev) = shared_known_days(&cur_days?, range.from, &prev_days?, range.previous().from);
            (AgentTotals::from_days(&cur), AgentTotals::from_days(&prev))
        };
        let today = today_in(self.tz, now);
        Ok(AgentCard {
            lines: kpi_lines_compared(&current, &basis_current, &basis_previous),
            note: unpublished_note(&current, range.days(), range.contains(today)),
            agent: agent.clone(),
            period,
            range,
            current,
            previous,
        })
    }

    /// Every agent ranked over the period (agents without data score 0), cached for 5 minutes.
    pub async fn team_view(&self, period: Period, now: DateTime<Utc>) -> StoreResult<Arc<TeamView>> {
        let range = self.range(period, now);
        if let Some((at, view)) = self.cache.lock().expect("cache lock").get(&range)
            && (now - *at).to_std().is_ok_and(|age| age < self.ttl)
        {
            return Ok(view.clone());
        }
        let view = Arc::new(self.compute_team_view(range).await?);
        self.cache
            .lock()
            .expect("cache lock")
            .insert(range, (now, view.clone()));
        Ok(view)
    }

    /// Team totals of any range, uncached (the previous period of a summary).
    pub async fn team_totals(&self, range: DateRange) -> StoreResult<TeamTotals> {
        let totals = self.store.all_agent_totals(range).await?;
        Ok(TeamTotals::from_agents(totals.iter().map(|(_, t)| t)))
    }

    /// Every agent ranked over any range, uncached (the weekly and monthly reports).
    pub async fn team_view_of(&self, range: DateRange) -> StoreResult<TeamView> {
        self.compute_team_view(range).await
    }

    async fn compute_team_view(&self, range: DateRange) -> StoreResult<TeamView> {
        // Two independent reads on two pooled connections: the ranking waits for the slower one only.
        let (agents, totals) = tokio::join!(self.store.agents(), self.store.all_agent_totals(range));
        let agents = agents?;
        let mut totals: HashMap<i64, AgentTotals> = totals?.into_iter().collect();
        let ranked = rank(
            agents
                .iter()
                .map(|a| (a.id, a.name.clone(), totals.remove(&a.id).unwrap_or_default())),
        );
        let team = TeamTotals::from_agents(ranked.iter().map(|r| &r.totals));
        Ok(TeamView {
            range,
            average_score: average_score(&ranked),
            ranked,
            team,
            agents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_the_office_day() {
        // 02:00 UTC on the 27th is still the 26th in Mexico City.
        let now = DateTime::parse_from_rfc3339("2026-11-27T02:00:00Z").unwrap().to_utc();
        let tz: Tz = "America/Mexico_City".parse().unwrap();
        let today = today_in(tz, now);
        assert_eq!(Period::Week.range_ending(today).to.to_string(), "2026-11-26");
    }
}

use serde::Serialize;

use super::agent::AgentId;
use super::instagram::{InstagramTotals, Network, instagram_score};
use super::metrics::AgentTotals;

/// The seed's composite score: posts×10 + impressions/1000 + reach/500 + link clicks×5. Views and
/// reach count only the days Facebook has published (an unpublished day adds nothing, it is not 0
/// views: every agent's latest days are equally unpublished, so the ranking stays fair).
pub fn performance_score(t: &AgentTotals) -> f64 {
    t.posts as f64 * 10.0
        + t.impressions.unwrap_or(0) as f64 / 1000.0
        + t.reach.unwrap_or(0) as f64 / 500.0
        + t.link_clicks as f64 * 5.0
}

/// An agent's score on `network`: [`performance_score`] for Facebook, [`instagram_score`] for
/// Instagram (None: no Instagram numbers, scores 0), their sum for the total.
pub fn network_score(network: Network, facebook: &AgentTotals, instagram: Option<&InstagramTotals>) -> f64 {
    let ig = || instagram.map(instagram_score).unwrap_or(0.0);
    match network {
        Network::Facebook => performance_score(facebook),
        Network::Instagram => ig(),
        Network::Total => performance_score(facebook) + ig(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedAgent {
    /// 1-based position.
    pub position: usize,
    pub agent_id: AgentId,
    pub name: String,
    pub score: f64,
    pub totals: AgentTotals,
}

/// Orders agents by score, highest first; equal scores are ordered by name so the ranking is stable.
pub fn rank(agents: impl IntoIterator<Item = (AgentId, String, AgentTotals)>) -> Vec<RankedAgent> {
    rank_scored(agents.into_iter().map(|(id, name, totals)| {
        let score = performance_score(&totals);
        (id, name, totals, score)
    }))
}

/// Orders agents by a score computed elsewhere (e.g. [`network_score`]), with the same tie rules
/// as [`rank`]. `totals` stays the agent's Facebook totals.
pub fn rank_scored(agents: impl IntoIterator<Item = (AgentId, String, AgentTotals, f64)>) -> Vec<RankedAgent> {
    let mut ranked: Vec<RankedAgent> = agents
        .into_iter()
        .map(|(agent_id, name, totals, score)| RankedAgent {
            position: 0,
            agent_id,
            score,
            name,
            totals,
        })
        .collect();
    // Keys computed once per agent, not once per comparison.
    ranked.sort_by_cached_key(|r| {
        (
            std::cmp::Reverse(OrderedScore(r.score)),
            super::spanish_key(&r.name),
            r.agent_id,
        )
    });
    for (i, r) in ranked.iter_mut().enumerate() {
        r.position = i + 1;
    }
    ranked
}

/// Scores in IEEE total order, so they can be part of a sort key.
#[derive(PartialEq)]
struct OrderedScore(f64);

impl Eq for OrderedScore {}

impl PartialOrd for OrderedScore {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrderedScore {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Mean score of the ranked agents (the team-average line), 0 for an empty ranking.
pub fn average_score(ranked: &[RankedAgent]) -> f64 {
    if ranked.is_empty() {
        0.0
    } else {
        ranked.iter().map(|r| r.score).sum::<f64>() / ranked.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(posts: i64, impressions: i64, reach: i64, link_clicks: i64) -> AgentTotals {
        AgentTotals {
            posts,
            impressions: Some(impressions),
            reach: Some(reach),
            link_clicks,
            ..Default::default()
        }
    }

    #[test]
    fn score_follows_the_seed_formula() {
        assert_eq!(performance_score(&totals(3, 5000, 1000, 4)), 30.0 + 5.0 + 2.0 + 20.0);
    }

    #[test]
    fn ranking_orders_by_score_then_name() {
        let ranked = rank([
            (1, "Zoe".to_string(), totals(1, 0, 0, 0)),
            (2, "Ana".to_string(), totals(1, 0, 0, 0)),
            (3, "Beto".to_string(), totals(5, 0, 0, 0)),
        ]);
        let names: Vec<_> = ranked.iter().map(|r| (r.position, r.name.as_str())).collect();
        assert_eq!(names, [(1, "Beto"), (2, "Ana"), (3, "Zoe")]);
        assert!((average_score(&ranked) - (50.0 + 10.0 + 10.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn network_scores_add_up() {
        let fb = totals(1, 0, 0, 0);
        let ig = InstagramTotals {
            media: Some(2),
            views: Some(3000),
            ..Default::default()
        };
        assert_eq!(network_score(Network::Facebook, &fb, Some(&ig)), 10.0);
        assert_eq!(network_score(Network::Instagram, &fb, Some(&ig)), 23.0);
        assert_eq!(network_score(Network::Total, &fb, Some(&ig)), 33.0);
        assert_eq!(network_score(Network::Instagram, &fb, None), 0.0);
    }
}

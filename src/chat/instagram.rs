//! Instagram in chat: the card's Instagram block, the ranking by network, the team's Instagram
//! lines for `/resumen` and the weekly/monthly summaries, and the Instagram state of each agent for
//! `/agentes` and `/estado`. Reads only what the caller's [`super::permissions::Scope`] allows: the
//! handlers pass one agent for personal views.

use std::collections::HashMap;

use chrono::{DateTime, Duration as Days, Utc};
use chrono_tz::Tz;

use super::replies::score;
use super::text::{bold, plain};
use crate::domain::card_instagram::{instagram_freshness_note, instagram_paused, instagram_title, top_media_text};
use crate::domain::period::local_midnight;
use crate::domain::{
    Agent, AgentId, DateRange, InstagramTotals, Network, RankedAgent, instagram_line_text, instagram_lines,
    instagram_score, network_score, rank_scored, shared_instagram_days, trailing_unknown_days,
};
use crate::store::{Store, StoreResult};

/// Media listed under "Publicaciones destacadas de Instagram".
pub const TOP_MEDIA: i64 = 3;

/// Said instead of the Instagram numbers when they could not be read: the Facebook part of the
/// reply still goes out.
pub const UNREADABLE: &str = "⚠️ No pude leer los datos de Instagram esta vez. Inténtalo de nuevo en unos minutos.";

/// A card's Instagram block, or the [`UNREADABLE`] line (logged) when reading it failed.
pub fn or_unreadable(block: StoreResult<Option<String>>) -> Option<String> {
    block.unwrap_or_else(|e| {
        tracing::error!(error = %e, "no se pudieron leer los datos de Instagram");
        Some(format!("\n{UNREADABLE}"))
    })
}

/// A summary's Instagram section, or the [`UNREADABLE`] line (logged) when reading it failed.
pub fn team_section(team: StoreResult<TeamInstagram>) -> Vec<String> {
    match team {
        Ok(team) => team_instagram_text(&team),
        Err(e) => {
            tracing::error!(error = %e, "no se pudieron leer los datos de Instagram del equipo");
            vec![String::new(), UNREADABLE.to_string()]
        }
    }
}

/// Why the agent's Instagram cannot be read, as chat text; None when nothing is wrong.
fn problem_text(agent: &Agent) -> Option<String> {
    let problem = plain(agent.instagram_problem.as_deref()?);
    let problem = problem.trim();
    (!problem.is_empty()).then(|| problem.to_string())
}

/// "⏸ Instagram en pausa hasta las 15:30 …" and the stored problem, when there are any.
pub fn state_lines(agent: &Agent, now: DateTime<Utc>, tz: Tz) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(until) = instagram_paused(agent.instagram_paused_until, now) {
        out.push(format!(
            "⏸ Instagram en pausa hasta las {} (límite de llamadas de Instagram); Facebook sigue al día.",
            until.with_timezone(&tz).format("%H:%M")
        ));
    }
    if let Some(problem) = problem_text(agent) {
        out.push(format!("⚠️ Instagram: {problem}"));
    }
    out
}

/// The Instagram block of `agent`'s card over `range` (None when the agent has no account): the
/// KPIs with Δ % over the days known in both periods, the Instagram score, the 48 h note, pause and
/// problem, and the agent's top media.
pub async fn card_block(
    store: &dyn Store,
    agent: &Agent,
    range: DateRange,
    now: DateTime<Utc>,
    tz: Tz,
) -> StoreResult<Option<String>> {
    if agent.instagram_account_id.is_none() {
        return Ok(None);
    }
    let previous = range.previous();
    let (from, to) = (
        local_midnight(range.from, tz),
        local_midnight(range.to + Days::days(1), tz),
    );
    let (cur_days, prev_days, media) = tokio::join!(
        store.instagram_daily(agent.id, range),
        store.instagram_daily(agent.id, previous),
        store.top_instagram_media(Some(agent.id), from, to, TOP_MEDIA)
    );
    let (cur_days, prev_days, media) = (cur_days?, prev_days?, media?);
    let current = InstagramTotals::from_days(&cur_days);
    let (basis_cur, basis_prev) = shared_instagram_days(&cur_days, range.from, &prev_days, previous.from);
    let lines = instagram_lines(
        &current,
        &InstagramTotals::from_days(&basis_cur),
        &InstagramTotals::from_days(&basis_prev),
    );
    let mut out = vec![
        String::new(),
        format!("📸 {}", bold(&instagram_title(agent.instagram_username.as_deref()))),
    ];
    out.extend(lines.iter().map(instagram_line_text));
    out.push(format!("🏅 Puntuación Instagram: {}", score(instagram_score(&current))));
    out.extend(instagram_freshness_note(
        trailing_unknown_days(&cur_days, range.from, range.to),
        range.days(),
    ));
    out.extend(state_lines(agent, now, tz));
    out.push(bold("🖼️ Publicaciones destacadas de Instagram"));
    let media: Vec<_> = media.iter().map(|m| (&m.media, None)).collect();
    out.push(top_media_text(&media));
    Ok(Some(out.join("\n")))
}

/// Every agent ranked by `network` over `range`, from the Facebook ranking already computed (its
/// totals are kept on each row). Instagram alone ranks only agents with an account or Instagram
/// data: an agent without Instagram is not "0 on Instagram".
pub async fn ranked_by_network(
    store: &dyn Store,
    facebook: &[RankedAgent],
    agents: &[Agent],
    range: DateRange,
    network: Network,
) -> StoreResult<Vec<RankedAgent>> {
    if network == Network::Facebook {
        return Ok(facebook.to_vec());
    }
    let instagram: HashMap<AgentId, InstagramTotals> = store.all_instagram_totals(range).await?.into_iter().collect();
    let has_account = |id: AgentId| agents.iter().any(|a| a.id == id && a.instagram_account_id.is_some());
    Ok(rank_scored(
        facebook
            .iter()
            .filter(|r| network != Network::Instagram || has_account(r.agent_id) || instagram.contains_key(&r.agent_id))
            .map(|r| {
                let s = network_score(network, &r.totals, instagram.get(&r.agent_id));
                (r.agent_id, r.name.clone(), r.totals.clone(), s)
            }),
    ))
}

/// The team's Instagram over a period, ready for a summary.
#[derive(Debug, Clone, Default)]
pub struct TeamInstagram {
    /// Agents with a linked account now.
    pub accounts: usize,
    pub agents: usize,
    pub totals: InstagramTotals,
    pub basis_current: InstagramTotals,
    pub basis_previous: InstagramTotals,
    /// (name, Instagram score) of the best agents with Instagram data, best first.
    pub podium: Vec<(String, f64)>,
    /// (owner name, media), most engaging first.
    pub top_media: Vec<(String, crate::domain::InstagramMedia)>,
}

/// Reads the team's Instagram numbers of `range` and the days known in both it and the previous one.
pub async fn team_instagram(
    store: &dyn Store,
    agents: &[Agent],
    range: DateRange,
    tz: Tz,
) -> StoreResult<TeamInstagram> {
    let previous = range.previous();
    let (from, to) = (
        local_midnight(range.from, tz),
        local_midnight(range.to + Days::days(1), tz),
    );
    let (per_agent, cur_days, prev_days, media) = tokio::join!(
        store.all_instagram_totals(range),
        store.team_instagram_daily(range),
        store.team_instagram_daily(previous),
        store.top_instagram_media(None, from, to, TOP_MEDIA)
    );
    let (per_agent, cur_days, prev_days, media) = (per_agent?, cur_days?, prev_days?, media?);
    let name_of = |id: AgentId| {
        agents
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let mut totals = InstagramTotals::default();
    for (_, t) in &per_agent {
        totals.add(t);
    }
    let (basis_cur, basis_prev) = shared_instagram_days(&cur_days, range.from, &prev_days, previous.from);
    let mut podium: Vec<(String, f64)> = per_agent
        .iter()
        .filter(|(_, t)| t.has_data())
        .map(|(id, t)| (name_of(*id), instagram_score(t)))
        .collect();
    podium.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| crate::domain::spanish_cmp(&a.0, &b.0)));
    podium.truncate(3);
    Ok(TeamInstagram {
        accounts: agents.iter().filter(|a| a.instagram_account_id.is_some()).count(),
        agents: agents.len(),
        totals,
        basis_current: InstagramTotals::from_days(&basis_cur),
        basis_previous: InstagramTotals::from_days(&basis_prev),
        podium,
        top_media: media.into_iter().map(|m| (name_of(m.agent_id), m.media)).collect(),
    })
}

/// The Instagram section of a team summary (empty when no agent has Instagram nor any data).
pub fn team_instagram_text(t: &TeamInstagram) -> Vec<String> {
    if t.accounts == 0 && !t.totals.has_data() && t.top_media.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        String::new(),
        bold("📸 Instagram del equipo"),
        format!("Agentes con Instagram: {} de {}", t.accounts, t.agents),
    ];
    out.extend(
        instagram_lines(&t.totals, &t.basis_current, &t.basis_previous)
            .iter()
            .map(instagram_line_text),
    );
    if !t.podium.is_empty() {
        out.push(bold("🏅 Mejores en Instagram"));
        out.extend(
            t.podium
                .iter()
                .enumerate()
                .map(|(i, (name, s))| format!("{}. {} — {}", i + 1, plain(name), score(*s))),
        );
    }
    out.push(bold("🖼️ Publicaciones destacadas de Instagram"));
    let media: Vec<_> = t.top_media.iter().map(|(owner, m)| (m, Some(owner.as_str()))).collect();
    out.push(top_media_text(&media));
    out
}

/// `/agentes`: " · Instagram @ana.casas" (with pause or problem), or nothing without an account.
pub fn agent_suffix(agent: &Agent, now: DateTime<Utc>, tz: Tz) -> String {
    if agent.instagram_account_id.is_none() {
        return String::new();
    }
    let title = instagram_title(agent.instagram_username.as_deref());
    let mut s = format!(" · 📸 {title}");
    if let Some(until) = instagram_paused(agent.instagram_paused_until, now) {
        s.push_str(&format!(
            " en pausa hasta las {}",
            until.with_timezone(&tz).format("%H:%M")
        ));
    }
    if let Some(problem) = problem_text(agent) {
        s.push_str(&format!(" ⚠️ {problem}"));
    }
    s
}

/// `/estado`'s Instagram section: how many agents have an account and who is paused or has a problem.
pub fn estado_lines(agents: &[Agent], now: DateTime<Utc>, tz: Tz) -> Vec<String> {
    let with: Vec<&Agent> = agents.iter().filter(|a| a.instagram_account_id.is_some()).collect();
    let mut out = vec![
        String::new(),
        bold(&format!(
            "📸 Instagram ({} de {} agentes con cuenta)",
            with.len(),
            agents.len()
        )),
    ];
    for a in &with {
        let state = state_lines(a, now, tz);
        let badge = if state.is_empty() { "✅" } else { "⚠️" };
        let title = instagram_title(a.instagram_username.as_deref());
        out.push(format!("{badge} {} · {title}", plain(&a.name)));
        out.extend(state.into_iter().map(|l| format!("  {l}")));
    }
    if with.is_empty() {
        out.push("Ningún agente tiene una cuenta de Instagram vinculada a su página.".into());
    }
    out
}

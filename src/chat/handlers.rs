//! Data commands: KPI cards, ranking, team summary, CSV export. Each reads only within the
//! [`Scope`] that `permissions::access` granted.

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};

use super::core::{ChatCore, Fail, Reply, Visibility};
use super::permissions::Scope;
use super::replies::{self, kpi_line, score};
use super::text::{bold, plain};
use crate::charts::{self, RankingChart, TeamChart, TrendChart};
use crate::domain::freshness::footer;
use crate::domain::{Agent, AgentId, DateRange, Freshness, Network, Period, RankedAgent, find_by_name, kpi_lines};
use crate::export::{export_csv, export_days, top_posts_text};
use crate::ports::Attachment;

/// Agents listed in the admin's text ranking.
const RANKING_LINES: usize = 10;
/// Posts listed under "Publicaciones destacadas".
const TOP_POSTS: i64 = 3;

fn png(file_name: String, png: charts::Png) -> Attachment {
    Attachment {
        file_name,
        mime: "image/png",
        bytes: png.0,
    }
}

/// The most recent sync of any agent: the freshness of a team view.
pub(crate) fn team_last_sync(agents: &[Agent]) -> Option<DateTime<Utc>> {
    agents.iter().filter_map(|a| a.last_synced_at).max()
}

/// File-name-safe form of a name: ASCII letters and digits, `_` for the rest.
fn slug(s: &str) -> String {
    crate::domain::name_key(s)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(40)
        .collect()
}

impl ChatCore {
    pub(crate) fn day_start_utc(&self, day: NaiveDate) -> DateTime<Utc> {
        crate::domain::period::local_midnight(day, self.inner.tz)
    }

    /// `/mis_metricas` (scope = own agent) and `/metricas <agente>` (scope = everyone).
    pub(crate) async fn card(
        &self,
        scope: &Scope,
        name: Option<&str>,
        period: Period,
        chart: bool,
    ) -> Result<Reply, Fail> {
        let agent = match (scope, name) {
            (Scope::Own(agent), _) => agent.clone(),
            (Scope::Everyone, Some(name)) => {
                let agents = self.inner.store.agents().await?;
                match find_by_name(&agents, name) {
                    Ok(a) => a.clone(),
                    Err(e) => {
                        return Err(Fail::User(format!(
                            "{}. Uso: /metricas <agente> [periodo]. Escribe /agentes para ver los nombres.",
                            capitalize(&plain(&e.to_string()))
                        )));
                    }
                }
            }
            _ => return Err(Fail::User("Indica el agente: /metricas <agente> [periodo]".into())),
        };
        let now = self.now();
        let range = self.inner.queries.range(period, now);
        let (from, to) = (
            self.day_start_utc(range.from),
            self.day_start_utc(range.to + Days::days(1)),
        );
        let (card, posts, instagram) = tokio::join!(
            self.inner.queries.agent_card(&agent, period, now),
            self.inner.store.top_posts(Some(agent.id), from, to, TOP_POSTS),
            // Only this card's agent: the scope already decided whose card it is.
            super::instagram::card_block(self.inner.store.as_ref(), &agent, range, now, self.inner.tz)
        );
        let (card, posts) = (card?, posts?);
        let instagram = super::instagram::or_unreadable(instagram);
        let posts: Vec<_> = posts.iter().map(|p| &p.post).collect();
        let mut text = replies::card_text(&card, &posts, instagram.as_deref(), now);
        let attachment = if chart {
            let current = self.inner.store.daily_metrics(agent.id, card.range).await?;
            let previous = self.inner.store.daily_metrics(agent.id, card.range.previous()).await?;
            // Instagram views and reach beside Facebook's when the agent has an account.
            let instagram = match agent.instagram_account_id {
                Some(_) => self.inner.store.instagram_daily(agent.id, card.range).await?,
                None => Vec::new(),
            };
            let title = format!("{} · {}", plain(&agent.name), period.label());
            let range = card.range;
            let rendered = charts::render_off_runtime(move || {
                charts::trend_with_instagram_png(
                    &TrendChart {
                        title: &title,
                        range,
                        current: &current,
                        previous: &previous,
                    },
                    &instagram,
                )
            })
            .await;
            match rendered {
                Ok(p) => Some(png(
                    format!("tendencia_{}_{}.png", slug(&agent.name), period.keyword()),
                    p,
                )),
                Err(e) => {
                    tracing::error!(error = %e, "no se pudo dibujar la tendencia");
                    text.push_str("\n(No pude dibujar la gráfica esta vez.)");
                    None
                }
            }
        } else {
            None
        };
        Ok(Reply {
            text,
            attachment,
            buttons: Vec::new(),
            visibility: Visibility::Private,
            progress: None,
        })
    }

    /// `/ranking`: admins get the chart and the top list; an agent gets only their own position.
    /// `network` picks the score: Facebook's, Instagram's or their sum.
    pub(crate) async fn ranking(&self, scope: &Scope, period: Period, network: Network) -> Result<Reply, Fail> {
        let now = self.now();
        let view = self.inner.queries.team_view(period, now).await?;
        let ranked = super::instagram::ranked_by_network(
            self.inner.store.as_ref(),
            &view.ranked,
            &view.agents,
            view.range,
            network,
        )
        .await?;
        let range_label = match network {
            Network::Facebook => view.range.label(),
            n => format!("{} · {}", view.range.label(), n.label()),
        };
        let suffix = match network {
            Network::Facebook => String::new(),
            n => format!(" · {}", n.label()),
        };
        let foot = footer(team_last_sync(&view.agents), now);
        match scope {
            Scope::Own(agent) => {
                let title = format!("Tu posición · {}{suffix}", period.label());
                let text = match ranked.iter().find(|r| r.agent_id == agent.id) {
                    Some(me) => replies::own_position_text(&title, &range_label, me.position, ranked.len(), me.score),
                    None if network == Network::Instagram => format!(
                        "🏆 {}\nNo tienes una cuenta de Instagram vinculada a tu página: no apareces en este ranking.",
                        bold(&title)
                    ),
                    None => format!("🏆 {}\nTodavía no apareces en el ranking.", bold(&title)),
                };
                // The agent's own freshness, not the team's.
                let foot = footer(agent.last_synced_at, now);
                // Their bar highlighted among nameless ones (the top 20 and theirs past 25 agents).
                let attachment = if ranked.iter().any(|r| r.agent_id == agent.id) {
                    let age = agent.last_synced_at.map(|t| crate::domain::hace(t, now));
                    if network == Network::Total {
                        let stacked = stacked_agents(&ranked, Some(agent.id));
                        self.stacked_chart(title.clone(), view.range, stacked, Some(agent.id), age, period)
                            .await
                    } else {
                        let ranked = anonymous_except(&ranked, agent.id);
                        self.ranking_chart(title.clone(), view.range, ranked, Some(agent.id), age, period, network)
                            .await
                    }
                } else {
                    None
                };
                Ok(Reply {
                    text: format!("{text}\n{foot}"),
                    attachment,
                    buttons: Vec::new(),
                    visibility: Visibility::Private,
                    progress: None,
                })
            }
            _ => {
                let title = format!("Ranking · {}{suffix}", period.label());
                let average = crate::domain::ranking::average_score(&ranked);
                let text = replies::ranking_text(&title, &range_label, &ranked, average, RANKING_LINES);
                let age = team_last_sync(&view.agents).map(|t| crate::domain::hace(t, now));
                let attachment = if network == Network::Total {
                    let stacked = stacked_agents(&ranked, None);
                    self.stacked_chart(title, view.range, stacked, None, age, period).await
                } else {
                    self.ranking_chart(title, view.range, ranked, None, age, period, network)
                        .await
                };
                Ok(Reply {
                    text: format!("{text}\n{foot}"),
                    attachment,
                    buttons: Vec::new(),
                    visibility: Visibility::Public,
                    progress: None,
                })
            }
        }
    }

    /// The ranking PNG, drawn off the runtime; None (logged) when drawing failed. `ranked` carries
    /// the chosen network's scores.
    #[allow(clippy::too_many_arguments)]
    async fn ranking_chart(
        &self,
        title: String,
        range: DateRange,
        ranked: Vec<RankedAgent>,
        highlight: Option<AgentId>,
        data_age: Option<String>,
        period: Period,
        network: Network,
    ) -> Option<Attachment> {
        let file_name = match network {
            Network::Facebook => format!("ranking_{}.png", period.keyword()),
            n => format!("ranking_{}_{}.png", n.keyword(), period.keyword()),
        };
        let rendered = charts::render_off_runtime(move || {
            charts::ranking_png(&RankingChart {
                title: &title,
                range,
                ranked: &ranked,
                highlight,
                data_age,
            })
        })
        .await;
        match rendered {
            Ok(p) => Some(png(file_name, p)),
            Err(e) => {
                tracing::error!(error = %e, "no se pudo dibujar el ranking");
                None
            }
        }
    }

    /// The two-network ranking PNG for `/ranking … total`: a Facebook and an Instagram segment
    /// per agent; None (logged) when drawing failed.
    async fn stacked_chart(
        &self,
        title: String,
        range: DateRange,
        stacked: Vec<charts::StackedAgent>,
        highlight: Option<AgentId>,
        data_age: Option<String>,
        period: Period,
    ) -> Option<Attachment> {
        let rendered = charts::render_off_runtime(move || {
            charts::ranking_stacked(&charts::StackedRankingChart {
                title: &title,
                range,
                ranked: &stacked,
                highlight,
                data_age,
            })
        })
        .await;
        match rendered {
            Ok(p) => Some(png(format!("ranking_total_{}.png", period.keyword()), p)),
            Err(e) => {
                tracing::error!(error = %e, "no se pudo dibujar el ranking total");
                None
            }
        }
    }

    /// `/resumen` (admins): team totals with Δ%, top performers, stale or failing agents, top posts,
    /// and the team chart.
    pub(crate) async fn resumen(&self, period: Period) -> Result<Reply, Fail> {
        let now = self.now();
        let view = self.inner.queries.team_view(period, now).await?;
        let previous = self.inner.queries.team_totals(view.range.previous()).await?;
        let mut out = vec![
            format!("📋 {}", bold(&format!("Resumen del equipo · {}", period.label()))),
            format!(
                "{} · comparado con {}",
                view.range.label(),
                view.range.previous().label()
            ),
            format!(
                "Agentes con datos: {} de {}",
                view.team.agents_with_data, view.team.agents
            ),
        ];
        out.extend(kpi_lines(&view.team.totals, &previous.totals).iter().map(kpi_line));
        out.push(String::new());
        out.push(bold("🏅 Mejores agentes"));
        let top: Vec<_> = view.ranked.iter().filter(|r| r.totals.has_data()).take(3).collect();
        if top.is_empty() {
            out.push("Nadie tiene datos en este periodo.".into());
        }
        for r in top {
            out.push(format!("{}. {} — {}", r.position, plain(&r.name), score(r.score)));
        }
        let stale: Vec<&Agent> = view
            .agents
            .iter()
            .filter(|a| a.is_syncable() && Freshness::of(a.last_synced_at, now).is_older_than_48h())
            .collect();
        let failing: Vec<&Agent> = view.agents.iter().filter(|a| !a.is_syncable()).collect();
        out.push(String::new());
        if stale.is_empty() && failing.is_empty() {
            out.push("✅ Todos los agentes tienen datos recientes.".into());
        }
        if !stale.is_empty() {
            out.push(bold(&format!("⚠️ Datos con más de 48 h ({})", stale.len())));
            out.extend(
                stale
                    .iter()
                    .map(|a| replies::freshness_line(&a.name, a.last_synced_at, now)),
            );
        }
        if !failing.is_empty() {
            out.push(bold(&format!("❌ Sin conexión o con errores ({})", failing.len())));
            out.extend(failing.iter().map(|a| {
                let reason = a
                    .status_reason
                    .as_deref()
                    .map(|r| format!(": {}", plain(r)))
                    .unwrap_or_default();
                format!("{} · {}{reason}", a.status.label(), plain(&a.name))
            }));
        }
        let from = self.day_start_utc(view.range.from);
        let to = self.day_start_utc(view.range.to + Days::days(1));
        let posts = self.inner.store.top_posts(None, from, to, TOP_POSTS).await?;
        out.push(String::new());
        out.push(bold("📝 Publicaciones destacadas"));
        let posts: Vec<_> = posts.into_iter().map(|p| p.post).collect();
        out.push(top_posts_text(&posts.iter().collect::<Vec<_>>()));
        let instagram =
            super::instagram::team_instagram(self.inner.store.as_ref(), &view.agents, view.range, self.inner.tz).await;
        out.extend(super::instagram::team_section(instagram));
        out.push(footer(team_last_sync(&view.agents), now));

        let daily = self.inner.store.team_daily(view.range).await?;
        let instagram_daily = self.inner.store.team_instagram_daily(view.range).await?;
        let title = format!("Equipo · {}", period.label());
        let range = view.range;
        let attachment = match charts::render_off_runtime(move || {
            charts::team_with_instagram_png(
                &TeamChart {
                    title: &title,
                    range,
                    daily: &daily,
                },
                &instagram_daily,
            )
        })
        .await
        {
            Ok(p) => Some(png(format!("equipo_{}.png", period.keyword()), p)),
            Err(e) => {
                tracing::error!(error = %e, "no se pudo dibujar el resumen");
                None
            }
        };
        Ok(Reply {
            text: out.join("\n"),
            attachment,
            buttons: Vec::new(),
            visibility: Visibility::Public,
            progress: None,
        })
    }

    /// `/exportar`: a CSV of daily rows, everyone's for admins, the caller's own for agents.
    pub(crate) async fn exportar(&self, scope: &Scope, period: Period) -> Result<Reply, Fail> {
        let now = self.now();
        let range = self.inner.queries.range(period, now);
        let agents = match scope {
            Scope::Own(agent) => vec![agent.clone()],
            _ => self.inner.store.agents().await?,
        };
        // Facebook and Instagram columns side by side, one row per agent per day with data.
        let rows = export_days(self.inner.store.as_ref(), &agents, range).await?;
        let who = match scope {
            Scope::Own(agent) => slug(&agent.name),
            _ => "equipo".into(),
        };
        let file_name = format!("pulso_{who}_{}_{}_{}.csv", period.keyword(), range.from, range.to);
        let last = match scope {
            Scope::Own(agent) => agent.last_synced_at,
            _ => team_last_sync(&agents),
        };
        let text = format!(
            "📎 {}\n{} · {} filas de {} {}\n{}",
            bold(&format!("Exportación · {}", period.label())),
            range.label(),
            rows.len(),
            agents.len(),
            if agents.len() == 1 { "agente" } else { "agentes" },
            footer(last, now)
        );
        Ok(Reply {
            text,
            attachment: Some(Attachment {
                file_name,
                mime: "text/csv",
                bytes: export_csv(&rows),
            }),
            buttons: Vec::new(),
            visibility: Visibility::Private,
            progress: None,
        })
    }
}

/// The ranking an agent may see drawn: every position and score, but only `me` with a name (and
/// an id); the others' names, ids and totals are gone before the chart is drawn.
/// The two-network bars of `ranked` (by `Network::Total`); with `me`, every other bar is nameless
/// (id 0), as in [`anonymous_except`].
fn stacked_agents(ranked: &[RankedAgent], me: Option<AgentId>) -> Vec<charts::StackedAgent> {
    let mut stacked = charts::stacked_from_ranked(ranked);
    for bar in stacked.iter_mut().filter(|b| me.is_some_and(|m| m != b.agent_id)) {
        bar.agent_id = 0;
        bar.name = String::new();
    }
    stacked
}

pub(crate) fn anonymous_except(ranked: &[RankedAgent], me: AgentId) -> Vec<RankedAgent> {
    ranked
        .iter()
        .map(|r| {
            if r.agent_id == me {
                r.clone()
            } else {
                RankedAgent {
                    position: r.position,
                    agent_id: 0,
                    name: String::new(),
                    score: r.score,
                    totals: Default::default(),
                }
            }
        })
        .collect()
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

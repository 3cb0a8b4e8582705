//! Row shapes shared by both backends. Every column type used here decodes the same way on
//! SQLite and PostgreSQL (i64, f64, text, bool, date, UTC timestamp).

use chrono::{DateTime, NaiveDate, Utc};

use super::{AgentMedia, AgentPost, BudgetUsage, StoreError};
use crate::domain::{
    Agent, AgentTotals, ConnectionStatus, DailyMetrics, InstagramDaily, InstagramMedia, InstagramTotals, ItemStatus,
    JobItem, JobKind, JobStatus, MediaKind, Post, Role, SyncJob,
};

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    id: i64,
    name: String,
    email: String,
    role: String,
    facebook_page_id: Option<String>,
    instagram_account_id: Option<String>,
    instagram_username: Option<String>,
    instagram_paused_until: Option<DateTime<Utc>>,
    instagram_problem: Option<String>,
    status: String,
    status_reason: Option<String>,
    token_expires_at: Option<DateTime<Utc>>,
    last_synced_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<AgentRow> for Agent {
    type Error = StoreError;

    fn try_from(r: AgentRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str, v: &str| StoreError::Database(sqlx::Error::Decode(format!("{what} desconocido: {v}").into()));
        Ok(Agent {
            id: r.id,
            role: Role::parse(&r.role).ok_or_else(|| corrupt("rol", &r.role))?,
            status: ConnectionStatus::parse(&r.status).ok_or_else(|| corrupt("estado", &r.status))?,
            name: r.name,
            email: r.email,
            facebook_page_id: r.facebook_page_id,
            instagram_account_id: r.instagram_account_id,
            instagram_username: r.instagram_username,
            instagram_paused_until: r.instagram_paused_until,
            instagram_problem: r.instagram_problem,
            status_reason: r.status_reason,
            token_expires_at: r.token_expires_at,
            last_synced_at: r.last_synced_at,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MetricsRow {
    date: NaiveDate,
    followers: Option<i64>,
    impressions: Option<i64>,
    reach: Option<i64>,
    engaged_users: Option<i64>,
    posts: i64,
    reactions: i64,
    comments: i64,
    shares: i64,
    link_clicks: i64,
    whatsapp_clicks: i64,
    engagement_rate: Option<f64>,
}

impl From<MetricsRow> for DailyMetrics {
    fn from(r: MetricsRow) -> Self {
        DailyMetrics {
            date: r.date,
            followers: r.followers,
            impressions: r.impressions,
            reach: r.reach,
            engaged_users: r.engaged_users,
            posts: r.posts,
            reactions: r.reactions,
            comments: r.comments,
            shares: r.shares,
            link_clicks: r.link_clicks,
            whatsapp_clicks: r.whatsapp_clicks,
            engagement_rate: r.engagement_rate,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TotalsRow {
    pub agent_id: i64,
    followers: Option<i64>,
    impressions: Option<i64>,
    reach: Option<i64>,
    engaged_users: Option<i64>,
    posts: i64,
    reactions: i64,
    comments: i64,
    shares: i64,
    link_clicks: i64,
    whatsapp_clicks: i64,
    days: i64,
    impressions_days: i64,
    reach_days: i64,
    engaged_days: i64,
}

impl From<TotalsRow> for AgentTotals {
    fn from(r: TotalsRow) -> Self {
        AgentTotals {
            followers: r.followers,
            impressions: r.impressions,
            reach: r.reach,
            engaged_users: r.engaged_users,
            posts: r.posts,
            reactions: r.reactions,
            comments: r.comments,
            shares: r.shares,
            link_clicks: r.link_clicks,
            whatsapp_clicks: r.whatsapp_clicks,
            days_with_data: r.days,
            impressions_days: r.impressions_days,
            reach_days: r.reach_days,
            engaged_days: r.engaged_days,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PostRow {
    agent_id: i64,
    post_id: String,
    created_at: DateTime<Utc>,
    excerpt: String,
    permalink: Option<String>,
    reactions: i64,
    comments: i64,
    shares: i64,
    link_clicks: i64,
    links_to_whatsapp: bool,
}

impl From<PostRow> for AgentPost {
    fn from(r: PostRow) -> Self {
        AgentPost {
            agent_id: r.agent_id,
            post: Post {
                post_id: r.post_id,
                created_at: r.created_at,
                excerpt: r.excerpt,
                permalink: r.permalink,
                reactions: r.reactions,
                comments: r.comments,
                shares: r.shares,
                link_clicks: r.link_clicks,
                links_to_whatsapp: r.links_to_whatsapp,
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BudgetRow {
    hour_window: DateTime<Utc>,
    calls_made: i64,
    max_calls: i64,
    rate_limit_hits: i64,
    peak_usage_pct: i64,
}

impl From<BudgetRow> for BudgetUsage {
    fn from(r: BudgetRow) -> Self {
        BudgetUsage {
            hour_window: r.hour_window,
            calls_made: r.calls_made,
            max_calls: r.max_calls,
            rate_limit_hits: r.rate_limit_hits,
            peak_usage_pct: r.peak_usage_pct,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: i64,
    kind: String,
    status: String,
    agent_id: Option<i64>,
    requested_by: Option<String>,
    total_agents: i64,
    synced_agents: i64,
    failed_agents: i64,
    skipped_agents: i64,
    api_calls: i64,
    error_message: Option<String>,
    paused_until: Option<DateTime<Utc>>,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    fencing_token: i64,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("{what} desconocido: {v}").into()))
}

impl TryFrom<JobRow> for SyncJob {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        Ok(SyncJob {
            id: r.id,
            kind: JobKind::parse(&r.kind).ok_or_else(|| corrupt("tipo de trabajo", &r.kind))?,
            status: JobStatus::parse(&r.status).ok_or_else(|| corrupt("estado de trabajo", &r.status))?,
            agent_id: r.agent_id,
            requested_by: r.requested_by,
            total_agents: r.total_agents,
            synced_agents: r.synced_agents,
            failed_agents: r.failed_agents,
            skipped_agents: r.skipped_agents,
            api_calls: r.api_calls,
            error_message: r.error_message,
            paused_until: r.paused_until,
            lease_owner: r.lease_owner,
            lease_expires_at: r.lease_expires_at,
            fencing_token: r.fencing_token,
            created_at: r.created_at,
            started_at: r.started_at,
            completed_at: r.completed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ItemRow {
    agent_id: i64,
    status: String,
    attempts: i64,
    api_calls: i64,
    error: Option<String>,
    position: i64,
}

impl TryFrom<ItemRow> for JobItem {
    type Error = StoreError;

    fn try_from(r: ItemRow) -> Result<Self, StoreError> {
        Ok(JobItem {
            agent_id: r.agent_id,
            status: ItemStatus::parse(&r.status).ok_or_else(|| corrupt("estado de agente", &r.status))?,
            attempts: r.attempts,
            api_calls: r.api_calls,
            error: r.error,
            position: r.position,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstagramDailyRow {
    date: NaiveDate,
    followers: Option<i64>,
    new_followers: Option<i64>,
    views: Option<i64>,
    reach: Option<i64>,
    accounts_engaged: Option<i64>,
    total_interactions: Option<i64>,
    likes: Option<i64>,
    comments: Option<i64>,
    shares: Option<i64>,
    saves: Option<i64>,
    profile_links_taps: Option<i64>,
    media: Option<i64>,
    account_read_at: Option<DateTime<Utc>>,
}

impl From<InstagramDailyRow> for InstagramDaily {
    fn from(r: InstagramDailyRow) -> Self {
        InstagramDaily {
            date: r.date,
            followers: r.followers,
            new_followers: r.new_followers,
            views: r.views,
            reach: r.reach,
            accounts_engaged: r.accounts_engaged,
            total_interactions: r.total_interactions,
            likes: r.likes,
            comments: r.comments,
            shares: r.shares,
            saves: r.saves,
            profile_links_taps: r.profile_links_taps,
            media: r.media,
            account_read_at: r.account_read_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstagramTotalsRow {
    pub agent_id: i64,
    followers: Option<i64>,
    new_followers: Option<i64>,
    views: Option<i64>,
    reach: Option<i64>,
    accounts_engaged: Option<i64>,
    total_interactions: Option<i64>,
    likes: Option<i64>,
    comments: Option<i64>,
    shares: Option<i64>,
    saves: Option<i64>,
    profile_links_taps: Option<i64>,
    media: Option<i64>,
    days_with_data: i64,
    views_days: i64,
    reach_days: i64,
    interactions_days: i64,
}

impl From<InstagramTotalsRow> for InstagramTotals {
    fn from(r: InstagramTotalsRow) -> Self {
        InstagramTotals {
            followers: r.followers,
            new_followers: r.new_followers,
            views: r.views,
            reach: r.reach,
            accounts_engaged: r.accounts_engaged,
            total_interactions: r.total_interactions,
            likes: r.likes,
            comments: r.comments,
            shares: r.shares,
            saves: r.saves,
            profile_links_taps: r.profile_links_taps,
            media: r.media,
            days_with_data: r.days_with_data,
            views_days: r.views_days,
            reach_days: r.reach_days,
            interactions_days: r.interactions_days,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct MediaRow {
    agent_id: i64,
    media_id: String,
    created_at: DateTime<Utc>,
    kind: String,
    excerpt: String,
    permalink: Option<String>,
    likes: Option<i64>,
    comments: Option<i64>,
    views: Option<i64>,
    reach: Option<i64>,
    saves: Option<i64>,
    shares: Option<i64>,
    total_interactions: Option<i64>,
}

impl TryFrom<MediaRow> for AgentMedia {
    type Error = StoreError;

    fn try_from(r: MediaRow) -> Result<Self, StoreError> {
        Ok(AgentMedia {
            agent_id: r.agent_id,
            media: InstagramMedia {
                kind: MediaKind::parse(&r.kind).ok_or_else(|| corrupt("tipo de contenido", &r.kind))?,
                media_id: r.media_id,
                created_at: r.created_at,
                excerpt: r.excerpt,
                permalink: r.permalink,
                likes: r.likes,
                comments: r.comments,
                views: r.views,
                reach: r.reach,
                saves: r.saves,
                shares: r.shares,
                total_interactions: r.total_interactions,
            },
        })
    }
}

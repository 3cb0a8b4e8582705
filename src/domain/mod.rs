//! Pure types and rules. Nothing here performs I/O or depends on an I/O crate, so every rule can be
//! tested with plain values and reused by every adapter.

pub mod agent;
pub mod calendar;
pub mod card;
pub mod card_instagram;
pub mod freshness;
pub mod instagram;
pub mod job;
pub mod metrics;
pub mod period;
pub mod ranking;
pub mod text;

pub use agent::{Agent, AgentId, ConnectionStatus, NameLookupError, Role, find_by_name, name_key};
pub use calendar::{ReportsDue, month_containing, month_label, reports_due, week_containing};
pub use card::{Kpi, KpiLine, kpi_lines, kpi_lines_compared, thousands, unpublished_note};
pub use card_instagram::{IgKpi, IgLine, instagram_line_text, instagram_lines};
pub use freshness::{Freshness, hace};
pub use instagram::{
    InstagramAccount, InstagramDaily, InstagramMedia, InstagramTotals, MediaKind, Network, instagram_score,
    shared_instagram_days, trailing_unknown_days,
};
pub use job::{ItemStatus, JobId, JobItem, JobKind, JobStatus, SyncJob};
pub use metrics::{AgentTotals, DailyMetrics, Delta, Post, TeamTotals, delta_pct, shared_known_days};
pub use period::{DateRange, MonthSplit, Period, PeriodError};
pub use ranking::{RankedAgent, network_score, performance_score, rank, rank_scored};
pub use text::{outside_line, outside_text, spanish_cmp, spanish_key};

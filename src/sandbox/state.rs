//! The sandbox's mutable world: Pages, users, tokens, faults, counters and rate buckets.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::data;
use super::fault::Fault;

/// How a seeded Page behaves before any fault is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PageState {
    Healthy,
    /// The printed Page token has expired (190/463); a new login issues a working one.
    TokenExpired,
    /// The Page was deleted: every request answers 100/33.
    Gone,
}

/// A Page the sandbox knows, as shown to tests and on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeededPage {
    pub agent_name: String,
    pub email: String,
    pub page_id: String,
    pub page_name: String,
    /// The Page's current access token.
    pub page_token: String,
    /// The Facebook user who owns the Page.
    pub user_id: String,
    pub state: PageState,
}

#[derive(Debug, Clone)]
pub(crate) struct PageRecord {
    /// Index into the deterministic generator.
    pub n: u64,
    pub page: SeededPage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    User { user_id: String },
    Page { page_id: String, user_id: String },
    App,
}

/// Why a token stopped working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// 460: password change.
    PasswordChanged,
    /// 458: the user removed the app.
    Deauthorized,
    /// 466: logged out / invalidated explicitly.
    Invalidated,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub kind: TokenKind,
    pub issued_at: DateTime<Utc>,
    /// `None` = never expires.
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: Option<Revoked>,
    pub scopes: Vec<String>,
}

pub(crate) const DEFAULT_SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_content",
    "read_insights",
    "public_profile",
];

/// A login dialog grant waiting to be exchanged.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub user_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub used: bool,
}

/// Calls in the current one-hour window of one rate bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    start: Instant,
    count: u32,
}

/// Outcome of counting one call against a bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BucketHit {
    pub pct: u32,
    pub limited: bool,
    pub regain_minutes: u64,
}

const WINDOW: Duration = Duration::from_secs(3600);
/// Nominal budget used for usage percentages when no limit is set (Meta's 4800 × engaged users).
const NOMINAL_LIMIT: u32 = 4800;

impl Bucket {
    fn hit(&mut self, limit: Option<u32>) -> BucketHit {
        let now = Instant::now();
        if now.duration_since(self.start) >= WINDOW {
            self.start = now;
            self.count = 0;
        }
        // Calls during a block still count, as Meta documents, which extends the block.
        self.count = self.count.saturating_add(1);
        let effective = limit.unwrap_or(NOMINAL_LIMIT).max(1);
        let left = WINDOW.saturating_sub(now.duration_since(self.start));
        BucketHit {
            pct: (u64::from(self.count) * 100 / u64::from(effective)) as u32,
            limited: limit.is_some_and(|l| self.count > l),
            regain_minutes: left.as_secs().div_ceil(60).max(1),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// The sandbox's clock; `None` = real time.
    pub now: Option<DateTime<Utc>>,
    pub realism: super::realism::Realism,
    /// Every Graph request, `GET path?query` with the token removed.
    pub log: Vec<String>,
    /// Pages told to publish a fixed number of posts a day.
    pub posts_per_day: HashMap<String, u32>,
    pub hourly_limit: Option<u32>,
    pub pages: Vec<PageRecord>,
    pub page_index: HashMap<String, usize>,
    /// User id → the Pages the user manages.
    pub users: HashMap<String, Vec<String>>,
    pub tokens: HashMap<String, TokenRecord>,
    pub faults: HashMap<String, Fault>,
    pub calls: u64,
    pub calls_by_page: HashMap<String, u64>,
    pub buckets: HashMap<String, Bucket>,
    pub codes: HashMap<String, CodeGrant>,
    /// Page whose owner the login dialog signs in as; `None` = the office manager (all Pages).
    pub login_page: Option<String>,
    pub login_denied: bool,
    pub next_page_number: u64,
    /// Pages whose seeded Instagram account was unlinked with the knob.
    pub instagram_unlinked: HashSet<String>,
    /// Instagram accounts told to publish a fixed number of media a day.
    pub instagram_media_per_day: HashMap<String, u32>,
}

/// The user who manages every Page, like an office manager with a role on each agent's Page.
pub(crate) const MANAGER_USER_ID: &str = "10000000000000001";

impl State {
    pub fn page(&self, page_id: &str) -> Option<&PageRecord> {
        self.page_index.get(page_id).map(|&i| &self.pages[i])
    }

    pub fn page_mut(&mut self, page_id: &str) -> Option<&mut PageRecord> {
        self.page_index.get(page_id).copied().map(move |i| &mut self.pages[i])
    }

    /// Adds a Page numbered `n` (deterministic id and token from the seed).
    pub fn add_page(&mut self, seed: u64, agent_name: String, state: PageState) -> SeededPage {
        let n = self.next_page_number;
        self.next_page_number += 1;
        let h = data::hash(&[seed, n, 0xFACE]);
        let mut id_number = 100_000_000_000_000u64 + (h % 10_000_000_000) * 10_000 + n % 10_000;
        while self.page_index.contains_key(&id_number.to_string()) {
            id_number += 1;
        }
        let page_id = id_number.to_string();
        let user_id = (61_550_000_000_000u64 + h % 1_000_000_000 * 1000 + n % 1000).to_string();
        let page_token = format!(
            "EAAP{:016x}{:016x}",
            data::hash(&[seed, n, 0x70c]),
            data::hash(&[seed, n, 0x70d])
        );
        let now = Utc::now();
        let (expires_at, issued_at) = match state {
            PageState::TokenExpired => (Some(now - chrono::Duration::days(3)), now - chrono::Duration::days(63)),
            _ => (None, now - chrono::Duration::days(10)),
        };
        self.tokens.insert(
            page_token.clone(),
            TokenRecord {
                kind: TokenKind::Page {
                    page_id: page_id.clone(),
                    user_id: user_id.clone(),
                },
                issued_at,
                expires_at,
                revoked: None,
                scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            },
        );
        let page = SeededPage {
            email: data::email_for(&agent_name),
            page_name: format!("{agent_name} · Bienes Raíces"),
            agent_name,
            page_id: page_id.clone(),
            page_token,
            user_id: user_id.clone(),
            state,
        };
        self.users.entry(user_id).or_default().push(page_id.clone());
        self.users
            .entry(MANAGER_USER_ID.to_string())
            .or_default()
            .push(page_id.clone());
        self.page_index.insert(page_id, self.pages.len());
        self.pages.push(PageRecord { n, page: page.clone() });
        page
    }

    pub fn count_call(&mut self, page_id: Option<&str>) {
        self.calls += 1;
        // Instagram calls count under the account id (`calls_for(ig_id)`), Page calls under the Page.
        let known = |p: &str| self.page_index.contains_key(p) || super::instagram_data::page_number(p).is_some();
        if let Some(p) = page_id.filter(|p| known(p)) {
            *self.calls_by_page.entry(p.to_string()).or_default() += 1;
        }
    }

    pub fn hit_bucket(&mut self, key: &str) -> BucketHit {
        let limit = self.hourly_limit;
        self.buckets
            .entry(key.to_string())
            .or_insert_with(|| Bucket {
                start: Instant::now(),
                count: 0,
            })
            .hit(limit)
    }

    /// Takes one use of a counted fault, clearing it when spent.
    pub fn take_fault(&mut self, page_id: &str) -> Fault {
        let Some(fault) = self.faults.get_mut(page_id) else {
            return Fault::None;
        };
        let current = fault.clone();
        match fault {
            Fault::Transient { remaining }
            | Fault::Http503Html { remaining }
            | Fault::PageLimited { remaining, .. } => {
                *remaining = remaining.saturating_sub(1);
                if *remaining == 0 {
                    self.faults.remove(page_id);
                }
                if matches!(
                    current,
                    Fault::Transient { remaining: 0 }
                        | Fault::Http503Html { remaining: 0 }
                        | Fault::PageLimited { remaining: 0, .. }
                ) {
                    return Fault::None;
                }
            }
            _ => {}
        }
        current
    }

    /// Mints a user token for `user_id`, valid for `lifetime` (`None` = never expires).
    pub fn mint_user_token(
        &mut self,
        user_id: &str,
        lifetime: Option<chrono::Duration>,
        scopes: Vec<String>,
    ) -> String {
        let token = format!("EAAU{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        let now = Utc::now();
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                kind: TokenKind::User {
                    user_id: user_id.to_string(),
                },
                issued_at: now,
                expires_at: lifetime.map(|l| now + l),
                revoked: None,
                scopes,
            },
        );
        token
    }

    /// A working Page token for `page_id`: the current one, or a new one when it stopped working.
    pub fn fresh_page_token(&mut self, page_id: &str) -> Option<String> {
        let now = Utc::now();
        let record = self.page(page_id)?;
        let current = record.page.page_token.clone();
        let user_id = record.page.user_id.clone();
        let works = self
            .tokens
            .get(&current)
            .is_some_and(|t| t.revoked.is_none() && t.expires_at.is_none_or(|e| e > now));
        if works {
            return Some(current);
        }
        let token = format!("EAAP{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                kind: TokenKind::Page {
                    page_id: page_id.to_string(),
                    user_id,
                },
                issued_at: now,
                expires_at: None,
                revoked: None,
                scopes: DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect(),
            },
        );
        if let Some(record) = self.page_mut(page_id) {
            record.page.page_token = token.clone();
        }
        Some(token)
    }
}

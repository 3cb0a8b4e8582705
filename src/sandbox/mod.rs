//! A faithful fake of the Facebook Graph API for demos and tests: versioned paths, real JSON shapes,
//! error bodies and usage headers, deterministic Pages with two years of history, a Facebook Login
//! imitation, rate limits and fault knobs (in process and over HTTP under `/__sandbox/`).
//!
//! Data is generated on demand from (seed, Page number, day), so a thousand Pages cost almost
//! nothing until they are read. See `reference/graph-api.md` for the behaviour being imitated.

mod admin;
mod data;
mod fault;
mod fields;
mod graph;
mod insights;
mod instagram;
mod instagram_account;
mod instagram_data;
mod instagram_insights;
mod instagram_media;
mod instagram_truth;
mod oauth;
mod posts;
mod realism;
mod reply;
mod request;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use fault::Fault;
pub use instagram_truth::{InstagramDayTruth, InstagramMediaTruth, SeededInstagram};
pub use realism::{PostsPaging, Realism};
pub use state::{PageState, Revoked, SeededPage};

use state::{MANAGER_USER_ID, State};

/// How the sandbox is seeded and behaves.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Agent Pages to seed (default 20). With two or more, the second-to-last has an expired token
    /// and the last one is deleted, so demos show failures.
    pub pages: usize,
    pub seed: u64,
    /// Days of history that insights answer for, ending at `today` (default 730).
    pub history_days: i64,
    /// The sandbox's "today" (in Pacific time, as Meta's days are): its clock stands at the last
    /// second of that day. `None` = the real clock.
    pub today: Option<NaiveDate>,
    /// How the real API's lag, growth, paging and refusals are imitated (default: as the real API).
    pub realism: Realism,
    /// Calls allowed per rate bucket (each Page for Page tokens, the app for user/app tokens) per
    /// hour; `None` = unlimited.
    pub hourly_call_limit: Option<u32>,
    /// Delay added to every Graph response.
    pub latency: Option<Duration>,
    /// Expected `client_id`; empty accepts any.
    pub app_id: String,
    /// When `Some`, every call with an access token must carry a valid `appsecret_proof`, and
    /// token exchanges must present this `client_secret`.
    pub app_secret: Option<String>,
    /// Faults set at start-up, e.g. from `--fault PAGE_ID=token_expired`.
    pub faults: Vec<(String, Fault)>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            pages: 20,
            seed: 42,
            history_days: 730,
            today: None,
            realism: Realism::default(),
            hourly_call_limit: None,
            latency: None,
            app_id: String::new(),
            app_secret: None,
            faults: Vec::new(),
        }
    }
}

/// Handle to a running (or ready to run) sandbox; cheap to clone, all clones share state.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    seed: u64,
    history_days: i64,
    latency: Option<Duration>,
    app_id: String,
    app_secret: Option<String>,
    state: Mutex<State>,
}

/// Version reported for unversioned calls.
const DEFAULT_VERSION: &str = "v25.0";

impl Sandbox {
    pub fn new(opts: SandboxOptions) -> Self {
        let mut state = State {
            now: opts.today.map(end_of_day),
            realism: opts.realism,
            hourly_limit: opts.hourly_call_limit,
            ..State::default()
        };
        state.users.insert(MANAGER_USER_ID.to_string(), Vec::new());
        for i in 0..opts.pages {
            let page_state = match (opts.pages, i) {
                (n, i) if n >= 2 && i == n - 1 => PageState::Gone,
                (n, i) if n >= 2 && i == n - 2 => PageState::TokenExpired,
                _ => PageState::Healthy,
            };
            let name = data::agent_name(state.next_page_number);
            state.add_page(opts.seed, name, page_state);
        }
        for (page_id, fault) in opts.faults {
            state.faults.insert(page_id, fault);
        }
        Sandbox {
            inner: Arc::new(Inner {
                seed: opts.seed,
                history_days: opts.history_days.max(1),
                latency: opts.latency,
                app_id: opts.app_id,
                app_secret: opts.app_secret,
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn seeded_pages(&self) -> Vec<SeededPage> {
        self.state().pages.iter().map(|p| p.page.clone()).collect()
    }

    /// Adds a healthy Page for `agent_name` (a generated Spanish name when empty).
    pub fn add_page(&self, agent_name: &str) -> SeededPage {
        let mut state = self.state();
        let name = if agent_name.trim().is_empty() {
            data::agent_name(state.next_page_number)
        } else {
            agent_name.to_string()
        };
        state.add_page(self.inner.seed, name, PageState::Healthy)
    }

    /// Adds `count` healthy Pages with generated names (benchmarks, load tests).
    pub fn add_pages(&self, count: usize) -> Vec<SeededPage> {
        (0..count).map(|_| self.add_page("")).collect()
    }

    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .merge(admin::routes())
            .fallback(graph::handle)
            .with_state(self.clone())
    }

    /// Serves until the listener fails.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }

    /// Binds 127.0.0.1 on a free port and serves in the background; the base URL is
    /// `format!("http://{addr}")`.
    pub async fn spawn_local(&self) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let sandbox = self.clone();
        let handle = tokio::spawn(async move {
            if let Err(e) = sandbox.serve(listener).await {
                tracing::error!(error = %e, "sandbox stopped");
            }
        });
        Ok((addr, handle))
    }

    /// Sets (or with `Fault::None`, clears) the fault of one Page.
    pub fn set_fault(&self, page_id: &str, fault: Fault) {
        let mut state = self.state();
        if fault == Fault::None {
            state.faults.remove(page_id);
        } else {
            state.faults.insert(page_id.to_string(), fault);
        }
    }

    pub fn fault(&self, page_id: &str) -> Fault {
        self.state().faults.get(page_id).cloned().unwrap_or_default()
    }

    /// Graph API requests answered (login dialog and `/__sandbox/` excluded).
    pub fn calls(&self) -> u64 {
        self.state().calls
    }

    /// Graph API requests whose path targeted this Page, or with an Instagram account id, that
    /// account (a Page's count leaves out the calls to its Instagram account).
    pub fn calls_for(&self, page_id: &str) -> u64 {
        self.state().calls_by_page.get(page_id).copied().unwrap_or(0)
    }

    /// Resets call counters and rate buckets.
    pub fn reset_calls(&self) {
        let mut state = self.state();
        state.calls = 0;
        state.calls_by_page.clear();
        state.log.clear();
        state.buckets.clear();
    }

    pub fn set_hourly_call_limit(&self, limit: Option<u32>) {
        self.state().hourly_limit = limit;
    }

    /// Moves the sandbox's clock to the last second of `day` (Pacific).
    pub fn set_today(&self, day: NaiveDate) {
        self.state().now = Some(end_of_day(day));
    }

    /// Sets the sandbox's clock: which insights are published, which posts exist and how far their
    /// lifetime metrics have grown all follow it.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state().now = Some(now);
    }

    /// Moves the sandbox's clock forward (from the real time when it was never set).
    pub fn advance(&self, by: chrono::Duration) {
        let mut state = self.state();
        let now = state.now.unwrap_or_else(Utc::now);
        state.now = Some(now + by);
    }

    /// The sandbox's clock.
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.state().now;
        now.unwrap_or_else(Utc::now)
    }

    /// The sandbox's current day (Pacific time).
    pub fn today(&self) -> NaiveDate {
        request::pacific_day(self.now())
    }

    pub fn realism(&self) -> Realism {
        self.state().realism.clone()
    }

    pub fn set_realism(&self, realism: Realism) {
        self.state().realism = realism;
    }

    /// Retires (or with `false`, restores) a Page metric: from now on every request naming it fails
    /// whole with `(#100) The value must be a valid insights metric`.
    pub fn retire_metric(&self, metric: &str, retired: bool) {
        let mut state = self.state();
        if retired {
            state.realism.retired_metrics.insert(metric.to_string());
        } else {
            state.realism.retired_metrics.remove(metric);
        }
    }

    pub fn set_posts_paging(&self, paging: PostsPaging) {
        self.state().realism.paging = paging;
    }

    /// Posts requests with a larger `limit` fail with code 1 / subcode 99; `None` lifts it.
    pub fn set_reduce_data_above(&self, limit: Option<u32>) {
        self.state().realism.reduce_data_above = limit;
    }

    /// Hours after a Pacific day ends until its insights are published; `None`: at once, today included.
    pub fn set_insights_lag(&self, hours: Option<u32>) {
        self.state().realism.insights_lag_hours = hours;
    }

    /// Makes a Page publish exactly `per_day` posts (at most 2) every day (`None`: its own habit),
    /// e.g. 350 posts in 180 days for paging tests.
    pub fn set_posts_per_day(&self, page_id: &str, per_day: Option<u32>) {
        let mut state = self.state();
        match per_day {
            Some(n) => state.posts_per_day.insert(page_id.to_string(), n),
            None => state.posts_per_day.remove(page_id),
        };
    }

    pub(crate) fn posts_per_day(&self, page_id: &str) -> Option<u32> {
        self.state().posts_per_day.get(page_id).copied()
    }

    /// Every Graph request answered so far, oldest first, as `METHOD path?query` without the token
    /// (the call log tests read).
    pub fn call_log(&self) -> Vec<String> {
        self.state().log.clone()
    }

    /// A short-lived (2 h) user token of the Page's owner, as the login flow would obtain.
    pub fn issue_user_token(&self, page_id: &str) -> Option<String> {
        let mut state = self.state();
        let user_id = state.page(page_id)?.page.user_id.clone();
        Some(state.mint_user_token(&user_id, Some(chrono::Duration::hours(2)), default_scopes()))
    }

    /// A short-lived user token of the office manager, who manages every Page.
    pub fn issue_manager_token(&self) -> String {
        self.state()
            .mint_user_token(MANAGER_USER_ID, Some(chrono::Duration::hours(2)), default_scopes())
    }

    /// The login dialog signs in as this Page's owner (`None`: the office manager, the default).
    pub fn set_login_page(&self, page_id: Option<&str>) {
        self.state().login_page = page_id.map(str::to_string);
    }

    /// When true, the login dialog redirects with `error=access_denied`.
    pub fn set_login_denied(&self, denied: bool) {
        self.state().login_denied = denied;
    }

    /// Makes a token expire now (any kind).
    pub fn expire_token(&self, token: &str) {
        if let Some(t) = self.state().tokens.get_mut(token) {
            t.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
        }
    }

    /// Invalidates a token: password change (190/460), app removed (458) or logout (466).
    pub fn revoke_token(&self, token: &str, reason: Revoked) {
        if let Some(t) = self.state().tokens.get_mut(token) {
            t.revoked = Some(reason);
        }
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }
}

fn default_scopes() -> Vec<String> {
    state::DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
}

/// The last second of a Pacific day.
fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    request::pacific_midnight(day + chrono::Duration::days(1)) - chrono::Duration::seconds(1)
}

/// `pulso sandbox --listen ADDR`: prints the seeded Pages and serves until stopped.
pub async fn run_cli(listen: SocketAddr, opts: SandboxOptions) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(opts);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    println!("Sandbox de la Graph API en http://{addr} (hoy: {})", sandbox.today());
    println!("{:<28} {:<17} {:<14} token", "agente", "página", "estado");
    for page in sandbox.seeded_pages() {
        let state = match page.state {
            PageState::Healthy => "ok",
            PageState::TokenExpired => "token vencido",
            PageState::Gone => "eliminada",
        };
        println!(
            "{:<28} {:<17} {:<14} {}",
            page.agent_name, page.page_id, state, page.page_token
        );
    }
    for ig in sandbox.instagram_accounts() {
        println!(
            "instagram {:<17} @{:<32} {:>6} seguidores (página {})",
            ig.ig_id, ig.username, ig.followers_count, ig.page_id
        );
    }
    let faults = sandbox.state().faults.clone();
    for (page_id, fault) in faults {
        println!("falla inyectada: {page_id} = {fault}");
    }
    println!("Login: http://{addr}/dialog/oauth?client_id=…&redirect_uri=…&state=…");
    println!(
        "Realismo: {}",
        serde_json::to_string(&sandbox.realism()).unwrap_or_default()
    );
    println!(
        "Control: GET/POST http://{addr}/__sandbox/{{pages,calls,faults,today,now,realism,limit,login,instagram}}"
    );
    sandbox.serve(listener).await?;
    Ok(())
}

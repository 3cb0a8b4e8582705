//! Facebook Graph API client: page insights and posts for one agent, and the token endpoints used
//! by the login flow.
//!
//! Every request carries the token in an `Authorization: Bearer` header (never in the URL, except
//! where the API defines the token as a parameter: `debug_token`'s `input_token` and the
//! `fb_exchange_token` grant), an `appsecret_proof` when the app secret is configured, and a timeout.
//! Usage headers are read on every response, errors included.

mod error;
mod gate;
mod insights;
mod lenient;
mod posts;
mod tokens;
mod usage;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub use error::{FetchError, GraphErrorBody, classify, parse_error_body};
pub use gate::{CallGate, GateClosed, NoGate};
pub use insights::{DayField, MAX_WINDOW_DAYS, METRICS, measured_day, metric_param, parse_insights, windows};
pub use posts::{POST_FIELDS, PostsPage, excerpt, is_whatsapp_link, merge_posts_into_days, parse_posts_page};
pub use tokens::{FacebookUser, PageAccess, TokenInfo, UserToken, parse_debug_token};
pub use usage::{Usage, read_usage};

use crate::domain::{DailyMetrics, DateRange, Post};

/// Where and how to reach the Graph API.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Base URL without version or trailing slash, e.g. `https://graph.facebook.com`.
    pub base_url: String,
    /// Version path segment, e.g. `v25.0`.
    pub api_version: String,
    pub app_id: String,
    pub app_secret: Option<SecretString>,
    pub timeout: Duration,
}

impl GraphConfig {
    pub fn from_config(c: &crate::config::Config) -> Self {
        GraphConfig {
            base_url: c.facebook.graph_url.clone(),
            api_version: c.facebook.api_version.clone(),
            app_id: c.facebook.app_id.clone(),
            app_secret: c.secrets.facebook_app_secret.clone(),
            timeout: Duration::from_secs(c.facebook.timeout_secs.max(1) as u64),
        }
    }
}

/// One agent's fetched data.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFetch {
    /// One row per day the insights returned, with the day's posts merged in.
    pub days: Vec<DailyMetrics>,
    /// Posts created in the range (in the office time zone), newest first.
    pub posts: Vec<Post>,
    /// HTTP requests made.
    pub calls: u32,
    /// Highest usage percentage seen in any response (0 when no usage header came back).
    pub max_usage_pct: u32,
}

/// Graph API client; cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// `{base_url}/{api_version}/`, or why it could not be built.
    base: Result<url::Url, String>,
    app_id: String,
    app_secret: Option<SecretString>,
}

/// Requests made and usage seen during one operation.
#[derive(Debug, Default)]
struct Tally {
    calls: u32,
    max_usage_pct: u32,
}

impl GraphClient {
    pub fn new(cfg: GraphConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pulso/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let base_text = format!(
            "{}/{}/",
            cfg.base_url.trim_end_matches('/'),
            cfg.api_version.trim_matches('/')
        );
        let base = url::Url::parse(&base_text)
            .map_err(|e| format!("invalid facebook.graph_url: {e}"))
            .and_then(|u| {
                if u.cannot_be_a_base() {
                    Err("facebook.graph_url cannot be a base URL".to_string())
                } else {
                    Ok(u)
                }
            });
        GraphClient {
            http,
            base,
            app_id: cfg.app_id,
            app_secret: cfg.app_secret,
        }
    }

    /// One agent's data for `[since, until]` (inclusive calendar days): insights in ≤90-day windows
    /// (one call per window with every metric of [`METRICS`]) and `published_posts` (one call, more
    /// only while `paging.next` exists). `gate.before_call()` is awaited before every request and
    /// `gate.observe_usage()` called after every response that carried a usage header.
    pub async fn fetch_agent(
        &self,
        page_id: &str,
        token: &SecretString,
        since: NaiveDate,
        until: NaiveDate,
        tz: Tz,
        gate: &(impl CallGate + ?Sized),
    ) -> Result<AgentFetch, FetchError> {
        let range = DateRange::new(since, until);
        let mut tally = Tally::default();
        let mut days = Vec::new();
        for window in windows(range) {
            let (from, to) = insights::window_params(window);
            let params = [
                ("metric", metric_param()),
                ("period", "day".to_string()),
                ("since", from),
                ("until", to),
            ];
            let body = self
                .call(&[page_id, "insights"], &params, Some(token), gate, &mut tally)
                .await?;
            days.extend(parse_insights(&body, window)?);
        }
        let posts = if range.days() > 0 {
            self.fetch_posts(page_id, token, range, tz, gate, &mut tally).await?
        } else {
            Vec::new()
        };
        merge_posts_into_days(&mut days, &posts, tz, range);
        tracing::debug!(
            page_id,
            days = days.len(),
            posts = posts.len(),
            calls = tally.calls,
            "agent fetched"
        );
        Ok(AgentFetch {
            days,
            posts,
            calls: tally.calls,
            max_usage_pct: tally.max_usage_pct,
        })
    }

    async fn fetch_posts(
        &self,
        page_id: &str,
        token: &SecretString,
        range: DateRange,
        tz: Tz,
        gate: &(impl CallGate + ?Sized),
        tally: &mut Tally,
    ) -> Result<Vec<Post>, FetchError> {
        let since = local_midnight(range.from, tz).timestamp();
        let until = local_midnight(range.to + chrono::Duration::days(1), tz).timestamp();
        let mut posts = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut seen_cursors = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let mut params = vec![
                ("fields", POST_FIELDS.to_string()),
                ("limit", posts::PAGE_SIZE.to_string()),
                ("since", since.to_string()),
                ("until", until.to_string()),
            ];
            if let Some(cursor) = &after {
                params.push(("after", cursor.clone()));
            }
            let body = self
                .call(&[page_id, "published_posts"], &params, Some(token), gate, tally)
                .await?;
            let page = parse_posts_page(&body)?;
            for post in page.posts {
                let day = post.created_at.with_timezone(&tz).date_naive();
                if range.contains(day) && seen_ids.insert(post.post_id.clone()) {
                    posts.push(post);
                }
            }
            // Stop when there is no next page, or when the cursor repeats (Graph sometimes hands the
            // same cursor back on the last page).
            match page.after {
                Some(cursor) if seen_cursors.insert(cursor.clone()) => after = Some(cursor),
                _ => break,
            }
        }
        Ok(posts)
    }

    /// One metered GET: gate, request, usage headers, classification. Returns the 2xx body.
    async fn call(
        &self,
        path: &[&str],
        params: &[(&str, String)],
        token: Option<&SecretString>,
        gate: &(impl CallGate + ?Sized),
        tally: &mut Tally,
    ) -> Result<Vec<u8>, FetchError> {
        gate.before_call().await.map_err(FetchError::Gate)?;
        let url = self.url(path, params, token)?;
        let mut request = self.http.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t.expose_secret());
        }
        tally.calls += 1;
        let endpoint = path.last().copied().unwrap_or("");
        let response = request.send().await.map_err(|e| {
            let err = FetchError::from_transport(e);
            tracing::warn!(endpoint, error = %err, "Graph request failed");
            err
        })?;
        let status = response.status().as_u16();
        let usage = read_usage(response.headers());
        if let Some(pct) = usage.pct {
            gate.observe_usage(pct);
            tally.max_usage_pct = tally.max_usage_pct.max(pct);
        }
        let trace_id = header_str(response.headers(), "x-fb-trace-id");
        let body = response.bytes().await.map_err(FetchError::from_transport)?.to_vec();
        let is_error_body = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            && body.windows(8).take(64).any(|w| w == b"\"error\":");
        if !(200..300).contains(&status) || (is_error_body && parse_error_body(&body).is_some()) {
            let err = classify(status, &body, usage.regain_after, token.map(|t| t.expose_secret()));
            tracing::warn!(endpoint, status, fbtrace_id = err.fbtrace_id(), x_fb_trace_id = trace_id.as_deref(), error = %err, "Graph error");
            return Err(err);
        }
        tracing::trace!(endpoint, status, usage_pct = usage.pct, "Graph response");
        Ok(body)
    }

    fn url(
        &self,
        path: &[&str],
        params: &[(&str, String)],
        token: Option<&SecretString>,
    ) -> Result<url::Url, FetchError> {
        let mut url = self.base.clone().map_err(|message| FetchError::Configuration {
            code: 0,
            subcode: None,
            message,
            fbtrace_id: None,
        })?;
        url.path_segments_mut()
            .map_err(|_| FetchError::bad("graph_url cannot be a base"))?
            .pop_if_empty()
            .extend(path);
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in params {
                query.append_pair(k, v);
            }
            if let Some(proof) = token.and_then(|t| self.appsecret_proof(t)) {
                query.append_pair("appsecret_proof", &proof);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        Ok(url)
    }

    /// hex(HMAC-SHA256(key = app secret, message = access token)); `None` without a secret.
    pub fn appsecret_proof(&self, token: &SecretString) -> Option<String> {
        let secret = self.app_secret.as_ref()?;
        Some(appsecret_proof(token.expose_secret(), secret.expose_secret()))
    }
}

/// hex(HMAC-SHA256(key = app secret, message = access token)), as Meta defines `appsecret_proof`.
pub fn appsecret_proof(token: &str, app_secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn header_str(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// The first instant of `day` in `tz` (the earliest one when midnight falls in a DST change).
fn local_midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Midnight skipped by a DST jump: the day starts one hour later.
        None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsecret_proof_is_hex_hmac_sha256() {
        // Reference: `printf token | openssl dgst -sha256 -hmac secret`.
        assert_eq!(
            appsecret_proof("token", "secret"),
            "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a"
        );
        assert_eq!(appsecret_proof("token", "secret").len(), 64);
        assert_ne!(appsecret_proof("token", "secret"), appsecret_proof("token", "other"));
    }

    #[test]
    fn urls_carry_no_token_and_a_proof_when_configured() {
        let client = GraphClient::new(GraphConfig {
            base_url: "http://127.0.0.1:9/".into(),
            api_version: "v25.0".into(),
            app_id: "1".into(),
            app_secret: Some(SecretString::from("s3cret")),
            timeout: Duration::from_secs(1),
        });
        let token = SecretString::from("PAGE-TOKEN");
        let url = client
            .url(&["123", "insights"], &[("metric", "a,b".into())], Some(&token))
            .unwrap();
        let text = url.to_string();
        assert!(
            text.starts_with("http://127.0.0.1:9/v25.0/123/insights?metric=a%2Cb&appsecret_proof="),
            "{text}"
        );
        assert!(!text.contains("PAGE-TOKEN"));
    }

    #[test]
    fn local_midnight_in_the_office_zone() {
        let d = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        assert_eq!(
            local_midnight(d, chrono_tz::America::Mexico_City).to_rfc3339(),
            "2026-09-01T06:00:00+00:00"
        );
    }
}

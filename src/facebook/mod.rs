//! Facebook Graph API client: page insights and posts for one agent, the agent's linked Instagram
//! account (discovered in the Page call, read with the Page token), and the token endpoints used
//! by the login flow.
//!
//! Every request carries the token in an `Authorization: Bearer` header (never in the URL, except
//! where the API defines the token as a parameter: `debug_token`'s `input_token` and the
//! `fb_exchange_token` grant), an `appsecret_proof` when the app secret is configured, and a timeout.
//! Usage headers are read on every response, errors included.

mod error;
mod fetch;
mod gate;
mod ig_parse;
mod insights;
mod instagram;
mod lenient;
mod posts;
mod tokens;
mod usage;

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::domain::period::local_midnight;
pub use error::{FetchError, GraphErrorBody, classify, is_page_limit, parse_error_body};
pub use fetch::{AgentFetch, AgentPlan, INSTAGRAM_ACCOUNT_FIELD};
pub use gate::{CallGate, GateClosed, NoGate};
pub use ig_parse::{IgNode, MediaPage, parse_account_day, parse_ig_node, parse_media_page};
pub use insights::{
    DayField, MAX_WINDOW_DAYS, METRICS, is_known_metric, measured_day, metric_param, parse_insights, windows,
};
pub use instagram::{InstagramError, InstagramFetch, InstagramPlan, MEDIA_PAGE_SIZE};
pub use posts::{
    POST_FIELDS, PageNode, PostsPage, excerpt, is_whatsapp_link, merge_posts_into_days, parse_page_node,
    parse_posts_page,
};
pub use tokens::{FacebookUser, PageAccess, TokenInfo, UserToken, parse_debug_token};
pub use usage::{Usage, read_usage};

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

/// Graph API client; cheap to clone.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// `{base_url}/{api_version}/`, or why it could not be built.
    base: Result<url::Url, String>,
    app_id: String,
    app_secret: Option<SecretString>,
}

/// A failed call: the classified error and, when the body was a Graph error, its fields.
struct CallFailure {
    error: FetchError,
    graph: Option<GraphErrorBody>,
}

impl From<FetchError> for CallFailure {
    fn from(error: FetchError) -> Self {
        CallFailure { error, graph: None }
    }
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

    /// One metered GET: gate, request, usage headers, classification. Returns the 2xx body.
    async fn call(
        &self,
        path: &[&str],
        params: &[(&str, String)],
        token: Option<&SecretString>,
        gate: &(impl CallGate + ?Sized),
        tally: &mut Tally,
    ) -> Result<Vec<u8>, FetchError> {
        let url = self.url(path, params, token)?;
        let endpoint = path.last().copied().unwrap_or("");
        self.send(url, endpoint, token, gate, tally).await.map_err(|f| f.error)
    }

    /// [`Self::call`] of a ready URL, keeping Graph's error object beside the classified error so
    /// callers can react to specific codes (1/99, an invalid metric).
    async fn send(
        &self,
        url: url::Url,
        endpoint: &str,
        token: Option<&SecretString>,
        gate: &(impl CallGate + ?Sized),
        tally: &mut Tally,
    ) -> Result<Vec<u8>, CallFailure> {
        gate.before_call()
            .await
            .map_err(|g| CallFailure::from(FetchError::Gate(g)))?;
        let mut request = self.http.get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t.expose_secret());
        }
        tally.calls += 1;
        let response = request.send().await.map_err(|e| {
            let err = FetchError::from_transport(e);
            tracing::warn!(endpoint, error = %err, "Graph request failed");
            CallFailure::from(err)
        })?;
        let status = response.status().as_u16();
        let usage = read_usage(response.headers());
        // Only the app's usage can pause every agent; a Page's or account's own usage is theirs
        // (when it runs out Meta answers 80001 / 80002, which defer that agent alone).
        if let Some(pct) = usage.pct {
            gate.observe_usage(pct);
            tally.max_usage_pct = tally.max_usage_pct.max(pct);
        }
        if let Some(pct) = usage.object_pct.filter(|p| *p >= 80) {
            tracing::info!(
                endpoint,
                object_usage_pct = pct,
                "Graph: a Page or account is near its own limit"
            );
        }
        let trace_id = header_str(response.headers(), "x-fb-trace-id");
        let body = response
            .bytes()
            .await
            .map_err(|e| CallFailure::from(FetchError::from_transport(e)))?
            .to_vec();
        let is_error_body = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
            && body.windows(8).take(64).any(|w| w == b"\"error\":");
        if !(200..300).contains(&status) || (is_error_body && parse_error_body(&body).is_some()) {
            let err = classify(status, &body, usage.regain_after, token.map(|t| t.expose_secret()));
            tracing::warn!(endpoint, status, fbtrace_id = err.fbtrace_id(), x_fb_trace_id = trace_id.as_deref(), error = %err, "Graph error");
            return Err(CallFailure {
                error: err,
                graph: parse_error_body(&body),
            });
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
        let mut url = self.base_url()?;
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

    /// `{base_url}/{api_version}/`, or the configuration error that kept it from being built.
    fn base_url(&self) -> Result<url::Url, FetchError> {
        self.base.clone().map_err(|message| FetchError::Configuration {
            code: 0,
            subcode: None,
            message,
            fbtrace_id: None,
        })
    }

    /// A `paging.next` link as Graph gave it, sent to the configured Graph host (the link's own host
    /// is ignored so a token never leaves for another server) without the `access_token` it embeds
    /// (the token goes in the header), with a fresh `appsecret_proof` and, when set, a new `limit`.
    fn follow_url(&self, next: &str, token: &SecretString, limit: Option<u32>) -> Result<url::Url, FetchError> {
        let given = url::Url::parse(next).map_err(|e| FetchError::bad(format!("paging.next is not a URL ({e})")))?;
        let mut url = self.base_url()?;
        url.set_path(given.path());
        let kept: Vec<(String, String)> = given
            .query_pairs()
            .filter(|(k, _)| k != "access_token" && k != "appsecret_proof" && !(limit.is_some() && k == "limit"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut query = url.query_pairs_mut();
            query.clear();
            for (k, v) in &kept {
                query.append_pair(k, v);
            }
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(proof) = self.appsecret_proof(token) {
                query.append_pair("appsecret_proof", &proof);
            }
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
}

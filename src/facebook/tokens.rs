//! Token endpoints for the login flow: code exchange, long-lived exchange, debug_token, Page tokens.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::error::FetchError;
use super::gate::NoGate;
use super::lenient::count;
use super::{GraphClient, Tally};

/// A Page and the Page token that reads it.
#[derive(Debug, Clone)]
pub struct PageAccess {
    pub page_id: String,
    pub name: String,
    pub token: SecretString,
}

/// A user access token and when it expires (`None` when the API did not say).
#[derive(Debug, Clone)]
pub struct UserToken {
    pub token: SecretString,
    pub expires_at: Option<DateTime<Utc>>,
}

/// What `debug_token` says about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub is_valid: bool,
    /// `None` = never expires (`expires_at: 0`) or not reported.
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub user_id: Option<String>,
    /// Graph's reason when the token is invalid (token-like text removed).
    pub error: Option<String>,
}

/// The Facebook account a user token belongs to (`/me?fields=id,name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacebookUser {
    pub id: String,
    /// Empty when the API did not say.
    pub name: String,
}

/// Safety stop for cursor loops on `/me/accounts`.
const MAX_ACCOUNT_PAGES: usize = 50;

impl GraphClient {
    /// `GET /debug_token?input_token=…` authenticated with an app token (`{app-id}|{app-secret}`) or
    /// an app developer's user token. The API defines `input_token` as a query parameter.
    pub async fn debug_token(
        &self,
        input_token: &SecretString,
        app_token: &SecretString,
    ) -> Result<TokenInfo, FetchError> {
        let params = [("input_token", input_token.expose_secret().to_string())];
        let body = self
            .call(
                &["debug_token"],
                &params,
                Some(app_token),
                &NoGate,
                &mut Tally::default(),
            )
            .await?;
        parse_debug_token(&body, input_token.expose_secret())
    }

    /// Exchanges the login dialog's `code` for a (short-lived) user token.
    pub async fn exchange_code(&self, code: &str, redirect_uri: &str) -> Result<UserToken, FetchError> {
        let secret = self.require_secret()?;
        let params = [
            ("client_id", self.app_id.clone()),
            ("redirect_uri", redirect_uri.to_string()),
            ("client_secret", secret),
            ("code", code.to_string()),
        ];
        self.user_token(&params).await
    }

    /// `GET /oauth/access_token` answered with a user token.
    async fn user_token(&self, params: &[(&str, String)]) -> Result<UserToken, FetchError> {
        let body = self
            .call(&["oauth", "access_token"], params, None, &NoGate, &mut Tally::default())
            .await?;
        parse_user_token(&body)
    }

    /// Exchanges a short-lived user token for a long-lived one (about 60 days).
    pub async fn exchange_long_lived(&self, short: &SecretString) -> Result<UserToken, FetchError> {
        let secret = self.require_secret()?;
        let params = [
            ("grant_type", "fb_exchange_token".to_string()),
            ("client_id", self.app_id.clone()),
            ("client_secret", secret),
            ("fb_exchange_token", short.expose_secret().to_string()),
        ];
        self.user_token(&params).await
    }

    /// Every Page the user can manage, with its Page token (`/me/accounts`, all cursor pages).
    pub async fn my_pages(&self, user_token: &SecretString) -> Result<Vec<PageAccess>, FetchError> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_ACCOUNT_PAGES {
            let mut params = vec![
                ("fields", "id,name,access_token".to_string()),
                ("limit", "100".to_string()),
            ];
            if let Some(cursor) = &after {
                params.push(("after", cursor.clone()));
            }
            let body = self
                .call(
                    &["me", "accounts"],
                    &params,
                    Some(user_token),
                    &NoGate,
                    &mut Tally::default(),
                )
                .await?;
            let doc = parse_json(&body, "me/accounts")?;
            let data = doc
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| FetchError::bad("me/accounts: no data array"))?;
            pages.extend(data.iter().filter_map(page_access_from));
            let next_cursor = doc
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .filter(|_| doc.pointer("/paging/next").is_some_and(Value::is_string))
                .map(str::to_string);
            match next_cursor {
                Some(c) if after.as_deref() != Some(c.as_str()) => after = Some(c),
                _ => break,
            }
        }
        Ok(pages)
    }

    /// Who logged in: `/me?fields=id,name` with the user token.
    pub async fn me(&self, user_token: &SecretString) -> Result<FacebookUser, FetchError> {
        let params = [("fields", "id,name".to_string())];
        let body = self
            .call(&["me"], &params, Some(user_token), &NoGate, &mut Tally::default())
            .await?;
        let doc = parse_json(&body, "me")?;
        let text = |k: &str| doc.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(FacebookUser {
            id: text("id"),
            name: text("name"),
        })
    }

    /// The Page token of one Page (`/{page-id}?fields=access_token,name`). The API leaves
    /// `access_token` out when the user has no task on the Page: that is a `Permission` error.
    pub async fn page_access(&self, page_id: &str, user_token: &SecretString) -> Result<PageAccess, FetchError> {
        let params = [("fields", "id,name,access_token".to_string())];
        let body = self
            .call(&[page_id], &params, Some(user_token), &NoGate, &mut Tally::default())
            .await?;
        let doc = parse_json(&body, "page")?;
        let mut access = page_access_from(&doc).ok_or_else(|| FetchError::Permission {
            code: 0,
            message: "no Page access token returned for this user".to_string(),
            fbtrace_id: None,
        })?;
        if access.page_id.is_empty() {
            access.page_id = page_id.to_string();
        }
        Ok(access)
    }

    fn require_secret(&self) -> Result<String, FetchError> {
        self.app_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .ok_or_else(|| FetchError::Configuration {
                code: 0,
                subcode: None,
                message: "facebook.app_secret is not configured".to_string(),
                fbtrace_id: None,
            })
    }
}

fn parse_json(body: &[u8], what: &str) -> Result<Value, FetchError> {
    serde_json::from_slice(body).map_err(|e| FetchError::bad(format!("{what}: not JSON ({e})")))
}

fn page_access_from(v: &Value) -> Option<PageAccess> {
    let token = v
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())?;
    Some(PageAccess {
        page_id: v.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
        name: crate::domain::outside_line(v.get("name").and_then(Value::as_str).unwrap_or_default()),
        token: SecretString::from(token.to_string()),
    })
}

fn parse_user_token(body: &[u8]) -> Result<UserToken, FetchError> {
    let doc = parse_json(body, "oauth/access_token")?;
    let token = doc
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| FetchError::bad("oauth/access_token: no access_token"))?;
    let expires_at = doc
        .get("expires_in")
        .and_then(count)
        .filter(|s| *s > 0)
        .map(|s| Utc::now() + Duration::seconds(s));
    Ok(UserToken {
        token: SecretString::from(token.to_string()),
        expires_at,
    })
}

/// Parses a `debug_token` body (always HTTP 200 with `data`, also for bad tokens).
pub fn parse_debug_token(body: &[u8], input_token: &str) -> Result<TokenInfo, FetchError> {
    let doc = parse_json(body, "debug_token")?;
    let data = doc
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| FetchError::bad("debug_token: no data object"))?;
    let expires_at = data
        .get("expires_at")
        .and_then(count)
        .filter(|t| *t > 0)
        .and_then(|t| DateTime::from_timestamp(t, 0));
    let scopes = data
        .get("scopes")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let user_id = data.get("user_id").and_then(|u| match u {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let error = data.pointer("/error/message").and_then(Value::as_str).map(|m| {
        let scrubbed = super::error::classify(
            400,
            serde_json::json!({"error": {"message": m, "code": 190}})
                .to_string()
                .as_bytes(),
            None,
            Some(input_token),
        );
        match scrubbed {
            FetchError::TokenInvalid { message, .. } => message,
            _ => String::new(),
        }
    });
    Ok(TokenInfo {
        is_valid: data.get("is_valid").and_then(Value::as_bool).unwrap_or(false),
        expires_at,
        scopes,
        user_id,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_token_shapes() {
        let page = br#"{"data":{"app_id":"257422819769992","type":"PAGE","application":"my-app","data_access_expires_at":1676858291,
           "expires_at":0,"is_valid":true,"profile_id":"103455271248220","scopes":["pages_show_list","public_profile"],
           "granular_scopes":[{"scope":"pages_show_list","target_ids":["103455271248220"]}],"user_id":"123"}}"#;
        let info = parse_debug_token(page, "t").unwrap();
        assert!(info.is_valid);
        assert_eq!(info.expires_at, None);
        assert_eq!(info.user_id.as_deref(), Some("123"));
        assert_eq!(info.scopes.len(), 2);

        let bad = br#"{"data":{"error":{"code":190,"message":"Invalid OAuth access token - Cannot parse access token"},"is_valid":false,"scopes":[]}}"#;
        let info = parse_debug_token(bad, "t").unwrap();
        assert!(!info.is_valid);
        assert_eq!(
            info.error.as_deref(),
            Some("Invalid OAuth access token - Cannot parse access token")
        );
        assert!(parse_debug_token(b"{}", "t").is_err());
    }
}

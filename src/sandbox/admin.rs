//! `/__sandbox/…`: the knobs over HTTP, for out-of-process tests and the command line.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Fault, Realism, Sandbox};

pub(crate) fn routes() -> axum::Router<Sandbox> {
    axum::Router::new()
        .route("/__sandbox/pages", get(pages).post(add_page))
        .route("/__sandbox/calls", get(calls))
        .route("/__sandbox/calls/reset", post(reset_calls))
        .route("/__sandbox/faults", get(faults).post(set_fault))
        .route("/__sandbox/today", post(set_today))
        .route("/__sandbox/now", get(now).post(set_now))
        .route("/__sandbox/realism", get(realism).post(set_realism))
        .route("/__sandbox/log", get(log))
        .route("/__sandbox/limit", post(set_limit))
        .route("/__sandbox/login", post(set_login))
        .route("/__sandbox/user_token", post(user_token))
        .route("/__sandbox/instagram", get(instagram_accounts))
        .route("/__sandbox/instagram/link", post(instagram_link))
        .route("/__sandbox/instagram/media_per_day", post(instagram_media_per_day))
        .route("/__sandbox/instagram/{ig_id}/day/{date}", get(instagram_day))
        .route("/__sandbox/instagram/{ig_id}/media", get(instagram_media))
}

async fn pages(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!({ "today": sb.today(), "pages": sb.seeded_pages() }))
}

#[derive(Deserialize)]
struct NewPage {
    #[serde(default)]
    agent_name: String,
}

async fn add_page(State(sb): State<Sandbox>, Json(body): Json<NewPage>) -> Json<Value> {
    Json(json!(sb.add_page(&body.agent_name)))
}

async fn calls(State(sb): State<Sandbox>) -> Json<Value> {
    let by_page = sb.state().calls_by_page.clone();
    Json(json!({ "total": sb.calls(), "by_page": by_page }))
}

async fn reset_calls(State(sb): State<Sandbox>) -> StatusCode {
    sb.reset_calls();
    StatusCode::NO_CONTENT
}

async fn faults(State(sb): State<Sandbox>) -> Json<Value> {
    let faults = sb.state().faults.clone();
    Json(json!(faults))
}

/// `{"page_id": "…", "fault": "token_invalid"}`; with `"instagram": true` the fault goes to the
/// Instagram account of that Page (or account id) and only its Instagram calls fail.
#[derive(Deserialize)]
struct SetFault {
    page_id: String,
    fault: Fault,
    #[serde(default)]
    instagram: bool,
}

async fn set_fault(State(sb): State<Sandbox>, Json(body): Json<SetFault>) -> StatusCode {
    if body.instagram {
        return match sb.set_instagram_fault(&body.page_id, body.fault) {
            Some(_) => StatusCode::NO_CONTENT,
            None => StatusCode::NOT_FOUND,
        };
    }
    sb.set_fault(&body.page_id, body.fault);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SetToday {
    today: NaiveDate,
}

async fn set_today(State(sb): State<Sandbox>, Json(body): Json<SetToday>) -> StatusCode {
    sb.set_today(body.today);
    StatusCode::NO_CONTENT
}

async fn now(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!({ "now": sb.now(), "today": sb.today() }))
}

/// `{"now": "2026-09-15T18:00:00Z"}` sets the clock; `{"advance_hours": 240}` moves it forward.
#[derive(Deserialize)]
struct SetNow {
    #[serde(default)]
    now: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    advance_hours: Option<i64>,
}

async fn set_now(State(sb): State<Sandbox>, Json(body): Json<SetNow>) -> StatusCode {
    if let Some(now) = body.now {
        sb.set_now(now);
    }
    if let Some(hours) = body.advance_hours {
        sb.advance(chrono::Duration::hours(hours));
    }
    StatusCode::NO_CONTENT
}

async fn realism(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!(sb.realism()))
}

/// The whole [`Realism`] (missing keys take the real API's defaults), e.g.
/// `{"insights_lag_hours": 8, "paging": "next_only", "reduce_data_above": 25,
///   "retired_metrics": ["page_post_engagements"]}`.
async fn set_realism(State(sb): State<Sandbox>, Json(body): Json<Realism>) -> StatusCode {
    sb.set_realism(body);
    StatusCode::NO_CONTENT
}

async fn log(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!(sb.call_log()))
}

#[derive(Deserialize)]
struct SetLimit {
    hourly_call_limit: Option<u32>,
}

async fn set_limit(State(sb): State<Sandbox>, Json(body): Json<SetLimit>) -> StatusCode {
    sb.set_hourly_call_limit(body.hourly_call_limit);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SetLogin {
    #[serde(default)]
    page_id: Option<String>,
    #[serde(default)]
    denied: bool,
}

async fn set_login(State(sb): State<Sandbox>, Json(body): Json<SetLogin>) -> StatusCode {
    sb.set_login_page(body.page_id.as_deref());
    sb.set_login_denied(body.denied);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct UserTokenFor {
    #[serde(default)]
    page_id: Option<String>,
}

async fn user_token(State(sb): State<Sandbox>, Json(body): Json<UserTokenFor>) -> Result<Json<Value>, StatusCode> {
    let token = match body.page_id {
        Some(p) => sb.issue_user_token(&p).ok_or(StatusCode::NOT_FOUND)?,
        None => sb.issue_manager_token(),
    };
    Ok(Json(json!({ "access_token": token })))
}

async fn instagram_accounts(State(sb): State<Sandbox>) -> Json<Value> {
    Json(json!({ "today": sb.today(), "accounts": sb.instagram_accounts() }))
}

/// `{"day": {…}}`, or `{"day": null}` while Instagram has not produced that Pacific day.
async fn instagram_day(State(sb): State<Sandbox>, Path((ig_id, date)): Path<(String, NaiveDate)>) -> Json<Value> {
    Json(json!({ "day": sb.instagram_day(&ig_id, date) }))
}

async fn instagram_media(State(sb): State<Sandbox>, Path(ig_id): Path<String>) -> Json<Value> {
    Json(json!({ "media": sb.instagram_media(&ig_id) }))
}

#[derive(Deserialize)]
struct Link {
    page_id: String,
    linked: bool,
}

async fn instagram_link(State(sb): State<Sandbox>, Json(body): Json<Link>) -> StatusCode {
    sb.set_instagram_linked(&body.page_id, body.linked);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct MediaPerDay {
    ig_id: String,
    per_day: Option<u32>,
}

async fn instagram_media_per_day(State(sb): State<Sandbox>, Json(body): Json<MediaPerDay>) -> StatusCode {
    sb.set_instagram_media_per_day(&body.ig_id, body.per_day);
    StatusCode::NO_CONTENT
}

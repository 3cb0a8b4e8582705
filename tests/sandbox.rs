//! The sandbox as a Graph API: paths, shapes, errors, headers, limits, knobs over HTTP, scale.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use pulso::sandbox::{Fault, PageState, Revoked, Sandbox, SandboxOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

struct Fake {
    sb: Sandbox,
    base: String,
    http: reqwest::Client,
}

async fn start(opts: SandboxOptions) -> Fake {
    let sb = Sandbox::new(SandboxOptions {
        today: Some(d(2026, 9, 15)),
        ..opts
    });
    let (addr, _) = sb.spawn_local().await.unwrap();
    Fake {
        sb,
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Fake {
    async fn get(&self, path_and_query: &str, bearer: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.get(format!("{}{path_and_query}", self.base));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    fn page(&self, i: usize) -> pulso::sandbox::SeededPage {
        self.sb.seeded_pages()[i].clone()
    }
}

fn assert_graph_error(body: &Value, code: i64) {
    let e = &body["error"];
    assert_eq!(e["code"], code, "{body}");
    assert!(e["message"].is_string() && e["type"].is_string(), "{body}");
    let trace = e["fbtrace_id"].as_str().unwrap();
    assert!((20..=27).contains(&trace.len()), "{trace}");
}

#[tokio::test]
async fn insights_have_the_real_shape_and_pacific_end_times() {
    let f = start(SandboxOptions::default()).await;
    let p = f.page(0);
    let path = format!(
        "/v25.0/{}/insights?metric=page_follows,page_media_view,page_total_media_view_unique&period=day&since=2026-03-06&until=2026-03-10",
        p.page_id
    );
    let (status, headers, body) = f.get(&path, Some(&p.page_token)).await;
    assert_eq!(status, 200);
    assert_eq!(headers["facebook-api-version"], "v25.0");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[0]["name"], "page_follows");
    assert_eq!(data[0]["period"], "day");
    assert_eq!(data[0]["id"], format!("{}/insights/page_follows/day", p.page_id));
    let ends: Vec<&str> = data[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["end_time"].as_str().unwrap())
        .collect();
    // First end_time = since + 1; DST starts on 2026-03-08, so PST (08:00) turns into PDT (07:00).
    assert_eq!(
        ends,
        [
            "2026-03-07T08:00:00+0000",
            "2026-03-08T08:00:00+0000",
            "2026-03-09T07:00:00+0000",
            "2026-03-10T07:00:00+0000"
        ]
    );
    for (views, reach) in data[1]["values"]
        .as_array()
        .unwrap()
        .iter()
        .zip(data[2]["values"].as_array().unwrap())
    {
        assert!(reach["value"].as_i64().unwrap() <= views["value"].as_i64().unwrap());
    }
    assert!(body["paging"]["next"].as_str().unwrap().contains("access_token="));
    // Unversioned path and the access_token query parameter work too.
    let path = format!(
        "/{}/insights?metric=page_follows&access_token={}",
        p.page_id, p.page_token
    );
    let (status, headers, body) = f.get(&path, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["facebook-api-version"], "v25.0");
    assert_eq!(
        body["data"][0]["values"].as_array().unwrap().len(),
        2,
        "default: the two last days"
    );
}

#[tokio::test]
async fn insights_refusals() {
    let f = start(SandboxOptions::default()).await;
    let p = f.page(0);
    let base = format!("/v25.0/{}/insights", p.page_id);
    let (status, _, body) = f
        .get(
            &format!("{base}?metric=page_follows&since=2026-01-01&until=2026-06-01"),
            Some(&p.page_token),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "There cannot be more than 93 days (8035200 s) between since and until"
    );
    for retired in [
        "page_impressions",
        "page_fans",
        "page_engaged_users",
        "page_impressions_unique",
        "made_up",
    ] {
        let (status, _, body) = f
            .get(
                &format!("{base}?metric=page_follows,{retired}&period=day"),
                Some(&p.page_token),
            )
            .await;
        assert_eq!(status, 400);
        assert_graph_error(&body, 100);
        assert_eq!(
            body["error"]["message"],
            "(#100) The value must be a valid insights metric"
        );
    }
    let (status, _, body) = f.get(&base, Some(&p.page_token)).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, 3001);
    assert_eq!(body["error"]["error_subcode"], 1504028);
    // Before the November 2025 wave, page_impressions still answered.
    f.sb.set_today(d(2025, 6, 1));
    let (status, _, _) = f
        .get(&format!("{base}?metric=page_impressions"), Some(&p.page_token))
        .await;
    assert_eq!(status, 200);
    // A user token cannot read insights.
    let user = f.sb.issue_user_token(&p.page_id).unwrap();
    let (status, _, body) = f.get(&format!("{base}?metric=page_follows"), Some(&user)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "(#190) This method must be called with a Page Access Token"
    );
}

#[tokio::test]
async fn posts_shapes_and_cursor_paging() {
    let f = start(SandboxOptions::default()).await;
    let p = f.page(3);
    let fields = pulso::facebook::POST_FIELDS;
    let mut path = format!("/v25.0/{}/published_posts?limit=100&fields={fields}", p.page_id);
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let (status, _, body) = f.get(&path, Some(&p.page_token)).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        let data = body["data"].as_array().unwrap().clone();
        assert!(data.len() <= 100);
        all.extend(data);
        match body["paging"]["next"].as_str() {
            Some(_) => {
                let after = body["paging"]["cursors"]["after"].as_str().unwrap();
                path = format!(
                    "/v25.0/{}/published_posts?limit=100&fields={fields}&after={after}",
                    p.page_id
                );
            }
            None => break,
        }
    }
    assert!(
        pages >= 3,
        "two years of posts need several pages ({} posts)",
        all.len()
    );
    let post = &all[0];
    assert!(post["id"].as_str().unwrap().starts_with(&format!("{}_", p.page_id)));
    assert!(post["created_time"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(post["reactions"]["summary"]["viewer_reaction"], "NONE");
    assert_eq!(post["comments"]["summary"]["order"], "ranked");
    assert_eq!(post["insights"]["data"][0]["name"], "post_clicks_by_type");
    assert!(post["insights"]["data"][0]["values"][0]["value"]["link clicks"].is_i64());
    assert!(
        all.iter().any(|p| p.get("shares").is_none()),
        "shares omitted when zero"
    );
    assert!(
        all.iter()
            .all(|p| p.get("shares").is_none_or(|s| s["count"].as_i64().unwrap() > 0))
    );
    let wa = |host: &str| {
        all.iter().any(|p| {
            p["attachments"]["data"][0]["unshimmed_url"]
                .as_str()
                .is_some_and(|u| u.contains(host))
        })
    };
    assert!(wa("https://wa.me/") && wa("https://api.whatsapp.com/"));
    let mut ids: Vec<_> = all.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len());

    let (status, _, body) = f
        .get(
            &format!("/v25.0/{}/published_posts?limit=101", p.page_id),
            Some(&p.page_token),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _, body) = f
        .get(
            &format!("/v25.0/{}/published_posts?fields=id,owner_business", p.page_id),
            Some(&p.page_token),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "(#100) Tried accessing nonexisting field (owner_business) on node type (Post)"
    );
    let (_, _, body) = f
        .get(
            &format!("/v25.0/{}/published_posts?since=2030-01-01", p.page_id),
            Some(&p.page_token),
        )
        .await;
    assert_eq!(body, json!({ "data": [] }));
}

#[tokio::test]
async fn token_errors_have_www_authenticate_and_subcodes() {
    let f = start(SandboxOptions::default()).await;
    let p = f.page(0);
    let path = format!("/v25.0/{}/insights?metric=page_follows", p.page_id);
    let (status, headers, body) = f.get(&path, Some("EAAgarbage")).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, 190);
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("OAuth \"Facebook Platform\" \"invalid_token\"")
    );
    f.sb.revoke_token(&p.page_token, Revoked::Deauthorized);
    let (_, _, body) = f.get(&path, Some(&p.page_token)).await;
    assert_eq!(body["error"]["error_subcode"], 458);
    let expired =
        f.sb.seeded_pages()
            .into_iter()
            .find(|p| p.state == PageState::TokenExpired)
            .unwrap();
    let (_, _, body) = f
        .get(
            &format!("/v25.0/{}/insights?metric=page_follows", expired.page_id),
            Some(&expired.page_token),
        )
        .await;
    assert_eq!(body["error"]["error_subcode"], 463);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Error validating access token: Session has expired on")
    );
    let gone =
        f.sb.seeded_pages()
            .into_iter()
            .find(|p| p.state == PageState::Gone)
            .unwrap();
    let (_, _, body) = f
        .get(&format!("/v25.0/{}?fields=name", gone.page_id), Some(&gone.page_token))
        .await;
    assert_eq!(body["error"]["error_subcode"], 33);
    assert_eq!(body["error"]["type"], "GraphMethodException");
}

#[tokio::test]
async fn debug_token_is_always_200_with_data() {
    let f = start(SandboxOptions {
        app_id: "42".into(),
        app_secret: Some("s".into()),
        ..SandboxOptions::default()
    })
    .await;
    let proof = |t: &str| pulso::facebook::appsecret_proof(t, "s");
    let app = "42|s";
    let p = f.page(0);
    let (status, _, body) = f
        .get(
            &format!(
                "/v25.0/debug_token?input_token={}&appsecret_proof={}",
                p.page_token,
                proof(app)
            ),
            Some(app),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["type"], "PAGE");
    assert_eq!(body["data"]["expires_at"], 0);
    assert_eq!(body["data"]["profile_id"], p.page_id);
    let (status, _, body) = f
        .get(
            &format!("/v25.0/debug_token?input_token=nope&appsecret_proof={}", proof(app)),
            Some(app),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["is_valid"], false);
    assert_eq!(body["data"]["error"]["code"], 190);
    let (status, _, body) = f.get("/v25.0/debug_token?input_token=nope", None).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, 100);
}

#[tokio::test]
async fn usage_headers_and_hourly_limits_per_token_kind() {
    let f = start(SandboxOptions {
        hourly_call_limit: Some(2),
        ..SandboxOptions::default()
    })
    .await;
    let p = f.page(0);
    let (_, headers, _) = f
        .get(&format!("/v25.0/{}?fields=name", p.page_id), Some(&p.page_token))
        .await;
    let buc: Value = serde_json::from_str(headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert_eq!(buc[&p.page_id][0]["type"], "pages");
    assert_eq!(buc[&p.page_id][0]["call_count"], 50);
    f.get(&format!("/v25.0/{}?fields=name", p.page_id), Some(&p.page_token))
        .await;
    let (status, headers, body) = f
        .get(&format!("/v25.0/{}?fields=name", p.page_id), Some(&p.page_token))
        .await;
    assert_eq!(status, 400);
    assert_graph_error(&body, 80001);
    let buc: Value = serde_json::from_str(headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert!(buc[&p.page_id][0]["estimated_time_to_regain_access"].as_i64().unwrap() >= 59);

    let user = f.sb.issue_manager_token();
    let (_, headers, _) = f.get("/v25.0/me/accounts", Some(&user)).await;
    assert!(headers.contains_key("x-app-usage"));
    f.get("/v25.0/me", Some(&user)).await;
    let (status, _, body) = f.get("/v25.0/me", Some(&user)).await;
    assert_eq!(status, 400);
    assert_graph_error(&body, 4);
    assert_eq!(body["error"]["is_transient"], true);
}

#[tokio::test]
async fn fault_knobs_over_http_and_call_counters() {
    let f = start(SandboxOptions::default()).await;
    let p = f.page(0);
    let resp = f
        .http
        .post(format!("{}/__sandbox/faults", f.base))
        .json(&json!({ "page_id": p.page_id, "fault": "transient:1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(f.sb.fault(&p.page_id), Fault::Transient { remaining: 1 });
    let path = format!("/v25.0/{}?fields=name,followers_count", p.page_id);
    let (status, _, body) = f.get(&path, Some(&p.page_token)).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["is_transient"], true);
    assert_graph_error(&body, 2);
    let (status, _, body) = f.get(&path, Some(&p.page_token)).await;
    assert_eq!(status, 200);
    assert!(body["followers_count"].as_i64().unwrap() > 0);
    assert_eq!(body["name"], format!("{} · Bienes Raíces", p.agent_name));

    f.http
        .post(format!("{}/__sandbox/faults", f.base))
        .json(&json!({ "page_id": p.page_id, "fault": "http503:1" }))
        .send()
        .await
        .unwrap();
    let (status, headers, body) = f.get(&path, Some(&p.page_token)).await;
    assert_eq!(status, 503);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(body.as_str().unwrap().contains("<html"));

    let (_, _, calls) = f.get("/__sandbox/calls", None).await;
    assert_eq!(calls["total"], 3);
    assert_eq!(calls["by_page"][&p.page_id], 3);
    let resp = f
        .http
        .post(format!("{}/__sandbox/calls/reset", f.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(f.sb.calls(), 0);
    let bad = f
        .http
        .post(format!("{}/__sandbox/faults", f.base))
        .json(&json!({ "page_id": p.page_id, "fault": "explode" }))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error());
    let (_, _, pages) = f.get("/__sandbox/pages", None).await;
    assert_eq!(pages["pages"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn login_dialog_redirects_with_code_and_state() {
    let f = start(SandboxOptions {
        app_id: "777".into(),
        ..SandboxOptions::default()
    })
    .await;
    let resp = f
        .http
        .get(format!(
            "{}/dialog/oauth?client_id=777&redirect_uri=https%3A%2F%2Fpulso.example%2Fcb&state=abc",
            f.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://pulso.example/cb?code=AQ") && location.ends_with("&state=abc"),
        "{location}"
    );
    let resp = f
        .http
        .get(format!(
            "{}/dialog/oauth?client_id=999&redirect_uri=https%3A%2F%2Fpulso.example%2Fcb",
            f.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (status, _, body) = f
        .get(
            "/v25.0/oauth/access_token?client_id=777&redirect_uri=https%3A%2F%2Fpulso.example%2Fcb&code=bogus",
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["error_subcode"], 36007);
    // The expired token cannot be exchanged for a long-lived one.
    let user = f.sb.issue_user_token(&f.page(0).page_id).unwrap();
    f.sb.expire_token(&user);
    let (status, _, body) = f
        .get(
            &format!("/v25.0/oauth/access_token?grant_type=fb_exchange_token&client_id=777&fb_exchange_token={user}"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["error_subcode"], 463);
}

#[tokio::test]
async fn seeded_pages_have_spanish_names_and_demo_failures() {
    let sb = Sandbox::new(SandboxOptions::default());
    let pages = sb.seeded_pages();
    assert_eq!(pages.len(), 20);
    assert_eq!(pages[0].agent_name, "José Núñez");
    assert_eq!(pages[1].agent_name, "María Fernández");
    assert_eq!(pages[0].email, "jose.nunez@inmobiliaria.example");
    assert_eq!(pages.iter().filter(|p| p.state == PageState::TokenExpired).count(), 1);
    assert_eq!(pages.iter().filter(|p| p.state == PageState::Gone).count(), 1);
    let again = Sandbox::new(SandboxOptions::default()).seeded_pages();
    assert_eq!(pages, again, "same seed, same Pages and tokens");
    let other = Sandbox::new(SandboxOptions {
        seed: 7,
        ..SandboxOptions::default()
    });
    assert_ne!(pages[0].page_id, other.seeded_pages()[0].page_id);
}

#[tokio::test]
async fn same_seed_same_numbers() {
    let a = start(SandboxOptions::default()).await;
    let b = start(SandboxOptions::default()).await;
    let p = a.page(5);
    let path = format!(
        "/v25.0/{}/insights?metric=page_follows,page_media_view&since=2026-06-01&until=2026-08-30",
        p.page_id
    );
    let (_, _, x) = a.get(&path, Some(&p.page_token)).await;
    let (_, _, y) = b.get(&path, Some(&p.page_token)).await;
    assert_eq!(x["data"], y["data"]);
    assert_eq!(x["data"][0]["values"].as_array().unwrap().len(), 90);
}

#[tokio::test]
async fn a_thousand_pages_start_cheaply() {
    let started = Instant::now();
    let sb = Sandbox::new(SandboxOptions {
        pages: 1000,
        ..SandboxOptions::default()
    });
    let elapsed = started.elapsed();
    assert_eq!(sb.seeded_pages().len(), 1000);
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    let ids: std::collections::HashSet<_> = sb.seeded_pages().into_iter().map(|p| p.page_id).collect();
    assert_eq!(ids.len(), 1000);
    let extra = sb.add_pages(1000);
    assert_eq!(extra.len(), 1000);
}

#[test]
fn fault_strings_parse() {
    assert_eq!(Fault::parse("token_expired").unwrap(), Fault::TokenExpired);
    assert_eq!(Fault::parse_assignment("1=rate_limited").unwrap().1, Fault::RateLimited);
}

#[tokio::test]
async fn run_cli_prints_and_serves_until_stopped() {
    let opts = SandboxOptions {
        pages: 3,
        faults: vec![Fault::parse_assignment("123=token_expired").unwrap()],
        ..SandboxOptions::default()
    };
    let run = pulso::sandbox::run_cli("127.0.0.1:0".parse().unwrap(), opts);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), run).await.is_err(),
        "serves until stopped"
    );
}

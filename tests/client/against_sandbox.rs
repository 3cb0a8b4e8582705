//! The client against the sandbox on 127.0.0.1: call counts, faults, limits, login.

use std::time::Duration;

use chrono::{Duration as Days, NaiveDate, Utc};
use chrono_tz::America::Mexico_City;
use pulso::domain::DateRange;
use pulso::facebook::{AgentFetch, FetchError, GraphClient, NoGate};
use pulso::sandbox::{Fault, PageState, Sandbox, SandboxOptions, SeededPage};
use secrecy::ExposeSecret;

use super::common::{RecordingGate, client, client_with_timeout};
use super::{d, token};

// ---------------------------------------------------------------- against the sandbox

const TODAY: (i32, u32, u32) = (2026, 9, 15);

/// The sandbox in its instant mode (every day published, final post totals), so these client tests
/// can check exact days and calls; `tests/data_truth.rs` covers the realistic mode.
async fn sandbox(opts: SandboxOptions) -> (Sandbox, String) {
    let sb = Sandbox::new(SandboxOptions {
        today: Some(d(TODAY.0, TODAY.1, TODAY.2)),
        realism: pulso::sandbox::Realism::instant(),
        ..opts
    });
    let (addr, _handle) = sb.spawn_local().await.unwrap();
    (sb, format!("http://{addr}"))
}

fn today() -> NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

/// `page`'s days from `since` to today, in the office's time zone, without a budget gate.
async fn fetch_since(c: &GraphClient, page: &SeededPage, since: NaiveDate) -> Result<AgentFetch, FetchError> {
    c.fetch_agent(
        &page.page_id,
        &token(&page.page_token),
        since,
        today(),
        Mexico_City,
        &NoGate,
    )
    .await
}

#[tokio::test]
async fn daily_sync_costs_exactly_one_call() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[0].clone();
    sb.reset_calls();
    let gate = RecordingGate::default();
    let fetch = client(&base, None)
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today() - Days::days(3),
            today(),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap();
    assert_eq!(sb.calls(), 1);
    assert_eq!(sb.calls_for(&page.page_id), 1);
    assert_eq!(fetch.calls, 1);
    assert_eq!(gate.opened(), 1);
    let log = sb.call_log();
    assert!(
        log[0].starts_with(&format!("GET /v25.0/{}?fields=insights.metric(", page.page_id))
            && log[0].contains(",published_posts.since("),
        "{log:?}"
    );
    let dates: Vec<_> = fetch.days.iter().map(|r| r.date).collect();
    assert_eq!(dates, (0..4).rev().map(|i| today() - Days::days(i)).collect::<Vec<_>>());
    for day in &fetch.days {
        assert!(day.followers > Some(0) && day.impressions > Some(0) && day.reach <= day.impressions);
        assert!(day.whatsapp_clicks <= day.link_clicks);
    }
}

#[tokio::test]
async fn backfill_of_180_days_costs_two_calls_plus_post_pages() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[1].clone();
    sb.reset_calls();
    let fetch = fetch_since(&client(&base, None), &page, today() - Days::days(179))
        .await
        .unwrap();
    assert_eq!(fetch.days.len(), 180);
    let post_pages = fetch.posts.len().div_ceil(100).max(1) as u64;
    assert_eq!(sb.calls(), 1 + post_pages, "{} posts", fetch.posts.len());
    assert!(sb.calls() <= 4, "typical agents fit in ≤ 4 calls");
    assert_eq!(u64::from(fetch.calls), sb.calls());
    // Every post falls on a fetched day, so the day counts add up to the post list.
    let counted: i64 = fetch.days.iter().map(|r| r.posts).sum();
    assert_eq!(counted, fetch.posts.len() as i64);
    let wa: i64 = fetch.days.iter().map(|r| r.whatsapp_clicks).sum();
    assert!(fetch.posts.iter().any(|p| p.links_to_whatsapp) && wa > 0);
    assert!(fetch.posts.iter().any(|p| p.shares == 0), "posts without shares exist");
    assert!(fetch.days.iter().any(|r| r.engagement_rate > Some(0.0)));
    // Followers grow over two quarters.
    assert!(fetch.days.last().unwrap().followers >= fetch.days[0].followers);
}

#[tokio::test]
async fn many_posts_are_paged_with_cursors() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[2].clone();
    sb.reset_calls();
    // Two years: several hundred posts → several pages of 100, one call each.
    let c = client(&base, None);
    let since = today() - Days::days(729);
    let mut posts = Vec::new();
    let mut calls = 0;
    for w in pulso::facebook::windows(DateRange::new(since, today())) {
        let f = c
            .fetch_agent(
                &page.page_id,
                &token(&page.page_token),
                w.from,
                w.to,
                Mexico_City,
                &NoGate,
            )
            .await
            .unwrap();
        calls += f.calls;
        posts.extend(f.posts);
    }
    let whole = fetch_since(&c, &page, today() - Days::days(359)).await.unwrap();
    assert!(whole.posts.len() > 100, "{}", whole.posts.len());
    // Four windows: three alone, the newest with the posts on the Page node, then posts pages.
    assert_eq!(whole.calls as usize, 3 + whole.posts.len().div_ceil(100));
    let mut ids: Vec<_> = whole.posts.iter().map(|p| p.post_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), whole.posts.len(), "no post twice across pages");
    assert!(calls > 0 && !posts.is_empty());
}

#[tokio::test]
async fn transient_twice_then_ok() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[0].clone();
    sb.set_fault(&page.page_id, Fault::Transient { remaining: 2 });
    let c = client(&base, None);
    let tok = token(&page.page_token);
    let fetch = || c.fetch_agent(&page.page_id, &tok, today(), today(), Mexico_City, &NoGate);
    for _ in 0..2 {
        let err = fetch().await.unwrap_err();
        assert!(err.is_retriable(), "{err:?}");
        assert!(err.fbtrace_id().is_some());
    }
    assert!(fetch().await.is_ok());
}

#[tokio::test]
async fn fault_knobs_map_to_error_classes() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[0].clone();
    let c = client(&base, None);
    let check = async |fault: Fault| {
        sb.set_fault(&page.page_id, fault);
        fetch_since(&c, &page, today()).await.unwrap_err()
    };
    assert!(matches!(
        check(Fault::TokenExpired).await,
        FetchError::TokenInvalid {
            code: 190,
            subcode: Some(463),
            ..
        }
    ));
    assert!(matches!(
        check(Fault::TokenInvalid).await,
        FetchError::TokenInvalid { subcode: Some(460), .. }
    ));
    assert!(matches!(
        check(Fault::PermissionDenied).await,
        FetchError::Permission { code: 10, .. }
    ));
    assert!(matches!(check(Fault::NotFound).await, FetchError::NotFound { .. }));
    assert!(check(Fault::Http503Html { remaining: 1 }).await.is_retriable());
    match check(Fault::RateLimited).await {
        FetchError::RateLimited {
            code: 80001,
            resume_after: Some(d),
            ..
        } => assert!(d >= Duration::from_secs(60)),
        other => panic!("{other:?}"),
    }
    sb.set_fault(&page.page_id, Fault::None);
    assert!(fetch_since(&c, &page, today()).await.is_ok());
}

#[tokio::test]
async fn seeded_expired_and_gone_pages_fail_as_demos_expect() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let pages = sb.seeded_pages();
    let expired = pages.iter().find(|p| p.state == PageState::TokenExpired).unwrap();
    let gone = pages.iter().find(|p| p.state == PageState::Gone).unwrap();
    let c = client(&base, None);
    let err = fetch_since(&c, expired, today()).await.unwrap_err();
    assert!(
        matches!(err, FetchError::TokenInvalid { subcode: Some(463), .. }),
        "{err:?}"
    );
    let err = fetch_since(&c, gone, today()).await.unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err:?}");
    assert_eq!(err.user_reason(), "la página ya no existe o no es accesible");
}

#[tokio::test]
async fn hourly_budget_answers_80001_with_regain_time_and_usage() {
    let (sb, base) = sandbox(SandboxOptions {
        hourly_call_limit: Some(3),
        ..SandboxOptions::default()
    })
    .await;
    let page = sb.seeded_pages()[0].clone();
    let c = client(&base, None);
    let gate = RecordingGate::default();
    let ok = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap();
    // The Page's own usage (BUC, 33 %) is that Page's: it never reaches the gate that pauses
    // every agent (only the app's X-App-Usage does).
    assert_eq!(ok.max_usage_pct, 0);
    let ok = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap();
    assert_eq!(ok.max_usage_pct, 0);
    assert!(gate.usage().is_empty(), "{:?}", gate.usage());
    c.fetch_agent(
        &page.page_id,
        &token(&page.page_token),
        today(),
        today(),
        Mexico_City,
        &gate,
    )
    .await
    .unwrap();
    let err = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap_err();
    assert!(
        gate.usage().is_empty(),
        "the Page's own 100 % and 133 % are not the app's: {:?}",
        gate.usage()
    );
    let err2 = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap_err();
    for e in [err, err2] {
        match e {
            FetchError::RateLimited {
                code: 80001,
                resume_after: Some(d),
                ..
            } => {
                assert!(
                    d > Duration::from_secs(50 * 60) && d <= Duration::from_secs(3600),
                    "{d:?}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
    // Another Page has its own bucket.
    let other = sb.seeded_pages()[1].clone();
    assert!(fetch_since(&c, &other, today()).await.is_ok());
    sb.set_hourly_call_limit(None);
    sb.reset_calls();
    assert!(fetch_since(&c, &page, today()).await.is_ok());
}

#[tokio::test]
async fn closed_gate_stops_before_any_request() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[0].clone();
    sb.reset_calls();
    let c = client(&base, None);
    let err = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &RecordingGate::allowing(0),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Gate(_)));
    assert_eq!(sb.calls(), 0);
    let err = c
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today() - Days::days(179),
            today(),
            Mexico_City,
            &RecordingGate::allowing(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Gate(_)));
    assert_eq!(sb.calls(), 1, "the Page node call was never made");
}

#[tokio::test]
async fn appsecret_proof_is_sent_and_validated() {
    let (sb, base) = sandbox(SandboxOptions {
        app_id: "1234567890".into(),
        app_secret: Some("app-secret".into()),
        ..SandboxOptions::default()
    })
    .await;
    let page = sb.seeded_pages()[0].clone();
    let fetch = |secret: Option<&'static str>| {
        let c = client(&base, secret);
        let (id, tok) = (page.page_id.clone(), page.page_token.clone());
        async move {
            c.fetch_agent(&id, &token(&tok), today(), today(), Mexico_City, &NoGate)
                .await
        }
    };
    assert!(fetch(Some("app-secret")).await.is_ok());
    for secret in [None, Some("wrong-secret")] {
        match fetch(secret).await.unwrap_err() {
            FetchError::Configuration { code: 100, message, .. } => {
                assert!(message.contains("appsecret_proof"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn slow_page_times_out_as_retriable() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    let page = sb.seeded_pages()[0].clone();
    sb.set_fault(&page.page_id, Fault::Slow(Duration::from_millis(800)));
    let err = client_with_timeout(&base, None, Duration::from_millis(200))
        .fetch_agent(
            &page.page_id,
            &token(&page.page_token),
            today(),
            today(),
            Mexico_City,
            &NoGate,
        )
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err:?}");
    assert!(err.to_string().contains("timeout"), "{err}");
}

#[tokio::test]
async fn login_flow_end_to_end() {
    let (sb, base) = sandbox(SandboxOptions {
        app_id: "1234567890".into(),
        app_secret: Some("app-secret".into()),
        ..SandboxOptions::default()
    })
    .await;
    let redirect = "http://127.0.0.1:1/oauth/callback";
    let expired = sb
        .seeded_pages()
        .into_iter()
        .find(|p| p.state == PageState::TokenExpired)
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut dialog = url::Url::parse(&format!("{base}/v25.0/dialog/oauth")).unwrap();
    dialog
        .query_pairs_mut()
        .append_pair("client_id", "1234567890")
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "st4te")
        .append_pair("scope", "pages_show_list,pages_read_engagement,read_insights");
    let resp = http.get(dialog.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "st4te");

    let c = client(&base, Some("app-secret"));
    let short = c.exchange_code(&q["code"], redirect).await.unwrap();
    assert!(
        matches!(
            c.exchange_code(&q["code"], redirect).await,
            Err(FetchError::Configuration { .. })
        ),
        "codes are single-use"
    );
    let long = c.exchange_long_lived(&short.token).await.unwrap();
    assert!((long.expires_at.unwrap() - Utc::now()).num_days() >= 59);
    let pages = c.my_pages(&long.token).await.unwrap();
    assert_eq!(
        pages.len(),
        19,
        "the office manager sees every Page but the deleted one"
    );
    let access = c.page_access(&expired.page_id, &long.token).await.unwrap();
    assert_ne!(
        access.token.expose_secret(),
        expired.page_token,
        "reconnecting issues a working token"
    );
    let app = token("1234567890|app-secret");
    let info = c.debug_token(&access.token, &app).await.unwrap();
    assert!(info.is_valid && info.expires_at.is_none());
    assert!(info.scopes.iter().any(|s| s == "read_insights"));
    let info = c.debug_token(&token(&expired.page_token), &app).await.unwrap();
    assert!(!info.is_valid && info.error.is_some());
    let user = c.debug_token(&long.token, &app).await.unwrap();
    assert!(user.expires_at.is_some() && user.user_id.is_some());
    let fetch = c
        .fetch_agent(&access.page_id, &access.token, today(), today(), Mexico_City, &NoGate)
        .await
        .unwrap();
    assert_eq!(fetch.days.len(), 1);

    sb.set_login_denied(true);
    let resp = http.get(dialog).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.contains("error=access_denied") && location.contains("state=st4te"),
        "{location}"
    );
}

#[tokio::test]
async fn my_pages_follows_cursors() {
    let (sb, base) = sandbox(SandboxOptions::default()).await;
    sb.add_pages(150);
    let manager = sb.issue_manager_token();
    sb.reset_calls();
    let pages = client(&base, None).my_pages(&token(&manager)).await.unwrap();
    assert_eq!(pages.len(), 169);
    assert_eq!(sb.calls(), 2);
    let owner = sb.issue_user_token(&pages[0].page_id).unwrap();
    let own = client(&base, None).my_pages(&token(&owner)).await.unwrap();
    assert_eq!(own.len(), 1);
}

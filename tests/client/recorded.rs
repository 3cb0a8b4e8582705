//! The client against recorded real-format Graph bodies served from 127.0.0.1.

use std::time::Duration;

use chrono::Utc;
use chrono_tz::America::Mexico_City;
use pulso::domain::DateRange;
use pulso::facebook::{FetchError, NoGate, parse_debug_token, parse_insights, parse_posts_page};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::common::{Canned, RecordingGate, Replay, client, fixture};
use super::{d, token};

const PAGE: &str = "723701000827665";

/// The Page node read with field expansion: recorded insights and posts bodies inlined, as Graph
/// answers `GET /{page}?fields=insights…,published_posts…{…}`.
fn node(insights: &str, posts: &str) -> Canned {
    let parse = |name: &str| serde_json::from_slice::<Value>(&fixture(name)).unwrap();
    let body = serde_json::json!({ "insights": parse(insights), "published_posts": parse(posts), "id": PAGE });
    Canned::raw(200, body.to_string().as_bytes(), "application/json")
}

/// The decoded `fields` parameter of a request.
fn fields_of(query: &str) -> String {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "fields")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- recorded bodies

#[tokio::test]
async fn recorded_insights_and_posts_become_days_and_posts() {
    let (replay, base) = Replay::start(vec![
        node("insights_page_follows.json", "published_posts.json")
            .with_header("x-app-usage", r#"{"call_count":28,"total_cputime":25,"total_time":25}"#)
            .with_header(
                "x-business-use-case-usage",
                r#"{"723701000827665":[{"type":"pages","call_count":97,"total_cputime":23,"total_time":23,"estimated_time_to_regain_access":0}]}"#,
            ),
    ])
    .await;
    let gate = RecordingGate::default();
    let fetch = client(&base, None)
        .fetch_agent(
            PAGE,
            &token("PAGE-TOKEN-1"),
            d(2026, 9, 3),
            d(2026, 9, 4),
            Mexico_City,
            &gate,
        )
        .await
        .unwrap();
    assert_eq!(fetch.calls, 1);
    assert_eq!(gate.opened(), 1);
    // The app's 28 %, not the Page's own 97 %: one Page near its limit does not pause the others.
    assert_eq!(fetch.max_usage_pct, 28);
    assert_eq!(gate.usage(), vec![28]);

    assert_eq!(fetch.days.len(), 2);
    let (sep3, sep4) = (&fetch.days[0], &fetch.days[1]);
    assert_eq!(
        (sep3.date, sep3.followers, sep3.engaged_users),
        (d(2026, 9, 3), Some(64), Some(7))
    );
    assert_eq!(
        (sep4.date, sep4.followers, sep4.engaged_users),
        (d(2026, 9, 4), Some(64), Some(3))
    );
    // Post of Sep 3 (18:00 UTC = 12:00 in Mexico City): no `shares` field → 0.
    assert_eq!((sep3.posts, sep3.reactions, sep3.comments, sep3.shares), (1, 5, 1, 0));
    // Post of Sep 4 links to wa.me: its link clicks are WhatsApp clicks.
    assert_eq!((sep4.posts, sep4.reactions, sep4.comments, sep4.shares), (1, 12, 3, 2));
    assert_eq!((sep4.link_clicks, sep4.whatsapp_clicks), (4, 4));
    assert_eq!(fetch.posts.len(), 2);
    assert!(fetch.posts[0].links_to_whatsapp);
    assert!(fetch.posts[0].excerpt.starts_with("Open house Saturday"));

    let seen = replay.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/v25.0/723701000827665");
    let fields = fields_of(&seen[0].query);
    assert!(
        fields.starts_with(
            "insights.metric(page_follows,page_media_view,page_total_media_view_unique,page_post_engagements)\
             .period(day).since(2026-09-03).until(2026-09-05),published_posts.since("
        ),
        "{fields}"
    );
    assert!(fields.contains(".limit(100){id,created_time,"), "{fields}");
    for s in &seen {
        assert_eq!(s.authorization.as_deref(), Some("Bearer PAGE-TOKEN-1"));
        assert!(!s.query.contains("PAGE-TOKEN-1") && !s.query.contains("access_token"));
        assert!(!s.query.contains("appsecret_proof"), "no secret configured → no proof");
    }
}

#[tokio::test]
async fn recorded_pst_end_times_and_empty_posts() {
    let (_replay, base) = Replay::start(vec![node("insights_pst.json", "published_posts_empty.json")]).await;
    let fetch = client(&base, None)
        .fetch_agent(PAGE, &token("t"), d(2026, 3, 1), d(2026, 3, 2), Mexico_City, &NoGate)
        .await
        .unwrap();
    let got: Vec<_> = fetch
        .days
        .iter()
        .map(|r| (r.date, r.impressions, r.reach, r.posts))
        .collect();
    assert_eq!(
        got,
        vec![
            (d(2026, 3, 1), Some(25), Some(20), 0),
            (d(2026, 3, 2), Some(31), Some(22), 0)
        ]
    );
    assert_eq!(fetch.max_usage_pct, 0);
}

#[tokio::test]
async fn posts_follow_next_only_when_present() {
    let (replay, base) = Replay::start(vec![
        node("insights_page_follows.json", "published_posts_page1.json"),
        Canned::json(200, "published_posts.json"),
    ])
    .await;
    let fetch = client(&base, Some("app-secret"))
        .fetch_agent(PAGE, &token("t"), d(2026, 9, 3), d(2026, 9, 4), Mexico_City, &NoGate)
        .await
        .unwrap();
    assert_eq!(fetch.calls, 2);
    assert_eq!(fetch.posts.len(), 3);
    let seen = replay.seen();
    // `paging.next` followed as given (path and query), on the configured host, token in the header.
    assert_eq!(seen[1].path, "/v25.0/723701000827665/published_posts");
    assert!(seen[1].query.contains("after=QVFIUnext"), "{}", seen[1].query);
    assert!(!seen[1].query.contains("access_token"), "{}", seen[1].query);
    let proof = pulso::facebook::appsecret_proof("t", "app-secret");
    assert!(
        seen.iter()
            .all(|s| s.query.contains(&format!("appsecret_proof={proof}")))
    );
}

/// Every error class from a recorded body.
#[tokio::test]
async fn recorded_errors_map_to_classes() {
    type Check = fn(&FetchError) -> bool;
    let cases: Vec<(Canned, Check)> = vec![
        (Canned::json(400, "error_190_463_expired.json"), |e| matches!(e, FetchError::TokenInvalid { subcode: Some(463), .. })),
        (Canned::json(400, "error_190_458_not_authorized.json"), |e| matches!(e, FetchError::TokenInvalid { subcode: Some(458), .. })),
        (Canned::json(400, "error_190_460_password.json"), |e| matches!(e, FetchError::TokenInvalid { subcode: Some(460), .. })),
        (Canned::json(400, "error_190_466_invalidated.json"), |e| matches!(e, FetchError::TokenInvalid { subcode: Some(466), .. })),
        (Canned::json(400, "error_190_unparseable.json"), |e| matches!(e, FetchError::TokenInvalid { subcode: None, .. })),
        (Canned::json(400, "error_10_permission.json"), |e| matches!(e, FetchError::Permission { code: 10, .. })),
        (Canned::json(403, "error_200_permission.json"), |e| matches!(e, FetchError::Permission { code: 200, .. })),
        (Canned::json(400, "error_100_33_not_found.json"), |e| matches!(e, FetchError::NotFound { .. })),
        (Canned::json(400, "error_100_nonexisting_field.json"), |e| matches!(e, FetchError::Configuration { code: 100, .. })),
        (Canned::json(400, "error_3001_no_metric.json"), |e| matches!(e, FetchError::Configuration { code: 3001, .. })),
        (Canned::json(400, "error_93_days.json"), |e| matches!(e, FetchError::Configuration { code: 1, .. })),
        (Canned::json(400, "error_appsecret_proof.json"), |e| matches!(e, FetchError::Configuration { .. })),
        (Canned::json(500, "error_1_unknown.json"), |e| e.is_retriable()),
        (Canned::json(500, "error_2_transient.json"), |e| e.is_retriable()),
        (Canned::json(503, "error_2_transient.json"), |e| e.is_retriable()),
        (Canned::raw(503, &fixture("html_503.html"), "text/html"), |e| e.is_retriable()),
        (Canned::raw(502, b"", "text/plain"), |e| e.is_retriable()),
        (Canned::json(400, "error_4_app_limit.json"), |e| matches!(e, FetchError::RateLimited { code: 4, resume_after: None, .. })),
        (Canned::json(400, "error_17_user_limit.json"), |e| matches!(e, FetchError::RateLimited { code: 17, .. })),
        (Canned::json(400, "error_32_page_limit.json"), |e| matches!(e, FetchError::RateLimited { code: 32, .. })),
        (Canned::json(400, "error_613_custom_limit.json"), |e| matches!(e, FetchError::RateLimited { code: 613, .. })),
        (
            Canned::json(400, "error_80001_page_buc.json").with_header(
                "x-business-use-case-usage",
                r#"{"723701000827665":[{"type":"pages","call_count":118,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":7}]}"#,
            ),
            |e| matches!(e, FetchError::RateLimited { code: 80001, resume_after: Some(d), .. } if *d == Duration::from_secs(420)),
        ),
        (Canned::raw(200, b"<html>oops</html>", "text/html"), |e| matches!(e, FetchError::BadResponse { .. })),
        (Canned::raw(200, br#"{"paging":{}}"#, "application/json"), |e| matches!(e, FetchError::BadResponse { .. })),
    ];
    for (canned, check) in cases {
        let label = String::from_utf8_lossy(&canned.body[..canned.body.len().min(60)]).to_string();
        let (_replay, base) = Replay::start(vec![canned]).await;
        let gate = RecordingGate::default();
        let err = client(&base, None)
            .fetch_agent(
                PAGE,
                &token("SECRET-PAGE-TOKEN"),
                d(2026, 9, 1),
                d(2026, 9, 2),
                Mexico_City,
                &gate,
            )
            .await
            .unwrap_err();
        assert!(check(&err), "{label} → {err:?}");
        let shown = err.to_string();
        assert!(
            !shown.contains("SECRET-PAGE-TOKEN") && !shown.contains("http://"),
            "{shown}"
        );
        assert!(!err.user_reason().is_empty());
        if let FetchError::RateLimited { code: 80001, .. } = err {
            // Its header is read (the regain time above comes from it), but a Page's own 118 % is
            // not the app's usage and reaches no gate that would pause every agent.
            assert!(gate.usage().is_empty(), "{:?}", gate.usage());
        }
    }
}

#[tokio::test]
async fn fbtrace_id_is_kept() {
    let (_r, base) = Replay::start(vec![Canned::json(400, "error_190_463_expired.json")]).await;
    let err = client(&base, None)
        .fetch_agent(PAGE, &token("t"), d(2026, 9, 1), d(2026, 9, 1), Mexico_City, &NoGate)
        .await
        .unwrap_err();
    assert_eq!(err.fbtrace_id(), Some("AOl1gSqZRMyPzEMw9OJXzYh"));
    assert_eq!(err.user_reason(), "el token de Facebook expiró o fue revocado");
}

#[tokio::test]
async fn recorded_token_endpoints() {
    let (replay, base) = Replay::start(vec![
        Canned::json(200, "long_lived_token.json"),
        Canned::json(200, "long_lived_token.json"),
        Canned::json(200, "me_accounts.json"),
        Canned::json(200, "page_access.json"),
        Canned::json(200, "debug_token_page.json"),
        Canned::json(200, "debug_token_expired.json"),
        Canned::json(200, "debug_token_unparseable.json"),
        Canned::json(200, "debug_token_user.json"),
    ])
    .await;
    let c = client(&base, Some("shh"));
    let long = c.exchange_long_lived(&token("SHORT")).await.unwrap();
    assert_eq!(long.token.expose_secret(), "EAALongLivedUserToken");
    let days = (long.expires_at.unwrap() - Utc::now()).num_days();
    assert!((59..=60).contains(&days), "{days}");
    let code = c
        .exchange_code("AQcode", "https://pulso.example/oauth/callback")
        .await
        .unwrap();
    assert_eq!(code.token.expose_secret(), "EAALongLivedUserToken");
    let pages = c.my_pages(&token("USER")).await.unwrap();
    assert_eq!(pages.len(), 1);
    assert_eq!(
        (pages[0].page_id.as_str(), pages[0].name.as_str()),
        ("659554973897366", "Paired Socks")
    );
    let access = c.page_access(PAGE, &token("USER")).await.unwrap();
    assert_eq!(access.token.expose_secret(), "EAAPageTokenTwo");
    assert_eq!(access.name, "María Fernández · Bienes Raíces");

    let page = c.debug_token(&token("P"), &token("1234567890|shh")).await.unwrap();
    assert!(page.is_valid && page.expires_at.is_none());
    let expired = c.debug_token(&token("E"), &token("app")).await.unwrap();
    assert!(!expired.is_valid);
    assert!(expired.error.unwrap().contains("Session has expired"));
    let garbage = c.debug_token(&token("G"), &token("app")).await.unwrap();
    assert!(!garbage.is_valid && garbage.scopes.is_empty());
    let user = c.debug_token(&token("U"), &token("app")).await.unwrap();
    assert_eq!(user.expires_at.unwrap().timestamp(), 1673934788);
    assert_eq!(user.user_id.as_deref(), Some("123"));

    let seen = replay.seen();
    assert_eq!(seen[0].path, "/v25.0/oauth/access_token");
    assert!(
        seen[0].query.contains("grant_type=fb_exchange_token") && seen[0].query.contains("fb_exchange_token=SHORT")
    );
    assert!(seen[1].query.contains("code=AQcode") && seen[1].query.contains("client_secret=shh"));
    assert_eq!(seen[2].path, "/v25.0/me/accounts");
    assert_eq!(seen[3].path, format!("/v25.0/{PAGE}"));
    assert!(seen[3].query.contains("fields=id%2Cname%2Caccess_token"));
    assert_eq!(seen[4].path, "/v25.0/debug_token");
}

#[tokio::test]
async fn code_exchange_needs_the_app_secret() {
    let err = client("http://127.0.0.1:9", None)
        .exchange_code("c", "https://x")
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Configuration { .. }));
}

// ---------------------------------------------------------------- bad data, fuzz

#[test]
fn bad_data_gives_safe_defaults_or_typed_errors() {
    let w = DateRange::new(d(2026, 9, 3), d(2026, 9, 4));
    // A string where a number belongs: numeric strings are read, others skipped.
    let body = br#"{"data":[{"name":"page_follows","period":"day","values":[
        {"value":"64","end_time":"2026-09-04T07:00:00+0000"},
        {"value":"muchos","end_time":"2026-09-05T07:00:00+0000"},
        {"value":12,"end_time":"2020-01-01T08:00:00+0000"},
        {"value":12,"end_time":"not a date"},
        {"end_time":"2026-09-05T07:00:00+0000"}]}]}"#;
    let days = parse_insights(body, w).unwrap();
    assert_eq!(
        days.len(),
        1,
        "the day outside the window and the unreadable values are ignored"
    );
    assert_eq!(days[0].followers, Some(64));
    assert!(parse_insights(br#"{"data":[]}"#, w).unwrap().is_empty());
    assert!(matches!(
        parse_insights(br#"{"data":{}}"#, w),
        Err(FetchError::BadResponse { .. })
    ));
    assert!(matches!(
        parse_insights(&fixture("html_503.html"), w),
        Err(FetchError::BadResponse { .. })
    ));
    let posts = parse_posts_page(br#"{"data":[{"id":"1_1","created_time":"2026-09-04T16:24:04+0000","reactions":{"summary":{"total_count":"x"}},"shares":{"count":null}}]}"#).unwrap();
    assert_eq!((posts.posts[0].reactions, posts.posts[0].shares), (0, 0));
}

fn mutate(rng: &mut StdRng, v: &mut Value, depth: u32) {
    let replacement = |rng: &mut StdRng| -> Value {
        match rng.random_range(0..8) {
            0 => Value::Null,
            1 => Value::Bool(rng.random()),
            2 => Value::from(rng.random::<i64>()),
            3 => Value::from(rng.random::<f64>() * 1e12 - 5e11),
            4 => Value::from("2026-09-04T07:00:00+0000"),
            5 => Value::from("ñ\u{0}\"{}"),
            6 => Value::Array(vec![]),
            _ => serde_json::json!({}),
        }
    };
    match v {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = &keys[rng.random_range(0..keys.len())];
            match rng.random_range(0..4) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    map.insert(key.clone(), replacement(rng));
                }
                _ if depth < 8 => mutate(rng, map.get_mut(key).unwrap(), depth + 1),
                _ => {}
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            match rng.random_range(0..4) {
                0 => {
                    items.remove(i);
                }
                1 => items[i] = replacement(rng),
                2 => items.push(items[i].clone()),
                _ if depth < 8 => mutate(rng, &mut items[i], depth + 1),
                _ => {}
            }
        }
        other => *other = replacement(rng),
    }
}

#[test]
fn parsers_survive_thousands_of_mutated_documents() {
    let seeds: Vec<Value> = [
        "insights_page_follows.json",
        "insights_pst.json",
        "published_posts.json",
        "published_posts_page1.json",
        "me_accounts.json",
        "debug_token_page.json",
        "debug_token_expired.json",
        "error_190_463_expired.json",
        "error_80001_page_buc.json",
    ]
    .iter()
    .map(|f| serde_json::from_slice(&fixture(f)).unwrap())
    .collect();
    let mut rng = StdRng::seed_from_u64(0x9e37);
    let window = DateRange::new(d(2026, 9, 1), d(2026, 9, 30));
    for i in 0..4000 {
        let mut doc = seeds[i % seeds.len()].clone();
        for _ in 0..rng.random_range(1..6) {
            mutate(&mut rng, &mut doc, 0);
        }
        let mut bytes = serde_json::to_vec(&doc).unwrap();
        // Some documents are also damaged below the JSON level.
        if rng.random_range(0..4) == 0 && !bytes.is_empty() {
            let cut = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes.truncate(cut),
                1 => bytes[cut] = rng.random(),
                _ => bytes.insert(cut, b'{'),
            }
        }
        let _ = parse_insights(&bytes, window);
        let _ = parse_posts_page(&bytes);
        let _ = parse_debug_token(&bytes, "t");
        let _ = pulso::facebook::classify(rng.random_range(100..600), &bytes, None, Some("t"));
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Ok(value) = reqwest::header::HeaderValue::from_str(text)
        {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("x-business-use-case-usage", value.clone());
            headers.insert("x-app-usage", value);
            let _ = pulso::facebook::read_usage(&headers);
        }
    }
}

//! Graph client timings: parsing a 90-day insights response and a 100-post page, and a full 2-call
//! fetch of one agent against the sandbox on loopback. Plain `Instant` loops; prints p50/p99.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use pulso::domain::DateRange;
use pulso::facebook::{GraphClient, GraphConfig, NoGate, POST_FIELDS, metric_param, parse_insights, parse_posts_page};
use pulso::sandbox::{Sandbox, SandboxOptions};
use secrecy::SecretString;

const RUNS: usize = 500;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

fn report(label: &str, samples: Vec<Duration>, target: Duration) {
    let (p50, p99) = percentiles(samples);
    let verdict = if p50 < target { "ok" } else { "OVER TARGET" };
    println!(
        "{label:<44} p50 {:>9.3} ms   p99 {:>9.3} ms   (target p50 < {} ms: {verdict})",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        target.as_millis()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let today = NaiveDate::from_ymd_opt(2026, 9, 15).unwrap();
    let sandbox = Sandbox::new(SandboxOptions {
        today: Some(today),
        ..SandboxOptions::default()
    });
    let (addr, _server) = sandbox.spawn_local().await.unwrap();
    let base = format!("http://{addr}");
    let page = sandbox.seeded_pages()[0].clone();
    let http = reqwest::Client::new();

    // Real bodies from the sandbox: 90 days × 4 metrics, and one full page of 100 posts.
    let window = DateRange::new(today - Days::days(89), today);
    let insights = http
        .get(format!("{base}/v25.0/{}/insights", page.page_id))
        .query(&[
            ("metric", metric_param()),
            ("period", "day".into()),
            ("since", window.from.to_string()),
            ("until", (window.to + Days::days(1)).to_string()),
        ])
        .bearer_auth(&page.page_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let posts = http
        .get(format!("{base}/v25.0/{}/published_posts", page.page_id))
        .query(&[("fields", POST_FIELDS), ("limit", "100")])
        .bearer_auth(&page.page_token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let days = parse_insights(&insights, window).unwrap().len();
    let post_count = parse_posts_page(&posts).unwrap().posts.len();
    assert_eq!(days, 90);
    assert_eq!(post_count, 100);
    println!(
        "bodies: insights {} KiB ({days} days × 4 metrics), posts {} KiB ({post_count} posts); {RUNS} runs each",
        insights.len() / 1024,
        posts.len() / 1024
    );

    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(parse_insights(std::hint::black_box(&insights), window).unwrap());
        samples.push(t.elapsed());
    }
    report("parse 90-day insights response", samples, Duration::from_millis(1));

    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        std::hint::black_box(parse_posts_page(std::hint::black_box(&posts)).unwrap());
        samples.push(t.elapsed());
    }
    report("parse 100-post page", samples, Duration::from_millis(1));
    let client = GraphClient::new(GraphConfig {
        base_url: base.clone(),
        api_version: "v25.0".into(),
        app_id: String::new(),
        app_secret: None,
        timeout: Duration::from_secs(10),
    });
    let token = SecretString::from(page.page_token.clone());
    let tz = chrono_tz::America::Mexico_City;
    // Warm the connection pool so the loop measures steady state, as a sync of many agents sees it.
    client
        .fetch_agent(&page.page_id, &token, today - Days::days(3), today, tz, &NoGate)
        .await
        .unwrap();
    sandbox.reset_calls();
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let fetch = client
            .fetch_agent(&page.page_id, &token, today - Days::days(3), today, tz, &NoGate)
            .await
            .unwrap();
        samples.push(t.elapsed());
        assert_eq!(fetch.calls, 2);
    }
    assert_eq!(sandbox.calls(), 2 * RUNS as u64);
    report(
        "daily fetch of one agent (2 calls, loopback)",
        samples,
        Duration::from_millis(10),
    );
}

//! The Instagram knobs and truth over the sandbox's HTTP control API (`/__sandbox/…`), as an
//! out-of-process test or a person at the command line uses them.

use chrono::NaiveDate;
use pulso::sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

#[tokio::test]
async fn instagram_knobs_and_truth_over_http() {
    let sb = Sandbox::new(SandboxOptions {
        today: NaiveDate::from_ymd_opt(2026, 9, 15),
        ..SandboxOptions::default()
    });
    let (addr, _) = sb.spawn_local().await.unwrap();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        async move { http.get(path).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let post = |path: String, body: Value| {
        let http = http.clone();
        async move { http.post(path).json(&body).send().await.unwrap().status() }
    };

    let listed = get(format!("{base}/__sandbox/instagram")).await;
    let first = listed["accounts"][0].clone();
    let (ig, page_id) = (first["ig_id"].as_str().unwrap(), first["page_id"].as_str().unwrap());
    let account = sb.instagram_account_for_page(page_id).unwrap();
    assert_eq!(first, serde_json::to_value(&account).unwrap());
    let token = sb.seeded_pages()[0].page_token.clone();
    assert_eq!(sb.seeded_pages()[0].page_id, page_id);

    // Truth: a produced day, a day inside the lag, the media.
    let day = get(format!("{base}/__sandbox/instagram/{ig}/day/2026-09-10")).await;
    let truth = sb
        .instagram_day(ig, NaiveDate::from_ymd_opt(2026, 9, 10).unwrap())
        .unwrap();
    assert_eq!(day["day"], serde_json::to_value(&truth).unwrap());
    let pending = get(format!("{base}/__sandbox/instagram/{ig}/day/2026-09-15")).await;
    assert_eq!(pending, json!({ "day": null }));
    let media = get(format!("{base}/__sandbox/instagram/{ig}/media")).await;
    assert_eq!(media["media"][0]["id"], sb.instagram_media(ig)[0].id.as_str());

    // Realism over HTTP: no lag, and a retired Instagram metric.
    let status = post(
        format!("{base}/__sandbox/realism"),
        json!({ "instagram_lag_hours": 0, "retired_metrics": ["instagram:reach"] }),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sb.realism().instagram_lag_hours, 0);
    let insights = |metric: &str| {
        format!(
            "{base}/v25.0/{ig}/insights?metric={metric}&period=day&metric_type=total_value&since=2026-09-14&until=2026-09-15&access_token={token}"
        )
    };
    let body = get(insights("reach")).await;
    assert_eq!(body["error"]["code"], 100, "{body}");
    let body = get(insights("views")).await;
    assert_eq!(
        body["data"][0]["name"], "views",
        "Sep 14 is produced at once without the lag: {body}"
    );

    // A fault on the Page's Instagram account only, by Page id.
    let status = post(
        format!("{base}/__sandbox/faults"),
        json!({ "page_id": page_id, "fault": "page_limited:9/1", "instagram": true }),
    )
    .await;
    assert_eq!(status, 204);
    let resp = http.get(insights("views")).send().await.unwrap();
    let usage: Value = serde_json::from_str(resp.headers()["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    assert_eq!(usage[ig][0]["estimated_time_to_regain_access"], 9);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["code"], 80002);
    let page = get(format!("{base}/v25.0/{page_id}?fields=id&access_token={token}")).await;
    assert_eq!(page["id"], page_id);

    // Unlinking and a fixed media rhythm.
    let status = post(
        format!("{base}/__sandbox/instagram/media_per_day"),
        json!({ "ig_id": ig, "per_day": 2 }),
    )
    .await;
    assert_eq!(status, 204);
    let media = sb.instagram_media(ig);
    assert_eq!(media[0].timestamp.date_naive(), media[1].timestamp.date_naive());
    let status = post(
        format!("{base}/__sandbox/instagram/link"),
        json!({ "page_id": page_id, "linked": false }),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sb.instagram_account_for_page(page_id), None);
    let listed = get(format!("{base}/__sandbox/instagram")).await;
    assert_ne!(listed["accounts"][0]["page_id"], page_id);
}

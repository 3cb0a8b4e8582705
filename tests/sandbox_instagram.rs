//! The sandbox's Instagram professional accounts over real HTTP: discovery on the Page call,
//! account insights (IG-1) with Instagram's quirks, the node call with field expansion (IG-2),
//! growing media, paging, faults and rate limits. Expected values come from the sandbox's own
//! read-only truth (`instagram_day`, `instagram_media`), never from the test.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::America::Los_Angeles;
use pulso::sandbox::{Fault, Realism, Sandbox, SandboxOptions, SeededInstagram, SeededPage};
use reqwest::StatusCode;
use serde_json::Value;

const ACCOUNT: &str = "views,reach,accounts_engaged,total_interactions,likes,comments,shares,saves,profile_links_taps";
const MEDIA_FIELDS: &str = "id,caption,media_type,media_product_type,timestamp,permalink,like_count,comments_count,insights.metric(views,reach,saved,shares,total_interactions)";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// Unix seconds of a Pacific midnight (the start of a Pacific day).
fn pacific(day: NaiveDate) -> i64 {
    Los_Angeles
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .timestamp()
}

struct Fake {
    sb: Sandbox,
    base: String,
    http: reqwest::Client,
}

async fn start() -> Fake {
    let sb = Sandbox::new(SandboxOptions {
        today: Some(d(2026, 9, 15)),
        ..SandboxOptions::default()
    });
    let (addr, _) = sb.spawn_local().await.unwrap();
    Fake {
        sb,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Fake {
    async fn get(&self, url: &str, token: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let resp = self.http.get(url).bearer_auth(token).send().await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        (status, headers, resp.json().await.unwrap())
    }

    fn page(&self, i: usize) -> SeededPage {
        self.sb.seeded_pages()[i].clone()
    }

    /// A Page with a linked account of at least 100 followers, and that account.
    fn big(&self) -> (SeededPage, SeededInstagram) {
        self.sb
            .seeded_pages()
            .into_iter()
            .find_map(|p| {
                let ig = self.sb.instagram_account_for_page(&p.page_id)?;
                (ig.followers_count >= 100).then_some((p, ig))
            })
            .unwrap()
    }

    /// IG-1 for one Pacific day, as the contract writes it.
    async fn day(&self, ig: &str, token: &str, day: NaiveDate, metrics: &str) -> (StatusCode, Value) {
        let url = format!(
            "/v25.0/{ig}/insights?metric={metrics}&period=day&metric_type=total_value&since={}&until={}",
            pacific(day),
            pacific(day + Duration::days(1))
        );
        let (status, _, body) = self.get(&url, token).await;
        (status, body)
    }

    /// IG-2: follower series from `since` and the newest `limit` media, in one call.
    async fn node(&self, ig: &str, token: &str, since: NaiveDate, limit: u32) -> (StatusCode, Value) {
        let until = pacific(self.sb.today() + Duration::days(1));
        let url = format!(
            "/v25.0/{ig}?fields=insights.metric(follower_count).period(day).since({}).until({until}),media.limit({limit}){{{MEDIA_FIELDS}}}",
            pacific(since)
        );
        let (status, _, body) = self.get(&url, token).await;
        (status, body)
    }
}

fn value_of(body: &Value, metric: &str) -> Option<i64> {
    let data = body["data"].as_array()?;
    data.iter().find(|m| m["name"] == metric)?["total_value"]["value"].as_i64()
}

#[tokio::test]
async fn the_page_call_discovers_the_account_and_most_pages_have_one() {
    let f = start().await;
    let accounts = f.sb.instagram_accounts();
    assert!(
        accounts.len() >= 14 && accounts.len() < f.sb.seeded_pages().len(),
        "{}",
        accounts.len()
    );
    assert!(
        accounts.iter().any(|a| a.followers_count < 100),
        "some accounts under 100 followers"
    );
    assert!(
        accounts
            .iter()
            .all(|a| a.ig_id.starts_with("178414") && a.ig_id.len() == 17)
    );
    let fields = "id,name,followers_count,instagram_business_account{id,username,followers_count}";
    let mut without = 0;
    for p in f.sb.seeded_pages().into_iter().take(8) {
        let (status, _, body) = f
            .get(&format!("/v25.0/{}?fields={fields}", p.page_id), &p.page_token)
            .await;
        assert_eq!(status, 200, "{body}");
        match f.sb.instagram_account_for_page(&p.page_id) {
            Some(ig) => {
                let found = &body["instagram_business_account"];
                assert_eq!(found["id"], ig.ig_id.as_str());
                assert_eq!(found["username"], ig.username.as_str());
                assert_eq!(found["followers_count"], ig.followers_count);
            }
            None => {
                without += 1;
                assert!(body.get("instagram_business_account").is_none(), "{body}");
            }
        }
    }
    assert!(without >= 1, "a Page without Instagram among the first eight");
    // Unlinking removes the field.
    let (p, _) = f.big();
    f.sb.set_instagram_linked(&p.page_id, false);
    let (_, _, body) = f
        .get(&format!("/v25.0/{}?fields={fields}", p.page_id), &p.page_token)
        .await;
    assert!(body.get("instagram_business_account").is_none(), "{body}");
}

#[tokio::test]
async fn account_insights_have_the_real_shape_and_the_sandbox_values() {
    let f = start().await;
    let (p, ig) = f.big();
    let day = d(2026, 9, 10);
    let (status, body) = f.day(&ig.ig_id, &p.page_token, day, ACCOUNT).await;
    assert_eq!(status, 200, "{body}");
    let truth = f.sb.instagram_day(&ig.ig_id, day).unwrap();
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 9);
    let reach = &data[1];
    assert_eq!(reach["name"], "reach");
    assert_eq!(reach["period"], "day");
    assert_eq!(reach["title"], "Accounts reached");
    assert_eq!(reach["id"], format!("{}/insights/reach/day", ig.ig_id));
    for (name, want) in [
        ("views", truth.views),
        ("reach", truth.reach),
        ("accounts_engaged", truth.accounts_engaged),
        ("total_interactions", truth.total_interactions),
        ("likes", truth.likes),
        ("comments", truth.comments),
        ("shares", truth.shares),
        ("saves", truth.saves),
        ("profile_links_taps", truth.profile_links_taps),
    ] {
        assert_eq!(value_of(&body, name), Some(want), "{name}");
    }
    assert!(truth.reach <= truth.views && truth.accounts_engaged <= truth.reach);
    assert!(truth.total_interactions >= truth.likes + truth.comments + truth.shares + truth.saves);
    // Calls are logged without the token and counted under the account.
    assert!(
        f.sb.call_log()
            .last()
            .unwrap()
            .starts_with(&format!("GET /v25.0/{}/insights?", ig.ig_id))
    );
    assert!(!f.sb.call_log().iter().any(|l| l.contains(&p.page_token)));
    assert_eq!(f.sb.calls_for(&ig.ig_id), 1);
}

#[tokio::test]
async fn a_day_inside_the_lag_is_empty_not_zero() {
    let f = start().await;
    let (p, ig) = f.big();
    let day = d(2026, 9, 14);
    // Sep 14 ends at 07:00 UTC on Sep 15; with the real 30 h lag it exists from 13:00 UTC Sep 16.
    f.sb.set_now("2026-09-16T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let (status, body) = f.day(&ig.ig_id, &p.page_token, day, ACCOUNT).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"], serde_json::json!([]));
    assert_eq!(f.sb.instagram_day(&ig.ig_id, day), None);
    f.sb.advance(Duration::hours(1));
    let (_, body) = f.day(&ig.ig_id, &p.page_token, day, ACCOUNT).await;
    let truth = f.sb.instagram_day(&ig.ig_id, day).unwrap();
    assert_eq!(value_of(&body, "views"), Some(truth.views));
    // Realism "instant": no lag, yesterday answers as soon as it ends.
    f.sb.set_realism(Realism::instant());
    f.sb.set_now("2026-09-15T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let (_, body) = f.day(&ig.ig_id, &p.page_token, day, "reach").await;
    assert_eq!(value_of(&body, "reach"), Some(truth.reach));
}

#[tokio::test]
async fn follower_count_is_a_series_and_never_under_100_followers() {
    let f = start().await;
    let (p, ig) = f.big();
    let day = d(2026, 9, 10);
    let (_, body) = f.day(&ig.ig_id, &p.page_token, day, "follower_count").await;
    assert_eq!(
        body["data"],
        serde_json::json!([]),
        "follower_count with total_value comes back empty"
    );
    let (status, body) = f.node(&ig.ig_id, &p.page_token, d(2026, 8, 1), 1).await;
    assert_eq!(status, 200, "{body}");
    let series = &body["insights"]["data"][0];
    assert_eq!(series["name"], "follower_count");
    assert_eq!(series["id"], format!("{}/insights/follower_count/day", ig.ig_id));
    let values = series["values"].as_array().unwrap();
    // Only the last 30 days, and only the days Instagram has produced (30 h lag: up to Sep 13).
    let first = d(2026, 9, 15) - Duration::days(30);
    assert_eq!(values.len() as i64, (d(2026, 9, 13) - first).num_days() + 1);
    assert_eq!(values[0]["end_time"], "2026-08-17T07:00:00+0000");
    for (i, v) in values.iter().enumerate() {
        let truth = f.sb.instagram_day(&ig.ig_id, first + Duration::days(i as i64)).unwrap();
        assert_eq!(v["value"].as_i64(), truth.new_followers);
    }
    // An account under 100 followers: followers_count, but no follower_count.
    let (small_page, small) =
        f.sb.seeded_pages()
            .into_iter()
            .find_map(|p| {
                Some(p.clone()).zip(
                    f.sb.instagram_account_for_page(&p.page_id)
                        .filter(|a| a.followers_count < 100),
                )
            })
            .unwrap();
    let (status, body) = f.node(&small.ig_id, &small_page.page_token, d(2026, 9, 1), 1).await;
    assert_eq!(status, 200);
    assert_eq!(body["insights"], serde_json::json!({ "data": [] }));
    assert_eq!(
        f.sb.instagram_day(&small.ig_id, d(2026, 9, 10)).unwrap().new_followers,
        None
    );
}

#[tokio::test]
async fn impressions_retired_metrics_and_bad_requests_fail_whole() {
    let f = start().await;
    let (p, ig) = f.big();
    let day = d(2026, 9, 10);
    let (status, body) = f.day(&ig.ig_id, &p.page_token, day, "reach,impressions").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 100);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Starting from version 22 and above, the impressions metric is no longer supported")
    );
    // A retired account metric fails the whole request; the others still answer alone.
    f.sb.retire_instagram_metric("views", true);
    let (status, body) = f.day(&ig.ig_id, &p.page_token, day, ACCOUNT).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "(#100) The value must be a valid insights metric"
    );
    let (status, _) = f.day(&ig.ig_id, &p.page_token, day, "reach,likes").await;
    assert_eq!(status, 200);
    // The Facebook metrics are untouched by an Instagram retirement.
    let (status, _, _) = f
        .get(
            &format!("/v25.0/{}/insights?metric=page_media_view&period=day", p.page_id),
            &p.page_token,
        )
        .await;
    assert_eq!(status, 200);
    // A retired media metric fails the whole IG-2 call.
    f.sb.retire_instagram_metric("views", false);
    f.sb.retire_metric("instagram:saved", true);
    let (status, body) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 5).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "(#100) The value must be a valid insights metric"
    );
    // Unsupported breakdown: code 1; a supported one splits the value.
    let base = format!(
        "/v25.0/{}/insights?metric=reach&period=day&metric_type=total_value",
        ig.ig_id
    );
    let (status, _, body) = f
        .get(&format!("{base}&breakdown=contact_button_type"), &p.page_token)
        .await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_i64()), (500, Some(1)));
    assert_eq!(body["error"]["message"], "An unknown error has occurred.");
    let (status, _, _) = f
        .get(&format!("{base}&breakdown=media_product_type"), &p.page_token)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn media_lifetime_numbers_grow_with_the_manual_clock() {
    let f = start().await;
    let (p, ig) = f.big();
    let truth = f.sb.instagram_media(&ig.ig_id);
    let oldest = truth.last().unwrap().timestamp;
    assert!(f.sb.now() - oldest >= Duration::days(180));
    for kind in [("IMAGE", "FEED"), ("VIDEO", "REELS"), ("CAROUSEL_ALBUM", "FEED")] {
        assert!(
            truth
                .iter()
                .any(|m| (m.media_type.as_str(), m.media_product_type.as_str()) == kind),
            "{kind:?}"
        );
    }
    let (status, before) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 3).await;
    assert_eq!(status, 200, "{before}");
    let item = before["media"]["data"][0].clone();
    assert_eq!(item["id"], truth[0].id.as_str());
    assert_eq!(item["insights"]["data"][0]["name"], "views");
    assert_eq!(item["insights"]["data"][0]["period"], "lifetime");
    assert_eq!(item["insights"]["data"][0]["values"][0]["value"], truth[0].views);
    assert_eq!(item["comments_count"], truth[0].comments_count);
    f.sb.advance(Duration::days(5));
    let (_, after) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 25).await;
    let later = after["media"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == item["id"])
        .unwrap()
        .clone();
    let views = |m: &Value| m["insights"]["data"][0]["values"][0]["value"].as_i64().unwrap();
    assert!(views(&later) > views(&item), "{} then {}", views(&item), views(&later));
    let now_truth = f.sb.instagram_media(&ig.ig_id);
    let same = now_truth.iter().find(|m| m.id == truth[0].id).unwrap();
    assert_eq!(views(&later), same.views);
}

#[tokio::test]
async fn media_paging_follows_next_and_reduce_the_amount_of_data() {
    let f = start().await;
    let (p, ig) = f.big();
    f.sb.set_instagram_media_per_day(&ig.ig_id, Some(2));
    let (status, mut body) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 25).await;
    assert_eq!(status, 200);
    let mut media = body["media"].clone();
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..4 {
        ids.extend(
            media["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string()),
        );
        let next = media["paging"]["next"].as_str().unwrap().to_string();
        assert!(
            next.starts_with(&format!("{}/v25.0/{}/media?", f.base, ig.ig_id)),
            "{next}"
        );
        assert!(next.contains("after="));
        let (status, _, page) = f.get(&next, &p.page_token).await;
        assert_eq!(status, 200, "{page}");
        media = page;
    }
    let truth: Vec<String> =
        f.sb.instagram_media(&ig.ig_id)
            .into_iter()
            .take(100)
            .map(|m| m.id)
            .collect();
    assert_eq!(ids, truth, "newest first, no repeats, no gaps");
    f.sb.set_reduce_data_above(Some(10));
    (_, body) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 25).await;
    assert_eq!(body["error"]["code"], 1);
    assert_eq!(body["error"]["error_subcode"], 99);
    let (status, body) = f.node(&ig.ig_id, &p.page_token, d(2026, 9, 1), 10).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["media"]["data"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn rate_limit_80002_tells_the_minutes_in_the_instagram_usage_header() {
    let f = start().await;
    let (p, ig) = f.big();
    let url = format!(
        "/v25.0/{}/insights?metric=reach&period=day&metric_type=total_value",
        ig.ig_id
    );
    f.sb.set_instagram_fault(
        &p.page_id,
        Fault::PageLimited {
            regain_minutes: 17,
            remaining: 1,
        },
    );
    let (status, headers, body) = f.get(&url, &p.page_token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 80002);
    let usage: Value = serde_json::from_str(headers["x-business-use-case-usage"].to_str().unwrap()).unwrap();
    let entry = &usage[ig.ig_id.as_str()][0];
    assert_eq!(entry["type"], "instagram");
    assert_eq!(entry["estimated_time_to_regain_access"], 17);
    // The Page itself is not limited, and the account answers again once the fault is spent.
    let (status, _, _) = f
        .get(&format!("/v25.0/{}?fields=id,name", p.page_id), &p.page_token)
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = f.get(&url, &p.page_token).await;
    assert_eq!(status, 200);
    // The hourly budget: the account has its own bucket, with type instagram.
    f.sb.reset_calls();
    f.sb.set_hourly_call_limit(Some(2));
    let (_, headers, _) = f.get(&url, &p.page_token).await;
    assert!(
        headers["x-business-use-case-usage"]
            .to_str()
            .unwrap()
            .contains("\"instagram\"")
    );
    f.get(&url, &p.page_token).await;
    let (_, _, body) = f.get(&url, &p.page_token).await;
    assert_eq!(body["error"]["code"], 80002);
    let (status, _, _) = f.get(&format!("/v25.0/{}?fields=id", p.page_id), &p.page_token).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn only_the_owning_pages_token_reads_the_account_and_faults_apply() {
    let f = start().await;
    let (p, ig) = f.big();
    let other =
        f.sb.seeded_pages()
            .into_iter()
            .find(|o| o.page_id != p.page_id)
            .unwrap();
    let day = d(2026, 9, 10);
    let (status, body) = f.day(&ig.ig_id, &other.page_token, day, "reach").await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "(#10) Application does not have permission for this action"
    );
    let (_, body) = f.day(&ig.ig_id, "EAAgarbage", day, "reach").await;
    assert_eq!(body["error"]["code"], 190);
    f.sb.set_instagram_fault(&ig.ig_id, Fault::PermissionDenied);
    let (_, body) = f.day(&ig.ig_id, &p.page_token, day, "reach").await;
    assert_eq!(
        body["error"]["message"],
        "(#10) Application does not have permission for this action"
    );
    f.sb.set_instagram_fault(&p.page_id, Fault::TokenInvalid);
    let (_, body) = f.node(&ig.ig_id, &p.page_token, day, 1).await;
    assert_eq!(body["error"]["code"], 190);
    let (status, _, _) = f
        .get(
            &format!("/v25.0/{}?fields=id", f.page(0).page_id),
            &f.page(0).page_token,
        )
        .await;
    assert_eq!(status, 200);
    f.sb.set_instagram_fault(&p.page_id, Fault::None);
    let (status, _) = f.day(&ig.ig_id, &p.page_token, day, "reach").await;
    assert_eq!(status, 200);
}

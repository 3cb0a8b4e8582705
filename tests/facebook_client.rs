//! The Graph client: against recorded real-format bodies (replay server) and against the sandbox.

mod common;

#[path = "client/against_sandbox.rs"]
mod against_sandbox;
#[path = "client/recorded.rs"]
mod recorded;

use chrono::NaiveDate;
use secrecy::SecretString;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn token(t: &str) -> SecretString {
    SecretString::from(t.to_string())
}

/// The Instagram half of the client (issue 16) against the sandbox's Instagram endpoints.
mod instagram {
    use chrono::{Duration as Days, NaiveDate};
    use chrono_tz::America::Mexico_City;
    use pulso::facebook::{InstagramError, InstagramPlan, NoGate};
    use pulso::sandbox::{Fault, Realism, Sandbox, SandboxOptions, SeededPage};

    use super::common::{RecordingGate, client};
    use super::{d, token};

    fn today() -> NaiveDate {
        d(2026, 11, 20)
    }

    async fn sandbox() -> (Sandbox, String, SeededPage, String) {
        let sb = Sandbox::new(SandboxOptions {
            pages: 0,
            today: Some(today()),
            realism: Realism::instant(),
            ..Default::default()
        });
        let pages = sb.add_pages(8);
        let page = pages
            .into_iter()
            .find(|p| {
                sb.instagram_account_for_page(&p.page_id)
                    .is_some_and(|a| a.followers_count >= 100)
            })
            .unwrap();
        let ig = sb.instagram_account_for_page(&page.page_id).unwrap().ig_id;
        let (addr, _handle) = sb.spawn_local().await.unwrap();
        (sb, format!("http://{addr}"), page, ig)
    }

    fn plan(ig: &str, days: Vec<NaiveDate>) -> InstagramPlan {
        InstagramPlan {
            account_id: ig.to_string(),
            account_days: days,
            series_from: today() - Days::days(3),
            media_from: today() - Days::days(27),
            today: today(),
            tz: Mexico_City,
            skip_metrics: Vec::new(),
        }
    }

    #[tokio::test]
    async fn discovery_rides_on_the_page_call_and_media_pages_shrink_on_reduce_data() {
        let (sb, base, page, ig) = sandbox().await;
        sb.set_instagram_media_per_day(&ig, Some(2));
        let c = client(&base, None);
        let tok = token(&page.page_token);
        let before = sb.call_log().len();
        let fetch = c
            .fetch_agent(&page.page_id, &tok, today(), today(), Mexico_City, &NoGate)
            .await
            .unwrap();
        let truth = sb.instagram_account_for_page(&page.page_id).unwrap();
        let found = fetch.instagram.expect("discovered");
        assert_eq!(
            (found.id.as_str(), found.username.as_deref(), found.followers),
            (
                truth.ig_id.as_str(),
                Some(truth.username.as_str()),
                Some(truth.followers_count)
            )
        );
        assert_eq!(sb.call_log().len() - before, 1, "no extra call for discovery");

        // Media pages of 100 and 50 are refused with 1/99; pages of 25 follow `next` as given.
        sb.set_reduce_data_above(Some(25));
        let gate = RecordingGate::default();
        let before = sb.call_log().len();
        let got = c
            .fetch_instagram(&tok, &plan(&ig, vec![today() - Days::days(1)]), &gate)
            .await
            .unwrap();
        let log = sb.call_log()[before..].to_vec();
        assert_eq!(got.calls as usize, log.len());
        assert!(log.iter().any(|l| l.contains(".limit(100)")), "{log:#?}");
        assert!(log.iter().any(|l| l.contains(".limit(50)")), "{log:#?}");
        assert!(log.iter().any(|l| l.contains(".limit(25)")), "{log:#?}");
        assert!(log.iter().filter(|l| l.contains("/media?")).count() >= 2, "{log:#?}");
        let start = (today() - Days::days(27))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_local_timezone(Mexico_City)
            .unwrap();
        let expected: Vec<String> = sb
            .instagram_media(&ig)
            .into_iter()
            .filter(|m| m.timestamp >= start)
            .map(|m| m.id)
            .collect();
        let ids: Vec<String> = got.media.iter().map(|m| m.media_id.clone()).collect();
        assert_eq!(ids, expected);
        let day = sb.instagram_day(&ig, today() - Days::days(1)).unwrap();
        let row = got.days.iter().find(|r| r.date == today() - Days::days(1)).unwrap();
        assert_eq!(
            (row.views, row.reach, row.media),
            (Some(day.views), Some(day.reach), Some(2))
        );
        assert_eq!(row.new_followers, day.new_followers);
    }

    #[tokio::test]
    async fn limit_80002_and_permission_come_back_typed() {
        let (sb, base, page, ig) = sandbox().await;
        let c = client(&base, None);
        let tok = token(&page.page_token);
        sb.set_instagram_fault(
            &ig,
            Fault::PageLimited {
                regain_minutes: 17,
                remaining: 1,
            },
        );
        match c
            .fetch_instagram(&tok, &plan(&ig, vec![today() - Days::days(1)]), &NoGate)
            .await
        {
            Err(InstagramError::RateLimited { resume_after, calls }) => {
                assert_eq!(resume_after, Some(std::time::Duration::from_secs(17 * 60)));
                assert_eq!(calls, 1);
            }
            other => panic!("{other:?}"),
        }
        sb.set_instagram_fault(&ig, Fault::PermissionDenied);
        let err = c.fetch_instagram(&tok, &plan(&ig, vec![]), &NoGate).await.unwrap_err();
        assert!(matches!(err, InstagramError::Permission { .. }), "{err:?}");
    }
}

//! Instagram (issue 16) end to end: the real Graph client over HTTP against the sandbox's
//! Instagram endpoints, the real sync engine on a manual clock, SQLite and PostgreSQL. Every
//! expected number comes from the sandbox's read-only truth (what Instagram would report) and every
//! call count from its call log; the store is what the sync wrote.

mod support;

#[path = "instagram_sync/world.rs"]
mod world;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use pulso::domain::{ConnectionStatus, DateRange};
use pulso::sandbox::Fault;
use world::*;

async fn store_equals_the_sandbox(db: support::TestStore) {
    let w = world(db, |_| {}).await;
    let (report, log) = w.sync().await;
    assert_eq!(report.synced.len(), 4, "{report:?}");
    assert_eq!(report.api_calls as usize, log.len(), "IG calls count in the job");
    let big = w.account(&w.cast.big);

    // Discovery: @username recorded; nothing for the Page without Instagram, and no call to it.
    let agent = w.agent(&w.cast.big).await;
    assert_eq!(agent.instagram_account_id.as_deref(), Some(big.ig_id.as_str()));
    assert_eq!(agent.instagram_username.as_deref(), Some(big.username.as_str()));
    assert_eq!(w.agent(&w.cast.none).await.instagram_account_id, None);
    assert!(
        w.days(&w.cast.none, DateRange::new(today() - Days::days(30), today()))
            .await
            .is_empty()
    );

    // First sync: one IG-1 call per backfill day (7), then IG-2 and its media pages.
    let ig_calls = calls_to(&log, &big.ig_id);
    let account_calls = ig_calls.iter().filter(|l| l.contains("/insights?")).count();
    assert_eq!(account_calls, 7, "{ig_calls:#?}");
    assert!(ig_calls.iter().any(|l| l.contains("follower_count")), "{ig_calls:#?}");

    // Every backfill day equals the sandbox (known where produced, unknown where not yet).
    let window = DateRange::new(today() - Days::days(7), today() - Days::days(1));
    let rows = w.days(&w.cast.big, window).await;
    assert_eq!(rows.len(), 7, "{rows:?}");
    for row in &rows {
        assert_day_matches(&w, &big.ig_id, row);
        let truth = w.sandbox.instagram_day(&big.ig_id, row.date);
        if let Some(t) = truth {
            assert_eq!(row.new_followers, t.new_followers, "{}", row.date);
        }
    }
    assert!(rows.iter().filter(|r| r.views.is_some()).count() >= 5, "{rows:?}");
    // Today's followers: the Page call's followers_count.
    assert_eq!(w.day(&w.cast.big, today()).await.followers, Some(big.followers_count));

    // Media: every item of the posts window, with the sandbox's lifetime numbers and kinds.
    let window_start = tz_midnight(today() - Days::days(27));
    let expected: Vec<_> = w
        .sandbox
        .instagram_media(&big.ig_id)
        .into_iter()
        .filter(|m| m.timestamp >= window_start)
        .collect();
    let stored = w.media(&w.cast.big).await;
    assert!(!expected.is_empty());
    assert_eq!(stored.len(), expected.len());
    for t in &expected {
        let m = stored.iter().find(|m| m.media_id == t.id).unwrap();
        assert_eq!(
            (m.likes, m.comments, m.views, m.reach, m.saves, m.shares),
            (
                t.like_count,
                Some(t.comments_count),
                Some(t.views),
                Some(t.reach),
                Some(t.saved),
                Some(t.shares)
            ),
            "{}",
            t.id
        );
    }
    // Media per office day, zero included.
    let month = w
        .days(&w.cast.big, DateRange::new(today() - Days::days(27), today()))
        .await;
    for row in &month {
        let created = expected
            .iter()
            .filter(|m| m.timestamp.with_timezone(&tz()).date_naive() == row.date)
            .count() as i64;
        assert_eq!(row.media, Some(created), "{}", row.date);
    }

    // A daily sync: Facebook plus at most two Instagram calls, for every agent with an account.
    w.advance(Days::days(1));
    let (report, log) = w.sync().await;
    assert_eq!(report.synced.len(), 4, "{report:?}");
    for page in [&w.cast.big, &w.cast.other, &w.cast.small] {
        let ig = w.account(page);
        let fb = calls_to(&log, &page.page_id).len();
        let ig_n = calls_to(&log, &ig.ig_id).len();
        assert_eq!(fb, 1, "{log:#?}");
        assert!((1..=2).contains(&ig_n), "{log:#?}");
    }
    assert_eq!(calls_to(&log, &w.cast.none.page_id).len(), 1);
    assert_eq!(log.len(), 4 + calls_ig(&w, &log), "nothing else was called: {log:#?}");
    assert_eq!(report.api_calls as usize, log.len());
    let tomorrow = today() + Days::days(1);
    assert_eq!(
        w.day(&w.cast.big, tomorrow).await.followers,
        Some(w.account(&w.cast.big).followers_count)
    );
}

fn calls_ig(w: &World, log: &[String]) -> usize {
    [&w.cast.big, &w.cast.other, &w.cast.small]
        .iter()
        .map(|p| calls_to(log, &w.account(p).ig_id).len())
        .sum()
}

fn tz_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(tz())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn sqlite_store_equals_what_the_sandbox_reports() {
    store_equals_the_sandbox(support::sqlite().await).await;
}

#[tokio::test]
async fn postgres_store_equals_what_the_sandbox_reports() {
    let Some(db) = support::postgres().await else {
        return;
    };
    store_equals_the_sandbox(db).await;
}

#[tokio::test]
async fn a_day_instagram_publishes_late_is_unknown_then_filled_in() {
    let w = world(support::sqlite().await, |_| {}).await;
    let big = w.account(&w.cast.big);
    w.sync().await;
    let yesterday = today() - Days::days(1);
    // Instagram has not produced yesterday yet (30 h after the Pacific day): unknown, not zero.
    assert!(w.sandbox.instagram_day(&big.ig_id, yesterday).is_none());
    let row = w.day(&w.cast.big, yesterday).await;
    assert!(!row.has_account_metrics(), "{row:?}");
    assert_eq!(row.account_read_at, None);
    // Two daily syncs later the day is final and equals the sandbox.
    for _ in 0..2 {
        w.advance(Days::days(1));
        w.sync().await;
    }
    assert!(w.sandbox.instagram_day(&big.ig_id, yesterday).is_some());
    let row = w.day(&w.cast.big, yesterday).await;
    assert!(row.views.is_some(), "{row:?}");
    assert_day_matches(&w, &big.ig_id, &row);
}

#[tokio::test]
async fn an_account_under_100_followers_has_no_new_followers() {
    let w = world(support::sqlite().await, |_| {}).await;
    w.sync().await;
    let small = w.account(&w.cast.small);
    assert!(small.followers_count < 100);
    let rows = w
        .days(&w.cast.small, DateRange::new(today() - Days::days(27), today()))
        .await;
    assert!(rows.iter().all(|r| r.new_followers.is_none()), "{rows:?}");
    assert!(
        rows.iter().any(|r| r.views.is_some()),
        "other metrics are read: {rows:?}"
    );
    assert_eq!(
        w.day(&w.cast.small, today()).await.followers,
        Some(small.followers_count)
    );
    // The big account's series is stored, so the unknowns above are the sandbox's, not the sync's.
    let big = w
        .days(
            &w.cast.big,
            DateRange::new(today() - Days::days(7), today() - Days::days(1)),
        )
        .await;
    assert!(big.iter().any(|r| r.new_followers.is_some()), "{big:?}");
}

#[tokio::test]
async fn a_retired_instagram_metric_keeps_the_others_and_raises_an_alert() {
    let w = world(support::sqlite().await, |sb| {
        sb.retire_instagram_metric("profile_links_taps", true);
        sb.retire_instagram_metric("saved", true);
    })
    .await;
    let big = w.account(&w.cast.big);
    let (report, _) = w.sync().await;
    assert_eq!(report.synced.len(), 4, "{report:?}");
    let rows = w
        .days(
            &w.cast.big,
            DateRange::new(today() - Days::days(7), today() - Days::days(1)),
        )
        .await;
    assert!(rows.iter().all(|r| r.profile_links_taps.is_none()), "{rows:?}");
    assert!(rows.iter().filter(|r| r.views.is_some()).count() >= 5, "{rows:?}");
    for r in rows.iter().filter(|r| r.views.is_some()) {
        let t = w.sandbox.instagram_day(&big.ig_id, r.date).unwrap();
        assert_eq!(
            (r.views, r.reach, r.likes),
            (Some(t.views), Some(t.reach), Some(t.likes))
        );
    }
    let media = w.media(&w.cast.big).await;
    assert!(!media.is_empty());
    assert!(
        media.iter().all(|m| m.saves.is_none() && m.views.is_some()),
        "{media:?}"
    );
    let refused = w.store().refused_metrics().await.unwrap();
    assert!(
        refused.contains(&"instagram:profile_links_taps".to_string()),
        "{refused:?}"
    );
    assert!(refused.contains(&"instagram:media.saved".to_string()), "{refused:?}");
    let alerts = w.store().open_alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.summary == "Meta retiró la métrica profile_links_taps de Instagram; pulso sigue con las demás"),
        "{alerts:?}"
    );
    // The next daily sync names neither and stays within Facebook + 2.
    w.advance(Days::days(1));
    let (_, log) = w.sync().await;
    let ig = calls_to(&log, &big.ig_id);
    assert!(ig.len() <= 2, "{ig:#?}");
    assert!(
        ig.iter()
            .all(|l| !l.contains("profile_links_taps") && !l.contains("saved")),
        "{ig:#?}"
    );
}

async fn limit_80002_defers_only_that_accounts_instagram(db: support::TestStore) {
    let w = world(db, |_| {}).await;
    let big = w.account(&w.cast.big);
    let other = w.account(&w.cast.other);
    w.sandbox.set_instagram_fault(
        &big.ig_id,
        Fault::PageLimited {
            regain_minutes: 30,
            remaining: 1,
        },
    );
    let (report, log) = w.sync().await;
    assert_eq!(report.synced.len(), 4, "the agent counts as synced: {report:?}");
    assert!(report.deferred.is_empty(), "{report:?}");
    // Facebook of the same agent is stored; its Instagram waits 30 minutes; the others went on.
    let fb = w
        .store()
        .daily_metrics(w.agent_id(&w.cast.big), DateRange::new(today(), today()))
        .await
        .unwrap();
    assert_eq!(fb.len(), 1);
    let agent = w.agent(&w.cast.big).await;
    let until = agent.instagram_paused_until.expect("paused");
    assert!(
        until >= start() + Days::minutes(30) && until <= start() + Days::minutes(31),
        "{until}"
    );
    assert_eq!(agent.status, ConnectionStatus::Active);
    assert_eq!(calls_to(&log, &big.ig_id).len(), 1, "stopped at the 80002: {log:#?}");
    assert!(w.media(&w.cast.big).await.is_empty());
    assert!(!w.media(&w.cast.other).await.is_empty());
    assert!(calls_to(&log, &other.ig_id).len() >= 8);

    // Ten minutes later: Facebook is read, Instagram of that account is not called.
    w.advance(Days::minutes(10));
    let (_, log) = w.sync().await;
    assert_eq!(calls_to(&log, &w.cast.big.page_id).len(), 1);
    assert_eq!(calls_to(&log, &big.ig_id).len(), 0, "{log:#?}");

    // After the pause: read again, and the pause is cleared.
    w.advance(Days::minutes(25));
    let (_, log) = w.sync().await;
    assert!(calls_to(&log, &big.ig_id).len() >= 2, "{log:#?}");
    assert_eq!(w.agent(&w.cast.big).await.instagram_paused_until, None);
    assert!(!w.media(&w.cast.big).await.is_empty());
}

#[tokio::test]
async fn sqlite_80002_defers_only_that_accounts_instagram() {
    limit_80002_defers_only_that_accounts_instagram(support::sqlite().await).await;
}

#[tokio::test]
async fn postgres_80002_defers_only_that_accounts_instagram() {
    let Some(db) = support::postgres().await else {
        return;
    };
    limit_80002_defers_only_that_accounts_instagram(db).await;
}

async fn a_missing_instagram_permission_keeps_facebook(db: support::TestStore) {
    let w = world(db, |_| {}).await;
    let big = w.account(&w.cast.big);
    w.sandbox.set_instagram_fault(&big.ig_id, Fault::PermissionDenied);
    let (report, _) = w.sync().await;
    assert_eq!(report.synced.len(), 4, "{report:?}");
    let agent = w.agent(&w.cast.big).await;
    assert_eq!(agent.status, ConnectionStatus::Active, "Facebook stays connected");
    assert_eq!(
        agent.instagram_problem.as_deref(),
        Some("falta el permiso instagram_manage_insights: vuelve a conectar con /conectar")
    );
    let fb = w
        .store()
        .daily_metrics(
            w.agent_id(&w.cast.big),
            DateRange::new(today() - Days::days(3), today()),
        )
        .await
        .unwrap();
    assert_eq!(fb.len(), 4, "{fb:?}");
    assert!(w.media(&w.cast.big).await.is_empty());

    // Permission granted again: the next successful read clears the problem.
    w.sandbox.set_instagram_fault(&big.ig_id, Fault::None);
    w.advance(Days::hours(2));
    w.sync().await;
    assert_eq!(w.agent(&w.cast.big).await.instagram_problem, None);
    assert!(!w.media(&w.cast.big).await.is_empty());
}

#[tokio::test]
async fn sqlite_a_missing_instagram_permission_keeps_facebook() {
    a_missing_instagram_permission_keeps_facebook(support::sqlite().await).await;
}

#[tokio::test]
async fn postgres_a_missing_instagram_permission_keeps_facebook() {
    let Some(db) = support::postgres().await else {
        return;
    };
    a_missing_instagram_permission_keeps_facebook(db).await;
}

#[tokio::test]
async fn a_dead_page_token_on_the_instagram_call_disconnects_the_agent_as_on_facebook() {
    let w = world(support::sqlite().await, |_| {}).await;
    let big = w.account(&w.cast.big);
    w.sandbox.set_instagram_fault(&big.ig_id, Fault::TokenInvalid);
    let (report, _) = w.sync().await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.synced.len(), 3, "the others went on: {report:?}");
    let agent = w.agent(&w.cast.big).await;
    assert_eq!(agent.status, ConnectionStatus::Disconnected);
    // The Page data read before it stay stored.
    let fb = w
        .store()
        .daily_metrics(w.agent_id(&w.cast.big), DateRange::new(today(), today()))
        .await
        .unwrap();
    assert_eq!(fb.len(), 1);
}

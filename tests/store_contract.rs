//! One contract, two backends: every test here runs on SQLite and on PostgreSQL.

mod support;

#[path = "store_contract/instagram.rs"]
mod instagram;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use instagram::*;
use pulso::alerts::Severity;
use pulso::crypto::{CryptoError, TokenCipher, generate_key_b64};
use pulso::domain::{
    AgentTotals, ConnectionStatus, DailyMetrics, DateRange, ItemStatus, JobKind, JobStatus, Post, Role,
};
use pulso::store::{
    AgentConnection, AlertChannel, AlertState, NewAgent, NewAlert, PageCandidate, Store, Upserted, hour_window,
};
use secrecy::{ExposeSecret, SecretString};
use support::TestStore;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 15, 30, 0).unwrap()
}

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + Duration::days(n as i64 - 1)
}

fn metrics(n: u32, views: i64) -> DailyMetrics {
    DailyMetrics {
        date: day(n),
        followers: Some(100 + n as i64),
        impressions: Some(views),
        reach: Some(views / 2),
        engaged_users: Some(10),
        posts: 1,
        reactions: 5,
        comments: 2,
        shares: 1,
        link_clicks: 3,
        whatsapp_clicks: 1,
        engagement_rate: None,
    }
    .with_engagement_rate()
}

async fn agent(store: &dyn Store, name: &str) -> i64 {
    let new = NewAgent {
        name: name.into(),
        email: format!("{}@remax.mx", name.to_lowercase().replace(' ', ".")),
        role: Role::Agent,
        facebook_page_id: Some("1000".into()),
        instagram_account_id: None,
    };
    store.upsert_agent(&new, now()).await.unwrap().0.id
}

async fn upserting_a_day_twice_keeps_one_row_with_the_latest_values(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    s.upsert_daily_metrics(a, &[metrics(1, 1000)], now()).await.unwrap();
    s.upsert_daily_metrics(a, &[metrics(1, 1500)], now()).await.unwrap();
    let rows = s.daily_metrics(a, DateRange::new(day(1), day(1))).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0], metrics(1, 1500));
}

async fn concurrent_writers_leave_one_row_per_agent_per_day(t: TestStore) {
    let store = t.store.clone();
    let a = agent(store.as_ref(), "Ana").await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let days: Vec<_> = (1..=5).map(|d| metrics(d, 1000 + i)).collect();
            store.upsert_daily_metrics(a, &days, now()).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let rows = store.daily_metrics(a, DateRange::new(day(1), day(30))).await.unwrap();
    assert_eq!(rows.len(), 5);
    let dates: Vec<_> = rows.iter().map(|r| r.date).collect();
    assert_eq!(dates, (1..=5).map(day).collect::<Vec<_>>());
}

async fn history_is_kept_when_later_syncs_overlap(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let first: Vec<_> = (1..=10).map(|d| metrics(d, 100)).collect();
    let second: Vec<_> = (8..=12).map(|d| metrics(d, 200)).collect();
    s.upsert_daily_metrics(a, &first, now()).await.unwrap();
    s.upsert_daily_metrics(a, &second, now()).await.unwrap();
    let rows = s.daily_metrics(a, DateRange::new(day(1), day(30))).await.unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0].impressions, Some(100));
    assert_eq!(rows[11].impressions, Some(200));
}

async fn encrypted_tokens_round_trip_and_fail_on_another_row(t: TestStore) {
    let s = t.store.as_ref();
    let cipher = TokenCipher::new("k1", Some(&SecretString::from(generate_key_b64())), None).unwrap();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let stored = cipher.encrypt(a, &SecretString::from("EAAB-secret".to_string()));
    s.set_agent_token(a, &stored, None, now()).await.unwrap();
    let read = s.agent_token(a).await.unwrap().unwrap();
    assert!(!read.contains("EAAB"));
    assert_eq!(cipher.decrypt(a, &read).unwrap().expose_secret(), "EAAB-secret");
    // Copy A's ciphertext onto B's row: B's id is bound in as associated data, so it must fail.
    s.set_agent_token(b, &read, None, now()).await.unwrap();
    let copied = s.agent_token(b).await.unwrap().unwrap();
    assert_eq!(cipher.decrypt(b, &copied).unwrap_err(), CryptoError::Tampered);
}

async fn agents_upsert_by_email_without_duplicates(t: TestStore) {
    let s = t.store.as_ref();
    let mut new = NewAgent {
        name: "Ana García".into(),
        email: "Ana@Remax.mx".into(),
        role: Role::Agent,
        facebook_page_id: Some("1".into()),
        instagram_account_id: None,
    };
    let (first, outcome) = s.upsert_agent(&new, now()).await.unwrap();
    assert_eq!(outcome, Upserted::Created);
    new.email = " ana@remax.MX ".into();
    new.name = "Ana García López".into();
    new.facebook_page_id = None;
    let (second, outcome) = s.upsert_agent(&new, now()).await.unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(first.id, second.id);
    assert_eq!(second.name, "Ana García López");
    assert_eq!(
        second.facebook_page_id.as_deref(),
        Some("1"),
        "a missing page id keeps the old one"
    );
    assert_eq!(s.agents().await.unwrap().len(), 1);
    s.set_agent_status(first.id, ConnectionStatus::NeedsReconnection, Some("permisos"), now())
        .await
        .unwrap();
    let reread = s.agent(first.id).await.unwrap().unwrap();
    assert_eq!(reread.status, ConnectionStatus::NeedsReconnection);
    assert_eq!(reread.status_reason.as_deref(), Some("permisos"));
    assert!(
        s.set_agent_status(999, ConnectionStatus::Active, None, now())
            .await
            .is_err()
    );
}

async fn totals_sum_flows_keep_last_followers_and_match_pure_code(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let days_a: Vec<_> = (1..=10).map(|d| metrics(d, 1000 * d as i64)).collect();
    let days_b: Vec<_> = (5..=7).map(|d| metrics(d, 10)).collect();
    s.upsert_daily_metrics(a, &days_a, now()).await.unwrap();
    s.upsert_daily_metrics(b, &days_b, now()).await.unwrap();
    let range = DateRange::new(day(3), day(8));
    let expected_a = AgentTotals::from_days(days_a.iter().filter(|m| range.contains(m.date)));
    assert_eq!(s.agent_totals(a, range).await.unwrap(), expected_a);
    assert_eq!(expected_a.followers, Some(108));
    let all = s.all_agent_totals(range).await.unwrap();
    assert_eq!(all.len(), 2);
    let got_b = all.iter().find(|(id, _)| *id == b).unwrap();
    assert_eq!(got_b.1, AgentTotals::from_days(&days_b));
    let nothing = s.agent_totals(a, DateRange::new(day(20), day(25))).await.unwrap();
    assert_eq!(nothing, AgentTotals::default());
    let team = s.team_daily(DateRange::new(day(5), day(5))).await.unwrap();
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].impressions, Some(5000 + 10));
    assert_eq!(team[0].followers, Some(105 * 2));
}

async fn ranking_totals_over_months_match_the_daily_rows(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let start = NaiveDate::from_ymd_opt(2026, 7, 20).unwrap();
    let mk = |i: i64, views: i64| DailyMetrics {
        date: start + Duration::days(i),
        followers: Some(10 + i),
        impressions: Some(views),
        reach: Some(i),
        posts: i % 3,
        link_clicks: 1,
        ..Default::default()
    };
    let days_a: Vec<_> = (0..120).map(|i| mk(i, 100 + i)).collect();
    let days_b: Vec<_> = (30..60).map(|i| mk(i, 7)).collect();
    s.upsert_daily_metrics(a, &days_a, now()).await.unwrap();
    s.upsert_daily_metrics(b, &days_b, now()).await.unwrap();
    // A late correction of a day in a fully covered month must reach the rollup.
    let mut fixed = days_a[45].clone();
    fixed.impressions = Some(99_999);
    s.upsert_daily_metrics(a, &[fixed.clone()], now()).await.unwrap();
    let mut expected_a = days_a.clone();
    expected_a[45] = fixed;
    for (from, to) in [(5, 110), (12, 12), (0, 119), (40, 72)] {
        let range = DateRange::new(start + Duration::days(from), start + Duration::days(to));
        let got: std::collections::HashMap<_, _> = s.all_agent_totals(range).await.unwrap().into_iter().collect();
        let want_a = AgentTotals::from_days(expected_a.iter().filter(|m| range.contains(m.date)));
        let want_b = AgentTotals::from_days(days_b.iter().filter(|m| range.contains(m.date)));
        assert_eq!(got.get(&a), Some(&want_a), "agent a over {range:?}");
        assert_eq!(
            got.get(&b).cloned().unwrap_or_default(),
            want_b,
            "agent b over {range:?}"
        );
    }
}

async fn top_posts_are_ordered_by_engagement(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let post = |id: &str, hours: i64, reactions: i64| Post {
        post_id: id.into(),
        created_at: now() - Duration::hours(hours),
        excerpt: format!("Casa {id}"),
        permalink: None,
        reactions,
        comments: 0,
        shares: 0,
        link_clicks: 1,
        links_to_whatsapp: id == "p2",
    };
    s.upsert_posts(a, &[post("p1", 1, 5), post("p2", 2, 50), post("p3", 300, 500)], now())
        .await
        .unwrap();
    s.upsert_posts(a, &[post("p1", 1, 7)], now()).await.unwrap();
    let top = s
        .top_posts(Some(a), now() - Duration::days(7), now(), 10)
        .await
        .unwrap();
    let ids: Vec<_> = top
        .iter()
        .map(|p| (p.post.post_id.as_str(), p.post.reactions))
        .collect();
    assert_eq!(ids, [("p2", 50), ("p1", 7)]);
    assert!(top[0].post.links_to_whatsapp);
    assert_eq!(
        s.top_posts(None, now() - Duration::days(30), now(), 1).await.unwrap()[0]
            .post
            .post_id,
        "p3"
    );
}

async fn link_codes_are_single_use_and_expire(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let code = pulso::admin::issue_link_code(s, a, now()).await.unwrap();
    assert_eq!(code.len(), 8);
    assert_eq!(s.consume_link_code(&code, "tg:1", now()).await.unwrap(), Some(a));
    assert_eq!(
        s.consume_link_code(&code, "tg:2", now()).await.unwrap(),
        None,
        "second use"
    );
    let old = pulso::admin::issue_link_code(s, a, now()).await.unwrap();
    assert_eq!(
        s.consume_link_code(&old, "tg:1", now() + Duration::hours(25))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.consume_link_code("NOPE", "tg:1", now()).await.unwrap(), None);
    s.link_identity("telegram", "11111", a, now()).await.unwrap();
    assert_eq!(
        s.linked_agent("telegram", "11111").await.unwrap().map(|a| a.id),
        Some(a)
    );
    assert_eq!(s.linked_agent("discord", "11111").await.unwrap().map(|a| a.id), None);
}

async fn budget_reservations_never_exceed_the_hourly_maximum(t: TestStore) {
    let store = t.store.clone();
    let window = hour_window(now());
    assert_eq!(window, Utc.with_ymd_and_hms(2026, 11, 26, 15, 0, 0).unwrap());
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store.reserve_calls(window, 30, 1, now()).await.unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            granted += 1;
        }
    }
    assert_eq!(granted, 30);
    let usage = store.budget_usage(window).await.unwrap().unwrap();
    assert_eq!((usage.calls_made, usage.max_calls), (30, 30));
    assert_eq!(store.reserve_calls(window, 30, 1, now()).await.unwrap(), None);
    let next = window + Duration::hours(1);
    assert_eq!(
        store
            .reserve_calls(next, 30, 2, now())
            .await
            .unwrap()
            .unwrap()
            .calls_made,
        2
    );
    store.record_rate_limit_hit(window, 30, now()).await.unwrap();
    store.record_rate_limit_hit(next, 30, now()).await.unwrap();
    store.record_usage_pct(window, 30, 93, now()).await.unwrap();
    store.record_usage_pct(window, 30, 40, now()).await.unwrap();
    assert_eq!(store.budget_usage(window).await.unwrap().unwrap().peak_usage_pct, 93);
    assert_eq!(store.rate_limit_hits_since(window).await.unwrap(), 2);
}

async fn one_active_bulk_job_and_leases_with_fencing(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let job = s
        .create_job(JobKind::Bulk, None, "admin", &[a, b], now())
        .await
        .unwrap();
    assert_eq!((job.status, job.total_agents), (JobStatus::Pending, 2));
    let again = s
        .create_job(JobKind::Bulk, None, "admin", &[a], now())
        .await
        .unwrap_err();
    assert!(matches!(again, pulso::store::StoreError::Conflict(_)), "{again}");
    // A single-agent job may exist beside the bulk job, but only one per agent.
    s.create_job(JobKind::Single, Some(a), "ana", &[a], now())
        .await
        .unwrap();
    assert!(
        s.create_job(JobKind::Single, Some(a), "ana", &[a], now())
            .await
            .is_err()
    );

    let lease = now() + Duration::seconds(60);
    let f1 = s.acquire_job_lease(job.id, "p1", lease, now()).await.unwrap().unwrap();
    assert_eq!(
        s.acquire_job_lease(job.id, "p2", lease, now()).await.unwrap(),
        None,
        "lease held by p1"
    );
    assert_eq!(s.job(job.id).await.unwrap().unwrap().status, JobStatus::Running);
    // p1 dies; after expiry p2 takes over and p1's fencing token no longer works.
    let later = now() + Duration::seconds(120);
    let f2 = s
        .acquire_job_lease(job.id, "p2", later + Duration::seconds(60), later)
        .await
        .unwrap()
        .unwrap();
    assert!(f2 > f1);
    assert!(!s.renew_job_lease(job.id, f1, later).await.unwrap());
    assert!(
        !s.set_job_status(job.id, f1, JobStatus::Failed, None, None, later)
            .await
            .unwrap()
    );
    assert!(
        s.renew_job_lease(job.id, f2, later + Duration::seconds(90))
            .await
            .unwrap()
    );

    let claimed = s
        .claim_items(job.id, "p2", 10, later + Duration::seconds(60), later, later)
        .await
        .unwrap();
    assert_eq!(claimed, vec![a, b]);
    assert!(
        s.claim_items(job.id, "p3", 10, later, later, later)
            .await
            .unwrap()
            .is_empty()
    );
    // p2 is still working when its first lease would have run out: renewing keeps p3 away.
    let much_later = later + Duration::seconds(120);
    assert_eq!(
        s.renew_item_leases(job.id, "p2", much_later + Duration::seconds(60))
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.renew_item_leases(job.id, "p3", much_later).await.unwrap(), 0);
    assert!(
        s.claim_items(job.id, "p3", 10, much_later, much_later, much_later)
            .await
            .unwrap()
            .is_empty(),
        "renewed items are not taken over"
    );
    assert!(
        !s.finish_item(job.id, a, "p3", ItemStatus::Synced, 1, 2, None, later)
            .await
            .unwrap()
    );
    assert!(
        s.finish_item(job.id, a, "p2", ItemStatus::Synced, 1, 2, None, later)
            .await
            .unwrap()
    );
    s.release_item(job.id, b, "p2").await.unwrap();
    assert_eq!(
        s.claim_items(job.id, "p3", 10, later, later, later).await.unwrap(),
        vec![b]
    );
    assert!(
        s.finish_item(job.id, b, "p3", ItemStatus::Failed, 3, 6, Some("token"), later)
            .await
            .unwrap()
    );
    let counted = s.job(job.id).await.unwrap().unwrap();
    assert_eq!(
        (counted.synced_agents, counted.failed_agents, counted.api_calls),
        (1, 1, 8)
    );
    assert!(
        s.set_job_status(job.id, f2, JobStatus::Partial, None, None, later)
            .await
            .unwrap()
    );
    let items = s.job_items(job.id).await.unwrap();
    assert_eq!(items[1].error.as_deref(), Some("token"));
    assert_eq!(
        s.latest_job(JobKind::Bulk).await.unwrap().unwrap().status,
        JobStatus::Partial
    );
    s.create_job(JobKind::Bulk, None, "admin", &[a], later).await.unwrap();
    assert_eq!(s.active_jobs().await.unwrap().len(), 2);
}

async fn concurrent_claims_never_hand_out_an_item_twice(t: TestStore) {
    let store = t.store.clone();
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(agent(store.as_ref(), &format!("Agente {i}")).await);
    }
    let job = store
        .create_job(JobKind::Bulk, None, "admin", &ids, now())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let owner = format!("w{w}");
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_items(job.id, &owner, 3, now() + Duration::hours(1), now(), now())
                    .await
                    .unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got);
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, ids);
}

fn new_alert(fingerprint: &str, summary: &str) -> NewAlert {
    NewAlert {
        fingerprint: fingerprint.into(),
        rule: "sync_fallos_muchos".into(),
        family: "sync_fallos".into(),
        labels: "{}".into(),
        severity: Severity::Urgent,
        summary: summary.into(),
        details: "• Ana: token → pide a Ana que use /conectar".into(),
    }
}

async fn alerts_keep_one_firing_incident_per_fingerprint_and_their_history(t: TestStore) {
    let s = t.store.as_ref();
    let (first, created) = s.fire_alert(&new_alert("f1", "7 agentes"), now()).await.unwrap();
    assert!(created);
    assert_eq!(first.state, AlertState::Firing);
    assert_eq!(first.starts_at, now());
    assert_eq!(first.severity, Severity::Urgent);
    // Firing again updates the same incident; its start stays.
    let later = now() + Duration::minutes(5);
    let (again, created) = s.fire_alert(&new_alert("f1", "8 agentes"), later).await.unwrap();
    assert!(!created);
    assert_eq!(
        (again.id, again.starts_at, again.summary.as_str()),
        (first.id, now(), "8 agentes")
    );
    // Cleared, then firing again within the resolve wait: still the same incident, un-cleared.
    assert!(s.clear_alert(first.id, later).await.unwrap());
    assert!(!s.clear_alert(first.id, later + Duration::minutes(1)).await.unwrap());
    assert_eq!(s.open_alerts().await.unwrap()[0].cleared_at, Some(later));
    let (again, _) = s.fire_alert(&new_alert("f1", "8 agentes"), later).await.unwrap();
    assert_eq!((again.id, again.cleared_at), (first.id, None));
    // Notifications are claimed per channel against the count read; the first one sets notified_at.
    assert!(
        s.claim_alert_send(first.id, AlertChannel::Chat, 0, later)
            .await
            .unwrap()
    );
    assert!(
        !s.claim_alert_send(first.id, AlertChannel::Chat, 0, later)
            .await
            .unwrap(),
        "a second claim on the same count loses"
    );
    assert!(
        s.claim_alert_send(first.id, AlertChannel::Email, 0, later)
            .await
            .unwrap()
    );
    let repeat = later + Duration::hours(4);
    assert!(
        s.claim_alert_send(first.id, AlertChannel::Chat, 1, repeat)
            .await
            .unwrap()
    );
    let open = s.open_alerts().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].chat_count, open[0].email_count), (2, 1));
    assert_eq!(open[0].notified_at, Some(later));
    assert_eq!(open[0].last_chat_at, Some(repeat));
    // A failed delivery gives its claim back: the count and time read before it are restored.
    s.release_alert_send(first.id, AlertChannel::Chat, 1, Some(later))
        .await
        .unwrap();
    let open = s.open_alerts().await.unwrap();
    assert_eq!((open[0].chat_count, open[0].last_chat_at), (1, Some(later)));
    assert!(!s.claim_alert_send(9999, AlertChannel::Chat, 0, later).await.unwrap());
    // Resolved: ends when the condition cleared; the next firing is a new incident; history stays.
    let cleared = later + Duration::hours(5);
    s.clear_alert(first.id, cleared).await.unwrap();
    assert!(
        s.resolve_alert(first.id, true, cleared + Duration::minutes(5))
            .await
            .unwrap()
    );
    assert!(
        !s.resolve_alert(first.id, true, cleared + Duration::minutes(6))
            .await
            .unwrap()
    );
    assert!(s.open_alerts().await.unwrap().is_empty());
    let (second, created) = s
        .fire_alert(&new_alert("f1", "6 agentes"), cleared + Duration::hours(1))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(second.id, first.id);
    let history = s.recent_alerts(10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].id, second.id);
    assert_eq!(history[1].state, AlertState::Resolved);
    assert_eq!(history[1].ends_at, Some(cleared));
    assert_eq!(history[1].resolved_sent_at, Some(cleared + Duration::minutes(5)));
}

async fn concurrent_firings_open_a_single_incident(t: TestStore) {
    let store = t.store.clone();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .fire_alert(&new_alert("same", &format!("{i}")), now())
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let (record, new) = t.await.unwrap();
        created += new as usize;
        ids.insert(record.id);
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(store.open_alerts().await.unwrap().len(), 1);
}

async fn silences_are_time_boxed(t: TestStore) {
    let s = t.store.as_ref();
    let ends = now() + Duration::hours(2);
    let silence = s
        .create_silence("sync_fallos", "telegram:11111", now(), ends)
        .await
        .unwrap();
    assert_eq!((silence.matcher.as_str(), silence.ends_at), ("sync_fallos", ends));
    assert_eq!(
        s.active_silences(now() + Duration::minutes(119)).await.unwrap().len(),
        1
    );
    assert!(s.active_silences(ends).await.unwrap().is_empty());
    assert!(
        s.active_silences(now() - Duration::minutes(1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn oauth_states_are_single_use_and_connections_are_atomic(t: TestStore) {
    let s = t.store.clone();
    let a = agent(s.as_ref(), "Ana").await;
    let b = agent(s.as_ref(), "Beto").await;
    let exp = now() + Duration::minutes(15);
    assert!(s.use_oauth_state("n1", a, exp, now()).await.unwrap());
    assert!(!s.use_oauth_state("n1", a, exp, now()).await.unwrap(), "second use");
    assert!(s.use_oauth_state("n2", a, exp, now()).await.unwrap());
    // Racing callbacks with the same state: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.use_oauth_state("race", a, exp, now()).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += t.await.unwrap() as u32;
    }
    assert_eq!(wins, 1);

    let candidate = |position: i64, page: &str| PageCandidate {
        position,
        page_id: page.into(),
        page_name: format!("Página {page}"),
        token_encrypted: format!("v1:k1:{page}"),
        token_expires_at: None,
        scopes: vec!["pages_show_list".into(), "read_insights".into()],
    };
    let until = now() + Duration::minutes(30);
    s.set_page_candidates(a, &[candidate(1, "11"), candidate(2, "22")], until, now())
        .await
        .unwrap();
    s.set_page_candidates(b, &[candidate(1, "33")], until, now())
        .await
        .unwrap();
    assert_eq!(
        s.page_candidates(a, now()).await.unwrap(),
        vec![candidate(1, "11"), candidate(2, "22")]
    );
    assert!(s.page_candidates(a, until).await.unwrap().is_empty(), "expired");
    s.set_page_candidates(a, &[candidate(1, "44")], until, now())
        .await
        .unwrap();
    assert_eq!(s.page_candidates(a, now()).await.unwrap(), vec![candidate(1, "44")]);

    let expires = Some(now() + Duration::days(60));
    s.set_agent_status(a, ConnectionStatus::Disconnected, Some("token vencido"), now())
        .await
        .unwrap();
    let connection = AgentConnection {
        page_id: "44".into(),
        token_encrypted: "v1:k1:secret".into(),
        token_expires_at: expires,
        scopes: vec!["pages_show_list".into(), "read_insights".into()],
    };
    s.connect_agent(a, &connection, now()).await.unwrap();
    let row = s.agent(a).await.unwrap().unwrap();
    assert_eq!(row.facebook_page_id.as_deref(), Some("44"));
    assert_eq!(row.status, ConnectionStatus::Active);
    assert_eq!(row.status_reason, None);
    assert_eq!(row.token_expires_at, expires);
    assert_eq!(s.agent_token(a).await.unwrap().as_deref(), Some("v1:k1:secret"));
    assert_eq!(
        s.agent_token_scopes(a).await.unwrap(),
        Some(vec!["pages_show_list".to_string(), "read_insights".to_string()])
    );
    assert_eq!(s.agent_token_scopes(b).await.unwrap(), None);
    assert!(
        s.page_candidates(a, now()).await.unwrap().is_empty(),
        "candidates dropped"
    );
    assert_eq!(
        s.page_candidates(b, now()).await.unwrap().len(),
        1,
        "other agents untouched"
    );
    assert!(s.connect_agent(9999, &connection, now()).await.is_err());
}

/// Runs a bulk job to its end: `synced` agents synced, the rest failed.
async fn finish_bulk(s: &dyn Store, agents: &[i64], synced: usize, at: DateTime<Utc>) -> i64 {
    let job = s.create_job(JobKind::Bulk, None, "admin", agents, at).await.unwrap();
    let fencing = s
        .acquire_job_lease(job.id, "p1", at + Duration::seconds(60), at)
        .await
        .unwrap()
        .unwrap();
    let claimed = s
        .claim_items(job.id, "p1", 100, at + Duration::seconds(60), at, at)
        .await
        .unwrap();
    for (i, agent) in claimed.iter().enumerate() {
        let status = if i < synced {
            ItemStatus::Synced
        } else {
            ItemStatus::Failed
        };
        assert!(
            s.finish_item(job.id, *agent, "p1", status, 1, 2, None, at)
                .await
                .unwrap()
        );
    }
    let status = if synced == 0 {
        JobStatus::Failed
    } else {
        JobStatus::Completed
    };
    assert!(s.set_job_status(job.id, fencing, status, None, None, at).await.unwrap());
    job.id
}

async fn reports_find_the_previous_bulk_sync_and_sum_a_months_api_use(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let oct = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 10, d, h, 0, 0).unwrap();
    let first = finish_bulk(s, &[a, b], 2, oct(5, 10)).await;
    assert_eq!(
        s.previous_bulk_finished_at(first).await.unwrap(),
        None,
        "nothing before the first"
    );
    let failed = finish_bulk(s, &[a, b], 0, oct(12, 10)).await;
    s.create_job(JobKind::Single, Some(a), "ana", &[a], oct(13, 9))
        .await
        .unwrap();
    let third = finish_bulk(s, &[a, b], 1, oct(20, 10)).await;
    assert_eq!(
        s.previous_bulk_finished_at(third).await.unwrap(),
        Some(oct(5, 10)),
        "a bulk sync that synced nobody does not count"
    );
    assert_eq!(s.previous_bulk_finished_at(failed).await.unwrap(), Some(oct(5, 10)));

    s.reserve_calls(oct(5, 10), 200, 40, oct(5, 10)).await.unwrap().unwrap();
    s.reserve_calls(oct(20, 10), 200, 150, oct(20, 10))
        .await
        .unwrap()
        .unwrap();
    s.record_rate_limit_hit(oct(20, 10), 200, oct(20, 10)).await.unwrap();
    s.record_usage_pct(oct(20, 10), 200, 81, oct(20, 10)).await.unwrap();
    // November's hour is outside the span.
    s.reserve_calls(now(), 200, 7, now()).await.unwrap().unwrap();
    let usage = s
        .api_usage_between(oct(1, 0), Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            usage.calls_made,
            usage.active_hours,
            usage.busiest_hour_calls,
            usage.hourly_budget
        ),
        (190, 2, 150, 200)
    );
    assert_eq!((usage.rate_limit_hits, usage.peak_usage_pct), (1, 81));
    assert_eq!((usage.bulk_syncs, usage.single_syncs, usage.failed_agents), (3, 1, 3));
    let empty = s
        .api_usage_between(oct(1, 0) - Duration::days(60), oct(1, 0))
        .await
        .unwrap();
    assert_eq!(empty, pulso::store::ApiUsageSummary::default());
}

async fn replicas_claiming_the_same_alert_notify_it_once(t: TestStore) {
    let s = t.store.clone();
    let (alert, _) = s.fire_alert(&new_alert("f9", "caída"), now()).await.unwrap();
    for channel in [AlertChannel::Chat, AlertChannel::Email, AlertChannel::Resolved] {
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                s.claim_alert_send(alert.id, channel, 0, now()).await.unwrap()
            }));
        }
        let mut won = 0;
        for t in tasks {
            won += usize::from(t.await.unwrap());
        }
        assert_eq!(won, 1, "{channel:?}");
    }
    // The resolved message's claim is held for a while, then taken over (its replica died), and
    // given back when the chat could not be reached.
    let soon = now() + Duration::minutes(1);
    assert!(
        !s.claim_alert_send(alert.id, AlertChannel::Resolved, 0, soon)
            .await
            .unwrap()
    );
    let stale = now() + Duration::minutes(6);
    assert!(
        s.claim_alert_send(alert.id, AlertChannel::Resolved, 0, stale)
            .await
            .unwrap()
    );
    s.release_alert_send(alert.id, AlertChannel::Resolved, 0, None)
        .await
        .unwrap();
    assert!(
        s.claim_alert_send(alert.id, AlertChannel::Resolved, 0, stale)
            .await
            .unwrap()
    );
    assert!(s.resolve_alert(alert.id, true, stale).await.unwrap());
    assert!(
        !s.claim_alert_send(alert.id, AlertChannel::Chat, 1, stale)
            .await
            .unwrap(),
        "a resolved incident is not notified again"
    );
}

/// A Page metric Facebook has not published is NULL, never 0: sums skip it, known-day counts
/// leave it out, a later unknown never erases a known value, and a real zero stays a zero.
async fn unknown_page_metrics_stay_unknown_and_zero_stays_zero(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let mut unpublished = metrics(2, 0);
    unpublished.followers = None;
    unpublished.impressions = None;
    unpublished.reach = None;
    unpublished.engaged_users = None;
    unpublished = unpublished.with_engagement_rate();
    assert_eq!(unpublished.engagement_rate, None);
    let zero = metrics(1, 0);
    s.upsert_daily_metrics(a, &[zero.clone(), unpublished.clone()], now())
        .await
        .unwrap();
    let rows = s.daily_metrics(a, DateRange::new(day(1), day(2))).await.unwrap();
    assert_eq!(rows, vec![zero.clone(), unpublished.clone()]);
    assert_eq!(rows[0].impressions, Some(0), "a published zero is a zero");
    assert_eq!((rows[1].impressions, rows[1].followers), (None, None));
    assert_eq!(rows[1].posts, 1, "post metrics of an unpublished day are known");

    let only_unknown = s.agent_totals(a, DateRange::new(day(2), day(2))).await.unwrap();
    assert_eq!(
        (only_unknown.impressions, only_unknown.reach, only_unknown.followers),
        (None, None, None)
    );
    assert_eq!((only_unknown.impressions_days, only_unknown.posts), (0, 1));
    let both = s.agent_totals(a, DateRange::new(day(1), day(2))).await.unwrap();
    assert_eq!(both, AgentTotals::from_days(&rows));
    assert_eq!(
        (both.impressions, both.impressions_days, both.followers),
        (Some(0), 1, Some(101))
    );
    let all = s.all_agent_totals(DateRange::new(day(1), day(30))).await.unwrap();
    assert_eq!(all[0].1, AgentTotals::from_days(&rows), "monthly rollup agrees");
    let team = s.team_daily(DateRange::new(day(2), day(2))).await.unwrap();
    assert_eq!(team[0].impressions, None);

    // A later read without insights for day 1 keeps the known values; publishing day 2 fills it.
    let mut reread = zero.clone();
    reread.followers = None;
    reread.impressions = None;
    reread.posts = 3;
    let mut published = unpublished.clone();
    published.impressions = Some(700);
    s.upsert_daily_metrics(a, &[reread.with_engagement_rate(), published], now())
        .await
        .unwrap();
    let rows = s.daily_metrics(a, DateRange::new(day(1), day(2))).await.unwrap();
    assert_eq!(
        (rows[0].impressions, rows[0].followers, rows[0].posts),
        (Some(0), Some(101), 3)
    );
    assert_eq!(rows[1].impressions, Some(700));
    assert!(rows[1].engagement_rate.is_some());
    let all = s.all_agent_totals(DateRange::new(day(1), day(30))).await.unwrap();
    assert_eq!((all[0].1.impressions, all[0].1.impressions_days), (Some(700), 2));
}

async fn refused_metrics_are_remembered_once(t: TestStore) {
    let s = t.store.as_ref();
    assert!(s.refused_metrics().await.unwrap().is_empty());
    assert!(s.add_refused_metric("page_post_engagements", now()).await.unwrap());
    assert!(!s.add_refused_metric("page_post_engagements", now()).await.unwrap());
    assert_eq!(
        s.refused_metrics().await.unwrap(),
        vec!["page_post_engagements".to_string()]
    );
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                super::$name(super::support::sqlite().await).await
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some(store) = super::support::postgres().await else { return };
                super::$name(store).await
            })*
        }
    };
}

contract!(
    upserting_a_day_twice_keeps_one_row_with_the_latest_values,
    concurrent_writers_leave_one_row_per_agent_per_day,
    history_is_kept_when_later_syncs_overlap,
    encrypted_tokens_round_trip_and_fail_on_another_row,
    agents_upsert_by_email_without_duplicates,
    totals_sum_flows_keep_last_followers_and_match_pure_code,
    top_posts_are_ordered_by_engagement,
    ranking_totals_over_months_match_the_daily_rows,
    link_codes_are_single_use_and_expire,
    oauth_states_are_single_use_and_connections_are_atomic,
    budget_reservations_never_exceed_the_hourly_maximum,
    one_active_bulk_job_and_leases_with_fencing,
    concurrent_claims_never_hand_out_an_item_twice,
    alerts_keep_one_firing_incident_per_fingerprint_and_their_history,
    concurrent_firings_open_a_single_incident,
    silences_are_time_boxed,
    reports_find_the_previous_bulk_sync_and_sum_a_months_api_use,
    replicas_claiming_the_same_alert_notify_it_once,
    unknown_page_metrics_stay_unknown_and_zero_stays_zero,
    refused_metrics_are_remembered_once,
    instagram_days_round_trip_and_unknown_never_erases_known,
    instagram_totals_and_team_days_sum_known_values,
    instagram_media_grow_and_top_media_follow_engagement,
    instagram_account_and_state_live_on_the_agent,
);

#[allow(dead_code)]
fn _assert_store_is_object_safe(_: Arc<dyn Store>) {}

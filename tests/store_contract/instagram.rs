//! The Instagram part of the store contract (run on both backends by `store_contract.rs`): the
//! agent's linked account and its state, daily numbers where unknown is not zero, media whose
//! lifetime numbers grow, totals, team days and top media.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pulso::domain::{DateRange, InstagramAccount, InstagramDaily, InstagramMedia, InstagramTotals, MediaKind};
use pulso::store::Store;

use super::support::TestStore;
use super::{agent, day, now};

fn at(d: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, hour, 0, 0).unwrap()
}

/// A day whose every account insight is known.
fn known_day(n: u32, views: i64) -> InstagramDaily {
    InstagramDaily {
        followers: Some(1000 + n as i64),
        new_followers: Some(3),
        views: Some(views),
        reach: Some(views / 2),
        accounts_engaged: Some(7),
        total_interactions: Some(12),
        likes: Some(0),
        comments: Some(2),
        shares: Some(1),
        saves: Some(4),
        profile_links_taps: Some(5),
        media: Some(1),
        account_read_at: Some(at(n + 2, 9)),
        ..InstagramDaily::new(day(n))
    }
}

fn media(id: &str, created_at: DateTime<Utc>, likes: Option<i64>, total: Option<i64>) -> InstagramMedia {
    InstagramMedia {
        media_id: id.into(),
        created_at,
        kind: MediaKind::Post,
        excerpt: format!("Casa {id}"),
        permalink: Some(format!("https://www.instagram.com/p/{id}/")),
        likes,
        comments: Some(2),
        views: Some(300),
        reach: Some(200),
        saves: Some(1),
        shares: Some(0),
        total_interactions: total,
    }
}

async fn days(s: &dyn Store, agent: i64) -> Vec<InstagramDaily> {
    s.instagram_daily(agent, DateRange::new(day(1), day(30))).await.unwrap()
}

/// Days round-trip; re-writing is idempotent; a later unknown never erases a known value, a known
/// zero stays zero, a known value replaces the old one; the read time keeps the latest.
pub async fn instagram_days_round_trip_and_unknown_never_erases_known(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    // Day 2: only the follower count of the Page call is known (insights not published yet).
    let pending = InstagramDaily {
        followers: Some(1002),
        ..InstagramDaily::new(day(2))
    };
    let written = vec![known_day(1, 500), pending.clone()];
    s.upsert_instagram_daily(a, &written, now()).await.unwrap();
    assert_eq!(days(s, a).await, written, "what was written is what is read");
    assert_eq!(days(s, a).await[0].likes, Some(0), "a known zero is a zero");
    assert_eq!((days(s, a).await[1].views, days(s, a).await[1].media), (None, None));
    assert!(days(s, b).await.is_empty(), "another agent's days are not Ana's");
    assert_eq!(
        s.instagram_daily(a, DateRange::new(day(2), day(9))).await.unwrap(),
        vec![pending.clone()]
    );

    // The same sync again: same rows, no duplicates.
    s.upsert_instagram_daily(a, &written, now()).await.unwrap();
    assert_eq!(days(s, a).await, written);

    // A later sync that knows nothing of day 1 but the media count, and publishes day 2.
    let unknown_again = InstagramDaily {
        media: Some(2),
        ..InstagramDaily::new(day(1))
    };
    let published = InstagramDaily {
        views: Some(0),
        reach: Some(40),
        account_read_at: Some(at(5, 9)),
        ..InstagramDaily::new(day(2))
    };
    s.upsert_instagram_daily(a, &[unknown_again, published], now())
        .await
        .unwrap();
    let stored = days(s, a).await;
    let expected_1 = InstagramDaily {
        media: Some(2),
        ..known_day(1, 500)
    };
    assert_eq!(stored[0], expected_1, "unknown keeps every known value of day 1");
    assert_eq!(
        (stored[1].followers, stored[1].views, stored[1].reach, stored[1].likes),
        (Some(1002), Some(0), Some(40), None)
    );
    assert_eq!(stored[1].account_read_at, Some(at(5, 9)));

    // A known value replaces a known one (zero included); an older read time never goes back.
    let corrected = InstagramDaily {
        reach: Some(0),
        account_read_at: Some(at(4, 9)),
        ..InstagramDaily::new(day(2))
    };
    s.upsert_instagram_daily(a, &[corrected], now()).await.unwrap();
    let stored = days(s, a).await;
    assert_eq!(stored[1].reach, Some(0));
    assert_eq!(stored[1].account_read_at, Some(at(5, 9)), "the latest read time stays");
    let later = InstagramDaily {
        account_read_at: Some(at(6, 10)),
        ..InstagramDaily::new(day(2))
    };
    // A read that knows nothing at all of day 1 changes nothing of it.
    s.upsert_instagram_daily(a, &[later, InstagramDaily::new(day(1))], now())
        .await
        .unwrap();
    assert_eq!(days(s, a).await[0], expected_1);
    assert_eq!(days(s, a).await[1].account_read_at, Some(at(6, 10)));
    assert_eq!(
        days(s, a).await[1].reach,
        Some(0),
        "a known zero survives a later unknown"
    );
}

/// Period totals equal the pure `InstagramTotals::from_days` over what is stored, for every agent in
/// one call; team days sum the accounts that know a metric.
pub async fn instagram_totals_and_team_days_sum_known_values(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let c = agent(s, "Carla").await;
    let mut days_a: Vec<_> = (1..=6).map(|n| known_day(n, 100 * n as i64)).collect();
    // Day 6: insights not published, no follower read either; day 5: follower count only.
    days_a[5] = InstagramDaily::new(day(6));
    days_a[4] = InstagramDaily {
        followers: Some(2000),
        ..InstagramDaily::new(day(5))
    };
    let days_b = vec![
        InstagramDaily {
            views: Some(7),
            followers: Some(50),
            account_read_at: Some(at(4, 8)),
            ..InstagramDaily::new(day(3))
        },
        InstagramDaily {
            followers: Some(51),
            ..InstagramDaily::new(day(4))
        },
    ];
    s.upsert_instagram_daily(a, &days_a, now()).await.unwrap();
    s.upsert_instagram_daily(b, &days_b, now()).await.unwrap();
    s.upsert_instagram_daily(c, &[known_day(20, 9)], now()).await.unwrap();

    let range = DateRange::new(day(2), day(6));
    let all = s.all_instagram_totals(range).await.unwrap();
    let ids: Vec<_> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, vec![a, b], "only agents with rows in the range");
    let stored_a = s.instagram_daily(a, range).await.unwrap();
    let got_a = &all[0].1;
    assert_eq!(got_a, &InstagramTotals::from_days(&stored_a));
    assert_eq!(got_a.followers, Some(2000), "the latest known follower count");
    assert_eq!((got_a.views, got_a.views_days, got_a.days_with_data), (Some(900), 3, 5));
    assert_eq!(got_a.likes, Some(0), "known zeros sum to a known zero");
    let got_b = &all[1].1;
    assert_eq!(got_b, &InstagramTotals::from_days(&days_b));
    assert_eq!((got_b.followers, got_b.views, got_b.reach), (Some(51), Some(7), None));
    assert_eq!((got_b.reach_days, got_b.interactions_days), (0, 0));
    let none = s.all_instagram_totals(DateRange::new(day(7), day(19))).await.unwrap();
    assert!(none.is_empty());

    let team = s.team_instagram_daily(DateRange::new(day(3), day(6))).await.unwrap();
    let dates: Vec<_> = team.iter().map(|d| d.date).collect();
    assert_eq!(dates, vec![day(3), day(4), day(5), day(6)]);
    assert_eq!((team[0].views, team[0].reach), (Some(300 + 7), Some(150)));
    assert_eq!(team[0].followers, Some(1003 + 50));
    assert_eq!((team[1].followers, team[1].views), (Some(1004 + 51), Some(400)));
    assert_eq!(
        (team[2].followers, team[2].views),
        (Some(2000), None),
        "nobody knew day 5's views"
    );
    assert_eq!(team[3], InstagramDaily::new(day(6)), "a day nobody knows stays unknown");
    assert_eq!(team[0].account_read_at, Some(at(5, 9)), "the latest read of the day");
}

/// Media lifetime numbers are overwritten by each newer read, an unknown (hidden likes) keeps the
/// known one; re-writing is idempotent; top media follow `InstagramMedia::engagement`, newest first
/// on ties, per agent or for everyone, within the window.
pub async fn instagram_media_grow_and_top_media_follow_engagement(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let b = agent(s, "Beto").await;
    let from = now() - Duration::days(7);
    let h = |hours: i64| now() - Duration::hours(hours);
    // Engagement: m2 total 20; m4 total 8, m3 hidden likes 0+2+1+5 = 8 and m1 5+2+1+0 = 8 tie, newest
    // first; m5 total 7 (any term left out of m1's or m3's sum puts them below it); old: outside the
    // window; mb: Beto's.
    let mut reel = media("m2", h(2), Some(1), Some(20));
    reel.kind = MediaKind::Reel;
    let mut album = media("m3", h(3), None, None);
    album.kind = MediaKind::Carousel;
    album.shares = Some(5);
    let first = vec![
        media("m1", h(5), Some(5), None),
        reel.clone(),
        album,
        media("m4", h(1), Some(0), Some(8)),
        media("m5", now() - Duration::minutes(30), Some(1), Some(7)),
        media("old", now() - Duration::days(9), Some(900), None),
    ];
    s.upsert_instagram_media(a, &first, now()).await.unwrap();
    s.upsert_instagram_media(b, &[media("mb", h(4), Some(50), Some(60))], now())
        .await
        .unwrap();
    s.upsert_instagram_media(a, &first, now()).await.unwrap();

    let top = s.top_instagram_media(Some(a), from, now(), 10).await.unwrap();
    let order: Vec<_> = top
        .iter()
        .map(|m| (m.media.media_id.as_str(), m.media.engagement()))
        .collect();
    assert_eq!(order, [("m2", 20), ("m4", 8), ("m3", 8), ("m1", 8), ("m5", 7)]);
    assert!(top.iter().all(|m| m.agent_id == a));
    assert_eq!(top[0].media, reel, "a media item round-trips");
    assert_eq!(top[2].media.kind, MediaKind::Carousel);
    assert_eq!(top[2].media.likes, None, "hidden likes stay unknown");

    // The next read: m1 grew, its likes came back hidden and Instagram now gives a total.
    let mut grown = media("m1", h(5), Some(40), Some(75));
    grown.views = Some(900);
    grown.permalink = None;
    let mut hidden = media("m4", h(1), None, None);
    hidden.comments = Some(9);
    s.upsert_instagram_media(a, &[grown, hidden], now()).await.unwrap();
    let top = s.top_instagram_media(Some(a), from, now(), 2).await.unwrap();
    let m1 = &top[0].media;
    assert_eq!(
        (m1.media_id.as_str(), m1.likes, m1.views, m1.total_interactions),
        ("m1", Some(40), Some(900), Some(75))
    );
    assert_eq!(
        m1.permalink.as_deref(),
        Some("https://www.instagram.com/p/m1/"),
        "an unknown permalink keeps the known one"
    );
    let m4 = &s.top_instagram_media(Some(a), h(1), now(), 1).await.unwrap()[0].media;
    assert_eq!(
        (m4.likes, m4.comments, m4.total_interactions),
        (Some(0), Some(9), Some(8)),
        "unknown keeps known, a new known value replaces it"
    );

    let everyone = s.top_instagram_media(None, from, now(), 10).await.unwrap();
    let owners: Vec<_> = everyone
        .iter()
        .map(|m| (m.media.media_id.as_str(), m.agent_id))
        .collect();
    assert_eq!(
        owners,
        [("m1", a), ("mb", b), ("m2", a), ("m4", a), ("m3", a), ("m5", a)]
    );
    assert_eq!(s.top_instagram_media(Some(b), from, now(), 10).await.unwrap().len(), 1);
    assert!(s.top_instagram_media(Some(b), from, h(5), 10).await.unwrap().is_empty());
}

/// The linked account, its pause and its problem live on the agent row; unlinking clears them and
/// keeps the history.
pub async fn instagram_account_and_state_live_on_the_agent(t: TestStore) {
    let s = t.store.as_ref();
    let a = agent(s, "Ana").await;
    let fresh = s.agent(a).await.unwrap().unwrap();
    assert_eq!(
        (
            fresh.instagram_account_id,
            fresh.instagram_username,
            fresh.instagram_paused_until,
            fresh.instagram_problem
        ),
        (None, None, None, None)
    );
    let account = InstagramAccount {
        id: "17841400000000001".into(),
        username: Some("ana.casas".into()),
        followers: Some(1234),
    };
    s.set_agent_instagram(a, Some(&account), now()).await.unwrap();
    let linked = s.agent(a).await.unwrap().unwrap();
    assert_eq!(linked.instagram_account_id.as_deref(), Some("17841400000000001"));
    assert_eq!(linked.instagram_username.as_deref(), Some("ana.casas"));
    s.link_identity("telegram", "77", a, now()).await.unwrap();
    let by_chat = s.linked_agent("telegram", "77").await.unwrap().unwrap();
    assert_eq!(by_chat.instagram_username.as_deref(), Some("ana.casas"));

    let until = now() + Duration::minutes(30);
    let problem = "falta el permiso instagram_manage_insights: vuelve a conectar con /conectar";
    s.set_instagram_state(a, Some(until), Some(problem), now())
        .await
        .unwrap();
    let listed = s.agents().await.unwrap().remove(0);
    assert_eq!(listed.instagram_paused_until, Some(until));
    assert_eq!(listed.instagram_problem.as_deref(), Some(problem));
    assert_eq!(listed.instagram_username.as_deref(), Some("ana.casas"));
    s.set_instagram_state(a, None, None, now()).await.unwrap();
    let cleared = s.agent(a).await.unwrap().unwrap();
    assert_eq!(
        (cleared.instagram_paused_until, cleared.instagram_problem),
        (None, None)
    );
    assert!(s.set_instagram_state(999_999, None, None, now()).await.is_err());
    assert!(s.set_agent_instagram(999_999, Some(&account), now()).await.is_err());

    // The Page loses its account: the agent has none, the stored days stay.
    s.upsert_instagram_daily(a, &[known_day(1, 10)], now()).await.unwrap();
    s.set_instagram_state(a, Some(until), Some(problem), now())
        .await
        .unwrap();
    s.set_agent_instagram(a, None, now()).await.unwrap();
    let unlinked = s.agent(a).await.unwrap().unwrap();
    assert_eq!(
        (
            unlinked.instagram_account_id,
            unlinked.instagram_username,
            unlinked.instagram_paused_until,
            unlinked.instagram_problem
        ),
        (None, None, None, None)
    );
    assert_eq!(days(s, a).await, vec![known_day(1, 10)], "history is kept");
}

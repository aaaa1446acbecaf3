//! Retention: with the clock moved past `[retention] days`, what has served its purpose is
//! purged, counts stay for the reports, and nothing still needed or young goes; delivery
//! goes on while a large purge runs.

use tidings::config::RetentionConfig;
use tidings::inbound::Reply;
use tidings::retention::{purge, Purged};
use tidings::store::{RequestKind, RequestLimits, SpentKind, Store};

use crate::common::{message, Harness, TestDb, DOMAIN};

const DAY_MS: i64 = 24 * 3_600_000;
const POSTER: &str = "poster@ngo.example";

on_both_databases!(
    a_delivered_posting_goes_and_its_counts_stay,
    a_posting_with_a_deferred_delivery_stays,
    spent_records_of_every_kind_go_and_young_ones_stay,
    delivery_goes_on_during_a_large_purge,
);

fn settings(batch_size: u64) -> RetentionConfig {
    RetentionConfig {
        batch_size,
        pause_ms: 1,
        ..RetentionConfig::default()
    }
}

/// Purges as the daemon would `days_on` days from now.
async fn purge_after(store: &Store, days_on: i64) -> Purged {
    let now = tidings::store::now_ms() + days_on * DAY_MS;
    purge(store, &settings(7), now).await.expect("purge")
}

fn sent_of(counts: &[tidings::store::QueueCounts], list: &str) -> (i64, i64) {
    counts
        .iter()
        .find(|c| c.list_name == list)
        .map_or((0, 0), |c| (c.sent, c.failed))
}

async fn a_delivered_posting_goes_and_its_counts_stay(db: &TestDb) {
    let h = Harness::start(db).await;
    let readers: Vec<String> = (0..20).map(|n| format!("r{n}@ngo.example")).collect();
    let mut members: Vec<&str> = readers.iter().map(String::as_str).collect();
    members.push(POSTER);
    h.subscribe("open", &members).await;
    h.post_and_drain(POSTER, "open").await;
    let store = &h.daemon.store;
    let before = store.queue_counts().await.expect("counts");
    assert_eq!(sent_of(&before, "open"), (21, 0));

    // Young: nothing goes, however small the batches.
    assert_eq!(purge_after(store, 0).await.total(), 0);
    assert_eq!(purge_after(store, 29).await.total(), 0);
    assert_eq!(store.deliveries_of("open").await.expect("rows").len(), 21);

    // Past 30 days: rows and the message go, in batches of 7; the counts stay.
    let purged = purge_after(store, 31).await;
    assert_eq!(purged.messages.deliveries, 21, "{purged:?}");
    assert_eq!(purged.messages.messages, 1, "{purged:?}");
    assert_eq!(purged.messages.bodies, 1, "{purged:?}");
    assert!(store.deliveries_of("open").await.expect("rows").is_empty());
    let left = store.message_counts().await.expect("messages");
    assert!(left.iter().all(|(list, _, _)| list != "open"), "{left:?}");
    let after = store.queue_counts().await.expect("counts");
    assert_eq!(
        sent_of(&after, "open"),
        (21, 0),
        "the report keeps its counts"
    );

    // The next posting is counted on top.
    h.post_and_drain(POSTER, "open").await;
    let counts = store.queue_counts().await.expect("counts");
    assert_eq!(sent_of(&counts, "open"), (42, 0));
    h.daemon.shutdown().await;
}

async fn a_posting_with_a_deferred_delivery_stays(db: &TestDb) {
    let h = Harness::start(db).await;
    let slow = "slow@ngo-slow.example";
    h.subscribe("open", &[POSTER, "fast@ngo.example", slow])
        .await;
    let busy = || Reply::new(451, "4.3.0", "mailbox busy, try later");
    h.sink.script(slow, std::iter::repeat_with(busy).take(1000));
    let to = format!("open@{DOMAIN}");
    h.send(POSTER, &to, &message(POSTER, &to, "Slow", "Hello\r\n"))
        .await;
    let rows = h
        .deliveries_when("open", |rows| {
            rows.len() == 3 && rows.iter().filter(|r| r.1 == "sent").count() == 2
        })
        .await;
    assert_eq!(rows.iter().filter(|r| r.1 == "sent").count(), 2, "{rows:?}");

    let purged = purge_after(&h.daemon.store, 365).await;
    assert_eq!(purged.messages, Default::default(), "{purged:?}");
    let rows = h.daemon.store.deliveries_of("open").await.expect("rows");
    assert_eq!(rows.len(), 3, "every row of the message stays: {rows:?}");
    h.daemon.shutdown().await;
}

async fn spent_records_of_every_kind_go_and_young_ones_stay(db: &TestDb) {
    let h = Harness::start(db).await;
    let store = &h.daemon.store;
    h.subscribe("forum", &[POSTER]).await;
    let to = format!("forum@{DOMAIN}");
    for subject in ["Expires", "Waits"] {
        h.write(POSTER, &to, subject, "Please read\r\n").await;
    }
    let held = store.messages_in_state("held").await.expect("held");
    assert_eq!(held.len(), 2);
    // As moderation expires a posting nobody decided on.
    assert!(store
        .move_message(held[0].id, "held", "expired", None)
        .await
        .expect("expire"));
    let shunted = store.messages_in_state("expanded").await.expect("notices");
    let shunted_id = shunted.first().expect("a moderators' notice").id;
    store
        .shunt_message(shunted_id, "test")
        .await
        .expect("shunt");

    let limits = RequestLimits {
        lifetime_ms: DAY_MS / 2,
        max_pending: 100,
        confirmations: 10,
        confirmations_window_ms: DAY_MS,
    };
    store
        .open_request(
            "open",
            RequestKind::Subscribe,
            "new@ngo.example",
            "en",
            &limits,
        )
        .await
        .expect("request");
    store
        .open_sign_in("ana@ngo.example", "nonce", 60_000, DAY_MS)
        .await
        .expect("sign-in");
    let session = tidings::store::NewSession {
        id_hash: "session",
        csrf_secret: "csrf",
        replaces: None,
    };
    let id = store
        .open_sign_in("ana@ngo.example", "n2", 60_000, DAY_MS)
        .await
        .expect("sign-in");
    store
        .redeem_sign_in(id, "n2", session)
        .await
        .expect("redeem")
        .expect("signed in");
    let window = 400 * DAY_MS;
    assert!(store
        .rate_allow("test", "k", 1, window)
        .await
        .expect("rate"));

    // Young: nothing goes.
    let young = purge_after(store, 0).await;
    assert_eq!(young.total(), 0, "{young:?}");

    let purged = purge_after(store, 31).await;
    assert_eq!(purged.of(SpentKind::Requests), 1, "{purged:?}");
    assert_eq!(purged.of(SpentKind::SignIns), 2, "{purged:?}");
    assert_eq!(purged.of(SpentKind::Sessions), 1, "{purged:?}");
    assert!(purged.of(SpentKind::RateEvents) >= 1, "{purged:?}");
    assert!(store.message(held[0].id).await.expect("read").is_none());
    let waiting = store.message(held[1].id).await.expect("read");
    assert_eq!(waiting.map(|m| m.state).as_deref(), Some("held"));
    assert!(store.message(shunted_id).await.expect("read").is_some());
    assert!(store.pending_requests(None).await.expect("read").is_empty());
    let session = store.web_session("session", 1000 * DAY_MS, 0).await;
    assert_eq!(session.expect("read"), None);
    assert!(store
        .rate_allow("test", "k", 1, window)
        .await
        .expect("rate"));

    // Shunted messages wait longer for the operator; held ones wait for a moderator.
    purge_after(store, 91).await;
    assert!(store.message(shunted_id).await.expect("read").is_none());
    assert!(store.message(held[1].id).await.expect("read").is_some());
    h.daemon.shutdown().await;
}

async fn delivery_goes_on_during_a_large_purge(db: &TestDb) {
    let h = Harness::start(db).await;
    let old: Vec<String> = (0..100).map(|n| format!("old{n}@ngo.example")).collect();
    let mut members: Vec<&str> = old.iter().map(String::as_str).collect();
    members.push(POSTER);
    h.subscribe("open", &members).await;
    for _ in 0..20 {
        h.post_and_drain(POSTER, "open").await;
    }
    let new: Vec<String> = (0..300).map(|n| format!("new{n}@ngo.example")).collect();
    let refs: Vec<&str> = new.iter().map(String::as_str).collect();
    h.subscribe("open", &refs).await;

    let store = h.daemon.store.clone();
    let purging = tokio::spawn(async move {
        let now = tidings::store::now_ms() + 31 * DAY_MS;
        purge(&store, &settings(50), now).await.expect("purge")
    });
    h.post_and_drain(POSTER, "open").await;
    let purged = purging.await.expect("purge task");
    // By the moved clock the new posting is old too: once all its copies are sent, the
    // purge may take it as well, never before.
    assert!(purged.messages.deliveries >= 20 * 101, "{purged:?}");
    let mut served: Vec<String> = h
        .received_recipients()
        .into_iter()
        .filter(|r| r.starts_with("new"))
        .collect();
    served.sort();
    served.dedup();
    assert_eq!(served.len(), 300, "every member served during the purge");
    let counts = h.daemon.store.queue_counts().await.expect("counts");
    assert_eq!(sent_of(&counts, "open"), (20 * 101 + 401, 0));
    h.daemon.shutdown().await;
}

//! Amplification: one transaction that names one of our addresses a hundred times, or many
//! of them, with a large body, is stored once and copied once per person; and the DATA of
//! all sessions together stays within the memory budget, past which a message is deferred
//! with 452 4.3.1 rather than read into memory.

use crate::common::{Harness, TestDb, DOMAIN};

on_both_databases!(
    a_repeated_recipient_is_stored_and_copied_once,
    many_of_our_addresses_share_one_stored_body,
    data_past_the_memory_budget_is_deferred,
);

/// One number from the database, as the operator would ask it.
async fn count(db: &TestDb, sql: &'static str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.expect(sql);
    pool.close().await;
    n
}

/// A message of about `size` bytes in 76-character lines.
fn large(from: &str, to: &str, size: usize) -> Vec<u8> {
    let line = format!("{}\r\n", "x".repeat(76));
    crate::common::message(from, to, "large", &line.repeat(size / line.len()))
}

async fn a_repeated_recipient_is_stored_and_copied_once(db: &TestDb) {
    let h = Harness::start(db).await;
    let spellings = [
        format!("news-owner@{DOMAIN}"),
        format!("NEWS-OWNER@{}", DOMAIN.to_uppercase()),
        format!("News-Owner@{DOMAIN}"),
    ];
    // The test configuration takes 100 recipients per transaction.
    let recipients: Vec<&str> = (0..100).map(|i| spellings[i % 3].as_str()).collect();
    let message = large("attacker@evil.example", &spellings[0], 150_000);
    for (hello, replies) in [("EHLO", 1), ("LHLO", 100)] {
        let mut client = match hello {
            "EHLO" => h.smtp().await,
            _ => h.lmtp().await,
        };
        let rcpts = client
            .envelope(hello, "attacker@evil.example", &recipients)
            .await;
        assert!(rcpts.iter().all(|r| r.starts_with("250")), "{rcpts:?}");
        let answers = client.data(&message, replies).await;
        assert_eq!(answers.len(), replies);
        assert!(
            answers.iter().all(|r| r.starts_with("250")),
            "{hello}: {answers:?}"
        );
    }
    assert!(h.queue_drained().await);
    assert_eq!(
        count(db, "SELECT COUNT(*) FROM message_bodies").await,
        2,
        "one body per transaction"
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM messages").await, 2);
    assert_eq!(count(db, "SELECT COUNT(*) FROM deliveries").await, 2);
    assert_eq!(h.received_recipients(), ["owner@coalition.test.example"; 2]);
}

async fn many_of_our_addresses_share_one_stored_body(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["reader@ngo.example"]).await;
    let recipients = [
        format!("open@{DOMAIN}"),
        format!("news-owner@{DOMAIN}"),
        format!("forum-owner@{DOMAIN}"),
        format!("open-owner@{DOMAIN}"),
    ];
    let recipients: Vec<&str> = recipients.iter().map(String::as_str).collect();
    let message = large("someone@ngo.example", recipients[0], 150_000);
    let mut client = h.smtp().await;
    let rcpts = client
        .envelope("EHLO", "someone@ngo.example", &recipients)
        .await;
    assert!(rcpts.iter().all(|r| r.starts_with("250")), "{rcpts:?}");
    let reply = client.data(&message, 1).await.remove(0);
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
    assert_eq!(count(db, "SELECT COUNT(*) FROM message_bodies").await, 1);
    assert_eq!(count(db, "SELECT COUNT(*) FROM messages").await, 4);
    let mut received = h.received_recipients();
    received.sort();
    assert_eq!(
        received,
        [
            "owner@coalition.test.example",
            "owner@coalition.test.example",
            "owner@coalition.test.example",
            "reader@ngo.example",
        ]
    );
}

async fn data_past_the_memory_budget_is_deferred(db: &TestDb) {
    // As much as one message of the largest size this server takes (200,000 bytes).
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "max_line_length = 998",
            "max_line_length = 998\nmax_data_memory = 200000",
        )
    })
    .await;
    let budget = h.daemon.data_budget.available();
    let to = format!("open-owner@{DOMAIN}");
    let first = large("a@ngo.example", &to, 150_000);
    let second = large("b@ngo.example", &to, 150_000);

    // The first client sends most of its message and waits before the final dot, so its
    // share of the budget is held.
    let mut holder = h.smtp().await;
    holder.envelope("EHLO", "a@ngo.example", &[&to]).await;
    assert!(holder.command("DATA").await.starts_with("354"));
    holder.send_raw(&first).await;
    let mut held = false;
    for _ in 0..200 {
        if h.daemon.data_budget.available() <= budget - 150_000 {
            held = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(held, "the first message's bytes were not taken in");

    // The second cannot fit in what is left: deferred, and nothing of it stored.
    let mut late = h.smtp().await;
    let refused = late.post("b@ngo.example", &to, &second).await;
    assert!(refused.starts_with("452 4.3.1"), "{refused}");

    // The first finishes; the budget is back, and the second goes through when retried.
    holder.send_raw(b"\r\n.\r\n").await;
    let accepted = holder.reply().await;
    assert!(accepted.starts_with("250"), "{accepted}");
    let retried = late.post("b@ngo.example", &to, &second).await;
    assert!(retried.starts_with("250"), "{retried}");
    assert!(h.queue_drained().await);
    assert_eq!(count(db, "SELECT COUNT(*) FROM messages").await, 2);
    assert_eq!(h.daemon.data_budget.available(), budget);
}

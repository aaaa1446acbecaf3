//! Postings held for a moderator: held durably, moderators told, decided by email reply or
//! by the CLI, across a restart.

use std::process::Command;

use crate::common::{reply_to, Harness, TestDb, DOMAIN};

const MODERATOR: &str = "mod@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";
const READER: &str = "reader@ngo.example";

on_both_databases!(
    moderated_postings_wait_for_a_moderator,
    an_undecided_posting_expires_and_its_author_is_told,
);

async fn post(h: &Harness, subject: &str) {
    let to = format!("forum@{DOMAIN}");
    h.write(AUTHOR, &to, subject, "Dear all,\r\nplease read this.\r\n")
        .await;
}

async fn moderated_postings_wait_for_a_moderator(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("forum", &[AUTHOR, READER]).await;

    // Held, and the moderator (not the owner) is asked, with an excerpt.
    post(&h, "First").await;
    assert!(
        h.received_by(READER).is_empty(),
        "nothing reaches the list before approval"
    );
    let notices = h.received_by(MODERATOR);
    assert_eq!(notices.len(), 1);
    assert!(notices[0]
        .body_text(0)
        .is_some_and(|t| t.contains("please read this")));
    let moderate = reply_to(&notices[0]);
    assert!(moderate.starts_with("forum-confirm+"), "{moderate}");
    assert!(h.received_by("owner@coalition.test.example").is_empty());

    // Only a moderator's reply counts; "approve" sends the posting on.
    h.write(AUTHOR, &moderate, "Re: held", "approve\r\n").await;
    assert!(h.received_by(READER).is_empty());
    h.write_proven(MODERATOR, &moderate, "Re: held", "approve\r\n")
        .await;
    assert!(wait_for(&h, READER, 1).await, "approved posting delivered");
    assert!(h.received_by(READER)[0]
        .subject()
        .is_some_and(|s| s.contains("First")));

    // "reject" tells the author why; nothing reaches the list.
    post(&h, "Second").await;
    let moderate = reply_to(&h.received_by(MODERATOR)[1]);
    h.write_proven(
        MODERATOR,
        &moderate,
        "Re: held",
        "reject off topic here\r\n",
    )
    .await;
    let to_author: Vec<String> = h
        .received_by(AUTHOR)
        .iter()
        .filter_map(|m| m.body_text(0).map(|t| t.to_string()))
        .filter(|t| t.contains("off topic here"))
        .collect();
    assert_eq!(
        to_author.len(),
        1,
        "the author is told the moderator's reason"
    );
    assert_eq!(h.received_by(READER).len(), 1);

    // Held postings survive a restart and are decided from the command line.
    post(&h, "Third").await;
    let config = h.config();
    let Harness {
        daemon,
        sink,
        dns: _dns,
        ..
    } = h;
    daemon.shutdown().await;
    let daemon = tidings::daemon::Daemon::start(config)
        .await
        .expect("restart");
    let dir = tempfile::tempdir().expect("dir");
    let config_path = dir.path().join("tidings.toml");
    std::fs::write(&config_path, crate::common::config_toml(&db.url, sink.addr)).expect("write");
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .env("TIDINGS_LOG", "warn")
            .output()
            .expect("runs")
    };
    let listed = String::from_utf8_lossy(&cli(&["held", "list"]).stdout).into_owned();
    assert!(
        listed.contains("forum") && listed.contains("Third"),
        "{listed}"
    );
    let id = listed.split_whitespace().next().expect("id").to_string();
    assert!(cli(&["held", "discard", &id]).status.success());
    assert!(
        !cli(&["held", "approve", &id]).status.success(),
        "decided once only"
    );
    assert!(String::from_utf8_lossy(&cli(&["held", "list"]).stdout).contains("no postings held"));
    daemon.shutdown().await;
    let copies = sink
        .messages()
        .iter()
        .filter(|m| m.recipients.iter().any(|r| r == READER))
        .count();
    assert_eq!(copies, 1, "the discarded posting went nowhere");
}

/// Waits (at most 10 s) until `address` has received `count` messages.
async fn wait_for(h: &Harness, address: &str, count: usize) -> bool {
    for _ in 0..200 {
        if h.received_by(address).len() >= count {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

async fn an_undecided_posting_expires_and_its_author_is_told(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("forum", &[AUTHOR, READER]).await;
    post(&h, "Forgotten").await;
    assert_eq!(h.received_by(MODERATOR).len(), 1);
    // As if the held-posting lifetime had gone by.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query("UPDATE messages SET received_at = 1 WHERE state = 'held'")
        .execute(&pool)
        .await
        .expect("age");
    pool.close().await;
    assert!(
        wait_for(&h, AUTHOR, 1).await,
        "the author is told the posting expired"
    );
    let told = &h.received_by(AUTHOR)[0];
    assert!(
        told.body_text(0).is_some_and(|t| t.contains("Forgotten")),
        "names the posting"
    );
    assert!(
        h.received_by(READER).is_empty(),
        "an expired posting never reaches the list"
    );
    let counts = h.daemon.store.message_counts().await.expect("counts");
    assert!(
        counts.iter().any(|(_, state, _)| state == "expired"),
        "{counts:?}"
    );
    h.daemon.shutdown().await;
}

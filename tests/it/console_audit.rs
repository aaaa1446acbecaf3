//! The audit trail: decisions on held postings taken by email reply, by the CLI and in the
//! web console are each recorded with their actor and channel, by the one code path they
//! share, and shown newest first to the list's owners and to admins, and to no one else.

use std::process::Command;

use crate::common::browser::{subscribe, Browser};
use crate::common::{eventually, reply_to, Harness, TestDb, DOMAIN};
use tidings::store::AuditScope;

on_both_databases!(decisions_by_email_cli_and_web_are_in_the_trail_for_owners_and_admins,);

const ADMIN: &str = "it@coalition.test.example";
const MODERATOR: &str = "mod@coalition.test.example";
/// Owner of `forum` (and others, but not `team`).
const OWNER: &str = "owner@coalition.test.example";
/// Owner of `team` only.
const CHAIR: &str = "chair@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";
const READER: &str = "reader@ngo.example";

/// The ids of the postings waiting in `forum`, oldest first.
async fn held_ids(h: &Harness) -> Vec<i64> {
    let mut held = h
        .daemon
        .store
        .messages_in_state("held")
        .await
        .expect("held");
    held.sort_by_key(|m| m.id);
    held.iter().map(|m| m.id).collect()
}

/// Runs `tidings ARGS` as the operator `operator`, asserting it succeeds.
fn cli(config: &std::path::Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TIDINGS_LOG", "warn")
        .env("USER", "operator")
        .output()
        .expect("runs");
    assert!(output.status.success(), "{args:?}: {output:?}");
}

/// The forum's recorded actions, newest first, once there are `count`.
async fn forum_trail(h: &Harness, count: usize) -> Vec<(String, String, String)> {
    eventually(|| async {
        let page = h
            .daemon
            .store
            .audit_page(AuditScope::Of("forum"), 50, 0)
            .await
            .expect("trail");
        (page.len() >= count).then(|| {
            page.into_iter()
                .map(|e| (e.action, e.channel, e.actor))
                .collect()
        })
    })
    .await
    .expect("the decisions are recorded")
}

async fn decisions_by_email_cli_and_web_are_in_the_trail_for_owners_and_admins(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        format!("{toml}\n[web]\nadmins = [\"{ADMIN}\"]\n")
    })
    .await;
    h.subscribe("forum", &[AUTHOR, READER]).await;
    subscribe(&h, "team", CHAIR, "en").await;
    let to = format!("forum@{DOMAIN}");
    for subject in ["First", "Second", "Third"] {
        h.write(AUTHOR, &to, subject, "Dear all,\r\n").await;
    }
    let notices = eventually(|| async {
        let notices = h.received_by(MODERATOR);
        (notices.len() >= 3).then_some(notices)
    })
    .await
    .expect("the moderator is told");
    let ids = eventually(|| async {
        let ids = held_ids(&h).await;
        (ids.len() == 3).then_some(ids)
    })
    .await
    .expect("three postings held");

    // By email: the moderator's proven reply about the first posting.
    let approve_first = format!("tidings held approve {}", ids[0]);
    let first = notices
        .iter()
        .find(|n| n.body_text(0).is_some_and(|t| t.contains(&approve_first)))
        .expect("notice of the first posting");
    h.write_proven(MODERATOR, &reply_to(first), "Re: held", "approve\r\n")
        .await;
    forum_trail(&h, 1).await;

    // By the CLI: the second.
    let waiting = held_ids(&h).await;
    assert_eq!(waiting.len(), 2);
    let dir = tempfile::tempdir().expect("dir");
    let config_path = dir.path().join("tidings.toml");
    std::fs::write(&config_path, &h.toml).expect("write");
    let discarded = waiting[0].to_string();
    cli(&config_path, &["held", "discard", &discarded]);

    // In the web console: the third.
    let mut moderator = Browser::new(&h);
    moderator.sign_in(&h, MODERATOR, 1).await;
    let csrf = moderator.home().await.csrf();
    let decide = format!("/console/lists/forum/held/{}/decide", waiting[1]);
    let body = format!("csrf={csrf}&decision=reject&reason=off+topic");
    let decided = moderator.request("POST", &decide, &body).await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let trail = forum_trail(&h, 3).await;
    let expected = [
        ("held.reject", "web", MODERATOR),
        ("held.discard", "cli", "cli:operator"),
        ("held.approve", "email", MODERATOR),
    ];
    let found: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|(a, c, w)| (a.as_str(), c.as_str(), w.as_str()))
        .collect();
    assert_eq!(found, expected);

    // The roster, changed from the CLI, is recorded the same way.
    cli(
        &config_path,
        &["members", "add", "forum", "newbie@ngo.example"],
    );
    cli(
        &config_path,
        &["members", "remove", "forum", "newbie@ngo.example"],
    );
    let trail = forum_trail(&h, 5).await;
    let roster: Vec<(&str, &str)> = trail[..2]
        .iter()
        .map(|(a, c, _)| (a.as_str(), c.as_str()))
        .collect();
    assert_eq!(roster, [("member.remove", "cli"), ("member.add", "cli")]);

    // The forum's owner reads it, newest first, with each channel.
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    assert!(owner
        .home()
        .await
        .body
        .contains("/console/lists/forum/audit\""));
    let page = owner.request("GET", "/console/lists/forum/audit", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let at = |needle: &str| page.body.find(needle).unwrap_or(usize::MAX);
    assert!(at("held.reject") < at("held.discard"), "{}", page.body);
    assert!(at("held.discard") < at("held.approve"), "{}", page.body);
    for shown in [
        "<td data-label=\"Channel\">web</td>",
        "<td data-label=\"Channel\">email</td>",
        "<td data-label=\"Channel\">command line</td>",
        "cli:operator",
        "off topic",
    ] {
        assert!(page.body.contains(shown), "{shown}: {}", page.body);
    }
    assert_eq!(owner.request("GET", "/console/audit", "").await.status, 404);

    // Another list's owner, a moderator, a member: the one "not found" page.
    let mut chair = Browser::new(&h);
    chair.sign_in(&h, CHAIR, 1).await;
    let nowhere = chair
        .request("GET", "/console/lists/nosuch/audit", "")
        .await;
    assert_eq!(nowhere.status, 404);
    let own = chair.request("GET", "/console/lists/team/audit", "").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(!own.body.contains("held."), "{}", own.body);
    let mut reader = Browser::new(&h);
    reader.sign_in(&h, READER, 1).await;
    for browser in [&mut chair, &mut moderator, &mut reader] {
        for path in ["/console/lists/forum/audit", "/console/audit"] {
            let answer = browser.request("GET", path, "").await;
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.body, nowhere.body, "{path}");
        }
    }

    // An admin reads every list's trail and the whole one.
    let mut admin = Browser::new(&h);
    admin.sign_in(&h, ADMIN, 1).await;
    let whole = admin.request("GET", "/console/audit", "").await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    assert!(whole.body.contains("held.approve") && whole.body.contains("<code>forum</code>"));
    let forum = admin.request("GET", "/console/lists/forum/audit", "").await;
    assert_eq!(forum.status, 200);
    h.daemon.shutdown().await;
}

//! `postmaster@` (RFC 5321 §4.5.1, with or without the domain) and `abuse@` (RFC 2142) at
//! the list domain reach a person: the configured postmaster, or by default the first owner
//! of the first list. Naming both in one message makes one copy.

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(
    postmaster_and_abuse_reach_the_first_owner_by_default,
    postmaster_and_abuse_reach_the_configured_postmaster,
);

async fn report(h: &Harness) {
    let postmaster = format!("postmaster@{DOMAIN}");
    let recipients = [
        postmaster.as_str(),
        "Postmaster",
        &format!("ABUSE@{DOMAIN}"),
    ];
    let mut client = h.smtp().await;
    let rcpts = client
        .envelope("EHLO", "admin@isp.example", &recipients)
        .await;
    assert!(rcpts.iter().all(|r| r.starts_with("250")), "{rcpts:?}");
    let reply = client
        .data(
            &message(
                "admin@isp.example",
                &postmaster,
                "Abuse report",
                "Spam seen\r\n",
            ),
            1,
        )
        .await
        .remove(0);
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
}

async fn postmaster_and_abuse_reach_the_first_owner_by_default(db: &TestDb) {
    let h = Harness::start(db).await;
    report(&h).await;
    // The first list is `news`, whose first owner is this.
    assert_eq!(h.received_recipients(), ["owner@coalition.test.example"]);
    let copy = &h.received_by("owner@coalition.test.example")[0];
    assert_eq!(copy.subject(), Some("Abuse report"));
}

async fn postmaster_and_abuse_reach_the_configured_postmaster(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "max_line_length = 998",
            "max_line_length = 998\npostmaster = \"hostmaster@coalition.test.example\"",
        )
    })
    .await;
    report(&h).await;
    assert_eq!(
        h.received_recipients(),
        ["hostmaster@coalition.test.example"]
    );
}

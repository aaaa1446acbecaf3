//! Bounces over loopback SMTP: a report sent to a copy's VERP address is traced back to the
//! member; address failures raise the score up to disabling, policy rejections do not and
//! are reported to the owners; the re-enable link works; unanswered members are removed.

mod common;

use common::{http, Harness, TestDb, DOMAIN};
use tidings::inbound::reply::Reply;

const OWNER: &str = "owner@coalition.test.example";
const DEAD: &str = "gone@ngo.example";
const ALIVE: &str = "reader@ngo.example";

on_both_databases!(
    address_failures_disable_and_the_link_re_enables,
    policy_rejections_do_not_count_and_owners_hear_of_them,
    unanswered_disabled_members_are_removed,
    refusals_by_the_relay_count_like_bounces,
);

/// The test config with a quick threshold: two address failures, both counted the same day.
fn quick(extra: &'static str) -> impl FnOnce(String) -> String {
    move |toml| {
        format!(
            "{toml}\n[bounces]\nscore_threshold = 2\ndaily_cap = 5\ndecay_days = 7\n\
             notice_interval_days = 1\n{extra}\n"
        )
    }
}

/// Posts to the open list and returns the VERP envelope sender of `recipient`'s copy.
async fn post_and_find_verp(h: &Harness, recipient: &str) -> String {
    let before = h.sink.messages().len();
    h.write(
        "author@ngo.example",
        &format!("open@{DOMAIN}"),
        "News",
        "Hello\r\n",
    )
    .await;
    let copies = h.sink.messages();
    copies[before..]
        .iter()
        .find(|m| m.recipients.iter().any(|r| r == recipient))
        .map(|m| m.mail_from.clone())
        .unwrap_or_else(|| panic!("no copy for {recipient}"))
}

fn report(recipient: &str, status: &str, diagnostic: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.ngo.example\r\nTo: bounces\r\nSubject: Undelivered Mail\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; \
         boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ngo.example\r\n\
         \r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diagnostic}\r\n\r\n--b--\r\n"
    )
    .into_bytes()
}

async fn bounce(h: &Harness, verp: &str, status: &str, diagnostic: &str) {
    h.send("", verp, &report(DEAD, status, diagnostic)).await;
    assert!(h.queue_drained().await);
}

/// Posts "Later": the disabled DEAD gets no copy, ALIVE does.
async fn later_posting_skips_the_disabled(h: &Harness) {
    h.write(
        "author@ngo.example",
        &format!("open@{DOMAIN}"),
        "Later",
        "Hi\r\n",
    )
    .await;
    assert!(
        h.received_by(DEAD)
            .iter()
            .all(|m| m.subject() != Some("Later")),
        "a disabled member gets no postings"
    );
    assert!(h
        .received_by(ALIVE)
        .iter()
        .any(|m| m.subject() == Some("Later")));
}

async fn score_of(h: &Harness, address: &str) -> Option<(i64, String)> {
    let report = h
        .daemon
        .store
        .bounce_report(Some("open"), 30)
        .await
        .expect("report");
    report
        .scores
        .into_iter()
        .find(|(_, a, ..)| a == address)
        .map(|(_, _, score, status, _)| (score, status))
}

async fn address_failures_disable_and_the_link_re_enables(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    h.subscribe("open", &[DEAD, ALIVE]).await;

    let verp = post_and_find_verp(&h, DEAD).await;
    assert!(verp.starts_with("open-bounces+"), "{verp}");
    bounce(
        &h,
        &verp,
        "5.1.1",
        "550 5.1.1 <gone@ngo.example>: User unknown",
    )
    .await;
    assert_eq!(score_of(&h, DEAD).await, Some((1, "active".into())));

    let verp = post_and_find_verp(&h, DEAD).await;
    bounce(&h, &verp, "5.1.1", "550 5.1.1 User unknown").await;
    assert_eq!(score_of(&h, DEAD).await, Some((2, "disabled".into())));

    // Disabled: a notice with a re-enable link, and no more copies.
    later_posting_skips_the_disabled(&h).await;
    let received = h.received_by(DEAD);
    let link = received
        .iter()
        .filter_map(|m| m.body_text(0).map(|t| t.to_string()))
        .flat_map(|t| t.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| w.contains("/reenable/"))
        .expect("a re-enable notice with its link");
    let path = link.trim_start_matches(&format!("https://{DOMAIN}"));
    let web = h.daemon.http_addr.expect("http");
    let (status, _, page) = http(web, "GET", path, "").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<form"), "{page}");
    assert_eq!(
        score_of(&h, DEAD).await.map(|s| s.1),
        Some("disabled".into()),
        "GET changes nothing"
    );
    let (status, _, _) = http(web, "POST", path, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        score_of(&h, DEAD).await,
        None,
        "active again with a clean score"
    );

    let (status, _, _) = http(
        web,
        "POST",
        &path.replace("/reenable/open/", "/reenable/open/x"),
        "",
    )
    .await;
    assert_ne!(status, 200, "a forged token does nothing");
    h.daemon.shutdown().await;
}

async fn policy_rejections_do_not_count_and_owners_hear_of_them(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    h.subscribe("open", &[DEAD, ALIVE]).await;
    for _ in 0..3 {
        let verp = post_and_find_verp(&h, DEAD).await;
        bounce(
            &h,
            &verp,
            "5.7.1",
            "550 5.7.1 Message rejected as spam by Content Filtering",
        )
        .await;
    }
    assert_eq!(
        score_of(&h, DEAD).await,
        None,
        "spam rejections never count"
    );
    let notices: Vec<_> = h
        .received_by(OWNER)
        .into_iter()
        .filter(|m| m.body_text(0).is_some_and(|t| t.contains("ngo.example")))
        .collect();
    assert_eq!(
        notices.len(),
        1,
        "one deliverability notice a day per domain"
    );
    let report = h
        .daemon
        .store
        .bounce_report(None, 30)
        .await
        .expect("report");
    assert!(report
        .by_domain
        .iter()
        .any(|(list, domain, class, n, _)| list == "open"
            && domain == "ngo.example"
            && class == "policy"
            && *n == 3));

    // A temporary failure does not count either.
    let verp = post_and_find_verp(&h, DEAD).await;
    h.send("", &verp, &report_delayed(DEAD)).await;
    assert!(h.queue_drained().await);
    assert_eq!(score_of(&h, DEAD).await, None);
    h.daemon.shutdown().await;
}

fn report_delayed(recipient: &str) -> Vec<u8> {
    String::from_utf8(report(recipient, "4.2.2", "452 4.2.2 Mailbox full"))
        .expect("utf-8")
        .replace("Action: failed", "Action: delayed")
        .into_bytes()
}

async fn unanswered_disabled_members_are_removed(db: &TestDb) {
    // No re-enable notice at all: disabled members are removed at the next pass.
    let h = Harness::start_with(db, quick("reenable_notices = 0")).await;
    h.subscribe("open", &[DEAD, ALIVE]).await;
    for _ in 0..2 {
        let verp = post_and_find_verp(&h, DEAD).await;
        bounce(&h, &verp, "5.1.1", "550 5.1.1 User unknown").await;
    }
    // The pass after the disabling removes the member.
    h.write(
        "author@ngo.example",
        &format!("open@{DOMAIN}"),
        "Nudge",
        "Hi\r\n",
    )
    .await;
    assert!(!h.is_subscribed("open", DEAD).await);
    assert!(h.is_subscribed("open", ALIVE).await);
    h.daemon.shutdown().await;
}

/// A relay that refuses a copy outright says what a bounce would say later: an unknown
/// mailbox counts (and disables at the threshold), a spam refusal does not and the owners
/// hear of it.
async fn refusals_by_the_relay_count_like_bounces(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    let spam_trap = "strict@other.example";
    h.subscribe("open", &[DEAD, ALIVE, spam_trap]).await;
    for _ in 0..2 {
        h.sink
            .script(DEAD, [Reply::new(550, "5.1.1", "no such mailbox here")]);
        h.sink.script(
            spam_trap,
            [Reply::new(554, "5.7.1", "message refused as spam")],
        );
        h.post_and_drain("author@ngo.example", "open").await;
    }
    assert_eq!(
        score_of(&h, DEAD).await,
        Some((2, "disabled".into())),
        "two refused RCPTs reach the threshold of 2"
    );
    assert_eq!(
        score_of(&h, spam_trap).await,
        None,
        "spam refusals never count"
    );
    let notices = h
        .received_by(OWNER)
        .into_iter()
        .filter(|m| m.body_text(0).is_some_and(|t| t.contains("other.example")))
        .count();
    assert_eq!(notices, 1, "one deliverability notice for the domain");

    later_posting_skips_the_disabled(&h).await;
    h.daemon.shutdown().await;
}

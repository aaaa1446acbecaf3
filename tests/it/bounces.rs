//! Bounces over loopback SMTP: a report sent to a copy's VERP address is traced back to the
//! member; address failures raise the score up to disabling, policy rejections do not and
//! are reported to the owners; the re-enable link works; unanswered members are removed.
//! Complaints (abuse reports) unsubscribe their member at once, whether they come to the
//! copy's VERP address or are forwarded; DMARC reports and auto-replies change nothing.

use crate::common::{http, Harness, TestDb, DOMAIN};
use tidings::inbound::reply::Reply;

const OWNER: &str = "owner@coalition.test.example";
const DEAD: &str = "gone@ngo.example";
const ALIVE: &str = "reader@ngo.example";

on_both_databases!(
    address_failures_disable_and_the_link_re_enables,
    policy_rejections_do_not_count_and_owners_hear_of_them,
    unanswered_disabled_members_are_removed,
    refusals_by_the_relay_count_like_bounces,
    a_complaint_to_the_verp_address_unsubscribes_at_once,
    forwarded_complaints_find_the_copy_from_its_header,
    dmarc_reports_and_auto_replies_change_nothing,
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

/// Posts to the open list and returns `recipient`'s copy as the sink received it.
async fn post_and_find_copy(h: &Harness, recipient: &str) -> tidings_testkit::sink::Received {
    let before = h.sink.messages().len();
    h.write(
        "author@ngo.example",
        &format!("open@{DOMAIN}"),
        "News",
        "Hello\r\n",
    )
    .await;
    h.sink.messages()[before..]
        .iter()
        .find(|m| m.recipients.iter().any(|r| r == recipient))
        .cloned()
        .unwrap_or_else(|| panic!("no copy for {recipient}"))
}

/// Posts to the open list and returns the VERP envelope sender of `recipient`'s copy.
async fn post_and_find_verp(h: &Harness, recipient: &str) -> String {
    post_and_find_copy(h, recipient).await.mail_from
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
    let report = bounce_report(&h).await;
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

/// A provider's abuse report (RFC 5965) about `original`, with the envelope sender it
/// says the original had, if any.
fn abuse_report(original: &[u8], original_mail_from: Option<&str>) -> Vec<u8> {
    let mail_from = original_mail_from
        .map(|m| format!("Original-Mail-From: <{m}>\r\n"))
        .unwrap_or_default();
    let mut report = format!(
        "From: Feedback Loop <fbl@feedback.ngo.example>\r\nTo: abuse-desk@ngo.example\r\n\
         Subject: Complaint about message from 192.0.2.25\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"f\"\r\n\r\n\
         --f\r\nContent-Type: text/plain\r\n\r\nThe recipient marked this message as spam.\r\n\
         --f\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n\
         User-Agent: NgoFBL/1.0\r\nVersion: 1\r\n{mail_from}Source-IP: 192.0.2.25\r\n\r\n\
         --f\r\nContent-Type: message/rfc822\r\n\r\n"
    )
    .into_bytes();
    report.extend_from_slice(original);
    report.extend_from_slice(b"\r\n--f--\r\n");
    report
}

/// How many messages `address` received.
fn mail_to(h: &Harness, address: &str) -> usize {
    h.received_by(address).len()
}

/// `tidings bounces` over the last 30 days, for every list.
async fn bounce_report(h: &Harness) -> tidings::store::BounceReport {
    h.daemon
        .store
        .bounce_report(None, 30)
        .await
        .expect("report")
}

async fn complaints(h: &Harness) -> Vec<(String, i64)> {
    bounce_report(h).await.complaints
}

async fn a_complaint_to_the_verp_address_unsubscribes_at_once(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    h.subscribe("open", &[DEAD, ALIVE]).await;
    let copy = post_and_find_copy(&h, DEAD).await;
    let received = mail_to(&h, DEAD);
    h.send(
        "fbl@feedback.ngo.example",
        &copy.mail_from,
        &abuse_report(&copy.data, Some(&copy.mail_from)),
    )
    .await;
    assert!(h.queue_drained().await);
    assert!(!h.is_subscribed("open", DEAD).await, "unsubscribed at once");
    assert!(h.is_subscribed("open", ALIVE).await);
    assert_eq!(complaints(&h).await, [("open".to_string(), 1)]);
    assert_eq!(mail_to(&h, DEAD), received, "a complainer gets no goodbye");
    later_posting_skips_the_disabled(&h).await;
    h.daemon.shutdown().await;
}

/// A complaint forwarded to `LIST-bounces@` carries no token in its address: the copy is
/// found from the original's List-Unsubscribe token, or from its VERP Return-Path.
async fn forwarded_complaints_find_the_copy_from_its_header(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    let third = "third@ngo.example";
    h.subscribe("open", &[DEAD, ALIVE, third]).await;
    let bounces = format!("open-bounces@{DOMAIN}");

    // The copy as the member's provider returns it: List-Unsubscribe names the member.
    let copy = post_and_find_copy(&h, DEAD).await;
    h.send(
        "fbl@feedback.ngo.example",
        &bounces,
        &abuse_report(&copy.data, None),
    )
    .await;
    assert!(h.queue_drained().await);
    assert!(!h.is_subscribed("open", DEAD).await);

    // A copy stripped of its List-Unsubscribe: the Return-Path its provider added names it.
    let copy = post_and_find_copy(&h, third).await;
    let text = String::from_utf8(copy.data.clone()).expect("utf-8");
    let mut lines: Vec<&str> = text.split("\r\n").collect();
    while let Some(at) = lines.iter().position(|l| l.starts_with("List-Unsubscribe")) {
        lines.remove(at);
        while lines.get(at).is_some_and(|l| l.starts_with(' ')) {
            lines.remove(at);
        }
    }
    let original = format!(
        "Return-Path: <{}>\r\n{}",
        copy.mail_from,
        lines.join("\r\n")
    );
    h.send(
        "fbl@feedback.ngo.example",
        &bounces,
        &abuse_report(original.as_bytes(), None),
    )
    .await;
    assert!(h.queue_drained().await);
    assert!(!h.is_subscribed("open", third).await);
    assert!(h.is_subscribed("open", ALIVE).await);
    assert_eq!(complaints(&h).await, [("open".to_string(), 2)]);
    h.daemon.shutdown().await;
}

/// Neither a DMARC aggregate report nor an out-of-office reply to a copy's bounce address
/// is a bounce or a complaint: sent as often as two bounces would disable the member, they
/// change nothing.
async fn dmarc_reports_and_auto_replies_change_nothing(db: &TestDb) {
    let h = Harness::start_with(db, quick("")).await;
    h.subscribe("open", &[DEAD, ALIVE]).await;
    let dmarc = format!(
        "From: noreply-dmarc-support@google.com\r\nTo: dmarc@{DOMAIN}\r\n\
         Subject: Report domain: {DOMAIN} Submitter: google.com Report-ID: 1234567890\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"d\"\r\n\r\n\
         --d\r\nContent-Type: text/plain\r\n\r\nAggregate report: some messages failed.\r\n\
         --d\r\nContent-Type: application/zip; name=\"google.com!{DOMAIN}!1795824000!1795910399.zip\"\r\n\
         Content-Disposition: attachment; filename=\"google.com!{DOMAIN}!1795824000!1795910399.zip\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAA==\r\n--d--\r\n"
    );
    let away = format!(
        "From: <{DEAD}>\r\nTo: open@{DOMAIN}\r\nSubject: Automatic reply: News\r\n\
         Auto-Submitted: auto-replied\r\n\r\nI am away until Monday; your message failed to \
         reach me in time and will not be forwarded.\r\n"
    );
    for _ in 0..2 {
        let verp = post_and_find_verp(&h, DEAD).await;
        h.send("noreply-dmarc-support@google.com", &verp, dmarc.as_bytes())
            .await;
        h.send("", &verp, away.as_bytes()).await;
        assert!(h.queue_drained().await);
    }
    assert!(h.is_subscribed("open", DEAD).await);
    assert_eq!(score_of(&h, DEAD).await, None, "nothing counted");
    assert!(complaints(&h).await.is_empty());
    let report = bounce_report(&h).await;
    assert!(report.by_domain.is_empty(), "{:?}", report.by_domain);
    h.daemon.shutdown().await;
}

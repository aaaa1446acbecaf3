//! Confidential lists and DMARC-safe relaying, against a loopback DNS server that serves the
//! keys and policies each test publishes: authenticated members' postings go through with
//! the confidentiality notice, forged or copied-outside ones are held, and From is rewritten
//! exactly for domains whose DMARC policy would have the copies rejected.

use crate::common::{dkim_sign, Harness, TestDb, DOMAIN};
use mail_parser::Message;

const ANA: &str = "ana@ngo-a.example";
const BRUNO: &str = "bruno@ngo-b.example";
const OWNER: &str = "chair@coalition.test.example";

on_both_databases!(
    unauthenticated_member_posting_is_held_and_dkim_signed_one_goes_through,
    posting_copied_to_outsiders_is_held,
    front_mta_results_count_only_from_the_trusted_authserv_id,
    from_is_rewritten_for_enforcing_dmarc_domains_only,
    without_dns_the_default_applies_and_the_failure_is_remembered,
    no_command_discloses_the_roster,
);

fn team() -> String {
    format!("team@{DOMAIN}")
}

fn posting(from: &str, cc: &str, subject: &str) -> Vec<u8> {
    let cc = if cc.is_empty() {
        String::new()
    } else {
        format!("Cc: {cc}\r\n")
    };
    format!(
        "From: Ana Lima <{from}>\r\nTo: {}\r\n{cc}Subject: {subject}\r\n\
         Message-ID: <{}@ngo-a.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n\
         Dear team,\r\nthe draft is attached.\r\n",
        team(),
        crate::common::rand_suffix()
    )
    .into_bytes()
}

fn text(message: &Message) -> String {
    message.body_text(0).unwrap_or_default().into_owned()
}

async fn unauthenticated_member_posting_is_held_and_dkim_signed_one_goes_through(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;

    // Ana's address in From, but nothing from her domain vouches for it: held, the
    // owners (the list has no moderators) told why.
    h.send(ANA, &team(), &posting(ANA, "", "Forged?")).await;
    assert!(h.queue_drained().await);
    assert!(h.received_by(BRUNO).is_empty(), "held, not delivered");
    assert_eq!(h.held_reasons().await, ["unauthenticated"]);
    let notices = h.received_by(OWNER);
    assert_eq!(notices.len(), 1);
    assert!(
        text(&notices[0]).contains("Nothing proves"),
        "{}",
        text(&notices[0])
    );

    // The same posting signed by her domain's key goes through.
    let signed = dkim_sign(&h, "ngo-a.example", &posting(ANA, "", "Signed"));
    h.send(ANA, &team(), &signed).await;
    assert!(h.queue_drained().await);
    let copies = h.received_by(BRUNO);
    assert_eq!(copies.len(), 1, "the signed posting is delivered");
    let copy = &copies[0];
    let body = text(copy).replace("\r\n", " ").replace('\n', " ");
    assert!(
        body.contains("CONFIDENTIAL: this message was sent to the members of Gender Team only"),
        "{body}"
    );
    assert!(copy.header("List-Archive").is_none());
    assert!(copy.header("List-Id").is_some());

    // A signature by some other domain proves nothing about Ana.
    let other = dkim_sign(&h, "evil.example", &posting(ANA, "", "Other key"));
    h.send(ANA, &team(), &other).await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1);
    assert_eq!(h.held_reasons().await.len(), 2);
    h.daemon.shutdown().await;
}

async fn posting_copied_to_outsiders_is_held(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    h.dns.txt("ngo-a.example", "v=spf1 ip4:127.0.0.1 -all");

    // SPF authenticates Ana; a Cc to another member (and to the list itself) is fine.
    h.send(
        ANA,
        &team(),
        &posting(ANA, &format!("{BRUNO}, {}", team()), "Among us"),
    )
    .await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1);

    let cc = format!("{BRUNO}, journalist@press.example");
    h.send(ANA, &team(), &posting(ANA, &cc, "Leak")).await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1, "held, not delivered");
    assert_eq!(h.held_reasons().await, ["outside_recipients"]);
    let notices = h.received_by(OWNER);
    assert_eq!(notices.len(), 1);
    assert!(text(&notices[0]).contains("would reach people outside the list"));
    h.daemon.shutdown().await;
}

async fn front_mta_results_count_only_from_the_trusted_authserv_id(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    let vouched = |authserv_id: &str| {
        let mut raw = format!(
            "Authentication-Results: {authserv_id}; dkim=pass header.d=ngo-a.example; \
             dmarc=pass header.from=ngo-a.example\r\n"
        )
        .into_bytes();
        raw.extend_from_slice(&posting(ANA, "", "Via the front MTA"));
        raw
    };
    // Over LMTP from the front MTA, whose authserv-id the configuration trusts.
    let mut lmtp = h.lmtp().await;
    let replies = lmtp.envelope("LHLO", ANA, &[&team()]).await;
    assert!(replies.iter().all(|r| r.starts_with("250")), "{replies:?}");
    let replies = lmtp.data(&vouched(&format!("mx.{DOMAIN}")), 1).await;
    assert!(replies[0].starts_with("250"), "{replies:?}");
    assert!(h.queue_drained().await);
    let copies = h.received_by(BRUNO);
    assert_eq!(copies.len(), 1);
    assert!(
        copies[0].header("Authentication-Results").is_some(),
        "the trusted one stays"
    );

    // The same claim under any other authserv-id is the sender's own: held.
    h.send(ANA, &team(), &vouched("mx.ngo-a.example")).await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1);
    assert_eq!(h.held_reasons().await, ["unauthenticated"]);
    h.daemon.shutdown().await;
}

async fn from_is_rewritten_for_enforcing_dmarc_domains_only(db: &TestDb) {
    let h = Harness::start(db).await;
    let reader = "reader@ngo.example";
    h.subscribe("open", &[reader]).await;
    h.dns.txt(
        "_dmarc.strict.example",
        "v=DMARC1; p=reject; rua=mailto:d@strict.example",
    );
    h.dns.txt("_dmarc.relaxed.example", "v=DMARC1; p=none");
    let open = format!("open@{DOMAIN}");
    let write = |from: &str, subject: &str| {
        format!("From: Sam Author <{from}>\r\nTo: {open}\r\nSubject: {subject}\r\n\r\nHello\r\n")
            .into_bytes()
    };

    h.send(
        "sam@strict.example",
        &open,
        &write("sam@strict.example", "Strict"),
    )
    .await;
    assert!(h.queue_drained().await);
    h.send(
        "sam@relaxed.example",
        &open,
        &write("sam@relaxed.example", "Relaxed"),
    )
    .await;
    assert!(h.queue_drained().await);
    // A second posting from the strict domain: its policy is cached (TTL 300 s).
    h.send(
        "kim@strict.example",
        &open,
        &write("kim@strict.example", "Again"),
    )
    .await;
    assert!(h.queue_drained().await);

    let copies = h.received_by(reader);
    assert_eq!(copies.len(), 3);
    let by_subject = |subject: &str| {
        copies
            .iter()
            .find(|c| c.subject() == Some(subject))
            .unwrap_or_else(|| panic!("no copy of {subject}"))
    };
    let strict = by_subject("Strict");
    let from = strict.from().and_then(|f| f.first()).expect("From");
    assert_eq!(from.address(), Some(open.as_str()));
    assert_eq!(from.name(), Some("Sam Author via Open Forum"));
    let reply_to = strict.reply_to().and_then(|r| r.first()).expect("Reply-To");
    assert_eq!(reply_to.address(), Some("sam@strict.example"));

    let relaxed = by_subject("Relaxed");
    let from = relaxed.from().and_then(|f| f.first()).expect("From");
    assert_eq!(from.address(), Some("sam@relaxed.example"));
    assert!(relaxed.reply_to().is_none());
    assert_eq!(h.dns.questions_about("_dmarc.strict.example"), 1);
    h.daemon.shutdown().await;
}

async fn without_dns_the_default_applies_and_the_failure_is_remembered(db: &TestDb) {
    let silent = crate::common::dns::DnsServer::silent().await;
    let address = silent.addr.to_string();
    let h = Harness::start_with(db, |toml| {
        let servers = toml
            .lines()
            .find(|l| l.starts_with("servers = "))
            .expect("dns servers line")
            .to_string();
        toml.replace(&servers, &format!("servers = [\"{address}\"]"))
            .replace("timeout_ms = 1000", "timeout_ms = 300")
    })
    .await;
    let reader = "reader@ngo.example";
    h.subscribe("open", &[reader]).await;
    let open = format!("open@{DOMAIN}");
    for subject in ["First", "Second"] {
        let raw =
            format!("From: sam@offline.example\r\nTo: {open}\r\nSubject: {subject}\r\n\r\nHi\r\n");
        h.send("sam@offline.example", &open, raw.as_bytes()).await;
        assert!(
            h.queue_drained().await,
            "a posting never waits on DNS for long"
        );
    }
    let copies = h.received_by(reader);
    assert_eq!(copies.len(), 2);
    for copy in &copies {
        // The shipped default when the policy is unknown: send under the list's address.
        let from = copy.from().and_then(|f| f.first()).expect("From");
        assert_eq!(from.address(), Some(open.as_str()));
    }
    let asked = silent.questions_about("_dmarc.offline.example");
    assert!(asked >= 1, "the resolver asked");
    // The second posting did not ask again: the failure is remembered.
    let again = format!("From: kim@offline.example\r\nTo: {open}\r\nSubject: Third\r\n\r\nHi\r\n");
    h.send("kim@offline.example", &open, again.as_bytes()).await;
    assert!(h.queue_drained().await);
    assert_eq!(silent.questions_about("_dmarc.offline.example"), asked);
    h.daemon.shutdown().await;
}

async fn no_command_discloses_the_roster(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    // Mailman's and Majordomo's roster commands, from a member and from an outsider.
    let commands = "who\r\nreview\r\nwho team\r\nlist\r\nmembers\r\nhelp\r\n";
    let request = format!("team-request@{DOMAIN}");
    for asker in [ANA, "outsider@press.example"] {
        h.write(asker, &request, "who", commands).await;
        let replies = h.received_by(asker);
        assert!(!replies.is_empty(), "{asker} gets an answer");
        for reply in replies {
            let text = format!(
                "{}{}",
                reply.body_text(0).unwrap_or_default(),
                reply.body_html(0).unwrap_or_default()
            );
            assert!(!text.contains(BRUNO), "roster disclosed to {asker}: {text}");
        }
    }
    h.daemon.shutdown().await;
}

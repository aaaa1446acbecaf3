//! A posting relayed end to end: real SMTP and LMTP over loopback into the daemon, a real
//! database, and a real SMTP sink standing in for the outgoing relay.

use std::time::Duration;

use crate::common::{message, Harness, TestDb, DOMAIN, SECRET};
use mail_parser::MessageParser;
use tidings::config::{RelayConfig, TlsMode};
use tidings::delivery::relay::{RelayClient, SendResult, NO_8BITMIME, NO_SMTPUTF8};
use tidings::inbound::{Extensions, Reply};
use tidings::links::Destination;
use tidings::tokens::{Purpose, Signer};
use tidings_testkit::sink::Sink;

const SECRETARIAT: &str = "secretariat@coalition.test.example";

on_both_databases!(
    posting_reaches_every_subscriber_with_list_headers,
    announce_list_refuses_other_posters_during_the_transaction,
    members_only_list_refuses_non_members_and_queues_nothing,
    unknown_recipients_and_relaying_are_refused,
    hostile_input_is_refused_and_the_daemon_keeps_serving,
    lmtp_answers_each_recipient,
    a_message_that_already_went_through_the_list_is_dropped,
    temporary_failure_is_retried_then_delivered,
    deliveries_past_their_lifetime_fail_and_the_owners_hear_once,
    permanent_failure_is_recorded_with_the_reply,
    mail_to_the_owner_address_reaches_the_owners,
    too_many_recipients_are_sent_at_once_in_further_transactions,
    a_destination_answering_4xx_is_slowed_down_while_others_keep_going,
    a_relay_slower_than_the_data_timeout_defers_the_delivery,
    internationalised_mail_goes_with_smtputf8_to_a_relay_offering_it,
    internationalised_mail_fails_clearly_at_a_relay_without_smtputf8,
    eight_bit_text_is_announced_only_to_a_relay_offering_8bitmime,
);

/// The `Received:` fields of a message's header, unfolded, top first.
fn trace_fields(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let header = text.split("\r\n\r\n").next().unwrap_or_default();
    header
        .replace("\r\n\t", " ")
        .replace("\r\n ", " ")
        .split("\r\n")
        .filter(|line| line.to_ascii_lowercase().starts_with("received:"))
        .map(str::to_owned)
        .collect()
}

/// Our one trace field, with the protocol it names: `by` this host, an id and a date, and
/// nothing about the client (no `from`, no address, no HELO name).
fn assert_private_trace(data: &[u8], protocol: &str) {
    let trace = trace_fields(data);
    assert_eq!(trace.len(), 1, "{trace:?}");
    let prefix = format!("Received: by {DOMAIN} with {protocol} id ");
    let rest = trace[0].strip_prefix(&prefix);
    let (id, date) = rest
        .and_then(|rest| rest.split_once("; "))
        .unwrap_or_else(|| panic!("{:?}", trace[0]));
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert!(chrono::DateTime::parse_from_rfc2822(date).is_ok(), "{date}");
    for revealing in ["from", "127.0.0.1", "client.test.example"] {
        assert!(
            !trace[0].contains(revealing),
            "{revealing} in {:?}",
            trace[0]
        );
    }
}

/// A posting with UTF-8 in its From (the address too) and Subject, and in its body.
fn internationalised(to: &str) -> Vec<u8> {
    format!(
        "From: José Saramago <josé@ngo-a.example>\r\nTo: {to}\r\nSubject: Café com a equipa\r\n\
         Message-ID: <{}@ngo-a.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nOlá a todos.\r\n",
        crate::common::rand_suffix()
    )
    .into_bytes()
}

/// ASCII header fields, 8-bit text in the body.
fn eight_bit_body(to: &str) -> Vec<u8> {
    format!(
        "From: Ana <ana@ngo-a.example>\r\nTo: {to}\r\nSubject: Agenda\r\n\
         Message-ID: <{}@ngo-a.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nVemo-nos às 10h.\r\n",
        crate::common::rand_suffix()
    )
    .into_bytes()
}

/// Posts [`internationalised`] mail from José, who says SMTPUTF8 and `extra` parameters.
async fn post_internationalised(h: &Harness, extra: &str) {
    let message = internationalised(&format!("open@{DOMAIN}"));
    let parameters = format!("SMTPUTF8 {extra}");
    post_with(h, "josé@ngo-a.example", &parameters, &message).await;
}

/// Posts ASCII mail from Ana: 8-bit text in its body when `eight_bit`.
async fn post_from_ana(h: &Harness, eight_bit: bool) {
    let to = format!("open@{DOMAIN}");
    let (parameters, message) = if eight_bit {
        ("BODY=8BITMIME", eight_bit_body(&to))
    } else {
        ("", message("ana@ngo-a.example", &to, "Plain", "Hi\r\n"))
    };
    post_with(h, "ana@ngo-a.example", parameters, &message).await;
}

/// Sends `message` to the open list with `MAIL FROM:<from> PARAMETERS`, asserting 250.
async fn post_with(h: &Harness, from: &str, parameters: &str, message: &[u8]) {
    let mut client = h.smtp().await;
    let ehlo = client.command("EHLO client.test.example").await;
    assert!(ehlo.starts_with("250"), "{ehlo}");
    let mail = format!("MAIL FROM:<{from}> {parameters}");
    let mail = client.command(mail.trim_end()).await;
    assert!(mail.starts_with("250"), "{mail}");
    let rcpt = client.command(&format!("RCPT TO:<open@{DOMAIN}>")).await;
    assert!(rcpt.starts_with("250"), "{rcpt}");
    let reply = client.data(message, 1).await.remove(0);
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await, "the queue did not drain");
}

const ZOE: &str = "zoë@ngo-b.example";
const READER: &str = "reader@ngo.example";

async fn internationalised_mail_goes_with_smtputf8_to_a_relay_offering_it(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &[ZOE, READER]).await;
    let mut client = h.smtp().await;
    let ehlo = client.command("EHLO client.test.example").await;
    for keyword in ["250-PIPELINING", "250-8BITMIME", "250-SMTPUTF8"] {
        assert!(ehlo.contains(keyword), "{ehlo}");
    }
    // A UTF-8 address in a transaction that did not say SMTPUTF8 (RFC 6531 3.5).
    let refused = client.command("MAIL FROM:<josé@ngo-a.example>").await;
    assert!(refused.starts_with("553 5.6.7"), "{refused}");
    client.command("QUIT").await;
    post_internationalised(&h, "BODY=8BITMIME").await;
    let received = h.sink.messages();
    let mut recipients: Vec<&str> = received
        .iter()
        .flat_map(|m| m.recipients.iter().map(String::as_str))
        .collect();
    recipients.sort_unstable();
    assert_eq!(recipients, [READER, ZOE]);
    for copy in &received {
        assert!(copy.smtputf8 && copy.eight_bit_mime, "{copy:?}");
        let text = String::from_utf8_lossy(&copy.data);
        assert!(
            text.contains("\r\nSubject: Café com a equipa\r\n"),
            "{text}"
        );
        assert_private_trace(&copy.data, "UTF8SMTP");
    }
    // The same relay gets plain mail without either parameter, to Zoë too: her address
    // alone asks for SMTPUTF8.
    post_from_ana(&h, false).await;
    let plain: Vec<_> = h.sink.messages().into_iter().skip(received.len()).collect();
    assert_eq!(plain.len(), 2);
    for copy in &plain {
        let to_zoe = copy.recipients == [ZOE];
        assert_eq!(
            (copy.smtputf8, copy.eight_bit_mime),
            (to_zoe, false),
            "{copy:?}"
        );
    }
    h.daemon.shutdown().await;
}

async fn internationalised_mail_fails_clearly_at_a_relay_without_smtputf8(db: &TestDb) {
    let offered = Extensions {
        smtputf8: false,
        ..Extensions::ALL
    };
    let h = Harness::start_with_relay_offering(db, offered, |toml| toml).await;
    h.subscribe("open", &[ZOE, READER]).await;
    post_internationalised(&h, "").await;
    assert!(h.sink.messages().is_empty(), "nothing went out unannounced");
    for member in [ZOE, READER] {
        let (state, _, reply) = h.delivery("open", member).await;
        assert_eq!((state.as_str(), reply.as_str()), ("failed", NO_SMTPUTF8));
        // Our refusal to send is not the member's bounce.
        assert!(h.is_subscribed("open", member).await, "{member}");
    }
    // ASCII header fields, 8-bit text: BODY=8BITMIME to the reader; Zoë's address alone
    // would need SMTPUTF8.
    post_from_ana(&h, true).await;
    let received = h.sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].recipients, [READER]);
    assert!(received[0].eight_bit_mime && !received[0].smtputf8);
    let (state, _, reply) = h.delivery("open", ZOE).await;
    assert_eq!((state.as_str(), reply.as_str()), ("failed", NO_SMTPUTF8));
    h.daemon.shutdown().await;
}

async fn eight_bit_text_is_announced_only_to_a_relay_offering_8bitmime(db: &TestDb) {
    let offered = Extensions {
        pipelining: true,
        eight_bit_mime: false,
        smtputf8: false,
    };
    let h = Harness::start_with_relay_offering(db, offered, |toml| toml).await;
    h.subscribe("open", &[READER]).await;
    // The sink refuses BODY=8BITMIME, which it did not offer: plain mail goes without it.
    post_from_ana(&h, false).await;
    let received = h.sink.messages();
    assert_eq!(received.len(), 1);
    assert!(!received[0].eight_bit_mime && !received[0].smtputf8);
    assert_eq!(h.delivery("open", READER).await.0, "sent");
    // 8-bit text is not sent unannounced, nor converted: it fails, saying why.
    post_from_ana(&h, true).await;
    assert_eq!(h.sink.messages().len(), 1);
    let (state, _, reply) = h.delivery("open", READER).await;
    assert_eq!((state.as_str(), reply.as_str()), ("failed", NO_8BITMIME));
    assert!(h.is_subscribed("open", READER).await);
    h.daemon.shutdown().await;
}

async fn posting_reaches_every_subscriber_with_list_headers(db: &TestDb) {
    let h = Harness::start(db).await;
    let members = [
        "ana@ngo-a.example",
        "bruno@ngo-b.example",
        "chen@ngo-c.example",
    ];
    h.subscribe("team", &members).await;
    // The team list is confidential: the author's domain authorises this machine (SPF).
    h.dns.txt("ngo-a.example", "v=spf1 ip4:127.0.0.1 -all");
    let body = "Dear team,\r\n.leading dot survives\r\nSee you.\r\n";
    let posting = message(
        "ana@ngo-a.example",
        "team@lists.test.example",
        "Agenda",
        body,
    );
    let reply = h
        .smtp()
        .await
        .post("ana@ngo-a.example", &format!("team@{DOMAIN}"), &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(
        h.queue_drained().await,
        "queue did not drain on {}",
        db.kind
    );

    let received = h.sink.messages();
    let mut recipients: Vec<_> = received.iter().flat_map(|m| m.recipients.clone()).collect();
    recipients.sort();
    assert_eq!(recipients, members, "each subscriber exactly once");

    let signer = Signer::new(SECRET);
    let config = h.config();
    for copy in &received {
        let parsed = MessageParser::default().parse(&copy.data).expect("parses");
        let header = |name: &str| {
            parsed
                .header_raw(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .trim()
                .to_string()
        };
        assert_eq!(header("List-Id"), format!("Gender Team <team.{DOMAIN}>"));
        assert_eq!(header("List-Post"), format!("<mailto:team@{DOMAIN}>"));
        assert!(header("List-Help").contains(&format!("mailto:team-request@{DOMAIN}")));
        assert!(header("List-Subscribe").contains(&format!("mailto:team-join@{DOMAIN}")));
        assert_eq!(
            header("List-Owner"),
            format!("<mailto:team-owner@{DOMAIN}>")
        );
        assert_eq!(header("Precedence"), "list");
        // The list is confidential: our trace field says nothing of the poster's machine.
        assert_private_trace(&copy.data, "ESMTP");
        assert_eq!(
            header("List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
        let unsubscribe = header("List-Unsubscribe");
        assert!(unsubscribe.contains("<mailto:team-leave+"), "{unsubscribe}");
        assert!(
            unsubscribe.contains(&format!("<https://{DOMAIN}/unsubscribe/team/")),
            "{unsubscribe}"
        );
        assert_eq!(parsed.subject(), Some("[Team] Agenda"));
        let text = parsed.body_text(0).expect("text body");
        assert!(text.contains(".leading dot survives"), "{text}");
        assert!(
            text.contains("Confidential: for team members only."),
            "footer in {text}"
        );

        // The envelope sender is a VERP address that routes back to this very delivery.
        match config.links(&signer).route(&copy.mail_from, &config) {
            Ok(Destination::Bounces {
                list,
                delivery_id: Some(delivery_id),
            }) => {
                assert_eq!(list, "team");
                assert!(delivery_id > 0);
            }
            other => panic!("{} is not a valid VERP sender: {other:?}", copy.mail_from),
        }
        // The unsubscribe token names the recipient's own membership.
        let token = unsubscribe
            .split("/unsubscribe/team/")
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .expect("token in URL");
        assert!(signer.verify(Purpose::Unsubscribe, "team", token).is_some());
    }
    h.daemon.shutdown().await;
}

async fn announce_list_refuses_other_posters_during_the_transaction(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("news", &["reader@ngo.example"]).await;
    let to = format!("news@{DOMAIN}");
    let intruder = message("someone@ngo.example", &to, "Hello", "Hi\r\n");
    let reply = h
        .smtp()
        .await
        .post("someone@ngo.example", &to, &intruder)
        .await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    assert!(reply.contains("announcement list"), "{reply}");

    // The Secretariat's bulletin, its From proven by the front MTA.
    let bulletin = message(SECRETARIAT, &to, "Bulletin", "News of the week\r\n");
    h.send_proven(SECRETARIAT, &to, &bulletin).await;
    assert!(h.queue_drained().await);
    let received = h.sink.messages();
    assert_eq!(received.len(), 1);
    let parsed = MessageParser::default()
        .parse(&received[0].data)
        .expect("parses");
    assert_eq!(parsed.header_raw("List-Post").map(str::trim), Some("NO"));
    // No prefix, no footer: the body goes through byte for byte.
    let tail = &received[0].data[received[0].data.len().saturating_sub(40)..];
    assert!(
        received[0].data.ends_with(b"\r\n\r\nNews of the week\r\n"),
        "{:?}",
        String::from_utf8_lossy(tail)
    );
    h.daemon.shutdown().await;
}

/// A public members-only list refuses outsiders during the transaction (a confidential
/// list may not: see hostile::roster).
async fn members_only_list_refuses_non_members_and_queues_nothing(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("nouvelles", &["ana@ngo-a.example"]).await;
    let to = format!("nouvelles@{DOMAIN}");
    let outsider = message("mallory@elsewhere.example", &to, "Hi", "Let me in\r\n");
    let reply = h
        .smtp()
        .await
        .post("mallory@elsewhere.example", &to, &outsider)
        .await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    assert!(reply.contains("only members"), "{reply}");
    assert!(h.nothing_stored().await, "something was stored");
    assert!(h
        .daemon
        .store
        .queue_counts()
        .await
        .expect("queue")
        .is_empty());
    h.daemon.shutdown().await;
}

async fn unknown_recipients_and_relaying_are_refused(db: &TestDb) {
    let h = Harness::start(db).await;
    let mut client = h.smtp().await;
    let replies = client
        .envelope(
            "EHLO",
            "someone@ngo.example",
            &[
                &format!("nosuchlist@{DOMAIN}"),
                "victim@gmail.example",
                &format!("team+x@{DOMAIN}"),
                &format!("team-bounces+forged@{DOMAIN}"),
            ],
        )
        .await;
    assert!(replies[0].starts_with("550 5.1.1"), "{}", replies[0]);
    assert!(replies[1].starts_with("550 5.7.1"), "{}", replies[1]);
    assert!(replies[1].contains("relay access denied"), "{}", replies[1]);
    assert!(replies[2].starts_with("550"), "{}", replies[2]);
    assert!(replies[3].starts_with("550"), "{}", replies[3]);
    let data = client.command("DATA").await;
    assert!(data.starts_with("554"), "DATA without recipients: {data}");
    // Command addresses are ours; their signed forms refuse tokens that are not genuine.
    let mut client = h.smtp().await;
    let replies = client
        .envelope(
            "EHLO",
            "someone@ngo.example",
            &[
                &format!("team-request@{DOMAIN}"),
                &format!("team-confirm+aaaaaaaaaaaaaaaaaaaa@{DOMAIN}"),
                &format!("team-leave+aaaaaaaaaaaaaaaaaaaa@{DOMAIN}"),
            ],
        )
        .await;
    assert!(replies[0].starts_with("250"), "{}", replies[0]);
    assert!(replies[1].starts_with("550 5.1.1"), "{}", replies[1]);
    assert!(replies[2].starts_with("550 5.1.1"), "{}", replies[2]);
    // EXPN never discloses a roster.
    assert!(client
        .command(&format!("EXPN team@{DOMAIN}"))
        .await
        .starts_with("502"));
    h.daemon.shutdown().await;
}

async fn hostile_input_is_refused_and_the_daemon_keeps_serving(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["reader@ngo.example"]).await;
    let to = format!("open@{DOMAIN}");
    let from = "poster@ngo.example";

    let no_from = b"To: open@lists.test.example\r\nSubject: x\r\n\r\nbody\r\n".to_vec();
    let reply = h.smtp().await.post(from, &to, &no_from).await;
    assert!(
        reply.starts_with("554 5.6.0") && reply.contains("no From"),
        "{reply}"
    );

    let mut garbage =
        b"From: a@ngo.example\r\nSubject: \xff\xfe\xc3\x28 bad\r\n\r\nbody\r\n".to_vec();
    let reply = h.smtp().await.post(from, &to, &garbage).await;
    assert!(
        reply.starts_with("554 5.6.0") && reply.contains("not UTF-8"),
        "{reply}"
    );

    garbage = message(from, &to, "nul", "a\0b\r\n");
    let reply = h.smtp().await.post(from, &to, &garbage).await;
    assert!(
        reply.starts_with("554 5.6.0") && reply.contains("NUL"),
        "{reply}"
    );

    let long_header = format!(
        "From: {from}\r\nX-Long: {}\r\n\r\nbody\r\n",
        "a".repeat(1 << 20)
    );
    let reply = h.smtp().await.post(from, &to, long_header.as_bytes()).await;
    assert!(
        reply.starts_with("552") || reply.starts_with("554"),
        "{reply}"
    );

    let line = "x".repeat(900);
    let oversize = message(from, &to, "big", &format!("{line}\r\n").repeat(300));
    let reply = h.smtp().await.post(from, &to, &oversize).await;
    assert!(reply.starts_with("552 5.3.4"), "{reply}");

    let mut client = h.smtp().await;
    assert!(client.command("EHLO c").await.contains("SIZE 200000"));
    let declared = client
        .command(&format!("MAIL FROM:<{from}> SIZE=999999999"))
        .await;
    assert!(declared.starts_with("552"), "{declared}");
    let long_command = client
        .command(&format!("NOOP {}", "y".repeat(10_000)))
        .await;
    assert!(long_command.starts_with("500"), "{long_command}");
    assert!(client.command("BOGUS").await.starts_with("500"));

    // Nothing hostile was stored, and a proper posting still goes through.
    assert!(h.nothing_stored().await);
    let good = message(from, &to, "fine", "all good\r\n");
    let reply = h.smtp().await.post(from, &to, &good).await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
    assert_eq!(h.sink.count(), 1);
    h.daemon.shutdown().await;
}

async fn lmtp_answers_each_recipient(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("nouvelles", &["ana@ngo-a.example"]).await;
    h.subscribe("open", &["reader@ngo.example"]).await;
    let mut client = h.lmtp().await;
    assert!(client.greeting.contains("LMTP"));
    assert!(
        client.command("EHLO x").await.starts_with("500"),
        "EHLO is not LMTP"
    );
    let from = "outsider@elsewhere.example";
    let rcpts = client
        .envelope(
            "LHLO",
            from,
            &[&format!("open@{DOMAIN}"), &format!("nouvelles@{DOMAIN}")],
        )
        .await;
    assert!(rcpts.iter().all(|r| r.starts_with("250")), "{rcpts:?}");
    let replies = client
        .data(
            &message(from, &format!("open@{DOMAIN}"), "Hi", "both?\r\n"),
            2,
        )
        .await;
    assert!(
        replies[0].starts_with("250"),
        "open list takes it: {replies:?}"
    );
    assert!(
        replies[1].starts_with("550 5.7.1"),
        "nouvelles refuses: {replies:?}"
    );
    assert!(h.queue_drained().await);
    let received = h.sink.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].recipients, ["reader@ngo.example"]);
    assert_private_trace(&received[0].data, "LMTP");
    h.daemon.shutdown().await;
}

async fn a_message_that_already_went_through_the_list_is_dropped(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["reader@ngo.example"]).await;
    let to = format!("open@{DOMAIN}");
    let mut looped = format!("List-Id: Open Forum <open.{DOMAIN}>\r\n").into_bytes();
    looped.extend(message("reader@ngo.example", &to, "Re: x", "echo\r\n"));
    let reply = h
        .smtp()
        .await
        .post("reader@ngo.example", &to, &looped)
        .await;
    assert!(
        reply.starts_with("250"),
        "a loop is dropped quietly: {reply}"
    );
    let mut x_loop = format!("X-Loop: open@{DOMAIN}\r\n").into_bytes();
    x_loop.extend(message("reader@ngo.example", &to, "Re: y", "echo\r\n"));
    let reply = h
        .smtp()
        .await
        .post("reader@ngo.example", &to, &x_loop)
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.nothing_stored().await);
    assert_eq!(h.sink.count(), 0);
    h.daemon.shutdown().await;
}

async fn temporary_failure_is_retried_then_delivered(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["slow@ngo.example", "fast@ngo.example"])
        .await;
    let busy = Reply::new(451, "4.3.0", "mailbox busy, try later");
    h.sink.script("slow@ngo.example", [busy]);
    h.post_and_drain("p@ngo.example", "open").await;
    let (state, attempts, _) = h.delivery("open", "slow@ngo.example").await;
    assert_eq!((state.as_str(), attempts), ("sent", 2));
    let mut recipients = h.received_recipients();
    recipients.sort();
    assert_eq!(recipients, ["fast@ngo.example", "slow@ngo.example"]);
    h.daemon.shutdown().await;
}

async fn deliveries_past_their_lifetime_fail_and_the_owners_hear_once(db: &TestDb) {
    // Retries after 1 s then 2 s: the second retry would come after the 2 s lifetime.
    let h = Harness::start_with(db, |toml| {
        toml.replace("lifetime_seconds = 3600", "lifetime_seconds = 2")
    })
    .await;
    // Domains of their own, so that pacing one does not postpone the others.
    let stuck = ["stuck@ngo-a.example", "stuck@ngo-b.example"];
    h.subscribe("open", &[stuck[0], stuck[1], "fine@ngo-c.example"])
        .await;
    let busy = || Reply::new(451, "4.3.0", "mailbox busy, try later");
    for address in stuck {
        h.sink.script(address, std::iter::repeat_with(busy).take(5));
    }
    h.post_and_drain("p@ngo.example", "open").await;
    // The notice is queued once the outcomes are recorded: wait for it too.
    h.sink.wait_for(2, Duration::from_secs(15)).await;
    assert!(h.queue_drained().await);

    for address in stuck {
        let (state, attempts, reply) = h.delivery("open", address).await;
        assert_eq!((state.as_str(), attempts), ("failed", 2), "{address}");
        assert!(
            reply.contains("gave up") && reply.contains("451"),
            "{reply}"
        );
    }
    assert_eq!(h.delivery("open", "fine@ngo-c.example").await.0, "sent");
    let notices = h.received_by("owner@coalition.test.example");
    assert_eq!(
        notices.len(),
        1,
        "one notice for the posting, not one per member"
    );
    let notice = &notices[0];
    assert!(
        notice
            .subject()
            .is_some_and(|s| s.contains("could not be delivered")),
        "{:?}",
        notice.subject()
    );
    let text = notice.body_text(0).expect("text part");
    assert!(text.contains("Subject:  Posting"), "{text}");
    assert!(text.contains("451"), "{text}");
    assert!(
        !text.contains("stuck@"),
        "members' addresses stay out of the notice"
    );
    h.daemon.shutdown().await;
}

async fn permanent_failure_is_recorded_with_the_reply(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["gone@ngo.example", "here@ngo.example"])
        .await;
    let refusal = Reply::new(550, "5.1.1", "no such mailbox here");
    h.sink.script("gone@ngo.example", [refusal]);
    h.post_and_drain("p@ngo.example", "open").await;
    let (state, _, reply) = h.delivery("open", "gone@ngo.example").await;
    assert_eq!(state, "failed");
    assert!(
        reply.contains("550") && reply.contains("no such mailbox"),
        "{reply}"
    );
    let (state, _, _) = h.delivery("open", "here@ngo.example").await;
    assert_eq!(
        state, "sent",
        "the same connection carries on after a refusal"
    );
    let counts = h.daemon.store.queue_counts().await.expect("counts");
    assert_eq!((counts[0].sent, counts[0].failed), (1, 1));
    h.daemon.shutdown().await;
}

async fn mail_to_the_owner_address_reaches_the_owners(db: &TestDb) {
    let h = Harness::start(db).await;
    h.sink.script(
        "vice@coalition.test.example",
        [Reply::new(550, "5.1.1", "no such mailbox")],
    );
    let to = format!("team-owner@{DOMAIN}");
    let from = "someone@elsewhere.example";
    let question = message(from, &to, "Question", "Hello owners\r\n");
    let reply = h.smtp().await.post(from, &to, &question).await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
    // Three owners, two recipients per transaction at most, one of them refused at RCPT:
    // the same message goes out unchanged in two transactions.
    let received = h.sink.messages();
    let transactions: Vec<Vec<String>> = received.iter().map(|m| m.recipients.clone()).collect();
    assert_eq!(
        transactions,
        [
            vec!["chair@coalition.test.example".to_string()],
            vec!["clerk@coalition.test.example".to_string()]
        ],
        "{transactions:?}"
    );
    assert_eq!(received[0].mail_from, format!("team-bounces@{DOMAIN}"));
    assert!(!String::from_utf8_lossy(&received[0].data).contains("List-Unsubscribe"));
    let (state, _, _) = h.delivery("team", "vice@coalition.test.example").await;
    assert_eq!(state, "failed");
    h.daemon.shutdown().await;
}

async fn too_many_recipients_are_sent_at_once_in_further_transactions(db: &TestDb) {
    let owners: Vec<String> = (1..=7)
        .map(|n| format!("owner{n}@coalition.test.example"))
        .collect();
    let h = Harness::start_with(db, |toml| {
        let team_owners = r#"owners = ["chair@coalition.test.example", "vice@coalition.test.example", "clerk@coalition.test.example"]"#;
        toml.replace("max_recipients_per_transaction = 2", "max_recipients_per_transaction = 50")
            .replace(team_owners, &format!("owners = {owners:?}"))
    })
    .await;
    h.sink.limit_recipients(3);
    let to = format!("team-owner@{DOMAIN}");
    let from = "someone@elsewhere.example";
    let question = message(from, &to, "Question", "Hello owners\r\n");
    let reply = h.smtp().await.post(from, &to, &question).await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
    let transactions: Vec<Vec<String>> = h
        .sink
        .messages()
        .iter()
        .map(|m| m.recipients.clone())
        .collect();
    assert_eq!(
        transactions,
        [&owners[0..3], &owners[3..6], &owners[6..7]],
        "one transaction split in three, in order"
    );
    for owner in &owners {
        let (state, attempts, _) = h.delivery("team", owner).await;
        assert_eq!(
            (state.as_str(), attempts),
            ("sent", 1),
            "{owner}: never deferred"
        );
    }
    h.daemon.shutdown().await;
}

async fn a_destination_answering_4xx_is_slowed_down_while_others_keep_going(db: &TestDb) {
    // One transaction at a time per domain, and a pause far longer than this test.
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "destination_backoff_seconds = 1",
            "destination_backoff_seconds = 600\ndestination_concurrency = 1",
        )
    })
    .await;
    let slow: Vec<String> = (0..20).map(|i| format!("m{i}@slow.example")).collect();
    let fast: Vec<String> = (0..20).map(|i| format!("m{i}@fast.example")).collect();
    let members: Vec<&str> = slow.iter().chain(&fast).map(String::as_str).collect();
    h.subscribe("open", &members).await;
    for address in &slow {
        let busy = || Reply::new(451, "4.7.1", "greylisted, try later");
        h.sink.script(address, std::iter::repeat_with(busy).take(3));
    }
    let to = format!("open@{DOMAIN}");
    let posting = message("p@ngo.example", &to, "Posting", "Hello\r\n");
    let reply = h.smtp().await.post("p@ngo.example", &to, &posting).await;
    assert!(reply.starts_with("250"), "{reply}");
    // Settled: the fast domain's copies recorded as sent, the slow domain's waiting.
    h.deliveries_when("open", |deliveries| {
        deliveries.len() == 40
            && deliveries.iter().all(|(recipient, state, _, _)| {
                let wanted = if recipient.ends_with("@fast.example") {
                    "sent"
                } else {
                    "deferred"
                };
                state == wanted
            })
    })
    .await;

    for address in &fast {
        let (state, attempts, _) = h.delivery("open", address).await;
        assert_eq!((state.as_str(), attempts), ("sent", 1), "{address}");
    }
    let mut tried = 0;
    for address in &slow {
        let (state, attempts, _) = h.delivery("open", address).await;
        assert_ne!(state, "sent", "{address}");
        tried += attempts;
    }
    // Each worker may have had one slow transaction under way when the first 4xx came;
    // every other slow delivery waits for the pause, untried.
    assert!(
        (1..=2).contains(&tried),
        "{tried} attempts at the slowed-down domain"
    );
    assert_eq!(
        h.received_recipients().len(),
        20,
        "only the fast domain received mail"
    );
    h.daemon.shutdown().await;
}

async fn a_relay_slower_than_the_data_timeout_defers_the_delivery(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace("[relay]\n", "[relay]\ndata_end_timeout_seconds = 1\n")
    })
    .await;
    h.subscribe("open", &["patient@ngo.example"]).await;
    h.sink.slow_down(Duration::from_secs(3));
    let to = format!("open@{DOMAIN}");
    let posting = message("p@ngo.example", &to, "Posting", "Hello\r\n");
    let reply = h.smtp().await.post("p@ngo.example", &to, &posting).await;
    assert!(reply.starts_with("250"), "{reply}");
    let deliveries = h
        .deliveries_when("open", |deliveries| deliveries.iter().any(|d| d.2 > 0))
        .await;
    let last = deliveries.into_iter().find(|d| d.2 > 0);
    let (_, state, attempts, reply) = last.expect("an attempt was recorded");
    assert_eq!(attempts, 1);
    // Deferred, or already claimed for its retry.
    assert!(["deferred", "sending"].contains(&state.as_str()), "{state}");
    assert!(reply.contains("within 1 s"), "{reply}");
    h.sink.slow_down(Duration::ZERO);
    h.daemon.shutdown().await;
}

/// One shared message to three recipients, one refused at RCPT and one 452 past the
/// relay's limit of two per transaction, over a relay with and without PIPELINING: the
/// same results, and the copies arrive byte for byte, dot-stuffing undone.
#[tokio::test]
async fn pipelined_or_not_each_recipient_gets_its_own_result() {
    let message = b"From: a@example.org\r\nSubject: dots\r\n\r\n.one\r\n..two\r\n.\r\nend\r\n";
    for sink in [
        Sink::start(true).await.expect("sink"),
        Sink::start_offering(
            true,
            Extensions {
                pipelining: false,
                ..Extensions::ALL
            },
        )
        .await
        .expect("sink"),
    ] {
        sink.script(
            "gone@example.org",
            [Reply::new(550, "5.1.1", "no such user")],
        );
        sink.limit_recipients(2);
        let relay = RelayConfig {
            host: "127.0.0.1".into(),
            port: sink.addr.port(),
            tls: TlsMode::None,
            ..RelayConfig::default()
        };
        let mut client = RelayClient::connect(&relay, "test.localhost")
            .await
            .expect("connect");
        let recipients = [
            "a@example.org",
            "gone@example.org",
            "b@example.org",
            "c@example.org",
        ];
        let results = client
            .send_many("list-bounces@example.org", &recipients, &[message])
            .await;
        assert_eq!(results[0], SendResult::Accepted);
        assert!(
            matches!(&results[1], SendResult::Permanent(reply) if reply.starts_with("550 5.1.1")),
            "{:?}",
            results[1]
        );
        assert_eq!(results[2..], [SendResult::Accepted, SendResult::Accepted]);
        let received = sink.messages();
        let delivered: Vec<&str> = received
            .iter()
            .flat_map(|m| m.recipients.iter().map(String::as_str))
            .collect();
        assert_eq!(
            delivered,
            ["a@example.org", "b@example.org", "c@example.org"]
        );
        assert!(received.iter().all(|m| m.data == message));
        client.quit().await;
    }
}

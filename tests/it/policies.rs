//! A list's own posting filters over loopback SMTP: senders accepted, held, refused or
//! dropped by address, domain or pattern; postings held for their size; attachments held or
//! refused by type and size.

use crate::common::{message, rand_suffix, Harness, TestDb, DOMAIN};

/// The team list has no moderators: its owners are asked.
const CHAIR: &str = "chair@coalition.test.example";
const MEMBER: &str = "member@ngo.example";
const READER: &str = "reader@ngo.example";

on_both_databases!(
    sender_filters_accept_hold_refuse_and_drop,
    oversized_postings_are_held,
    attachments_outside_the_policy_are_held,
    attachments_outside_the_policy_are_refused_where_the_list_says_so,
);

/// Adds `keys` (TOML lines) to the list called `list` in the test configuration.
fn with_keys(list: &str, keys: &str) -> impl FnOnce(String) -> String {
    let name = format!("name = \"{list}\"\n");
    let keys = keys.to_string();
    move |toml| {
        assert!(toml.contains(&name), "no such list: {name}");
        toml.replacen(&name, &format!("{name}{keys}\n"), 1)
    }
}

/// The team list is confidential: its members' postings must be authenticated, here by
/// their domain's SPF record authorising this machine.
fn authorise_members(h: &Harness) {
    h.dns.txt("ngo.example", "v=spf1 ip4:127.0.0.1 -all");
}

fn team() -> String {
    format!("team@{DOMAIN}")
}

/// Every stored message, by list and state.
async fn stored(h: &Harness) -> Vec<(String, String, i64)> {
    h.daemon.store.message_counts().await.expect("counts")
}

async fn held_count(h: &Harness, list: &str) -> i64 {
    stored(h)
        .await
        .into_iter()
        .find(|(name, state, _)| name == list && state == "held")
        .map_or(0, |(_, _, n)| n)
}

/// The text of every notice the chair received.
fn chair_notices(h: &Harness) -> Vec<String> {
    h.received_by(CHAIR)
        .iter()
        .map(|m| m.body_text(0).unwrap_or_default().to_string())
        .collect()
}

/// Asserts that the last posting was held, the chair told why, and no member got it.
async fn assert_held(h: &Harness, notices_before: usize, why: &str, readers_before: usize) {
    let notices = chair_notices(h);
    assert_eq!(notices.len(), notices_before + 1, "one notice to the chair");
    let notice = &notices[notices_before];
    assert!(notice.contains(why), "the notice says why: {notice}");
    assert_eq!(
        h.received_by(READER).len(),
        readers_before,
        "held, not sent"
    );
}

async fn sender_filters_accept_hold_refuse_and_drop(db: &TestDb) {
    let filters = r#"
        accept_these = ["friend@partner.example"]
        hold_these = ["@watch.example"]
        reject_these = ['^.*@(.+\.)?spam\.example$']
        discard_these = ["noise@ngo.example"]
    "#;
    let h = Harness::start_with(db, with_keys("team", filters)).await;
    authorise_members(&h);
    h.subscribe("team", &[MEMBER, READER, "noise@ngo.example"])
        .await;

    // accept_these: a non-member of a members-only list is let through (on a confidential
    // list, once their domain proved the From, as a member's must).
    h.write_proven(
        "friend@partner.example",
        &team(),
        "From a partner",
        "Hello\r\n",
    )
    .await;
    assert_eq!(h.received_by(READER).len(), 1, "accepted sender delivered");

    // hold_these, by domain (subdomains included): held and the chair told why.
    h.write("someone@mail.watch.example", &team(), "Watch", "Hi\r\n")
        .await;
    assert_held(
        &h,
        0,
        "The sender's address matches the list's filter for postings to be held.",
        1,
    )
    .await;
    assert_eq!(held_count(&h, "team").await, 1);

    // reject_these, by pattern: refused during the transaction, nothing stored.
    let before = stored(&h).await;
    let from = "Bulk@News.Spam.example";
    let reply = h
        .smtp()
        .await
        .post(from, &team(), &message(from, &team(), "Offer", "Buy\r\n"))
        .await;
    assert!(
        reply.starts_with(&format!(
            "550 5.7.1 team@{DOMAIN} does not accept postings from your address"
        )),
        "{reply}"
    );
    assert_eq!(stored(&h).await, before);

    // discard_these, even for a member: 250, then nothing stored, sent or told.
    let from = "noise@ngo.example";
    let copies_to_sender = h.received_by(from).len();
    let reply = h
        .smtp()
        .await
        .post(from, &team(), &message(from, &team(), "Noise", "Noise\r\n"))
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(h.queue_drained().await);
    assert_eq!(
        stored(&h).await,
        before,
        "a discarded posting is stored nowhere"
    );
    assert_eq!(h.received_by(READER).len(), 1);
    assert_eq!(
        h.received_by(from).len(),
        copies_to_sender,
        "the sender is not told"
    );

    // Senders no filter names meet the posting policy as before.
    let from = "stranger@ngo.example";
    let reply = h
        .smtp()
        .await
        .post(from, &team(), &message(from, &team(), "Hi", "Hi\r\n"))
        .await;
    assert!(reply.starts_with("550 5.7.1 only members"), "{reply}");
    h.write(MEMBER, &team(), "From a member", "Hello\r\n").await;
    assert_eq!(h.received_by(READER).len(), 2);
    h.daemon.shutdown().await;
}

async fn oversized_postings_are_held(db: &TestDb) {
    let h = Harness::start_with(db, with_keys("team", "max_message_size = 2000")).await;
    authorise_members(&h);
    h.subscribe("team", &[MEMBER, READER]).await;

    h.write(MEMBER, &team(), "Short", &"short line\r\n".repeat(100))
        .await;
    assert_eq!(h.received_by(READER).len(), 1, "under the limit: sent");

    h.write(MEMBER, &team(), "Long", &"short line\r\n".repeat(200))
        .await;
    assert_held(&h, 0, "The posting is larger than this list allows.", 1).await;
    assert_eq!(held_count(&h, "team").await, 1);
    h.daemon.shutdown().await;
}

/// A posting from `from` with a text body and one attachment of `kind` named `name`,
/// `bytes` bytes long before encoding.
fn with_attachment(from: &str, to: &str, kind: &str, name: &str, bytes: usize) -> Vec<u8> {
    let content = vec![b'%'; bytes];
    let encoded = data_encoding::BASE64.encode(&content);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|chunk| std::str::from_utf8(chunk).unwrap_or_default())
        .collect();
    format!(
        "From: Author <{from}>\r\nTo: {to}\r\nSubject: {name}\r\n\
         Message-ID: <{}@client.test.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
         --a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the file.\r\n\
         --a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Please see the file.</p>\r\n\
         --a--\r\n\
         --b\r\nContent-Type: {kind}; name=\"{name}\"\r\n\
         Content-Disposition: attachment; filename=\"{name}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n\
         --b--\r\n",
        rand_suffix(),
        lines.join("\r\n")
    )
    .into_bytes()
}

const ATTACHMENTS: &str = r#"
    allowed_types = ["application/pdf", "image/*"]
    max_part_size = 1000
"#;

async fn attachments_outside_the_policy_are_held(db: &TestDb) {
    let h = Harness::start_with(db, with_keys("team", ATTACHMENTS)).await;
    authorise_members(&h);
    h.subscribe("team", &[MEMBER, READER]).await;
    let post =
        |kind: &str, name: &str, bytes: usize| with_attachment(MEMBER, &team(), kind, name, bytes);

    // Allowed types within the size, with a plain-text-and-HTML body: sent.
    h.send(
        MEMBER,
        &team(),
        &post("application/pdf", "report.pdf", 1000),
    )
    .await;
    h.send(MEMBER, &team(), &post("image/png", "map.png", 10))
        .await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(READER).len(), 2);

    h.send(MEMBER, &team(), &post("application/zip", "files.zip", 10))
        .await;
    assert!(h.queue_drained().await);
    assert_held(
        &h,
        0,
        "The posting has an attachment of a type this list does not accept.",
        2,
    )
    .await;

    h.send(MEMBER, &team(), &post("application/pdf", "big.pdf", 1001))
        .await;
    assert!(h.queue_drained().await);
    assert_held(
        &h,
        1,
        "The posting has an attachment larger than this list allows.",
        2,
    )
    .await;
    assert_eq!(held_count(&h, "team").await, 2);
    h.daemon.shutdown().await;
}

async fn attachments_outside_the_policy_are_refused_where_the_list_says_so(db: &TestDb) {
    let policy = format!("{ATTACHMENTS}\nattachment_action = \"reject\"");
    let h = Harness::start_with(db, with_keys("open", &policy)).await;
    authorise_members(&h);
    h.subscribe("open", &[READER]).await;
    let to = format!("open@{DOMAIN}");
    let from = "anyone@ngo.example";
    let before = stored(&h).await;

    let zip = with_attachment(from, &to, "application/zip", "files.zip", 10);
    let reply = h.smtp().await.post(from, &to, &zip).await;
    assert_eq!(
        reply,
        format!(
            "550 5.6.1 open@{DOMAIN} does not accept attachments of type application/zip \
             (files.zip); it accepts application/pdf, image/*\r\n"
        )
    );
    let big = with_attachment(from, &to, "image/jpeg", "photo.jpg", 5000);
    let reply = h.smtp().await.post(from, &to, &big).await;
    assert_eq!(
        reply,
        format!(
            "550 5.3.4 open@{DOMAIN} does not accept attachments larger than 1000 bytes; \
             the attachment (photo.jpg) is 5 KB\r\n"
        )
    );
    assert_eq!(stored(&h).await, before, "refused postings are not stored");

    let pdf = with_attachment(from, &to, "application/pdf", "report.pdf", 500);
    h.send(from, &to, &pdf).await;
    assert!(h.queue_drained().await);
    assert_eq!(
        h.received_by(READER).len(),
        1,
        "an allowed attachment is sent"
    );
    h.daemon.shutdown().await;
}

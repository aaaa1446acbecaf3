//! The lists' archives: every posting kept as its members received it, in the transaction
//! that queues their copies; a public list's copies name the archive (`List-Archive`) and
//! their own page in it (`Archived-At`), a confidential list's neither.

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(postings_are_archived_and_only_public_copies_say_where,);

const MEMBER: &str = "member@ngo.example";
const READER: &str = "reader@ngo.example";

/// Every `name` field of `message`, as written (unfolded).
fn field(message: &mail_parser::Message, name: &str) -> Vec<String> {
    let raw = message.raw_message();
    message
        .headers()
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case(name))
        .map(|h| {
            let value = &raw[h.offset_start() as usize..h.offset_end() as usize];
            String::from_utf8_lossy(value)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

async fn postings_are_archived_and_only_public_copies_say_where(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &[MEMBER, READER]).await;
    h.subscribe("team", &[MEMBER, READER]).await;

    h.write(
        MEMBER,
        &format!("open@{DOMAIN}"),
        "Public news",
        "For everyone.\r\n",
    )
    .await;
    h.write_proven(
        MEMBER,
        &format!("team@{DOMAIN}"),
        "Team news",
        "For the team.\r\n",
    )
    .await;
    let store = &h.daemon.store;
    assert_eq!(store.archive_count("open").await.expect("count"), 1);
    assert_eq!(store.archive_count("team").await.expect("count"), 1);

    let copies = h.received_by(READER);
    let public = copies
        .iter()
        .find(|m| m.subject() == Some("Public news"))
        .expect("the public posting");
    let archive = format!("<https://{DOMAIN}/archive/open/>");
    assert_eq!(field(public, "List-Archive"), [archive]);
    let archived_at = field(public, "Archived-At");
    assert_eq!(archived_at.len(), 1, "{archived_at:?}");
    let key = archived_at[0]
        .trim_matches(['<', '>'])
        .strip_prefix(&format!("https://{DOMAIN}/archive/open/message/"))
        .expect("the message's page")
        .to_string();
    let kept = store
        .archived_message("open", &key)
        .await
        .expect("query")
        .expect("the page Archived-At names holds the posting");
    assert_eq!(kept.head.subject, "Public news");
    // As relayed: decorated with the list's fields, without a copy's own.
    let kept_text = String::from_utf8_lossy(&kept.raw);
    assert!(kept_text.contains("List-Id:"), "{kept_text}");
    assert!(kept_text.contains("Archived-At:"), "{kept_text}");
    assert!(!kept_text.contains("List-Unsubscribe:"), "{kept_text}");

    let confidential = copies
        .iter()
        .find(|m| m.subject().is_some_and(|s| s.contains("Team news")))
        .expect("the team posting");
    assert!(field(confidential, "List-Archive").is_empty());
    assert!(field(confidential, "Archived-At").is_empty());
    let team = store
        .archive_month("team", &tidings::store::month_of(tidings::store::now_ms()))
        .await
        .expect("month");
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].subject, "[Team] Team news");

    // A posting with the Message-ID of one archived already is relayed, and archived once.
    let again = String::from_utf8_lossy(&kept.raw).into_owned();
    let id_line = again
        .lines()
        .find(|line| line.to_ascii_lowercase().starts_with("message-id:"))
        .expect("Message-ID")
        .to_string();
    let mut repeat = message(
        MEMBER,
        &format!("open@{DOMAIN}"),
        "Public news again",
        "Twice.\r\n",
    );
    let repeat_text = String::from_utf8_lossy(&repeat).into_owned();
    let own_id = repeat_text
        .lines()
        .find(|line| line.starts_with("Message-ID:"))
        .expect("Message-ID")
        .to_string();
    repeat = repeat_text.replace(&own_id, &id_line).into_bytes();
    h.send(MEMBER, &format!("open@{DOMAIN}"), &repeat).await;
    assert!(h.queue_drained().await);
    assert_eq!(store.archive_count("open").await.expect("count"), 1);
}

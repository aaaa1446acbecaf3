//! Privileged acts on a From header alone. Anyone can write `From: secretariat@…`: a
//! bulletin to an announcement list, an editor's item, an owner's or moderator's or
//! editor's decision by email are carried out only when the From is proven (aligned DKIM
//! checked here, or the trusted front MTA's results over LMTP). An unproven posting or item
//! is held for the moderators with the reason `unauthenticated`; an unproven decision is not
//! carried out, and its claimed author is told why.

use mail_parser::Message;
use tidings::publications::editions::Slot;
use tidings::publications::ItemInput;

use crate::common::{dkim_sign, message, reply_to, Harness, TestDb, DOMAIN};

on_both_databases!(
    an_unproven_bulletin_is_held_not_sent,
    an_unproven_item_is_held_for_the_editors,
    unproven_decisions_are_not_carried_out_and_explained,
    an_unproven_edition_approval_is_not_carried_out,
);

const SECRETARIAT: &str = "secretariat@coalition.test.example";
const READER: &str = "reader@ngo.example";
const EDITOR: &str = "editor@coalition.test.example";
const MODERATOR: &str = "mod@coalition.test.example";
const CHAIR: &str = "chair@coalition.test.example";

fn subjects(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.subject().unwrap_or_default().to_string())
        .collect()
}

async fn an_unproven_bulletin_is_held_not_sent(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("news", &[READER]).await;
    let news = format!("news@{DOMAIN}");

    // Forged: any SMTP client, the Secretariat's From. Taken (it may be genuine), held.
    let forged = message(SECRETARIAT, &news, "Forged bulletin", "Send money\r\n");
    h.send(SECRETARIAT, &news, &forged).await;
    assert!(h.queue_drained().await);
    assert!(
        h.received_by(READER).is_empty(),
        "a forged bulletin went out"
    );
    assert_eq!(h.held_reasons().await, ["unauthenticated"]);
    let notices = h.received_by("owner@coalition.test.example");
    assert_eq!(
        notices.len(),
        1,
        "the owner is asked: {:?}",
        subjects(&notices)
    );

    // Signed by the Secretariat's domain (its key in the DNS): sent.
    let signed = dkim_sign(
        &h,
        "coalition.test.example",
        &message(SECRETARIAT, &news, "Signed bulletin", "News\r\n"),
    );
    h.send(SECRETARIAT, &news, &signed).await;
    assert!(h.queue_drained().await);
    // Through the trusted front MTA, which checked it: sent.
    h.write_proven(SECRETARIAT, &news, "Bulletin via the MX", "News\r\n")
        .await;
    assert_eq!(
        subjects(&h.received_by(READER)),
        ["Signed bulletin", "Bulletin via the MX"]
    );
}

/// The test configuration with a publication whose editions go out `approval` (`auto`:
/// a forged item would be published as soon as an edition is built).
fn with_bulletin(approval: &'static str) -> impl FnOnce(String) -> String {
    move |toml| {
        format!(
            r#"{toml}
[[publications]]
name = "bulletin"
title = "The Bulletin"
languages = ["en"]
fallback_language = "en"
schedule = "0 0 9 1 1/2 *"
time_zone = "Europe/Amsterdam"
approval = "{approval}"
editors = ["{EDITOR}"]
"#
        )
    }
}

async fn an_unproven_item_is_held_for_the_editors(db: &TestDb) {
    let h = Harness::start_with(db, with_bulletin("auto")).await;
    let submit = format!("bulletin-submit@{DOMAIN}");
    h.write(
        EDITOR,
        &submit,
        "Forged item",
        "We endorse the attacker.\r\n",
    )
    .await;
    let items = |h: &Harness| {
        let store = h.daemon.store.clone();
        async move { store.items(Some("bulletin"), true).await.expect("items") }
    };
    assert!(items(&h).await.is_empty(), "a forged item was taken");
    assert_eq!(h.held_reasons().await, ["unauthenticated"]);
    // Nothing to publish: the held item is in no edition.
    let publication = h
        .daemon
        .publications
        .publication("bulletin")
        .expect("configured");
    assert!(h
        .daemon
        .publications
        .build(&tidings::store::Actor::cli(), publication, Slot::Special)
        .await
        .is_ok());
    assert!(h
        .daemon
        .store
        .editions(Some("bulletin"))
        .await
        .expect("editions")
        .iter()
        .all(|e| e.state != "sent"));

    // The editors moderate it; an unproven "approve" is not enough, a proven one is.
    let notices = h.received_by(EDITOR);
    assert_eq!(notices.len(), 1, "{:?}", subjects(&notices));
    let moderate = reply_to(&notices[0]);
    h.write(EDITOR, &moderate, "Re: held", "approve\r\n").await;
    assert!(items(&h).await.is_empty());
    h.write_proven(EDITOR, &moderate, "Re: held", "approve\r\n")
        .await;
    let taken = items(&h).await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].title, "Forged item");
}

async fn unproven_decisions_are_not_carried_out_and_explained(db: &TestDb) {
    let h = Harness::start(db).await;
    // A held posting on the moderated forum.
    h.subscribe("forum", &[READER, "author@ngo.example"]).await;
    let forum = format!("forum@{DOMAIN}");
    h.write("author@ngo.example", &forum, "Held posting", "Hello\r\n")
        .await;
    let moderate = reply_to(&h.received_by(MODERATOR)[0]);
    h.write(MODERATOR, &moderate, "Re: held", "approve\r\n")
        .await;
    assert!(h.received_by(READER).is_empty(), "a forged approval worked");
    let explained = h.received_by(MODERATOR);
    assert_eq!(explained.len(), 2, "{:?}", subjects(&explained));
    assert!(
        subjects(&explained)[1].contains("was not carried out"),
        "{:?}",
        subjects(&explained)
    );
    h.write_proven(MODERATOR, &moderate, "Re: held", "approve\r\n")
        .await;
    assert_eq!(subjects(&h.received_by(READER)), ["Held posting"]);

    // A request waiting for the owners' approval (the team is open to members only).
    let outsider = "someone@outsider.example";
    h.write(outsider, &format!("team-join@{DOMAIN}"), "join", "")
        .await;
    let confirm = reply_to(&h.received_by(outsider)[0]);
    h.write(outsider, &confirm, "Re: confirm", "yes\r\n").await;
    let approve = reply_to(&h.received_by(CHAIR)[0]);
    h.write(CHAIR, &approve, "Re: request", "approve\r\n").await;
    assert!(
        !h.is_subscribed("team", outsider).await,
        "a forged approval worked"
    );
    assert!(subjects(&h.received_by(CHAIR))
        .iter()
        .any(|s| s.contains("was not carried out")));
    h.write_proven(CHAIR, &approve, "Re: request", "approve\r\n")
        .await;
    assert!(h.is_subscribed("team", outsider).await);
}

async fn an_unproven_edition_approval_is_not_carried_out(db: &TestDb) {
    let h = Harness::start_with(db, with_bulletin("manual")).await;
    h.subscribe("bulletin", &[READER]).await;
    let publications = &h.daemon.publications;
    let publication = publications.publication("bulletin").expect("configured");
    let item = ItemInput {
        title: "Rome Statute at 30".into(),
        section: None,
        language: Some("en".into()),
        key: None,
        body: "Thirty years.".into(),
        author: EDITOR.into(),
    };
    publications
        .add_item(publication, item)
        .await
        .expect("item");
    publications
        .build(&tidings::store::Actor::cli(), publication, Slot::Special)
        .await
        .expect("built");
    assert!(h.queue_drained().await);
    let approve = reply_to(&h.received_by(EDITOR)[0]);
    assert!(approve.starts_with("bulletin-confirm+"), "{approve}");

    h.write(EDITOR, &approve, "Re: preview", "approve\r\n")
        .await;
    let editions = h
        .daemon
        .store
        .editions(Some("bulletin"))
        .await
        .expect("editions");
    assert_eq!(
        editions[0].state, "awaiting_approval",
        "a forged approval sent it"
    );
    assert!(h.received_by(READER).is_empty());
    assert!(subjects(&h.received_by(EDITOR))
        .iter()
        .any(|s| s.contains("was not carried out")));

    h.write_proven(EDITOR, &approve, "Re: preview", "approve\r\n")
        .await;
    let editions = h
        .daemon
        .store
        .editions(Some("bulletin"))
        .await
        .expect("editions");
    assert_eq!(editions[0].state, "sent");
    assert_eq!(h.received_by(READER).len(), 1);
}

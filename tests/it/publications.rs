//! Publications end to end, on both databases, with the scheduler's clock set by the test:
//! subscribing as to a list, items by mail, one edition per slot however many race for it,
//! catch-up after downtime, the preview and approval, delivery in each subscriber's
//! language with their own unsubscribe link, and no edition without items.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::{eventually, reply_to, Harness, TestDb, BULLETIN, DOMAIN, EDITOR};
use mail_parser::{Message, MimeHeaders};
use tidings::publications::clock::{Clock, ManualClock};
use tidings::publications::render::UNSUBSCRIBE_PLACEHOLDER;
use tidings::publications::ItemInput;
use tidings::store::{Edition, ImportLine};

const READER: &str = "reader@ngo.example";

/// 1 March 2027, 09:00 in Amsterdam (CET): the Bulletin's slot.
const MARCH: i64 = 1_803_888_000_000;
/// 1 May 2027, 09:00 in Amsterdam (CEST).
const MAY: i64 = 1_809_154_800_000;
const DAY: i64 = 86_400_000;

on_both_databases!(
    a_publication_is_subscribed_to_like_a_list,
    a_slot_fires_exactly_once,
    a_missed_schedule_is_caught_up_once_at_start,
    items_are_built_previewed_approved_and_delivered_in_each_language,
    an_edition_without_items_is_not_sent,
    a_repeated_local_time_builds_one_edition,
    a_failing_scheduler_is_started_again_while_deliveries_go_on,
);

fn with_publications(toml: String) -> String {
    toml + BULLETIN
        + r#"
[[publications]]
name = "nightly"
title = "Nightly"
languages = ["en"]
fallback_language = "en"
schedule = "0 30 2 * * *"
time_zone = "Europe/Amsterdam"
approval = "auto"
editors = ["night-editor@coalition.test.example"]
# Dressed like the Europe Update: a publication may borrow another's templates.
templates = "europe-update"
"#
}

async fn start(db: &TestDb, clock: &Arc<ManualClock>) -> Harness {
    Harness::start_with_clock(db, with_publications, Arc::clone(clock) as _).await
}

async fn editions(h: &Harness, publication: &str) -> Vec<Edition> {
    h.daemon
        .store
        .editions(Some(publication))
        .await
        .expect("editions")
}

/// The Bulletin's editions once the scheduler has built one (waiting at most 15 s).
async fn first_editions(h: &Harness) -> Vec<Edition> {
    eventually(|| async move {
        let built = editions(h, "bulletin").await;
        (!built.is_empty()).then_some(built)
    })
    .await
    .unwrap_or_default()
}

async fn add_item(h: &Harness, language: &str, key: &str, title: &str) -> i64 {
    let publications = &h.daemon.publications;
    let publication = publications.publication("bulletin").expect("configured");
    publications
        .add_item(
            publication,
            ItemInput {
                title: title.into(),
                section: Some("News".into()),
                language: Some(language.into()),
                key: Some(key.into()),
                body: format!("Text of *{title}*."),
                author: EDITOR.into(),
            },
        )
        .await
        .expect("item added")
}

async fn subscribe(h: &Harness, address: &str, language: &str) {
    let line = ImportLine {
        address: address.into(),
        display_name: String::new(),
        language: language.into(),
    };
    h.daemon
        .store
        .import_members("bulletin", &[line])
        .await
        .expect("subscribed");
}

fn header(message: &Message, name: &str) -> String {
    message
        .header_raw(name)
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

async fn a_publication_is_subscribed_to_like_a_list(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(MARCH - DAY));
    let h = start(db, &clock).await;
    // Joining: confirmation request, reply, subscribed.
    h.write(READER, &format!("bulletin-join@{DOMAIN}"), "join", "")
        .await;
    let requests = h.received_by(READER);
    assert_eq!(requests.len(), 1, "one confirmation request");
    let confirm = reply_to(&requests[0]);
    assert!(confirm.starts_with("bulletin-confirm+"), "{confirm}");
    h.write(READER, &confirm, "Re: confirm", "yes").await;
    assert!(h.is_subscribed("bulletin", READER).await);
    // The roster is the list's: `tidings members` reads the same.
    let members = h
        .daemon
        .store
        .members_of("bulletin")
        .await
        .expect("members");
    assert_eq!(members.len(), 1);

    // Nobody posts to the publication itself, and only editors submit items.
    let mut smtp = h.smtp().await;
    let to = format!("bulletin@{DOMAIN}");
    let refused = smtp
        .post(READER, &to, &crate::common::message(READER, &to, "Hi", "x"))
        .await;
    assert!(refused.starts_with("550"), "{refused}");
    assert!(refused.contains("bulletin-submit@"), "{refused}");
    let submit = format!("bulletin-submit@{DOMAIN}");
    let mut smtp = h.smtp().await;
    let refused = smtp
        .post(
            READER,
            &submit,
            &crate::common::message(READER, &submit, "Item", "x"),
        )
        .await;
    assert!(refused.starts_with("550"), "{refused}");

    // An editor's item is stored, with its lead lines read, and acknowledged.
    h.write_proven(
        EDITOR,
        &submit,
        "Rome Statute at 30",
        "Section: Events\r\nLanguage: fr\r\nKey: rome-30\r\n\r\nLe **Statut**.\r\n",
    )
    .await;
    let items = h
        .daemon
        .store
        .items(Some("bulletin"), true)
        .await
        .expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0].language.as_str(),
            items[0].section.as_str(),
            items[0].translation_key.as_str()
        ),
        ("fr", "Events", "rome-30")
    );
    assert_eq!(items[0].body, "Le **Statut**.");
    let acks = h.received_by(EDITOR);
    assert_eq!(acks.len(), 1);
    assert!(acks[0]
        .subject()
        .unwrap_or_default()
        .contains("Item received"));
    // An item in a language the publication has not is refused, and the editor told why.
    h.write_proven(EDITOR, &submit, "Nope", "Language: pt\r\n\r\nTexto.\r\n")
        .await;
    assert_eq!(
        h.daemon
            .store
            .items(Some("bulletin"), true)
            .await
            .map(|i| i.len())
            .ok(),
        Some(1)
    );
    let acks = h.received_by(EDITOR);
    assert!(acks[1]
        .subject()
        .unwrap_or_default()
        .contains("not accepted"));
}

async fn a_slot_fires_exactly_once(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(MARCH - DAY));
    let h = start(db, &clock).await;
    let publications = Arc::clone(&h.daemon.publications);
    publications.run_due(MARCH - DAY).await;
    add_item(&h, "en", "k1", "First story").await;
    // A second daemon on the same database races the first for the same slot.
    let other = start(db, &clock).await;
    let others = Arc::clone(&other.daemon.publications);
    tokio::join!(
        publications.run_due(MARCH),
        publications.run_due(MARCH + 1000),
        others.run_due(MARCH),
        others.run_due(MARCH + 2000),
    );
    publications.run_due(MARCH + DAY).await;
    let built = editions(&h, "bulletin").await;
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(built[0].scheduled_at, MARCH);
    assert_eq!(built[0].number, Some(1));
    assert_eq!(built[0].state, "awaiting_approval");
    // The next slot is a new edition, with the items that came since.
    add_item(&h, "en", "k2", "Second story").await;
    publications.run_due(MAY).await;
    let built = editions(&h, "bulletin").await;
    assert_eq!(built.len(), 2);
    assert_eq!(built[1].number, Some(2));
    let second = h
        .daemon
        .store
        .edition_items(built[1].id)
        .await
        .expect("items");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].title, "Second story");
}

async fn a_missed_schedule_is_caught_up_once_at_start(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(MARCH - 10 * DAY));
    let first = start(db, &clock).await;
    first.daemon.publications.run_due(MARCH - 10 * DAY).await;
    add_item(&first, "en", "k1", "Waiting story").await;
    first.daemon.shutdown().await;
    // Down over two slots (March and May); the daemon started in June catches up once.
    clock.set(MAY + 20 * DAY);
    let h = start(db, &clock).await;
    let built = first_editions(&h).await;
    assert!(h.queue_drained().await);
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(built[0].scheduled_at, MAY, "the latest missed slot");
    h.daemon.publications.run_due(MAY + 21 * DAY).await;
    assert_eq!(editions(&h, "bulletin").await.len(), 1);
    assert!(h.queue_drained().await);
    let told = h.received_by(EDITOR);
    let subjects: Vec<String> = told
        .iter()
        .map(|m| m.subject().unwrap_or_default().to_string())
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("built late")),
        "{subjects:?}"
    );
    let caught_up = told
        .iter()
        .find(|m| m.subject().unwrap_or_default().contains("built late"))
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default();
    assert!(
        caught_up.contains("1 earlier scheduled edition"),
        "{caught_up}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("Please approve")),
        "{subjects:?}"
    );
}

async fn items_are_built_previewed_approved_and_delivered_in_each_language(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(MARCH - DAY));
    let h = start(db, &clock).await;
    h.daemon.publications.run_due(MARCH - DAY).await;
    for (address, language) in [
        ("en@ngo.example", "en"),
        ("fr@ngo.example", "fr"),
        ("es@ngo.example", "es"),
        ("pt@ngo.example", "pt"),
    ] {
        subscribe(&h, address, language).await;
    }
    add_item(&h, "en", "court", "The Court in 2027").await;
    add_item(&h, "fr", "court", "La Cour en 2027").await;
    add_item(&h, "en", "budget", "The budget <script>alert(1)</script>").await;
    h.daemon.publications.run_due(MARCH).await;
    assert!(h.queue_drained().await);

    // Nothing reaches subscribers before approval; the editor has the preview.
    for reader in ["en@ngo.example", "fr@ngo.example"] {
        assert!(h.received_by(reader).is_empty());
    }
    let previews = h.received_by(EDITOR);
    assert_eq!(previews.len(), 1);
    let approve = reply_to(&previews[0]);
    assert!(approve.starts_with("bulletin-confirm+"), "{approve}");
    let preview = String::from_utf8_lossy(previews[0].raw_message()).into_owned();
    assert!(!preview.contains(UNSUBSCRIBE_PLACEHOLDER));
    // A reader's "approve" counts for nothing; the editor's sends it.
    h.write(READER, &approve, "Re", "approve\r\n").await;
    assert!(h.received_by("en@ngo.example").is_empty());
    h.write_proven(EDITOR, &approve, "Re", "approve\r\n").await;
    let built = editions(&h, "bulletin").await;
    assert_eq!(built[0].state, "sent");

    for (reader, language, story) in [
        ("en@ngo.example", "en", "The Court in 2027"),
        ("fr@ngo.example", "fr", "La Cour en 2027"),
        ("es@ngo.example", "en", "The Court in 2027"),
        ("pt@ngo.example", "en", "The Court in 2027"),
    ] {
        let received = h.received_by(reader);
        assert_eq!(received.len(), 1, "{reader}");
        let copy = &received[0];
        assert_eq!(header(copy, "Content-Language"), language, "{reader}");
        let content_type = copy
            .content_type()
            .map(|c| c.subtype().unwrap_or_default().to_string());
        assert_eq!(content_type.as_deref(), Some("alternative"));
        let text = copy.body_text(0).unwrap_or_default().into_owned();
        let html = copy.body_html(0).unwrap_or_default().into_owned();
        assert!(
            text.contains(story) && html.contains(story),
            "{reader}: {text}"
        );
        assert!(
            html.contains("The budget &lt;script&gt;"),
            "fallback story, escaped"
        );
        assert!(!html.contains("<script>"));
        // The reader's own unsubscribe link, in the body and in the header.
        assert!(!text.contains(UNSUBSCRIBE_PLACEHOLDER) && !html.contains(UNSUBSCRIBE_PLACEHOLDER));
        let unsubscribe = header(copy, "List-Unsubscribe");
        let link = unsubscribe
            .split(['<', '>'])
            .find(|p| p.starts_with("https://"))
            .unwrap_or_default()
            .to_string();
        assert!(link.contains("/unsubscribe/bulletin/"), "{unsubscribe}");
        assert!(
            text.contains(&link) && html.contains(&link),
            "{reader}: {link}"
        );
        assert!(header(copy, "List-Id").contains("bulletin.lists.test.example"));
        assert_eq!(
            header(copy, "List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
    }
    // Each copy came from its own VERP address.
    let envelopes: Vec<String> = h
        .sink
        .messages()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r.ends_with("@ngo.example")))
        .map(|m| m.mail_from)
        .collect();
    assert_eq!(envelopes.len(), 4);
    assert!(envelopes.iter().all(|e| e.starts_with("bulletin-bounces+")));

    // The web pages' view of it.
    let published = h
        .daemon
        .store
        .published_editions("bulletin")
        .await
        .expect("published");
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1, vec!["en".to_string(), "fr".to_string()]);
    let page = h
        .daemon
        .store
        .edition_page("bulletin", 1, "fr")
        .await
        .expect("page");
    let (_, html) = page.expect("the French page");
    assert!(html.contains("La Cour en 2027"));
    assert!(html.contains("mailto:bulletin-leave@"));
}

async fn an_edition_without_items_is_not_sent(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(MARCH - DAY));
    let h = start(db, &clock).await;
    h.daemon.publications.run_due(MARCH - DAY).await;
    subscribe(&h, "en@ngo.example", "en").await;
    h.daemon.publications.run_due(MARCH).await;
    h.daemon.publications.run_due(MARCH + 1000).await;
    assert!(h.queue_drained().await);
    let built = editions(&h, "bulletin").await;
    assert_eq!(built.len(), 1);
    assert_eq!((built[0].state.as_str(), built[0].number), ("empty", None));
    assert!(h.received_by("en@ngo.example").is_empty());
    let told = h.received_by(EDITOR);
    assert_eq!(told.len(), 1, "the editors are told once");
    assert!(told[0].subject().unwrap_or_default().contains("no edition"));
}

async fn a_repeated_local_time_builds_one_edition(db: &TestDb) {
    // 02:30 on 31 October 2027 happens twice in Amsterdam: 00:30 and 01:30 UTC.
    let first = 1_824_942_600_000;
    let clock = Arc::new(ManualClock::new(first - DAY / 2));
    let h = start(db, &clock).await;
    let publications = &h.daemon.publications;
    publications.run_due(first - DAY / 2).await;
    let nightly = publications.publication("nightly").expect("configured");
    let item = |title: &str| ItemInput {
        title: title.into(),
        section: None,
        language: None,
        key: None,
        body: "Text.".into(),
        author: EDITOR.into(),
    };
    publications
        .add_item(nightly, item("One"))
        .await
        .expect("item");
    publications.run_due(first).await;
    publications
        .add_item(nightly, item("Two"))
        .await
        .expect("item");
    publications.run_due(first + 3_600_000).await;
    let built = editions(&h, "nightly").await;
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(built[0].state, "sent", "auto approval sends at once");
}

/// A clock whose next `armed` readings fail, as a bug in the scheduler would.
struct FailingClock {
    time: ManualClock,
    armed: AtomicUsize,
}

impl Clock for FailingClock {
    fn now_ms(&self) -> i64 {
        let failing = self
            .armed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        assert!(!failing, "injected failure of the scheduler");
        self.time.now_ms()
    }
}

/// The scheduler fails twice (its clock panics): the daemon starts it again each time,
/// postings are delivered meanwhile, and the scheduler started again builds the edition
/// that falls due.
async fn a_failing_scheduler_is_started_again_while_deliveries_go_on(db: &TestDb) {
    let clock = Arc::new(FailingClock {
        time: ManualClock::new(MARCH - DAY),
        armed: AtomicUsize::new(0),
    });
    let h = Harness::start_with_clock(db, with_publications, Arc::clone(&clock) as _).await;
    h.daemon.publications.run_due(MARCH - DAY).await;
    add_item(&h, "en", "k1", "Story").await;

    clock.armed.store(2, Ordering::SeqCst);
    let failing = &clock;
    let failed =
        eventually(|| async move { (failing.armed.load(Ordering::SeqCst) == 0).then_some(()) })
            .await;
    assert!(failed.is_some(), "the scheduler did not fail twice");
    h.subscribe("open", &[READER]).await;
    let open = format!("open@{DOMAIN}");
    h.write("p@ngo.example", &open, "Meanwhile", "Hello\r\n")
        .await;
    assert_eq!(h.received_by(READER).len(), 1, "delivery went on");

    clock.time.set(MARCH);
    let built = first_editions(&h).await;
    assert_eq!(built.len(), 1, "the scheduler runs again: {built:?}");
    assert_eq!(built[0].scheduled_at, MARCH);
    h.daemon.shutdown().await;
}

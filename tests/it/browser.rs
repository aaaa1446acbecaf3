//! The web console end to end, in a real headless chromium (Debian's `chromium` driven by
//! its `chromedriver` over WebDriver, see `common::chromium`) against the real daemon with
//! its HTTP listener, relaying to the test SMTP sink. The browser runs with JavaScript off,
//! as the console must work without it, and reaches the daemon on loopback by the address
//! the daemon puts in its links and forms (`base_url`).
//!
//! Without chromium and chromedriver each test says plainly that it was skipped, except in
//! CI (`CI` set), where `.ci/run` installs them and their absence is a failure.
//!
//! - A moderator signs in by the emailed link, finds the held posting from the home page,
//!   approves it, and the members receive it; then signs out, and the console asks for
//!   an address again (on SQLite and PostgreSQL).
//! - The main pages (sign-in form, home, held queue, held posting) in English and in
//!   Arabic, at desktop and phone width, saved under `target/screenshots/console/` for a
//!   person to look at; every one is checked for fields without a label, for content
//!   wider than the window or sticking out of the page's frame, and for text with too
//!   little contrast against its background.
//!
//! Scenarios to add here once their pages exist, a few lines each with the helpers of
//! `common::chromium` (`sign_in_as`, `fill`, `press`, `follow`, `text_of_page`,
//! `screenshot`):
//!
//! - an editor adds an item to a publication's next edition, opens its preview, approves
//!   the edition, and the subscribers receive it;
//! - an owner finds one address among 100,000 members with the roster's search;
//! - a member leaves a list from the self-service page, and receives no more postings.

use std::time::Instant;

use crate::common::browser::{subscribe, wait_for_mail};
use crate::common::chromium::{available, Chromium, DESKTOP, PHONE};
use crate::common::process::free_port;
use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(a_moderator_approves_a_held_posting_and_signs_out);

const MODERATOR: &str = "mod@coalition.test.example";
/// A second moderator of `forum`, a member of it whose language is Arabic.
const ARABIC_MODERATOR: &str = "mod-ar@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";
const READER: &str = "reader@ngo.example";
const SUBJECT: &str = "Meeting notes for the coalition";

/// The daemon, its web listener on a loopback port known before it starts, so that
/// `base_url` (which every link and form action is built from) points the browser at it.
async fn daemon(db: &TestDb) -> (Harness, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let listen = base.trim_start_matches("http://").to_string();
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "http_listen = \"127.0.0.1:0\"",
            &format!("http_listen = \"{listen}\""),
        )
        .replace(
            &format!("base_url = \"https://{DOMAIN}\""),
            &format!("base_url = \"{base}\""),
        )
        .replace(
            &format!("moderators = [\"{MODERATOR}\"]"),
            &format!("moderators = [\"{MODERATOR}\", \"{ARABIC_MODERATOR}\"]"),
        )
    })
    .await;
    (h, base)
}

/// A posting from a member to the moderated `forum`, held for its moderators.
async fn hold_a_posting(h: &Harness) {
    h.subscribe("forum", &[AUTHOR, READER]).await;
    let to = format!("forum@{DOMAIN}");
    let body = "Dear all,\r\n\r\nThe notes of Tuesday's meeting follow.\r\n";
    h.send(AUTHOR, &to, &message(AUTHOR, &to, SUBJECT, body))
        .await;
    assert!(h.queue_drained().await, "the queue did not drain");
    assert_eq!(h.held_reasons().await.len(), 1, "the posting is held");
}

async fn a_moderator_approves_a_held_posting_and_signs_out(db: &TestDb) {
    if !available("browser::a_moderator_approves_a_held_posting_and_signs_out") {
        return;
    }
    let started = Instant::now();
    let (h, base) = daemon(db).await;
    hold_a_posting(&h).await;
    let browser = Chromium::start(&base, "en").await;

    browser.sign_in_as(&h, MODERATOR, 1).await;
    let home = browser.text_of_page().await;
    assert!(home.contains(MODERATOR), "{home}");
    assert!(home.contains("Moderated Forum (forum): 1 held"), "{home}");

    browser.follow("Moderated Forum").await;
    assert_eq!(browser.path().await, "/console/lists/forum/held");
    assert!(browser.text_of_page().await.contains(AUTHOR));
    browser.follow(SUBJECT).await;
    let posting = browser.text_of_page().await;
    assert!(
        posting.contains("The notes of Tuesday's meeting follow."),
        "{posting}"
    );
    assert!(
        h.received_by(READER).is_empty(),
        "nothing sent before approval"
    );

    browser.press("Approve: send it to the list").await;
    let decided = browser.text_of_page().await;
    assert!(decided.contains("Decision recorded"), "{decided}");
    assert!(wait_for_mail(&h, READER, 1).await, "the members receive it");
    assert!(h.received_by(READER)[0]
        .subject()
        .is_some_and(|s| s.contains(SUBJECT)));
    assert!(h.held_reasons().await.is_empty(), "nothing held any more");

    browser.follow("Back to the held postings").await;
    assert!(browser
        .text_of_page()
        .await
        .contains("No posting waits here."));

    browser.open("/console").await;
    browser.press("Sign out").await;
    assert!(browser.text_of_page().await.contains("You are signed out"));
    browser.open("/console").await;
    let after = browser.text_of_page().await;
    assert!(after.contains("Sign in to the web console"), "{after}");
    assert!(!after.contains(MODERATOR), "{after}");

    browser.quit().await;
    eprintln!(
        "browser::a_moderator_approves_a_held_posting_and_signs_out ({}): {:.1} s",
        db.kind,
        started.elapsed().as_secs_f64()
    );
}

/// Saves `page` at desktop and phone width, and adds what is wrong with it to `problems`.
async fn shoot(browser: &Chromium, page: &str, problems: &mut Vec<String>) {
    let language = browser.language();
    for (width, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
        let name = format!("{language}-{page}-{width}");
        problems.extend(browser.screenshot(&name, size).await);
    }
}

/// The main pages as `address` sees them in a browser asking for `language`.
async fn pages_in(h: &Harness, base: &str, language: &str, address: &str) -> Vec<String> {
    let browser = Chromium::start(base, language).await;
    let mut problems = Vec::new();
    // Typed in and focused: the address's direction and the focus outline show.
    browser.open("/console/sign-in").await;
    browser.fill("address", address).await;
    shoot(&browser, "sign-in", &mut problems).await;
    browser.sign_in_as(h, address, 1).await;
    shoot(&browser, "home", &mut problems).await;
    browser.follow("Moderated Forum").await;
    shoot(&browser, "held-queue", &mut problems).await;
    browser.follow(SUBJECT).await;
    shoot(&browser, "held-posting", &mut problems).await;
    browser.quit().await;
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_in_english_and_arabic_at_desktop_and_phone_width() {
    if !available("browser::console_pages_in_english_and_arabic_at_desktop_and_phone_width") {
        return;
    }
    let started = Instant::now();
    let db = TestDb::sqlite();
    let (h, base) = daemon(&db).await;
    subscribe(&h, "forum", ARABIC_MODERATOR, "ar").await;
    hold_a_posting(&h).await;

    let mut problems = pages_in(&h, &base, "en", MODERATOR).await;
    problems.extend(pages_in(&h, &base, "ar", ARABIC_MODERATOR).await);
    assert!(problems.is_empty(), "{problems:#?}");

    eprintln!(
        "browser::console_pages_in_english_and_arabic_at_desktop_and_phone_width: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    db.cleanup().await;
}

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
//! - An editor signs in, opens the Bulletin from the home page, writes an item in Markdown,
//!   previews it (the rendered text in its frame), adds it, asks for a special edition and
//!   confirms, sees the edition's preview in its frame, approves it, and the subscribers
//!   receive it (on SQLite and PostgreSQL).
//! - A member signs in, opens their own page from the home page, leaves one of their two
//!   lists by its "Leave" button, receives the goodbye notice, and a posting to that list
//!   afterwards reaches its members but not them (on SQLite and PostgreSQL).
//! - An owner of a list of 100,000 members (imported 5,000 at a time, within five minutes)
//!   opens its roster, types one address in the search field, and sees that member alone,
//!   then opens their page; the search page's load time is printed, not asserted (on
//!   SQLite and PostgreSQL).
//! - The pages (sign-in form, home, held queue, held posting, an item's form with its
//!   preview, a publication, an edition waiting for approval, the member's own page, the
//!   audit trail, a list's roster and a search in it) in English and in Arabic, at desktop
//!   and phone width, saved under `target/screenshots/console/` for a person to look at;
//!   every one is checked for fields without a label, for content wider than the window
//!   or sticking out of the page's frame, and for text with too little contrast against
//!   its background.

use std::time::{Duration, Instant};

use crate::common::browser::{subscribe, wait_for_mail};
use crate::common::chromium::{available, Chromium, DESKTOP, PHONE};
use crate::common::process::free_port;
use crate::common::{message, Harness, TestDb, BULLETIN, DOMAIN, EDITOR};
use tidings::store::ImportLine;

on_both_databases!(
    a_moderator_approves_a_held_posting_and_signs_out,
    an_editor_writes_an_item_and_approves_a_special_edition,
    a_member_leaves_a_list_from_their_own_page,
    an_owner_finds_one_address_among_100_000_members,
);

const MODERATOR: &str = "mod@coalition.test.example";
/// A second moderator of `forum`, a member of it whose language is Arabic.
const ARABIC_MODERATOR: &str = "mod-ar@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";
const READER: &str = "reader@ngo.example";
const SUBJECT: &str = "Meeting notes for the coalition";

/// The daemon, its web listener on a loopback port known before it starts, so that
/// `base_url` (which every link and form action is built from) points the browser at it.
/// The Bulletin is published, edited by [`EDITOR`] and both moderators, who are also
/// admins (and so read the whole audit trail).
async fn daemon(db: &TestDb) -> (Harness, String) {
    let base = format!("http://127.0.0.1:{}", free_port());
    let listen = base.trim_start_matches("http://").to_string();
    let h = Harness::start_with(db, |toml| {
        let bulletin = BULLETIN.replace(
            &format!("editors = [\"{EDITOR}\"]"),
            &format!("editors = [\"{EDITOR}\", \"{MODERATOR}\", \"{ARABIC_MODERATOR}\"]"),
        );
        let admins = format!("\n[web]\nadmins = [\"{MODERATOR}\", \"{ARABIC_MODERATOR}\"]\n");
        (toml + &bulletin + &admins)
            .replace(
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

const SUBSCRIBER: &str = "subscriber@ngo.example";
const STORY: &str = "The Court rules for the coalition";

async fn an_editor_writes_an_item_and_approves_a_special_edition(db: &TestDb) {
    if !available("browser::an_editor_writes_an_item_and_approves_a_special_edition") {
        return;
    }
    let started = Instant::now();
    let (h, base) = daemon(db).await;
    h.subscribe("bulletin", &[SUBSCRIBER]).await;
    let browser = Chromium::start(&base, "en").await;

    browser.sign_in_as(&h, EDITOR, 1).await;
    // The home page links the publication's held postings under its title too.
    browser
        .follow_under("Publications you edit", "The Bulletin")
        .await;
    assert_eq!(browser.path().await, "/console/publications/bulletin");
    assert!(browser.text_of_page().await.contains("No item is waiting."));

    // Written, previewed as the edition renders Markdown, then saved.
    browser.follow("Write a new item").await;
    browser.fill("Title", STORY).await;
    browser
        .fill("Text", "The ruling is *final*.\n\nRead it **today**.")
        .await;
    browser.press("Preview").await;
    let preview = browser.text_of_frame("Preview").await;
    assert!(
        preview.contains("The ruling is final.") && preview.contains("Read it today."),
        "{preview}"
    );
    assert!(
        !preview.contains('*'),
        "the Markdown is rendered: {preview}"
    );
    browser.press("Add the item").await;
    assert_eq!(browser.path().await, "/console/publications/bulletin");
    assert!(browser.text_of_page().await.contains(STORY));

    // A special edition, asked for and confirmed; its preview, then approved.
    browser.follow("Build a special edition now").await;
    assert!(browser.text_of_page().await.contains(STORY));
    browser.press("Build the edition now").await;
    let edition = browser.path().await;
    assert!(
        edition.starts_with("/console/publications/bulletin/editions/"),
        "{edition}"
    );
    let framed = browser
        .text_of_frame("The edition in English, as formatted")
        .await;
    assert!(framed.contains(STORY), "{framed}");
    assert!(
        h.received_by(SUBSCRIBER).is_empty(),
        "nothing sent before approval"
    );
    browser
        .press("Approve: send it to the subscribers now")
        .await;
    let approved = browser.text_of_page().await;
    assert!(approved.contains("Edition approved"), "{approved}");
    assert!(
        wait_for_mail(&h, SUBSCRIBER, 1).await,
        "the subscribers receive it"
    );
    let sent = h.received_by(SUBSCRIBER)[0]
        .body_text(0)
        .unwrap_or_default()
        .to_string();
    assert!(
        sent.contains(STORY) && sent.contains("The ruling is"),
        "{sent}"
    );

    browser.quit().await;
    eprintln!(
        "browser::an_editor_writes_an_item_and_approves_a_special_edition ({}): {:.1} s",
        db.kind,
        started.elapsed().as_secs_f64()
    );
}

const MEMBER: &str = "member@ngo.example";

async fn a_member_leaves_a_list_from_their_own_page(db: &TestDb) {
    if !available("browser::a_member_leaves_a_list_from_their_own_page") {
        return;
    }
    let started = Instant::now();
    let (h, base) = daemon(db).await;
    h.subscribe("team", &[MEMBER, AUTHOR, READER]).await;
    h.subscribe("news", &[MEMBER]).await;
    let browser = Chromium::start(&base, "en").await;

    browser.sign_in_as(&h, MEMBER, 1).await;
    browser.follow("Manage your subscriptions").await;
    assert_eq!(browser.path().await, "/console/account");
    let page = browser.text_of_page().await;
    assert!(
        page.contains("Gender Team") && page.contains("Coalition News"),
        "{page}"
    );
    let before = h.received_by(MEMBER).len();

    // Each "Leave" button is named after its list for screen readers.
    browser.press("Leave Gender Team").await;
    let left = browser.text_of_page().await;
    assert!(left.contains("You left the list"), "{left}");
    assert!(!h.is_subscribed("team", MEMBER).await);
    assert!(
        h.is_subscribed("news", MEMBER).await,
        "the other list stays"
    );
    assert!(
        wait_for_mail(&h, MEMBER, before + 1).await,
        "the goodbye notice"
    );
    let goodbye = h.received_by(MEMBER).pop().expect("goodbye");
    assert!(
        goodbye.subject().is_some_and(|s| s.contains("Gender Team")),
        "{:?}",
        goodbye.subject()
    );

    // A posting to the list afterwards reaches its members, and not her.
    let to = format!("team@{DOMAIN}");
    h.write_proven(AUTHOR, &to, SUBJECT, "Dear all,\r\n").await;
    assert!(wait_for_mail(&h, READER, 1).await, "the posting is relayed");
    assert!(h.queue_drained().await, "the queue did not drain");
    assert_eq!(
        h.received_by(MEMBER).len(),
        before + 1,
        "nothing more for her"
    );

    browser.quit().await;
    eprintln!(
        "browser::a_member_leaves_a_list_from_their_own_page ({}): {:.1} s",
        db.kind,
        started.elapsed().as_secs_f64()
    );
}

const OWNER: &str = "owner@coalition.test.example";
/// Members seeded in the roster scenario.
const ROSTER: usize = 100_000;

/// `count` members of `list`, imported 5,000 at a time, as `tidings import` does; the whole
/// bounded in time.
async fn seed(h: &Harness, list: &str, count: usize) {
    let members: Vec<ImportLine> = (0..count)
        .map(|i| ImportLine {
            address: format!("member{i:06}@roster.example"),
            display_name: format!("Member {i}"),
            language: "en".into(),
        })
        .collect();
    let import = async {
        for chunk in members.chunks(5_000) {
            h.daemon
                .store
                .import_members(list, chunk)
                .await
                .expect("imported");
        }
    };
    tokio::time::timeout(Duration::from_secs(300), import)
        .await
        .expect("100,000 members imported within 5 minutes");
}

async fn an_owner_finds_one_address_among_100_000_members(db: &TestDb) {
    if !available("browser::an_owner_finds_one_address_among_100_000_members") {
        return;
    }
    let started = Instant::now();
    let (h, base) = daemon(db).await;
    seed(&h, "news", ROSTER).await;
    let seeded = started.elapsed();
    let browser = Chromium::start(&base, "en").await;

    browser.sign_in_as(&h, OWNER, 1).await;
    let home = browser.text_of_page().await;
    assert!(home.contains("Coalition News"), "{home}");
    browser.open("/console/lists/news/members").await;
    let roster = browser.text_of_page().await;
    assert!(
        roster.contains(&format!("{ROSTER} members of news")),
        "{roster}"
    );

    let wanted = "member054321@roster.example";
    browser.fill("Search by address or name", wanted).await;
    let searching = Instant::now();
    browser.press("Search").await;
    let search_took = searching.elapsed();
    let found = browser.text_of_page().await;
    assert!(found.contains("1 members match"), "{found}");
    assert_eq!(
        found.matches("@roster.example").count(),
        2,
        "the search and its one row: {found}"
    );
    browser.follow(wanted).await;
    assert!(browser.text_of_page().await.contains(wanted));

    browser.quit().await;
    eprintln!(
        "browser::an_owner_finds_one_address_among_100_000_members ({}): seeded {ROSTER} members in {:.1} s, search page loaded in {} ms, {:.1} s in all",
        db.kind,
        seeded.as_secs_f64(),
        search_took.as_millis(),
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

/// What a person writes and presses on the editors' pages, in `language`: an item's title
/// and text, the buttons to preview and add it, to build an edition and to approve it.
fn editing_words(language: &str) -> [&'static str; 6] {
    match language {
        "ar" => [
            // The Bulletin is published in English, French and Spanish: the item is in
            // English, its form around it in Arabic.
            "Regional meeting in Amman",
            "The coalition meets in *Amman* on 12 March.\n\nRegister **before** 1 March.",
            "معاينة",
            "إضافة المادة",
            "إعداد العدد الآن",
            "الموافقة: إرساله إلى المشتركين الآن",
        ],
        _ => [
            STORY,
            "The ruling is *final* and cannot be appealed.\n\nRead it **today** on the court's site.",
            "Preview",
            "Add the item",
            "Build the edition now",
            "Approve: send it to the subscribers now",
        ],
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

    // The editors' pages: an item previewed, then saved, an edition built and approved.
    let [title, text, preview, add, build, approve] = editing_words(language);
    browser
        .open("/console/publications/bulletin/items/new")
        .await;
    browser.fill("title", title).await;
    browser.fill("body", text).await;
    browser.press(preview).await;
    shoot(&browser, "item-preview", &mut problems).await;
    browser.press(add).await;
    shoot(&browser, "publication", &mut problems).await;
    browser.open("/console/publications/bulletin/build").await;
    browser.press(build).await;
    shoot(&browser, "edition", &mut problems).await;
    browser.press(approve).await;

    // The member's own page, and the trail of the decisions taken above.
    browser.open("/console/account").await;
    shoot(&browser, "account", &mut problems).await;
    browser.open("/console/audit").await;
    shoot(&browser, "audit", &mut problems).await;

    // A list's roster, and a search in it.
    browser.open("/console/lists/news/members").await;
    shoot(&browser, "roster", &mut problems).await;
    browser.fill("q", "mod").await;
    browser
        .press(if language == "ar" { "بحث" } else { "Search" })
        .await;
    shoot(&browser, "roster-search", &mut problems).await;
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
    subscribe(&h, "news", ARABIC_MODERATOR, "ar").await;
    subscribe(&h, "news", MODERATOR, "en").await;
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

//! The lists' archives, on both databases:
//!
//! - every posting is kept as its members received it, in the transaction that queues their
//!   copies, once per Message-ID; a public list's copies name the archive (`List-Archive`)
//!   and their own page in it (`Archived-At`), a confidential list's neither;
//! - who reads what: a public list's pages are open to anyone; a confidential list's answer
//!   its members, owners and admins, and the same 404 as a list that does not exist to
//!   everyone else (signed out, or a member of another list), with `noindex`;
//! - a realistic mbox (`tests/fixtures/archive/team-2026.mbox`: replies with References, a
//!   reply with In-Reply-To alone, one that only repeats the subject, mboxo quoting, an
//!   attachment, an HTML part) imported twice by `tidings archive import` adds each message
//!   once, and its threads, months, search, mbox, HTML and attachment are as they should be;
//! - owners remove a message with the page's form, and the audit trail says who; a member
//!   cannot, and an import does not bring it back;
//! - a thread page in a real headless chromium, saved under `target/screenshots/console/`.

use std::path::Path;
use std::process::Command;

use crate::common::browser::{Answer, Browser};
use crate::common::chromium::{available, Chromium, DESKTOP, PHONE};
use crate::common::process::free_port;
use crate::common::{message, Harness, TestDb, DOMAIN};
use tidings::links::archive_key;
use tidings::list_archive::threads::arranged;
use tidings::store::{AuditScope, Store};

on_both_databases!(
    postings_are_archived_and_only_public_copies_say_where,
    the_archive_is_read_by_those_it_is_for,
    an_imported_mbox_makes_threads_months_and_search,
    owners_remove_messages_and_the_trail_says_who,
    a_thread_in_a_real_browser,
);

/// A member of `team` and `open`.
const TEAMMATE: &str = "teammate@ngo.example";
/// A member of `open` only.
const OUTSIDER: &str = "outsider@ngo.example";
/// An owner of `team`.
const CHAIR: &str = "chair@coalition.test.example";
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/archive/team-2026.mbox"
);

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

fn header(answer: &Answer, name: &str) -> String {
    answer
        .head
        .lines()
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

/// The path of an absolute URL of the daemon.
fn path(url: &str) -> String {
    url.strip_prefix(&format!("https://{DOMAIN}"))
        .unwrap_or(url)
        .to_string()
}

/// Imports the fixture into `list`'s archive with the library's import, as the CLI does.
async fn import_fixture(store: &Store, list: &str) {
    let bytes = std::fs::read(FIXTURE).expect("the fixture");
    let done = tidings::list_archive::import::import(store, list, &bytes)
        .await
        .expect("import");
    assert_eq!(done.read, 7, "{done:?}");
}

/// The archive's pages of `list` for its first (or only) message: the list, its month,
/// the thread, the message, a search, the month's mbox and the feed.
async fn pages_of(store: &Store, list: &str) -> Vec<String> {
    let month = store.archive_months(list).await.expect("months")[0]
        .0
        .clone();
    let head = store.archive_month(list, &month).await.expect("month")[0].clone();
    vec![
        format!("/archive/{list}/"),
        format!("/archive/{list}/{month}/"),
        format!("/archive/{list}/thread/{}", head.thread_key),
        format!("/archive/{list}/message/{}", head.message_key),
        format!("/archive/{list}/search?q=news"),
        format!("/archive/{list}/{month}/mbox"),
    ]
}

async fn the_archive_is_read_by_those_it_is_for(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &[TEAMMATE, OUTSIDER]).await;
    h.subscribe("team", &[TEAMMATE]).await;
    h.write(
        TEAMMATE,
        &format!("open@{DOMAIN}"),
        "Public news",
        "For everyone.\r\n",
    )
    .await;
    h.write_proven(
        TEAMMATE,
        &format!("team@{DOMAIN}"),
        "Team news",
        "For the team.\r\n",
    )
    .await;
    let store = &h.daemon.store;

    let mut signed_out = Browser::new(&h);
    let mut outsider = Browser::new(&h);
    outsider.sign_in(&h, OUTSIDER, 1).await;
    let mut teammate = Browser::new(&h);
    teammate.sign_in(&h, TEAMMATE, 1).await;
    let mut chair = Browser::new(&h);
    chair.sign_in(&h, CHAIR, 1).await;

    // A public list: open to everyone, its feed too, and nobody but owners sees the
    // removal form.
    let public = pages_of(store, "open").await;
    for (who, browser) in [
        ("signed out", &mut signed_out),
        ("outsider", &mut outsider),
        ("teammate", &mut teammate),
        ("chair", &mut chair),
    ] {
        for page in public.iter().chain([&"/archive/open/feed.xml".to_string()]) {
            let answer = browser.request("GET", page, "").await;
            assert_eq!(answer.status, 200, "{who} {page}: {}", answer.body);
            assert!(header(&answer, "x-robots-tag").is_empty(), "{who} {page}");
        }
        let message = browser.request("GET", &public[3], "").await;
        assert!(!message.body.contains("/remove"), "{who}: {}", message.body);
    }
    let feed = signed_out
        .request("GET", "/archive/open/feed.xml", "")
        .await;
    assert!(
        feed.body.contains("<title>Public news</title>"),
        "{}",
        feed.body
    );

    // A confidential list: its members and owners read it; to anyone else it is a list
    // that does not exist.
    let confidential = pages_of(store, "team").await;
    let nowhere = signed_out
        .request("GET", "/archive/no-such-list/", "")
        .await;
    assert_eq!(nowhere.status, 404);
    for (who, browser) in [("signed out", &mut signed_out), ("outsider", &mut outsider)] {
        for page in &confidential {
            let answer = browser.request("GET", page, "").await;
            assert_eq!(answer.status, 404, "{who} {page}: {}", answer.body);
            assert!(!answer.body.contains("Team news"), "{who} {page}");
            assert!(!answer.body.contains("Gender Team"), "{who} {page}");
        }
        let list = browser.request("GET", "/archive/team/", "").await;
        let unknown = browser.request("GET", "/archive/no-such-list/", "").await;
        assert_eq!(
            list.body, unknown.body,
            "{who}: the same page as for no list"
        );
        let index = browser.request("GET", "/archive/", "").await;
        assert_eq!(index.status, 200);
        assert!(index.body.contains("/archive/open/"), "{}", index.body);
        assert!(
            !index.body.contains("/archive/team/"),
            "{who}: {}",
            index.body
        );
    }
    for (who, browser) in [("teammate", &mut teammate), ("chair", &mut chair)] {
        for page in &confidential {
            let answer = browser.request("GET", page, "").await;
            assert_eq!(answer.status, 200, "{who} {page}: {}", answer.body);
            assert_eq!(
                header(&answer, "x-robots-tag"),
                "noindex, nofollow",
                "{who} {page}"
            );
        }
        let list = browser.request("GET", &confidential[0], "").await;
        assert!(list.body.contains("noindex"), "{}", list.body);
        let message = browser.request("GET", &confidential[3], "").await;
        assert!(message.body.contains("Team news"), "{}", message.body);
        let index = browser.request("GET", "/archive/", "").await;
        assert!(
            index.body.contains("/archive/team/"),
            "{who}: {}",
            index.body
        );
        // No feed: feed readers do not sign in.
        let feed = browser.request("GET", "/archive/team/feed.xml", "").await;
        assert_eq!(feed.status, 404, "{who}");
    }
    let owner_view = chair.request("GET", &confidential[3], "").await;
    assert!(owner_view.body.contains("/remove"), "{}", owner_view.body);
    let member_view = teammate.request("GET", &confidential[3], "").await;
    assert!(
        !member_view.body.contains("/remove"),
        "{}",
        member_view.body
    );
}

/// Runs the `tidings` binary on `db`.
fn tidings(config: &Path, db: &TestDb, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("TIDINGS_LOG", "warn")
        .output()
        .expect("tidings runs")
}

async fn an_imported_mbox_makes_threads_months_and_search(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[TEAMMATE]).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("tidings.toml");
    std::fs::write(&config, &h.toml).expect("config");
    for (round, expected) in [
        (
            1,
            "team: 7 messages read, 7 added, 0 already in the archive, 0 unreadable",
        ),
        (
            2,
            "team: 7 messages read, 0 added, 7 already in the archive, 0 unreadable",
        ),
    ] {
        let output = tidings(&config, db, &["archive", "import", "team", FIXTURE]);
        assert!(output.status.success(), "round {round}: {output:?}");
        let said = String::from_utf8_lossy(&output.stdout);
        assert_eq!(said.trim(), expected, "round {round}");
    }
    let not_mbox = dir.path().join("members.csv");
    std::fs::write(&not_mbox, "address\nana@ngo.example\n").expect("write");
    let refused = tidings(
        &config,
        db,
        &[
            "archive",
            "import",
            "team",
            not_mbox.to_str().expect("path"),
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not an mbox file"));
    let store = &h.daemon.store;
    assert_eq!(store.archive_count("team").await.expect("count"), 7);
    assert_eq!(
        store.archive_months("team").await.expect("months"),
        [("2026-04".to_string(), 1), ("2026-03".to_string(), 6)]
    );

    // One thread: answers by References, by In-Reply-To alone, and by subject alone.
    let agenda = archive_key("agenda-nairobi@ngo-a.example");
    let thread = store.archive_thread("team", &agenda).await.expect("thread");
    let order: Vec<(usize, String)> = arranged(&thread)
        .into_iter()
        .map(|(depth, head)| (depth, head.author_address.clone()))
        .collect();
    assert_eq!(
        order,
        [
            (0, "amina.diallo@ngo-a.example".to_string()),
            (1, "jose.ramirez@ngo-b.example".to_string()),
            (2, "amina.diallo@ngo-a.example".to_string()),
            (1, "li.wei@ngo-c.example".to_string()),
            (2, "fatima.zahra@ngo-d.example".to_string()),
        ]
    );
    let budget = archive_key("DB9PR01MB5678@ngo-d.example");
    assert_eq!(
        store
            .archive_thread("team", &budget)
            .await
            .expect("thread")
            .len(),
        1
    );

    // Search: subjects, authors (accents folded) and texts, every word, as prefixes.
    let found = |words: &'static str| async move {
        let words = tidings::list_archive::words::words(words);
        let mut subjects: Vec<String> = store
            .search_archive("team", &words, 100)
            .await
            .expect("search")
            .into_iter()
            .map(|head| format!("{} {}", head.author_address, head.subject))
            .collect();
        subjects.sort();
        subjects
    };
    assert_eq!(found("nairobi").await.len(), 5);
    assert_eq!(
        found("dial details").await,
        ["li.wei@ngo-c.example Re: Agenda for the Nairobi meeting"]
    );
    assert_eq!(found("José").await.len(), 1);
    assert_eq!(found("ramirez timeline").await.len(), 1);
    assert_eq!(
        found("budget 2027").await,
        ["fatima.zahra@ngo-d.example [Team] Budget 2027 draft"]
    );
    assert_eq!(
        found("consult").await.len(),
        1,
        "a word finds the words it begins"
    );
    assert_eq!(found("geneva abortion").await.len(), 1);
    assert!(found("nairobi geneva").await.is_empty());
    assert!(found("").await.is_empty());

    // The same over HTTP, for a member.
    let mut member = Browser::new(&h);
    member.sign_in(&h, TEAMMATE, 1).await;
    let search = member
        .request("GET", "/archive/team/search?q=dial+details", "")
        .await;
    assert_eq!(search.status, 200);
    assert!(search.body.contains("Li Wei"), "{}", search.body);
    assert!(!search.body.contains("Budget"), "{}", search.body);
    let thread_page = member
        .request("GET", &format!("/archive/team/thread/{agenda}"), "")
        .await;
    assert_eq!(thread_page.status, 200);
    for said in [
        "Here is the draft agenda",
        "José Ramírez",
        "item 1b",
        "dial-in",
        "lost the thread",
    ] {
        assert!(
            thread_page.body.contains(said),
            "{said}: {}",
            thread_page.body
        );
    }
    assert!(
        thread_page.body.contains("margin-inline-start: 2.5rem"),
        "depth 2 is indented"
    );
    let month = member.request("GET", "/archive/team/2026-03/", "").await;
    assert!(
        month.body.contains("6 messages in 2 threads"),
        "{}",
        month.body
    );

    // The month's mbox: mboxrd, every message once, "From " quoted.
    let mbox = member
        .request("GET", "/archive/team/2026-03/mbox", "")
        .await;
    assert_eq!(mbox.status, 200);
    assert!(header(&mbox, "content-disposition").contains("team-2026-03.mbox"));
    assert_eq!(mbox.body.matches("\nFrom ").count() + 1, 6, "{}", mbox.body);
    assert!(
        mbox.body.contains("\n>From the secretariat's side"),
        "{}",
        mbox.body
    );
    assert_eq!(
        tidings::list_archive::mbox::split(mbox.body.as_bytes()).len(),
        6
    );

    // HTML is cleaned and framed; attachments are downloads.
    let geneva = archive_key("geneva-report@ngo-a.example");
    let page = member
        .request("GET", &format!("/archive/team/message/{geneva}"), "")
        .await;
    assert!(
        page.body
            .contains(&format!("/archive/team/message/{geneva}/html")),
        "{}",
        page.body
    );
    let html = member
        .request("GET", &format!("/archive/team/message/{geneva}/html"), "")
        .await;
    assert_eq!(html.status, 200);
    assert!(html.body.contains("<b>Geneva session</b>"), "{}", html.body);
    for gone in ["script", "tracker.example"] {
        assert!(!html.body.contains(gone), "{gone}: {}", html.body);
    }
    assert!(header(&html, "content-security-policy").contains("sandbox"));
    let attachment = member
        .request(
            "GET",
            &format!("/archive/team/message/{budget}/attachments/0"),
            "",
        )
        .await;
    assert_eq!(attachment.status, 200);
    assert_eq!(
        header(&attachment, "content-disposition"),
        "attachment; filename=\"budget-2027.csv\""
    );
    assert_eq!(header(&attachment, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&attachment, "content-type"),
        "application/octet-stream"
    );
    assert!(attachment.body.contains("consultations,12000"));
}

async fn owners_remove_messages_and_the_trail_says_who(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[TEAMMATE]).await;
    let store = &h.daemon.store;
    import_fixture(store, "team").await;
    let budget = archive_key("DB9PR01MB5678@ngo-d.example");
    let page = format!("/archive/team/message/{budget}");

    // A member sees no form, and a removal they forge is refused like any unknown page.
    let mut member = Browser::new(&h);
    member.sign_in(&h, TEAMMATE, 1).await;
    let seen = member.request("GET", &page, "").await;
    assert!(!seen.body.contains("/remove"));
    let csrf = member
        .cookies
        .get("tidings_form")
        .cloned()
        .unwrap_or_default();
    let forged = member
        .request("POST", &format!("{page}/remove"), &format!("csrf={csrf}"))
        .await;
    assert!(matches!(forged.status, 403 | 404), "{}", forged.status);

    let mut chair = Browser::new(&h);
    chair.sign_in(&h, CHAIR, 1).await;
    let without_token = chair.request("POST", &format!("{page}/remove"), "").await;
    assert_eq!(without_token.status, 403);
    let form = chair.request("GET", &page, "").await;
    assert!(form.body.contains("/remove"), "{}", form.body);
    let removed = chair
        .request(
            "POST",
            &format!("{page}/remove"),
            &format!("csrf={}", form.csrf()),
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(path(&removed.location()), "/archive/team/");

    assert_eq!(chair.request("GET", &page, "").await.status, 404);
    assert_eq!(member.request("GET", &page, "").await.status, 404);
    assert_eq!(store.archive_count("team").await.expect("count"), 6);
    assert_eq!(
        store.archive_months("team").await.expect("months"),
        [("2026-04".to_string(), 1), ("2026-03".to_string(), 5)]
    );
    let words = tidings::list_archive::words::words("budget 2027");
    assert!(store
        .search_archive("team", &words, 10)
        .await
        .expect("search")
        .is_empty());
    let month = chair.request("GET", "/archive/team/2026-03/", "").await;
    assert!(!month.body.contains("Budget 2027"), "{}", month.body);

    let trail = store
        .audit_page(AuditScope::Of("team"), 10, 0)
        .await
        .expect("trail");
    let event = trail
        .iter()
        .find(|e| e.action == "archive.remove")
        .expect("the removal is in the audit trail");
    assert_eq!(event.actor, CHAIR);
    assert_eq!(event.channel, "web");
    assert_eq!(
        event.object.as_deref(),
        Some(format!("archived message {budget}").as_str())
    );

    // An import of the same file does not bring it back.
    let bytes = std::fs::read(FIXTURE).expect("the fixture");
    let again = tidings::list_archive::import::import(store, "team", &bytes)
        .await
        .expect("import");
    assert_eq!(again.added, 0);
    assert_eq!(store.archive_count("team").await.expect("count"), 6);
}

async fn a_thread_in_a_real_browser(db: &TestDb) {
    if !available("list_archive::a_thread_in_a_real_browser") {
        return;
    }
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
    })
    .await;
    // A public list, so that the thread is open without signing in.
    import_fixture(&h.daemon.store, "open").await;
    let agenda = archive_key("agenda-nairobi@ngo-a.example");
    let mut problems = Vec::new();
    for language in ["en", "ar"] {
        let browser = Chromium::start(&base, language).await;
        browser
            .open(&format!("/archive/open/thread/{agenda}"))
            .await;
        let text = browser.text_of_page().await;
        assert!(text.contains("Here is the draft agenda"), "{text}");
        assert!(text.contains("dial-in details"), "{text}");
        let db_kind = db.kind;
        problems.extend(
            browser
                .screenshot(
                    &format!("archive-thread-{language}-desktop-{db_kind}"),
                    DESKTOP,
                )
                .await,
        );
        problems.extend(
            browser
                .screenshot(&format!("archive-thread-{language}-phone-{db_kind}"), PHONE)
                .await,
        );
        browser.quit().await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

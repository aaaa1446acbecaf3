//! The web console's pages for a publication's editors, as a browser meets them: the
//! items waiting (created, previewed, changed, withdrawn while no edition carries them), the
//! schedule's next slots in the publication's time zone, a special edition built on
//! request, its preview (the HTML framed apart with its own policy, the text escaped), and
//! its approval or cancellation, once, whichever of the console and a reply by mail comes
//! first. Everyone who does not edit the publication gets the same "not found".

use std::sync::Arc;

use crate::common::browser::{wait_for_mail, Answer, Browser};
use crate::common::{eventually, reply_to, Harness, TestDb, BULLETIN, DOMAIN, EDITOR};
use tidings::publications::clock::ManualClock;
use tidings::store::{ImportLine, Item};

on_both_databases!(
    an_editor_writes_items_builds_previews_and_approves_an_edition,
    an_edition_is_cancelled_or_decided_once_by_mail_or_console,
    only_the_publications_editors_see_anything_of_it,
);

/// 28 February 2027, 08:00 UTC: the day before the Bulletin's March slot.
const FEBRUARY_28: i64 = 1_803_801_600_000;
const MONITOR_EDITOR: &str = "monitor-editor@coalition.test.example";
const ADMIN: &str = "ops@coalition.test.example";
const READER_EN: &str = "reader-en@ngo.example";
const READER_FR: &str = "reader-fr@ngo.example";
const BASE: &str = "/console/publications/bulletin";

fn with_publications(toml: String) -> String {
    toml + BULLETIN
        + r#"
[[publications]]
name = "monitor"
title = "The Monitor"
languages = ["en"]
fallback_language = "en"
schedule = "0 0 9 * * Mon"
time_zone = "America/New_York"
approval = "auto"
editors = ["monitor-editor@coalition.test.example"]

[web]
admins = ["ops@coalition.test.example"]
"#
}

/// The daemon, its scheduler's clock at [`FEBRUARY_28`].
async fn start(db: &TestDb) -> (Harness, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(FEBRUARY_28));
    let h = Harness::start_with_clock(db, with_publications, Arc::clone(&clock) as _).await;
    (h, clock)
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

/// A form body, every value percent-encoded.
fn form(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    fields
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
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

/// The path of the daemon's absolute URL.
fn path(url: &str) -> String {
    url.strip_prefix(&format!("https://{DOMAIN}"))
        .unwrap_or(url)
        .to_string()
}

async fn waiting(h: &Harness) -> Vec<Item> {
    h.daemon
        .store
        .items(Some("bulletin"), true)
        .await
        .expect("items")
}

/// Saves a new item by the form; its id.
async fn new_item(browser: &mut Browser, h: &Harness, csrf: &str, title: &str, lang: &str) -> i64 {
    let body = form(&[
        ("csrf", csrf),
        ("title", title),
        ("language", lang),
        ("section", "News"),
        ("key", "court"),
        ("body", &format!("Text of *{title}*.")),
        ("action", "save"),
    ]);
    let saved = browser
        .request("POST", &format!("{BASE}/items/new"), &body)
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(path(&saved.location()), BASE);
    let items = waiting(h).await;
    items
        .iter()
        .find(|i| i.title == title)
        .map(|i| i.id)
        .expect("the item is stored")
}

/// Builds a special edition by the confirmation form; the edition page's path.
async fn build(browser: &mut Browser, csrf: &str) -> String {
    let confirm = browser.request("GET", &format!("{BASE}/build"), "").await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let built = browser
        .request("POST", &format!("{BASE}/build"), &form(&[("csrf", csrf)]))
        .await;
    assert_eq!(built.status, 303, "{}", built.body);
    let edition = path(&built.location());
    assert!(
        edition.starts_with(&format!("{BASE}/editions/")),
        "{edition}"
    );
    edition
}

async fn decide(browser: &mut Browser, edition: &str, csrf: &str, decision: &str) -> Answer {
    let body = form(&[("csrf", csrf), ("decision", decision)]);
    browser
        .request("POST", &format!("{edition}/decide"), &body)
        .await
}

async fn an_editor_writes_items_builds_previews_and_approves_an_edition(db: &TestDb) {
    let (h, _) = start(db).await;
    subscribe(&h, READER_EN, "en").await;
    subscribe(&h, READER_FR, "fr").await;
    let mut editor = Browser::new(&h);
    editor.sign_in(&h, EDITOR, 1).await;
    let home = editor.home().await;
    assert!(home.body.contains(&format!("{BASE}\"")), "{}", home.body);
    assert!(!home.body.contains("/console/publications/monitor"));
    let csrf = home.csrf();

    // The schedule: the next three slots, in Amsterdam's time and in UTC.
    let page = editor.request("GET", BASE, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for slot in [
        "2027-03-01 09:00 CET (2027-03-01 08:00 UTC)",
        "2027-05-01 09:00 CEST (2027-05-01 07:00 UTC)",
        "2027-07-01 09:00 CEST (2027-07-01 07:00 UTC)",
    ] {
        assert!(page.body.contains(slot), "{slot}: {}", page.body);
    }
    assert!(page.body.contains("Europe/Amsterdam"));
    assert!(page.body.contains("No item is waiting."));
    editor.language = "ar";
    let arabic = editor.request("GET", BASE, "").await;
    assert!(arabic.body.contains("dir=\"rtl\"") && arabic.body.contains("الجدول الزمني"));
    editor.language = "en";

    // A preview renders the Markdown as editions do, and stores nothing.
    let new = editor
        .request("GET", &format!("{BASE}/items/new"), "")
        .await;
    assert_eq!(new.status, 200, "{}", new.body);
    assert!(new.body.contains("<option value=\"fr\""));
    let draft = [
        ("csrf", csrf.as_str()),
        ("title", "The Court <in> 2027"),
        ("language", "en"),
        ("section", "News"),
        ("key", ""),
        (
            "body",
            "Text of *the* <b>story</b>, [a link](javascript:alert(1)).",
        ),
        ("action", "preview"),
    ];
    let preview = editor
        .request("POST", &format!("{BASE}/items/new"), &form(&draft))
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("sandbox srcdoc=\"")
            && preview.body.contains("&lt;em&gt;the&lt;/em&gt;")
            && preview.body.contains("&amp;lt;b&amp;gt;story"),
        "{}",
        preview.body
    );
    assert!(!preview.body.contains("href=&quot;javascript"));
    assert!(!preview.body.contains("<b>story"), "{}", preview.body);
    assert!(preview.body.contains("value=\"The Court &lt;in&gt; 2027\""));
    assert!(waiting(&h).await.is_empty(), "a preview stores nothing");

    // A title the library refuses: the form again, with its reason.
    let mut untitled = draft;
    untitled[1] = ("title", "   ");
    untitled[6] = ("action", "save");
    let refused = editor
        .request("POST", &format!("{BASE}/items/new"), &form(&untitled))
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("has no title"));

    // Saved, changed, in two languages; a third withdrawn.
    let court = new_item(&mut editor, &h, &csrf, "The Court", "en").await;
    new_item(&mut editor, &h, &csrf, "La Cour", "fr").await;
    let stored = waiting(&h).await;
    assert_eq!(stored[0].author, EDITOR);
    assert_eq!(stored[0].translation_key, "court");
    let item_path = format!("{BASE}/items/{court}");
    let form_page = editor.request("GET", &item_path, "").await;
    assert_eq!(form_page.status, 200, "{}", form_page.body);
    assert!(form_page.body.contains("value=\"The Court\""));
    let change = form(&[
        ("csrf", &csrf),
        ("title", "The Court in 2027"),
        ("language", "en"),
        ("section", "News"),
        ("key", "court"),
        ("body", "Text of *the Court*.\r\nSecond line."),
        ("action", "save"),
    ]);
    let changed = editor.request("POST", &item_path, &change).await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let item = h.daemon.store.item(court).await.expect("item");
    assert_eq!(
        item.map(|i| (i.title, i.body)),
        Some((
            "The Court in 2027".to_string(),
            "Text of *the Court*.\nSecond line.".to_string()
        ))
    );
    let gone = new_item(&mut editor, &h, &csrf, "Withdrawn story", "es").await;
    let withdraw = format!("{BASE}/items/{gone}/withdraw");
    let withdrawn = editor
        .request("POST", &withdraw, &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.body);
    let again = editor
        .request("POST", &withdraw, &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let page = editor.request("GET", BASE, "").await;
    assert!(page.body.contains("The Court in 2027") && page.body.contains("La Cour"));
    assert!(!page.body.contains("Withdrawn story"));
    assert!(page.body.contains(EDITOR), "the author is shown");

    // A special edition, confirmed; its preview in each language.
    let edition = build(&mut editor, &csrf).await;
    let shown = editor.request("GET", &edition, "").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(header(&shown, "content-security-policy").contains("frame-src 'self'"));
    for lang in ["en", "fr"] {
        let frame = format!("sandbox src=\"https://{DOMAIN}{edition}/html/{lang}\"");
        assert!(shown.body.contains(&frame), "{lang}: {}", shown.body);
    }
    assert!(shown.body.contains("The Court in 2027") && shown.body.contains("La Cour"));
    assert!(!shown.body.contains("<script"));
    let html = editor
        .request("GET", &format!("{edition}/html/fr"), "")
        .await;
    assert_eq!(html.status, 200);
    assert!(header(&html, "content-security-policy")
        .starts_with("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"));
    assert_eq!(header(&html, "x-content-type-options"), "nosniff");
    assert!(html.body.contains("La Cour"), "{}", html.body);
    let absent = editor
        .request("GET", &format!("{edition}/html/pt"), "")
        .await;
    assert_eq!(absent.status, 404);

    // The edition carries the items now: they can no longer change.
    assert_eq!(editor.request("GET", &item_path, "").await.status, 409);
    assert_eq!(
        editor.request("POST", &item_path, &change).await.status,
        409
    );
    let taken = format!("{item_path}/withdraw");
    let taken = editor
        .request("POST", &taken, &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(taken.status, 409);

    // Without its token, no decision; with it, the subscribers get the edition.
    let forged = editor
        .request("POST", &format!("{edition}/decide"), "decision=approve")
        .await;
    assert_eq!(forged.status, 403);
    let wrong = decide(&mut editor, &edition, &"0".repeat(64), "approve").await;
    assert_eq!(wrong.status, 403);
    assert!(h.received_by(READER_EN).is_empty());
    let approved = decide(&mut editor, &edition, &csrf, "approve").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(approved.body.contains("Edition approved"));
    assert!(
        wait_for_mail(&h, READER_EN, 1).await,
        "delivered in English"
    );
    assert!(wait_for_mail(&h, READER_FR, 1).await, "delivered in French");
    let french = h.received_by(READER_FR)[0]
        .body_text(0)
        .unwrap_or_default()
        .into_owned();
    assert!(french.contains("La Cour"), "{french}");
    let english = h.received_by(READER_EN)[0]
        .body_text(0)
        .unwrap_or_default()
        .into_owned();
    assert!(english.contains("The Court in 2027"), "{english}");

    // Decided: a second decision, or the preview, is 409.
    for decision in ["approve", "cancel"] {
        let twice = decide(&mut editor, &edition, &csrf, decision).await;
        assert_eq!(twice.status, 409, "{}", twice.body);
        assert!(twice.body.contains("Already decided"));
    }
    assert_eq!(editor.request("GET", &edition, "").await.status, 409);
    let page = editor.request("GET", BASE, "").await;
    assert!(page.body.contains("No edition waits for approval."));
    assert!(page.body.contains("/p/bulletin/1/en"), "{}", page.body);
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(READER_EN).len(), 1, "sent once");
    h.daemon.shutdown().await;
}

async fn an_edition_is_cancelled_or_decided_once_by_mail_or_console(db: &TestDb) {
    let (h, clock) = start(db).await;
    subscribe(&h, READER_EN, "en").await;
    let mut editor = Browser::new(&h);
    editor.sign_in(&h, EDITOR, 1).await;
    let csrf = editor.home().await.csrf();
    new_item(&mut editor, &h, &csrf, "The Court", "en").await;

    // Cancelled: the items wait for the next edition again.
    let first = build(&mut editor, &csrf).await;
    assert!(waiting(&h).await.is_empty());
    let cancelled = decide(&mut editor, &first, &csrf, "cancel").await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert!(cancelled.body.contains("Edition cancelled"));
    assert_eq!(waiting(&h).await.len(), 1);
    let twice = decide(&mut editor, &first, &csrf, "approve").await;
    assert_eq!(twice.status, 409);

    // Approved by a reply to the preview first: the console's decision comes second.
    let previews = || -> Vec<String> {
        h.received_by(EDITOR)
            .iter()
            .map(reply_to)
            .filter(|r| r.starts_with("bulletin-confirm+"))
            .collect()
    };
    let first_preview = eventually(|| async { previews().pop() }).await;
    // A special edition's slot is the instant it is built.
    clock.set(FEBRUARY_28 + 60_000);
    let second = build(&mut editor, &csrf).await;
    assert_ne!(first, second);
    let replies = eventually(|| async { Some(previews()).filter(|p| p.len() >= 2) })
        .await
        .unwrap_or_default();
    assert_eq!(replies.len(), 2, "one preview per edition");
    let answer = replies
        .iter()
        .find(|r| Some(*r) != first_preview.as_ref())
        .expect("the second edition's preview");
    h.write_proven(EDITOR, answer, "Re", "approve\r\n").await;
    assert!(wait_for_mail(&h, READER_EN, 1).await);
    let late = decide(&mut editor, &second, &csrf, "approve").await;
    assert_eq!(late.status, 409, "{}", late.body);

    // Nothing waits: a special edition is refused, and says so.
    let confirm = editor.request("GET", &format!("{BASE}/build"), "").await;
    assert!(
        confirm.body.contains("nothing to build"),
        "{}",
        confirm.body
    );
    let empty = editor
        .request("POST", &format!("{BASE}/build"), &form(&[("csrf", &csrf)]))
        .await;
    assert_eq!(empty.status, 409, "{}", empty.body);
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(READER_EN).len(), 1);
    h.daemon.shutdown().await;
}

async fn only_the_publications_editors_see_anything_of_it(db: &TestDb) {
    let (h, _) = start(db).await;
    subscribe(&h, READER_EN, "en").await;
    let mut editor = Browser::new(&h);
    editor.sign_in(&h, EDITOR, 1).await;
    let csrf = editor.home().await.csrf();
    let item = new_item(&mut editor, &h, &csrf, "The Court", "en").await;
    new_item(&mut editor, &h, &csrf, "Not yet", "fr").await;
    let edition = build(&mut editor, &csrf).await;
    let edition_id = edition.rsplit('/').next().unwrap_or_default().to_string();
    let later = new_item(&mut editor, &h, &csrf, "Later", "en").await;
    let routes = |publication: &str| {
        let base = format!("/console/publications/{publication}");
        [
            ("GET", base.clone()),
            ("GET", format!("{base}/items/new")),
            ("POST", format!("{base}/items/new")),
            ("GET", format!("{base}/items/{later}")),
            ("POST", format!("{base}/items/{later}")),
            ("POST", format!("{base}/items/{later}/withdraw")),
            ("GET", format!("{base}/build")),
            ("POST", format!("{base}/build")),
            ("GET", format!("{base}/editions/{edition_id}")),
            ("GET", format!("{base}/editions/{edition_id}/html/en")),
            ("POST", format!("{base}/editions/{edition_id}/decide")),
        ]
    };
    let attempt = |csrf: &str| {
        form(&[
            ("csrf", csrf),
            ("title", "Forged"),
            ("language", "en"),
            ("body", "x"),
            ("action", "save"),
            ("decision", "approve"),
        ])
    };

    // The Monitor's editor, a subscriber: not found everywhere, with their own valid token,
    // the same page as for a publication that does not exist or is spelled otherwise.
    let mut other = Browser::new(&h);
    other.sign_in(&h, MONITOR_EDITOR, 1).await;
    let mut reader = Browser::new(&h);
    reader.sign_in(&h, READER_EN, 1).await;
    let nowhere = other
        .request("GET", "/console/publications/no-such", "")
        .await;
    assert_eq!(nowhere.status, 404);
    for browser in [&mut other, &mut reader] {
        let home = browser.home().await;
        assert!(!home.body.contains(BASE), "{}", home.body);
        let token = home.csrf();
        for publication in ["bulletin", "Bulletin"] {
            for (method, route) in routes(publication) {
                let answer = browser.request(method, &route, &attempt(&token)).await;
                assert_eq!(answer.status, 404, "{method} {route}");
                assert_eq!(answer.body, nowhere.body, "{method} {route}");
            }
        }
    }

    // The Monitor's editor on their own publication: the Bulletin's item and edition are
    // not the Monitor's, whatever the URL says.
    let token = other.home().await.csrf();
    for (method, route) in routes("monitor") {
        let answer = other.request(method, &route, &attempt(&token)).await;
        let own = !route.contains(&format!("/{later}")) && !route.contains("/editions/");
        // The Monitor's own pages answer; its new item is saved, then built and sent at
        // once (it needs no approval).
        let expected = match (method, own) {
            (_, false) => 404,
            ("GET", true) => 200,
            _ if route.ends_with("/build") => 200,
            _ => 303,
        };
        assert_eq!(answer.status, expected, "{method} {route}: {}", answer.body);
        if expected == 200 && method == "POST" {
            assert!(answer.body.contains("Edition sent"), "{}", answer.body);
        }
    }

    // An administrator sees the Bulletin's page.
    let mut admin = Browser::new(&h);
    admin.sign_in(&h, ADMIN, 1).await;
    assert!(admin.home().await.body.contains(BASE));
    assert_eq!(admin.request("GET", BASE, "").await.status, 200);

    // Nobody signed in: the sign-in form, or for a form post the refusal.
    let mut stranger = Browser::new(&h);
    for (method, route) in routes("bulletin") {
        let answer = stranger.request(method, &route, &attempt("")).await;
        match method {
            "GET" => assert!(answer.is_sign_in_form(), "{route}: {}", answer.body),
            _ => assert_eq!(answer.status, 403, "{route}"),
        }
    }

    // The editor without the token, or with another's: refused, nothing changes.
    for token in [
        "",
        "0".repeat(64).as_str(),
        other.home().await.csrf().as_str(),
    ] {
        for (method, route) in routes("bulletin") {
            if method == "POST" {
                let answer = editor.request(method, &route, &attempt(token)).await;
                assert_eq!(answer.status, 403, "{route}");
            }
        }
    }
    let titles: Vec<String> = waiting(&h).await.into_iter().map(|i| i.title).collect();
    assert_eq!(titles, ["Later"], "nothing was saved or withdrawn");
    let edition = h
        .daemon
        .store
        .edition(edition_id.parse().expect("id"))
        .await
        .expect("edition")
        .expect("stored");
    assert_eq!(edition.state, "awaiting_approval", "nothing was decided");
    assert!(h.daemon.store.item(item).await.expect("item").is_some());
    assert!(h.queue_drained().await);
    let editions = h
        .received_by(READER_EN)
        .iter()
        .filter(|m| {
            !m.body_text(0)
                .unwrap_or_default()
                .contains("/console/sign-in/")
        })
        .count();
    assert_eq!(editions, 0, "nothing was sent");
    h.daemon.shutdown().await;
}

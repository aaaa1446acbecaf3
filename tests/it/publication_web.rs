//! The published editions over real HTTP, on both databases: the index of past editions,
//! each edition as a web page, the Atom feed; only sent editions, and only publications.

use std::sync::Arc;

use crate::common::{http, Harness, TestDb, BULLETIN, DOMAIN, EDITOR};
use quick_xml::events::Event;
use tidings::publications::clock::ManualClock;
use tidings::publications::editions::{Built, Slot};
use tidings::publications::render::UNSUBSCRIBE_PLACEHOLDER;
use tidings::publications::ItemInput;

/// 1 March 2027, 09:00 in Amsterdam: the Bulletin's slot.
const MARCH: i64 = 1_803_888_000_000;
const DAY: i64 = 86_400_000;
const HOSTILE: &str = "Budget <script>alert(\"x\")</script> & co";

on_both_databases!(
    sent_editions_are_published_with_index_pages_and_feed,
    only_sent_editions_of_publications_are_public,
);

fn with_bulletin(toml: String) -> String {
    toml + BULLETIN
}

/// A daemon whose Bulletin has edition 1 built from three items (two English, one French)
/// and waiting for approval; returns it with the edition's id.
async fn built_edition(db: &TestDb) -> (Harness, i64) {
    let clock = Arc::new(ManualClock::new(MARCH - DAY));
    let h = Harness::start_with_clock(db, with_bulletin, Arc::clone(&clock) as _).await;
    let publications = &h.daemon.publications;
    publications.run_due(MARCH - DAY).await;
    let bulletin = publications.publication("bulletin").expect("configured");
    for (lang, key, title) in [
        ("en", "court", "The Court in 2027"),
        ("fr", "court", "La Cour en 2027"),
        ("en", "budget", HOSTILE),
    ] {
        let item = ItemInput {
            title: title.into(),
            section: Some("News".into()),
            language: Some(lang.into()),
            key: Some(key.into()),
            body: format!("About *{key}*."),
            author: EDITOR.into(),
        };
        publications.add_item(bulletin, item).await.expect("item");
    }
    publications.run_due(MARCH).await;
    let editions = h
        .daemon
        .store
        .editions(Some("bulletin"))
        .await
        .expect("editions");
    assert_eq!(editions.len(), 1);
    assert_eq!(editions[0].state, "awaiting_approval");
    (h, editions[0].id)
}

async fn get(h: &Harness, path: &str) -> (u16, String, String) {
    http(h.daemon.http_addr.expect("HTTP listener"), "GET", path, "").await
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
        .unwrap_or("")
}

/// An Atom entry as read back by an XML parser.
#[derive(Debug, Default, Clone)]
struct Entry {
    lang: String,
    title: String,
    id: String,
    link: String,
    hreflang: String,
    updated: String,
    summary: String,
}

/// The feed's own title and updated date, and its entries; panics unless it is
/// well-formed XML in the Atom namespace.
fn read_feed(xml: &str) -> (String, String, Vec<Entry>) {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let (mut title, mut updated) = (String::new(), String::new());
    let mut entries: Vec<Entry> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let attr = |tag: &quick_xml::events::BytesStart, name: &str| -> String {
        tag.try_get_attribute(name)
            .expect("attribute")
            .map(|a| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("value")
                    .into_owned()
            })
            .unwrap_or_default()
    };
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(tag) => {
                let name: String = tag.name().as_ref().to_owned();
                if name == "feed" {
                    assert_eq!(attr(&tag, "xmlns"), "http://www.w3.org/2005/Atom");
                }
                if name == "entry" {
                    entries.push(Entry {
                        lang: attr(&tag, "xml:lang"),
                        ..Entry::default()
                    });
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(tag)
                if tag.name().as_ref() == "link"
                    && path.last().map(String::as_str) == Some("entry") =>
            {
                let entry = entries.last_mut().expect("inside an entry");
                entry.link = attr(&tag, "href");
                entry.hreflang = attr(&tag, "hreflang");
            }
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(reference) => text.push_str(
                quick_xml::escape::resolve_xml_entity(reference.as_ref()).expect("XML entity"),
            ),
            Event::End(_) => {
                let name = path.pop().expect("balanced");
                let value = std::mem::take(&mut text);
                match (path.last().map(String::as_str), name.as_str()) {
                    (Some("feed"), "title") => title = value,
                    (Some("feed"), "updated") => updated = value,
                    (Some("entry"), field) => {
                        let entry = entries.last_mut().expect("inside an entry");
                        match field {
                            "title" => entry.title = value,
                            "id" => entry.id = value,
                            "updated" => entry.updated = value,
                            "summary" => entry.summary = value,
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed: {path:?}");
    (title, updated, entries)
}

async fn sent_editions_are_published_with_index_pages_and_feed(db: &TestDb) {
    let (h, id) = built_edition(db).await;
    h.daemon
        .publications
        .approve(&tidings::store::Actor::cli(), id)
        .await
        .expect("approved");
    let base = format!("https://{DOMAIN}/p/bulletin");

    // The index: the edition, in the languages it was written in, and the feed.
    let (status, head, body) = get(&h, "/p/bulletin/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert!(header(&head, "content-security-policy").contains("default-src 'none'"));
    for expected in [
        format!("href=\"{base}/1/en\""),
        format!("href=\"{base}/1/fr\""),
        format!("href=\"{base}/feed.xml\""),
        "Issue 1".to_string(),
        "Past issues".to_string(),
        format!("mailto:bulletin-join@{DOMAIN}"),
    ] {
        assert!(body.contains(&expected), "{expected} in {body}");
    }
    assert!(
        !body.contains("/1/es"),
        "no Spanish item, no Spanish edition"
    );
    // Without the slash, sent to the index.
    let (status, head, _) = get(&h, "/p/bulletin").await;
    assert_eq!(status, 308);
    assert_eq!(header(&head, "location"), format!("{base}/"));

    // The edition's page is the stored HTML, as is.
    let (status, head, body) = get(&h, "/p/bulletin/1/fr").await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    let policy = header(&head, "content-security-policy");
    assert!(
        policy.contains("img-src https:") && policy.contains("style-src 'unsafe-inline'"),
        "{policy}"
    );
    assert!(!policy.contains("script-src"), "{policy}");
    let (_, stored) = h
        .daemon
        .store
        .edition_page("bulletin", 1, "fr")
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(body, stored);
    assert!(body.contains("La Cour en 2027") && body.contains("lang=\"fr\""));
    assert!(
        body.contains("Budget &lt;script&gt;"),
        "escaped in the page"
    );
    assert!(!body.contains(UNSUBSCRIBE_PLACEHOLDER));
    assert!(body.contains(&format!("mailto:bulletin-leave@{DOMAIN}")));

    // The feed: one entry per language, titled with the subject, linking to the page.
    let (status, head, xml) = get(&h, "/p/bulletin/feed.xml").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        "application/atom+xml; charset=utf-8"
    );
    assert!(!xml.contains("<script>"), "{xml}");
    let (title, updated, entries) = read_feed(&xml);
    assert_eq!(title, "The Bulletin");
    let languages: Vec<&str> = entries.iter().map(|e| e.lang.as_str()).collect();
    assert_eq!(languages, ["en", "fr"]);
    for entry in &entries {
        let url = format!("{base}/1/{}", entry.lang);
        let (subject, _) = h
            .daemon
            .store
            .edition_page("bulletin", 1, &entry.lang)
            .await
            .expect("query")
            .expect("stored");
        assert_eq!(entry.title, subject);
        assert_eq!(
            (entry.id.as_str(), entry.link.as_str()),
            (url.as_str(), url.as_str())
        );
        assert_eq!(entry.hreflang, entry.lang);
        assert_eq!(
            entry.updated, updated,
            "the feed's date is its newest entry's"
        );
        // The hostile title is the editor's text again once the XML is read: escaped, whole.
        assert!(entry.summary.contains(HOSTILE), "{entry:?}");
    }
    assert!(
        entries[1].summary.contains("La Cour en 2027"),
        "{entries:?}"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(&updated).is_ok(),
        "{updated}"
    );
}

async fn only_sent_editions_of_publications_are_public(db: &TestDb) {
    let (h, id) = built_edition(db).await;

    // Built but not approved: not published anywhere.
    let (status, _, body) = get(&h, "/p/bulletin/").await;
    assert_eq!(status, 200);
    assert!(body.contains("No issue has been published yet."), "{body}");
    assert!(!body.contains("Court"), "{body}");
    let (status, _, body) = get(&h, "/p/bulletin/1/en").await;
    assert_eq!(status, 404);
    assert!(body.contains("This issue is not available"), "{body}");
    assert!(!body.contains("The Court in 2027"), "{body}");
    let (status, _, xml) = get(&h, "/p/bulletin/feed.xml").await;
    assert_eq!(status, 200);
    let (_, updated, entries) = read_feed(&xml);
    assert!(entries.is_empty(), "{xml}");
    assert_eq!(updated, "1970-01-01T00:00:00Z");

    // Cancelled: still nothing.
    h.daemon
        .publications
        .cancel(&tidings::store::Actor::cli(), id)
        .await
        .expect("cancelled");
    // Built on the schedule, cancelled from the CLI: both in the audit trail.
    let trail = h
        .daemon
        .store
        .audit_page(tidings::store::AuditScope::Of("bulletin"), 10, 0)
        .await
        .expect("trail");
    let recorded: Vec<(&str, &str, Option<&str>)> = trail
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.channel.as_str(),
                e.publication.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        [
            ("edition.cancel", "cli", Some("bulletin")),
            ("edition.build", "schedule", Some("bulletin")),
        ]
    );
    let (status, _, _) = get(&h, "/p/bulletin/1/en").await;
    assert_eq!(status, 404);

    // Names that are not publications, a confidential list's among them, are not found,
    // and the answer says nothing about them.
    for path in [
        "/p/team/",
        "/p/team/feed.xml",
        "/p/team/1/en",
        "/p/nosuch/",
        "/p/nosuch/feed.xml",
        "/p/news",
    ] {
        let (status, _, body) = get(&h, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            !body.contains("Gender Team") && !body.contains("Coalition News"),
            "{path}"
        );
    }

    // Once an edition is sent, what does not exist is still not found, with the index.
    let publications = &h.daemon.publications;
    let bulletin = publications.publication("bulletin").expect("configured");
    let Built::Edition { id, number, .. } = publications
        .build(&tidings::store::Actor::cli(), bulletin, Slot::Special)
        .await
        .expect("built")
    else {
        panic!("the cancelled edition's items make a new one");
    };
    assert_eq!(number, 1, "the cancelled edition's number is free again");
    publications
        .approve(&tidings::store::Actor::cli(), id)
        .await
        .expect("approved");
    for path in [
        "/p/bulletin/1/es",
        "/p/bulletin/1/pt",
        "/p/bulletin/2/en",
        "/p/bulletin/one/en",
        "/p/bulletin/-1/en",
    ] {
        let (status, head, body) = get(&h, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(header(&head, "cache-control"), "no-cache", "{path}");
        assert!(body.contains("This issue is not available"), "{path}");
        assert!(
            body.contains("/p/bulletin/1/en"),
            "{path}: the index follows"
        );
    }
    // No editor's address on any public page.
    for path in ["/p/bulletin/", "/p/bulletin/1/en", "/p/bulletin/feed.xml"] {
        let (status, _, body) = get(&h, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!body.contains(EDITOR), "{path}");
    }
}

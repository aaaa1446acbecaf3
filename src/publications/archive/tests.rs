use quick_xml::events::Event;

use super::*;

/// (element name, its text) of every element with text, in document order of their ends,
/// references resolved.
fn texts(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut open: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(tag) => open.push((tag.name().as_ref().to_owned(), String::new())),
            Event::End(_) => {
                let (name, text) = open.pop().expect("balanced");
                if !text.trim().is_empty() {
                    out.push((name, text));
                }
            }
            Event::Text(text) => {
                let text = text.xml10_content();
                if let Some((_, buffer)) = open.last_mut() {
                    buffer.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = quick_xml::escape::resolve_xml_entity(reference.as_ref())
                    .expect("an XML entity");
                if let Some((_, buffer)) = open.last_mut() {
                    buffer.push_str(resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    out
}

fn entry(title: &str, sent_ms: i64) -> Entry {
    Entry {
        title: title.into(),
        url: "https://lists.example.org/p/bulletin/2/fr".into(),
        lang: "fr".into(),
        sent_ms,
        summary: Some(format!("Dans ce numéro : {title}")),
    }
}

fn feed(entries: &[Entry]) -> String {
    atom(&Feed {
        title: "The Bulletin & <Co>",
        subtitle: "",
        lang: "en",
        url: "https://lists.example.org/p/bulletin/",
        self_url: "https://lists.example.org/p/bulletin/feed.xml",
        entries,
    })
}

#[test]
fn escaping_keeps_text_and_drops_what_xml_forbids() {
    assert_eq!(
        escape_xml("a < b & \"c\" > 'd'"),
        "a &lt; b &amp; &quot;c&quot; &gt; &apos;d&apos;"
    );
    assert_eq!(escape_xml("bell\u{7}\u{0}\ttab\u{FFFF}"), "bell\ttab");
    assert_eq!(escape_xml("العدد ١٢"), "العدد ١٢");
}

#[test]
fn the_feed_is_atom_with_everything_escaped() {
    let hostile = "<script>alert(1)</script> & </title><title>forged";
    let xml = feed(&[
        entry(hostile, 1_809_154_800_000),
        entry("Numéro 1\u{1b}", 1_803_888_000_000),
    ]);
    assert!(!xml.contains("<script>"), "{xml}");
    let texts = texts(&xml);
    let titles: Vec<&str> = texts
        .iter()
        .filter(|(name, _)| name == "title")
        .map(|(_, text)| text.as_str())
        .collect();
    assert_eq!(titles, ["The Bulletin & <Co>", hostile, "Numéro 1"]);
    let updated: Vec<&str> = texts
        .iter()
        .filter(|(name, _)| name == "updated")
        .map(|(_, text)| text.as_str())
        .collect();
    // The feed's own date is its newest entry's.
    assert_eq!(
        updated,
        [
            "2027-05-01T07:00:00Z",
            "2027-05-01T07:00:00Z",
            "2027-03-01T08:00:00Z"
        ]
    );
    assert!(xml.contains("<entry xml:lang=\"fr\">"));
    assert!(xml.contains(
        "<link rel=\"alternate\" type=\"text/html\" hreflang=\"fr\" href=\"https://lists.example.org/p/bulletin/2/fr\"/>"
    ));
}

#[test]
fn a_feed_without_editions_is_still_valid() {
    let xml = feed(&[]);
    let texts = texts(&xml);
    assert!(texts.contains(&("updated".into(), "1970-01-01T00:00:00Z".into())));
    assert!(!xml.contains("<entry"));
    assert!(!xml.contains("<subtitle>"), "no empty subtitle");
}

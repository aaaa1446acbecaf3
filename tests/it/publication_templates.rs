//! Every shipped publication template, in every language: the HTML part parses as XML
//! (quick-xml, strict: every element closed and nested properly, attributes quoted, only
//! XML's own named references), carries what mail clients need, and escapes what editors
//! type; the text part is a readable newsletter.
//!
//! Why an XML parser: the templates are kept XHTML-style on purpose, so a strict parser
//! proves balance and nesting exactly; an HTML5 parser accepts anything by design and would
//! need html5ever's whole tree builder (several heavy crates) to report the same problems.

use crate::common::publication_fixtures;

use std::collections::HashMap;
use std::path::Path;

use publication_fixtures::{edition, publications, templates_dir, PUBLICATIONS};
use quick_xml::events::Event;
use quick_xml::XmlVersion;
use tidings::publications::render::{
    ArchiveView, ArchivedEdition, EditionView, ItemView, PublicationTemplates, Rendered,
    SectionView, TemplateError, UNSUBSCRIBE_PLACEHOLDER,
};

#[derive(Debug)]
struct Element {
    name: String,
    attrs: HashMap<String, String>,
}

/// The elements of a document and its text, decoded.
#[derive(Debug, Default)]
struct Document {
    elements: Vec<Element>,
    text: String,
}

impl Document {
    fn all<'d>(&'d self, name: &'d str) -> impl Iterator<Item = &'d Element> + 'd {
        self.elements.iter().filter(move |e| e.name == name)
    }
}

fn parse(html: &str) -> Document {
    let mut reader = quick_xml::Reader::from_str(html);
    reader.config_mut().check_end_names = true;
    let mut doc = Document::default();
    let mut open: Vec<String> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("not well-formed at byte {}: {e}", reader.error_position()));
        match event {
            Event::Start(ref tag) | Event::Empty(ref tag) => {
                let name = tag.name().as_ref().to_owned();
                let mut attrs = HashMap::new();
                for attr in tag.attributes() {
                    let attr = attr.unwrap_or_else(|e| panic!("bad attribute in <{name}>: {e}"));
                    let value = attr
                        .normalized_value(XmlVersion::Implicit1_0)
                        .unwrap_or_else(|e| panic!("bad reference in <{name}>: {e}"));
                    let key = attr.key.as_ref().to_owned();
                    assert!(
                        attrs.insert(key.clone(), value.into_owned()).is_none(),
                        "<{name}> repeats {key}"
                    );
                }
                doc.elements.push(Element {
                    name: name.clone(),
                    attrs,
                });
                if matches!(event, Event::Start(_)) {
                    open.push(name);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Text(text) => doc.text.push_str(&text.xml10_content()),
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(String::from)
                } else {
                    quick_xml::escape::resolve_xml_entity(reference.as_ref()).map(String::from)
                };
                let resolved = resolved.unwrap_or_else(|| {
                    panic!("&{}; is not an XML reference", reference.as_ref() as &str)
                });
                doc.text.push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "elements never closed: {open:?}");
    doc
}

fn shipped() -> PublicationTemplates {
    PublicationTemplates::load(&templates_dir(), &publications()).expect("shipped templates load")
}

fn every_edition() -> Vec<(EditionView, Rendered)> {
    let templates = shipped();
    let mut out = Vec::new();
    for (name, _, languages) in PUBLICATIONS {
        for lang in languages {
            let view = edition(name, lang);
            let rendered = templates
                .render(&view)
                .unwrap_or_else(|e| panic!("{name}/{lang}: {e}"));
            out.push((view, rendered));
        }
    }
    assert_eq!(
        out.len(),
        11,
        "bulletin 3, monitor 3, mena 1, europe 1, africa 2, asia 1"
    );
    out
}

fn all_items(view: &EditionView) -> impl Iterator<Item = &ItemView> {
    view.sections.iter().flat_map(|s| s.items.iter())
}

#[test]
fn html_is_well_formed_with_language_and_direction() {
    for (view, rendered) in every_edition() {
        let context = format!("{}/{}", view.publication, view.lang);
        let doc = parse(&rendered.html);
        let html = doc.all("html").next().expect("an <html> element");
        let rtl = view.lang == "ar";
        assert_eq!(html.attrs["lang"], view.lang, "{context}");
        assert_eq!(
            html.attrs["dir"],
            if rtl { "rtl" } else { "ltr" },
            "{context}"
        );
        for element in doc.elements.iter().filter(|e| e.attrs.contains_key("dir")) {
            assert_eq!(
                element.attrs["dir"], html.attrs["dir"],
                "{context}: <{}>",
                element.name
            );
        }
        // Text starts on the right in Arabic: every cell that sets its direction aligns so.
        let start = if rtl {
            "text-align:right"
        } else {
            "text-align:left"
        };
        for element in doc.elements.iter().filter(|e| e.attrs.contains_key("dir")) {
            let style = element.attrs.get("style").map_or("", String::as_str);
            assert!(
                !style.contains("text-align") || style.contains(start),
                "{context}: <{} style={style:?}>",
                element.name
            );
        }
    }
}

#[test]
fn html_is_a_600_pixel_table_layout_with_inline_styles() {
    for (view, rendered) in every_edition() {
        let context = format!("{}/{}", view.publication, view.lang);
        let doc = parse(&rendered.html);
        let card = doc
            .all("table")
            .find(|t| t.attrs.get("width").map(String::as_str) == Some("600"))
            .unwrap_or_else(|| panic!("{context}: no 600 px table"));
        assert!(card.attrs["style"].contains("max-width:600px"), "{context}");
        for table in doc.all("table") {
            assert_eq!(
                table.attrs.get("role").map(String::as_str),
                Some("presentation"),
                "{context}"
            );
        }
        assert!(
            doc.all("div").all(|d| d.attrs.contains_key("style")),
            "{context}"
        );
        for name in ["td", "p", "h1", "h2", "h3", "a", "li", "ul", "blockquote"] {
            for element in doc.all(name) {
                assert!(
                    element.attrs.contains_key("style"),
                    "{context}: <{name}> without inline style: {:?}",
                    element.attrs
                );
            }
        }
        for name in ["color-scheme", "supported-color-schemes"] {
            let meta = doc
                .all("meta")
                .find(|m| m.attrs.get("name").map(String::as_str) == Some(name))
                .unwrap_or_else(|| panic!("{context}: no {name} meta"));
            assert_eq!(meta.attrs["content"], "light dark", "{context}");
        }
        assert!(
            rendered
                .html
                .contains("@media (prefers-color-scheme: dark)"),
            "{context}"
        );
        assert!(doc
            .all("meta")
            .any(|m| m.attrs.get("charset").map(String::as_str) == Some("utf-8")));
    }
}

#[test]
fn html_shows_every_item_the_contents_and_the_footer() {
    for (view, rendered) in every_edition() {
        let context = format!("{}/{}", view.publication, view.lang);
        let doc = parse(&rendered.html);
        for item in all_items(&view) {
            // The hidden preview line, the contents and the item itself.
            assert_eq!(
                doc.text.matches(item.title.as_str()).count(),
                3,
                "{context}: {}",
                item.title
            );
        }
        for section in &view.sections {
            assert!(doc.text.contains(&section.title), "{context}");
        }
        let hrefs: Vec<&str> = doc.all("a").map(|a| a.attrs["href"].as_str()).collect();
        assert!(
            hrefs.contains(&UNSUBSCRIBE_PLACEHOLDER),
            "{context}: {hrefs:?}"
        );
        assert!(hrefs.contains(&view.web_url.as_str()), "{context}");
        assert!(
            hrefs.contains(&"#item-1") && hrefs.contains(&"#item-4"),
            "{context}"
        );
        for anchor in ["item-1", "item-4", "section-1"] {
            assert!(
                doc.elements
                    .iter()
                    .any(|e| e.attrs.get("id").map(String::as_str) == Some(anchor)),
                "{context}: #{anchor}"
            );
        }
        assert!(
            rendered.html.contains(UNSUBSCRIBE_PLACEHOLDER),
            "{context}: verbatim for delivery"
        );
    }
}

#[test]
fn words_dates_and_numbers_are_in_the_edition_language() {
    let expected = [
        (
            "en",
            "In this issue",
            "Issue 12",
            "1 March 2027",
            "Unsubscribe",
        ),
        (
            "fr",
            "Dans ce numéro",
            "Numéro 12",
            "1er mars 2027",
            "Se désabonner",
        ),
        (
            "es",
            "En este número",
            "Número 12",
            "1 de marzo de 2027",
            "Darse de baja",
        ),
        (
            "ar",
            "في هذا العدد",
            "العدد ١٢",
            "١ مارس ٢٠٢٧",
            "إلغاء الاشتراك",
        ),
    ];
    for (view, rendered) in every_edition() {
        let (_, contents, issue, date, unsubscribe) = expected
            .iter()
            .find(|e| e.0 == view.lang)
            .expect("a known language");
        let doc = parse(&rendered.html);
        for word in [contents, issue, date, unsubscribe] {
            assert!(
                doc.text.contains(word),
                "{}/{}: {word}",
                view.publication,
                view.lang
            );
        }
        for word in [issue, date] {
            assert!(rendered.subject.contains(word), "{}", rendered.subject);
            assert!(
                rendered.text.contains(word),
                "{}/{}: {word}",
                view.publication,
                view.lang
            );
        }
        assert!(rendered.subject.contains(&view.title));
        assert!(!rendered.subject.contains('\n'));
    }
}

#[test]
fn text_part_is_a_plain_newsletter() {
    for (view, rendered) in every_edition() {
        let context = format!("{}/{}", view.publication, view.lang);
        let text = &rendered.text;
        assert!(
            !text.contains('<') && !text.contains("&amp;"),
            "{context}: no markup:\n{text}"
        );
        for item in all_items(&view) {
            assert!(
                text.matches(item.title.as_str()).count() >= 2,
                "{context}: contents and item: {}",
                item.title
            );
        }
        assert!(
            text.contains("[1] https://example.org/"),
            "{context}: links listed:\n{text}"
        );
        assert!(
            text.contains(&format!("\n{UNSUBSCRIBE_PLACEHOLDER}\n")),
            "{context}: own line"
        );
        assert!(text.contains(&view.web_url));
        for line in text.lines() {
            let long = line.chars().count() > 72;
            assert!(
                !long
                    || line
                        .split(' ')
                        .any(|w| w.chars().count() > 60 && w.contains("://")),
                "{context}: line over 72 columns: {line:?}"
            );
            assert_eq!(line, line.trim_end(), "{context}");
        }
        assert!(!text.contains("\n\n\n"), "{context}");
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }
}

const HOSTILE: &str = "<script>alert(\"x\")</script> & <img src=x onerror=alert(1)> 'quoted'";

fn hostile_edition(publication: &str, lang: &str) -> EditionView {
    let mut view = edition(publication, lang);
    view.title = format!("{} {HOSTILE}", view.title);
    view.sections.insert(
        0,
        SectionView {
            title: format!("Section {HOSTILE}"),
            items: vec![ItemView {
                title: format!("Title {HOSTILE}"),
                body_markdown: format!(
                    "Body {HOSTILE}\n\n<div onclick=\"steal()\"><iframe src=\"https://evil.example/\"></iframe></div>\n\n\
                     [click me](javascript:alert(document.cookie)) [data](data:text/html;base64,PHNjcmlwdD4=) \
                     [vb](vbscript:msgbox) ![pixel](javascript:alert(2)) [ok](https://example.org/ok)\n\n\
                     ![A map of the region](https://example.org/map.png)"
                ),
                translation_key: "hostile".into(),
            }],
        },
    );
    view
}

/// Text with every run of white space made one space, to compare across wrapped lines.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn hostile_item_text_is_escaped() {
    let templates = shipped();
    for (name, _, languages) in PUBLICATIONS {
        for lang in languages {
            let context = format!("{name}/{lang}");
            let rendered = templates.render(&hostile_edition(name, lang)).unwrap();
            let doc = parse(&rendered.html);
            for forbidden in ["script", "iframe", "object", "embed", "form"] {
                assert_eq!(doc.all(forbidden).count(), 0, "{context}: <{forbidden}>");
            }
            for element in &doc.elements {
                for (key, value) in &element.attrs {
                    assert!(
                        !key.starts_with("on"),
                        "{context}: <{} {key}>",
                        element.name
                    );
                    let lower = value.to_ascii_lowercase();
                    for scheme in ["javascript:", "data:", "vbscript:"] {
                        assert!(
                            !lower.contains(scheme),
                            "{context}: <{} {key}={value:?}>",
                            element.name
                        );
                    }
                }
            }
            // What the editor typed is shown, as text.
            assert!(doc.text.contains(&format!("Title {HOSTILE}")), "{context}");
            assert!(doc.text.contains(&format!("Body {HOSTILE}")), "{context}");
            assert!(
                doc.text
                    .contains("<iframe src=\"https://evil.example/\"></iframe>"),
                "{context}"
            );
            assert!(doc.text.contains("click me"), "{context}");
            assert!(
                doc.all("a")
                    .any(|a| a.attrs["href"] == "https://example.org/ok"),
                "{context}"
            );
            // Images keep their alt text; the only image is the safe one.
            let images: Vec<_> = doc.all("img").collect();
            assert_eq!(images.len(), 1, "{context}");
            assert_eq!(images[0].attrs["alt"], "A map of the region");
            assert!(doc.all("img").all(|i| i.attrs.contains_key("alt")));
            // The text part says it as typed, and never lists an unsafe link.
            assert!(
                squash(&rendered.text).contains(&squash(&format!("Title {HOSTILE}"))),
                "{context}"
            );
            assert!(!rendered.text.contains("javascript:"), "{context}");
            assert!(!rendered.subject.contains('\n'));
        }
    }
}

#[test]
fn empty_sections_are_left_out() {
    let mut view = edition("bulletin", "en");
    view.sections.push(SectionView {
        title: "Nothing this time".into(),
        items: Vec::new(),
    });
    let rendered = shipped().render(&view).unwrap();
    assert!(!rendered.html.contains("Nothing this time"));
    assert!(!rendered.text.contains("Nothing this time"));
}

#[test]
fn a_publication_or_language_not_loaded_is_an_error() {
    let templates = shipped();
    let mut view = edition("bulletin", "en");
    view.lang = "ar".into();
    assert!(matches!(
        templates.render(&view),
        Err(TemplateError::NotLoaded { .. })
    ));
    view.publication = "gazette".into();
    assert!(matches!(
        templates.render(&view),
        Err(TemplateError::NotLoaded { .. })
    ));
}

#[test]
fn the_shipped_configuration_finds_its_templates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tidings.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config =
        tidings::config::Config::from_toml(&text, &path, Vec::new(), &tidings::dkim::keys::Files)
            .unwrap();
    PublicationTemplates::load(&templates_dir(), &config.publications).unwrap();
}

/// A copy of the shipped templates to break in one place.
fn copy_of_templates() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            let target = to.join(path.file_name().unwrap());
            if path.is_dir() {
                copy(&path, &target);
            } else {
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(
        &templates_dir().join("publications"),
        &dir.path().join("publications"),
    );
    dir
}

fn load_error(dir: &Path) -> String {
    PublicationTemplates::load(dir, &publications())
        .expect_err("templates must not load")
        .to_string()
}

#[test]
fn start_up_errors_name_the_file() {
    let dir = copy_of_templates();
    let root = dir.path().join("publications");

    std::fs::remove_file(root.join("monitor/es.txt.hbs")).unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("monitor/es.txt.hbs") && error.contains("missing"),
        "{error}"
    );
    std::fs::write(
        root.join("monitor/es.txt.hbs"),
        "{{> edition kicker=\"x\"}}",
    )
    .unwrap();

    std::fs::write(
        root.join("asia-update/en.subject.hbs"),
        "{{#if title}}unclosed",
    )
    .unwrap();
    let error = load_error(dir.path());
    assert!(error.contains("asia-update/en.subject.hbs"), "{error}");
    std::fs::write(root.join("asia-update/en.subject.hbs"), "{{> subject}}").unwrap();

    std::fs::write(
        root.join("africa-update/fr.html.hbs"),
        "{{> look_africa_update kicker=\"x\"}}{{no_such_variable}}",
    )
    .unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("africa-update/fr.html.hbs") && error.contains("no_such_variable"),
        "{error}"
    );
    std::fs::write(
        root.join("africa-update/fr.html.hbs"),
        "{{> look_africa_update kicker=\"x\"}}",
    )
    .unwrap();

    let strings = std::fs::read_to_string(root.join("_strings/es.toml")).unwrap();
    std::fs::write(
        root.join("_strings/es.toml"),
        strings.replace("in_this_issue =", "in_this_isue ="),
    )
    .unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("es.toml") && error.contains("in_this_is"),
        "{error}"
    );
    std::fs::remove_file(root.join("_strings/es.toml")).unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("_strings/es.toml") && error.contains("missing"),
        "{error}"
    );
    std::fs::write(root.join("_strings/es.toml"), strings).unwrap();

    PublicationTemplates::load(dir.path(), &publications()).expect("repaired templates load");
}

#[test]
fn only_item_bodies_are_inserted_unescaped() {
    fn walk(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.to_string_lossy().ends_with(".html.hbs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&templates_dir().join("publications"), &mut files);
    assert!(files.len() >= 11 + 7, "found only {} files", files.len());
    for path in files {
        let content = std::fs::read_to_string(&path).unwrap();
        let unescaped = content.replace("{{{html}}}", "");
        assert!(!unescaped.contains("{{{"), "{} unescapes", path.display());
        assert!(!unescaped.contains("{{&"), "{} unescapes", path.display());
    }
}

/// The archive page of `publication` in its first language, with two sent editions (the
/// newer in every language), or none.
fn archive_view(publication: &str, editions: bool) -> ArchiveView {
    let (_, title, languages) = PUBLICATIONS
        .iter()
        .find(|(name, _, _)| *name == publication)
        .expect("a shipped publication");
    let base = format!("https://lists.example.org/p/{publication}");
    let page = |number: i64, lang: &str| (lang.to_string(), format!("{base}/{number}/{lang}"));
    let editions = if editions {
        vec![
            ArchivedEdition {
                number: 12,
                sent_ms: publication_fixtures::DATE_MS,
                pages: languages.iter().map(|l| page(12, l)).collect(),
            },
            ArchivedEdition {
                number: 11,
                sent_ms: publication_fixtures::DATE_MS - 61 * 86_400_000,
                pages: vec![page(11, languages[0])],
            },
        ]
    } else {
        Vec::new()
    };
    ArchiveView {
        publication: publication.into(),
        title: (*title).into(),
        description: "News <b>&</b> views".into(),
        lang: languages[0].into(),
        time_zone: "Europe/Amsterdam".into(),
        editions,
        feed_url: format!("{base}/feed.xml"),
        join_address: format!("{publication}-join@lists.example.org"),
        not_found: false,
    }
}

#[test]
fn archive_pages_list_past_issues_in_the_publication_language() {
    let templates = shipped();
    for (name, _, languages) in PUBLICATIONS {
        let view = archive_view(name, true);
        let html = templates
            .render_archive(&view)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let doc = parse(&html);
        let root = doc.all("html").next().expect("<html>");
        let rtl = languages[0] == "ar";
        assert_eq!(root.attrs["lang"], languages[0], "{name}");
        assert_eq!(root.attrs["dir"], if rtl { "rtl" } else { "ltr" }, "{name}");
        // Every language of the newer edition and the older one, newest first.
        let links: Vec<&str> = doc
            .all("a")
            .filter(|a| a.attrs.contains_key("hreflang"))
            .map(|a| a.attrs["href"].as_str())
            .collect();
        let mut expected: Vec<String> = languages
            .iter()
            .map(|l| format!("https://lists.example.org/p/{name}/12/{l}"))
            .collect();
        expected.push(format!(
            "https://lists.example.org/p/{name}/11/{}",
            languages[0]
        ));
        assert_eq!(links, expected, "{name}");
        let feed = doc
            .all("link")
            .find(|l| l.attrs["rel"] == "alternate")
            .expect("feed discovery link");
        assert_eq!(feed.attrs["type"], "application/atom+xml");
        assert!(feed.attrs["href"].ends_with(&format!("/p/{name}/feed.xml")));
        assert!(
            doc.text.contains("News <b>&</b> views"),
            "{name}: decoded text"
        );
        assert!(!html.contains("<b>"), "{name}: the description is escaped");
        assert!(html.contains(&format!("mailto:{name}-join@lists.example.org")));
    }
}

#[test]
fn archive_pages_write_numbers_dates_and_language_names_in_their_language() {
    let templates = shipped();
    let cases = [
        (
            "bulletin",
            ["Issue 12", "1 March 2027", "Français", "Español"],
        ),
        (
            "mena-update",
            ["العدد ١٢", "١ مارس ٢٠٢٧", "العربية", "الأعداد السابقة"],
        ),
    ];
    for (name, words) in cases {
        let text = parse(&templates.render_archive(&archive_view(name, true)).unwrap()).text;
        for word in words {
            assert!(text.contains(word), "{name}: {word:?} in {text}");
        }
    }
    let mut french = archive_view("africa-update", true);
    french.lang = "fr".into();
    let text = parse(&templates.render_archive(&french).unwrap()).text;
    assert!(
        text.contains("Numéro 12") && text.contains("1er mars 2027"),
        "{text}"
    );
    assert!(
        text.contains("English") && text.contains("Français"),
        "{text}"
    );
}

#[test]
fn archive_page_without_issues_or_for_a_missing_issue() {
    let templates = shipped();
    let empty = templates
        .render_archive(&archive_view("monitor", false))
        .unwrap();
    assert!(parse(&empty)
        .text
        .contains("No issue has been published yet."));
    let mut view = archive_view("monitor", true);
    view.not_found = true;
    let text = parse(&templates.render_archive(&view).unwrap()).text;
    assert!(text.contains("This issue is not available"), "{text}");
    assert!(!parse(&empty).text.contains("This issue is not available"));
}

#[test]
fn the_archive_template_is_checked_at_start() {
    let dir = copy_of_templates();
    let path = dir.path().join("publications/_web/archive.html.hbs");
    let shipped = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        shipped.replace("{{t.past_issues}}", "{{t.past_isues}}"),
    )
    .unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("_web/archive.html.hbs") && error.contains("past_isues"),
        "{error}"
    );
    std::fs::remove_file(&path).unwrap();
    let error = load_error(dir.path());
    assert!(
        error.contains("_web/archive.html.hbs") && error.contains("missing"),
        "{error}"
    );
}

//! Editions rendered from the publication templates: one subject, HTML part and text part
//! per edition and language.
//!
//! Layout of `templates/publications/` (under `server.templates_dir`):
//!
//! ```text
//! _partials/NAME.html.hbs     partial NAME for the HTML templates
//! _partials/NAME.txt.hbs      partial NAME for the subject and text templates
//! _strings/LANG.toml          words of the shared partials and the date format, per language
//! PUB/LANG.subject.hbs        one per publication (its `templates` directory) and language
//! PUB/LANG.html.hbs
//! PUB/LANG.txt.hbs
//! _web/archive.html.hbs       the web page listing a publication's past editions
//! ```
//!
//! Everything is parsed, and every configured publication rendered once in each of its
//! languages with a sample edition, when the daemon starts: a missing file, a syntax error
//! or a template naming a variable that does not exist stops it at boot, naming the file,
//! rather than on the morning an edition is due.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use handlebars::{handlebars_helper, Handlebars};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::markdown::{self, Direction, LinkList};
use crate::config::PublicationConfig;
use crate::links::{self, Role};
use crate::templating::{
    direction, files, normalise_line_ends, one_line, read, register_partial, register_template,
    registry, FileError, Markup, RTL_LANGUAGES,
};

/// Everything a template sees for one edition in one language.
#[derive(Debug, Clone, Serialize)]
pub struct EditionView {
    /// Configuration name, e.g. "bulletin".
    pub publication: String,
    /// As configured, in this language where the configuration gives one.
    pub title: String,
    pub lang: String,
    /// Edition number N.
    pub number: i64,
    /// Edition date, epoch milliseconds UTC; shown as the date in `time_zone`.
    pub date_ms: i64,
    /// IANA time zone name.
    pub time_zone: String,
    pub sections: Vec<SectionView>,
    /// The edition as a web page: `https://.../p/NAME/N/LANG`.
    pub web_url: String,
    /// Written where each recipient's unsubscribe link goes; delivery replaces it per
    /// recipient. Normally [`UNSUBSCRIBE_PLACEHOLDER`].
    pub unsubscribe_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionView {
    pub title: String,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemView {
    pub title: String,
    pub body_markdown: String,
    pub translation_key: String,
}

/// The web page listing a publication's past editions, written in one language.
#[derive(Debug, Clone)]
pub struct ArchiveView {
    /// Configuration name, e.g. "bulletin".
    pub publication: String,
    pub title: String,
    pub description: String,
    /// The language the page is written in (its labels and dates).
    pub lang: String,
    /// IANA time zone the dates are shown in.
    pub time_zone: String,
    /// Newest first.
    pub editions: Vec<ArchivedEdition>,
    pub feed_url: String,
    /// Where people write to subscribe (`NAME-join@domain`).
    pub join_address: String,
    /// The page answers a link to an edition that does not exist, and says so first.
    pub not_found: bool,
}

/// One sent edition on the archive page.
#[derive(Debug, Clone)]
pub struct ArchivedEdition {
    pub number: i64,
    /// When it was sent, epoch milliseconds UTC.
    pub sent_ms: i64,
    /// (language, URL of the edition's web page in it), in the publication's order.
    pub pages: Vec<(String, String)>,
}

/// Where each recipient's unsubscribe link goes: the message builder keeps it whole for
/// delivery to replace.
pub use crate::message::UNSUBSCRIBE_PLACEHOLDER;

/// One edition in one language, ready for a multipart/alternative message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One line.
    pub subject: String,
    pub html: String,
    /// Wrapped at [`markdown::WIDTH`] columns, LF line ends.
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file that cannot be read, or is not valid Handlebars.
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{} is missing; every publication needs a subject, HTML and text template for each of its languages", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {problem}", path.display())]
    Strings { path: PathBuf, problem: String },
    #[error("template {} does not render: {source}", path.display())]
    Trial {
        path: PathBuf,
        #[source]
        source: Box<TemplateError>,
    },
    #[error("no templates are loaded for publication {publication:?} in language {lang:?}")]
    NotLoaded { publication: String, lang: String },
    #[error("{name:?} is not a known IANA time zone")]
    TimeZone { name: String },
    #[error("edition date {date_ms} ms is out of range")]
    Date { date_ms: i64 },
    #[error("cannot render template {template}: {source}")]
    Render {
        template: String,
        #[source]
        source: Box<handlebars::RenderError>,
    },
}

/// The words of one language: labels for the shared partials and how dates are written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Strings {
    /// The language's name in itself ("Français"), for links to an edition in it.
    name: String,
    /// Between the item titles of the hidden preview line (`headlines`).
    list_separator: String,
    date: DateFormat,
    /// Label name → text; `{title}`, `{number}`, `{date}` and `{count}` are replaced by the
    /// edition's values.
    labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DateFormat {
    /// With `{day}`, `{month}` and `{year}`.
    pattern: String,
    /// January first.
    months: Vec<String>,
    /// How the first day of a month is written when not as a number ("1er" in French).
    #[serde(default)]
    first_day: Option<String>,
    /// The ten digits 0-9 numbers are written with; ASCII when absent.
    #[serde(default)]
    digits: Option<String>,
}

/// Every publication's templates, parsed and tried once.
#[derive(Debug)]
pub struct PublicationTemplates {
    /// HTML parts: Handlebars' HTML escaping, so that titles typed by editors cannot inject
    /// markup; item bodies come pre-rendered by [`markdown::to_html`].
    html: Handlebars<'static>,
    /// Subjects and text parts: no escaping.
    text: Handlebars<'static>,
    strings: HashMap<String, Strings>,
    /// Publication name → its directory under `publications/`, for template keys.
    dirs: HashMap<String, String>,
}

impl PublicationTemplates {
    /// Loads `DIR/publications/**` for the configured publications and renders each once in
    /// each of its languages.
    pub fn load(
        dir: &Path,
        publications: &[PublicationConfig],
    ) -> Result<PublicationTemplates, TemplateError> {
        let root = dir.join("publications");
        let mut templates = PublicationTemplates {
            html: edition_registry(Markup::Html),
            text: edition_registry(Markup::Text),
            strings: HashMap::new(),
            dirs: HashMap::new(),
        };
        templates.load_partials(&root.join("_partials"))?;
        templates.load_strings(&root.join("_strings"))?;
        let archive = root.join(ARCHIVE_FILE);
        if !archive.is_file() {
            return Err(TemplateError::Missing { path: archive });
        }
        register_template(&mut templates.html, ARCHIVE, &archive)?;
        for publication in publications {
            templates.load_publication(&root, publication)?;
        }
        for publication in publications {
            for lang in &publication.languages {
                templates.trial(&root, publication, lang)?;
            }
            templates.trial_archive(&root, publication)?;
        }
        Ok(templates)
    }

    /// `PUB/LANG.{subject,html,txt}.hbs` of each of the publication's languages, all of
    /// which must exist, as must the languages' strings.
    fn load_publication(
        &mut self,
        root: &Path,
        publication: &PublicationConfig,
    ) -> Result<(), TemplateError> {
        let pub_dir = publication.templates_dir_name();
        for lang in &publication.languages {
            if !self.strings.contains_key(lang) {
                return Err(TemplateError::Missing {
                    path: root.join("_strings").join(format!("{lang}.toml")),
                });
            }
            for part in &PARTS {
                let path = root
                    .join(pub_dir)
                    .join(format!("{lang}.{}.hbs", part.suffix));
                if !path.is_file() {
                    return Err(TemplateError::Missing { path });
                }
                let registry = if part.html {
                    &mut self.html
                } else {
                    &mut self.text
                };
                register_template(registry, &key(pub_dir, lang, part), &path)?;
            }
        }
        self.dirs
            .insert(publication.name.clone(), pub_dir.to_owned());
        Ok(())
    }

    /// Renders the page listing a publication's past editions.
    pub fn render_archive(&self, view: &ArchiveView) -> Result<String, TemplateError> {
        let strings = self
            .strings
            .get(&view.lang)
            .ok_or_else(|| TemplateError::NotLoaded {
                publication: view.publication.clone(),
                lang: view.lang.clone(),
            })?;
        let digits = strings.date.digits.as_deref();
        let mut editions = Vec::new();
        for edition in &view.editions {
            let number = localise_digits(&edition.number.to_string(), digits);
            let date = format_date(edition.sent_ms, &view.time_zone, &strings.date)?;
            let pages: Vec<Value> = edition
                .pages
                .iter()
                .map(|(lang, url)| {
                    json!({
                        "lang": lang,
                        "dir": direction(lang),
                        // A language without strings is named by its code.
                        "name": self.strings.get(lang).map_or(lang.as_str(), |s| s.name.as_str()),
                        "url": url,
                    })
                })
                .collect();
            editions.push(json!({
                "number": edition.number,
                "number_text": number,
                "date": date,
                "pages": pages,
                "t": labels(strings, [&view.title, &number, &date, ""]),
            }));
        }
        let context = json!({
            "publication": view.publication,
            "title": view.title,
            "description": view.description,
            "lang": view.lang,
            "dir": direction(&view.lang),
            "feed_url": view.feed_url,
            "join_address": view.join_address,
            "not_found": view.not_found,
            "editions": editions,
            "t": labels(strings, [&view.title, "", "", ""]),
        });
        self.html
            .render(ARCHIVE, &context)
            .map(|html| normalise_line_ends(&html))
            .map_err(|e| TemplateError::Render {
                template: ARCHIVE.to_owned(),
                source: Box::new(e),
            })
    }

    /// "In this issue: first title · second title" in `lang`, for a feed entry's summary.
    pub fn headlines_summary(&self, lang: &str, titles: &[String]) -> Option<String> {
        let strings = self.strings.get(lang)?;
        let label = strings.labels.get("in_this_issue")?;
        Some(format!("{label}: {}", titles.join(&strings.list_separator)))
    }

    /// Renders `view` with its publication's templates in its language.
    pub fn render(&self, view: &EditionView) -> Result<Rendered, TemplateError> {
        let not_loaded = || TemplateError::NotLoaded {
            publication: view.publication.clone(),
            lang: view.lang.clone(),
        };
        let dir = self.dirs.get(&view.publication).ok_or_else(not_loaded)?;
        let strings = self.strings.get(&view.lang).ok_or_else(not_loaded)?;
        if !self.html.has_template(&key(dir, &view.lang, &PARTS[1])) {
            return Err(not_loaded());
        }
        let context = context(view, strings)?;
        let render = |registry: &Handlebars<'static>, part: &Part| {
            let template = key(dir, &view.lang, part);
            registry
                .render(&template, &context)
                .map_err(|e| TemplateError::Render {
                    template,
                    source: Box::new(e),
                })
        };
        Ok(Rendered {
            subject: one_line(&render(&self.text, &PARTS[0])?),
            html: normalise_line_ends(&render(&self.html, &PARTS[1])?),
            text: tidy_text(&render(&self.text, &PARTS[2])?),
        })
    }

    fn load_partials(&mut self, dir: &Path) -> Result<(), TemplateError> {
        for path in files(dir)? {
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let (registry, name) = if let Some(name) = file.strip_suffix(".html.hbs") {
                (&mut self.html, name)
            } else if let Some(name) = file.strip_suffix(".txt.hbs") {
                (&mut self.text, name)
            } else {
                continue;
            };
            register_partial(registry, name, &path)?;
        }
        Ok(())
    }

    /// Reads every `LANG.toml`, and checks that they all have the same labels, so that a
    /// label added to one language and forgotten in another is found at start.
    fn load_strings(&mut self, dir: &Path) -> Result<(), TemplateError> {
        let mut paths = HashMap::new();
        for path in files(dir)? {
            let Some(lang) = path
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.strip_suffix(".toml"))
            else {
                continue;
            };
            let problem = |problem: String| TemplateError::Strings {
                path: path.clone(),
                problem,
            };
            let strings: Strings =
                toml::from_str(&read(&path)?).map_err(|e| problem(e.message().to_owned()))?;
            if strings.date.months.len() != 12 {
                return Err(problem(format!(
                    "date.months has {} names; it needs the 12 months, January first",
                    strings.date.months.len()
                )));
            }
            if let Some(digits) = &strings.date.digits {
                if digits.chars().count() != 10 {
                    return Err(problem(
                        "date.digits must be the ten digits 0 to 9, e.g. \"0123456789\"".into(),
                    ));
                }
            }
            paths.insert(lang.to_owned(), path.clone());
            self.strings.insert(lang.to_owned(), strings);
        }
        for (lang, strings) in &self.strings {
            for (other_lang, other) in &self.strings {
                if let Some(label) = other
                    .labels
                    .keys()
                    .find(|k| !strings.labels.contains_key(*k))
                {
                    return Err(TemplateError::Strings {
                        path: paths[lang].clone(),
                        problem: format!(
                            "label {label:?} is missing ({other_lang}.toml has it; every language needs the same labels)"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Renders a sample edition, so that a template using a variable or partial that does
    /// not exist fails now (strict mode), naming its file.
    fn trial(
        &self,
        root: &Path,
        publication: &PublicationConfig,
        lang: &str,
    ) -> Result<(), TemplateError> {
        let view = sample(publication, lang);
        self.render(&view).map(drop).map_err(|error| {
            let part = match &error {
                TemplateError::Render { template, .. } => PARTS
                    .iter()
                    .find(|p| template.ends_with(&format!(".{}", p.suffix)))
                    .unwrap_or(&PARTS[1]),
                _ => &PARTS[1],
            };
            TemplateError::Trial {
                path: root
                    .join(publication.templates_dir_name())
                    .join(format!("{lang}.{}.hbs", part.suffix)),
                source: Box::new(error),
            }
        })
    }

    /// Renders the archive page of `publication` in its fallback language, with editions
    /// and without, so that a mistake in the template stops the daemon at start.
    fn trial_archive(
        &self,
        root: &Path,
        publication: &PublicationConfig,
    ) -> Result<(), TemplateError> {
        let sample = sample(publication, &publication.fallback_language);
        let mut view = ArchiveView {
            publication: publication.name.clone(),
            title: publication.title.clone(),
            description: publication.description.clone(),
            lang: publication.fallback_language.clone(),
            time_zone: publication.time_zone.clone(),
            editions: vec![ArchivedEdition {
                number: sample.number,
                sent_ms: sample.date_ms,
                pages: publication
                    .languages
                    .iter()
                    .map(|l| (l.clone(), sample.web_url.clone()))
                    .collect(),
            }],
            feed_url: links::feed_url(SAMPLE_BASE_URL, &publication.name),
            join_address: links::address(&publication.name, Role::Join, SAMPLE_DOMAIN),
            not_found: true,
        };
        let mut result = self.render_archive(&view);
        if result.is_ok() {
            view.editions.clear();
            view.not_found = false;
            result = self.render_archive(&view);
        }
        result.map(drop).map_err(|error| TemplateError::Trial {
            path: root.join(ARCHIVE_FILE),
            source: Box::new(error),
        })
    }
}

/// The archive page's template: its file under `publications/`, and its name.
const ARCHIVE_FILE: &str = "_web/archive.html.hbs";
const ARCHIVE: &str = "_web/archive";

/// The three templates of an edition, in the order they are rendered.
struct Part {
    suffix: &'static str,
    html: bool,
}

const PARTS: [Part; 3] = [
    Part {
        suffix: "subject",
        html: false,
    },
    Part {
        suffix: "html",
        html: true,
    },
    Part {
        suffix: "txt",
        html: false,
    },
];

fn key(dir: &str, lang: &str, part: &Part) -> String {
    format!("{dir}/{lang}.{}", part.suffix)
}

handlebars_helper!(upper: |s: str| s.to_uppercase());

fn edition_registry(markup: Markup) -> Handlebars<'static> {
    let mut registry = registry(markup);
    // A partial called on an indented line must not indent its output: text templates
    // place every line themselves.
    registry.set_prevent_indent(true);
    registry.register_helper("upper", Box::new(upper));
    registry
}

/// The template data: the view, plus what the templates should not have to compute.
fn context(view: &EditionView, strings: &Strings) -> Result<Value, TemplateError> {
    let rtl = RTL_LANGUAGES.contains(&view.lang.as_str());
    let direction = Direction::of(&view.lang);
    let digits = |n: i64| localise_digits(&n.to_string(), strings.date.digits.as_deref());
    let date = format_date(view.date_ms, &view.time_zone, &strings.date)?;

    let mut links = LinkList::default();
    let mut item_number = 0;
    let mut headlines = Vec::new();
    let mut sections = Vec::new();
    for (index, section) in view.sections.iter().enumerate() {
        if section.items.is_empty() {
            continue;
        }
        let mut items = Vec::new();
        for item in &section.items {
            item_number += 1;
            headlines.push(item.title.as_str());
            let (text, used) = markdown::to_text(&item.body_markdown, &mut links);
            let item_links: Vec<Value> = used
                .iter()
                .map(|&n| json!({ "number": n, "url": links.url(n) }))
                .collect();
            items.push(json!({
                "number": item_number,
                "number_text": digits(item_number),
                "anchor": format!("item-{item_number}"),
                "title": item.title,
                "translation_key": item.translation_key,
                "body_markdown": item.body_markdown,
                "html": markdown::to_html(&item.body_markdown, direction),
                "text": text,
                "links": item_links,
            }));
        }
        sections.push(json!({
            "title": section.title,
            "anchor": format!("section-{}", index + 1),
            "items": items,
        }));
    }

    let number = digits(view.number);
    let count = digits(item_number);
    let labels = labels(strings, [&view.title, &number, &date, &count]);

    Ok(json!({
        "publication": view.publication,
        "title": view.title,
        "lang": view.lang,
        "dir": if rtl { "rtl" } else { "ltr" },
        // Physical sides for `align` and `text-align`, which Outlook understands and
        // `start`/`end` it does not.
        "start": if rtl { "right" } else { "left" },
        "end": if rtl { "left" } else { "right" },
        "number": view.number,
        "number_text": number,
        "date": date,
        "date_ms": view.date_ms,
        "time_zone": view.time_zone,
        "web_url": view.web_url,
        "unsubscribe_url": view.unsubscribe_url,
        "item_count": item_number,
        "headlines": headlines.join(&strings.list_separator),
        "sections": sections,
        "t": labels,
    }))
}

/// The labels of `strings` with `{title}`, `{number}`, `{date}` and `{count}` replaced by
/// `values`, in that order.
fn labels<'a>(strings: &'a Strings, values: [&str; 4]) -> BTreeMap<&'a str, String> {
    let [title, number, date, count] = values;
    strings
        .labels
        .iter()
        .map(|(k, v)| {
            let text = v
                .replace("{title}", title)
                .replace("{number}", number)
                .replace("{date}", date)
                .replace("{count}", count);
            (k.as_str(), text)
        })
        .collect()
}

/// The edition's date in its time zone, written the way `format` says.
fn format_date(
    date_ms: i64,
    time_zone: &str,
    format: &DateFormat,
) -> Result<String, TemplateError> {
    let tz: chrono_tz::Tz = time_zone.parse().map_err(|_| TemplateError::TimeZone {
        name: time_zone.to_owned(),
    })?;
    let date = chrono::DateTime::from_timestamp_millis(date_ms)
        .ok_or(TemplateError::Date { date_ms })?
        .with_timezone(&tz);
    let digits = format.digits.as_deref();
    let day = match (&format.first_day, date.day()) {
        (Some(first), 1) => first.clone(),
        (_, day) => localise_digits(&day.to_string(), digits),
    };
    let month = &format.months[date.month0() as usize];
    let year = localise_digits(&date.year().to_string(), digits);
    Ok(format
        .pattern
        .replace("{day}", &day)
        .replace("{month}", month)
        .replace("{year}", &year))
}

/// Replaces ASCII digits by the language's own (Arabic-Indic for Arabic).
fn localise_digits(s: &str, digits: Option<&str>) -> String {
    let Some(digits) = digits else {
        return s.to_owned();
    };
    let digits: Vec<char> = digits.chars().collect();
    s.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => digits[d as usize],
            _ => c,
        })
        .collect()
}

/// The text part as sent: LF line ends, no trailing spaces, never two blank lines in a row
/// (templates can be written airily), wrapped at 72 columns, ending with one line end.
fn tidy_text(text: &str) -> String {
    let text = normalise_line_ends(text);
    let mut lines: Vec<&str> = Vec::new();
    for line in text.split('\n').map(str::trim_end) {
        let blank = line.is_empty();
        if blank && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = markdown::wrap(&lines.join("\n"), markdown::WIDTH);
    out.push('\n');
    out
}

/// The edition rendered at start-up to try the templates: every kind of section and item
/// content the templates may meet.
/// Where the sample edition that templates are checked against says it lives.
const SAMPLE_BASE_URL: &str = "https://example.org";
const SAMPLE_DOMAIN: &str = "example.org";

fn sample(publication: &PublicationConfig, lang: &str) -> EditionView {
    let item = |n: usize| ItemView {
        title: format!("Sample item {n}"),
        body_markdown: "A paragraph with a [link](https://example.org/) and **emphasis**.\n\n\
                        - one\n- two\n\n> A quotation."
            .into(),
        translation_key: format!("sample-{n}"),
    };
    EditionView {
        publication: publication.name.clone(),
        title: publication.title.clone(),
        lang: lang.to_owned(),
        number: 1,
        date_ms: 1_800_000_000_000,
        time_zone: publication.time_zone.clone(),
        sections: vec![
            SectionView {
                title: "First section".into(),
                items: vec![item(1), item(2)],
            },
            SectionView {
                title: "Empty section".into(),
                items: Vec::new(),
            },
        ],
        web_url: links::edition_url(SAMPLE_BASE_URL, &publication.name, 1, lang),
        unsubscribe_url: UNSUBSCRIBE_PLACEHOLDER.to_owned(),
    }
}

#[cfg(test)]
mod tests;

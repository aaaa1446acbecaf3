//! What the notices' and the publications' templates have in common, written once: reading
//! template files so that every error names the file, the two kinds of Handlebars
//! registry (HTML, which escapes, and plain text, which must not), the one HTML escaper,
//! the writing direction of a language, and tidying what a template rendered.

use std::path::{Path, PathBuf};

use handlebars::Handlebars;

/// Languages written right to left. Only Arabic ships today; the others are listed so that
/// adding one is a matter of adding its templates, without a page silently coming out left
/// to right.
pub const RTL_LANGUAGES: [&str; 10] = ["ar", "he", "fa", "ur", "ps", "sd", "ckb", "yi", "dv", "ug"];

/// A template file that cannot be read or parsed. Each template set turns it into its own
/// error type, under the same words.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {} is not valid Handlebars: {source}", path.display())]
    Syntax {
        path: PathBuf,
        // Boxed: the handlebars error is large and would bloat every Result.
        #[source]
        source: Box<handlebars::TemplateError>,
    },
}

/// What a registry renders, which decides its escaping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    /// HTML parts and web pages: values are escaped with [`escape_html`], so that names,
    /// addresses and titles typed by people cannot inject markup.
    Html,
    /// Subjects and plain-text parts: nothing escaped, since `&amp;` in a plain-text email
    /// would be shown literally.
    Text,
}

/// A registry in strict mode, so that a template naming a variable that does not exist
/// fails instead of rendering nothing.
pub fn registry(markup: Markup) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    match markup {
        Markup::Html => registry.register_escape_fn(escape_html),
        Markup::Text => registry.register_escape_fn(handlebars::no_escape),
    }
    registry
}

/// Reads `path` and registers it as template `name`.
pub fn register_template(
    registry: &mut Handlebars<'static>,
    name: &str,
    path: &Path,
) -> Result<(), FileError> {
    registry
        .register_template_string(name, read(path)?)
        .map_err(|e| syntax(path, e))
}

/// Reads `path` and registers it as partial `name`.
pub fn register_partial(
    registry: &mut Handlebars<'static>,
    name: &str,
    path: &Path,
) -> Result<(), FileError> {
    registry
        .register_partial(name, read(path)?)
        .map_err(|e| syntax(path, e))
}

pub fn read(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_owned(),
        source,
    })
}

fn syntax(path: &Path, e: handlebars::TemplateError) -> FileError {
    FileError::Syntax {
        path: path.to_owned(),
        source: Box::new(e),
    }
}

/// The language subdirectories of `dir`, sorted so that loading is deterministic. Names
/// starting with `_` or `.` are shared partials or editor debris, not languages.
pub fn language_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, FileError> {
    let mut out = Vec::new();
    for path in entries(dir)? {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with(['_', '.']) || !path.is_dir() {
            continue;
        }
        out.push((name.to_owned(), path.clone()));
    }
    Ok(out)
}

/// The regular files of `dir`, sorted so that loading (and its first error) is
/// deterministic.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    Ok(entries(dir)?.into_iter().filter(|p| p.is_file()).collect())
}

fn entries(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let err = |source| FileError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(err)? {
        out.push(entry.map_err(err)?.path());
    }
    out.sort();
    Ok(out)
}

/// `rtl` for a language written right to left, else `ltr`: the `dir` of HTML.
pub fn direction(lang: &str) -> &'static str {
    if RTL_LANGUAGES.contains(&lang) {
        "rtl"
    } else {
        "ltr"
    }
}

/// Text escaped for HTML element content and quoted attribute values alike. Every
/// template attribute is quoted, so `=` and backquotes need no escaping, and a URL in an
/// `href` stays readable.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped_html(text, &mut out);
    out
}

/// Text for XML content or a quoted attribute (the Atom feeds). Characters XML 1.0 does not
/// allow at all, escaped or not (control characters pasted into a title or a subject), are
/// dropped: one of them would make the whole feed unreadable. XML's own rules, which is
/// why this is not [`escape_html`]: `&apos;` is one of its entities, and those characters
/// have no escape.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// RFC 3339 in UTC, as Atom wants its dates; `ms` since the epoch.
pub fn rfc3339_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// [`escape_html`], appending to `out`.
pub fn push_escaped_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// Trims `s` and collapses every run of line breaks, tabs and other control characters
/// (with the spaces around them) into a single space.
pub fn one_line(s: &str) -> String {
    // U+2028 and U+2029 are not control characters but some mail clients treat them as
    // line breaks.
    s.split(|c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Converts CRLF and lone CR to LF; the message builder applies the CRLF that SMTP wants,
/// and templates edited on Windows must not produce mixed ends.
pub fn normalise_line_ends(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_for_content_and_attributes() {
        assert_eq!(
            escape_html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn an_html_registry_escapes_and_a_text_one_does_not() {
        let data = serde_json::json!({ "v": "<b>&" });
        let html = registry(Markup::Html);
        let text = registry(Markup::Text);
        assert_eq!(
            html.render_template("{{v}}", &data).ok(),
            Some("&lt;b&gt;&amp;".into())
        );
        assert_eq!(
            text.render_template("{{v}}", &data).ok(),
            Some("<b>&".into())
        );
        assert!(text.render_template("{{missing}}", &data).is_err());
    }
}

//! The notices tidings sends to people (confirmation requests, welcome and
//! goodbye messages, replies to email commands) and the few web pages it
//! shows, rendered from Handlebars templates kept outside the binary so that
//! the wording can be reviewed and corrected without touching Rust code.
//!
//! Layout of the template directory:
//!
//! ```text
//! messages/_layout.html.hbs          partial `messages_layout`
//! messages/LANG/NAME.subject.hbs     "messages/LANG/NAME.subject"
//! messages/LANG/NAME.txt.hbs         "messages/LANG/NAME.txt"
//! messages/LANG/NAME.html.hbs        "messages/LANG/NAME.html"
//! web/_layout.html.hbs               partial `web_layout`
//! web/LANG/NAME.html.hbs             "web/LANG/NAME"
//! ```
//!
//! English is the reference: every notice and page must exist in English, and
//! anything missing in another language is rendered in English instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use handlebars::Handlebars;
use serde_json::Value;

use crate::templating::{
    direction, files, language_dirs, normalise_line_ends, one_line, register_partial,
    register_template, registry, FileError, Markup,
};

/// Every email notice; each has a subject, a plain-text and an HTML template.
pub const NOTICES: [&str; 17] = [
    "confirm_subscribe",
    "confirm_unsubscribe",
    "welcome",
    "goodbye",
    "approval_pending",
    "approval_needed",
    "rejected",
    "help",
    "command_results",
    "held_notice",
    "posting_rejected",
    "held_expired",
    "bounce_disabled",
    "deliverability",
    "delivery_expired",
    "decision_unauthenticated",
    "sign_in",
];

/// Notices to a publication's editors, in the publication's fallback language. Shipped in
/// every language of [`crate::config::LANGUAGES`]; only English is required, as for the others.
pub const EDITOR_NOTICES: [&str; 4] = [
    "item_received",
    "edition_preview",
    "edition_empty",
    "edition_caught_up",
];

/// Messages of which the templates give only a subject and a plain-text part, the rest
/// being built around them: a digest's table of contents, before the postings it carries.
pub const TEXT_NOTICES: [&str; 1] = ["digest"];

/// Text added to other messages rather than sent on its own; each is a single plain-text
/// template (`messages/LANG/NAME.txt.hbs`).
pub const SNIPPETS: [&str; 2] = ["confidential_notice", "account_footer"];

/// Every web page; each is a single HTML template.
pub const PAGES: [&str; 38] = [
    "unsubscribe",
    "unsubscribed",
    "confirm",
    "confirmed",
    "invalid",
    "reenable",
    "reenabled",
    "console_sign_in",
    "console_check_mailbox",
    "console_link",
    "console_link_invalid",
    "console_home",
    "console_signed_out",
    "console_refused",
    "console_not_found",
    "console_held_queue",
    "console_held_posting",
    "console_held_decided",
    "console_publication",
    "console_item",
    "console_edition_build",
    "console_edition",
    "console_editions_outcome",
    "console_account",
    "console_account_done",
    "console_audit",
    "console_roster",
    "console_member",
    "console_import",
    "console_requests",
    "console_bounces",
    "console_queue",
    "archive_lists",
    "archive_list",
    "archive_month",
    "archive_thread",
    "archive_message",
    "archive_search",
];

/// The language every notice and page must exist in, used when the requested
/// language lacks a template.
const FALLBACK: &str = "en";

/// The three templates of a notice, in the order they are rendered.
const NOTICE_PARTS: [&str; 3] = ["subject", "txt", "html"];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file that cannot be read, or is not valid Handlebars.
    #[error(transparent)]
    File(#[from] FileError),
    #[error("the English template {} is missing; English is the fallback for every language and must be complete", path.display())]
    MissingEnglish { path: PathBuf },
    #[error("no notice or page named {name:?}")]
    Unknown { name: String },
    #[error("the data for {template} must be a JSON object")]
    DataNotObject { template: String },
    #[error("cannot render template {template} in language {lang:?}: {source}")]
    Render {
        template: String,
        lang: String,
        #[source]
        source: Box<handlebars::RenderError>,
    },
}

/// Every template, parsed once at start-up so that a syntax error stops the
/// daemon at boot instead of surfacing on the first subscription request.
#[derive(Debug)]
pub struct Templates {
    /// HTML email parts and web pages ([`Markup::Html`]).
    html: Handlebars<'static>,
    /// Subjects and plain-text parts ([`Markup::Text`]).
    text: Handlebars<'static>,
    languages: BTreeSet<String>,
}

/// The subject and text of a [`TEXT_NOTICES`] message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedText {
    /// The language actually used (English when the requested one lacks the message).
    pub lang: String,
    pub subject: String,
    pub text: String,
}

/// One notice, ready to be assembled into a multipart/alternative message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// The language actually used, which is English when the requested one
    /// lacks the notice; suitable for Content-Language.
    pub lang: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Templates {
    /// Loads and parses every template under `dir`, and checks that English is
    /// complete.
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let mut templates = Templates {
            html: registry(Markup::Html),
            text: registry(Markup::Text),
            languages: BTreeSet::new(),
        };
        for (name, area) in [("messages_layout", "messages"), ("web_layout", "web")] {
            let layout = dir.join(area).join("_layout.html.hbs");
            register_partial(&mut templates.html, name, &layout)?;
        }
        templates.load_messages(&dir.join("messages"))?;
        templates.load_pages(&dir.join("web"))?;
        templates.check_english(dir)?;
        Ok(templates)
    }

    /// `messages/LANG/NAME.{subject,txt,html}.hbs`: subjects and text to the text
    /// registry, HTML to the HTML one.
    fn load_messages(&mut self, dir: &Path) -> Result<(), TemplateError> {
        for (lang, lang_dir) in language_dirs(dir)? {
            for path in files(&lang_dir)? {
                let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                    continue;
                };
                let (registry, stem) = if let Some(stem) = file.strip_suffix(".subject.hbs") {
                    (&mut self.text, format!("{stem}.subject"))
                } else if let Some(stem) = file.strip_suffix(".txt.hbs") {
                    (&mut self.text, format!("{stem}.txt"))
                } else if let Some(stem) = file.strip_suffix(".html.hbs") {
                    (&mut self.html, format!("{stem}.html"))
                } else {
                    continue;
                };
                register_template(registry, &format!("messages/{lang}/{stem}"), &path)?;
            }
            self.languages.insert(lang);
        }
        Ok(())
    }

    /// `web/LANG/NAME.html.hbs`.
    fn load_pages(&mut self, dir: &Path) -> Result<(), TemplateError> {
        for (lang, lang_dir) in language_dirs(dir)? {
            for path in files(&lang_dir)? {
                let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                    continue;
                };
                let Some(stem) = file.strip_suffix(".html.hbs") else {
                    continue;
                };
                register_template(&mut self.html, &format!("web/{lang}/{stem}"), &path)?;
            }
            self.languages.insert(lang);
        }
        Ok(())
    }

    /// Every notice, snippet and page exists in English, the fallback of every language.
    fn check_english(&self, dir: &Path) -> Result<(), TemplateError> {
        let missing = |area: &str, file: String| TemplateError::MissingEnglish {
            path: dir.join(area).join(FALLBACK).join(file),
        };
        for name in NOTICES.iter().chain(&EDITOR_NOTICES) {
            for part in NOTICE_PARTS {
                if !self.has_notice_part(FALLBACK, name, part) {
                    return Err(missing("messages", format!("{name}.{part}.hbs")));
                }
            }
        }
        for name in TEXT_NOTICES {
            for part in ["subject", "txt"] {
                if !self.has_notice_part(FALLBACK, name, part) {
                    return Err(missing("messages", format!("{name}.{part}.hbs")));
                }
            }
        }
        for name in SNIPPETS {
            if !self.has_notice_part(FALLBACK, name, "txt") {
                return Err(missing("messages", format!("{name}.txt.hbs")));
            }
        }
        for name in PAGES {
            if !self.html.has_template(&page_key(FALLBACK, name)) {
                return Err(missing("web", format!("{name}.html.hbs")));
            }
        }
        Ok(())
    }

    /// Renders notice `name` in `lang`, falling back to English when that language lacks it. Injects `lang` and `dir` ("rtl" for ar, else "ltr") into the data object (data is a JSON object).
    ///
    /// The fallback is decided for the notice as a whole: if any of its three
    /// templates is missing in `lang`, all three come from English, so that a
    /// message never has a subject in one language and a body in another, and
    /// `lang`/`dir` always describe the text actually sent.
    pub fn notice(
        &self,
        name: &str,
        lang: &str,
        data: &Value,
    ) -> Result<RenderedNotice, TemplateError> {
        let lang = self.language_having(name, lang, &NOTICE_PARTS)?;
        let data = with_language(data, lang, &notice_key(lang, name, "html"))?;

        let subject = render(&self.text, &notice_key(lang, name, "subject"), lang, &data)?;
        let text = render(&self.text, &notice_key(lang, name, "txt"), lang, &data)?;
        let html = render(&self.html, &notice_key(lang, name, "html"), lang, &data)?;
        Ok(RenderedNotice {
            lang: lang.to_owned(),
            // The subject becomes a header, which must stay on one line: a
            // list name containing CR/LF must not be able to end the header
            // and inject others (Bcc:, a second Subject:, a body).
            subject: one_line(&subject),
            text: normalise_line_ends(&text),
            html: normalise_line_ends(&html),
        })
    }

    /// `lang` when it has every one of `parts` of notice `name`, else English when that has
    /// them: a notice is never sent half in one language and half in another.
    fn language_having<'a>(
        &self,
        name: &str,
        lang: &'a str,
        parts: &[&str],
    ) -> Result<&'a str, TemplateError> {
        let complete = |l: &str| parts.iter().all(|p| self.has_notice_part(l, name, p));
        if complete(lang) {
            Ok(lang)
        } else if complete(FALLBACK) {
            Ok(FALLBACK)
        } else {
            Err(TemplateError::Unknown {
                name: name.to_owned(),
            })
        }
    }

    /// Renders text message `name` (one of [`TEXT_NOTICES`]) in `lang`, or wholly in
    /// English when `lang` lacks its subject or its text.
    pub fn text_notice(
        &self,
        name: &str,
        lang: &str,
        data: &Value,
    ) -> Result<RenderedText, TemplateError> {
        let lang = self.language_having(name, lang, &["subject", "txt"])?;
        let data = with_language(data, lang, &notice_key(lang, name, "txt"))?;
        let subject = render(&self.text, &notice_key(lang, name, "subject"), lang, &data)?;
        let text = render(&self.text, &notice_key(lang, name, "txt"), lang, &data)?;
        Ok(RenderedText {
            lang: lang.to_owned(),
            subject: one_line(&subject),
            text: normalise_line_ends(&text),
        })
    }

    /// Renders web page `name` in `lang`, falling back to English when that
    /// language lacks it. Injects `lang` and `dir` like `notice`.
    pub fn page(&self, name: &str, lang: &str, data: &Value) -> Result<String, TemplateError> {
        let lang = if self.html.has_template(&page_key(lang, name)) {
            lang
        } else if self.html.has_template(&page_key(FALLBACK, name)) {
            FALLBACK
        } else {
            return Err(TemplateError::Unknown {
                name: name.to_owned(),
            });
        };
        let key = page_key(lang, name);
        let data = with_language(data, lang, &key)?;
        Ok(normalise_line_ends(&render(&self.html, &key, lang, &data)?))
    }

    /// Renders text snippet `name` in `lang`, or in English when `lang` lacks it.
    pub fn snippet(&self, name: &str, lang: &str, data: &Value) -> Result<String, TemplateError> {
        let lang = if self.has_notice_part(lang, name, "txt") {
            lang
        } else if self.has_notice_part(FALLBACK, name, "txt") {
            FALLBACK
        } else {
            return Err(TemplateError::Unknown {
                name: name.to_owned(),
            });
        };
        let key = notice_key(lang, name, "txt");
        let data = with_language(data, lang, &key)?;
        Ok(normalise_line_ends(&render(&self.text, &key, lang, &data)?)
            .trim_end()
            .to_string())
    }

    /// Whether any template was loaded for `lang`; a member whose language is
    /// not available gets English.
    pub fn has_language(&self, lang: &str) -> bool {
        self.languages.contains(lang)
    }

    fn has_notice_part(&self, lang: &str, name: &str, part: &str) -> bool {
        let registry = if part == "html" {
            &self.html
        } else {
            &self.text
        };
        registry.has_template(&notice_key(lang, name, part))
    }
}

fn notice_key(lang: &str, name: &str, part: &str) -> String {
    format!("messages/{lang}/{name}.{part}")
}

fn page_key(lang: &str, name: &str) -> String {
    format!("web/{lang}/{name}")
}

/// A copy of `data` with `lang` and `dir` set for the language actually used,
/// so that an English fallback for an Arabic reader is laid out left to right.
fn with_language(data: &Value, lang: &str, template: &str) -> Result<Value, TemplateError> {
    let Value::Object(map) = data else {
        return Err(TemplateError::DataNotObject {
            template: template.to_owned(),
        });
    };
    let mut map = map.clone();
    map.insert("lang".to_owned(), Value::from(lang));
    map.insert("dir".to_owned(), Value::from(direction(lang)));
    Ok(Value::Object(map))
}

fn render(
    registry: &Handlebars<'static>,
    template: &str,
    lang: &str,
    data: &Value,
) -> Result<String, TemplateError> {
    registry
        .render(template, data)
        .map_err(|e| TemplateError::Render {
            template: template.to_owned(),
            lang: lang.to_owned(),
            source: Box::new(e),
        })
}

#[cfg(test)]
mod tests;

//! Stand-in for the edition templates: the interface the rest of the crate calls, with a
//! plain rendering behind it until the real templates replace this file.

use std::path::Path;

use crate::config::PublicationConfig;

/// Everything a template sees for one edition in one language.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EditionView {
    pub publication: String,
    pub title: String,
    pub lang: String,
    pub number: i64,
    pub date_ms: i64,
    pub time_zone: String,
    pub sections: Vec<SectionView>,
    pub web_url: String,
    /// Literal text placed where the personalised unsubscribe link goes; delivery replaces it
    /// per recipient.
    pub unsubscribe_url: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SectionView {
    pub title: String,
    pub items: Vec<ItemView>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ItemView {
    pub title: String,
    pub body_markdown: String,
    pub translation_key: String,
}

pub const UNSUBSCRIBE_PLACEHOLDER: &str = "https://unsubscribe.invalid/@@UNSUBSCRIBE@@";

pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot render edition {number} of {publication} in {lang:?}")]
    Render {
        publication: String,
        number: i64,
        lang: String,
    },
}

pub struct PublicationTemplates;

impl PublicationTemplates {
    pub fn load(_dir: &Path, _publications: &[PublicationConfig]) -> Result<Self, TemplateError> {
        Ok(PublicationTemplates)
    }

    pub fn render(&self, view: &EditionView) -> Result<Rendered, TemplateError> {
        let subject = format!("{} No. {}", view.title, view.number);
        let mut text = format!("{subject}\n\n");
        let mut html = format!(
            "<!DOCTYPE html><html lang=\"{}\"><body><h1>{}</h1>",
            escape(&view.lang),
            escape(&subject)
        );
        for section in &view.sections {
            text.push_str(&format!("{}\n\n", section.title));
            html.push_str(&format!("<h2>{}</h2>", escape(&section.title)));
            for item in &section.items {
                text.push_str(&format!("{}\n{}\n\n", item.title, item.body_markdown));
                html.push_str(&format!(
                    "<h3>{}</h3><pre>{}</pre>",
                    escape(&item.title),
                    escape(&item.body_markdown)
                ));
            }
        }
        text.push_str(&format!("Unsubscribe: {}\n", view.unsubscribe_url));
        html.push_str(&format!(
            "<p><a href=\"{}\">Unsubscribe</a></p></body></html>",
            view.unsubscribe_url
        ));
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

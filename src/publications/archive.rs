//! Sent editions on the web: the page listing a publication's past editions and its Atom
//! feed. Only sent editions appear, and only what their own web pages show anyway (the
//! subject, the titles of the stories, the date it was sent): nothing about editors,
//! waiting items or editions that were never approved.

use std::collections::HashMap;

use crate::config::PublicationConfig;
use crate::links::{self, archive_url, edition_url, feed_url, Role};
use crate::templating::{escape_xml, rfc3339_utc};

use super::editions::sections;
use super::render::{ArchiveView, ArchivedEdition};
use super::{Publications, Result};

/// Editions in the feed, newest first. Feed readers only look for what is new; the archive
/// page lists them all.
const FEED_EDITIONS: usize = 50;

impl Publications {
    /// The page of the publication's sent editions, newest first, in its fallback language.
    /// With `not_found` it answers a link to an edition that does not exist, and says so.
    pub async fn archive_page(
        &self,
        publication: &PublicationConfig,
        not_found: bool,
    ) -> Result<String> {
        let base_url = &self.config.server.base_url;
        let editions = self
            .store
            .published_editions(&publication.name)
            .await?
            .into_iter()
            .map(|(number, languages, sent_ms, _)| ArchivedEdition {
                number,
                sent_ms,
                pages: in_configured_order(publication, languages)
                    .into_iter()
                    .map(|lang| {
                        let url = edition_url(base_url, &publication.name, number, &lang);
                        (lang, url)
                    })
                    .collect(),
            })
            .collect();
        let view = ArchiveView {
            publication: publication.name.clone(),
            title: publication.title.clone(),
            description: publication.description.clone(),
            lang: publication.fallback_language.clone(),
            time_zone: publication.time_zone.clone(),
            editions,
            feed_url: feed_url(base_url, &publication.name),
            join_address: links::address(&publication.name, Role::Join, &self.config.server.domain),
            not_found,
        };
        Ok(self.templates.render_archive(&view)?)
    }

    /// The Atom 1.0 feed of the publication: one entry per sent edition and language.
    pub async fn feed(&self, publication: &PublicationConfig) -> Result<String> {
        let base_url = &self.config.server.base_url;
        let published = self.store.published_editions(&publication.name).await?;
        let mut subjects: HashMap<(i64, String), String> = self
            .store
            .published_subjects(&publication.name)
            .await?
            .into_iter()
            .map(|(id, lang, subject)| ((id, lang), subject))
            .collect();
        let mut entries = Vec::new();
        for (number, languages, sent_ms, id) in published.into_iter().take(FEED_EDITIONS) {
            let items = self.store.edition_items(id).await?;
            for lang in in_configured_order(publication, languages) {
                let titles: Vec<String> = sections(publication, &lang, &items)
                    .into_iter()
                    .flat_map(|section| section.items)
                    .map(|item| item.title)
                    .collect();
                entries.push(Entry {
                    title: subjects.remove(&(id, lang.clone())).unwrap_or_default(),
                    url: edition_url(base_url, &publication.name, number, &lang),
                    summary: self.templates.headlines_summary(&lang, &titles),
                    lang,
                    sent_ms,
                });
            }
        }
        Ok(atom(&Feed {
            title: &publication.title,
            subtitle: &publication.description,
            lang: &publication.fallback_language,
            url: &archive_url(base_url, &publication.name),
            self_url: &feed_url(base_url, &publication.name),
            entries: &entries,
        }))
    }
}

/// The store gives an edition's languages alphabetically; pages list them as configured.
fn in_configured_order(publication: &PublicationConfig, mut languages: Vec<String>) -> Vec<String> {
    languages.sort_by_key(|lang| {
        publication
            .languages
            .iter()
            .position(|l| l == lang)
            .unwrap_or(usize::MAX)
    });
    languages
}

struct Feed<'a> {
    title: &'a str,
    subtitle: &'a str,
    lang: &'a str,
    /// The archive page: the feed's id and alternate link.
    url: &'a str,
    self_url: &'a str,
    /// Newest first.
    entries: &'a [Entry],
}

struct Entry {
    title: String,
    /// The edition's web page: the entry's id and link, stable as long as `base_url` is.
    url: String,
    lang: String,
    sent_ms: i64,
    summary: Option<String>,
}

/// The feed as Atom 1.0 (RFC 4287). Written by hand: a dozen elements, and every value
/// goes through [`escape`].
fn atom(feed: &Feed) -> String {
    // Nothing sent yet: the feed has not changed since the beginning of time.
    let updated = feed.entries.iter().map(|e| e.sent_ms).max().unwrap_or(0);
    let mut lines = vec![
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>".to_string(),
        format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">",
            escape_xml(feed.lang)
        ),
        format!("  <title>{}</title>", escape_xml(feed.title)),
    ];
    if !feed.subtitle.is_empty() {
        lines.push(format!(
            "  <subtitle>{}</subtitle>",
            escape_xml(feed.subtitle)
        ));
    }
    lines.extend([
        format!("  <id>{}</id>", escape_xml(feed.url)),
        format!(
            "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
            escape_xml(feed.self_url)
        ),
        format!(
            "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            escape_xml(feed.url)
        ),
        format!("  <updated>{}</updated>", rfc3339_utc(updated)),
        // Atom requires an author; the publication is its own.
        format!("  <author><name>{}</name></author>", escape_xml(feed.title)),
    ]);
    for entry in feed.entries {
        let lang = escape_xml(&entry.lang);
        let url = escape_xml(&entry.url);
        let sent = rfc3339_utc(entry.sent_ms);
        lines.extend([
            format!("  <entry xml:lang=\"{lang}\">"),
            format!("    <title>{}</title>", escape_xml(&entry.title)),
            format!(
                "    <link rel=\"alternate\" type=\"text/html\" hreflang=\"{lang}\" href=\"{url}\"/>"
            ),
            format!("    <id>{url}</id>"),
            format!("    <published>{sent}</published>"),
            format!("    <updated>{sent}</updated>"),
        ]);
        if let Some(summary) = &entry.summary {
            lines.push(format!("    <summary>{}</summary>", escape_xml(summary)));
        }
        lines.push("  </entry>".to_string());
    }
    lines.push("</feed>\n".to_string());
    lines.join("\n")
}

#[cfg(test)]
mod tests;

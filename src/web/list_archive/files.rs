//! A month of a list's archive as an mbox file, and a public list's Atom feed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use crate::links::{archive_feed_url, archived_message_url, list_archive_url};
use crate::list_archive::mbox;
use crate::moderation::view;
use crate::subscriptions::Subscriptions;
use crate::templating::{escape_xml, rfc3339_utc};

use super::super::console::access::not_found;
use super::super::page::guarded;
use super::{author, internal, is_month, reader};

/// Messages in the feed, newest first.
const FEED_ENTRIES: i64 = 30;
/// Characters of a message's text in its feed entry's summary.
const SUMMARY_CHARS: usize = 300;

/// GET `/archive/LIST/MONTH/mbox`: the month's messages, oldest first, as mboxrd.
pub async fn mbox(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, month)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    if !is_month(&month) {
        return not_found(&subscriptions, &reader.language);
    }
    let messages = match subscriptions
        .store()
        .archived_month_messages(&reader.list.name, &month)
        .await
    {
        Ok(messages) => messages,
        Err(error) => return internal(&error),
    };
    if messages.is_empty() {
        return not_found(&subscriptions, &reader.language);
    }
    let mut file = Vec::new();
    for message in &messages {
        mbox::append(
            &mut file,
            &message.head.author_address,
            message.head.posted_at,
            &message.raw,
        );
    }
    let mut response = guarded(
        StatusCode::OK,
        file,
        "application/mbox",
        "default-src 'none'; sandbox",
    );
    let disposition = format!("attachment; filename=\"{}-{month}.mbox\"", reader.list.name);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    if reader.confidential() {
        response.headers_mut().insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    response
}

/// GET `/archive/LIST/feed.xml`: a public list's latest messages as Atom (RFC 4287). A
/// confidential list has none: feed readers do not sign in, and a feed is easily shared.
pub async fn feed(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    if reader.confidential() {
        return not_found(&subscriptions, &reader.language);
    }
    let messages = match subscriptions
        .store()
        .latest_archived(&reader.list.name, FEED_ENTRIES)
        .await
    {
        Ok(messages) => messages,
        Err(error) => return internal(&error),
    };
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let archive = list_archive_url(base_url, name);
    let updated = messages.first().map_or(0, |m| m.head.posted_at);
    let mut xml = vec![
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>".to_string(),
        format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">",
            escape_xml(&reader.list.language)
        ),
        format!("  <title>{}</title>", escape_xml(&reader.list.display_name)),
        format!("  <id>{}</id>", escape_xml(&archive)),
        format!(
            "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
            escape_xml(&archive_feed_url(base_url, name))
        ),
        format!(
            "  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            escape_xml(&archive)
        ),
        format!("  <updated>{}</updated>", rfc3339_utc(updated)),
    ];
    for message in &messages {
        let head = &message.head;
        let url = escape_xml(&archived_message_url(base_url, name, &head.message_key));
        let text = view::show(&message.raw)
            .map(|shown| shown.text)
            .unwrap_or_default();
        let summary: String = text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(SUMMARY_CHARS)
            .collect();
        let at = rfc3339_utc(head.posted_at);
        xml.extend([
            "  <entry>".to_string(),
            format!("    <title>{}</title>", escape_xml(&head.subject)),
            format!(
                "    <author><name>{}</name></author>",
                escape_xml(&author(&reader, head))
            ),
            format!("    <link rel=\"alternate\" type=\"text/html\" href=\"{url}\"/>"),
            format!("    <id>{url}</id>"),
            format!("    <published>{at}</published>"),
            format!("    <updated>{at}</updated>"),
            format!("    <summary>{}</summary>", escape_xml(&summary)),
            "  </entry>".to_string(),
        ]);
    }
    xml.push("</feed>\n".to_string());
    guarded(
        StatusCode::OK,
        xml.join("\n").into_bytes(),
        "application/atom+xml; charset=utf-8",
        "default-src 'none'; sandbox",
    )
}

//! One archived message: its page (header, text, cleaned HTML, attachments), its
//! attachments as downloads, and the owners' removal.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::links::{
    archive_month_url, archive_remove_url, archive_thread_url, archived_attachment_url,
    archived_html_url, list_archive_url,
};
use crate::list_archive::{self, html};
use crate::moderation::view;
use crate::store::ArchivedMessage;
use crate::subscriptions::Subscriptions;

use super::super::console::access::{not_found, signed_in};
use super::super::console::held::download;
use super::super::console::see_other;
use super::super::page::guarded;
use super::{author, internal, is_key, reader, render, subject, when, Reader};

/// The reader and message `key` of `list_name`'s archive; "not found" for anything else.
async fn archived<'a>(
    subscriptions: &'a Subscriptions,
    headers: &HeaderMap,
    list_name: &str,
    key: &str,
) -> Result<(Reader<'a>, ArchivedMessage), Response> {
    let reader = reader(subscriptions, headers, list_name).await?;
    if !is_key(key) {
        return Err(not_found(subscriptions, &reader.language));
    }
    match subscriptions
        .store()
        .archived_message(&reader.list.name, key)
        .await
    {
        Ok(Some(message)) => Ok((reader, message)),
        Ok(None) => Err(not_found(subscriptions, &reader.language)),
        Err(error) => Err(internal(&error)),
    }
}

/// GET `/archive/LIST/message/KEY`: what `Archived-At` names.
pub async fn message(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (reader, message) = match archived(&subscriptions, &headers, &list_name, &key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let shown = view::show(&message.raw).unwrap_or_default();
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let head = &message.head;
    let attachments: Vec<Value> = shown
        .attachments
        .iter()
        .enumerate()
        .map(|(n, a)| {
            json!({
                "name": a.name,
                "type": a.content_type,
                "size": a.size,
                "url": archived_attachment_url(base_url, name, &head.message_key, n),
            })
        })
        .collect();
    let may_remove = reader.may_remove(&subscriptions);
    let html_url = match shown.has_html {
        true => archived_html_url(base_url, name, &head.message_key),
        false => String::new(),
    };
    let mut response = render(
        &subscriptions,
        &reader,
        "archive_message",
        json!({
            "list_name": name,
            "list_title": reader.list.display_name,
            "confidential": reader.confidential(),
            "subject": subject(head),
            "author": author(&reader, head),
            "date": when(head.posted_at),
            "text": shown.text.trim_end(),
            "html_url": html_url,
            "attachments": attachments,
            "thread_url": archive_thread_url(base_url, name, &head.thread_key),
            "month": head.month,
            "month_url": archive_month_url(base_url, name, &head.month),
            "list_url": list_archive_url(base_url, name),
            "may_remove": may_remove,
            "remove_url": archive_remove_url(base_url, name, &head.message_key),
            "csrf": if may_remove { reader.csrf.as_str() } else { "" },
        }),
    );
    if response.status() == StatusCode::OK {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(MESSAGE_POLICY),
        );
    }
    response
}

/// The message page's policy: the archive's, and a frame of this site for its HTML.
const MESSAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; \
form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The policy of a message's own HTML, cleaned: its inline style and the images it carries,
/// nothing fetched, nothing run (`sandbox` holds even when the route is opened alone).
const FRAME_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'";

/// GET of an archived message's HTML part, cleaned, for the sandboxed frame of its page.
pub async fn html(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (reader, message) = match archived(&subscriptions, &headers, &list_name, &key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(cleaned) = html::cleaned(&message.raw) else {
        return not_found(&subscriptions, &reader.language);
    };
    let document = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" \
         content=\"noindex\"></head><body>{cleaned}</body></html>"
    );
    let mut response = guarded(
        StatusCode::OK,
        document.into_bytes(),
        "text/html; charset=utf-8",
        FRAME_POLICY,
    );
    if reader.confidential() {
        response.headers_mut().insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    response
}

/// GET of an archived message's attachment: always a download, never shown or sniffed.
pub async fn attachment(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, key, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (reader, message) = match archived(&subscriptions, &headers, &list_name, &key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let mut response = download(&subscriptions, &reader.language, &message.raw, &n);
    if reader.confidential() {
        response.headers_mut().insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    response
}

/// POST of the removal form: an owner or admin takes the message out of the archive; it is
/// recorded in the audit trail, and they are taken back to its thread (or the list, when
/// the thread is gone with it).
pub async fn remove(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let person = match signed_in(&subscriptions, &headers, true).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    if let Some(response) = person.form_refused(&subscriptions, &headers, &body) {
        return response;
    }
    let (reader, message) = match archived(&subscriptions, &headers, &list_name, &key).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !reader.may_remove(&subscriptions) {
        return not_found(&subscriptions, &reader.language);
    }
    let name = &reader.list.name;
    let head = &message.head;
    match list_archive::remove(
        subscriptions.store(),
        &person.actor(),
        name,
        &head.message_key,
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => return not_found(&subscriptions, &reader.language),
        Err(error) => return internal(&error),
    }
    tracing::info!(list = %name, key = %head.message_key, "archived message removed in the web console");
    let base_url = &subscriptions.config().server.base_url;
    let thread_left = subscriptions
        .store()
        .archive_thread(name, &head.thread_key)
        .await
        .map(|rest| !rest.is_empty())
        .unwrap_or(false);
    let back = match thread_left {
        true => archive_thread_url(base_url, name, &head.thread_key),
        false => list_archive_url(base_url, name),
    };
    see_other(&back, &[])
}

//! The lists' archives on the web (`/archive/…`, see [`crate::links::list_archive`]): the
//! lists, a list's months with their counts, a month's threads, a thread, one message with
//! its attachments, a search, a month as mbox and a public list's Atom feed. Not the
//! publications' past editions, which `publications.rs` serves under `/p/`.
//!
//! Who reads what:
//!
//! - A public list's archive is open to anyone.
//! - A confidential list's answers only people signed in to the console who are members of
//!   that very list (active, or disabled for bouncing), its owners and `[web] admins`.
//!   Everyone else, signed in or not, gets the console's one "not found" page with a 404,
//!   the same as for a list that does not exist, so that trying names tells nothing. Its
//!   pages carry `X-Robots-Tag: noindex` besides the layout's meta robots, no public page
//!   links to it (the list of archives names it only to those who may read it), and it has
//!   no feed.
//! - Owners and admins see a button on each message that removes it (a form with the
//!   session's CSRF token; the removal is in the audit trail).
//!
//! Pages are the console's templates and layout, in the reader's language (their member
//! language, else the browser's), under the console's content policy; a message's HTML is
//! cleaned (`list_archive::html`) and shown in a sandboxed frame of its own route, which may
//! show only images carried in the message itself.

mod files;
mod message;
mod pages;

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::config::{ListConfig, Visibility};
use crate::links::list_archive as routes_of;
use crate::store::ArchivedHead;
use crate::subscriptions::Subscriptions;

use super::console::access::{not_found, session};
use super::console::{page_language, visitor_language};
use super::page;
use super::unsubscribe::internal;

/// The archive's routes.
pub fn routes() -> Router<Arc<Subscriptions>> {
    Router::new()
        .route(routes_of::LISTS, get(pages::lists))
        .route(routes_of::LIST, get(pages::list))
        .route(routes_of::SEARCH, get(pages::search))
        .route(routes_of::FEED, get(files::feed))
        .route(routes_of::MONTH, get(pages::month))
        .route(routes_of::MBOX, get(files::mbox))
        .route(routes_of::THREAD, get(pages::thread))
        .route(routes_of::MESSAGE, get(message::message))
        .route(routes_of::HTML, get(message::html))
        .route(routes_of::ATTACHMENT, get(message::attachment))
        .route(routes_of::REMOVE, post(message::remove))
}

/// The console's policy: the pages' own inline styles, forms posting back to this site.
const ARCHIVE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Who reads which list's archive.
pub(super) struct Reader<'a> {
    pub list: &'a ListConfig,
    /// The signed-in person's address, empty for a visitor.
    pub address: String,
    /// Their session's form token, empty for a visitor.
    pub csrf: String,
    pub language: String,
}

impl Reader<'_> {
    pub fn confidential(&self) -> bool {
        self.list.visibility == Visibility::Confidential
    }

    /// Whether this reader may remove messages: the list's owners and `[web] admins`.
    pub fn may_remove(&self, subscriptions: &Subscriptions) -> bool {
        !self.address.is_empty()
            && (self.list.is_owner(&self.address) || subscriptions.config().is_admin(&self.address))
    }
}

/// The person asking (address and form token, empty for a visitor) and their language.
pub(super) async fn visitor(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
) -> Result<(String, String, String), Response> {
    match session(subscriptions, headers).await? {
        Some((_, session)) => {
            let language = page_language(subscriptions, headers, &session.address).await;
            Ok((session.address, session.csrf_secret, language))
        }
        None => Ok((
            String::new(),
            String::new(),
            visitor_language(headers).to_owned(),
        )),
    }
}

/// Whether `address` may read `list`'s archive: anyone a public one; a confidential one its
/// members, owners and admins.
pub(super) async fn may_read(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    address: &str,
) -> Result<bool, Response> {
    if list.visibility == Visibility::Public {
        return Ok(true);
    }
    if address.is_empty() {
        return Ok(false);
    }
    if list.is_owner(address) || subscriptions.config().is_admin(address) {
        return Ok(true);
    }
    let own = subscriptions
        .store()
        .subscriptions_of(address)
        .await
        .map_err(|error| internal(&error))?;
    Ok(own.iter().any(|s| s.list_name == list.name))
}

/// The reader of `list_name`'s archive, or the "not found" page for anyone who may not
/// read it, alike for a list that does not exist (a publication's subscribers' list is not
/// a list with an archive).
pub(super) async fn reader<'a>(
    subscriptions: &'a Subscriptions,
    headers: &HeaderMap,
    list_name: &str,
) -> Result<Reader<'a>, Response> {
    let (address, csrf, language) = visitor(subscriptions, headers).await?;
    let list = subscriptions
        .config()
        .lists
        .iter()
        .find(|list| list.name == list_name);
    let Some(list) = list else {
        return Err(not_found(subscriptions, &language));
    };
    if !may_read(subscriptions, list, &address).await? {
        if list.visibility == Visibility::Confidential {
            tracing::debug!(list = %list.name, "confidential archive refused");
        }
        return Err(not_found(subscriptions, &language));
    }
    Ok(Reader {
        list,
        address,
        csrf,
        language,
    })
}

/// A page of `reader`'s list's archive: the console's headers with the archive's policy,
/// and `noindex` for a confidential list.
pub(super) fn render(
    subscriptions: &Subscriptions,
    reader: &Reader,
    name: &str,
    extra: Value,
) -> Response {
    let mut response = page::render(
        subscriptions,
        StatusCode::OK,
        (name, &reader.language),
        None,
        &reader.address,
        extra,
    );
    if response.status() == StatusCode::OK {
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(ARCHIVE_POLICY),
        );
        if reader.confidential() {
            headers.insert(
                "x-robots-tag",
                HeaderValue::from_static("noindex, nofollow"),
            );
        }
    }
    response
}

/// A stored time as the pages show it: UTC, to the minute, for readers in many time zones.
pub(super) fn when(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// A message's author as the pages name them: their name; without one, their address, which
/// a public list's pages write as `ana at ngo.example` (not a link any harvester takes for
/// an address).
pub(super) fn author(reader: &Reader, head: &ArchivedHead) -> String {
    if !head.author_name.is_empty() {
        return head.author_name.clone();
    }
    if reader.confidential() {
        head.author_address.clone()
    } else {
        head.author_address.replacen('@', " at ", 1)
    }
}

/// A subject to show: `(no subject)` is the template's to say, in its language.
pub(super) fn subject(head: &ArchivedHead) -> &str {
    head.subject.trim()
}

/// Whether `month` is a month as the archive names them, `YYYY-MM`.
pub(super) fn is_month(month: &str) -> bool {
    let bytes = month.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
        && matches!(
            &month[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// Whether `key` is shaped like a message key (24 base32 letters and digits).
pub(super) fn is_key(key: &str) -> bool {
    key.len() == 24
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_keys_are_checked_before_any_query() {
        assert!(is_month("2026-03"));
        assert!(!is_month("2026-13"));
        assert!(!is_month("2026-3"));
        assert!(!is_month("../etc"));
        let key = crate::links::archive_key("<a@b.example>");
        assert!(is_key(&key), "{key}");
        assert!(!is_key("short"));
        assert!(!is_key(&key.to_uppercase()));
    }
}

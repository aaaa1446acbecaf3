//! The web console's held postings, for the people who may decide on them: a list's owners
//! and moderators (as for decisions by email reply) and `[web] admins`.
//!
//! - Every route names its list, and each checks on the server that the signed-in person
//!   moderates that very list; a held posting's id must be of that list too. Anything else
//!   gets the one "not found" page, the same as a list or id that does not exist, so that
//!   trying names and ids tells nothing.
//! - A posting's text is shown escaped, its HTML part only in a sandboxed frame whose own
//!   route forbids every fetch and script; attachments are only ever downloads.
//! - Decisions go through [`moderation::decide`], as the CLI's and email replies do, so
//!   that each posting is decided once whichever way comes first.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::ListConfig;
use crate::links::{
    console_url, held_attachment_url, held_decide_url, held_html_url, held_posting_url,
    held_queue_url, requests_url, ConsolePage,
};
use crate::moderation::{self, view};
use crate::store::StoredMessage;
use crate::subscriptions::commands::Answer;
use crate::subscriptions::Subscriptions;

use super::access::{not_found, on_list, role, Duty, OnList};
use super::{form_field, render};
use crate::web::page::guarded;
use crate::web::unsubscribe::internal;

/// Rows on one page of a queue.
const PAGE_SIZE: i64 = 25;
/// The longest reason passed on to an author; a form can send more than anyone should read.
const REASON_CHARS: usize = 2000;

/// The policy of a posting's own HTML: its inline style and `data:` images, nothing
/// fetched, nothing run (`sandbox` holds even when the route is opened outside its frame).
pub(super) const FRAME_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'";
/// The policy of a page that frames a message's HTML: the console's, and a frame of this
/// site.
pub(super) const POSTING_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; \
form-action 'self'; frame-ancestors 'none'";

/// The message `id` of the URL, when it is of `list`: `Ok(None)` for any other.
async fn message_of(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    id: &str,
) -> Result<Option<StoredMessage>, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    match subscriptions.store().message(id).await {
        // `held_new` is not in the queue yet (its moderators are being told): not found,
        // rather than "already decided".
        Ok(found) => Ok(found.filter(|m| {
            m.list_name == list.name
                && matches!(m.kind.as_str(), "posting" | "command")
                && m.state != "held_new"
        })),
        Err(error) => Err(internal(&error)),
    }
}

/// The moderator's request for posting `id` of `list_name` while it waits for a decision;
/// the page to answer with otherwise (sign-in, not found).
async fn held_posting<'a>(
    subscriptions: &'a Subscriptions,
    headers: &HeaderMap,
    list_name: &str,
    id: &str,
) -> Result<(OnList<'a>, StoredMessage), Response> {
    let m = on_list(subscriptions, headers, list_name, Duty::Moderate, false).await?;
    match message_of(subscriptions, m.list, id).await? {
        Some(held) if held.state == "held" => Ok((m, held)),
        _ => Err(not_found(subscriptions, &m.person.language)),
    }
}

/// A stored time as the pages show it: in UTC, to the minute, since moderators of one list
/// may sit in several time zones.
pub(super) fn received(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The page number of `?page=N`, 1 when absent or not a number.
pub(super) fn page_number(query: Option<&str>) -> u32 {
    query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|n| n.parse::<u32>().ok())
        .filter(|n| (1..=1_000_000).contains(n))
        .unwrap_or(1)
}

/// GET of a list's queue: one page of its held postings, newest first.
pub async fn queue(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Moderate, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let page = page_number(query.as_deref());
    let offset = i64::from(page - 1) * PAGE_SIZE;
    let store = subscriptions.store();
    // One more than a page, to learn whether there is a next one.
    let mut rows = match store.held_page(&m.list.name, PAGE_SIZE + 1, offset).await {
        Ok(rows) => rows,
        Err(error) => return internal(&error),
    };
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let base_url = &subscriptions.config().server.base_url;
    let name = &m.list.name;
    let postings: Vec<Value> = rows
        .iter()
        .map(|row| {
            let (sender, subject) = view::headline(&row.head, &row.envelope_from);
            json!({
                "sender": sender,
                "subject": subject,
                "received": received(row.received_at),
                "reason": row.error,
                "url": held_posting_url(base_url, name, row.id),
            })
        })
        .collect();
    let previous = (page > 1).then(|| held_queue_url(base_url, name, page - 1));
    let next = more.then(|| held_queue_url(base_url, name, page + 1));
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_held_queue", &m.person.language),
        &m.person.session.address,
        json!({
            "list_name": name,
            "list_title": m.list.display_name,
            "postings": postings,
            "page": page,
            "previous_url": previous.unwrap_or_default(),
            "next_url": next.unwrap_or_default(),
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
        &[],
    )
}

/// The page for a posting decided already, by this person or another, by any way.
fn already_decided(subscriptions: &Subscriptions, m: &OnList) -> Response {
    decided_page(subscriptions, m, StatusCode::CONFLICT, "already")
}

fn decided_page(
    subscriptions: &Subscriptions,
    m: &OnList,
    status: StatusCode,
    outcome: &str,
) -> Response {
    let base_url = &subscriptions.config().server.base_url;
    render(
        subscriptions,
        status,
        ("console_held_decided", &m.person.language),
        &m.person.session.address,
        json!({
            "outcome": outcome,
            "list_title": m.list.display_name,
            "queue_url": held_queue_url(base_url, &m.list.name, 1),
        }),
        &[],
    )
}

/// GET of one held posting: its header and text, its HTML framed, its attachments, and
/// the forms that decide it.
pub async fn posting(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Moderate, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let held = match message_of(&subscriptions, m.list, &id).await {
        Ok(Some(held)) if held.state == "held" => held,
        Ok(Some(_)) => return already_decided(&subscriptions, &m),
        Ok(None) => return not_found(&subscriptions, &m.person.language),
        Err(response) => return response,
    };
    let shown = view::show(&held.raw).unwrap_or_default();
    let base_url = &subscriptions.config().server.base_url;
    let name = &m.list.name;
    let attachments: Vec<Value> = shown
        .attachments
        .iter()
        .enumerate()
        .map(|(n, a)| {
            json!({
                "name": a.name,
                "type": a.content_type,
                "size": a.size,
                "url": held_attachment_url(base_url, name, held.id, n),
            })
        })
        .collect();
    let html_url = match shown.has_html {
        true => held_html_url(base_url, name, held.id),
        false => String::new(),
    };
    let mut response = render(
        &subscriptions,
        StatusCode::OK,
        ("console_held_posting", &m.person.language),
        &m.person.session.address,
        json!({
            "list_title": m.list.display_name,
            "from": shown.from,
            "to": shown.to,
            "subject": shown.subject,
            "date": shown.date,
            "received": received(held.received_at),
            "reason": held.error,
            "text": shown.text,
            "html_url": html_url,
            "attachments": attachments,
            "decide_url": held_decide_url(base_url, name, held.id),
            "queue_url": held_queue_url(base_url, name, 1),
            "csrf": m.person.session.csrf_secret,
        }),
        &[],
    );
    if response.status() == StatusCode::OK {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POSTING_POLICY),
        );
    }
    response
}

/// GET of a held posting's HTML part, for the sandboxed frame of its page.
pub async fn html(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (m, held) = match held_posting(&subscriptions, &headers, &list_name, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match view::html(&held.raw) {
        Some(html) => guarded(
            StatusCode::OK,
            html.into_bytes(),
            "text/html; charset=utf-8",
            FRAME_POLICY,
        ),
        None => not_found(&subscriptions, &m.person.language),
    }
}

/// A file name that is safe in a header and on any disk: letters, digits, `.`, `-`, `_`,
/// not starting with a dot.
pub(in crate::web) fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.trim_matches('_').is_empty() {
        "attachment".into()
    } else {
        cleaned.to_owned()
    }
}

/// GET of a held posting's attachment: a download, whatever type it claims.
pub async fn attachment(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let (m, held) = match held_posting(&subscriptions, &headers, &list_name, &id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    download(&subscriptions, &m.person.language, &held.raw, &n)
}

/// Attachment `n` (counted as [`view::attachment`] counts) of the message `raw`, as a
/// download whatever type it claims: never sniffed, cached or shown. The console's
/// not-found page in `language` when there is no such attachment.
pub(in crate::web) fn download(
    subscriptions: &Subscriptions,
    language: &str,
    raw: &[u8],
    n: &str,
) -> Response {
    let found = n
        .parse::<usize>()
        .ok()
        .and_then(|n| view::attachment(raw, n));
    let Some((name, bytes)) = found else {
        return not_found(subscriptions, language);
    };
    let mut response = guarded(
        StatusCode::OK,
        bytes,
        "application/octet-stream",
        "default-src 'none'; sandbox",
    );
    let disposition = format!("attachment; filename=\"{}\"", safe_filename(&name));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The decision a form sends, when it is one.
fn answer(body: &str) -> Option<(Answer, &'static str)> {
    match form_field(body, "decision")?.as_str() {
        "approve" => Some((Answer::Approve, "approve")),
        "discard" => Some((Answer::Discard, "discard")),
        "reject" => {
            let reason = form_field(body, "reason").unwrap_or_default();
            let reason: String = reason.trim().chars().take(REASON_CHARS).collect();
            Some((Answer::Reject(reason), "reject"))
        }
        _ => None,
    }
}

/// POST of a decision form: approve, reject (with a reason) or discard, once.
pub async fn decide(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Moderate, true).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    if let Some(response) = m.person.form_refused(&subscriptions, &headers, &body) {
        return response;
    }
    let held = match message_of(&subscriptions, m.list, &id).await {
        Ok(Some(held)) if held.state == "held" => held,
        Ok(Some(_)) => return already_decided(&subscriptions, &m),
        Ok(None) => return not_found(&subscriptions, &m.person.language),
        Err(response) => return response,
    };
    let Some((answer, outcome)) = answer(&body) else {
        return not_found(&subscriptions, &m.person.language);
    };
    match moderation::decide(&subscriptions, &m.person.actor(), held.id, answer).await {
        Ok(true) => {}
        Ok(false) => return already_decided(&subscriptions, &m),
        Err(error) => return internal(&error),
    }
    let config = subscriptions.config();
    tracing::info!(
        list = %m.list.name,
        id = held.id,
        decision = outcome,
        by = role(config, m.list, &m.person.session.address),
        "held posting decided in the web console"
    );
    tracing::debug!(id = held.id, by = %m.person.session.address, "who decided");
    decided_page(&subscriptions, &m, StatusCode::OK, outcome)
}

/// Each list the person moderates, with how many postings wait there, for the home page.
pub async fn moderated_lists(
    subscriptions: &Subscriptions,
    address: &str,
) -> Result<Vec<Value>, Response> {
    let config = subscriptions.config();
    let lists: Vec<&ListConfig> = config
        .lists
        .iter()
        .chain(&config.publication_lists)
        .filter(|list| config.is_admin(address) || list.may_moderate(address))
        .collect();
    if lists.is_empty() {
        return Ok(Vec::new());
    }
    let counts = subscriptions
        .store()
        .held_counts()
        .await
        .map_err(|error| internal(&error))?;
    let base_url = &config.server.base_url;
    Ok(lists
        .into_iter()
        .map(|list| {
            let held = counts
                .iter()
                .find(|(name, _)| *name == list.name)
                .map_or(0, |(_, count)| *count);
            json!({
                "name": list.name,
                "title": list.display_name,
                "held": held,
                "url": held_queue_url(base_url, &list.name, 1),
                "requests_url": requests_url(base_url, &list.name, 1),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(safe_filename("plan.pdf"), "plan.pdf");
        assert_eq!(safe_filename("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_filename("a\"b\r\nc.txt"), "a_b__c.txt");
        assert_eq!(safe_filename(""), "attachment");
        assert_eq!(safe_filename("..."), "attachment");
        assert_eq!(safe_filename("été.doc"), "_t_.doc");
    }

    #[test]
    fn page_numbers_default_to_one() {
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some("page=3")), 3);
        assert_eq!(page_number(Some("x=1&page=2")), 2);
        assert_eq!(page_number(Some("page=0")), 1);
        assert_eq!(page_number(Some("page=-1")), 1);
        assert_eq!(page_number(Some("page=abc")), 1);
    }
}

//! A list's subscription requests waiting for an owner's approval, in the web console: for
//! its owners and moderators (who decide on its held postings too) and `[web] admins`.
//!
//! Decisions go through [`Subscriptions::decide`], as `tidings requests approve/reject` and
//! the owners' email replies do, so that each request is decided once whichever way comes
//! first; a second decision is answered 409.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::links::{console_url, request_decide_url, requests_url, ConsolePage};
use crate::subscriptions::{SubscriptionError, Subscriptions};

use super::access::{not_found, on_list, role, Duty, OnList};
use super::held::{page_number, received};
use super::{endonym, form_field, render};
use crate::web::unsubscribe::internal;

/// Requests on one page.
const PAGE_SIZE: i64 = 25;
/// The longest reason passed on to a requester.
const REASON_CHARS: usize = 2000;

/// What a decision did, as the page says it: `approve`, `reject`, `already`, or nothing.
async fn requests_page(
    subscriptions: &Subscriptions,
    m: &OnList<'_>,
    page: u32,
    (status, outcome): (StatusCode, &str),
) -> Response {
    let store = subscriptions.store();
    let list = &m.list.name;
    let offset = i64::from(page - 1) * PAGE_SIZE;
    let (mut rows, total) = match (
        store.approval_page(list, PAGE_SIZE + 1, offset).await,
        store.approval_count(list).await,
    ) {
        (Ok(rows), Ok(total)) => (rows, total),
        (Err(error), _) | (_, Err(error)) => return internal(&error),
    };
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let base_url = &subscriptions.config().server.base_url;
    let requests: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "address": r.address,
                "kind": r.kind.as_str(),
                "language": endonym(&r.language),
                "received": received(r.created_at),
                "decide_url": request_decide_url(base_url, list, r.id),
            })
        })
        .collect();
    let previous = (page > 1).then(|| requests_url(base_url, list, page - 1));
    let next = more.then(|| requests_url(base_url, list, page + 1));
    render(
        subscriptions,
        status,
        ("console_requests", &m.person.language),
        &m.person.session.address,
        json!({
            "list_name": list,
            "list_title": m.list.display_name,
            "requests": requests,
            "total": total,
            "page": page,
            "previous_url": previous.unwrap_or_default(),
            "next_url": next.unwrap_or_default(),
            "outcome": outcome,
            "home_url": console_url(base_url, ConsolePage::Home),
            "csrf": m.person.session.csrf_secret,
        }),
        &[],
    )
}

/// GET of a list's requests waiting for approval, oldest first.
pub async fn requests(
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
    requests_page(&subscriptions, &m, page, (StatusCode::OK, "")).await
}

/// POST of a decision: `decision` is `approve` or `reject` (with a `reason`), once.
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
    let request = match id.parse::<i64>() {
        Ok(id) => match subscriptions.store().request(id).await {
            Ok(found) => found.filter(|r| r.list_name == m.list.name),
            Err(error) => return internal(&error),
        },
        Err(_) => None,
    };
    let approve = match form_field(&body, "decision").as_deref() {
        Some("approve") => true,
        Some("reject") => false,
        _ => return not_found(&subscriptions, &m.person.language),
    };
    // A request of another list, or one still waiting for its address's confirmation, is
    // nothing an owner can decide on.
    let request = match request {
        Some(r) if matches!(r.state.as_str(), "approving" | "done" | "rejected") => r,
        _ => return not_found(&subscriptions, &m.person.language),
    };
    let reason = form_field(&body, "reason").unwrap_or_default();
    let reason: String = reason.trim().chars().take(REASON_CHARS).collect();
    let already = (StatusCode::CONFLICT, "already");
    match subscriptions
        .decide(&m.person.actor(), request.id, approve, &reason)
        .await
    {
        Ok(_) => {}
        Err(SubscriptionError::NotAwaitingApproval { .. }) => {
            return requests_page(&subscriptions, &m, 1, already).await
        }
        Err(error) => return internal(&error),
    }
    let config = subscriptions.config();
    tracing::info!(
        list = %m.list.name,
        request = request.id,
        approve,
        by = role(config, m.list, &m.person.session.address),
        "subscription request decided in the web console"
    );
    let outcome = if approve { "approve" } else { "reject" };
    requests_page(&subscriptions, &m, 1, (StatusCode::OK, outcome)).await
}

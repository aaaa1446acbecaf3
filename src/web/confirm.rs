//! `/confirm/LIST/TOKEN`, the link in a confirmation request. GET shows a button (so that a
//! link scanner confirms nothing); POST confirms, as a reply to the message would.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::config::ListConfig;
use crate::links::{page_url, Page};
use crate::store::{now_ms, Request};
use crate::subscriptions::{Confirmed, Subscriptions};

use super::page::{self, Spent};
use super::unsubscribe::{internal, signed_link};

pub async fn show(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let (list, request) = match waiting_request(&subscriptions, &list, &token).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let base_url = &subscriptions.config().server.base_url;
    let action_url = page_url(base_url, Page::Confirm, &list.name, &token);
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("confirm", &request.language),
        Some(list),
        &request.address,
        json!({ "action_url": action_url, "kind": request.kind.as_str() }),
    )
}

pub async fn confirm(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let (list, request) = match waiting_request(&subscriptions, &list, &token).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let outcome = match subscriptions.confirm(list, request.id).await {
        Ok(Confirmed::Subscribed) => "subscribed",
        Ok(Confirmed::Unsubscribed) => "unsubscribed",
        Ok(Confirmed::AwaitingApproval) => "awaiting_approval",
        Ok(Confirmed::Expired) => return page::spent(&subscriptions, list, Spent::Expired),
        Ok(Confirmed::Used) => return page::spent(&subscriptions, list, Spent::Used),
        Err(error) => return internal(&error),
    };
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("confirmed", &request.language),
        Some(list),
        &request.address,
        json!({ "outcome": outcome }),
    )
}

/// The request a genuine token names, while it still waits for confirmation; otherwise the
/// page that says why not.
async fn waiting_request<'s>(
    subscriptions: &'s Subscriptions,
    list: &str,
    token: &str,
) -> Result<(&'s ListConfig, Request), Response> {
    let Some((list, request_id)) = signed_link(subscriptions, Page::Confirm, list, token) else {
        return Err(page::forged(subscriptions));
    };
    let request = match subscriptions.store().request(request_id).await {
        Ok(Some(request)) if request.list_name == list.name => request,
        Ok(_) => return Err(page::forged(subscriptions)),
        Err(error) => return Err(internal(&error)),
    };
    if request.is_expired(now_ms()) {
        return Err(page::spent(subscriptions, list, Spent::Expired));
    }
    if request.state != "confirming" {
        return Err(page::spent(subscriptions, list, Spent::Used));
    }
    Ok((list, request))
}

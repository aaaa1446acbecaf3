//! `/unsubscribe/LIST/TOKEN`, the https URL of List-Unsubscribe. GET shows a button; POST
//! (the RFC 8058 one-click request, or that button) removes the member at once.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::links::{page_url, Page};
use crate::subscriptions::Subscriptions;

use super::page::{self, Spent};

pub async fn show(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let Some((list, member_id)) = signed_link(&subscriptions, Page::Unsubscribe, &list, &token)
    else {
        return page::forged(&subscriptions);
    };
    let member = match subscriptions.store().member(member_id).await {
        Ok(Some(member)) => member,
        Ok(None) => return page::spent(&subscriptions, list, Spent::Used),
        Err(error) => return internal(&error),
    };
    let action_url = page_url(
        &subscriptions.config().server.base_url,
        Page::Unsubscribe,
        &list.name,
        &token,
    );
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("unsubscribe", &member.language),
        Some(list),
        &member.address,
        json!({ "action_url": action_url }),
    )
}

pub async fn one_click(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let Some((list, member_id)) = signed_link(&subscriptions, Page::Unsubscribe, &list, &token)
    else {
        return page::forged(&subscriptions);
    };
    if let Err(error) = subscriptions.leave_by_token(list, member_id).await {
        return internal(&error);
    }
    // Done, or done before: either way the address is off the list, and the answer is 200.
    let (address, language) = match subscriptions.store().member(member_id).await {
        Ok(Some(member)) => (member.address, member.language),
        _ => (String::new(), list.language.clone()),
    };
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("unsubscribed", &language),
        Some(list),
        &address,
        json!({}),
    )
}

/// The list a link names and the id its token carries (a member, a request), when the token
/// is genuine for that list and page.
pub(super) fn signed_link<'s>(
    subscriptions: &'s Subscriptions,
    page: Page,
    list: &str,
    token: &str,
) -> Option<(&'s crate::config::ListConfig, i64)> {
    let id = subscriptions.links().verify_page(page, list, token)?;
    Some((subscriptions.config().list(list)?, id))
}

pub(super) fn internal(error: &dyn std::fmt::Display) -> Response {
    use axum::response::IntoResponse;
    tracing::error!(%error, "web request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error, please try again later\n",
    )
        .into_response()
}

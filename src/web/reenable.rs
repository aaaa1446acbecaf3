//! `/reenable/LIST/TOKEN`, the link of the notices sent to members disabled for bouncing.
//! GET shows a button; POST turns deliveries back on with a clean bounce score.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::links::{page_url, Page};
use crate::subscriptions::Subscriptions;

use super::page::{self, Spent};
use super::unsubscribe::{internal, signed_link};

pub async fn show(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let Some((list, member_id)) = signed_link(&subscriptions, Page::Reenable, &list, &token) else {
        return page::forged(&subscriptions);
    };
    let member = match subscriptions.store().member(member_id).await {
        Ok(Some(member)) => member,
        Ok(None) => return page::spent(&subscriptions, list, Spent::Used),
        Err(error) => return internal(&error),
    };
    let base_url = &subscriptions.config().server.base_url;
    let action_url = page_url(base_url, Page::Reenable, &list.name, &token);
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("reenable", &member.language),
        Some(list),
        &member.address,
        json!({ "action_url": action_url }),
    )
}

pub async fn reenable(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list, token)): Path<(String, String)>,
) -> Response {
    let Some((list, member_id)) = signed_link(&subscriptions, Page::Reenable, &list, &token) else {
        return page::forged(&subscriptions);
    };
    let store = subscriptions.store();
    let member = match store.member(member_id).await {
        Ok(Some(member)) => member,
        Ok(None) => return page::spent(&subscriptions, list, Spent::Used),
        Err(error) => return internal(&error),
    };
    // Already re-enabled (a second click) is fine; removed meanwhile is not.
    let still_member = match store.reenable(&list.name, member_id).await {
        Ok(true) => true,
        Ok(false) => store
            .is_subscribed(&list.name, &member.address)
            .await
            .unwrap_or(false),
        Err(error) => return internal(&error),
    };
    if !still_member {
        return page::spent(&subscriptions, list, Spent::Used);
    }
    tracing::info!(list = %list.name, member_id, "deliveries re-enabled by the member");
    page::render(
        &subscriptions,
        StatusCode::OK,
        ("reenabled", &member.language),
        Some(list),
        &member.address,
        json!({}),
    )
}

//! The home page: the signed-in person's roles, the lists they moderate with what waits
//! there, the publications they edit, and their own subscriptions.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::Config;
use crate::links::{
    bounces_url, console_url, queue_url, requests_url, roster_url, ConsolePage, RosterAt,
};
use crate::subscriptions::Subscriptions;
use crate::web::unsubscribe::internal;

use super::access::{session, sign_in_form};
use super::{audit, editions, endonym, held, render, visitor_language};

/// GET `/console`: the signed-in person's roles and subscriptions; the sign-in form for
/// anyone else.
pub async fn home(State(subscriptions): State<Arc<Subscriptions>>, headers: HeaderMap) -> Response {
    let (_, session) = match session(&subscriptions, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return sign_in_form(&subscriptions, &headers, ""),
        Err(response) => return response,
    };
    let config = subscriptions.config();
    let address = &session.address;
    let own = match subscriptions.store().subscriptions_of(address).await {
        Ok(own) => own,
        Err(error) => return internal(&error),
    };
    let language = own.first().map_or_else(
        || visitor_language(&headers).to_owned(),
        |s| s.language.clone(),
    );
    let duties: Vec<Value> = config
        .duties_of(address)
        .into_iter()
        .map(|d| json!({ "name": d.name, "title": d.title, "duty": d.duty.as_str() }))
        .collect();
    let subscribed: Vec<Value> = own
        .iter()
        .map(|s| {
            let title = config
                .list(&s.list_name)
                .map_or(s.list_name.as_str(), |list| list.display_name.as_str());
            json!({
                "name": s.list_name,
                "title": title,
                "active": s.status == "active",
                "language": endonym(&s.language),
            })
        })
        .collect();
    let moderated = match held::moderated_lists(&subscriptions, address).await {
        Ok(moderated) => moderated,
        Err(response) => return response,
    };
    let (trails, whole_trail_url) = audit::trails_of(config, address);
    let base_url = &config.server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_home", &language),
        address,
        json!({
            "admin": config.is_admin(address),
            "duties": duties,
            "subscriptions": subscribed,
            "moderated": moderated,
            "edited": editions::edited_publications(config, address),
            "trails": trails,
            "whole_trail_url": whole_trail_url,
            "account_url": console_url(base_url, ConsolePage::Account),
            "owned": owned_lists(config, address),
            "csrf": session.csrf_secret,
            "sign_out_url": console_url(base_url, ConsolePage::SignOut),
            "sign_out_everywhere_url": console_url(base_url, ConsolePage::SignOutEverywhere),
        }),
        &[],
    )
}

/// Each list the person owns (every list, for `[web] admins`), with its owners' pages.
fn owned_lists(config: &Config, address: &str) -> Vec<Value> {
    let base_url = &config.server.base_url;
    config
        .lists
        .iter()
        .chain(&config.publication_lists)
        .filter(|list| config.is_admin(address) || list.is_owner(address))
        .map(|list| {
            let name = &list.name;
            json!({
                "name": name,
                "title": list.display_name,
                "members_url": roster_url(base_url, name, "", RosterAt::First),
                "requests_url": requests_url(base_url, name, 1),
                "bounces_url": bounces_url(base_url, name),
                "queue_url": queue_url(base_url, name),
            })
        })
        .collect()
}

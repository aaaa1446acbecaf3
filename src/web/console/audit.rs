//! The audit trail in the console: a list's (or publication's) decisions for its owners and
//! `[web] admins`, every decision for admins, newest first, each with who took it and
//! through which channel (web, email, cli, schedule). The events are recorded by the
//! decisions themselves (see [`crate::store::Audited`]); this module only shows them.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::{Config, ListConfig};
use crate::links::{audit_url, console_url, ConsolePage};
use crate::store::AuditScope;
use crate::subscriptions::Subscriptions;
use crate::web::unsubscribe::internal;

use super::access::{not_found, signed_in, SignedIn};
use super::held::{page_number, received};
use super::render;

/// Events on one page.
const PAGE_SIZE: i64 = 50;

/// The list named `name` (spelled as configured) when `address` may read its trail: one of
/// its owners (a publication's editors own its list) or an admin.
fn audited<'c>(config: &'c Config, address: &str, name: &str) -> Option<&'c ListConfig> {
    let list = config.list(name).filter(|list| list.name == name)?;
    let owner = list.owners.iter().any(|o| o.eq_ignore_ascii_case(address));
    (owner || config.is_admin(address)).then_some(list)
}

/// GET of a list's audit trail.
pub async fn list_trail(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let person = match signed_in(&subscriptions, &headers, false).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let config = subscriptions.config();
    let Some(list) = audited(config, &person.session.address, &list_name) else {
        return not_found(&subscriptions, &person.language);
    };
    let page = page_number(query.as_deref());
    trail(
        &subscriptions,
        &person,
        AuditScope::Of(&list.name),
        &list.display_name,
        page,
    )
    .await
}

/// GET of the whole trail, for admins.
pub async fn whole_trail(
    State(subscriptions): State<Arc<Subscriptions>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let person = match signed_in(&subscriptions, &headers, false).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    if !subscriptions.config().is_admin(&person.session.address) {
        return not_found(&subscriptions, &person.language);
    }
    let page = page_number(query.as_deref());
    trail(&subscriptions, &person, AuditScope::All, "", page).await
}

/// One page of `scope`'s events; `title` is the list's, empty for the whole trail.
async fn trail(
    subscriptions: &Subscriptions,
    person: &SignedIn,
    scope: AuditScope<'_>,
    title: &str,
    page: u32,
) -> Response {
    let offset = i64::from(page - 1) * PAGE_SIZE;
    // One more than a page, to learn whether there is a next one.
    let mut rows = match subscriptions
        .store()
        .audit_page(scope, PAGE_SIZE + 1, offset)
        .await
    {
        Ok(rows) => rows,
        Err(error) => return internal(&error),
    };
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let events: Vec<Value> = rows
        .iter()
        .map(|event| {
            json!({
                "at": received(event.at_ms),
                "actor": event.actor,
                "channel": event.channel,
                "action": event.action,
                "where": event.list_name.as_deref().or(event.publication.as_deref()).unwrap_or_default(),
                "object": event.object.as_deref().unwrap_or_default(),
                "detail": event.detail.as_deref().unwrap_or_default(),
            })
        })
        .collect();
    let base_url = &subscriptions.config().server.base_url;
    let list = match scope {
        AuditScope::Of(name) => Some(name),
        AuditScope::All => None,
    };
    let previous = (page > 1).then(|| audit_url(base_url, list, page - 1));
    let next = more.then(|| audit_url(base_url, list, page + 1));
    render(
        subscriptions,
        StatusCode::OK,
        ("console_audit", &person.language),
        &person.session.address,
        json!({
            "list_title": title,
            "events": events,
            "page": page,
            "previous_url": previous.unwrap_or_default(),
            "next_url": next.unwrap_or_default(),
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
        &[],
    )
}

/// The trails the person may read, for the home page: each list they own, and the whole
/// trail for an admin (empty URL otherwise).
pub fn trails_of(config: &Config, address: &str) -> (Vec<Value>, String) {
    let base_url = &config.server.base_url;
    let owned = config
        .lists
        .iter()
        .chain(&config.publication_lists)
        .filter(|list| list.owners.iter().any(|o| o.eq_ignore_ascii_case(address)))
        .map(|list| {
            json!({
                "name": list.name,
                "title": list.display_name,
                "url": audit_url(base_url, Some(&list.name), 1),
            })
        })
        .collect();
    let whole = if config.is_admin(address) {
        audit_url(base_url, None, 1)
    } else {
        String::new()
    };
    (owned, whole)
}

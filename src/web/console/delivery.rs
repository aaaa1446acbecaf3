//! How a list's mail fares, for its owners and `[web] admins`: its bounces (what `tidings
//! bounces LIST` shows) and its delivery queue (what `tidings queue` shows of it, and the
//! oldest delivery due). Read only; the bounce page names members, so it is owners' as the
//! roster is.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::links::{console_url, roster_url, ConsolePage, RosterAt};
use crate::subscriptions::Subscriptions;

use super::access::{on_list, Duty};
use super::held::received;
use super::render;
use crate::web::unsubscribe::internal;

/// Failures and complaints of how many past days the bounce page counts, as `tidings
/// bounces` does by default.
const BOUNCE_DAYS: i64 = 30;

/// GET of a list's bounces: scores and disabled members, failures by destination domain,
/// complaints.
pub async fn bounces(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let list = &m.list.name;
    let report = match subscriptions
        .store()
        .bounce_report(Some(list), BOUNCE_DAYS)
        .await
    {
        Ok(report) => report,
        Err(error) => return internal(&error),
    };
    let scores: Vec<Value> = report
        .scores
        .iter()
        .map(|(_, address, score, status, last)| {
            json!({
                "address": address,
                "score": score,
                "disabled": status == "disabled",
                "last": received(*last),
            })
        })
        .collect();
    let domains: Vec<Value> = report
        .by_domain
        .iter()
        .map(|(_, domain, class, count, detail)| {
            json!({ "domain": domain, "class": class, "count": count, "detail": detail })
        })
        .collect();
    let complaints: i64 = report.complaints.iter().map(|(_, n)| n).sum();
    let config = subscriptions.config();
    let base_url = &config.server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_bounces", &m.person.language),
        &m.person.session.address,
        json!({
            "list_name": list,
            "list_title": m.list.display_name,
            "threshold": config.bounces.score_threshold,
            "days": BOUNCE_DAYS,
            "scores": scores,
            "domains": domains,
            "complaints": complaints,
            "roster_url": roster_url(base_url, list, "", RosterAt::First),
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
        &[],
    )
}

/// GET of a list's delivery queue: deliveries by state, the oldest due, messages waiting.
pub async fn queue(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let store = subscriptions.store();
    let list = &m.list.name;
    let (counts, oldest, waiting) = match (
        store.queue_counts_of(list).await,
        store.oldest_due_of(list).await,
        store.waiting_messages_of(list).await,
    ) {
        (Ok(counts), Ok(oldest), Ok(waiting)) => (counts, oldest, waiting),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return internal(&error),
    };
    let waiting: Vec<Value> = waiting
        .iter()
        .map(|(state, count)| json!({ "state": state, "count": count }))
        .collect();
    let base_url = &subscriptions.config().server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_queue", &m.person.language),
        &m.person.session.address,
        json!({
            "list_name": list,
            "list_title": m.list.display_name,
            "pending": counts.pending,
            "deferred": counts.deferred,
            "sending": counts.sending,
            "sent": counts.sent,
            "failed": counts.failed,
            "oldest_due": oldest.map(received).unwrap_or_default(),
            "waiting": waiting,
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
        &[],
    )
}

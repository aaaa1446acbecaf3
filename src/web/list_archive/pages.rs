//! The archive's reading pages: the lists, a list's months, a month's threads, a thread,
//! and a search.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::Visibility;
use crate::links::{
    archive_feed_url, archive_mbox_url, archive_month_url, archive_search_url, archive_thread_url,
    archived_message_url, console_url, list_archive_url, list_archives_url, ConsolePage,
};
use crate::list_archive::{threads, words};
use crate::moderation::view;
use crate::store::ArchivedHead;
use crate::subscriptions::Subscriptions;

use super::super::console::access::not_found;
use super::super::console::form_field;
use super::super::page;
use super::{
    author, internal, is_key, is_month, may_read, reader, render, subject, visitor, when, Reader,
};

/// Results a search shows, newest first.
const SEARCH_RESULTS: i64 = 100;
/// Words a search takes; more say nothing a reader could check.
const SEARCH_WORDS: usize = 8;

/// GET `/archive/`: every public list, and the confidential lists the signed-in person may
/// read.
pub async fn lists(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
) -> Response {
    let (address, _, language) = match visitor(&subscriptions, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let config = subscriptions.config();
    let base_url = &config.server.base_url;
    let mut public = Vec::new();
    let mut confidential = Vec::new();
    for list in &config.lists {
        let entry = json!({
            "name": list.name,
            "title": list.display_name,
            "description": list.description,
            "url": list_archive_url(base_url, &list.name),
        });
        match list.visibility {
            Visibility::Public => public.push(entry),
            Visibility::Confidential => match may_read(&subscriptions, list, &address).await {
                Ok(true) => confidential.push(entry),
                Ok(false) => {}
                Err(response) => return response,
            },
        }
    }
    let mut response = page::render(
        &subscriptions,
        StatusCode::OK,
        ("archive_lists", &language),
        None,
        &address,
        json!({
            "public": public,
            "confidential": confidential,
            "signed_in": !address.is_empty(),
            "sign_in_url": console_url(base_url, ConsolePage::SignIn),
        }),
    );
    if !confidential.is_empty() {
        response.headers_mut().insert(
            "x-robots-tag",
            axum::http::HeaderValue::from_static("noindex, nofollow"),
        );
    }
    response
}

/// What every page of one list's archive shows of it.
fn list_fields(subscriptions: &Subscriptions, reader: &Reader) -> serde_json::Map<String, Value> {
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let feed = match reader.confidential() {
        true => String::new(),
        false => archive_feed_url(base_url, name),
    };
    let mut fields = serde_json::Map::new();
    fields.insert("list_name".into(), json!(name));
    fields.insert("list_title".into(), json!(reader.list.display_name));
    fields.insert("confidential".into(), json!(reader.confidential()));
    fields.insert("list_url".into(), json!(list_archive_url(base_url, name)));
    fields.insert("lists_url".into(), json!(list_archives_url(base_url)));
    fields.insert(
        "search_url".into(),
        json!(archive_search_url(base_url, name, "")),
    );
    fields.insert("feed_url".into(), json!(feed));
    fields
}

fn with(mut fields: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(extra) = extra {
        fields.extend(extra);
    }
    Value::Object(fields)
}

/// GET `/archive/LIST/`: the list's months, newest first, with their number of messages.
pub async fn list(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    let months = match subscriptions
        .store()
        .archive_months(&reader.list.name)
        .await
    {
        Ok(months) => months,
        Err(error) => return internal(&error),
    };
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let total: i64 = months.iter().map(|(_, count)| count).sum();
    let months: Vec<Value> = months
        .iter()
        .map(|(month, count)| {
            json!({
                "month": month,
                "count": count,
                "url": archive_month_url(base_url, name, month),
                "mbox_url": archive_mbox_url(base_url, name, month),
            })
        })
        .collect();
    let fields = list_fields(&subscriptions, &reader);
    render(
        &subscriptions,
        &reader,
        "archive_list",
        with(
            fields,
            json!({
                "description": reader.list.description,
                "months": months,
                "total": total,
            }),
        ),
    )
}

/// GET `/archive/LIST/MONTH/`: the month's threads, in the order they began, each with its
/// messages of the month counted.
pub async fn month(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, month)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    if !is_month(&month) {
        return not_found(&subscriptions, &reader.language);
    }
    let heads = match subscriptions
        .store()
        .archive_month(&reader.list.name, &month)
        .await
    {
        Ok(heads) => heads,
        Err(error) => return internal(&error),
    };
    if heads.is_empty() {
        return not_found(&subscriptions, &reader.language);
    }
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    // Threads in the order of their first message this month.
    let mut order: Vec<&str> = Vec::new();
    let mut by_thread: HashMap<&str, Vec<&ArchivedHead>> = HashMap::new();
    for head in &heads {
        let thread = by_thread.entry(head.thread_key.as_str()).or_default();
        if thread.is_empty() {
            order.push(head.thread_key.as_str());
        }
        thread.push(head);
    }
    let threads: Vec<Value> = order
        .iter()
        .map(|key| {
            let messages = &by_thread[key];
            let first = messages[0];
            let last = messages[messages.len() - 1];
            let mut authors: Vec<String> = Vec::new();
            for head in messages {
                let name = author(&reader, head);
                if !authors.contains(&name) && authors.len() < 4 {
                    authors.push(name);
                }
            }
            json!({
                "subject": subject(first),
                "url": archive_thread_url(base_url, name, key),
                "count": messages.len(),
                "authors": authors.join(", "),
                "first": when(first.posted_at),
                "last": when(last.posted_at),
            })
        })
        .collect();
    let fields = list_fields(&subscriptions, &reader);
    render(
        &subscriptions,
        &reader,
        "archive_month",
        with(
            fields,
            json!({
                "month": month,
                "count": heads.len(),
                "thread_count": threads.len(),
                "threads": threads,
                "mbox_url": archive_mbox_url(base_url, name, &month),
            }),
        ),
    )
}

/// GET `/archive/LIST/thread/KEY`: the thread's messages in reading order, each indented
/// under what it answers, with its text.
pub async fn thread(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    if !is_key(&key) {
        return not_found(&subscriptions, &reader.language);
    }
    let messages = match subscriptions
        .store()
        .archived_thread_messages(&reader.list.name, &key)
        .await
    {
        Ok(messages) => messages,
        Err(error) => return internal(&error),
    };
    if messages.is_empty() {
        return not_found(&subscriptions, &reader.language);
    }
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let heads: Vec<ArchivedHead> = messages.iter().map(|m| m.head.clone()).collect();
    let raw_of: HashMap<&str, &[u8]> = messages
        .iter()
        .map(|m| (m.head.message_key.as_str(), m.raw.as_slice()))
        .collect();
    let arranged: Vec<Value> = threads::arranged(&heads)
        .into_iter()
        .map(|(depth, head)| {
            let text = raw_of
                .get(head.message_key.as_str())
                .and_then(|raw| view::show(raw))
                .map(|shown| shown.text)
                .unwrap_or_default();
            json!({
                "depth": depth,
                // Each answer a step in from what it answers, in the text's direction.
                "indent": format!("{}rem", depth as f32 * 1.25),
                "subject": subject(head),
                "author": author(&reader, head),
                "date": when(head.posted_at),
                "url": archived_message_url(base_url, name, &head.message_key),
                "text": text.trim_end(),
            })
        })
        .collect();
    let first = &heads[0];
    let fields = list_fields(&subscriptions, &reader);
    render(
        &subscriptions,
        &reader,
        "archive_thread",
        with(
            fields,
            json!({
                "subject": subject(first),
                "count": heads.len(),
                "messages": arranged,
                "month": first.month,
                "month_url": archive_month_url(base_url, name, &first.month),
            }),
        ),
    )
}

/// GET `/archive/LIST/search?q=WORDS`: the messages whose subject, author or text has every
/// word (each as the start of a word), newest first.
pub async fn search(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let reader = match reader(&subscriptions, &headers, &list_name).await {
        Ok(reader) => reader,
        Err(response) => return response,
    };
    let asked = form_field(query.as_deref().unwrap_or_default(), "q").unwrap_or_default();
    let asked: String = asked.chars().take(200).collect();
    let wanted: Vec<String> = words::words(&asked)
        .into_iter()
        .take(SEARCH_WORDS)
        .collect();
    let found = match subscriptions
        .store()
        .search_archive(&reader.list.name, &wanted, SEARCH_RESULTS)
        .await
    {
        Ok(found) => found,
        Err(error) => return internal(&error),
    };
    let base_url = &subscriptions.config().server.base_url;
    let name = &reader.list.name;
    let results: Vec<Value> = found
        .iter()
        .map(|head| {
            json!({
                "subject": subject(head),
                "author": author(&reader, head),
                "date": when(head.posted_at),
                "url": archived_message_url(base_url, name, &head.message_key),
                "thread_url": archive_thread_url(base_url, name, &head.thread_key),
            })
        })
        .collect();
    let fields = list_fields(&subscriptions, &reader);
    render(
        &subscriptions,
        &reader,
        "archive_search",
        with(
            fields,
            json!({
                "query": asked,
                "searched": !wanted.is_empty(),
                "results": results,
                "count": results.len(),
                "limit": SEARCH_RESULTS,
            }),
        ),
    )
}

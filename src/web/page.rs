//! Rendering a page into a response with the headers every page gets.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::config::ListConfig;
use crate::subscriptions::Subscriptions;

/// A rendered page, or a plain 500 when a template fails (logged; the operator must see it).
pub fn render(
    subscriptions: &Subscriptions,
    status: StatusCode,
    (name, language): (&str, &str),
    list: Option<&ListConfig>,
    address: &str,
    extra: Value,
) -> Response {
    match subscriptions
        .notices()
        .page(name, language, list, address, extra)
    {
        // The URL carries a token: it must not leak to other sites, and the page needs
        // nothing but its own inline style and a form posting back to itself.
        Ok(html) => guarded(
            status,
            html.into_bytes(),
            "text/html; charset=utf-8",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
        Err(error) => {
            tracing::error!(%error, page = name, language, "cannot render page");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// The page for a link whose token is not genuine, or that names no list or publication.
///
/// It takes no list on purpose: the list in such a URL is only the visitor's word, and naming
/// it, or answering in its language, would tell anyone which lists exist (confidential ones
/// included) and what they are called. Every such link gets this one page, in English.
pub fn forged(subscriptions: &Subscriptions) -> Response {
    render(
        subscriptions,
        StatusCode::NOT_FOUND,
        ("invalid", "en"),
        None,
        "",
        serde_json::json!({ "reason": "forged" }),
    )
}

/// Why a genuine link does nothing any more.
#[derive(Debug, Clone, Copy)]
pub enum Spent {
    /// What it asked for is done (or its member is gone).
    Used,
    /// Its confirmation request expired.
    Expired,
}

/// The page for a genuine link that has done its work or expired. Its token proves the
/// visitor was sent the link, so the page may name the list, in the list's language.
pub fn spent(subscriptions: &Subscriptions, list: &ListConfig, why: Spent) -> Response {
    let reason = match why {
        Spent::Used => "used",
        Spent::Expired => "expired",
    };
    render(
        subscriptions,
        StatusCode::GONE,
        ("invalid", &list.language),
        Some(list),
        "",
        serde_json::json!({ "reason": reason }),
    )
}

/// A response that no browser sniffs, caches or names in a Referer: the headers every page
/// and every served part of a message carries, with its own type and content policy.
pub(super) fn guarded(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    policy: &'static str,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

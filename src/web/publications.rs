//! The published editions: `/p/NAME/` lists a publication's sent editions, `/p/NAME/N/LANG`
//! is edition N in LANG as a web page (the HTML stored when it was built, with the generic
//! unsubscribe link), `/p/NAME/feed.xml` is its Atom feed. Nothing else is public: a name
//! that is not a publication (a confidential list's, say) is not found, like an edition
//! that was never sent.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::config::PublicationConfig;
use crate::links::archive_url;
use crate::publications::Publications;
use crate::subscriptions::Subscriptions;

use super::page;
use super::unsubscribe::internal;

/// What the pages need: the publications, and the notices' "not found" page.
#[derive(Clone)]
pub struct Pages {
    pub subscriptions: Arc<Subscriptions>,
    pub publications: Arc<Publications>,
}

/// Only this page's own inline styles; nothing loads, nothing runs.
const ARCHIVE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// An edition shows the images items link to (https only, as Markdown keeps them) and is
/// styled inline; it runs nothing.
const EDITION_POLICY: &str = "default-src 'none'; img-src https:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Sent editions never change; the index and the feed change when the next one is sent.
const EDITION_CACHE: &str = "public, max-age=86400";
const INDEX_CACHE: &str = "public, max-age=300";

pub async fn index(State(pages): State<Pages>, Path(name): Path<String>) -> Response {
    let Some(publication) = publication(&pages, &name) else {
        return not_a_publication(&pages);
    };
    archive(&pages, publication, StatusCode::OK).await
}

/// `/p/NAME` without the slash, which relative habits and hand-typed links leave out.
pub async fn without_slash(State(pages): State<Pages>, Path(name): Path<String>) -> Response {
    let Some(publication) = publication(&pages, &name) else {
        return not_a_publication(&pages);
    };
    let base_url = &pages.publications.config().server.base_url;
    Redirect::permanent(&archive_url(base_url, &publication.name)).into_response()
}

pub async fn edition(
    State(pages): State<Pages>,
    Path((name, number, lang)): Path<(String, String, String)>,
) -> Response {
    let Some(publication) = publication(&pages, &name) else {
        return not_a_publication(&pages);
    };
    let Ok(number) = number.parse::<i64>() else {
        return archive(&pages, publication, StatusCode::NOT_FOUND).await;
    };
    let found = pages
        .publications
        .store()
        .edition_page(&publication.name, number, &lang)
        .await;
    match found {
        Ok(Some((_, html))) => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            (EDITION_POLICY, EDITION_CACHE),
            html,
        ),
        Ok(None) => archive(&pages, publication, StatusCode::NOT_FOUND).await,
        Err(error) => internal(&error),
    }
}

pub async fn feed(State(pages): State<Pages>, Path(name): Path<String>) -> Response {
    let Some(publication) = publication(&pages, &name) else {
        return not_a_publication(&pages);
    };
    match pages.publications.feed(publication).await {
        Ok(xml) => respond(
            StatusCode::OK,
            "application/atom+xml; charset=utf-8",
            (ARCHIVE_POLICY, INDEX_CACHE),
            xml,
        ),
        Err(error) => internal(&error),
    }
}

fn publication<'a>(pages: &'a Pages, name: &str) -> Option<&'a PublicationConfig> {
    pages.publications.config().publication(name)
}

/// The list of past editions; with a 404 it also says that the one asked for is not there.
async fn archive(pages: &Pages, publication: &PublicationConfig, status: StatusCode) -> Response {
    let not_found = status == StatusCode::NOT_FOUND;
    match pages
        .publications
        .archive_page(publication, not_found)
        .await
    {
        Ok(html) => {
            let cache = if not_found { "no-cache" } else { INDEX_CACHE };
            respond(
                status,
                "text/html; charset=utf-8",
                (ARCHIVE_POLICY, cache),
                html,
            )
        }
        Err(error) => internal(&error),
    }
}

fn not_a_publication(pages: &Pages) -> Response {
    page::forged(&pages.subscriptions)
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    (policy, cache): (&'static str, &'static str),
    body: String,
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

//! The web console: pages for the people who run the lists and publications, behind a
//! sign-in by emailed link. Each concern has its module:
//!
//! - [`access`]: sessions, CSRF tokens, and the answers for requests that may not go on;
//! - [`sign_in`]: the emailed link, signing in and out;
//! - [`home`]: the signed-in person's roles and subscriptions;
//! - [`held`]: a list's held postings, for its moderators and owners;
//! - [`editions`] and [`items`]: a publication's items, schedule and editions, for its
//!   editors;
//! - [`account`]: a member's own subscriptions (leave, join, language);
//! - [`audit`]: the audit trail of decisions, for a list's owners and admins;
//! - [`requests`]: a list's subscription requests waiting for approval, for its owners and moderators;
//! - [`roster`]: a list's members, for its owners;
//! - [`delivery`]: a list's bounces and delivery queue, for its owners.
//!
//! Every page is rendered from `templates/web/` in the person's language (their member
//! language, else the browser's), and every action checks the person's role on the very
//! list or publication its URL names, on the server.

pub(super) mod access;
mod account;
mod audit;
mod delivery;
mod editions;
pub(super) mod held;
mod home;
mod items;
mod requests;
mod roster;
mod sign_in;

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::config::LANGUAGES;
use crate::links::{
    editing, held as held_routes, roster as roster_routes, ConsolePage, LIST_AUDIT, SIGN_IN_LINK,
};
use crate::publications::Publications;
use crate::subscriptions::Subscriptions;

use super::page;

/// The console's routes.
pub fn routes() -> Router<Arc<Subscriptions>> {
    Router::new()
        .route(ConsolePage::Home.route(), get(home::home))
        .route(
            ConsolePage::SignIn.route(),
            get(sign_in::sign_in_page).post(sign_in::request_link),
        )
        .route(
            SIGN_IN_LINK,
            get(sign_in::link_page).post(sign_in::use_link),
        )
        .route(ConsolePage::SignOut.route(), post(sign_in::sign_out))
        .route(
            ConsolePage::SignOutEverywhere.route(),
            post(sign_in::sign_out_everywhere),
        )
        .route(held_routes::QUEUE, get(held::queue))
        .route(held_routes::POSTING, get(held::posting))
        .route(held_routes::HTML, get(held::html))
        .route(held_routes::ATTACHMENT, get(held::attachment))
        .route(held_routes::DECIDE, post(held::decide))
        .route(ConsolePage::Account.route(), get(account::account))
        .route(ConsolePage::AccountLeave.route(), post(account::leave))
        .route(ConsolePage::AccountJoin.route(), post(account::join))
        .route(
            ConsolePage::AccountLanguage.route(),
            post(account::language),
        )
        .route(ConsolePage::AccountDigest.route(), post(account::digest))
        .route(ConsolePage::Audit.route(), get(audit::whole_trail))
        .route(LIST_AUDIT, get(audit::list_trail))
        .route(
            roster_routes::MEMBERS,
            get(roster::members).post(roster::add),
        )
        .route(roster_routes::IMPORT, post(roster::import))
        .route(roster_routes::EXPORT, get(roster::export))
        .route(
            roster_routes::MEMBER,
            get(roster::member).post(roster::change),
        )
        .route(roster_routes::REQUESTS, get(requests::requests))
        .route(roster_routes::REQUEST_DECIDE, post(requests::decide))
        .route(roster_routes::BOUNCES, get(delivery::bounces))
        .route(roster_routes::QUEUE, get(delivery::queue))
}

/// The routes of the pages for a publication's editors, which need the publications
/// service too.
pub fn publication_routes(
    subscriptions: Arc<Subscriptions>,
    publications: Arc<Publications>,
) -> Router {
    Router::new()
        .route(editing::PUBLICATION, get(editions::publication))
        .route(
            editing::NEW_ITEM,
            get(items::new_item).post(items::create_item),
        )
        .route(editing::ITEM, get(items::item).post(items::change_item))
        .route(editing::WITHDRAW_ITEM, post(items::withdraw_item))
        .route(
            editing::BUILD,
            get(editions::confirm_build).post(editions::build),
        )
        .route(editing::EDITION, get(editions::edition))
        .route(editing::EDITION_HTML, get(editions::edition_html))
        .route(editing::DECIDE_EDITION, post(editions::decide))
        .with_state(editions::Editing {
            subscriptions,
            publications,
        })
}

/// The value of field `name` of an `application/x-www-form-urlencoded` body.
pub(in crate::web) fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| percent_decode(key).as_deref() == Some(name))
        .and_then(|(_, value)| percent_decode(value))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The language of a page for a visitor not signed in: the first of `Accept-Language`
/// (by weight) that tidings speaks, else English.
pub(in crate::web) fn visitor_language(headers: &HeaderMap) -> &'static str {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let mut ranked: Vec<(u32, usize, &'static str)> = Vec::new();
    for (position, item) in accept.split(',').enumerate() {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or_default();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if let Some(language) = LANGUAGES.iter().find(|l| **l == primary) {
            if weight > 0.0 {
                ranked.push(((weight * 1000.0) as u32, position, language));
            }
        }
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.first().map_or("en", |(_, _, language)| language)
}

/// The language of a signed-in person's pages: their stored one, else the browser's.
pub(in crate::web) async fn page_language(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    address: &str,
) -> String {
    match subscriptions.store().language_of(address).await {
        Ok(Some(language)) => language,
        _ => visitor_language(headers).to_owned(),
    }
}

/// A language's name in itself, as the home page shows it.
fn endonym(language: &str) -> &str {
    match language {
        "en" => "English",
        "fr" => "Français",
        "es" => "Español",
        "pt" => "Português",
        "ar" => "العربية",
        other => other,
    }
}

/// A page with the headers every page gets, and the cookies given.
pub(super) fn render(
    subscriptions: &Subscriptions,
    status: StatusCode,
    (name, language): (&str, &str),
    address: &str,
    extra: Value,
    cookies: &[String],
) -> Response {
    let mut response = page::render(
        subscriptions,
        status,
        (name, language),
        None,
        address,
        extra,
    );
    add_cookies(&mut response, cookies);
    response
}

fn add_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

pub(in crate::web) fn see_other(url: &str, cookies: &[String]) -> Response {
    let mut response = Redirect::to(url).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    add_cookies(&mut response, cookies);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        let body = "csrf=ab%2Bc&address=Ana.Maria%40ngo.example&empty=&flag";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("ab+c"));
        assert_eq!(
            form_field(body, "address").as_deref(),
            Some("Ana.Maria@ngo.example")
        );
        assert_eq!(form_field(body, "empty").as_deref(), Some(""));
        assert_eq!(form_field(body, "flag").as_deref(), Some(""));
        assert_eq!(form_field(body, "missing"), None);
        assert_eq!(form_field("a=%zz", "a"), None);
        assert_eq!(form_field("a=%4", "a"), None);
        assert_eq!(form_field("a=x+y", "a").as_deref(), Some("x y"));
    }

    #[test]
    fn visitors_get_their_preferred_language_that_tidings_speaks() {
        let with = |accept: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT_LANGUAGE,
                HeaderValue::from_str(accept).expect("header"),
            );
            visitor_language(&headers)
        };
        assert_eq!(with("fr-CA,fr;q=0.9,en;q=0.8"), "fr");
        assert_eq!(with("de-DE, ar;q=0.5, es;q=0.7"), "es");
        assert_eq!(with("de, nl"), "en");
        assert_eq!(with("pt;q=0, ar"), "ar");
        assert_eq!(visitor_language(&HeaderMap::new()), "en");
    }
}

//! A member's own page: their subscriptions, their language, leaving a list, asking to join
//! one. It is a page of its own (`/console/account`) rather than a part of the home page,
//! because welcome notices and every posting's footer link to it: a member who follows
//! that link comes for their subscriptions, and the home page stays the overview of a
//! person's roles (owners and moderators have queues there).
//!
//! - Only the person's own subscriptions are shown, confidential lists included when they
//!   are on them; the lists offered to join are the public ones that take self-service
//!   subscriptions. A form naming any other list gets the one "not found" page.
//! - Leaving goes through [`Subscriptions::leave_by_token`], as the one-click unsubscribe
//!   and the `-leave+TOKEN@` address do (the goodbye notice included); the signed-in
//!   session proves the address as the token does.
//! - Joining opens the same request as a `-join` email: the address still confirms by the
//!   emailed link (double opt-in), and a list that needs an owner's approval then asks its
//!   owners.
//! - The language is one per member (every list writes to them in it), so it is changed
//!   for all their lists at once.
//! - How postings come (each as it is sent, or a daily or weekly digest) is chosen per list,
//!   as the `digest` email command does; a publication's subscribers get its editions, so
//!   its row offers no choice.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::{Config, ListConfig, SubscriptionPolicy, Visibility, LANGUAGES};
use crate::links::{console_url, ConsolePage};
use crate::store::{DeliveryMode, RequestKind};
use crate::subscriptions::Subscriptions;
use crate::web::unsubscribe::internal;

use super::access::{
    cookie_names, not_found, set_cookie, sign_in_form, signed_in, SignedIn, HOUR_MS, NEXT_ACCOUNT,
};
use super::{access, endonym, form_field, page_language, render};

/// The person of a form post, when it carries their session's CSRF token.
async fn poster(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    body: &str,
) -> Result<SignedIn, Response> {
    let person = signed_in(subscriptions, headers, true).await?;
    match person.form_refused(subscriptions, headers, body) {
        Some(refusal) => Err(refusal),
        None => Ok(person),
    }
}

/// The list a form's `list` field names, spelled as configured.
fn named_list<'c>(config: &'c Config, body: &str) -> Option<&'c ListConfig> {
    let name = form_field(body, "list")?;
    config.list(&name).filter(|list| list.name == name)
}

/// Whether anyone may ask to join `list` by themselves: it is public and not closed.
fn joinable(list: &ListConfig) -> bool {
    list.visibility == Visibility::Public && list.subscription != SubscriptionPolicy::Closed
}

/// The sign-in form, with the cookie that brings the visitor back here once signed in:
/// a member following the link of a welcome or a footer comes for this page.
fn sign_in_then_here(subscriptions: &Subscriptions, headers: &HeaderMap) -> Response {
    let mut response = sign_in_form(subscriptions, headers, "");
    let names = cookie_names(subscriptions.config());
    let max_age = (HOUR_MS / 1000) as u32;
    let next = set_cookie(&names, names.next, NEXT_ACCOUNT, Some(max_age));
    if let Ok(value) = HeaderValue::from_str(&next) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// GET `/console/account`: the person's subscriptions and the forms that change them; the
/// sign-in form, then this page, for a visitor not signed in.
pub async fn account(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
) -> Response {
    let session = match access::session(&subscriptions, &headers).await {
        Ok(Some((_, session))) => session,
        Ok(None) => return sign_in_then_here(&subscriptions, &headers),
        Err(response) => return response,
    };
    let language = page_language(&subscriptions, &headers, &session.address).await;
    let person = SignedIn { session, language };
    let config = subscriptions.config();
    let store = subscriptions.store();
    let address = &person.session.address;
    let own = match store.subscriptions_of(address).await {
        Ok(own) => own,
        Err(error) => return internal(&error),
    };
    let member_language = match store.language_of(address).await {
        Ok(language) => language,
        Err(error) => return internal(&error),
    };
    let title = |name: &str| {
        config
            .list(name)
            .map_or(name.to_owned(), |list| list.display_name.clone())
    };
    let subscribed: Vec<Value> = own
        .iter()
        .map(|s| {
            json!({
                "name": s.list_name,
                "title": title(&s.list_name),
                "active": s.status == "active",
                "language": endonym(&s.language),
                "digests": config.publication(&s.list_name).is_none(),
                "mode": s.delivery_mode,
            })
        })
        .collect();
    let offered: Vec<Value> = config
        .lists
        .iter()
        .chain(&config.publication_lists)
        .filter(|list| joinable(list) && !own.iter().any(|s| s.list_name == list.name))
        .map(|list| {
            json!({
                "name": list.name,
                "title": list.display_name,
                "description": list.description,
            })
        })
        .collect();
    let languages: Vec<Value> = LANGUAGES
        .iter()
        .map(|code| {
            json!({
                "code": code,
                "name": endonym(code),
                "selected": member_language.as_deref() == Some(*code),
            })
        })
        .collect();
    let base_url = &config.server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_account", &person.language),
        address,
        json!({
            "subscriptions": subscribed,
            "joinable": offered,
            "member": member_language.is_some(),
            "languages": languages,
            "csrf": person.session.csrf_secret,
            "leave_url": console_url(base_url, ConsolePage::AccountLeave),
            "join_url": console_url(base_url, ConsolePage::AccountJoin),
            "language_url": console_url(base_url, ConsolePage::AccountLanguage),
            "digest_url": console_url(base_url, ConsolePage::AccountDigest),
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
        &[],
    )
}

/// The page saying what a form did (`left`, `joining`, `language`, `digest`), in `language`.
fn done(
    subscriptions: &Subscriptions,
    person: &SignedIn,
    language: &str,
    outcome: &str,
    list_title: &str,
) -> Response {
    let base_url = &subscriptions.config().server.base_url;
    render(
        subscriptions,
        StatusCode::OK,
        ("console_account_done", language),
        &person.session.address,
        json!({
            "outcome": outcome,
            "list_title": list_title,
            "account_url": console_url(base_url, ConsolePage::Account),
        }),
        &[],
    )
}

/// POST `/console/account/leave`: leaves the list of the form, as the unsubscribe link
/// does, goodbye notice included.
pub async fn leave(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let person = match poster(&subscriptions, &headers, &body).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let Some(list) = named_list(subscriptions.config(), &body) else {
        return not_found(&subscriptions, &person.language);
    };
    let member = match subscriptions
        .store()
        .member_by_address(&person.session.address)
        .await
    {
        Ok(Some(member)) => member,
        Ok(None) => return not_found(&subscriptions, &person.language),
        Err(error) => return internal(&error),
    };
    match subscriptions.leave_by_token(list, member.id).await {
        Ok(Some(_)) => {
            tracing::info!(list = %list.name, member = member.id, "member left in the web console");
            done(
                &subscriptions,
                &person,
                &person.language,
                "left",
                &list.display_name,
            )
        }
        // Not on that list: the same as a list that does not exist.
        Ok(None) => not_found(&subscriptions, &person.language),
        Err(error) => internal(&error),
    }
}

/// POST `/console/account/join`: asks to join a public list, as a `-join` email does; the
/// address then confirms by the emailed link.
pub async fn join(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let person = match poster(&subscriptions, &headers, &body).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let Some(list) = named_list(subscriptions.config(), &body).filter(|list| joinable(list)) else {
        return not_found(&subscriptions, &person.language);
    };
    let address = &person.session.address;
    let requested = async {
        let language = subscriptions.language_for(list, address).await?;
        subscriptions
            .request(list, RequestKind::Subscribe, address, &language)
            .await
    };
    if let Err(error) = requested.await {
        return internal(&error);
    }
    tracing::info!(list = %list.name, "subscription requested in the web console");
    done(
        &subscriptions,
        &person,
        &person.language,
        "joining",
        &list.display_name,
    )
}

/// POST `/console/account/language`: the language every list writes to the member in.
pub async fn language(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let person = match poster(&subscriptions, &headers, &body).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let chosen = form_field(&body, "language").unwrap_or_default();
    let Some(code) = LANGUAGES.iter().find(|code| **code == chosen) else {
        return not_found(&subscriptions, &person.language);
    };
    match subscriptions
        .store()
        .set_language(&person.session.address, code)
        .await
    {
        Ok(true) => {
            tracing::info!(language = code, "member language set in the web console");
            done(&subscriptions, &person, code, "language", "")
        }
        Ok(false) => not_found(&subscriptions, &person.language),
        Err(error) => internal(&error),
    }
}

/// POST `/console/account/digest`: how the member gets the postings of one list of theirs:
/// `each` as they are sent, or a `daily` or `weekly` digest.
pub async fn digest(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let person = match poster(&subscriptions, &headers, &body).await {
        Ok(person) => person,
        Err(response) => return response,
    };
    let config = subscriptions.config();
    let Some(list) =
        named_list(config, &body).filter(|list| config.publication(&list.name).is_none())
    else {
        return not_found(&subscriptions, &person.language);
    };
    let chosen = form_field(&body, "mode").unwrap_or_default();
    let Some(mode) = DeliveryMode::from_stored(&chosen) else {
        return not_found(&subscriptions, &person.language);
    };
    match subscriptions
        .store()
        .set_delivery_mode(&list.name, &person.session.address, mode)
        .await
    {
        Ok(true) => {
            tracing::info!(list = %list.name, mode = mode.as_str(), "delivery mode set in the web console");
            done(
                &subscriptions,
                &person,
                &person.language,
                "digest",
                &list.display_name,
            )
        }
        // Not on that list: the same as a list that does not exist.
        Ok(false) => not_found(&subscriptions, &person.language),
        Err(error) => internal(&error),
    }
}

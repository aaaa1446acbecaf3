//! Who is asking: the session a browser's cookie names, the CSRF token its forms carry,
//! and the answers for a request that may not go on (the sign-in form, a refusal, "not
//! found"). Every console page starts here, then checks the person's role on the very list
//! or publication its URL names.
//!
//! - A session is a random id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`, and named
//!   `__Host-…`, when `base_url` is https); the database keeps its hash. It ends after 12
//!   idle hours.
//! - Every form carries a CSRF token: a session's own secret once signed in; before, a
//!   random value that must match a cookie of its own (double submit), so that another
//!   site cannot sign a browser in to someone else's session.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::config::{Config, ListConfig};
use crate::links::{console_url, ConsolePage};
use crate::store::{Actor, WebSession};
use crate::subscriptions::Subscriptions;
use crate::tokens::{digest, random_secret, same_secret};

use super::{form_field, page_language, render, visitor_language};
use crate::web::unsubscribe::internal;

pub(super) const MINUTE_MS: i64 = 60_000;

pub(super) const HOUR_MS: i64 = 60 * MINUTE_MS;

/// A session unused this long is over.
pub(super) const IDLE_MS: i64 = 12 * HOUR_MS;

/// A session's last sight is written at most this often.
pub(super) const REFRESH_MS: i64 = 5 * MINUTE_MS;

/// The cookies' names: `__Host-` binds them to this host and path `/`, over https only.
pub(super) struct CookieNames {
    pub session: &'static str,
    pub form: &'static str,
    /// Set by a page that sent a visitor to sign in, to be taken back to after it.
    pub next: &'static str,
    pub secure: bool,
}

pub(super) fn cookie_names(config: &Config) -> CookieNames {
    if config.server.base_url.starts_with("https://") {
        CookieNames {
            session: "__Host-tidings_session",
            form: "__Host-tidings_form",
            next: "__Host-tidings_next",
            secure: true,
        }
    } else {
        CookieNames {
            session: "tidings_session",
            form: "tidings_form",
            next: "tidings_next",
            secure: false,
        }
    }
}

/// The one page a sign-in returns to other than home: the account page, which welcome
/// notices and footers link to. The cookie holds only this fixed word, never a URL, so
/// that it cannot send anyone elsewhere.
pub(super) const NEXT_ACCOUNT: &str = "account";

/// Whether the browser came to sign in from the account page.
pub(super) fn returns_to_account(names: &CookieNames, headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(key, value)| key == names.next && value.trim() == NEXT_ACCOUNT)
}

pub(super) fn set_cookie(
    names: &CookieNames,
    name: &str,
    value: &str,
    max_age: Option<u32>,
) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={seconds}"));
    }
    if names.secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The value of cookie `name`, when the browser sent one that could be ours: our values
/// are 64 hex digits, anything else is not worth a database look-up.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The browser's form token before sign-in, and the cookie to set when it had none yet.
pub(super) fn form_token(names: &CookieNames, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, names.form) {
        Some(token) => (token, None),
        None => {
            let token = random_secret();
            let set = set_cookie(names, names.form, &token, None);
            (token, Some(set))
        }
    }
}

/// Whether a form posted before sign-in carries the token of its browser's cookie.
pub(super) fn form_token_matches(names: &CookieNames, headers: &HeaderMap, body: &str) -> bool {
    match (cookie(headers, names.form), form_field(body, "csrf")) {
        (Some(expected), Some(given)) => same_secret(&expected, &given),
        _ => false,
    }
}

/// The session the browser's cookie names, with its id's hash, when it is a live one.
pub(in crate::web) async fn session(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
) -> Result<Option<(String, WebSession)>, Response> {
    let names = cookie_names(subscriptions.config());
    let Some(id) = cookie(headers, names.session) else {
        return Ok(None);
    };
    let id_hash = digest(&id);
    match subscriptions
        .store()
        .web_session(&id_hash, IDLE_MS, REFRESH_MS)
        .await
    {
        Ok(found) => Ok(found.map(|session| (id_hash, session))),
        Err(error) => Err(internal(&error)),
    }
}

/// A refusal: a form without its token (403), or too many requests (429).
pub(super) fn refused(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    reason: &str,
) -> Response {
    let status = match reason {
        "too_many" => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::FORBIDDEN,
    };
    let base_url = &subscriptions.config().server.base_url;
    render(
        subscriptions,
        status,
        ("console_refused", visitor_language(headers)),
        "",
        json!({ "reason": reason, "sign_in_url": console_url(base_url, ConsolePage::SignIn) }),
        &[],
    )
}

/// The form asking for an address, with `problem` said above it.
pub(super) fn sign_in_form(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    problem: &str,
) -> Response {
    let names = cookie_names(subscriptions.config());
    let (token, set) = form_token(&names, headers);
    let base_url = &subscriptions.config().server.base_url;
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        subscriptions,
        status,
        ("console_sign_in", visitor_language(headers)),
        "",
        json!({
            "action_url": console_url(base_url, ConsolePage::SignIn),
            "csrf": token,
            "problem": problem,
        }),
        &set.into_iter().collect::<Vec<_>>(),
    )
}

/// A signed-in person, and the language of their pages.
pub(in crate::web) struct SignedIn {
    pub session: WebSession,
    pub language: String,
}

impl SignedIn {
    /// Who the audit trail records for what this person decides here.
    pub fn actor(&self) -> Actor {
        Actor::web(&self.session.address)
    }

    /// The refusal for a form posted by this person without their session's CSRF token;
    /// `None` when it carries it.
    pub fn form_refused(
        &self,
        subscriptions: &Subscriptions,
        headers: &HeaderMap,
        body: &str,
    ) -> Option<Response> {
        let given = form_field(body, "csrf").unwrap_or_default();
        (!same_secret(&self.session.csrf_secret, &given))
            .then(|| refused(subscriptions, headers, "csrf"))
    }
}

/// The person signed in on this browser. A browser not signed in gets the sign-in form,
/// or for a form post (`form`) the refusal, since its form cannot have a session's token.
pub(in crate::web) async fn signed_in(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    form: bool,
) -> Result<SignedIn, Response> {
    let session = match session(subscriptions, headers).await? {
        Some((_, session)) => session,
        None if form => return Err(refused(subscriptions, headers, "csrf")),
        None => return Err(sign_in_form(subscriptions, headers, "")),
    };
    let language = page_language(subscriptions, headers, &session.address).await;
    Ok(SignedIn { session, language })
}

/// The one page for what this person may not see, or what does not exist: the same for
/// both, so that trying names and ids tells nothing.
pub(in crate::web) fn not_found(subscriptions: &Subscriptions, language: &str) -> Response {
    let base_url = &subscriptions.config().server.base_url;
    render(
        subscriptions,
        StatusCode::NOT_FOUND,
        ("console_not_found", language),
        "",
        json!({ "home_url": console_url(base_url, ConsolePage::Home) }),
        &[],
    )
}

/// What a list's page asks of the person who opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Duty {
    /// Moderating: the list's owners and moderators (held postings, subscription requests).
    Moderate,
    /// Owning: the list's owners only (its roster, bounces and queue).
    Own,
}

/// The list named `name` (spelled as configured) when `address` has `duty` on it, or is one
/// of `[web] admins`.
pub(super) fn list_for<'c>(
    config: &'c Config,
    address: &str,
    name: &str,
    duty: Duty,
) -> Option<&'c ListConfig> {
    let list = config.list(name).filter(|list| list.name == name)?;
    let allowed = match duty {
        Duty::Moderate => list.may_moderate(address),
        Duty::Own => list.is_owner(address),
    };
    (allowed || config.is_admin(address)).then_some(list)
}

/// A signed-in person and the list of the URL, on which they have the duty asked.
pub(super) struct OnList<'a> {
    pub person: SignedIn,
    pub list: &'a ListConfig,
}

/// The person and list of a request to one of `list_name`'s pages, when they have `duty` on
/// it; the sign-in form, a refusal or the one "not found" page otherwise.
pub(super) async fn on_list<'a>(
    subscriptions: &'a Subscriptions,
    headers: &HeaderMap,
    list_name: &str,
    duty: Duty,
    form: bool,
) -> Result<OnList<'a>, Response> {
    let person = signed_in(subscriptions, headers, form).await?;
    match list_for(
        subscriptions.config(),
        &person.session.address,
        list_name,
        duty,
    ) {
        Some(list) => Ok(OnList { person, list }),
        None => Err(not_found(subscriptions, &person.language)),
    }
}

/// What the person is to this list, for the log: never their address at INFO.
pub(super) fn role(config: &Config, list: &ListConfig, address: &str) -> &'static str {
    let named = |people: &[String]| people.iter().any(|p| p.eq_ignore_ascii_case(address));
    if named(&list.moderators) {
        "moderator"
    } else if named(&list.owners) {
        "owner"
    } else if config.is_admin(address) {
        "admin"
    } else {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_cookies_shaped_like_ours_are_read() {
        let mut headers = HeaderMap::new();
        let good = "a".repeat(64);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; s={good}; t=short")).expect("header"),
        );
        assert_eq!(cookie(&headers, "s"), Some(good));
        assert_eq!(cookie(&headers, "t"), None);
        assert_eq!(cookie(&headers, "u"), None);
    }

    #[test]
    fn cookies_are_secure_only_behind_https() {
        let names = CookieNames {
            session: "__Host-tidings_session",
            form: "__Host-tidings_form",
            next: "__Host-tidings_next",
            secure: true,
        };
        assert_eq!(
            set_cookie(&names, names.session, "v", None),
            "__Host-tidings_session=v; Path=/; HttpOnly; SameSite=Lax; Secure"
        );
        let plain = CookieNames {
            secure: false,
            ..names
        };
        assert_eq!(
            set_cookie(&plain, "tidings_session", "", Some(0)),
            "tidings_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}

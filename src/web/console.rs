//! The web console's first pages: sign-in by a link sent by email, server-side sessions,
//! and the home page of the signed-in person (their roles and their own subscriptions).
//!
//! - Asking for a link answers the same page, byte for byte, whether or not the address may
//!   sign in; the link is looked up and sent after the answer, on a task of its own, so that
//!   not even the time taken tells. Requests are limited per address and per client.
//! - The link is signed ([`crate::tokens::Purpose::SignIn`]), names a request that works
//!   once within 15 minutes, and carries a nonce of which the database keeps only a hash.
//!   Opening it shows a button; only the button's POST signs in, so that link scanners
//!   sign no one in.
//! - A session is a random id in an `HttpOnly`, `SameSite=Lax` cookie (`Secure`, and named
//!   `__Host-…`, when `base_url` is https); the database keeps its hash. Signing in always
//!   opens a fresh one and ends any the browser presented. It ends after 12 idle hours.
//! - Every form carries a CSRF token: a session's own secret once signed in; before, a
//!   random value that must match a cookie of its own (double submit), so that another
//!   site cannot sign a browser in to someone else's session.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{json, Value};

use crate::address;
use crate::config::{Config, ListConfig, LANGUAGES};
use crate::links::{console_url, sign_in_link_url, ConsolePage};
use crate::notices::{Automatic, Notice};
use crate::store::{NewSession, OwnSubscription, WebSession};
use crate::subscriptions::Subscriptions;
use crate::tokens::{digest, random_secret, same_secret};

use super::page;
use super::server::ClientAddr;
use super::unsubscribe::internal;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// How long an emailed link works.
const LINK_LIFETIME_MS: i64 = 15 * MINUTE_MS;
/// A session unused this long is over.
const IDLE_MS: i64 = 12 * HOUR_MS;
/// A session's last sight is written at most this often.
const REFRESH_MS: i64 = 5 * MINUTE_MS;
/// Links one address may be sent per hour, known or not: a few tries for a slow mailbox,
/// too few to flood anyone.
const PER_ADDRESS_PER_HOUR: u64 = 5;
/// Requests one client (an IPv4 address, an IPv6 /64) may make per hour.
const PER_CLIENT_PER_HOUR: u64 = 30;

/// The cookies' names: `__Host-` binds them to this host and path `/`, over https only.
struct CookieNames {
    session: &'static str,
    form: &'static str,
    secure: bool,
}

fn cookie_names(config: &Config) -> CookieNames {
    if config.server.base_url.starts_with("https://") {
        CookieNames {
            session: "__Host-tidings_session",
            form: "__Host-tidings_form",
            secure: true,
        }
    } else {
        CookieNames {
            session: "tidings_session",
            form: "tidings_form",
            secure: false,
        }
    }
}

fn set_cookie(names: &CookieNames, name: &str, value: &str, max_age: Option<u32>) -> String {
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
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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

/// The value of field `name` of an `application/x-www-form-urlencoded` body.
pub(super) fn form_field(body: &str, name: &str) -> Option<String> {
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
fn visitor_language(headers: &HeaderMap) -> &'static str {
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
pub(super) async fn page_language(
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

/// What rate limits count a client as: its IPv4 address, or its IPv6 /64, which one
/// household or server usually holds whole.
fn client_key(client: Option<Extension<ClientAddr>>) -> String {
    match client.map(|Extension(ClientAddr(addr))| addr.ip()) {
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "unknown".into(),
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

fn see_other(url: &str, cookies: &[String]) -> Response {
    let mut response = Redirect::to(url).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    add_cookies(&mut response, cookies);
    response
}

/// The browser's form token before sign-in, and the cookie to set when it had none yet.
fn form_token(names: &CookieNames, headers: &HeaderMap) -> (String, Option<String>) {
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
fn form_token_matches(names: &CookieNames, headers: &HeaderMap, body: &str) -> bool {
    match (cookie(headers, names.form), form_field(body, "csrf")) {
        (Some(expected), Some(given)) => same_secret(&expected, &given),
        _ => false,
    }
}

/// The session the browser's cookie names, with its id's hash, when it is a live one.
pub(super) async fn session(
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

/// GET `/console/sign-in`: the form, or the home page for a browser signed in already.
pub async fn sign_in_page(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
) -> Response {
    match session(&subscriptions, &headers).await {
        Ok(Some(_)) => see_other(
            &console_url(&subscriptions.config().server.base_url, ConsolePage::Home),
            &[],
        ),
        Ok(None) => sign_in_form(&subscriptions, &headers, ""),
        Err(response) => response,
    }
}

/// POST `/console/sign-in`: sends a link to the address if it may sign in, and answers the
/// same either way.
pub async fn request_link(
    State(subscriptions): State<Arc<Subscriptions>>,
    client: Option<Extension<ClientAddr>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let names = cookie_names(subscriptions.config());
    if !form_token_matches(&names, &headers, &body) {
        return refused(&subscriptions, &headers, "csrf");
    }
    let store = subscriptions.store();
    match store
        .rate_allow(
            "web_sign_in_client",
            &client_key(client),
            PER_CLIENT_PER_HOUR,
            HOUR_MS,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("sign-in request refused: client rate limit");
            return refused(&subscriptions, &headers, "too_many");
        }
        Err(error) => return internal(&error),
    }
    let typed = form_field(&body, "address").unwrap_or_default();
    let Ok(address) = address::normalize(&typed) else {
        return sign_in_form(&subscriptions, &headers, "invalid_address");
    };
    match store
        .rate_allow(
            "web_sign_in_address",
            &address,
            PER_ADDRESS_PER_HOUR,
            HOUR_MS,
        )
        .await
    {
        // Said to no one: the answer must not differ for an address someone else asked for.
        Ok(false) => tracing::info!("sign-in link not sent: address rate limit"),
        Ok(true) => {
            let subscriptions = Arc::clone(&subscriptions);
            tokio::spawn(async move { send_link(&subscriptions, &address).await });
        }
        Err(error) => return internal(&error),
    }
    let base_url = &subscriptions.config().server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_check_mailbox", visitor_language(&headers)),
        "",
        json!({ "sign_in_url": console_url(base_url, ConsolePage::SignIn) }),
        &[],
    )
}

/// The list a person's sign-in notice is sent under (its From, its bounces): one they are
/// subscribed to, else one they have a duty on, else the first list (an admin's).
fn notice_list<'c>(
    config: &'c Config,
    address: &str,
    own: &[OwnSubscription],
) -> Option<&'c ListConfig> {
    own.iter()
        .find_map(|subscription| config.list(&subscription.list_name))
        .or_else(|| {
            config
                .duties_of(address)
                .iter()
                .find_map(|duty| config.list(&duty.name))
        })
        .or_else(|| config.lists.first())
}

/// Sends a sign-in link to `address` when it may sign in; nothing otherwise. Failures are
/// logged: nobody waits for an answer.
async fn send_link(subscriptions: &Subscriptions, address: &str) {
    let config = subscriptions.config();
    let store = subscriptions.store();
    let own = match store.subscriptions_of(address).await {
        Ok(own) => own,
        Err(error) => {
            tracing::error!(%error, "cannot look up a sign-in request's address");
            return;
        }
    };
    let known =
        !own.is_empty() || config.is_admin(address) || !config.duties_of(address).is_empty();
    if !known {
        tracing::debug!(
            address,
            "sign-in requested for an address that may not sign in"
        );
        return;
    }
    let Some(list) = notice_list(config, address, &own) else {
        tracing::error!("no list to send a sign-in link under");
        return;
    };
    let language = match own.first() {
        Some(subscription) => subscription.language.clone(),
        None => list.language.clone(),
    };
    let nonce: [u64; 2] = rand::random();
    let nonce_hash = digest(&format!("{:016x}{:016x}", nonce[0], nonce[1]));
    let id = match store
        .open_sign_in(address, &nonce_hash, LINK_LIFETIME_MS, IDLE_MS)
        .await
    {
        Ok(id) => id,
        Err(error) => {
            tracing::error!(%error, "cannot open a sign-in request");
            return;
        }
    };
    let notice = Notice {
        name: "sign_in",
        list,
        language: &language,
        recipients: vec![address.to_owned()],
        address,
        reply_to: None,
        automatic: Automatic::Generated,
        extra: json!({
            "sign_in_url": subscriptions.links().sign_in_url(id, nonce),
            "expires_minutes": LINK_LIFETIME_MS / MINUTE_MS,
        }),
    };
    match subscriptions.notices().send(store, notice).await {
        Ok(()) => tracing::info!(request = id, "sign-in link sent"),
        Err(error) => tracing::error!(%error, request = id, "cannot send a sign-in link"),
    }
}

/// The request and nonce hash of a genuine token, whatever became of the request.
fn genuine(subscriptions: &Subscriptions, token: &str) -> Option<(i64, String)> {
    let (id, nonce) = subscriptions.links().verify_sign_in(token)?;
    Some((id, digest(&format!("{:016x}{:016x}", nonce[0], nonce[1]))))
}

/// The one page for a link that cannot sign in: forged, used or expired alike, so that a
/// link says nothing about a request it does not prove.
fn link_invalid(subscriptions: &Subscriptions, headers: &HeaderMap) -> Response {
    let base_url = &subscriptions.config().server.base_url;
    render(
        subscriptions,
        StatusCode::NOT_FOUND,
        ("console_link_invalid", visitor_language(headers)),
        "",
        json!({ "sign_in_url": console_url(base_url, ConsolePage::SignIn) }),
        &[],
    )
}

/// GET of the emailed link: a button, and nothing else.
pub async fn link_page(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((id, nonce_hash)) = genuine(&subscriptions, &token) else {
        return link_invalid(&subscriptions, &headers);
    };
    match subscriptions.store().sign_in_usable(id, &nonce_hash).await {
        Ok(true) => {}
        Ok(false) => return link_invalid(&subscriptions, &headers),
        Err(error) => return internal(&error),
    }
    let names = cookie_names(subscriptions.config());
    let (form, set) = form_token(&names, &headers);
    let base_url = &subscriptions.config().server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_link", visitor_language(&headers)),
        "",
        json!({ "action_url": sign_in_link_url(base_url, &token), "csrf": form }),
        &set.into_iter().collect::<Vec<_>>(),
    )
}

/// POST of the emailed link's button: uses the request once and opens a fresh session.
pub async fn use_link(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let names = cookie_names(subscriptions.config());
    if !form_token_matches(&names, &headers, &body) {
        return refused(&subscriptions, &headers, "csrf");
    }
    let Some((id, nonce_hash)) = genuine(&subscriptions, &token) else {
        return link_invalid(&subscriptions, &headers);
    };
    let session_id = random_secret();
    let id_hash = digest(&session_id);
    let csrf_secret = random_secret();
    let presented = cookie(&headers, names.session).map(|old| digest(&old));
    let new = NewSession {
        id_hash: &id_hash,
        csrf_secret: &csrf_secret,
        replaces: presented.as_deref(),
    };
    match subscriptions
        .store()
        .redeem_sign_in(id, &nonce_hash, new)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return link_invalid(&subscriptions, &headers),
        Err(error) => return internal(&error),
    }
    tracing::info!(request = id, "signed in to the web console");
    let base_url = &subscriptions.config().server.base_url;
    let cookie = set_cookie(&names, names.session, &session_id, None);
    see_other(&console_url(base_url, ConsolePage::Home), &[cookie])
}

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
    let moderated = match super::console_held::moderated_lists(&subscriptions, address).await {
        Ok(moderated) => moderated,
        Err(response) => return response,
    };
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
            "csrf": session.csrf_secret,
            "sign_out_url": console_url(base_url, ConsolePage::SignOut),
            "sign_out_everywhere_url": console_url(base_url, ConsolePage::SignOutEverywhere),
        }),
        &[],
    )
}

/// POST `/console/sign-out`.
pub async fn sign_out(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    end(&subscriptions, &headers, &body, false).await
}

/// POST `/console/sign-out-everywhere`: every session of the signed-in address ends.
pub async fn sign_out_everywhere(
    State(subscriptions): State<Arc<Subscriptions>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    end(&subscriptions, &headers, &body, true).await
}

async fn end(
    subscriptions: &Subscriptions,
    headers: &HeaderMap,
    body: &str,
    everywhere: bool,
) -> Response {
    let (id_hash, session) = match session(subscriptions, headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return refused(subscriptions, headers, "csrf"),
        Err(response) => return response,
    };
    let given = form_field(body, "csrf").unwrap_or_default();
    if !same_secret(&session.csrf_secret, &given) {
        return refused(subscriptions, headers, "csrf");
    }
    let store = subscriptions.store();
    let ended = if everywhere {
        store.end_web_sessions_of(&session.address).await
    } else {
        store.end_web_session(&id_hash).await.map(u64::from)
    };
    match ended {
        Ok(sessions) => tracing::info!(sessions, everywhere, "signed out of the web console"),
        Err(error) => return internal(&error),
    }
    let names = cookie_names(subscriptions.config());
    let base_url = &subscriptions.config().server.base_url;
    let language = match store.language_of(&session.address).await {
        Ok(Some(language)) => language,
        _ => visitor_language(headers).to_owned(),
    };
    render(
        subscriptions,
        StatusCode::OK,
        ("console_signed_out", &language),
        "",
        json!({
            "everywhere": everywhere,
            "sign_in_url": console_url(base_url, ConsolePage::SignIn),
        }),
        &[set_cookie(&names, names.session, "", Some(0))],
    )
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

    #[test]
    fn clients_are_counted_by_address_or_ipv6_prefix() {
        let key = |addr: &str| {
            let addr: std::net::SocketAddr = addr.parse().expect("address");
            client_key(Some(Extension(ClientAddr(addr))))
        };
        assert_eq!(key("192.0.2.7:4000"), "192.0.2.7");
        assert_eq!(key("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
        assert_eq!(
            key("[2001:db8:1:2:ffff::1]:443"),
            key("[2001:db8:1:2::9]:80")
        );
        assert_eq!(key("[::ffff:192.0.2.7]:1"), "192.0.2.7");
    }

    #[test]
    fn cookies_are_secure_only_behind_https() {
        let names = CookieNames {
            session: "__Host-tidings_session",
            form: "__Host-tidings_form",
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

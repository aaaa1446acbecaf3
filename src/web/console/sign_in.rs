//! Signing in by a link sent by email, and signing out.
//!
//! - Asking for a link answers the same page, byte for byte, whether or not the address may
//!   sign in; the link is looked up and sent after the answer, on a task of its own, so that
//!   not even the time taken tells. Requests are limited per address and per client.
//! - The link is signed ([`crate::tokens::Purpose::SignIn`]), names a request that works
//!   once within 15 minutes, and carries a nonce of which the database keeps only a hash.
//!   Opening it shows a button; only the button's POST signs in, so that link scanners
//!   sign no one in.
//! - Signing in always opens a fresh session and ends any the browser presented (no
//!   fixation); signing out can end every session of the address.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::address;
use crate::config::{Config, ListConfig};
use crate::links::{console_url, sign_in_link_url, ConsolePage};
use crate::notices::{Automatic, Notice};
use crate::store::{NewSession, OwnSubscription};
use crate::subscriptions::Subscriptions;
use crate::tokens::{digest, random_secret, same_secret};
use crate::web::server::ClientAddr;
use crate::web::unsubscribe::internal;

use super::access::{
    cookie, cookie_names, form_token, form_token_matches, refused, returns_to_account, session,
    set_cookie, sign_in_form, HOUR_MS, IDLE_MS, MINUTE_MS,
};
use super::{form_field, render, see_other, visitor_language};

/// How long an emailed link works.
const LINK_LIFETIME_MS: i64 = 15 * MINUTE_MS;

/// Links one address may be sent per hour, known or not: a few tries for a slow mailbox,
/// too few to flood anyone.
const PER_ADDRESS_PER_HOUR: u64 = 5;

/// Requests one client (an IPv4 address, an IPv6 /64) may make per hour.
const PER_CLIENT_PER_HOUR: u64 = 30;

/// What rate limits count a client as: its IPv4 address, or its IPv6 /64, which one
/// household or server usually holds whole; behind `[web] trusted_proxies`, the client
/// they forwarded for.
fn client_key(
    config: &Config,
    client: Option<Extension<ClientAddr>>,
    headers: &HeaderMap,
) -> String {
    let ip = client
        .map(|Extension(client)| client.client_ip(headers, |ip| config.web.is_trusted_proxy(ip)));
    ip_key(ip)
}

fn ip_key(ip: Option<IpAddr>) -> String {
    match ip {
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
            &client_key(subscriptions.config(), client, &headers),
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
    let mut cookies = vec![set_cookie(&names, names.session, &session_id, None)];
    let page = if returns_to_account(&names, &headers) {
        cookies.push(set_cookie(&names, names.next, "", Some(0)));
        ConsolePage::Account
    } else {
        ConsolePage::Home
    };
    see_other(&console_url(base_url, page), &cookies)
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
    fn clients_are_counted_by_address_or_ipv6_prefix() {
        let key = |addr: &str| {
            let addr: std::net::SocketAddr = addr.parse().expect("address");
            ip_key(Some(addr.ip()))
        };
        assert_eq!(key("192.0.2.7:4000"), "192.0.2.7");
        assert_eq!(key("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
        assert_eq!(
            key("[2001:db8:1:2:ffff::1]:443"),
            key("[2001:db8:1:2::9]:80")
        );
        assert_eq!(key("[::ffff:192.0.2.7]:1"), "192.0.2.7");
    }
}

//! The HTTP listener: one-click unsubscribe (RFC 8058), confirmation pages, the
//! re-enable link of members disabled for bouncing, the publications' past editions
//! with their Atom feeds, the web console's sign-in, home page and held postings, and `/healthz` (alive)
//! and `/readyz` (able to work). Pages are
//! rendered from the templates in the member's language; a GET never changes anything, so
//! link scanners cannot unsubscribe or subscribe anyone. A link whose token is not genuine
//! names no list. Connections are capped and timed out (`server.rs`).

mod confirm;
mod console;
mod console_held;
pub mod metrics;
mod page;
mod publications;
pub mod readiness;
mod reenable;
mod server;
mod unsubscribe;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::links::{held, published, ConsolePage, Page, SIGN_IN_LINK};
use crate::publications::Publications;
use crate::subscriptions::Subscriptions;

pub use server::{ClientAddr, Limits};

pub fn router(subscriptions: Arc<Subscriptions>, publications: Arc<Publications>) -> Router {
    let pages = publications::Pages {
        subscriptions: Arc::clone(&subscriptions),
        publications,
    };
    let published = Router::new()
        .route(published::BARE, get(publications::without_slash))
        .route(published::ARCHIVE, get(publications::index))
        .route(published::FEED, get(publications::feed))
        .route(published::EDITION, get(publications::edition))
        .with_state(pages);
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            Page::Unsubscribe.route(),
            get(unsubscribe::show).post(unsubscribe::one_click),
        )
        .route(
            Page::Confirm.route(),
            get(confirm::show).post(confirm::confirm),
        )
        .route(
            Page::Reenable.route(),
            get(reenable::show).post(reenable::reenable),
        )
        .route(ConsolePage::Home.route(), get(console::home))
        .route(
            ConsolePage::SignIn.route(),
            get(console::sign_in_page).post(console::request_link),
        )
        .route(
            SIGN_IN_LINK,
            get(console::link_page).post(console::use_link),
        )
        .route(ConsolePage::SignOut.route(), post(console::sign_out))
        .route(held::QUEUE, get(console_held::queue))
        .route(held::POSTING, get(console_held::posting))
        .route(held::HTML, get(console_held::html))
        .route(held::ATTACHMENT, get(console_held::attachment))
        .route(held::DECIDE, post(console_held::decide))
        .route(
            ConsolePage::SignOutEverywhere.route(),
            post(console::sign_out_everywhere),
        )
        .with_state(subscriptions)
        .merge(published)
}

pub async fn serve(
    listener: TcpListener,
    subscriptions: Arc<Subscriptions>,
    publications: Arc<Publications>,
    readiness: Arc<dyn readiness::Readiness>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) {
    server::serve(
        listener,
        router(subscriptions, publications).merge(readiness::routes(readiness)),
        limits,
        shutdown,
    )
    .await;
}

//! The HTTP listener: one-click unsubscribe (RFC 8058), confirmation pages, the
//! re-enable link of members disabled for bouncing, the publications' past editions
//! with their Atom feeds, the web console (sign-in, home page, held postings, list owners'
//! pages, editors' pages, members' own page, audit trail), the lists' archives, and
//! `/healthz` (alive)
//! and `/readyz` (able to work). Pages are
//! rendered from the templates in the member's language; a GET never changes anything, so
//! link scanners cannot unsubscribe or subscribe anyone. A link whose token is not genuine
//! names no list. Connections are capped and timed out (`server.rs`).

mod confirm;
mod console;
mod list_archive;
pub mod metrics;
mod page;
mod publications;
pub mod readiness;
mod reenable;
mod server;
mod unsubscribe;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::links::{published, Page};
use crate::publications::Publications;
use crate::subscriptions::Subscriptions;

pub use server::{ClientAddr, Limits};

pub fn router(subscriptions: Arc<Subscriptions>, publications: Arc<Publications>) -> Router {
    let editors =
        console::publication_routes(Arc::clone(&subscriptions), Arc::clone(&publications));
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
        .merge(console::routes())
        .merge(list_archive::routes())
        .with_state(subscriptions)
        .merge(editors)
        .merge(published)
}

/// Serves the public pages, the console and the health checks on `listener`.
pub async fn serve(
    listener: TcpListener,
    (subscriptions, publications, readiness): (
        Arc<Subscriptions>,
        Arc<Publications>,
        Arc<dyn readiness::Readiness>,
    ),
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    release: impl FnOnce(TcpListener),
) {
    server::serve(
        listener,
        router(subscriptions, publications).merge(readiness::routes(readiness)),
        limits,
        shutdown,
        release,
    )
    .await;
}

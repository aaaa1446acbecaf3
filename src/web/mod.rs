//! The HTTP listener: one-click unsubscribe (RFC 8058), confirmation pages, and the
//! re-enable link of members disabled for bouncing. Pages are
//! rendered from the templates in the member's language; a GET never changes anything, so
//! link scanners cannot unsubscribe or subscribe anyone.

mod confirm;
mod page;
mod reenable;
mod unsubscribe;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::subscriptions::Subscriptions;

pub fn router(subscriptions: Arc<Subscriptions>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/unsubscribe/{list}/{token}",
            get(unsubscribe::show).post(unsubscribe::one_click),
        )
        .route(
            "/confirm/{list}/{token}",
            get(confirm::show).post(confirm::confirm),
        )
        .route(
            "/reenable/{list}/{token}",
            get(reenable::show).post(reenable::reenable),
        )
        .with_state(subscriptions)
}

pub async fn serve(
    listener: TcpListener,
    subscriptions: Arc<Subscriptions>,
    mut shutdown: watch::Receiver<bool>,
) {
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    let app = router(subscriptions);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(%error, "HTTP listener failed");
    }
}

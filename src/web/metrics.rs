//! `GET /metrics`: Prometheus's text format, on a listener of its own (`[metrics] listen`,
//! loopback by default) so that the figures are not published with the public pages. What
//! the figures are is the daemon's to say; this module serves them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::server::{self, Limits};

/// The text behind `/metrics`, made when asked.
pub trait Metrics: Send + Sync {
    fn render(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>>;
}

pub async fn serve(
    listener: TcpListener,
    metrics: Arc<dyn Metrics>,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
    release: impl FnOnce(TcpListener),
) {
    let app = Router::new()
        .route("/metrics", get(render))
        .with_state(metrics);
    server::serve(listener, app, limits, shutdown, release).await;
}

async fn render(State(metrics): State<Arc<dyn Metrics>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render().await,
    )
        .into_response()
}

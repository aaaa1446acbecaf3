//! The HTTP listener: health check now; one-click unsubscribe, confirmation pages and
//! archives are routed here as they are built.

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok\n" }))
}

pub async fn serve(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(error) = axum::serve(listener, router())
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(%error, "HTTP listener failed");
    }
}

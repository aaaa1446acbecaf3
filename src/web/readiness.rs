//! `/readyz`: whether this daemon can do its work now, for a load balancer or a monitor,
//! as JSON with the reasons when it cannot (status 503). `/healthz` only says the process
//! answers. What readiness is made of is the daemon's to check (it holds every part); this
//! module serves the answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;

/// What `/readyz` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ready: bool,
    /// Why it is not ready; empty when it is.
    pub reasons: Vec<String>,
    pub database: String,
    pub relay: String,
    /// The tasks not running now, with what became of them (`restarting`, `given up`).
    pub tasks_not_running: Vec<String>,
    /// How long the longest-waiting due delivery has waited, when one is waiting.
    pub oldest_due_delivery_seconds: Option<i64>,
}

/// The check behind `/readyz`.
pub trait Readiness: Send + Sync {
    fn check(&self) -> Pin<Box<dyn Future<Output = Report> + Send + '_>>;
}

pub fn routes(readiness: Arc<dyn Readiness>) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Arc<dyn Readiness>>) -> Response {
    let report = readiness.check().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::to_string_pretty(&report).unwrap_or_default() + "\n";
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

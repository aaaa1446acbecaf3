//! The daemon's Prometheus figures. Events are counted where they happen, through the
//! `metrics` facade (deliveries by outcome, relay transaction time, bounces by class,
//! inbound sessions and refusals); the state of the queue, of held postings and of editions
//! is read from the database when the figures are asked for, so that every daemon on one
//! database reports the same state.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::{now_ms, Store};
use crate::web::metrics::Metrics;

/// Seconds an SMTP transaction with the relay takes: from well under a millisecond on
/// loopback to the data-end time-out.
const RELAY_SECONDS: [f64; 12] = [
    0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

/// The process's recorder. The `metrics` facade has one per process, installed once; a
/// daemon started again (a reload) goes on with the same figures. `None` when another
/// recorder was installed first (tidings embedded in a program with its own).
pub fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets_for_metric(
                Matcher::Full("tidings_relay_transaction_seconds".to_string()),
                &RELAY_SECONDS,
            );
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics are not recorded");
                    None
                }
            }
        })
        .clone()
}

const QUEUE_STATES: [&str; 5] = ["pending", "deferred", "sending", "sent", "failed"];
const EDITION_STATES: [&str; 4] = ["empty", "awaiting_approval", "sent", "cancelled"];

pub struct DaemonMetrics {
    pub store: Store,
    pub handle: PrometheusHandle,
}

impl Metrics for DaemonMetrics {
    fn render(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>> {
        Box::pin(async move {
            if let Err(error) = self.read_state().await {
                tracing::warn!(%error, "cannot read the queue's state for the metrics");
            }
            self.handle.render()
        })
    }
}

impl DaemonMetrics {
    async fn read_state(&self) -> Result<(), crate::store::StoreError> {
        let store = &self.store;
        // Every state is set, to 0 when none is in it: a gauge not set keeps its last value.
        let mut queue: BTreeMap<&str, i64> = QUEUE_STATES.map(|state| (state, 0)).into();
        for counts in store.queue_counts().await? {
            for (state, n) in [
                ("pending", counts.pending),
                ("deferred", counts.deferred),
                ("sending", counts.sending),
                ("sent", counts.sent),
                ("failed", counts.failed),
            ] {
                *queue.entry(state).or_default() += n;
            }
        }
        for (state, n) in queue {
            metrics::gauge!("tidings_queue_depth", "state" => state).set(n as f64);
        }
        let now = now_ms();
        let waited = store
            .oldest_due_delivery(now)
            .await?
            .map_or(0, |due| (now - due).max(0));
        metrics::gauge!("tidings_oldest_due_delivery_seconds").set(waited as f64 / 1000.0);
        let held: i64 = store
            .message_counts()
            .await?
            .iter()
            .filter(|(_, state, _)| state.starts_with("held"))
            .map(|(_, _, n)| n)
            .sum();
        metrics::gauge!("tidings_held_postings").set(held as f64);
        let mut editions: BTreeMap<String, i64> =
            EDITION_STATES.map(|state| (state.to_string(), 0)).into();
        editions.extend(store.edition_counts().await?);
        for (state, n) in editions {
            metrics::gauge!("tidings_editions", "state" => state).set(n as f64);
        }
        Ok(())
    }
}

//! A delivery worker: claims a batch of due deliveries, sends each over its own long-lived
//! relay connection, and records the outcomes in one transaction. Several workers (and
//! several daemons on PostgreSQL) share the queue without sending anything twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::store::{now_ms, ClaimedDelivery, DeliveryOutcome, Store};
use crate::tokens::Signer;

use super::relay::{RelayClient, SendResult};
use super::{render, retry, Signals};

pub struct Worker {
    pub number: usize,
    pub config: Arc<Config>,
    pub store: Store,
    pub signer: Signer,
    pub signals: Signals,
}

/// Decorated messages by id: every copy of a posting starts from the same bytes, read once.
#[derive(Default)]
struct MessageCache {
    bytes: HashMap<i64, Arc<Vec<u8>>>,
}

/// A fan-out touches one or two messages at a time; a few more cover interleaved postings.
const CACHED_MESSAGES: usize = 8;

impl MessageCache {
    async fn get(&mut self, store: &Store, message_id: i64) -> Option<Arc<Vec<u8>>> {
        if let Some(bytes) = self.bytes.get(&message_id) {
            return Some(Arc::clone(bytes));
        }
        let bytes = Arc::new(store.decorated_message(message_id).await.ok()??);
        if self.bytes.len() >= CACHED_MESSAGES {
            self.bytes.clear();
        }
        self.bytes.insert(message_id, Arc::clone(&bytes));
        Some(bytes)
    }
}

impl Worker {
    pub async fn run(self) {
        let mut shutdown = self.signals.shutdown.clone();
        let mut relay: Option<RelayClient> = None;
        let mut cache = MessageCache::default();
        let lease_ms = (self.config.delivery.lease_seconds * 1000) as i64;
        let batch_size = self.config.delivery.batch_size as i64;
        while !*shutdown.borrow() {
            let batch = match self
                .store
                .claim_deliveries(&self.config.delivery.node_name, batch_size, lease_ms)
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, worker = self.number, "cannot claim deliveries");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = self.signals.queued.notified() => {}
                    _ = tokio::time::sleep(self.signals.poll_interval) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let outcomes = self.send_batch(&mut relay, &mut cache, &batch).await;
            self.record(&outcomes).await;
        }
        if let Some(relay) = relay {
            relay.quit().await;
        }
    }

    async fn send_batch(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        batch: &[ClaimedDelivery],
    ) -> Vec<(i64, DeliveryOutcome)> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for delivery in batch {
            let result = self.send_one(relay, cache, delivery).await;
            if let SendResult::ConnectionLost(reason) = &result {
                tracing::warn!(worker = self.number, %reason, "relay connection lost");
                *relay = None;
            }
            let outcome = retry::outcome(result, delivery, &self.config.delivery, now_ms());
            outcomes.push((delivery.id, outcome));
        }
        outcomes
    }

    async fn send_one(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        delivery: &ClaimedDelivery,
    ) -> SendResult {
        let Some(message) = cache.get(&self.store, delivery.message_id).await else {
            return SendResult::Temporary(format!(
                "message {} could not be read",
                delivery.message_id
            ));
        };
        let client = match relay {
            Some(client) if client.is_usable() => client,
            _ => match RelayClient::connect(&self.config.relay, &self.config.server.hostname).await
            {
                Ok(client) => relay.insert(client),
                Err(error) => {
                    // Do not hammer a relay that is down: the deliveries are deferred anyway.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return SendResult::ConnectionLost(error.to_string());
                }
            },
        };
        let copy = render::personalise(delivery, &self.config, &self.signer);
        client
            .send(
                &copy.envelope_from,
                &delivery.recipient,
                &[&copy.headers, &message],
            )
            .await
    }

    /// Records outcomes, insisting: an unrecorded delivery would be sent again when its lease
    /// runs out.
    async fn record(&self, outcomes: &[(i64, DeliveryOutcome)]) {
        for attempt in 1..=5u64 {
            match self.store.record_outcomes(outcomes).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, attempt, worker = self.number, "cannot record delivery outcomes");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
    }
}

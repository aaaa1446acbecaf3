//! A delivery worker: claims a batch of due deliveries, sends each over its own long-lived
//! relay connection, and hands each transaction's outcomes to the [`super::outcomes`]
//! writer as soon as the relay has answered. Several workers (and
//! several daemons on PostgreSQL) share the queue without sending anything twice.
//!
//! While a batch is being sent, its lease is renewed every third of `lease_seconds`, so
//! that a slow relay never lets the claims run out under a worker still sending them; a
//! delivery the renewal finds no longer this batch's (its node was taken for dead and
//! another node claimed it) is not sent here.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit};

use crate::cluster::NodeIdentity;

use crate::config::Config;
use crate::dkim::{Dkim, Prepared};
use crate::links::{self, Role};
use crate::store::{now_ms, ClaimedDelivery, DeliveryOutcome, Store};
use crate::tokens::Signer;

use super::destinations::{domain_of, Destinations};
use super::outcomes::{Copies, Outcomes};
use super::relay::{RelayClient, SendResult};
use super::{render, retry};
use crate::health::RelayContact;
use crate::signals::Signals;

#[derive(Clone)]
pub struct Worker {
    pub number: usize,
    /// The node the worker claims for.
    pub node: Arc<NodeIdentity>,
    pub config: Arc<Config>,
    pub store: Store,
    pub signer: Signer,
    /// Signs every message sent, when DKIM is configured.
    pub dkim: Option<Arc<Dkim>>,
    /// Where each transaction's outcomes go to be recorded.
    pub outcomes: Outcomes,
    /// Shared by all workers: how fast each recipient domain may be sent to.
    pub destinations: Arc<Destinations>,
    /// Told whenever the relay answers, for the readiness check.
    pub relay_contact: Arc<RelayContact>,
    pub signals: Signals,
}

/// A decorated message and, when signing, what all its signatures share.
#[derive(Clone)]
struct CachedMessage {
    bytes: Arc<Vec<u8>>,
    prepared: Option<Arc<Prepared>>,
}

/// Decorated messages by id: every copy of a posting starts from the same bytes, read (and,
/// when signing, body-hashed) once.
#[derive(Default)]
struct MessageCache {
    messages: HashMap<i64, CachedMessage>,
}

/// A fan-out touches one or two messages at a time; a few more cover interleaved postings.
const CACHED_MESSAGES: usize = 8;

impl MessageCache {
    /// The message, or why it cannot be sent now.
    async fn get(
        &mut self,
        store: &Store,
        message_id: i64,
        signing: bool,
    ) -> Result<CachedMessage, String> {
        if let Some(message) = self.messages.get(&message_id) {
            return Ok(message.clone());
        }
        let unreadable = || format!("message {message_id} could not be read");
        let bytes = Arc::new(
            store
                .decorated_message(message_id)
                .await
                .map_err(|_| unreadable())?
                .ok_or_else(unreadable)?,
        );
        let prepared = if signing {
            Some(Arc::new(prepare(Arc::clone(&bytes)).await?))
        } else {
            None
        };
        if self.messages.len() >= CACHED_MESSAGES {
            self.messages.clear();
        }
        let message = CachedMessage { bytes, prepared };
        self.messages.insert(message_id, message.clone());
        Ok(message)
    }
}

/// Hashes the body off the reactor: a large posting takes milliseconds.
async fn prepare(bytes: Arc<Vec<u8>>) -> Result<Prepared, String> {
    match tokio::task::spawn_blocking(move || Prepared::new(&bytes)).await {
        Ok(prepared) => prepared.map_err(|error| error.to_string()),
        Err(error) => Err(format!("preparing the DKIM signature failed: {error}")),
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
                .claim_deliveries(self.node.id(), batch_size, lease_ms)
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, worker = self.number, "cannot claim deliveries");
                    Vec::new()
                }
            };
            if batch.is_empty() {
                self.signals.idle(&self.signals.queued, &mut shutdown).await;
                continue;
            }
            self.send_batch_renewing(&mut relay, &mut cache, &batch, lease_ms)
                .await;
        }
        if let Some(relay) = relay {
            relay.quit().await;
        }
    }

    /// Sends a claimed batch while renewing its lease; the renewal ends with the sending,
    /// never in the middle of a query.
    async fn send_batch_renewing(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        batch: &[ClaimedDelivery],
        lease_ms: i64,
    ) {
        let lost = Mutex::new(HashSet::new());
        let (finished, done) = (AtomicBool::new(false), Notify::new());
        let sending = async {
            self.send_batch(relay, cache, batch, &lost).await;
            finished.store(true, Ordering::Relaxed);
            done.notify_one();
        };
        let renewing = async {
            let every = Duration::from_millis((lease_ms / 3).max(200) as u64);
            let Some(token) = batch.first().map(|d| d.claim_token) else {
                return;
            };
            let ids: Vec<i64> = batch.iter().map(|d| d.id).collect();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = done.notified() => return,
                }
                if finished.load(Ordering::Relaxed) {
                    return;
                }
                match self.store.renew_claims(token, &ids, lease_ms).await {
                    Ok(held) => {
                        let held: HashSet<i64> = held.into_iter().collect();
                        // Also those recorded already: they are not sent again either way.
                        let gone = ids.iter().filter(|id| !held.contains(id));
                        lost.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .extend(gone);
                    }
                    Err(error) => {
                        tracing::error!(%error, worker = self.number, "cannot renew the lease of a batch")
                    }
                }
            }
        };
        tokio::join!(sending, renewing);
    }

    /// Sends a claimed batch, handing outcomes over to the writer a few at a time: when half
    /// a transaction's worth has gathered, when no more copies may go unrecorded, and at the
    /// end of the batch (handing over each personalised copy alone cost a wake-up of the
    /// writer per copy). Deliveries in `lost` are another claim's now, and are left alone.
    async fn send_batch(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        batch: &[ClaimedDelivery],
        lost: &Mutex<HashSet<i64>>,
    ) {
        let max_shared = self.config.relay.max_recipients_per_transaction;
        let hand_over_at = (max_shared / 2).max(1);
        let mut gathered = Copies::default();
        for transaction in transactions(batch, max_shared) {
            if let Some(kept) = still_held(transaction, lost) {
                tracing::warn!(
                    worker = self.number,
                    lost = transaction.len() - kept.len(),
                    "deliveries of this batch were claimed by another node; not sending them"
                );
                // What is left of a shared transaction goes back to the queue, due at once.
                let outcomes = kept
                    .iter()
                    .map(|d| (d.id, DeliveryOutcome::Postponed { retry_at: now_ms() }))
                    .collect();
                let permits = self.permits_for(&mut gathered, kept.len()).await;
                gathered.add(&kept, outcomes, permits);
                continue;
            }
            let permits = self.permits_for(&mut gathered, transaction.len()).await;
            let outcomes = self.outcomes_of(relay, cache, transaction).await;
            gathered.add(transaction, outcomes, permits);
            if gathered.count() >= hand_over_at {
                self.outcomes.hand_over(std::mem::take(&mut gathered)).await;
            }
        }
        self.outcomes.hand_over(gathered).await;
    }

    /// Permits for `count` copies to go unrecorded; `gathered` is handed over first when
    /// none are free, as the permits it holds are among those the workers wait for.
    async fn permits_for(&self, gathered: &mut Copies, count: usize) -> OwnedSemaphorePermit {
        if let Some(permits) = self.outcomes.try_permits_for(count) {
            return permits;
        }
        self.outcomes.hand_over(std::mem::take(gathered)).await;
        self.outcomes.permits_for(count).await
    }

    /// Sends one transaction unless stopping or its destination must wait: what became of
    /// each of its deliveries, in order.
    async fn outcomes_of(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        transaction: &[ClaimedDelivery],
    ) -> Vec<(i64, DeliveryOutcome)> {
        let postponed = |retry_at| {
            let later = DeliveryOutcome::Postponed { retry_at };
            transaction.iter().map(|d| (d.id, later.clone())).collect()
        };
        // Stopping: what is not under way yet goes back to the queue, due at once.
        if *self.signals.shutdown.borrow() {
            return postponed(now_ms());
        }
        // A shared transaction (mail to owners) goes by its first recipient's domain.
        let domain = domain_of(&transaction[0].recipient);
        let permit = match self.destinations.admit(&domain, now_ms).await {
            Ok(permit) => permit,
            Err(retry_at) => return postponed(retry_at),
        };
        let results = self.send_transaction(relay, cache, transaction).await;
        let deferred = results
            .iter()
            .any(|result| matches!(result, SendResult::Temporary(_)));
        if let Some(pause) = permit.report(deferred, now_ms()) {
            // The other nodes heed the pause from their next heartbeat on.
            let strikes = i64::from(pause.strikes);
            if let Err(error) = self.store.share_pause(&domain, pause.until, strikes).await {
                tracing::warn!(%error, "cannot share a destination's pause with the other nodes");
            }
        }
        drop(permit);
        if let Some(SendResult::ConnectionLost(reason)) = results.first() {
            tracing::warn!(worker = self.number, %reason, "relay connection lost");
            *relay = None;
        }
        transaction
            .iter()
            .zip(results)
            .map(|(delivery, result)| {
                let outcome = retry::outcome(result, delivery, &self.config.delivery, now_ms());
                (delivery.id, outcome)
            })
            .collect()
    }

    /// Sends one transaction: a personalised copy to one subscriber, or one shared message
    /// to several recipients. One result per delivery, in order.
    async fn send_transaction(
        &self,
        relay: &mut Option<RelayClient>,
        cache: &mut MessageCache,
        transaction: &[ClaimedDelivery],
    ) -> Vec<SendResult> {
        let Some(first) = transaction.first() else {
            return Vec::new();
        };
        let all = |result: SendResult| vec![result; transaction.len()];
        let message = match cache
            .get(&self.store, first.message_id, self.dkim.is_some())
            .await
        {
            Ok(message) => message,
            Err(reason) => return all(SendResult::Temporary(reason)),
        };
        let copy = first
            .member_id
            .map(|_| render::personalise(first, &self.config, &self.signer));
        let (envelope_from, parts) = match &copy {
            Some(copy) => (copy.envelope_from.clone(), copy.parts(&message.bytes)),
            None => (
                links::address(&first.list_name, Role::Bounces, &self.config.server.domain),
                vec![message.bytes.as_slice()],
            ),
        };
        // A personal copy starts with its own header lines; an edition's copy also has the
        // member's own link in its body.
        let (own, body) = match (&copy, parts.split_first()) {
            (Some(copy), Some((own, rest))) => (*own, copy.body_link.as_ref().map(|_| rest)),
            _ => (&[][..], None),
        };
        let signature = match self.sign(&message, own, body).await {
            Ok(signature) => signature,
            Err(reason) => return all(SendResult::Temporary(reason)),
        };
        let client = match relay {
            Some(client) if client.is_usable() => client,
            _ => match RelayClient::connect(&self.config.relay, &self.config.server.hostname).await
            {
                Ok(client) => relay.insert(client),
                Err(error) => {
                    // Do not hammer a relay that is down: the deliveries are deferred anyway.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    return all(SendResult::ConnectionLost(error.to_string()));
                }
            },
        };
        let signed: Vec<&[u8]> = std::iter::once(signature.as_slice())
            .chain(parts.iter().copied())
            .collect();
        let started = std::time::Instant::now();
        let results = if copy.is_some() {
            vec![client.send(&envelope_from, &first.recipient, &signed).await]
        } else {
            let recipients: Vec<&str> = transaction.iter().map(|d| d.recipient.as_str()).collect();
            client.send_many(&envelope_from, &recipients, &signed).await
        };
        metrics::histogram!("tidings_relay_transaction_seconds")
            .record(started.elapsed().as_secs_f64());
        // A relay that answered, whatever it answered, is there: the readiness check need
        // not connect to it while workers keep a connection busy.
        if results
            .iter()
            .any(|result| !matches!(result, SendResult::ConnectionLost(_)))
        {
            self.relay_contact.reached(now_ms());
        }
        results
    }

    /// The DKIM-Signature fields of a message made of `own` header lines (possibly none)
    /// above the cached message, or above `body` when the copy's body is its own (an
    /// edition's); nothing when not signing. A shared body was hashed once for all copies;
    /// an own body is hashed here. An RSA signature costs about a millisecond of CPU, so the
    /// work is done on the blocking pool, off the reactor.
    async fn sign(
        &self,
        message: &CachedMessage,
        own: &[u8],
        body: Option<&[&[u8]]>,
    ) -> Result<Vec<u8>, String> {
        let (Some(dkim), Some(shared)) = (&self.dkim, &message.prepared) else {
            return Ok(Vec::new());
        };
        let (dkim, shared, own) = (Arc::clone(dkim), Arc::clone(shared), own.to_vec());
        let body = body.map(<[&[u8]]>::concat);
        let job = move || match body {
            Some(body) => dkim.sign(&Prepared::new(&body)?, &own, unix_seconds()),
            None => dkim.sign(&shared, &own, unix_seconds()),
        };
        // Measured against signing in place and `block_in_place`: the same CPU time per
        // fan-out, and this one works on any runtime.
        match tokio::task::spawn_blocking(job).await {
            Ok(Ok(signature)) => Ok(signature),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(format!("DKIM signing failed: {error}")),
        }
    }
}

/// Counts each copy's outcome for the metrics, and logs one debug line per copy, with its
/// delivery id and its message's id, so that the log follows a posting to each copy (at
/// debug: a fan-out makes thousands a second).
pub(super) fn log_copies(batch: &[ClaimedDelivery], outcomes: &[(i64, DeliveryOutcome)]) {
    // Counted by outcome per batch: one look-up in the recorder per outcome, not per copy.
    let mut counts: HashMap<&'static str, u64> = HashMap::new();
    for (_, outcome) in outcomes {
        *counts.entry(outcome_name(outcome)).or_default() += 1;
    }
    for (outcome, n) in counts {
        metrics::counter!("tidings_deliveries_total", "outcome" => outcome).increment(n);
    }
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let messages: HashMap<i64, (i64, &str)> = batch
        .iter()
        .map(|d| (d.id, (d.message_id, d.list_name.as_str())))
        .collect();
    for (delivery_id, outcome) in outcomes {
        let (message, list) = messages.get(delivery_id).copied().unwrap_or((0, ""));
        let outcome = outcome_name(outcome);
        // In a span named as the expander's, so that one key finds the message's lines.
        let _message = tracing::debug_span!("message", id = message).entered();
        tracing::debug!(delivery_id, list, outcome, "copy");
    }
}

fn outcome_name(outcome: &DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Sent => "sent",
        DeliveryOutcome::Deferred { .. } => "deferred",
        DeliveryOutcome::Failed { .. } => "failed",
        DeliveryOutcome::Postponed { .. } => "postponed",
        DeliveryOutcome::Expired { .. } => "expired",
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Splits a batch (sorted by message) into transactions: each personalised delivery alone,
/// runs of deliveries of one shared message together, `max_shared` at most.
fn transactions(batch: &[ClaimedDelivery], max_shared: usize) -> Vec<&[ClaimedDelivery]> {
    let mut transactions = Vec::new();
    let mut rest = batch;
    while let Some(first) = rest.first() {
        let len = if first.member_id.is_some() {
            1
        } else {
            rest.iter()
                .take(max_shared.max(1))
                .take_while(|d| d.member_id.is_none() && d.message_id == first.message_id)
                .count()
        };
        let (transaction, tail) = rest.split_at(len);
        transactions.push(transaction);
        rest = tail;
    }
    transactions
}

/// The deliveries of `transaction` still this batch's, when some of them are `lost` to
/// another claim; `None` (nothing to copy) in the usual case that none are.
fn still_held(
    transaction: &[ClaimedDelivery],
    lost: &Mutex<HashSet<i64>>,
) -> Option<Vec<ClaimedDelivery>> {
    let lost = lost.lock().unwrap_or_else(PoisonError::into_inner);
    if lost.is_empty() || !transaction.iter().any(|d| lost.contains(&d.id)) {
        return None;
    }
    Some(
        transaction
            .iter()
            .filter(|d| !lost.contains(&d.id))
            .cloned()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(id: i64, message_id: i64, member_id: Option<i64>) -> ClaimedDelivery {
        ClaimedDelivery {
            id,
            message_id,
            list_name: "l".into(),
            member_id,
            recipient: format!("r{id}@example.org"),
            attempts: 0,
            created_at: 0,
            copies: crate::store::Copies::Shared,
            claim_token: 1,
        }
    }

    #[test]
    fn personalised_alone_shared_grouped_by_message_up_to_the_maximum() {
        let batch = [
            delivery(1, 1, Some(1)),
            delivery(2, 1, Some(2)),
            delivery(3, 2, None),
            delivery(4, 2, None),
            delivery(5, 2, None),
            delivery(6, 3, None),
        ];
        let ids: Vec<Vec<i64>> = transactions(&batch, 2)
            .iter()
            .map(|t| t.iter().map(|d| d.id).collect())
            .collect();
        assert_eq!(ids, vec![vec![1], vec![2], vec![3, 4], vec![5], vec![6]]);
    }
}

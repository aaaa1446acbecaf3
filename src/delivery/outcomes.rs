//! What became of each copy, recorded as it happens. Workers hand outcomes over a few
//! transactions at a time to one writer, which commits whatever has gathered in one
//! database transaction: the outcomes that arrived within [`GATHER_WAIT`] of the first, or
//! fewer when half of the copies allowed to be unrecorded are waiting. Under load more outcomes arrive while a
//! commit runs, so commits grow with the rate; when it is quiet, an outcome is committed
//! milliseconds after the relay's answer.
//!
//! This is what bounds duplicates after a crash. A claimed delivery whose outcome is not
//! committed is sent again once its lease runs out; with outcomes committed per batch, a
//! `kill -9` re-sent every copy of the claimed batches (`pool_size × batch_size`). Now a
//! worker takes a permit per copy before it sends a transaction, and the writer gives the
//! permits back only once the copies' outcomes are committed: copies under way, waiting for
//! the writer and being committed are never more than `pool_size ×
//! max_recipients_per_transaction` together, and only those can go out twice. Counting
//! copies rather than transactions lets personalised copies (one per transaction) keep
//! flowing while a commit runs.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex, OwnedSemaphorePermit, Semaphore};

use crate::bounces::{self, Failure};
use crate::config::Config;
use crate::notices::Notices;
use crate::store::{BouncedDelivery, Claim, ClaimedDelivery, DeliveryOutcome, Store};

use super::expiry::{self, Expired};
use super::worker::log_copies;

/// How long the writer waits for more outcomes after the first of a commit.
const GATHER_WAIT: Duration = Duration::from_millis(5);

/// Copies and their outcomes, in the same order, with the permits they were sent under
/// (given back when this is dropped).
#[derive(Default)]
pub struct Copies {
    pub deliveries: Vec<ClaimedDelivery>,
    pub outcomes: Vec<(i64, DeliveryOutcome)>,
    permits: Option<OwnedSemaphorePermit>,
}

impl Copies {
    /// Adds `outcomes` of `deliveries`, sent under `permits` (from [`Outcomes::permits_for`]).
    pub fn add(
        &mut self,
        deliveries: &[ClaimedDelivery],
        mut outcomes: Vec<(i64, DeliveryOutcome)>,
        permits: OwnedSemaphorePermit,
    ) {
        self.deliveries.extend_from_slice(deliveries);
        self.outcomes.append(&mut outcomes);
        self.hold(permits);
    }

    pub fn count(&self) -> usize {
        self.outcomes.len()
    }

    fn append(&mut self, mut more: Copies) {
        self.deliveries.append(&mut more.deliveries);
        self.outcomes.append(&mut more.outcomes);
        if let Some(permits) = more.permits {
            self.hold(permits);
        }
    }

    fn hold(&mut self, permits: OwnedSemaphorePermit) {
        match &mut self.permits {
            Some(held) => held.merge(permits),
            None => self.permits = Some(permits),
        }
    }
}

/// The workers' side: permits to send, and where each transaction's outcomes go.
#[derive(Clone)]
pub struct Outcomes {
    sender: mpsc::Sender<Copies>,
    /// One per copy that may be sent and not yet recorded.
    unrecorded: Arc<Semaphore>,
}

impl Outcomes {
    /// Permits for `count` more copies to be sent without their outcomes recorded, if there
    /// are that many free.
    pub fn try_permits_for(&self, count: usize) -> Option<OwnedSemaphorePermit> {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Arc::clone(&self.unrecorded)
            .try_acquire_many_owned(count)
            .ok()
    }

    /// Waits until `count` more copies may be sent without their outcomes recorded.
    pub async fn permits_for(&self, count: usize) -> OwnedSemaphorePermit {
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        Arc::clone(&self.unrecorded)
            .acquire_many_owned(count)
            .await
            .expect("the semaphore of unrecorded copies is never closed")
    }

    /// Hands over `copies` to be recorded.
    pub async fn hand_over(&self, copies: Copies) {
        if copies.outcomes.is_empty() {
            return;
        }
        let count = copies.outcomes.len();
        if self.sender.send(copies).await.is_err() {
            // Only when the daemon stops: the deliveries stay claimed, and are sent again
            // after their lease.
            tracing::error!(count, "outcomes not recorded: the writer has stopped");
        }
    }
}

/// The one task that records outcomes, bounces found in them, and expiries.
#[derive(Clone)]
pub struct Writer {
    pub config: Arc<Config>,
    pub store: Store,
    /// Tells owners about deliveries that ran out of retries.
    pub notices: Arc<Notices>,
    /// Shared by every run, so that a writer started again after a failure carries on with
    /// the same channel.
    receiver: Arc<Mutex<mpsc::Receiver<Copies>>>,
    /// Outcomes past which the writer commits without waiting longer: half of those allowed
    /// to be unrecorded, so that workers still have permits while it commits.
    gather_limit: usize,
}

/// A writer, and the handle workers give it outcomes through; `workers` is how many share
/// it, each with up to `max_recipients_per_transaction` copies under way or unrecorded.
pub fn writer(
    config: Arc<Config>,
    store: Store,
    notices: Arc<Notices>,
    workers: usize,
) -> (Outcomes, Writer) {
    let unrecorded = workers.max(1) * config.relay.max_recipients_per_transaction.max(1);
    // Every message in the channel holds at least one permit: it never fills before the
    // permits run out.
    let (sender, receiver) = mpsc::channel(unrecorded);
    let writer = Writer {
        config,
        store,
        notices,
        receiver: Arc::new(Mutex::new(receiver)),
        gather_limit: (unrecorded / 2).max(1),
    };
    let outcomes = Outcomes {
        sender,
        unrecorded: Arc::new(Semaphore::new(unrecorded)),
    };
    (outcomes, writer)
}

impl Writer {
    /// Records outcomes until every worker is gone (they hold the senders), so that the
    /// last ones of a clean stop are recorded too.
    pub async fn run(self) {
        let mut receiver = self.receiver.lock().await;
        while let Some(mut gathered) = receiver.recv().await {
            let deadline = tokio::time::Instant::now() + GATHER_WAIT;
            while gathered.outcomes.len() < self.gather_limit {
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(more)) => gathered.append(more),
                    Ok(None) | Err(_) => break,
                }
            }
            self.commit(&gathered).await;
            // Dropping `gathered` gives its permits back: these copies are recorded.
        }
    }

    async fn commit(&self, copies: &Copies) {
        log_copies(&copies.deliveries, &copies.outcomes);
        // Scored before the failures are recorded, so that a delivery seen as failed has
        // had its refusal counted. A crash in between sends the copy again after its
        // lease, and a second refusal counts again (within the daily cap).
        self.score_refusals(copies).await;
        self.record(copies).await;
        self.report_expired(copies).await;
    }

    /// Records outcomes, insisting: an unrecorded delivery would be sent again when its lease
    /// runs out. Each is recorded only under the claim it was sent under: one whose claim
    /// was taken over meanwhile is left to the newer claim.
    async fn record(&self, copies: &Copies) {
        let outcomes: Vec<(Claim, DeliveryOutcome)> = copies
            .deliveries
            .iter()
            .zip(&copies.outcomes)
            .map(|(delivery, (_, outcome))| (delivery.claim(), outcome.clone()))
            .collect();
        for attempt in 1..=5u64 {
            match self.store.record_outcomes(&outcomes).await {
                Ok(recorded) => {
                    if recorded.fenced_off > 0 {
                        metrics::counter!("tidings_outcomes_fenced_off_total")
                            .increment(recorded.fenced_off);
                        tracing::warn!(
                            fenced_off = recorded.fenced_off,
                            "outcomes not recorded: another claim took their deliveries over"
                        );
                    }
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, attempt, "cannot record delivery outcomes");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
            }
        }
    }

    /// Tells owners about subscribers' copies that ran out of retries.
    async fn report_expired(&self, copies: &Copies) {
        let expired: Vec<Expired> = copies
            .deliveries
            .iter()
            .zip(&copies.outcomes)
            .filter(|(delivery, _)| delivery.member_id.is_some())
            .filter_map(|(delivery, (_, outcome))| match outcome {
                DeliveryOutcome::Expired { reply } => Some(Expired {
                    list_name: delivery.list_name.clone(),
                    message_id: delivery.message_id,
                    reply: reply.clone(),
                }),
                _ => None,
            })
            .collect();
        if expired.is_empty() {
            return;
        }
        if let Err(error) =
            expiry::notify_owners(&self.config, &self.store, &self.notices, &expired).await
        {
            tracing::error!(%error, "cannot tell owners about expired deliveries");
        }
    }

    /// Treats a subscriber's copy refused for good by the relay like a bounce for it: an
    /// unknown mailbox counts against the member, a policy refusal is reported to the owners.
    async fn score_refusals(&self, copies: &Copies) {
        let refused = copies.deliveries.iter().zip(&copies.outcomes).filter_map(
            |(delivery, (_, outcome))| match (delivery.member_id, outcome) {
                (Some(_), DeliveryOutcome::Failed { reply }) => {
                    Some((delivery, Failure::from_reply(reply)?))
                }
                _ => None,
            },
        );
        for (delivery, failure) in refused {
            let refused = BouncedDelivery {
                list_name: delivery.list_name.clone(),
                member_id: delivery.member_id,
                recipient: delivery.recipient.clone(),
            };
            let applied = bounces::process::apply(
                &self.config,
                &self.store,
                &self.notices,
                &refused,
                &failure,
            )
            .await;
            match applied {
                Ok(outcome) => {
                    metrics::counter!("tidings_bounces_total", "class" => failure.class.as_str(), "from" => "relay").increment(1);
                    tracing::info!(list = %delivery.list_name, delivery_id = delivery.id, class = failure.class.as_str(), ?outcome, "refusal by the relay recorded")
                }
                Err(error) => {
                    tracing::error!(%error, delivery_id = delivery.id, "cannot record a refusal by the relay")
                }
            }
        }
    }
}

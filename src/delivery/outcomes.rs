//! What became of each copy, recorded as it happens. Workers hand every transaction's
//! outcomes to one writer, which commits whatever has gathered in one database transaction:
//! the outcomes that arrived within [`GATHER_WAIT`] of the first, at most about
//! [`GATHER_LIMIT`]. Under load more outcomes arrive while a commit runs, so commits grow
//! with the rate and never hold a worker up; when it is quiet, an outcome is committed
//! milliseconds after the relay's answer.
//!
//! This is what bounds duplicates after a crash. A claimed delivery whose outcome is not
//! committed is sent again once its lease runs out; with outcomes committed per batch, a
//! `kill -9` re-sent every copy of the claimed batches (`pool_size × batch_size`). Now only
//! copies whose transaction was under way, those waiting in the channel (one transaction
//! per worker at most: the channel holds `pool_size`) and those being committed can go out
//! twice.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Mutex};

use crate::bounces::{self, Failure};
use crate::config::Config;
use crate::notices::Notices;
use crate::store::{BouncedDelivery, Claim, ClaimedDelivery, DeliveryOutcome, Store};

use super::expiry::{self, Expired};
use super::worker::log_copies;

/// How long the writer waits for more outcomes after the first of a commit.
const GATHER_WAIT: Duration = Duration::from_millis(5);
/// Outcomes past which the writer commits without waiting longer.
const GATHER_LIMIT: usize = 64;

/// Copies and their outcomes, in the same order.
#[derive(Default)]
pub struct Copies {
    pub deliveries: Vec<ClaimedDelivery>,
    pub outcomes: Vec<(i64, DeliveryOutcome)>,
}

impl Copies {
    fn append(&mut self, mut more: Copies) {
        self.deliveries.append(&mut more.deliveries);
        self.outcomes.append(&mut more.outcomes);
    }
}

/// The workers' side: where each transaction's outcomes go.
#[derive(Clone)]
pub struct Outcomes {
    sender: mpsc::Sender<Copies>,
}

impl Outcomes {
    /// Hands over `copies` to be recorded; waits only while the writer is behind.
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
}

/// A writer, and the handle workers give it outcomes through; `workers` is how many share
/// it, one waiting transaction each.
pub fn writer(
    config: Arc<Config>,
    store: Store,
    notices: Arc<Notices>,
    workers: usize,
) -> (Outcomes, Writer) {
    let (sender, receiver) = mpsc::channel(workers.max(1));
    let writer = Writer {
        config,
        store,
        notices,
        receiver: Arc::new(Mutex::new(receiver)),
    };
    (Outcomes { sender }, writer)
}

impl Writer {
    /// Records outcomes until every worker is gone (they hold the senders), so that the
    /// last ones of a clean stop are recorded too.
    pub async fn run(self) {
        let mut receiver = self.receiver.lock().await;
        while let Some(mut gathered) = receiver.recv().await {
            let deadline = tokio::time::Instant::now() + GATHER_WAIT;
            while gathered.outcomes.len() < GATHER_LIMIT {
                match tokio::time::timeout_at(deadline, receiver.recv()).await {
                    Ok(Some(more)) => gathered.append(more),
                    Ok(None) | Err(_) => break,
                }
            }
            self.commit(&gathered).await;
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

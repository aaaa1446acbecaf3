//! The retention service: at each interval, purges what `[retention]` says has served its
//! purpose, one small batch per transaction with a pause between, so that delivery never
//! waits long for the database. What is purged and what is kept is said in
//! `store::retention`; held postings are expired by moderation, and purged here once
//! expired like any other decided posting.

use std::sync::Arc;
use std::time::Duration;

use crate::config::RetentionConfig;
use crate::publications::clock::Clock;
use crate::signals::Signals;
use crate::store::{PurgedMessages, SpentKind, Store, StoreError};

const DAY_MS: i64 = 24 * 3_600_000;

/// How far back rate-limit events are kept: every limit tidings applies looks back a day at
/// most, and a second day spares the edge.
const RATE_EVENTS_KEPT_MS: i64 = 2 * DAY_MS;

/// The first purge after a start waits this long (or the interval, if shorter), so that a
/// starting daemon first catches up with its queue.
const FIRST_PURGE_DELAY: Duration = Duration::from_secs(60);

/// What one purge removed, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub messages: PurgedMessages,
    /// Per [`SpentKind::ALL`], in its order.
    pub spent: [u64; SpentKind::ALL.len()],
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.messages.rows() + self.spent.iter().sum::<u64>()
    }

    pub fn of(&self, kind: SpentKind) -> u64 {
        SpentKind::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |at| self.spent[at])
    }
}

/// Purges everything due at `now_ms` (epoch ms, from the clock the caller goes by), batch
/// after batch until nothing is left.
pub async fn purge(
    store: &Store,
    settings: &RetentionConfig,
    now_ms: i64,
) -> Result<Purged, StoreError> {
    let batch = settings.batch_size.clamp(1, i64::MAX as u64) as i64;
    let pause = Duration::from_millis(settings.pause_ms);
    let before = now_ms.saturating_sub(days_ms(settings.days));
    let shunted_before = now_ms.saturating_sub(days_ms(settings.shunted_days));
    let mut purged = Purged::default();
    loop {
        let done = store
            .purge_finished_messages(before, shunted_before, batch)
            .await?;
        if done.rows() == 0 {
            break;
        }
        purged.messages.messages += done.messages;
        purged.messages.deliveries += done.deliveries;
        purged.messages.bodies += done.bodies;
        tokio::time::sleep(pause).await;
    }
    for (at, kind) in SpentKind::ALL.into_iter().enumerate() {
        let cutoff = match kind {
            SpentKind::RateEvents => now_ms.saturating_sub(RATE_EVENTS_KEPT_MS),
            _ => before,
        };
        loop {
            let deleted = store.purge_spent(kind, cutoff, batch).await?;
            purged.spent[at] += deleted;
            if deleted < batch as u64 {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
    Ok(purged)
}

fn days_ms(days: u64) -> i64 {
    (days.min(i64::MAX as u64 / DAY_MS as u64) as i64) * DAY_MS
}

/// Purges at every interval until the daemon stops. A stop in the middle of a batch drops
/// its transaction, which rolls back: the next start purges it again.
pub async fn run(store: Store, settings: RetentionConfig, clock: Arc<dyn Clock>, signals: Signals) {
    let mut shutdown = signals.shutdown.clone();
    let interval = Duration::from_secs(settings.interval_seconds.max(1));
    let mut wait = interval.min(FIRST_PURGE_DELAY);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
        wait = interval;
        tokio::select! {
            result = purge(&store, &settings, clock.now_ms()) => log(result),
            _ = shutdown.changed() => break,
        }
    }
}

fn log(result: Result<Purged, StoreError>) {
    match result {
        Ok(purged) if purged.total() == 0 => tracing::debug!("retention: nothing to purge"),
        Ok(purged) => tracing::info!(
            messages = purged.messages.messages,
            deliveries = purged.messages.deliveries,
            bodies = purged.messages.bodies,
            requests = purged.of(SpentKind::Requests),
            sign_ins = purged.of(SpentKind::SignIns),
            sessions = purged.of(SpentKind::Sessions),
            rate_events = purged.of(SpentKind::RateEvents),
            digest_entries = purged.of(SpentKind::DigestEntries),
            "retention: purged"
        ),
        // The next interval tries again; what was committed stays purged.
        Err(error) => tracing::warn!(%error, "retention: purge failed"),
    }
}

//! The daemon's scheduler: on every tick, each publication whose latest slot has no edition
//! yet gets one. The edition rows themselves are the record of what fired, so a restart, a
//! second daemon or a racing command never builds a slot twice, and slots missed while
//! tidings was down are built once, the latest of them, with the editors told. A slot is
//! identified by the schedule's instant, not by any daemon's clock: daemons whose clocks
//! differ by seconds name the same slot, and whichever reaches it first builds it.
//! Each tick also finishes editions built by a daemon that stopped before telling their
//! editors.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::config::PublicationConfig;
use crate::signals::Signals;
use crate::store::Actor;

use super::clock::Clock;
use super::editions::{Built, Slot};
use super::schedule;
use super::{Publications, Result};

/// A slot built later than this after its time counts as caught up, and the editors hear
/// why their edition is late.
const GRACE_MS: i64 = 5 * 60 * 1000;

/// Longest wait between two ticks.
const TICK: Duration = Duration::from_secs(1);

/// An edition built this long ago whose editors were not told was left so by a daemon
/// that stopped: long enough for the daemon building one to tell them itself.
const INTERRUPTED_AFTER_MS: i64 = 60 * 1000;

pub async fn run(publications: Arc<Publications>, clock: Arc<dyn Clock>, signals: Signals) {
    let mut shutdown = signals.shutdown.clone();
    let tick = signals.poll_interval.min(TICK);
    while !*shutdown.borrow() {
        // Build times are the database's (the system clock), not the schedule's.
        let built_before = crate::store::now_ms() - INTERRUPTED_AFTER_MS;
        if let Err(error) = publications.finish_interrupted_builds(built_before).await {
            tracing::error!(%error, "cannot finish editions whose editors were never told; will retry");
        }
        publications.run_due(clock.now_ms()).await;
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}

impl Publications {
    /// Builds every edition due at `now_ms`. Failures are logged; the slot stays due and
    /// the next tick tries again.
    pub async fn run_due(&self, now_ms: i64) {
        for publication in &self.config.publications {
            if let Err(error) = self.run_due_one(publication, now_ms).await {
                tracing::error!(publication = %publication.name, %error, "cannot build the scheduled edition; will retry");
            }
        }
    }

    async fn run_due_one(&self, publication: &PublicationConfig, now_ms: i64) -> Result<()> {
        let (Ok(cron), Ok(tz)) = (publication.cron(), publication.tz()) else {
            // Validation refuses such a configuration.
            return Ok(());
        };
        let since = self.schedule_start(publication, now_ms).await?;
        let Some(due) = schedule::due(&cron, tz, since, now_ms) else {
            return Ok(());
        };
        let built = self
            .build(
                &Actor::scheduler(),
                publication,
                Slot::Scheduled(due.slot_ms),
            )
            .await?;
        let late = due.skipped > 0 || now_ms - due.slot_ms > GRACE_MS;
        if late && built != Built::AlreadyBuilt {
            tracing::info!(publication = %publication.name, skipped = due.skipped, "missed schedule caught up");
            self.tell_editors(
                publication,
                "edition_caught_up",
                None,
                json!({
                    "scheduled": self.local_date(publication, due.slot_ms),
                    "skipped": due.skipped,
                    "built": matches!(built, Built::Edition { .. }),
                }),
            )
            .await?;
        }
        Ok(())
    }

    /// Slots after this instant are due: the latest slot already built, or, before the
    /// first, the moment tidings first ran the publication (an installation does not build
    /// the editions of its past).
    async fn schedule_start(&self, publication: &PublicationConfig, now_ms: i64) -> Result<i64> {
        if let Some(last) = self.store.last_scheduled_slot(&publication.name).await? {
            return Ok(last);
        }
        let key = format!("publication_schedule_start:{}", publication.name);
        let start = self
            .store
            .setting_or_insert(&key, || now_ms.to_string())
            .await?;
        Ok(start.parse().unwrap_or(now_ms))
    }
}

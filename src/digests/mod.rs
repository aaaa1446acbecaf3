//! Digests: members who chose one get a list's postings together, once a day or once a
//! week, on the list's `digest_daily` and `digest_weekly` schedules read in its `time_zone`.
//!
//! A posting waits for the digests from the moment it is expanded for delivery (see
//! `store::digests`), so a held posting approved the next day is in the next day's digest.
//! At each slot the postings waiting are put together, one message per language of the
//! members in that mode, and queued for them through the ordinary delivery queue, which
//! gives every copy its VERP sender, its personal List-Unsubscribe and its DKIM signature.
//! The period's row, the postings it took and the deliveries are committed together, once:
//! a restart or a second daemon never sends a period twice. A period without postings
//! sends nothing. Slots are placed in time as the publications' are (see
//! [`crate::publications::schedule`]): each local time once, whatever daylight saving does.

pub mod compose;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use crate::config::{Config, ListConfig};
use crate::message::UNSUBSCRIBE_PLACEHOLDER;
use crate::notices::{NoticeError, Notices};
use crate::publications::clock::Clock;
use crate::publications::schedule;
use crate::signals::Signals;
use crate::store::{
    DigestEntry, DigestKind, DigestMessage, DigestQueued, NewDigest, Store, StoreError,
};

use compose::DigestHeader;

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
}

pub type Result<T> = std::result::Result<T, DigestError>;

/// Postings one digest carries at most; any beyond wait for the next period's.
pub const MAX_POSTINGS: i64 = 500;

/// Longest wait between two looks at the schedules.
const TICK: Duration = Duration::from_secs(1);

/// The digests service, run by the daemon's digest scheduler.
pub struct Digests {
    config: Arc<Config>,
    store: Store,
    notices: Arc<Notices>,
    clock: Arc<dyn Clock>,
    /// Wakes the delivery workers when a digest is queued.
    queued: Option<Arc<Notify>>,
    /// Per list and kind, the slot after which the next is due: read from the database
    /// once, then kept, so that a tick asks the database nothing until a slot is due.
    since: Mutex<HashMap<(String, DigestKind), i64>>,
}

impl Digests {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        notices: Arc<Notices>,
        clock: Arc<dyn Clock>,
        queued: Option<Arc<Notify>>,
    ) -> Digests {
        Digests {
            config,
            store,
            notices,
            clock,
            queued,
            since: Mutex::new(HashMap::new()),
        }
    }

    /// Sends every digest due at `now_ms`. Failures are logged; the period stays due and the
    /// next tick tries again.
    pub async fn run_due(&self, now_ms: i64) {
        for list in &self.config.lists {
            for kind in DigestKind::ALL {
                if let Err(error) = self.run_due_one(list, kind, now_ms).await {
                    tracing::error!(list = %list.name, kind = kind.as_str(), %error, "cannot send the digest; will retry");
                }
            }
        }
    }

    async fn run_due_one(&self, list: &ListConfig, kind: DigestKind, now_ms: i64) -> Result<()> {
        let (Ok(cron), Ok(tz)) = (list.digest_schedule(kind), list.tz()) else {
            // Validation refuses such a configuration.
            return Ok(());
        };
        let since = self.schedule_start(list, kind, now_ms).await?;
        let Some(due) = schedule::due(&cron, tz, since, now_ms) else {
            return Ok(());
        };
        self.send_period(list, kind, due.slot_ms).await?;
        self.remember(list, kind, due.slot_ms);
        Ok(())
    }

    /// Slots after this instant are due: the latest period recorded, or, before the first,
    /// the moment tidings first ran the list's schedule (a new installation sends no digests
    /// of its past).
    async fn schedule_start(
        &self,
        list: &ListConfig,
        kind: DigestKind,
        now_ms: i64,
    ) -> Result<i64> {
        let key = (list.name.clone(), kind);
        if let Some(since) = self.lock().get(&key) {
            return Ok(*since);
        }
        let since = match self.store.last_digest_period(&list.name, kind).await? {
            Some(last) => last,
            None => {
                let setting = format!("digest_schedule_start:{}:{}", list.name, kind.as_str());
                let start = self
                    .store
                    .setting_or_insert(&setting, || now_ms.to_string())
                    .await?;
                start.parse().unwrap_or(now_ms)
            }
        };
        self.remember(list, kind, since);
        Ok(since)
    }

    fn remember(&self, list: &ListConfig, kind: DigestKind, since: i64) {
        self.lock().insert((list.name.clone(), kind), since);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, DigestKind), i64>> {
        // The map holds plain numbers: one a panicking holder left is still good.
        self.since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends the digest of `kind` of the period of `list` that ends at `period_end` (epoch
    /// ms), once however many callers race: the postings sent up to then that no digest of
    /// this kind carried, to every member in this mode, each in their language.
    pub async fn send_period(
        &self,
        list: &ListConfig,
        kind: DigestKind,
        period_end: i64,
    ) -> Result<DigestQueued> {
        let store = &self.store;
        let entries = store
            .waiting_digest_entries(&list.name, kind, period_end, MAX_POSTINGS)
            .await?;
        let languages = if entries.is_empty() {
            Vec::new()
        } else {
            store.digest_languages(&list.name, kind).await?
        };
        let messages = if languages.is_empty() {
            Vec::new()
        } else {
            self.compose_all(list, kind, period_end, &entries, &languages)?
        };
        let entry_ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        let queued = store
            .queue_digest(&NewDigest {
                list: &list.name,
                kind,
                period_end,
                entry_ids: &entry_ids,
                messages: &messages,
            })
            .await?;
        match queued {
            DigestQueued::Queued { deliveries } => {
                tracing::info!(list = %list.name, kind = kind.as_str(), postings = entries.len(), deliveries, "digest period recorded");
                if deliveries > 0 {
                    if let Some(queued) = &self.queued {
                        queued.notify_waiters();
                    }
                }
            }
            DigestQueued::AlreadySent => {
                tracing::debug!(list = %list.name, kind = kind.as_str(), "digest period already recorded");
            }
        }
        Ok(queued)
    }

    /// One message per language of the members in this mode, and the list's own language,
    /// which also serves members whose language no template is written in.
    fn compose_all(
        &self,
        list: &ListConfig,
        kind: DigestKind,
        period_end: i64,
        entries: &[DigestEntry],
        languages: &[(String, i64)],
    ) -> Result<Vec<DigestMessage>> {
        let mut wanted: Vec<&str> = vec![list.language.as_str()];
        for (language, _) in languages {
            if !wanted.contains(&language.as_str()) {
                wanted.push(language);
            }
        }
        let topics: Vec<compose::Topic> = entries.iter().map(|e| compose::topic(&e.raw)).collect();
        let postings: Vec<Vec<u8>> = entries.iter().map(|e| compose::trimmed(&e.raw)).collect();
        let date = local_date(list, period_end);
        wanted
            .into_iter()
            .map(|language| {
                let rendered = self.notices.render_text(
                    "digest",
                    list,
                    language,
                    json!({
                        "kind": kind.as_str(),
                        "date": date,
                        "count": topics.len(),
                        "entries": topics.iter().enumerate().map(|(at, topic)| json!({
                            "number": at + 1,
                            "subject": topic.subject,
                            "author": topic.author,
                        })).collect::<Vec<_>>(),
                        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
                    }),
                )?;
                let key = format!("digest.{}.{period_end:x}.{language}", kind.as_str());
                let message = compose::digest_message(
                    &DigestHeader {
                        list,
                        domain: &self.config.server.domain,
                        language: &rendered.lang,
                        subject: &rendered.subject,
                        message_key: &key,
                        date_ms: self.clock.now_ms(),
                    },
                    &rendered.text,
                    postings.clone(),
                );
                Ok(DigestMessage {
                    language: language.to_owned(),
                    message,
                    fallback: language == list.language,
                })
            })
            .collect()
    }
}

/// The day a period ends, in the list's time zone, as 2027-03-01: the same in every
/// language.
fn local_date(list: &ListConfig, at_ms: i64) -> String {
    let utc = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
    match list.tz() {
        Ok(tz) => utc.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        Err(_) => utc.format("%Y-%m-%d").to_string(),
    }
}

/// The daemon's digest scheduler: looks at every list's schedules each tick.
pub async fn run(digests: Arc<Digests>, signals: Signals) {
    let mut shutdown = signals.shutdown.clone();
    let tick = signals.poll_interval.min(TICK);
    while !*shutdown.borrow() {
        digests.run_due(digests.clock.now_ms()).await;
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
    }
}

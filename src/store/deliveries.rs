//! The outbound queue: one row per recipient of a message.
//!
//! States: `pending` (never tried), `deferred` (a temporary failure, retried at
//! `next_attempt_at`), `sending` (claimed by a worker; `next_attempt_at` is then the end of
//! its lease), `sent`, `failed`.
//! Workers claim rows in batches; in PostgreSQL `FOR UPDATE SKIP LOCKED` lets several daemons
//! share one queue.
//!
//! A claim is fenced: it names its node (`claimed_by`) and carries a token of its own
//! (`claim_token`), and an outcome is recorded only while the row still carries the token of
//! the claim it was sent under. A worker that lost its claim (its lease ran out, or its
//! node was taken for dead and another claimed the row) can then not overwrite the newer
//! claim's result. The worker renews its lease while it sends ([`Store::renew_claims`]);
//! a dead node's claims are released by the take-over (see `nodes.rs`), the lease being the
//! last resort.

use sqlx::AssertSqlSafe;

use super::{now_ms, Backend, Result, Store};

/// A delivery a worker now owns until its lease runs out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub message_id: i64,
    pub list_name: String,
    /// The subscriber, for personalised copies; `None` for mail to owners.
    pub member_id: Option<i64>,
    pub recipient: String,
    pub attempts: i64,
    pub created_at: i64,
    /// Read from the message's `personal_links`.
    #[sqlx(rename = "personal_links", try_from = "i64")]
    pub copies: Copies,
    /// The token of the claim, which recording its outcome must show.
    pub claim_token: i64,
}

impl ClaimedDelivery {
    /// The claim under which this delivery is being sent.
    pub fn claim(&self) -> Claim {
        Claim {
            delivery_id: self.id,
            token: self.claim_token,
        }
    }
}

/// One delivery as claimed: its outcome is recorded only while the claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub delivery_id: i64,
    pub token: i64,
}

/// What [`Store::record_outcomes`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    pub recorded: u64,
    /// Outcomes dropped because their claim had been taken over by a newer one.
    pub fenced_off: u64,
}

/// What sets one recipient's copy of a message apart from the others'; said by the message
/// itself, so that delivery need not know what kind of list sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Copies {
    /// Only the header lines and the envelope sender delivery gives each copy.
    #[default]
    Shared,
    /// Also the recipient's own unsubscribe link in place of each unsubscribe placeholder
    /// of the body (an edition's).
    PersonalLinks,
}

impl Copies {
    /// As stored in `messages.personal_links`.
    pub(super) fn flag(self) -> i64 {
        match self {
            Copies::Shared => 0,
            Copies::PersonalLinks => 1,
        }
    }
}

impl From<i64> for Copies {
    fn from(flag: i64) -> Copies {
        if flag == 0 {
            Copies::Shared
        } else {
            Copies::PersonalLinks
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent,
    /// A temporary failure: try again at `retry_at` (epoch ms).
    Deferred {
        retry_at: i64,
        reply: String,
    },
    /// A permanent failure.
    Failed {
        reply: String,
    },
    /// Not tried: its destination is being slowed down. Due again at `retry_at` (epoch ms),
    /// with its attempts and last reply unchanged.
    Postponed {
        retry_at: i64,
    },
    /// Temporary failures that outlived the retry lifetime: failed too, and the list's owners
    /// hear of it.
    Expired {
        reply: String,
    },
}

/// Deliveries per state for one list, for `tidings queue`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub list_name: String,
    pub pending: i64,
    pub deferred: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
}

/// Due rows, in the words of the partial index `deliveries_due` so that it serves the query.
const DUE: &str = "state IN ('pending', 'deferred', 'sending') AND next_attempt_at <= $1";

impl Store {
    /// Claims up to `limit` due deliveries for `lease_ms`, in the name of node `node`
    /// (see `crate::cluster`), under a fresh claim token.
    pub async fn claim_deliveries(
        &self,
        node: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            // SQLite's single writer already serialises claims.
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE deliveries SET state = 'sending', next_attempt_at = $2, claimed_by = $4, \
             claim_token = $5, updated_at = $1 WHERE id IN (SELECT id FROM deliveries WHERE {DUE} ORDER BY next_attempt_at, id \
             LIMIT $3 {lock}) \
             RETURNING id, message_id, list_name, member_id, recipient, attempts, created_at, \
             claim_token, (SELECT personal_links FROM messages m WHERE m.id = deliveries.message_id) \
             AS personal_links"
        );
        let mut tx = self.begin_write().await?;
        let mut claimed: Vec<ClaimedDelivery> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(now + lease_ms)
            .bind(limit)
            .bind(node)
            .bind(new_claim_token())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        // RETURNING gives no order; sending in queue order keeps a message's copies together.
        claimed.sort_by_key(|d| (d.message_id, d.id));
        Ok(claimed)
    }

    /// Records what happened to claimed deliveries, in one transaction: each outcome only
    /// while its delivery is still being sent under the same claim.
    pub async fn record_outcomes(&self, outcomes: &[(Claim, DeliveryOutcome)]) -> Result<Recorded> {
        let mut done = Recorded::default();
        if outcomes.is_empty() {
            return Ok(done);
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Successes, the bulk of the outcomes, go in one statement per claim (a worker's
        // batch), since they change nothing but the state.
        let mut sent: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        for (claim, outcome) in outcomes {
            if *outcome == DeliveryOutcome::Sent {
                sent.entry(claim.token)
                    .or_default()
                    .push(claim.delivery_id.to_string());
            }
        }
        for (token, ids) in sent {
            // Ids are integers we formatted ourselves: nothing from outside enters this SQL.
            let sql = format!(
                "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, updated_at = $1 \
                 WHERE claim_token = $2 AND state = 'sending' AND id IN ({})",
                ids.join(",")
            );
            let updated = sqlx::query(AssertSqlSafe(sql))
                .bind(now)
                .bind(token)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            done.recorded += updated;
            done.fenced_off += ids.len() as u64 - updated.min(ids.len() as u64);
        }
        for (claim, outcome) in outcomes {
            let query = match outcome {
                DeliveryOutcome::Sent => continue,
                DeliveryOutcome::Postponed { retry_at } => sqlx::query(
                    "UPDATE deliveries SET state = 'deferred', next_attempt_at = $3, \
                     updated_at = $4 WHERE id = $1 AND claim_token = $2 AND state = 'sending'",
                )
                .bind(claim.delivery_id)
                .bind(claim.token)
                .bind(retry_at)
                .bind(now),
                DeliveryOutcome::Deferred { retry_at, reply } => {
                    finished(claim, "deferred", *retry_at, reply, now)
                }
                DeliveryOutcome::Failed { reply } | DeliveryOutcome::Expired { reply } => {
                    finished(claim, "failed", now, reply, now)
                }
            };
            if query.execute(&mut *tx).await?.rows_affected() == 1 {
                done.recorded += 1;
            } else {
                done.fenced_off += 1;
            }
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Extends the lease of those of `ids` still claimed under `token` to `lease_ms` from
    /// now; answers which they are. A delivery missing from the answer is no longer this
    /// claim's: its outcome is recorded, or another claim took it.
    pub async fn renew_claims(&self, token: i64, ids: &[i64], lease_ms: i64) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        // Ids are integers we formatted ourselves: nothing from outside enters this SQL.
        let sql = format!(
            "UPDATE deliveries SET next_attempt_at = $1 \
             WHERE claim_token = $2 AND state = 'sending' AND id IN ({}) RETURNING id",
            list.join(",")
        );
        let mut tx = self.begin_write().await?;
        let held = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(now_ms() + lease_ms)
            .bind(token)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(held)
    }

    /// Marks message `message_id` as one whose owners were told about expired deliveries;
    /// true only for the first caller, whichever worker or daemon it is.
    pub async fn first_expiry_of(&self, message_id: i64) -> Result<bool> {
        let marked = sqlx::query(
            "UPDATE messages SET expiry_notified = 1 WHERE id = $1 AND expiry_notified = 0",
        )
        .bind(message_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(marked == 1)
    }

    /// When the longest-waiting delivery that is due at `now_ms` and not being sent fell
    /// due; `None` when none is waiting.
    pub async fn oldest_due_delivery(&self, now_ms: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM deliveries \
             WHERE state IN ('pending', 'deferred') AND next_attempt_at <= $1",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Whether anything is due now or later (used by tests and the benchmark to wait).
    pub async fn unfinished_deliveries(&self) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'deferred', 'sending')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// Deliveries per list and state; sent and failed ones include those whose rows were
    /// purged, counted in `daily_counts`.
    pub async fn queue_counts(&self) -> Result<Vec<QueueCounts>> {
        let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT list_name, state, COUNT(*) FROM deliveries GROUP BY list_name, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.extend(self.purged_counts().await?);
        // Grouped by list, as tally() reads them: the purged counts come after the live ones.
        rows.sort();
        Ok(tally(rows))
    }

    /// Deliveries of one list per state, from the index `deliveries_by_list` alone.
    pub async fn queue_counts_of(&self, list: &str) -> Result<QueueCounts> {
        let mut rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT list_name, state, COUNT(*) FROM deliveries WHERE list_name = $1 \
             GROUP BY list_name, state",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?;
        let purged = self.purged_counts().await?;
        rows.extend(purged.into_iter().filter(|(name, _, _)| name == list));
        Ok(tally(rows).pop().unwrap_or_else(|| QueueCounts {
            list_name: list.to_owned(),
            ..QueueCounts::default()
        }))
    }

    /// When the longest-waiting delivery of `list` not being sent fell due or falls due;
    /// `None` when none waits.
    pub async fn oldest_due_of(&self, list: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM deliveries \
             WHERE list_name = $1 AND state IN ('pending', 'deferred')",
        )
        .bind(list)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Deliveries of one list with their state and last reply, newest first (tests, CLI).
    pub async fn deliveries_of(&self, list: &str) -> Result<Vec<(String, String, i64, String)>> {
        Ok(sqlx::query_as(
            "SELECT recipient, state, attempts, last_reply FROM deliveries WHERE list_name = $1 \
             ORDER BY id DESC",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A final or deferred outcome of `claim`, recorded only under its claim.
fn finished<'q>(
    claim: &Claim,
    state: &'q str,
    next_attempt_at: i64,
    reply: &'q str,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "UPDATE deliveries SET state = $3, next_attempt_at = $4, last_reply = $5, \
         attempts = attempts + 1, updated_at = $6 \
         WHERE id = $1 AND claim_token = $2 AND state = 'sending'",
    )
    .bind(claim.delivery_id)
    .bind(claim.token)
    .bind(state)
    .bind(next_attempt_at)
    .bind(reply)
    .bind(now)
}

/// A claim token: random, so that nodes need not agree on a counter; positive and never 0,
/// the token of rows never claimed.
fn new_claim_token() -> i64 {
    (rand::random::<i64>() & i64::MAX).max(1)
}

/// Makes node `node`'s claims due at once: it is dead or stopping. Its tokens stay on the
/// rows, so that an outcome it committed late still counts until another claim is made.
/// Only rows whose lease has not run out need it; bounding by time keeps the look-up on the
/// `deliveries_due` index instead of the whole table.
pub(super) async fn release_claims_of(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    node: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE deliveries SET next_attempt_at = 0 \
         WHERE state = 'sending' AND next_attempt_at > $1 AND claimed_by = $2",
    )
    .bind(now_ms())
    .bind(node)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Rows of (list, state, count), in list order, as one `QueueCounts` per list.
fn tally(rows: Vec<(String, String, i64)>) -> Vec<QueueCounts> {
    let mut counts: Vec<QueueCounts> = Vec::new();
    for (list_name, state, n) in rows {
        if counts.last().is_none_or(|c| c.list_name != list_name) {
            counts.push(QueueCounts {
                list_name,
                ..QueueCounts::default()
            });
        }
        if let Some(entry) = counts.last_mut() {
            match state.as_str() {
                "pending" => entry.pending += n,
                "deferred" => entry.deferred += n,
                "sending" => entry.sending += n,
                "sent" => entry.sent += n,
                _ => entry.failed += n,
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::super::schema_tests::FreshPostgresSchema;
    use super::*;

    /// A notice's copy and an edition's, as a worker claims them.
    async fn claimed_copies(store: &Store) -> Vec<(String, Copies)> {
        let notice = b"Subject: notice\r\n\r\nx\r\n";
        store
            .queue_notice("news", &["owner@example.org".into()], notice)
            .await
            .expect("notice queued");
        let mut tx = store.begin_write().await.expect("transaction");
        let edition = b"Subject: edition\r\n\r\nx\r\n";
        let kind = ("news", "edition", Copies::PersonalLinks);
        let id = super::super::messages::insert_ready(&mut tx, kind, edition, now_ms())
            .await
            .expect("edition stored");
        sqlx::query(
            "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
             next_attempt_at, created_at, updated_at) \
             VALUES ($1, 'news', 1, 'reader@example.org', 'pending', 0, 0, 0)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("delivery queued");
        tx.commit().await.expect("committed");
        let claimed = store
            .claim_deliveries("node", 10, 60_000)
            .await
            .expect("claimed");
        claimed
            .into_iter()
            .map(|d| (d.recipient, d.copies))
            .collect()
    }

    #[tokio::test]
    async fn a_claimed_delivery_says_whether_its_copy_carries_a_personal_link() {
        let expected = vec![
            ("owner@example.org".to_owned(), Copies::Shared),
            ("reader@example.org".to_owned(), Copies::PersonalLinks),
        ];
        let dir = tempfile::tempdir().expect("temporary directory");
        let sqlite = Store::open(&format!("sqlite://{}/copies.db", dir.path().display()), 1)
            .await
            .expect("SQLite store");
        assert_eq!(claimed_copies(&sqlite).await, expected);
        sqlite.close().await;
        let Some(postgres) = FreshPostgresSchema::create("claimed_copies").await else {
            return;
        };
        let store = Store::open(&postgres.url, 1)
            .await
            .expect("PostgreSQL store");
        assert_eq!(claimed_copies(&store).await, expected);
        store.close().await;
        postgres.drop().await;
    }

    /// A worker whose claim was taken over cannot record an outcome over the newer claim's,
    /// nor renew its lease; the newer claim records and renews.
    async fn stale_claim_is_fenced_off(store: &Store) {
        store
            .queue_notice(
                "news",
                &["owner@example.org".into()],
                b"Subject: n\r\n\r\nx\r\n",
            )
            .await
            .expect("notice queued");
        // A lease of 0: due again at once, as when a lease ran out or a node was taken over.
        let old = store
            .claim_deliveries("node-a", 10, 0)
            .await
            .expect("claim");
        let new = store
            .claim_deliveries("node-b", 10, 60_000)
            .await
            .expect("claim again");
        assert_eq!((old.len(), new.len()), (1, 1));
        let (old, new) = (&old[0], &new[0]);
        assert_eq!(old.id, new.id);
        assert_ne!(old.claim_token, new.claim_token);

        assert!(store
            .renew_claims(old.claim_token, &[old.id], 60_000)
            .await
            .expect("renew")
            .is_empty());
        let failed = DeliveryOutcome::Failed {
            reply: "550 stale".into(),
        };
        let recorded = store
            .record_outcomes(&[(old.claim(), failed)])
            .await
            .expect("record");
        assert_eq!(
            recorded,
            Recorded {
                recorded: 0,
                fenced_off: 1
            }
        );
        let rows = store.deliveries_of("news").await.expect("rows");
        assert_eq!(rows[0].1, "sending", "{rows:?}");
        assert_eq!(rows[0].2, 0, "no attempt counted: {rows:?}");

        assert_eq!(
            store
                .renew_claims(new.claim_token, &[new.id], 60_000)
                .await
                .expect("renew"),
            vec![new.id]
        );
        let recorded = store
            .record_outcomes(&[(new.claim(), DeliveryOutcome::Sent)])
            .await
            .expect("record");
        assert_eq!(
            recorded,
            Recorded {
                recorded: 1,
                fenced_off: 0
            }
        );
        // A late success of the old claim changes nothing either.
        let recorded = store
            .record_outcomes(&[(old.claim(), DeliveryOutcome::Sent)])
            .await
            .expect("record");
        assert_eq!(
            recorded,
            Recorded {
                recorded: 0,
                fenced_off: 1
            }
        );
        let rows = store.deliveries_of("news").await.expect("rows");
        assert_eq!((rows[0].1.as_str(), rows[0].2), ("sent", 1), "{rows:?}");
    }

    #[tokio::test]
    async fn a_stale_claim_token_cannot_record_an_outcome() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sqlite = Store::open(&format!("sqlite://{}/fence.db", dir.path().display()), 1)
            .await
            .expect("SQLite store");
        stale_claim_is_fenced_off(&sqlite).await;
        sqlite.close().await;
        let Some(postgres) = FreshPostgresSchema::create("stale_claim").await else {
            return;
        };
        let store = Store::open(&postgres.url, 2)
            .await
            .expect("PostgreSQL store");
        stale_claim_is_fenced_off(&store).await;
        store.close().await;
        postgres.drop().await;
    }
}

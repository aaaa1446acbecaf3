//! The outbound queue: one row per recipient of a message.
//!
//! States: `pending` (never tried), `deferred` (a temporary failure, retried at
//! `next_attempt_at`), `sending` (claimed by a worker; `next_attempt_at` is then the end of
//! its lease), `sent`, `failed`.
//! Workers claim rows in batches; in PostgreSQL `FOR UPDATE SKIP LOCKED` lets several daemons
//! share one queue, and a lease that runs out hands a dead daemon's claims to the others.

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
    /// Claims up to `limit` due deliveries for `lease_ms`, in the name of daemon `node`
    /// (see [`Store::release_claims_of`]).
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
            "UPDATE deliveries SET state = 'sending', next_attempt_at = $2, claimed_by = $4, updated_at = $1 \
             WHERE id IN (SELECT id FROM deliveries WHERE {DUE} ORDER BY next_attempt_at, id \
             LIMIT $3 {lock}) \
             RETURNING id, message_id, list_name, member_id, recipient, attempts, created_at, \
             (SELECT personal_links FROM messages m WHERE m.id = deliveries.message_id) \
             AS personal_links"
        );
        let mut tx = self.begin_write().await?;
        let mut claimed: Vec<ClaimedDelivery> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(now + lease_ms)
            .bind(limit)
            .bind(node)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        // RETURNING gives no order; sending in queue order keeps a message's copies together.
        claimed.sort_by_key(|d| (d.message_id, d.id));
        Ok(claimed)
    }

    /// Records what happened to claimed deliveries, in one transaction.
    pub async fn record_outcomes(&self, outcomes: &[(i64, DeliveryOutcome)]) -> Result<()> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let sent: Vec<String> = outcomes
            .iter()
            .filter(|(_, outcome)| *outcome == DeliveryOutcome::Sent)
            .map(|(id, _)| id.to_string())
            .collect();
        if !sent.is_empty() {
            // Ids are integers we formatted ourselves: nothing from outside enters this SQL.
            let sql = format!(
                "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, updated_at = $1 \
                 WHERE id IN ({})",
                sent.join(",")
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for (id, outcome) in outcomes {
            let (state, retry_at, reply) = match outcome {
                DeliveryOutcome::Sent => continue,
                DeliveryOutcome::Postponed { retry_at } => {
                    sqlx::query(
                        "UPDATE deliveries SET state = 'deferred', next_attempt_at = $2, \
                         updated_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(retry_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    continue;
                }
                DeliveryOutcome::Deferred { retry_at, reply } => ("deferred", *retry_at, reply),
                DeliveryOutcome::Failed { reply } | DeliveryOutcome::Expired { reply } => {
                    ("failed", now, reply)
                }
            };
            sqlx::query(
                "UPDATE deliveries SET state = $2, next_attempt_at = $3, last_reply = $4, \
                 attempts = attempts + 1, updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(state)
            .bind(retry_at)
            .bind(reply)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
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

    /// Makes the claims of daemon `node` immediately available again: at start-up, those it
    /// held when it last stopped were in flight and are due now. (SQLite has one daemon per
    /// file, whose claims are all its own.)
    pub async fn release_claims_of(&self, node: &str) -> Result<u64> {
        let query = match self.backend {
            Backend::Sqlite => {
                sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'sending'")
            }
            Backend::Postgres => sqlx::query(
                "UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'sending' AND claimed_by = $1",
            )
            .bind(node),
        };
        let released = query.execute(&self.pool).await?.rows_affected();
        Ok(released)
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
}

//! Purging what has served its purpose, a small batch per transaction: each call here does
//! one batch and says how many rows it removed, so that the caller can pause between
//! batches and delivery's own transactions interleave (SQLite has one writer at a time).
//!
//! Kept whatever their age: messages still under way (accepted, held, commands and bounces
//! not yet processed) and any message with a delivery not yet final, members and their
//! subscriptions, editions and their renderings (the public archive), postings a digest has
//! yet to take, and the counts the reports read (bounce events, complaints, dropped
//! postings, `daily_counts`).

use std::collections::BTreeMap;

use sqlx::AssertSqlSafe;

use super::{Result, Store};

const DAY_MS: i64 = 24 * 3_600_000;

/// Message states in which nothing more will happen to a message: expanded (its deliveries
/// say the rest), a held posting decided or expired, a command or bounce handled, a
/// message given up on. `shunted` is kept apart: it waits for the operator.
const FINISHED_STATES: &str =
    "'expanded', 'processed', 'ignored', 'expired', 'rejected', 'discarded'";

/// Delivery states that nothing changes any more.
const FINAL_DELIVERY: &str = "'sent', 'failed'";

/// What one batch of messages removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgedMessages {
    pub messages: u64,
    pub deliveries: u64,
    pub bodies: u64,
}

impl PurgedMessages {
    pub fn rows(&self) -> u64 {
        self.messages + self.deliveries + self.bodies
    }
}

/// The spent records other than messages, each a table with its own test of spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpentKind {
    /// Subscription requests answered, rejected, or whose confirmation time ran out.
    Requests,
    /// Web console sign-in links past their expiry (used ones included).
    SignIns,
    /// Web console sessions not seen since the cutoff.
    Sessions,
    /// Rate-limit events older than the cutoff.
    RateEvents,
    /// Postings kept for digests that both the daily and the weekly digest have taken,
    /// sent before the cutoff.
    DigestEntries,
}

impl SpentKind {
    pub const ALL: [SpentKind; 5] = [
        SpentKind::Requests,
        SpentKind::SignIns,
        SpentKind::Sessions,
        SpentKind::RateEvents,
        SpentKind::DigestEntries,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SpentKind::Requests => "requests",
            SpentKind::SignIns => "sign_ins",
            SpentKind::Sessions => "sessions",
            SpentKind::RateEvents => "rate_events",
            SpentKind::DigestEntries => "digest_entries",
        }
    }

    /// The table and the condition on it, `$1` being the cutoff (epoch ms).
    fn table_and_condition(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SpentKind::Requests => (
                "requests",
                "id",
                "(state IN ('done', 'rejected', 'expired') AND updated_at < $1) \
                 OR (state = 'confirming' AND expires_at < $1)",
            ),
            SpentKind::SignIns => ("sign_in_requests", "id", "expires_at < $1"),
            SpentKind::Sessions => ("web_sessions", "id_hash", "last_seen_at < $1"),
            // rate_events has no key of its own: its (scope, key, at) index finds the rows.
            SpentKind::RateEvents => ("rate_events", "", "at < $1"),
            // An entry either digest has yet to take stays, however old: its digest is owed.
            SpentKind::DigestEntries => (
                "digest_entries",
                "id",
                "daily_run IS NOT NULL AND weekly_run IS NOT NULL AND created_at < $1",
            ),
        }
    }
}

impl Store {
    /// Purges one batch of messages finished before `before` (epoch ms): up to `batch`
    /// delivery rows of such messages (their counts folded into `daily_counts` in the same
    /// transaction), then, once a message has none left, the message and any body no other
    /// message shares. `shunted_before` is the cutoff for messages set aside for the operator.
    pub async fn purge_finished_messages(
        &self,
        before: i64,
        shunted_before: i64,
        batch: i64,
    ) -> Result<PurgedMessages> {
        let ids = self
            .finished_messages(before, shunted_before, batch)
            .await?;
        if ids.is_empty() {
            return Ok(PurgedMessages::default());
        }
        let deliveries = self.purge_deliveries_of(&ids, batch).await?;
        if deliveries > 0 {
            // Messages go once their rows are all gone, in a later batch: this one is full.
            return Ok(PurgedMessages {
                deliveries,
                ..PurgedMessages::default()
            });
        }
        self.purge_messages(&ids, before, shunted_before).await
    }

    /// Up to `batch` messages that may go, oldest first.
    async fn finished_messages(
        &self,
        before: i64,
        shunted_before: i64,
        batch: i64,
    ) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT m.id FROM messages m WHERE {} ORDER BY m.id LIMIT $3",
            purgeable("m")
        )))
        .bind(before)
        .bind(shunted_before)
        .bind(batch)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Folds the counts of up to `batch` final deliveries of messages `ids` into
    /// `daily_counts` and deletes them; how many went.
    ///
    /// The counts are those of the rows this transaction deleted (`DELETE ... RETURNING`),
    /// not of rows it merely saw: when two daemons purge at once, a row goes once and is
    /// counted once. In PostgreSQL the rows are chosen `FOR UPDATE SKIP LOCKED`, so that
    /// the two take different rows instead of waiting on each other.
    async fn purge_deliveries_of(&self, ids: &[i64], batch: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // Ids are integers read from the database: nothing from outside enters this SQL.
        let chosen = format!(
            "SELECT id FROM deliveries WHERE message_id IN ({}) AND state IN ({FINAL_DELIVERY}) \
             ORDER BY id LIMIT $1 {}",
            id_list(ids),
            self.skip_locked()
        );
        let rows: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(chosen))
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let deleted: Vec<(String, i64, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "DELETE FROM deliveries WHERE id IN ({}) RETURNING list_name, updated_at, state",
            id_list(&rows)
        )))
        .fetch_all(&mut *tx)
        .await?;
        // Upserted in key order, so that two purges never wait on each other's rows in
        // opposite orders.
        let mut counts: BTreeMap<(String, i64, String), i64> = BTreeMap::new();
        for (list, updated_at, state) in &deleted {
            let key = (list.clone(), updated_at.div_euclid(DAY_MS), state.clone());
            *counts.entry(key).or_default() += 1;
        }
        for ((list, day, state), count) in counts {
            sqlx::query(
                "INSERT INTO daily_counts (list_name, day, state, count) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (list_name, day, state) \
                 DO UPDATE SET count = daily_counts.count + excluded.count",
            )
            .bind(list)
            .bind(day)
            .bind(state)
            .bind(count)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(deleted.len() as u64)
    }

    /// `FOR UPDATE SKIP LOCKED` where it exists: rows another purge holds are left to it.
    fn skip_locked(&self) -> &'static str {
        match self.backend {
            super::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            // SQLite's single writer runs one purge transaction at a time anyway.
            super::Backend::Sqlite => "",
        }
    }

    /// Deletes messages `ids` that may still go, and the bodies only they used.
    async fn purge_messages(
        &self,
        ids: &[i64],
        before: i64,
        shunted_before: i64,
    ) -> Result<PurgedMessages> {
        let mut tx = self.begin_write().await?;
        // Asked again inside the transaction: a shunted message may have been retried since.
        // In PostgreSQL the rows are locked here, and those another purge holds skipped.
        let ids: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM messages WHERE id IN ({}) AND {} ORDER BY id {}",
            id_list(ids),
            purgeable("messages"),
            self.skip_locked()
        )))
        .bind(before)
        .bind(shunted_before)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(PurgedMessages::default());
        }
        let ids = id_list(&ids);
        let still = format!("id IN ({ids}) AND {}", purgeable("messages"));
        let bodies: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT DISTINCT body_id FROM messages WHERE {still} AND body_id IS NOT NULL"
        )))
        .bind(before)
        .bind(shunted_before)
        .fetch_all(&mut *tx)
        .await?;
        // An edition's renderings stay as its archive; only their link to the sent copy goes.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE edition_renders SET message_id = NULL WHERE message_id IN \
             (SELECT id FROM messages WHERE {still})"
        )))
        .bind(before)
        .bind(shunted_before)
        .execute(&mut *tx)
        .await?;
        let messages = sqlx::query(AssertSqlSafe(format!("DELETE FROM messages WHERE {still}")))
            .bind(before)
            .bind(shunted_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let bodies = if bodies.is_empty() {
            0
        } else {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM message_bodies WHERE id IN ({}) AND NOT EXISTS \
                 (SELECT 1 FROM messages m WHERE m.body_id = message_bodies.id)",
                id_list(&bodies)
            )))
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        tx.commit().await?;
        Ok(PurgedMessages {
            messages,
            deliveries: 0,
            bodies,
        })
    }

    /// Deletes up to `batch` spent records of `kind` older than `before` (epoch ms); how many.
    pub async fn purge_spent(&self, kind: SpentKind, before: i64, batch: i64) -> Result<u64> {
        let (table, key, condition) = kind.table_and_condition();
        // PostgreSQL's DELETE has no LIMIT: the rows of one batch are chosen by a subquery,
        // by key, or by the row's own identity where the table has no key.
        let sql = if key.is_empty() {
            let identity = match self.backend {
                super::Backend::Sqlite => "rowid",
                super::Backend::Postgres => "ctid",
            };
            format!(
                "DELETE FROM {table} WHERE {identity} IN \
                 (SELECT {identity} FROM {table} WHERE {condition} LIMIT $2 {})",
                self.skip_locked()
            )
        } else {
            format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE {condition} LIMIT $2 {})",
                self.skip_locked()
            )
        };
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query(AssertSqlSafe(sql))
            .bind(before)
            .bind(batch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Delivery counts per list and final state that purged rows left behind:
    /// (list, state, count).
    pub async fn purged_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT list_name, state, CAST(SUM(count) AS BIGINT) FROM daily_counts \
             GROUP BY list_name, state ORDER BY list_name, state",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Whether message `m` may go, with `$1` the cutoff for finished messages and `$2` for
/// shunted ones: its last change is older, and none of its deliveries is under way or
/// finished since the cutoff.
fn purgeable(m: &str) -> String {
    format!(
        "(({m}.state IN ({FINISHED_STATES}) AND {m}.updated_at < $1) \
         OR ({m}.state = 'shunted' AND {m}.updated_at < $2)) \
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = {m}.id \
         AND (d.state NOT IN ({FINAL_DELIVERY}) OR d.updated_at >= $1))"
    )
}

fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_both, TestStore};
    use crate::store::{now_ms, Claim, DeliveryOutcome};

    /// Purges batch after batch until a batch finds nothing it may take.
    async fn purge_until_done(store: &Store, before: i64) -> Result<u64> {
        let mut rows = 0;
        for _ in 0..1_000 {
            let done = store.purge_finished_messages(before, before, 25).await?;
            if done.rows() == 0 {
                break;
            }
            rows += done.deliveries;
        }
        Ok(rows)
    }

    async fn two_daemons_purging_at_once_count_each_delivery_once(db: &TestStore) {
        let store = &db.store;
        let recipients: Vec<String> = (0..40).map(|i| format!("r{i}@ngo.example")).collect();
        for _ in 0..10 {
            store
                .queue_notice("news", &recipients, b"Subject: x\r\n\r\nx\r\n")
                .await
                .expect("queue");
        }
        for _ in 0..10 {
            let claimed = store
                .claim_deliveries("node-a", 1_000, 60_000)
                .await
                .expect("claim");
            if claimed.is_empty() {
                break;
            }
            let sent: Vec<(Claim, DeliveryOutcome)> = claimed
                .iter()
                .map(|d| (d.claim(), DeliveryOutcome::Sent))
                .collect();
            store.record_outcomes(&sent).await.expect("record");
        }
        let other = Store::open(&db.url, 4)
            .await
            .expect("a second daemon's store");
        // Everything finished counts as old enough.
        let before = now_ms() + DAY_MS;
        let (a, b) = tokio::join!(
            purge_until_done(store, before),
            purge_until_done(&other, before)
        );
        let (a, b) = (a.expect("first purge"), b.expect("second purge"));
        // Whatever one left to the other because it held the rows, a last pass takes.
        let rest = purge_until_done(store, before).await.expect("last purge");
        assert_eq!(a + b + rest, 400, "each delivery purged once");
        let counted: i64 = store
            .purged_counts()
            .await
            .expect("counts")
            .iter()
            .map(|(_, _, count)| count)
            .sum();
        assert_eq!(counted, 400, "each delivery counted once");
        assert!(store.message_counts().await.expect("messages").is_empty());
        other.close().await;
    }

    on_both!(two_daemons_purging_at_once_count_each_delivery_once);
}

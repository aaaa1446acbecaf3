//! Purging what has served its purpose, a small batch per transaction: each call here does
//! one batch and says how many rows it removed, so that the caller can pause between
//! batches and delivery's own transactions interleave (SQLite has one writer at a time).
//!
//! Kept whatever their age: messages still under way (accepted, held, commands and bounces
//! not yet processed) and any message with a delivery not yet final, members and their
//! subscriptions, editions and their renderings (the public archive), postings a digest has
//! yet to take, and the counts the reports read (bounce events, complaints, dropped
//! postings, `daily_counts`).

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
    async fn purge_deliveries_of(&self, ids: &[i64], batch: i64) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        // Ids are integers read from the database: nothing from outside enters this SQL.
        let chosen = format!(
            "SELECT id FROM deliveries WHERE message_id IN ({}) AND state IN ({FINAL_DELIVERY}) \
             ORDER BY id LIMIT $1",
            id_list(ids)
        );
        let rows: Vec<i64> = sqlx::query_scalar(AssertSqlSafe(chosen))
            .bind(batch)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let rows = id_list(&rows);
        // The WHERE before ON CONFLICT is what SQLite needs to read an upsert from a SELECT.
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO daily_counts (list_name, day, state, count) \
             SELECT list_name, updated_at / {DAY_MS}, state, COUNT(*) FROM deliveries \
             WHERE id IN ({rows}) GROUP BY list_name, updated_at / {DAY_MS}, state \
             ON CONFLICT (list_name, day, state) \
             DO UPDATE SET count = daily_counts.count + excluded.count"
        )))
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM deliveries WHERE id IN ({rows})"
        )))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes messages `ids` that may still go, and the bodies only they used.
    async fn purge_messages(
        &self,
        ids: &[i64],
        before: i64,
        shunted_before: i64,
    ) -> Result<PurgedMessages> {
        let ids = id_list(ids);
        let mut tx = self.begin_write().await?;
        // Asked again inside the transaction: a shunted message may have been retried since.
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
                 (SELECT {identity} FROM {table} WHERE {condition} LIMIT $2)"
            )
        } else {
            format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE {condition} LIMIT $2)"
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

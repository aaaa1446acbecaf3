//! Claims on work that must be done once when several daemons share one database: email
//! commands and bounces, kept as messages until they are carried out.
//!
//! A daemon claims a few waiting messages at a time: it moves them to `processing` with its
//! node name, a token of its own for this claim, and the end of a lease. Only the holder of
//! the current token records the outcome (`WHERE claim_token = ?`), so that a daemon that
//! stalled past its lease, and whose messages were taken over, cannot overwrite the result
//! of the daemon that took them. A claim whose lease ran out is taken again: a daemon that
//! died mid-work leaves nothing stuck. In PostgreSQL `FOR UPDATE SKIP LOCKED` lets daemons
//! claim side by side without waiting on each other; SQLite's single writer serialises
//! claims by itself.

use sqlx::AssertSqlSafe;

use super::messages::ReceivedCommand;
use super::{now_ms, Backend, Result, Store};

/// How long a claim on a command or a bounce holds: far longer than carrying one out takes
/// (a few database writes), so that only a daemon that died, or lost its database for this
/// long, has its claims taken over.
pub const JOB_LEASE_MS: i64 = 5 * 60 * 1000;

/// The kinds of message that wait to be carried out once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Email commands (`LIST-request@`, `-join@`, `-leave@`, `-confirm+TOKEN@`, items...).
    Commands,
    /// Delivery reports and complaints to VERP addresses.
    Bounces,
}

impl Job {
    fn kind(self) -> &'static str {
        match self {
            Job::Commands => "command",
            Job::Bounces => "bounce",
        }
    }

    /// The state such a message waits in until claimed.
    fn waiting(self) -> &'static str {
        match self {
            Job::Commands => "received",
            Job::Bounces => "unprocessed",
        }
    }
}

/// Messages claimed together, and the token that proves the claim.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub token: String,
    pub messages: Vec<ReceivedCommand>,
}

/// A token no other claim has: 128 random bits.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Store {
    /// Claims up to `limit` messages of `job`, oldest first, for daemon `node` until
    /// `lease_ms` from now: those waiting, and those whose claim ran out.
    pub async fn claim_messages(
        &self,
        job: Job,
        node: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Claimed> {
        let now = now_ms();
        let token = new_token();
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE messages SET state = 'processing', claimed_by = $3, claim_token = $4, \
             claimed_until = $5, updated_at = $6 \
             WHERE id IN (SELECT id FROM messages WHERE kind = $1 \
             AND (state = $2 OR (state = 'processing' AND claimed_until <= $6)) \
             ORDER BY id LIMIT $7 {lock}) \
             RETURNING id, list_name, envelope_from, peer, recipient, proof, \
             (SELECT raw FROM message_bodies b WHERE b.id = messages.body_id) AS raw"
        );
        let mut tx = self.begin_write().await?;
        let mut messages: Vec<ReceivedCommand> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(job.kind())
            .bind(job.waiting())
            .bind(node)
            .bind(&token)
            .bind(now.saturating_add(lease_ms))
            .bind(now)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        // RETURNING gives no order: commands are carried out in the order they came.
        messages.sort_by_key(|m| m.id);
        Ok(Claimed { token, messages })
    }

    /// Records what became of a claimed message (`processed`, `ignored`, `shunted`) with a
    /// note for the operator, and ends the claim; false, and nothing written, when the
    /// claim is no longer `token`'s (its lease ran out and another daemon took it).
    pub async fn complete_claim(
        &self,
        message_id: i64,
        token: &str,
        state: &str,
        note: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET state = $3, error = $4, claim_token = NULL, \
             claimed_until = NULL, updated_at = $5 \
             WHERE id = $1 AND state = 'processing' AND claim_token = $2",
        )
        .bind(message_id)
        .bind(token)
        .bind(state)
        .bind(note)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}

/// Makes node `node`'s claims on commands and bounces due at once: it is dead or
/// stopping, as [`super::deliveries::release_claims_of`] does for its deliveries.
pub(super) async fn release_message_claims_of(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    node: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE messages SET claimed_until = 0 \
         WHERE state = 'processing' AND claimed_until > $1 AND claimed_by = $2",
    )
    .bind(now_ms())
    .bind(node)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// At a node's start: claims on commands and bounces that no registered node holds are due
/// at once (a predecessor's, that no take-over will free); on SQLite, one daemon per file,
/// every claim.
pub(super) async fn release_orphaned_message_claims(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
) -> Result<u64> {
    let query = match backend {
        Backend::Sqlite => {
            sqlx::query("UPDATE messages SET claimed_until = 0 WHERE state = 'processing'")
        }
        Backend::Postgres => sqlx::query(
            "UPDATE messages SET claimed_until = 0 \
             WHERE state = 'processing' AND claimed_until > $1 \
             AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = messages.claimed_by)",
        )
        .bind(now_ms()),
    };
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_both, TestStore};
    use crate::store::{MessageKind, NewMessage};

    fn command(list: &str, kind: MessageKind) -> NewMessage {
        NewMessage {
            list_name: list.into(),
            kind,
            envelope_from: "someone@ngo.example".into(),
            message_id: String::new(),
            peer: String::new(),
            recipient: format!("{list}-join@lists.example"),
            hold_reason: None,
            proof: String::new(),
            author: String::new(),
            author_policy: None,
            arrival: None,
        }
    }

    async fn a_message_is_claimed_once_and_completed_by_its_claimer(db: &TestStore) {
        let store = &db.store;
        let ids = store
            .insert_messages(
                b"Subject: join\r\n\r\n",
                &[
                    command("news", MessageKind::Command),
                    command("news", MessageKind::Command),
                    command("news", MessageKind::Bounce),
                ],
            )
            .await
            .expect("insert");
        let first = store
            .claim_messages(Job::Commands, "node-a", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        let claimed: Vec<i64> = first.messages.iter().map(|m| m.id).collect();
        assert_eq!(claimed, ids[..2], "the two commands, not the bounce");
        assert_eq!(first.messages[0].raw, b"Subject: join\r\n\r\n");
        let second = store
            .claim_messages(Job::Commands, "node-b", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert!(second.messages.is_empty(), "claimed already");
        assert!(!store
            .complete_claim(ids[0], "not-the-token", "processed", "")
            .await
            .expect("complete"));
        assert!(store
            .complete_claim(ids[0], &first.token, "processed", "done")
            .await
            .expect("complete"));
        assert!(
            !store
                .complete_claim(ids[0], &first.token, "ignored", "")
                .await
                .expect("complete"),
            "completed once"
        );
        let stored = store.message(ids[0]).await.expect("read").expect("there");
        assert_eq!(
            (stored.state.as_str(), stored.error.as_str()),
            ("processed", "done")
        );
        let bounces = store
            .claim_messages(Job::Bounces, "node-b", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(bounces.messages.len(), 1);
        assert_eq!(bounces.messages[0].id, ids[2]);
    }

    async fn a_claim_whose_lease_ran_out_is_taken_again(db: &TestStore) {
        let store = &db.store;
        let ids = store
            .insert_messages(b"x", &[command("news", MessageKind::Bounce)])
            .await
            .expect("insert");
        // A lease already over: the claimer died the moment it claimed.
        let dead = store
            .claim_messages(Job::Bounces, "node-a", 10, -1)
            .await
            .expect("claim");
        assert_eq!(dead.messages.len(), 1);
        let taken = store
            .claim_messages(Job::Bounces, "node-b", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(taken.messages.len(), 1, "taken over");
        assert!(
            !store
                .complete_claim(ids[0], &dead.token, "processed", "late")
                .await
                .expect("complete"),
            "the first claimer lost it"
        );
        assert!(store
            .complete_claim(ids[0], &taken.token, "processed", "")
            .await
            .expect("complete"));
    }

    async fn a_node_that_stopped_has_its_claims_taken_back_at_once(db: &TestStore) {
        let store = &db.store;
        store
            .insert_messages(b"x", &[command("news", MessageKind::Command)])
            .await
            .expect("insert");
        // A node registered and claimed, then stopped: its heartbeat is older than any
        // take-over time (here, one second in the future).
        store
            .register_node("node-a", "host")
            .await
            .expect("register");
        let before = store
            .claim_messages(Job::Commands, "node-a", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(before.messages.len(), 1);
        let taken = store.take_over_dead_nodes(-1_000).await.expect("take over");
        assert_eq!(taken.len(), 1, "node-a taken over");
        let again = store
            .claim_messages(Job::Commands, "node-b", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(
            again.messages.len(),
            1,
            "claimed again well before the lease"
        );
    }

    async fn a_starting_node_frees_claims_no_registered_node_holds(db: &TestStore) {
        let store = &db.store;
        store
            .insert_messages(b"x", &[command("news", MessageKind::Command)])
            .await
            .expect("insert");
        // Claimed under a name no node row has (a daemon of a version before node rows).
        let before = store
            .claim_messages(Job::Commands, "old-host", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(before.messages.len(), 1);
        assert!(store.start_node("node-b", "host").await.expect("start") >= 1);
        let again = store
            .claim_messages(Job::Commands, "node-b", 10, JOB_LEASE_MS)
            .await
            .expect("claim");
        assert_eq!(again.messages.len(), 1);
    }

    on_both!(
        a_message_is_claimed_once_and_completed_by_its_claimer,
        a_claim_whose_lease_ran_out_is_taken_again,
        a_node_that_stopped_has_its_claims_taken_back_at_once,
        a_starting_node_frees_claims_no_registered_node_holds,
    );
}

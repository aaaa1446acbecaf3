//! Inbound messages, kept raw as received, and their expansion into deliveries.
//!
//! The bytes of a message live in `message_bodies`, once per SMTP/LMTP transaction: a
//! transaction that names several of our addresses makes one `messages` row per address, all
//! sharing the body. A message moves `accepted` → `expanded` (its deliveries exist) in one
//! transaction, so a crash between the two simply expands it again at the next start.
//! Bounces wait in `unprocessed` for the bounce processor.

use sqlx::AssertSqlSafe;

use super::list_archive::{archive_in, NewArchived};
use super::{now_ms, Copies, Result, Store};

/// Message states that still need something: postings not yet expanded or held for a
/// moderator, commands and bounces not yet processed or being processed (claimed by a
/// daemon), messages set aside for the operator.
pub const WAITING_STATES: [&str; 7] = [
    "accepted",
    "held_new",
    "held",
    "received",
    "unprocessed",
    "processing",
    "shunted",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A posting to the list's subscribers.
    Posting,
    /// Mail for the list's owners (`LIST-owner@`).
    Owner,
    /// A delivery report to a VERP address (`LIST-bounces+TOKEN@`).
    Bounce,
    /// Email commands (`LIST-request@`, `-join@`, `-leave@`, `-confirm+TOKEN@`).
    Command,
    /// A notice tidings itself sends (confirmations, welcome messages, replies).
    Notice,
    /// Mail for `postmaster@` or `abuse@`, forwarded to the configured postmaster.
    Postmaster,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Posting => "posting",
            MessageKind::Owner => "owner",
            MessageKind::Bounce => "bounce",
            MessageKind::Command => "command",
            MessageKind::Notice => "notice",
            MessageKind::Postmaster => "postmaster",
        }
    }

    fn initial_state(self) -> &'static str {
        match self {
            MessageKind::Posting | MessageKind::Owner | MessageKind::Postmaster => "accepted",
            MessageKind::Bounce => "unprocessed",
            MessageKind::Command => "received",
            // Notices are queued ready-made, with their deliveries.
            MessageKind::Notice => "expanded",
        }
    }
}

/// A stored kind that is none of [`MessageKind`]'s.
#[derive(Debug, thiserror::Error)]
#[error("unknown message kind {0:?}")]
pub struct UnknownMessageKind(String);

impl TryFrom<String> for MessageKind {
    type Error = UnknownMessageKind;

    fn try_from(text: String) -> std::result::Result<MessageKind, UnknownMessageKind> {
        match text.as_str() {
            "posting" => Ok(MessageKind::Posting),
            "owner" => Ok(MessageKind::Owner),
            "bounce" => Ok(MessageKind::Bounce),
            "command" => Ok(MessageKind::Command),
            "notice" => Ok(MessageKind::Notice),
            "postmaster" => Ok(MessageKind::Postmaster),
            _ => Err(UnknownMessageKind(text)),
        }
    }
}

/// One of our addresses a message was taken in for; the message's bytes are passed apart,
/// since every address of a transaction shares them.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub list_name: String,
    pub kind: MessageKind,
    pub envelope_from: String,
    pub message_id: String,
    /// The client that handed the message in (IP address), for rate limits.
    pub peer: String,
    /// The address of ours the message was sent to.
    pub recipient: String,
    /// Why the posting waits for a moderator, if it does.
    pub hold_reason: Option<String>,
    /// How the author was proven to have sent it (`dkim`, `spf`, `front-mta`), or empty.
    pub proof: String,
    /// The author (the From address), empty when the message named none.
    pub author: String,
    /// For a posting whose list asks: the DMARC policy of the author's domain
    /// (`reject`, `quarantine`, `none`, `unknown`; see `authentication::dmarc`).
    pub author_policy: Option<String>,
    /// For a posting the list seals: the verdict on it as it arrived, as the ARC set will
    /// carry it (see `authentication::arrival`).
    pub arrival: Option<StoredArrival>,
}

/// What a posting proved on arrival, as kept: the `Authentication-Results` value and what
/// the ARC chain it carried came to (`none`, `pass`, `fail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArrival {
    pub results: String,
    pub chain: String,
}

/// An accepted message waiting to be expanded into deliveries.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingMessage {
    pub id: i64,
    pub list_name: String,
    #[sqlx(try_from = "String")]
    pub kind: MessageKind,
    pub raw: Vec<u8>,
    /// The SMTP client's IP address, empty when it came over LMTP.
    pub peer: String,
    /// The envelope sender it came with.
    pub envelope_from: String,
    /// What acceptance learned (see [`NewMessage`]); `None` when it was accepted before
    /// these were recorded.
    pub author: Option<String>,
    pub author_policy: Option<String>,
    pub arrival_results: Option<String>,
    pub arrival_chain: Option<String>,
    /// When it was received (epoch ms): when a posting was posted, for its archive.
    pub received_at: i64,
}

impl PendingMessage {
    /// The verdict on the posting as it arrived, when acceptance recorded one.
    pub fn arrival(&self) -> Option<StoredArrival> {
        Some(StoredArrival {
            results: self.arrival_results.clone()?,
            chain: self.arrival_chain.clone()?,
        })
    }
}

/// A stored message as the operator sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredMessage {
    pub id: i64,
    pub list_name: String,
    pub kind: String,
    pub state: String,
    pub envelope_from: String,
    /// Why it was set aside, or what became of it.
    pub error: String,
    pub received_at: i64,
    /// How the author was proven to have sent it when it was taken in, or empty.
    pub proof: String,
    pub raw: Vec<u8>,
}

/// The columns of a [`StoredMessage`].
const STORED: &str =
    "m.id, m.list_name, m.kind, m.state, m.envelope_from, m.error, m.received_at, m.proof, b.raw";

/// A held posting as a moderator's queue lists it: the start of its bytes only, enough for
/// its header, so that a page of the queue never loads whole messages.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldHead {
    pub id: i64,
    pub envelope_from: String,
    /// Why it is held.
    pub error: String,
    pub received_at: i64,
    /// The first [`HELD_HEAD_BYTES`] bytes of the message.
    pub head: Vec<u8>,
}

/// How much of a held posting its queue row reads: headers longer than this lose what
/// follows, which a row does not show anyway.
pub const HELD_HEAD_BYTES: i64 = 8192;

/// An email command message waiting to be carried out.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReceivedCommand {
    pub id: i64,
    pub list_name: String,
    pub envelope_from: String,
    pub peer: String,
    pub recipient: String,
    pub raw: Vec<u8>,
    /// How the author was proven to have sent it when it was taken in, or empty.
    pub proof: String,
}

/// The columns of a message with its body: `m` is the message, `b` its body.
const WITH_BODY: &str = "messages m JOIN message_bodies b ON b.id = m.body_id";

/// Stores a message's bytes; the id its messages refer to.
async fn insert_body(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    raw: &[u8],
    now: i64,
) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "INSERT INTO message_bodies (raw, created_at) VALUES ($1, $2) RETURNING id",
    )
    .bind(raw)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?)
}

/// Stores a message tidings wrote itself, ready to send (`expanded`): its body is what its
/// deliveries send, with what sets their copies apart.
pub(super) async fn insert_ready(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    (list, kind, copies): (&str, &str, Copies),
    raw: &[u8],
    now: i64,
) -> Result<i64> {
    let body_id = insert_body(tx, raw, now).await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO messages (list_name, kind, state, envelope_from, body_id, received_at, \
         updated_at, personal_links) VALUES ($1, $2, 'expanded', '', $3, $4, $4, $5) \
         RETURNING id",
    )
    .bind(list)
    .bind(kind)
    .bind(body_id)
    .bind(now)
    .bind(copies.flag())
    .fetch_one(&mut **tx)
    .await?)
}

impl Store {
    /// Commits one message taken in for each of `messages` (our addresses it reached), its
    /// bytes stored once, in one transaction: once this returns, they survive any crash.
    pub async fn insert_messages(&self, raw: &[u8], messages: &[NewMessage]) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let body_id = insert_body(&mut tx, raw, now).await?;
        let mut ids = Vec::with_capacity(messages.len());
        for message in messages {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (list_name, kind, state, envelope_from, message_id, body_id, \
                 peer, recipient, error, proof, author, author_policy, arrival_results, \
                 arrival_chain, received_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $8, $9, $10, $11, $12, $13, $14, $15, $7, $7) \
                 RETURNING id",
            )
            .bind(&message.list_name)
            .bind(message.kind.as_str())
            .bind(match message.hold_reason {
                // Held, and the moderators not yet told.
                Some(_) => "held_new",
                None => message.kind.initial_state(),
            })
            .bind(&message.envelope_from)
            .bind(&message.message_id)
            .bind(body_id)
            .bind(now)
            .bind(&message.peer)
            .bind(&message.recipient)
            .bind(message.hold_reason.as_deref().unwrap_or(""))
            .bind(&message.proof)
            .bind(&message.author)
            .bind(&message.author_policy)
            .bind(message.arrival.as_ref().map(|a| a.results.as_str()))
            .bind(message.arrival.as_ref().map(|a| a.chain.as_str()))
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Counts a posting dropped without a word to its sender, for the list's owners.
    pub async fn count_dropped(&self, list: &str, reason: &str) -> Result<()> {
        let day = now_ms().div_euclid(24 * 3_600_000);
        sqlx::query(
            "INSERT INTO dropped_postings (list_name, reason, day, count) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (list_name, reason, day) DO UPDATE SET count = dropped_postings.count + 1",
        )
        .bind(list)
        .bind(reason)
        .bind(day)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Postings dropped since `since_day` (days since the epoch): (list, reason, count).
    pub async fn dropped_counts(&self, since_day: i64) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT list_name, reason, CAST(SUM(count) AS BIGINT) \
             FROM dropped_postings WHERE day >= $1 \
             GROUP BY list_name, reason ORDER BY list_name, reason",
        )
        .bind(since_day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Oldest accepted messages not yet expanded into deliveries.
    pub async fn pending_messages(&self, limit: i64) -> Result<Vec<PendingMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, m.list_name, m.kind, m.peer, m.envelope_from, m.author, \
             m.author_policy, m.arrival_results, m.arrival_chain, m.received_at, b.raw \
             FROM {WITH_BODY} \
             WHERE m.state = 'accepted' AND m.kind IN ('posting', 'owner', 'postmaster') \
             ORDER BY m.id LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores the decorated message and creates one delivery per active subscriber who gets
    /// every posting, in one transaction; when the list has members in a digest mode, the
    /// decorated posting also waits for their digests, from now. Returns the number of
    /// deliveries, or `None` if another worker (or another daemon on the same database)
    /// expanded the message first.
    pub async fn expand_to_subscribers(
        &self,
        message_id: i64,
        decorated: &[u8],
        archived: Option<&NewArchived>,
    ) -> Result<Option<u64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if !claim_for_expansion(&mut tx, message_id, Some(decorated), now).await? {
            return Ok(None);
        }
        // In the same transaction: a posting is archived exactly when it is queued for its
        // members, never twice (a second expansion finds it claimed) and never lost.
        if let Some(entry) = archived {
            archive_in(&mut tx, entry, now).await?;
        }
        let created = sqlx::query(
            "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
             next_attempt_at, created_at, updated_at) \
             SELECT msg.id, msg.list_name, m.id, m.address, 'pending', $2, $2, $2 \
             FROM messages msg \
             JOIN subscriptions s ON s.list_name = msg.list_name AND s.status = 'active' \
             AND s.delivery_mode = 'each' \
             JOIN members m ON m.id = s.member_id \
             WHERE msg.id = $1",
        )
        .bind(message_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO digest_entries (list_name, message_id, raw, created_at) \
             SELECT msg.list_name, msg.id, $2, $3 FROM messages msg WHERE msg.id = $1 \
             AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.list_name = msg.list_name \
             AND s.delivery_mode IN ('daily', 'weekly') AND s.status = 'active')",
        )
        .bind(message_id)
        .bind(decorated)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    /// Like [`Store::expand_to_subscribers`], for a fixed set of addresses (the list owners),
    /// who get the message as it came.
    pub async fn expand_to_addresses(
        &self,
        message_id: i64,
        addresses: &[String],
    ) -> Result<Option<u64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if !claim_for_expansion(&mut tx, message_id, None, now).await? {
            return Ok(None);
        }
        for address in addresses {
            sqlx::query(
                "INSERT INTO deliveries (message_id, list_name, recipient, state, \
                 next_attempt_at, created_at, updated_at) \
                 SELECT id, list_name, $2, 'pending', $3, $3, $3 FROM messages WHERE id = $1",
            )
            .bind(message_id)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(addresses.len() as u64))
    }

    /// Queues a message tidings wrote itself, ready to send, to `recipients` (one shared
    /// copy, no personal headers). Returns the message id.
    pub async fn queue_notice(
        &self,
        list: &str,
        recipients: &[String],
        message: &[u8],
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = queue_notice_in(&mut tx, (list, recipients), message, now_ms()).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Moves a message from state `from` to `to` as [`Store::move_message`] does, and queues
    /// `notices` in the same transaction: the change and the notices that report it happen
    /// together, once, whichever daemon gets there first. False, and nothing queued, when
    /// the message was not in `from`.
    pub async fn move_message_with_notices(
        &self,
        id: i64,
        (from, to): (&str, &str),
        note: Option<&str>,
        notices: &[ReadyNotice],
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE messages SET state = $3, error = COALESCE($4, error), updated_at = $5 \
             WHERE id = $1 AND state = $2",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(note)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        for notice in notices {
            queue_ready_in(&mut tx, notice, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Messages set aside, oldest first.
    pub async fn shunted_messages(&self) -> Result<Vec<StoredMessage>> {
        self.messages_in_state("shunted").await
    }

    /// Messages in `state` (`held`, `held_new`, `shunted` ...), oldest first.
    pub async fn messages_in_state(&self, state: &str) -> Result<Vec<StoredMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {STORED} FROM {WITH_BODY} WHERE m.state = $1 ORDER BY m.id"
        )))
        .bind(state)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Postings of `list` waiting for a moderator, newest first, `limit` of them after
    /// skipping `offset`.
    pub async fn held_page(&self, list: &str, limit: i64, offset: i64) -> Result<Vec<HeldHead>> {
        // substr() of a blob counts bytes on SQLite, as of a bytea on PostgreSQL.
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, m.envelope_from, m.error, m.received_at, \
             substr(b.raw, 1, {HELD_HEAD_BYTES}) AS head FROM {WITH_BODY} \
             WHERE m.state = 'held' AND m.list_name = $1 \
             ORDER BY m.received_at DESC, m.id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(list)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many postings wait for a moderator, per list that has any.
    pub async fn held_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT list_name, COUNT(*) FROM messages WHERE state = 'held' GROUP BY list_name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ids of the messages in `state` received before `cutoff` (epoch ms): a cheap question
    /// asked often, which loads no message.
    pub async fn message_ids_in_state_before(&self, state: &str, cutoff: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM messages WHERE state = $1 AND received_at < $2 ORDER BY id",
        )
        .bind(state)
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Moves a message from state `from` to `to`; false when it was not in `from` (someone
    /// else decided first). `note` replaces the stored note when given.
    pub async fn move_message(
        &self,
        id: i64,
        from: &str,
        to: &str,
        note: Option<&str>,
    ) -> Result<bool> {
        self.move_message_with_notices(id, (from, to), note, &[])
            .await
    }

    pub async fn message(&self, id: i64) -> Result<Option<StoredMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {STORED} FROM {WITH_BODY} WHERE m.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Lets a held message go on: a posting to expansion, an item (a command message) to the
    /// command runner, vouched for by the moderator who approved it. False when it was not
    /// held (someone else decided first).
    pub async fn release_held(&self, id: i64) -> Result<bool> {
        self.update_one(
            "UPDATE messages SET \
             state = CASE kind WHEN 'command' THEN 'received' ELSE 'accepted' END, \
             proof = CASE kind WHEN 'command' THEN 'moderator' ELSE proof END, \
             updated_at = $2 WHERE id = $1 AND state = 'held'",
            id,
        )
        .await
    }

    /// Runs `sql`, an update of message `$1` at time `$2`; whether it changed the message.
    async fn update_one(&self, sql: &'static str, id: i64) -> Result<bool> {
        let moved = sqlx::query(sql)
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(moved == 1)
    }

    /// Puts a set-aside message back where it was taken from (postings and owner mail to
    /// expansion, commands to the command runner). False when it is not set aside.
    pub async fn retry_shunted(&self, id: i64) -> Result<bool> {
        self.update_one(
            "UPDATE messages SET state = CASE kind WHEN 'command' THEN 'received' ELSE 'accepted' END, \
             error = '', updated_at = $2 WHERE id = $1 AND state = 'shunted' \
             AND kind IN ('posting', 'owner', 'postmaster', 'command')",
            id,
        )
        .await
    }

    /// Gives up on a set-aside message for good (it stays stored, marked `discarded`).
    pub async fn discard_shunted(&self, id: i64) -> Result<bool> {
        self.move_message(id, "shunted", "discarded", None).await
    }

    /// Sets aside a message the pipeline could not handle, with the reason, so that nothing
    /// is dropped silently.
    pub async fn shunt_message(&self, message_id: i64, reason: &str) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET state = 'shunted', error = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(message_id)
        .bind(reason)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The bytes every delivery of this message starts from: a posting's decorated copy, or
    /// the body of anything sent as it is.
    pub async fn decorated_message(&self, message_id: i64) -> Result<Option<Vec<u8>>> {
        let bytes: Option<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COALESCE(m.decorated, b.raw) FROM {WITH_BODY} WHERE m.id = $1"
        )))
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(bytes)
    }

    /// Messages of `list` in the [`WAITING_STATES`], per state.
    pub async fn waiting_messages_of(&self, list: &str) -> Result<Vec<(String, i64)>> {
        let states: Vec<String> = WAITING_STATES.iter().map(|s| format!("'{s}'")).collect();
        // Only the constant states above are formatted into this SQL.
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT state, COUNT(*) FROM messages WHERE state IN ({}) AND list_name = $1 \
             GROUP BY state ORDER BY state",
            states.join(", ")
        )))
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Messages per state, for `tidings queue`.
    pub async fn message_counts(&self) -> Result<Vec<(String, String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT list_name, state, COUNT(*) FROM messages GROUP BY list_name, state \
             ORDER BY list_name, state",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A notice rendered and ready to queue, for a change that commits it with itself (see
/// [`Store::move_message_with_notices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyNotice {
    pub list: String,
    pub recipients: Vec<String>,
    /// The whole message, as every recipient gets it.
    pub message: Vec<u8>,
}

/// Queues `notice` inside a transaction that commits it with what it reports.
pub(super) async fn queue_ready_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    notice: &ReadyNotice,
    now: i64,
) -> Result<i64> {
    queue_notice_in(tx, (&notice.list, &notice.recipients), &notice.message, now).await
}

async fn queue_notice_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    (list, recipients): (&str, &[String]),
    message: &[u8],
    now: i64,
) -> Result<i64> {
    let id = insert_ready(tx, (list, "notice", Copies::Shared), message, now).await?;
    for recipient in recipients {
        sqlx::query(
            "INSERT INTO deliveries (message_id, list_name, recipient, state, next_attempt_at, \
             created_at, updated_at) VALUES ($1, $2, $3, 'pending', $4, $4, $4)",
        )
        .bind(id)
        .bind(list)
        .bind(recipient)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

/// Moves the message from `accepted` to `expanded`, with its decorated copy if it differs
/// from the body. In PostgreSQL the row lock taken here makes a concurrent expander wait and
/// then find the message already expanded.
async fn claim_for_expansion(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    message_id: i64,
    decorated: Option<&[u8]>,
    now: i64,
) -> Result<bool> {
    let claimed = sqlx::query(
        "UPDATE messages SET state = 'expanded', decorated = $2, updated_at = $3 \
         WHERE id = $1 AND state = 'accepted'",
    )
    .bind(message_id)
    .bind(decorated)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{on_both, TestStore};

    async fn a_state_change_and_its_notice_are_committed_once(db: &TestStore) {
        let store = &db.store;
        let held = NewMessage {
            list_name: "forum".into(),
            kind: MessageKind::Posting,
            envelope_from: "author@ngo.example".into(),
            message_id: String::new(),
            peer: String::new(),
            recipient: "forum@lists.example".into(),
            hold_reason: Some("moderated".into()),
            proof: String::new(),
            author: String::new(),
            author_policy: None,
            arrival: None,
        };
        let id = store.insert_messages(b"x", &[held]).await.expect("insert")[0];
        let notice = ReadyNotice {
            list: "forum".into(),
            recipients: vec!["mod@ngo.example".into(), "owner@ngo.example".into()],
            message: b"Subject: held\r\n\r\nx\r\n".to_vec(),
        };
        let other = Store::open(&db.url, 4)
            .await
            .expect("a second daemon's store");
        let notices = std::slice::from_ref(&notice);
        let (a, b) = tokio::join!(
            store.move_message_with_notices(id, ("held_new", "held"), None, notices),
            other.move_message_with_notices(id, ("held_new", "held"), None, notices)
        );
        let moved = [a.expect("first"), b.expect("second")];
        assert_eq!(moved.iter().filter(|m| **m).count(), 1, "{moved:?}");
        assert_eq!(
            store.unfinished_deliveries().await.expect("queue"),
            2,
            "one notice, to its two recipients"
        );
        let stored = store.message(id).await.expect("read").expect("there");
        assert_eq!(stored.state, "held");
        other.close().await;
    }

    on_both!(a_state_change_and_its_notice_are_committed_once);
}

//! Inbound messages, kept raw as received, and their expansion into deliveries.
//!
//! A message moves `accepted` → `expanded` (its deliveries exist) in one transaction, so a
//! crash between the two simply expands it again at the next start. Bounces wait in
//! `unprocessed` for the bounce processor.

use sqlx::Row;

use super::{now_ms, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A posting to the list's subscribers.
    Posting,
    /// Mail for the list's owners (`LIST-owner@`).
    Owner,
    /// A delivery report to a VERP address (`LIST-bounces+TOKEN@`).
    Bounce,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Posting => "posting",
            MessageKind::Owner => "owner",
            MessageKind::Bounce => "bounce",
        }
    }

    fn parse(text: &str) -> Option<MessageKind> {
        match text {
            "posting" => Some(MessageKind::Posting),
            "owner" => Some(MessageKind::Owner),
            "bounce" => Some(MessageKind::Bounce),
            _ => None,
        }
    }

    fn initial_state(self) -> &'static str {
        match self {
            MessageKind::Posting | MessageKind::Owner => "accepted",
            MessageKind::Bounce => "unprocessed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub list_name: String,
    pub kind: MessageKind,
    pub envelope_from: String,
    pub message_id: String,
    pub raw: Vec<u8>,
}

/// An accepted message waiting to be expanded into deliveries.
#[derive(Debug, Clone)]
pub struct PendingMessage {
    pub id: i64,
    pub list_name: String,
    pub kind: MessageKind,
    pub raw: Vec<u8>,
}

impl Store {
    /// Commits messages in one transaction: once this returns, they survive any crash.
    pub async fn insert_messages(&self, messages: &[NewMessage]) -> Result<Vec<i64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(messages.len());
        for message in messages {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO messages (list_name, kind, state, envelope_from, message_id, raw, \
                 received_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(&message.list_name)
            .bind(message.kind.as_str())
            .bind(message.kind.initial_state())
            .bind(&message.envelope_from)
            .bind(&message.message_id)
            .bind(&message.raw)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Oldest accepted messages not yet expanded into deliveries.
    pub async fn pending_messages(&self, limit: i64) -> Result<Vec<PendingMessage>> {
        let rows = sqlx::query(
            "SELECT id, list_name, kind, raw FROM messages WHERE state = 'accepted' \
             ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let Some(kind) = MessageKind::parse(&kind) else {
                continue;
            };
            pending.push(PendingMessage {
                id: row.try_get("id")?,
                list_name: row.try_get("list_name")?,
                kind,
                raw: row.try_get("raw")?,
            });
        }
        Ok(pending)
    }

    /// Stores the decorated message and creates one delivery per active subscriber, in one
    /// transaction. Returns the number of deliveries, or `None` if another worker (or another
    /// daemon on the same database) expanded the message first.
    pub async fn expand_to_subscribers(
        &self,
        message_id: i64,
        decorated: &[u8],
    ) -> Result<Option<u64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if !claim_for_expansion(&mut tx, message_id, decorated, now).await? {
            return Ok(None);
        }
        let created = sqlx::query(
            "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
             next_attempt_at, created_at, updated_at) \
             SELECT msg.id, msg.list_name, m.id, m.address, 'pending', $2, $2, $2 \
             FROM messages msg \
             JOIN subscriptions s ON s.list_name = msg.list_name AND s.status = 'active' \
             JOIN members m ON m.id = s.member_id \
             WHERE msg.id = $1",
        )
        .bind(message_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Some(created))
    }

    /// Like [`Store::expand_to_subscribers`], for a fixed set of addresses (the list owners).
    pub async fn expand_to_addresses(
        &self,
        message_id: i64,
        decorated: &[u8],
        addresses: &[String],
    ) -> Result<Option<u64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        if !claim_for_expansion(&mut tx, message_id, decorated, now).await? {
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

    /// The decorated bytes every delivery of this message starts from.
    pub async fn decorated_message(&self, message_id: i64) -> Result<Option<Vec<u8>>> {
        let bytes: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT decorated FROM messages WHERE id = $1")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(bytes.flatten())
    }

    /// Messages per state, for `tidings queue`.
    pub async fn message_counts(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = sqlx::query(
            "SELECT list_name, state, COUNT(*) AS n FROM messages GROUP BY list_name, state \
             ORDER BY list_name, state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("list_name")?,
                    row.try_get("state")?,
                    row.try_get("n")?,
                ))
            })
            .collect()
    }
}

/// Moves the message from `accepted` to `expanded`. In PostgreSQL the row lock taken here
/// makes a concurrent expander wait and then find the message already expanded.
async fn claim_for_expansion(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    message_id: i64,
    decorated: &[u8],
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

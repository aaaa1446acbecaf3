//! Digests: each member's choice per list (every posting, or a daily or weekly digest), the
//! postings kept for the digests, and the record of each digest period sent.
//!
//! A posting becomes a digest entry in the transaction that expands it for delivery (see
//! [`Store::expand_to_subscribers`]), so that it counts from when it was sent, a held
//! posting from its approval. Each digest kind takes an entry once. A period's digest is
//! one `digest_runs` row, UNIQUE per list, kind and slot, inserted in the same transaction
//! as the digest's messages and deliveries and the marking of the entries it took: a
//! restart or a second daemon never sends a period twice, and a crash before the commit
//! leaves everything to be done again.

use sqlx::AssertSqlSafe;

use super::{now_ms, Copies, Result, Store};

/// How a member gets a list's postings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryMode {
    /// A copy of every posting as it is sent.
    #[default]
    Each,
    Digest(DigestKind),
}

/// How often a digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestKind {
    Daily,
    Weekly,
}

impl DigestKind {
    pub const ALL: [DigestKind; 2] = [DigestKind::Daily, DigestKind::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            DigestKind::Daily => "daily",
            DigestKind::Weekly => "weekly",
        }
    }

    /// The column of `digest_entries` naming the run of this kind that took an entry.
    fn run_column(self) -> &'static str {
        match self {
            DigestKind::Daily => "daily_run",
            DigestKind::Weekly => "weekly_run",
        }
    }
}

impl DeliveryMode {
    /// As stored in `subscriptions.delivery_mode`, and as the `digest` command and the web
    /// console name it (`off` is [`DeliveryMode::Each`]'s word there).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Each => "each",
            DeliveryMode::Digest(kind) => kind.as_str(),
        }
    }

    /// Reads a stored mode; anything else is `None`.
    pub fn from_stored(text: &str) -> Option<DeliveryMode> {
        match text {
            "each" => Some(DeliveryMode::Each),
            "daily" => Some(DeliveryMode::Digest(DigestKind::Daily)),
            "weekly" => Some(DeliveryMode::Digest(DigestKind::Weekly)),
            _ => None,
        }
    }
}

/// A posting waiting for a digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DigestEntry {
    pub id: i64,
    /// The posting as relayed to the members who get every posting.
    pub raw: Vec<u8>,
    pub created_at: i64,
}

/// One language's digest message, before personalisation.
#[derive(Debug, Clone)]
pub struct DigestMessage {
    pub language: String,
    pub message: Vec<u8>,
    /// Also for the members whose language no other message of the digest is in.
    pub fallback: bool,
}

/// A period's digest, as [`Store::queue_digest`] records and queues it.
#[derive(Debug, Clone)]
pub struct NewDigest<'a> {
    pub list: &'a str,
    pub kind: DigestKind,
    /// The slot that ends the period (epoch ms).
    pub period_end: i64,
    /// The entries the digest carries; each is taken by this kind once.
    pub entry_ids: &'a [i64],
    pub messages: &'a [DigestMessage],
}

/// What queueing a digest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestQueued {
    /// The period is recorded, with this many deliveries (none for a period without
    /// postings or without members in the mode).
    Queued { deliveries: u64 },
    /// Another daemon, or this one before a restart, recorded the period first.
    AlreadySent,
}

impl Store {
    /// Sets how `address` gets the postings of `list`; false when it is not subscribed.
    pub async fn set_delivery_mode(
        &self,
        list: &str,
        address: &str,
        mode: DeliveryMode,
    ) -> Result<bool> {
        let changed = sqlx::query(
            "UPDATE subscriptions SET delivery_mode = $3 WHERE list_name = $1 \
             AND member_id = (SELECT id FROM members WHERE address = $2)",
        )
        .bind(list)
        .bind(address)
        .bind(mode.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// How `address` gets the postings of `list`; `None` when it is not subscribed.
    pub async fn delivery_mode(&self, list: &str, address: &str) -> Result<Option<DeliveryMode>> {
        let stored: Option<String> = sqlx::query_scalar(
            "SELECT s.delivery_mode FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE s.list_name = $1 AND m.address = $2",
        )
        .bind(list)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(stored.map(|mode| DeliveryMode::from_stored(&mode).unwrap_or_default()))
    }

    /// The end of the latest period of `kind` recorded for `list`, if any.
    pub async fn last_digest_period(&self, list: &str, kind: DigestKind) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(period_end) FROM digest_runs WHERE list_name = $1 AND kind = $2",
        )
        .bind(list)
        .bind(kind.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Up to `limit` entries of `list` that no digest of `kind` took yet, sent no later than
    /// `until` (epoch ms), oldest first.
    pub async fn waiting_digest_entries(
        &self,
        list: &str,
        kind: DigestKind,
        until: i64,
        limit: i64,
    ) -> Result<Vec<DigestEntry>> {
        let column = kind.run_column();
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT id, raw, created_at FROM digest_entries \
             WHERE list_name = $1 AND {column} IS NULL AND created_at <= $2 \
             ORDER BY id LIMIT $3"
        )))
        .bind(list)
        .bind(until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The languages of the active members of `list` who get digests of `kind`, with how
    /// many members write in each.
    pub async fn digest_languages(
        &self,
        list: &str,
        kind: DigestKind,
    ) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT m.language, COUNT(*) FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE s.list_name = $1 AND s.delivery_mode = $2 AND s.status = 'active' \
             GROUP BY m.language ORDER BY m.language",
        )
        .bind(list)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records the digest of a period and queues it, in one transaction: the period's row
    /// (once: a second caller gets [`DigestQueued::AlreadySent`] and changes nothing), the
    /// entries it took, and per message one personalised delivery to every active member
    /// of the list in the digest's mode whose language it is in.
    pub async fn queue_digest(&self, digest: &NewDigest<'_>) -> Result<DigestQueued> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let run: Option<i64> = sqlx::query_scalar(
            "INSERT INTO digest_runs (list_name, kind, period_end, entries, deliveries, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) \
             ON CONFLICT (list_name, kind, period_end) DO NOTHING RETURNING id",
        )
        .bind(digest.list)
        .bind(digest.kind.as_str())
        .bind(digest.period_end)
        .bind(digest.entry_ids.len() as i64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(run) = run else {
            return Ok(DigestQueued::AlreadySent);
        };
        if !digest.entry_ids.is_empty() {
            // Ids are integers read from the database: nothing from outside enters this SQL.
            let ids: Vec<String> = digest.entry_ids.iter().map(i64::to_string).collect();
            let column = digest.kind.run_column();
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE digest_entries SET {column} = $1 WHERE id IN ({}) AND {column} IS NULL",
                ids.join(",")
            )))
            .bind(run)
            .execute(&mut *tx)
            .await?;
        }
        let covered: Vec<&str> = digest
            .messages
            .iter()
            .map(|m| m.language.as_str())
            .collect();
        let mut deliveries = 0;
        for message in digest.messages {
            let message_id = super::messages::insert_ready(
                &mut tx,
                (digest.list, "digest", Copies::PersonalLinks),
                &message.message,
                now,
            )
            .await?;
            deliveries +=
                queue_members(&mut tx, message_id, digest.kind, message, &covered, now).await?;
        }
        sqlx::query("UPDATE digest_runs SET deliveries = $2 WHERE id = $1")
            .bind(run)
            .bind(deliveries as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(DigestQueued::Queued { deliveries })
    }
}

/// One delivery of message `message_id` to every active member in the digest's mode whose
/// language is the message's, or, for the fallback message, none of the digest's.
async fn queue_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    message_id: i64,
    kind: DigestKind,
    message: &DigestMessage,
    covered: &[&str],
    now: i64,
) -> Result<u64> {
    // Placeholders $5.. carry the other languages; nothing from outside enters the SQL text.
    let mut condition = "m.language = $4".to_owned();
    if message.fallback {
        let others: Vec<String> = (0..covered.len()).map(|n| format!("${}", n + 5)).collect();
        condition = format!("({condition} OR m.language NOT IN ({}))", others.join(", "));
    }
    let sql = format!(
        "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
         next_attempt_at, created_at, updated_at) \
         SELECT msg.id, msg.list_name, m.id, m.address, 'pending', $2, $2, $2 \
         FROM messages msg \
         JOIN subscriptions s ON s.list_name = msg.list_name AND s.status = 'active' \
         AND s.delivery_mode = $3 \
         JOIN members m ON m.id = s.member_id \
         WHERE msg.id = $1 AND {condition}"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(message_id)
        .bind(now)
        .bind(kind.as_str())
        .bind(&message.language);
    if message.fallback {
        for language in covered {
            query = query.bind(*language);
        }
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

//! The lists' archives: each posting as relayed to the members, and the messages of past
//! archives imported from mbox files (not the editions of publications, which
//! `publications.rs` keeps). A message is stored once per list, named by the key of its
//! Message-ID; its thread is settled as it is stored, from the messages already there.
//!
//! Full-text search takes words already lowercased and folded (by `crate::list_archive`),
//! and asks SQLite's FTS5 or PostgreSQL's `tsvector` index for messages with every word,
//! each as a prefix: the same question in each database's words.

use sqlx::{Any, AssertSqlSafe, Transaction};

use super::{now_ms, Backend, Result, Store};

/// How far back a reply that names no message the archive has is joined to the latest
/// message of the same subject.
const SUBJECT_THREADING_MS: i64 = 90 * 24 * 3600 * 1000;

/// A message for a list's archive, read by `crate::list_archive`.
#[derive(Debug, Clone, Default)]
pub struct NewArchived {
    pub list_name: String,
    /// `crate::links::archive_key` of the Message-ID.
    pub message_key: String,
    /// The Message-ID without its angle brackets.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// The References field's ids, oldest first.
    pub references: Vec<String>,
    pub subject: String,
    /// The subject without reply and forward prefixes or a list's tag, lowercased: what a
    /// reply that names no message is threaded by.
    pub thread_subject: String,
    /// Whether the subject says the message answers or forwards another: only such a
    /// message is threaded by its subject.
    pub subject_is_reply: bool,
    pub author_name: String,
    pub author_address: String,
    /// When it was posted (epoch ms): when tidings received it, or an imported message's Date.
    pub posted_at: i64,
    /// The words of the subject, the author and the text, for the full-text index.
    pub search_subject: String,
    pub search_author: String,
    pub search_body: String,
    /// The whole message.
    pub raw: Vec<u8>,
}

/// What a page lists of an archived message.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ArchivedHead {
    pub message_key: String,
    pub thread_key: String,
    pub parent_key: Option<String>,
    pub subject: String,
    pub author_name: String,
    pub author_address: String,
    pub posted_at: i64,
    pub month: String,
}

/// An archived message whole.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArchivedMessage {
    #[sqlx(flatten)]
    pub head: ArchivedHead,
    pub message_id: String,
    pub raw: Vec<u8>,
}

const HEAD: &str =
    "message_key, thread_key, parent_key, subject, author_name, author_address, posted_at, month";

/// `YYYY-MM` of a time, in UTC.
pub fn month_of(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%Y-%m").to_string())
        .unwrap_or_else(|| "1970-01".into())
}

/// Keeps only letters and digits of a search word, so that nothing in it can be read as
/// the full-text engines' own syntax.
fn plain_word(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).collect()
}

impl Store {
    /// Stores `entries` in their lists' archives, in one transaction; a message a list's
    /// archive has already (by Message-ID) is left as it is. Returns how many were added.
    pub async fn archive_messages(&self, entries: &[NewArchived]) -> Result<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for entry in entries {
            if archive_in(&mut tx, entry, now).await? {
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// A list's months that have messages, newest first, with their number of messages.
    pub async fn archive_months(&self, list: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT month, messages FROM list_archive_months \
             WHERE list_name = $1 AND messages > 0 ORDER BY month DESC",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A month's messages, oldest first.
    pub async fn archive_month(&self, list: &str, month: &str) -> Result<Vec<ArchivedHead>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD} FROM list_archive \
             WHERE list_name = $1 AND month = $2 AND removed_at IS NULL ORDER BY posted_at, id"
        )))
        .bind(list)
        .bind(month)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The messages of the thread that `thread_key`'s message starts, oldest first.
    pub async fn archive_thread(&self, list: &str, thread_key: &str) -> Result<Vec<ArchivedHead>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD} FROM list_archive \
             WHERE list_name = $1 AND thread_key = $2 AND removed_at IS NULL \
             ORDER BY posted_at, id"
        )))
        .bind(list)
        .bind(thread_key)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The messages of a thread whole, oldest first, for its page.
    pub async fn archived_thread_messages(
        &self,
        list: &str,
        thread_key: &str,
    ) -> Result<Vec<ArchivedMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD}, message_id, raw FROM list_archive \
             WHERE list_name = $1 AND thread_key = $2 AND removed_at IS NULL \
             ORDER BY posted_at, id"
        )))
        .bind(list)
        .bind(thread_key)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Message `key` of `list`'s archive, unless it was removed.
    pub async fn archived_message(&self, list: &str, key: &str) -> Result<Option<ArchivedMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD}, message_id, raw FROM list_archive \
             WHERE list_name = $1 AND message_key = $2 AND removed_at IS NULL"
        )))
        .bind(list)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A month's messages whole, oldest first, for its mbox file.
    pub async fn archived_month_messages(
        &self,
        list: &str,
        month: &str,
    ) -> Result<Vec<ArchivedMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD}, message_id, raw FROM list_archive \
             WHERE list_name = $1 AND month = $2 AND removed_at IS NULL ORDER BY posted_at, id"
        )))
        .bind(list)
        .bind(month)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The latest `limit` messages whole, newest first, for a feed.
    pub async fn latest_archived(&self, list: &str, limit: i64) -> Result<Vec<ArchivedMessage>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {HEAD}, message_id, raw FROM list_archive \
             WHERE list_name = $1 AND removed_at IS NULL ORDER BY posted_at DESC, id DESC LIMIT $2"
        )))
        .bind(list)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Messages of `list` whose subject, author or text has every one of `words` (each as
    /// the start of a word), newest first, at most `limit`. Words are lowercased and folded
    /// as the stored ones were; an empty list finds nothing.
    pub async fn search_archive(
        &self,
        list: &str,
        words: &[String],
        limit: i64,
    ) -> Result<Vec<ArchivedHead>> {
        let words: Vec<String> = words
            .iter()
            .map(|w| plain_word(w))
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, query) = match self.backend {
            Backend::Sqlite => (
                format!(
                    // CROSS JOIN makes SQLite ask the full-text index first: its planner
                    // cannot tell how few messages a word finds, and walking the list's
                    // messages newest first, asking the index about each, is far slower for
                    // a rare word.
                    "SELECT {} FROM list_archive_search s CROSS JOIN list_archive a ON a.id = s.rowid \
                     WHERE list_archive_search MATCH $1 AND a.list_name = $2 \
                     AND a.removed_at IS NULL ORDER BY a.posted_at DESC, a.id DESC LIMIT $3",
                    qualified_head("a")
                ),
                words
                    .iter()
                    .map(|w| format!("\"{w}\"*"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Backend::Postgres => (
                format!(
                    "SELECT {HEAD} FROM list_archive WHERE list_name = $2 AND removed_at IS NULL \
                     AND to_tsvector('simple', search_subject || ' ' || search_author || ' ' \
                     || search_body) @@ to_tsquery('simple', $1) \
                     ORDER BY posted_at DESC, id DESC LIMIT $3"
                ),
                words
                    .iter()
                    .map(|w| format!("{w}:*"))
                    .collect::<Vec<_>>()
                    .join(" & "),
            ),
        };
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(query)
            .bind(list)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Removes message `key` from `list`'s archive: its content goes, its row stays (so that
    /// an import of the same message does not bring it back). Whether there was one to remove.
    pub async fn remove_archived(&self, list: &str, key: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let month: Option<String> = sqlx::query_scalar(
            "SELECT month FROM list_archive \
             WHERE list_name = $1 AND message_key = $2 AND removed_at IS NULL",
        )
        .bind(list)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(month) = month else {
            return Ok(false);
        };
        count_in_month(&mut tx, list, &month, -1).await?;
        let removed = sqlx::query(
            "UPDATE list_archive SET removed_at = $3, raw = $4, subject = '', author_name = '', \
             author_address = '', search_subject = '', search_author = '', search_body = '' \
             WHERE list_name = $1 AND message_key = $2 AND removed_at IS NULL",
        )
        .bind(list)
        .bind(key)
        .bind(now_ms())
        .bind(Vec::<u8>::new())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Messages in `list`'s archive, removed ones left out.
    pub async fn archive_count(&self, list: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM list_archive WHERE list_name = $1 AND removed_at IS NULL",
        )
        .bind(list)
        .fetch_one(&self.pool)
        .await?)
    }
}

/// Adds `change` to the messages of `list`'s `month`.
async fn count_in_month(
    tx: &mut Transaction<'static, Any>,
    list: &str,
    month: &str,
    change: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO list_archive_months (list_name, month, messages) VALUES ($1, $2, $3) \
         ON CONFLICT (list_name, month) \
         DO UPDATE SET messages = list_archive_months.messages + $3",
    )
    .bind(list)
    .bind(month)
    .bind(change)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn qualified_head(table: &str) -> String {
    HEAD.split(", ")
        .map(|column| format!("{table}.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores one message in its list's archive within `tx`, with its thread; `false` when the
/// archive has its Message-ID already.
pub(super) async fn archive_in(
    tx: &mut Transaction<'static, Any>,
    entry: &NewArchived,
    now: i64,
) -> Result<bool> {
    let list = &entry.list_name;
    let (thread_key, parent_key) = match thread_of(tx, entry).await? {
        Some((parent, thread)) => (thread, Some(parent)),
        None => (entry.message_key.clone(), None),
    };
    let inserted = sqlx::query(
        "INSERT INTO list_archive (list_name, message_key, message_id, in_reply_to, thread_key, \
         parent_key, subject, thread_subject, author_name, author_address, posted_at, month, \
         search_subject, search_author, search_body, raw, archived_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT (list_name, message_key) DO NOTHING",
    )
    .bind(list)
    .bind(&entry.message_key)
    .bind(&entry.message_id)
    .bind(entry.in_reply_to.as_deref())
    .bind(&thread_key)
    .bind(parent_key.as_deref())
    .bind(&entry.subject)
    .bind(&entry.thread_subject)
    .bind(&entry.author_name)
    .bind(&entry.author_address)
    .bind(entry.posted_at)
    .bind(month_of(entry.posted_at))
    .bind(&entry.search_subject)
    .bind(&entry.search_author)
    .bind(&entry.search_body)
    .bind(&entry.raw)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    count_in_month(tx, list, &month_of(entry.posted_at), 1).await?;
    adopt_replies(tx, entry, &thread_key).await?;
    Ok(true)
}

/// The message `entry` answers and its thread, as (key, thread key): the nearest of its
/// In-Reply-To and References that the archive has; else, for a subject that says it is a
/// reply, the latest earlier message of the same subject within [`SUBJECT_THREADING_MS`].
async fn thread_of(
    tx: &mut Transaction<'static, Any>,
    entry: &NewArchived,
) -> Result<Option<(String, String)>> {
    let named = entry
        .in_reply_to
        .iter()
        .chain(entry.references.iter().rev());
    for id in named.take(20) {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT message_key, thread_key FROM list_archive \
             WHERE list_name = $1 AND message_id = $2 ORDER BY id LIMIT 1",
        )
        .bind(&entry.list_name)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if !entry.subject_is_reply || entry.thread_subject.is_empty() {
        return Ok(None);
    }
    Ok(sqlx::query_as(
        "SELECT message_key, thread_key FROM list_archive \
         WHERE list_name = $1 AND thread_subject = $2 AND posted_at <= $3 AND posted_at >= $4 \
         AND message_key <> $5 ORDER BY posted_at DESC, id DESC LIMIT 1",
    )
    .bind(&entry.list_name)
    .bind(&entry.thread_subject)
    .bind(entry.posted_at)
    .bind(entry.posted_at - SUBJECT_THREADING_MS)
    .bind(&entry.message_key)
    .fetch_optional(&mut **tx)
    .await?)
}

/// Threads that began with a reply to `entry` (archived before it, as an import out of
/// order or a late copy can do) join `entry`'s thread.
async fn adopt_replies(
    tx: &mut Transaction<'static, Any>,
    entry: &NewArchived,
    thread_key: &str,
) -> Result<()> {
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT message_key FROM list_archive WHERE list_name = $1 AND in_reply_to = $2 \
         AND message_key = thread_key AND message_key <> $3",
    )
    .bind(&entry.list_name)
    .bind(&entry.message_id)
    .bind(&entry.message_key)
    .fetch_all(&mut **tx)
    .await?;
    for orphan in orphans {
        sqlx::query(
            "UPDATE list_archive SET parent_key = $3 WHERE list_name = $1 AND message_key = $2",
        )
        .bind(&entry.list_name)
        .bind(&orphan)
        .bind(&entry.message_key)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE list_archive SET thread_key = $3 WHERE list_name = $1 AND thread_key = $2",
        )
        .bind(&entry.list_name)
        .bind(&orphan)
        .bind(thread_key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

//! Items, editions and their renderings per language.
//!
//! An item waits (`edition_id` NULL) until an edition carries it. An edition row is inserted
//! once per scheduled slot (UNIQUE (publication, scheduled_at)), together with its items and
//! renderings in one transaction, so a slot fires once however many daemons and commands
//! race for it. Edition states: `empty` (nothing to send; the slot is spent),
//! `awaiting_approval`, `sent` (queued for delivery), `cancelled`. `notified_at` says when
//! the editors were sent the preview, committed with it: an edition waiting without it was
//! built by a daemon that stopped before telling them, and is told by the next pass.

use sqlx::AssertSqlSafe;

use super::messages::{queue_ready_in, ReadyNotice};
use super::{now_ms, Copies, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub publication: String,
    pub language: String,
    pub translation_key: String,
    pub section: String,
    pub title: String,
    /// Markdown, as the editor wrote it.
    pub body: String,
    pub author: String,
    /// `accepted` or `withdrawn`.
    pub state: String,
    pub edition_id: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewItem {
    pub publication: String,
    pub language: String,
    pub translation_key: String,
    pub section: String,
    pub title: String,
    pub body: String,
    pub author: String,
}

/// Changes to a waiting item; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ItemChanges {
    pub title: Option<String>,
    pub section: Option<String>,
    pub body: Option<String>,
    pub language: Option<String>,
    pub translation_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Edition {
    pub id: i64,
    pub publication: String,
    pub scheduled_at: i64,
    /// `scheduled` or `special`.
    pub kind: String,
    pub number: Option<i64>,
    pub state: String,
    pub note: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

/// One language of an edition as rendered when it was built.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EditionRender {
    pub language: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub web_html: String,
}

/// An edition ready to be stored: its slot, its number, the items it carries and its
/// renderings.
#[derive(Debug, Clone)]
pub struct NewEdition<'a> {
    pub publication: &'a str,
    pub scheduled_at: i64,
    pub kind: &'a str,
    pub number: i64,
    pub state: &'a str,
    pub item_ids: &'a [i64],
    pub renders: &'a [EditionRender],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditionInserted {
    Inserted(i64),
    /// The slot already has its edition (another daemon or command built it).
    SlotTaken,
    /// Another edition took the number or some of the items meanwhile: build again.
    Raced,
}

/// A language's edition ready for delivery: the message and who gets it.
#[derive(Debug, Clone)]
pub struct EditionMessage {
    pub language: String,
    pub message: Vec<u8>,
    /// Subscribers whose language is one of these get this message.
    pub for_languages: Vec<String>,
    /// Whether subscribers whose language has no message of its own get this one.
    pub fallback: bool,
}

const ITEM_COLUMNS: &str = "id, publication, language, translation_key, section, title, body, \
                            author, state, edition_id, created_at";
const EDITION_COLUMNS: &str =
    "id, publication, scheduled_at, kind, number, state, note, created_at, sent_at";

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

impl Store {
    pub async fn add_item(&self, item: &NewItem) -> Result<i64> {
        let now = now_ms();
        Ok(sqlx::query_scalar(
            "INSERT INTO items (publication, language, translation_key, section, title, body, \
             author, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'accepted', $8, $8) RETURNING id",
        )
        .bind(&item.publication)
        .bind(&item.language)
        .bind(&item.translation_key)
        .bind(&item.section)
        .bind(&item.title)
        .bind(&item.body)
        .bind(&item.author)
        .bind(now)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn item(&self, id: i64) -> Result<Option<Item>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = $1");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Items of a publication (every publication when `None`), oldest first; only those
    /// waiting for an edition when `waiting`.
    pub async fn items(&self, publication: Option<&str>, waiting: bool) -> Result<Vec<Item>> {
        let filter = if waiting {
            "AND state = 'accepted' AND edition_id IS NULL"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE ($1 = '' OR publication = $1) {filter} \
             ORDER BY id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(publication.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?)
    }

    /// The items an edition carries.
    pub async fn edition_items(&self, edition_id: i64) -> Result<Vec<Item>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE edition_id = $1 ORDER BY id");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(edition_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Changes an item still waiting for an edition; false when it is not (any more).
    pub async fn update_item(&self, id: i64, changes: &ItemChanges) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE items SET title = COALESCE($2, title), section = COALESCE($3, section), \
             body = COALESCE($4, body), language = COALESCE($5, language), \
             translation_key = COALESCE($6, translation_key), updated_at = $7 \
             WHERE id = $1 AND state = 'accepted' AND edition_id IS NULL",
        )
        .bind(id)
        .bind(changes.title.as_deref())
        .bind(changes.section.as_deref())
        .bind(changes.body.as_deref())
        .bind(changes.language.as_deref())
        .bind(changes.translation_key.as_deref())
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Withdraws an item still waiting for an edition; false when it is not (any more).
    pub async fn withdraw_item(&self, id: i64) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE items SET state = 'withdrawn', updated_at = $2 \
             WHERE id = $1 AND state = 'accepted' AND edition_id IS NULL",
        )
        .bind(id)
        .bind(now_ms())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// The latest slot a scheduled edition (or empty slot) was recorded for.
    pub async fn last_scheduled_slot(&self, publication: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT MAX(scheduled_at) FROM editions WHERE publication = $1 AND kind = 'scheduled'",
        )
        .bind(publication)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn next_edition_number(&self, publication: &str) -> Result<i64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(number) FROM editions WHERE publication = $1")
                .bind(publication)
                .fetch_one(&self.pool)
                .await?;
        Ok(last.unwrap_or(0) + 1)
    }

    /// Records a slot that had nothing to send, and queues `notice` (the editors') in the
    /// same transaction; `None`, and nothing queued, when the slot already has its edition.
    pub async fn record_empty_slot(
        &self,
        publication: &str,
        (scheduled_at, kind): (i64, &str),
        notice: &ReadyNotice,
    ) -> Result<Option<i64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO editions (publication, scheduled_at, kind, state, created_at, \
             updated_at, notified_at) VALUES ($1, $2, $3, 'empty', $4, $4, $4) \
             ON CONFLICT (publication, scheduled_at) DO NOTHING RETURNING id",
        )
        .bind(publication)
        .bind(scheduled_at)
        .bind(kind)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if id.is_some() {
            queue_ready_in(&mut tx, notice, now).await?;
            tx.commit().await?;
        }
        Ok(id)
    }

    /// Marks edition `id` as notified and queues `preview` (the editors') in the same
    /// transaction, once: false, and nothing queued, when it was notified already or is no
    /// longer waiting for approval.
    pub async fn notify_edition(&self, id: i64, preview: &ReadyNotice) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE editions SET notified_at = $2 \
             WHERE id = $1 AND notified_at IS NULL AND state = 'awaiting_approval'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked != 1 {
            return Ok(false);
        }
        queue_ready_in(&mut tx, preview, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Editions built before `built_before` (epoch ms) that are still waiting for approval
    /// and whose editors were never told: their daemon stopped between building and
    /// telling. Oldest first.
    pub async fn editions_never_notified(&self, built_before: i64) -> Result<Vec<Edition>> {
        let sql = format!(
            "SELECT {EDITION_COLUMNS} FROM editions WHERE state = 'awaiting_approval' \
             AND notified_at IS NULL AND created_at < $1 ORDER BY id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(built_before)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Stores a built edition with its items and renderings, all or nothing.
    pub async fn insert_edition(&self, edition: &NewEdition<'_>) -> Result<EditionInserted> {
        match self.try_insert_edition(edition).await {
            Err(StoreError::Database(error)) if is_unique_violation(&error) => {
                Ok(EditionInserted::Raced)
            }
            other => other,
        }
    }

    async fn try_insert_edition(&self, edition: &NewEdition<'_>) -> Result<EditionInserted> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO editions (publication, scheduled_at, kind, number, state, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (publication, scheduled_at) DO NOTHING RETURNING id",
        )
        .bind(edition.publication)
        .bind(edition.scheduled_at)
        .bind(edition.kind)
        .bind(edition.number)
        .bind(edition.state)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(EditionInserted::SlotTaken);
        };
        for item_id in edition.item_ids {
            let taken = sqlx::query(
                "UPDATE items SET edition_id = $2, updated_at = $3 \
                 WHERE id = $1 AND state = 'accepted' AND edition_id IS NULL",
            )
            .bind(item_id)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken != 1 {
                // Withdrawn, edited away or carried by another edition meanwhile.
                return Ok(EditionInserted::Raced);
            }
        }
        for render in edition.renders {
            sqlx::query(
                "INSERT INTO edition_renders (edition_id, language, subject, html, text, web_html) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(&render.language)
            .bind(&render.subject)
            .bind(&render.html)
            .bind(&render.text)
            .bind(&render.web_html)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(EditionInserted::Inserted(id))
    }

    pub async fn edition(&self, id: i64) -> Result<Option<Edition>> {
        let sql = format!("SELECT {EDITION_COLUMNS} FROM editions WHERE id = $1");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Editions of a publication (every publication when `None`), oldest first.
    /// How many editions are in each state, every publication together.
    pub async fn edition_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(
            sqlx::query_as("SELECT state, COUNT(*) FROM editions GROUP BY state")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    pub async fn editions(&self, publication: Option<&str>) -> Result<Vec<Edition>> {
        let sql = format!(
            "SELECT {EDITION_COLUMNS} FROM editions WHERE ($1 = '' OR publication = $1) \
             ORDER BY scheduled_at, id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(publication.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?)
    }

    /// A publication's editions in `state`, oldest first.
    pub async fn editions_in_state(&self, publication: &str, state: &str) -> Result<Vec<Edition>> {
        let sql = format!(
            "SELECT {EDITION_COLUMNS} FROM editions WHERE publication = $1 AND state = $2 \
             ORDER BY scheduled_at, id"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(publication)
            .bind(state)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A publication's `limit` latest editions built (slots left empty are not editions),
    /// newest first.
    pub async fn recent_editions(&self, publication: &str, limit: i64) -> Result<Vec<Edition>> {
        let sql = format!(
            "SELECT {EDITION_COLUMNS} FROM editions WHERE publication = $1 AND state <> 'empty' \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(publication)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn edition_renders(&self, edition_id: i64) -> Result<Vec<EditionRender>> {
        Ok(sqlx::query_as(
            "SELECT language, subject, html, text, web_html FROM edition_renders \
             WHERE edition_id = $1 ORDER BY language",
        )
        .bind(edition_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Cancels an edition waiting for approval: its items wait for the next edition again
    /// and its number is free. False when it was not waiting.
    pub async fn cancel_edition(&self, id: i64) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let cancelled = sqlx::query(
            "UPDATE editions SET state = 'cancelled', number = NULL, updated_at = $2 \
             WHERE id = $1 AND state = 'awaiting_approval'",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if cancelled != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE items SET edition_id = NULL, updated_at = $2 WHERE edition_id = $1")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queues an edition waiting for approval for delivery: one message per language and one
    /// personalised delivery per active subscriber, in one transaction. `None` when the
    /// edition was not waiting (already sent or cancelled).
    pub async fn queue_edition(
        &self,
        edition_id: i64,
        publication: &str,
        messages: &[EditionMessage],
    ) -> Result<Option<u64>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "UPDATE editions SET state = 'sent', sent_at = $2, updated_at = $2 \
             WHERE id = $1 AND state = 'awaiting_approval'",
        )
        .bind(edition_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            return Ok(None);
        }
        let covered: Vec<&str> = messages
            .iter()
            .flat_map(|m| m.for_languages.iter().map(String::as_str))
            .collect();
        let mut queued = 0;
        for message in messages {
            let message_id = super::messages::insert_ready(
                &mut tx,
                (publication, "edition", Copies::PersonalLinks),
                &message.message,
                now,
            )
            .await?;
            sqlx::query(
                "UPDATE edition_renders SET message_id = $3 WHERE edition_id = $1 AND language = $2",
            )
            .bind(edition_id)
            .bind(&message.language)
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
            queued += queue_language(&mut tx, message_id, message, &covered, now).await?;
        }
        tx.commit().await?;
        Ok(Some(queued))
    }

    /// Sent editions of a publication, newest first: (number, languages, sent at, edition id).
    pub async fn published_editions(
        &self,
        publication: &str,
    ) -> Result<Vec<(i64, Vec<String>, i64, i64)>> {
        let rows: Vec<(i64, Option<i64>, Option<i64>, String)> = sqlx::query_as(
            "SELECT e.id, e.number, e.sent_at, r.language FROM editions e \
             JOIN edition_renders r ON r.edition_id = e.id \
             WHERE e.publication = $1 AND e.state = 'sent' ORDER BY e.number DESC, r.language",
        )
        .bind(publication)
        .fetch_all(&self.pool)
        .await?;
        let mut published: Vec<(i64, Vec<String>, i64, i64)> = Vec::new();
        for (id, number, sent_at, language) in rows {
            match published.last_mut() {
                Some(last) if last.3 == id => last.1.push(language),
                _ => published.push((
                    number.unwrap_or(0),
                    vec![language],
                    sent_at.unwrap_or(0),
                    id,
                )),
            }
        }
        Ok(published)
    }

    /// A sent edition as a web page: (subject, HTML with the generic unsubscribe link).
    pub async fn edition_page(
        &self,
        publication: &str,
        number: i64,
        lang: &str,
    ) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT r.subject, r.web_html FROM editions e \
             JOIN edition_renders r ON r.edition_id = e.id \
             WHERE e.publication = $1 AND e.number = $2 AND r.language = $3 AND e.state = 'sent'",
        )
        .bind(publication)
        .bind(number)
        .bind(lang)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The subject of every sent edition in every language: (edition id, language,
    /// subject), for the feed, without loading the renderings themselves.
    pub async fn published_subjects(
        &self,
        publication: &str,
    ) -> Result<Vec<(i64, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT e.id, r.language, r.subject FROM editions e \
             JOIN edition_renders r ON r.edition_id = e.id \
             WHERE e.publication = $1 AND e.state = 'sent'",
        )
        .bind(publication)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// One personalised delivery per active subscriber whose language this message serves.
async fn queue_language(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    message_id: i64,
    message: &EditionMessage,
    covered: &[&str],
    now: i64,
) -> Result<u64> {
    // Placeholders $3.. carry the languages; nothing from outside enters the SQL text.
    let list = |from: usize, count: usize| {
        (from..from + count)
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut condition = format!("m.language IN ({})", list(3, message.for_languages.len()));
    if message.fallback {
        let others = list(3 + message.for_languages.len(), covered.len());
        condition = format!("({condition} OR m.language NOT IN ({others}))");
    }
    let sql = format!(
        "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
         next_attempt_at, created_at, updated_at) \
         SELECT msg.id, msg.list_name, m.id, m.address, 'pending', $2, $2, $2 \
         FROM messages msg \
         JOIN subscriptions s ON s.list_name = msg.list_name AND s.status = 'active' \
         JOIN members m ON m.id = s.member_id \
         WHERE msg.id = $1 AND {condition}"
    );
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(message_id).bind(now);
    for language in &message.for_languages {
        query = query.bind(language);
    }
    if message.fallback {
        for language in covered {
            query = query.bind(*language);
        }
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

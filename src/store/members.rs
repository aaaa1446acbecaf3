//! Members (one row per address) and their subscriptions to lists.

use std::collections::{HashMap, HashSet};

use sqlx::AssertSqlSafe;

use super::{now_ms, Backend, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub address: String,
    pub display_name: String,
    pub language: String,
    /// The subscription's status, when the member was read as one list's; empty otherwise.
    #[sqlx(default)]
    pub status: String,
}

/// One member to subscribe; the address is already normalised.
#[derive(Debug, Clone)]
pub struct ImportLine {
    pub address: String,
    pub display_name: String,
    pub language: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberAdded {
    Added,
    AlreadyPresent,
}

impl Store {
    /// Subscribes one address to a list, creating the member when new. Idempotent.
    pub async fn add_member(&self, list: &str, line: &ImportLine) -> Result<MemberAdded> {
        Ok(self
            .import_members(list, std::slice::from_ref(line))
            .await?[0])
    }

    /// Subscribes every line's address, creating members when new, in one transaction and
    /// a few statements per `IMPORT_CHUNK` lines: a statement per line made a 100,000-line
    /// import take minutes. A result per line, in order; an address repeated in the import
    /// is added once.
    pub async fn import_members(
        &self,
        list: &str,
        lines: &[ImportLine],
    ) -> Result<Vec<MemberAdded>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let mut results = Vec::with_capacity(lines.len());
        let mut added_before = HashSet::new();
        for chunk in lines.chunks(IMPORT_CHUNK) {
            insert_members(&mut tx, chunk, now).await?;
            let ids = member_ids(&mut tx, chunk).await?;
            let added = insert_subscriptions(&mut tx, list, &ids, now).await?;
            for line in chunk {
                let id = *ids.get(&line.address).ok_or(sqlx::Error::RowNotFound)?;
                results.push(if added.contains(&id) && added_before.insert(id) {
                    MemberAdded::Added
                } else {
                    MemberAdded::AlreadyPresent
                });
            }
        }
        tx.commit().await?;
        if self.backend == Backend::Postgres && lines.len() >= ANALYZE_AFTER {
            // Until autovacuum gets to it, PostgreSQL plans the roster's queries for the
            // tables as they were before the import: on a list just grown by thousands,
            // a page of the web console's roster took a third of a second instead of a
            // millisecond (the benchmark of `tidings-bench console`).
            sqlx::query("ANALYZE members, subscriptions")
                .execute(&self.pool)
                .await?;
        }
        Ok(results)
    }

    /// Removes an address from a list; the member record stays for its other lists.
    pub async fn remove_member(&self, list: &str, address: &str) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let removed = unsubscribe_in(&mut tx, list, address).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes the membership an unsubscribe token names; returns the member when they were
    /// subscribed. Idempotent: a second click finds nothing to remove.
    pub async fn remove_member_by_id(&self, list: &str, member_id: i64) -> Result<Option<Member>> {
        let Some(member) = self.member(member_id).await? else {
            return Ok(None);
        };
        let removed = self.remove_member(list, &member.address).await?;
        Ok(removed.then_some(member))
    }

    /// A member by id, whatever their lists (`status` is empty here).
    pub async fn member(&self, member_id: i64) -> Result<Option<Member>> {
        Ok(
            sqlx::query_as("SELECT id, address, display_name, language FROM members WHERE id = $1")
                .bind(member_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn member_by_address(&self, address: &str) -> Result<Option<Member>> {
        Ok(sqlx::query_as(
            "SELECT id, address, display_name, language FROM members WHERE address = $1",
        )
        .bind(address)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The language of an address's notices, if tidings knows the address.
    pub async fn language_of(&self, address: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT language FROM members WHERE address = $1")
                .bind(address)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets the language of a known address; false when the address is unknown.
    pub async fn set_language(&self, address: &str, language: &str) -> Result<bool> {
        let updated = sqlx::query("UPDATE members SET language = $2 WHERE address = $1")
            .bind(address)
            .bind(language)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(updated > 0)
    }

    pub async fn members_of(&self, list: &str) -> Result<Vec<Member>> {
        Ok(sqlx::query_as(
            "SELECT m.id, m.address, m.display_name, m.language, s.status \
             FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE s.list_name = $1 ORDER BY m.address",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `address` has an active subscription to `list`.
    pub async fn is_subscribed(&self, list: &str, address: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT s.id FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE s.list_name = $1 AND m.address = $2 AND s.status = 'active'",
        )
        .bind(list)
        .bind(address)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Active subscribers per list, for `tidings lists`.
    pub async fn subscriber_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT list_name, COUNT(*) FROM subscriptions WHERE status = 'active' \
             GROUP BY list_name",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Lines of an import from which PostgreSQL's statistics are brought up to date at once.
const ANALYZE_AFTER: usize = 1_000;

/// Lines written per statement by an import: four values each, well under the limits of
/// SQLite (32,766) and PostgreSQL (65,535) on bound parameters.
const IMPORT_CHUNK: usize = 500;

/// `($1, $2, $3, $4), ($5, …)`: `rows` groups of `width` numbered placeholders.
fn placeholders(rows: usize, width: usize, first: usize) -> String {
    (0..rows)
        .map(|row| {
            let numbers: Vec<String> = (0..width)
                .map(|column| format!("${}", first + row * width + column))
                .collect();
            format!("({})", numbers.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn insert_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    lines: &[ImportLine],
    now: i64,
) -> Result<()> {
    // Only numbered placeholders are formatted into this SQL; every value is bound.
    let sql = format!(
        "INSERT INTO members (address, display_name, language, created_at) VALUES {} \
         ON CONFLICT (address) DO NOTHING",
        placeholders(lines.len(), 4, 1)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for line in lines {
        query = query
            .bind(&line.address)
            .bind(&line.display_name)
            .bind(&line.language)
            .bind(now);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// The member id of every line's address.
async fn member_ids(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    lines: &[ImportLine],
) -> Result<HashMap<String, i64>> {
    let numbers: Vec<String> = (1..=lines.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT address, id FROM members WHERE address IN ({})",
        numbers.join(", ")
    );
    let mut query = sqlx::query_as(AssertSqlSafe(sql));
    for line in lines {
        query = query.bind(&line.address);
    }
    Ok(query.fetch_all(&mut **tx).await?.into_iter().collect())
}

/// Subscribes the members to `list`; returns the ids of those who were not subscribed yet.
async fn insert_subscriptions(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    list: &str,
    ids: &HashMap<String, i64>,
    now: i64,
) -> Result<HashSet<i64>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    // `column1` is what SQLite and PostgreSQL both call a VALUES list's column; SQLite needs
    // the WHERE to read ON CONFLICT as the upsert clause, not as part of the SELECT.
    let sql = format!(
        "INSERT INTO subscriptions (list_name, created_at, member_id, status) \
         SELECT $1, $2, column1, 'active' FROM (VALUES {}) AS v \
         WHERE true ON CONFLICT (list_name, member_id) DO NOTHING RETURNING member_id",
        (3..3 + ids.len())
            .map(|n| format!("(CAST(${n} AS BIGINT))"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query_scalar(AssertSqlSafe(sql)).bind(list).bind(now);
    for id in ids.values() {
        query = query.bind(id);
    }
    Ok(query.fetch_all(&mut **tx).await?.into_iter().collect())
}

/// Subscribes `address` to `list` inside a transaction, creating the member when new.
pub(super) async fn subscribe_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    list: &str,
    address: &str,
    display_name: &str,
    language: &str,
    now: i64,
) -> Result<MemberAdded> {
    sqlx::query(
        "INSERT INTO members (address, display_name, language, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (address) DO NOTHING",
    )
    .bind(address)
    .bind(display_name)
    .bind(language)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let member_id: i64 = sqlx::query_scalar("SELECT id FROM members WHERE address = $1")
        .bind(address)
        .fetch_one(&mut **tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO subscriptions (list_name, member_id, status, created_at) \
         VALUES ($1, $2, 'active', $3) ON CONFLICT (list_name, member_id) DO NOTHING",
    )
    .bind(list)
    .bind(member_id)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(if inserted == 1 {
        MemberAdded::Added
    } else {
        MemberAdded::AlreadyPresent
    })
}

/// Removes `address` from `list` inside a transaction; false when it was not subscribed.
pub(super) async fn unsubscribe_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    list: &str,
    address: &str,
) -> Result<bool> {
    let removed = sqlx::query(
        "DELETE FROM subscriptions WHERE list_name = $1 \
         AND member_id = (SELECT id FROM members WHERE address = $2)",
    )
    .bind(list)
    .bind(address)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(removed > 0)
}

//! A list's roster read a page at a time, for the web console: it must stay quick on lists
//! of a hundred thousand members, so nothing here loads a whole roster.
//!
//! - Pages are keyset pages in address order (`address > after`, or `< before` read
//!   backwards): a late page costs what the first does, where an OFFSET would walk every
//!   row before it.
//! - The join is written members first (`CROSS JOIN`, which SQLite keeps in the order
//!   written): walking the unique index on `members.address` in order and probing the
//!   subscription's (list, member) key stops after one page, where starting from the list's
//!   subscriptions would sort all of them first. PostgreSQL plans the join as it sees fit.
//! - A search is a substring of the address or the name, whatever its case: addresses are
//!   stored lowercased, names are lowercased by the database (`LOWER` of SQLite folds ASCII
//!   letters only). It reads the whole roster in the database, since no index serves a
//!   substring, but sends back one page.
//! - Counts by status come from the index `subscriptions_by_list_status` alone.

use sqlx::AssertSqlSafe;

use super::{Result, Store};

/// One member of a list, as the roster shows them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RosterRow {
    pub member_id: i64,
    pub address: String,
    pub display_name: String,
    pub language: String,
    /// `active`, or `disabled` while deliveries are off for bouncing.
    pub status: String,
    pub bounce_score: i64,
}

/// Where a page of the roster starts, in address order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterPage<'a> {
    First,
    /// The page after this address.
    After(&'a str),
    /// The page before this address.
    Before(&'a str),
    /// The last page.
    Last,
}

const ROW: &str = "m.id AS member_id, m.address, m.display_name, m.language, s.status, \
                   s.bounce_score";

/// Members of list `$1`, `$2` the search pattern ('' for none), members first (see above).
const FROM_ROSTER: &str = "FROM members m CROSS JOIN subscriptions s \
    WHERE s.member_id = m.id AND s.list_name = $1 \
    AND ($2 = '' OR m.address LIKE $2 ESCAPE '\\' OR LOWER(m.display_name) LIKE $2 ESCAPE '\\')";

/// The LIKE pattern of a search: its text anywhere, `%`, `_` and `\` taken literally; ''
/// for an empty search.
pub fn search_pattern(search: &str) -> String {
    let search = search.trim().to_lowercase();
    if search.is_empty() {
        return String::new();
    }
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Up to `limit` members of `list` matching `search` (a substring of address or name,
    /// any case; empty for all), in address order, from `page`.
    pub async fn roster_page(
        &self,
        list: &str,
        search: &str,
        page: RosterPage<'_>,
        limit: i64,
    ) -> Result<Vec<RosterRow>> {
        let (bound, order) = match page {
            RosterPage::First => (None, "ASC"),
            RosterPage::After(address) => (Some(("AND m.address > $3", address)), "ASC"),
            RosterPage::Before(address) => (Some(("AND m.address < $3", address)), "DESC"),
            RosterPage::Last => (None, "DESC"),
        };
        let pattern = search_pattern(search);
        let query = |sql: String| {
            sqlx::query_as::<_, RosterRow>(AssertSqlSafe(sql))
                .bind(list)
                .bind(pattern.clone())
        };
        let mut rows = match bound {
            Some((condition, address)) => {
                query(format!(
                    "SELECT {ROW} {FROM_ROSTER} {condition} ORDER BY m.address {order} LIMIT $4"
                ))
                .bind(address)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                query(format!(
                    "SELECT {ROW} {FROM_ROSTER} ORDER BY m.address {order} LIMIT $3"
                ))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
        };
        if order == "DESC" {
            rows.reverse();
        }
        Ok(rows)
    }

    /// How many members of `list` match `search`; all of them for an empty search.
    pub async fn roster_count(&self, list: &str, search: &str) -> Result<i64> {
        if search.trim().is_empty() {
            let counts = self.roster_status_counts(list).await?;
            return Ok(counts.iter().map(|(_, n)| n).sum());
        }
        Ok(
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) {FROM_ROSTER}")))
                .bind(list)
                .bind(search_pattern(search))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Members of `list` per subscription status.
    pub async fn roster_status_counts(&self, list: &str) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT status, COUNT(*) FROM subscriptions WHERE list_name = $1 \
             GROUP BY status ORDER BY status",
        )
        .bind(list)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Member `member_id` of `list`; `None` when they are not subscribed to it.
    pub async fn roster_member(&self, list: &str, member_id: i64) -> Result<Option<RosterRow>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ROW} FROM members m JOIN subscriptions s ON s.member_id = m.id \
             WHERE s.list_name = $1 AND m.id = $2"
        )))
        .bind(list)
        .bind(member_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(search_pattern("  "), "");
        assert_eq!(search_pattern("Ana"), "%ana%");
        assert_eq!(search_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}

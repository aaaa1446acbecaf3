//! Sliding-window rate limits shared by every daemon on the database: how many times
//! something happened for a key (an address, a client IP) within the last window.

use super::{now_ms, Result, Store};

impl Store {
    /// Records one event for (`scope`, `key`) unless `limit` events already happened within
    /// `window_ms`; returns whether it was allowed.
    pub async fn rate_allow(
        &self,
        scope: &str,
        key: &str,
        limit: u64,
        window_ms: i64,
    ) -> Result<bool> {
        let now = now_ms();
        let since = now - window_ms;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM rate_events WHERE scope = $1 AND key = $2 AND at <= $3")
            .bind(scope)
            .bind(key)
            .bind(since)
            .execute(&mut *tx)
            .await?;
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM rate_events WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
        if count as u64 >= limit {
            return Ok(false);
        }
        sqlx::query("INSERT INTO rate_events (scope, key, at) VALUES ($1, $2, $3)")
            .bind(scope)
            .bind(key)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

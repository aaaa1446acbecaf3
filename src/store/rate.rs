//! Sliding-window rate limits shared by every daemon on the database: how many times
//! something happened for a key (an address, a client IP) within the last window.

use super::{now_ms, Result, Store};

/// At most `limit` events for (`scope`, `key`) within the last `window_ms`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    pub limit: u64,
    pub window_ms: i64,
}

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
        let limit = RateLimit {
            scope,
            key,
            limit,
            window_ms,
        };
        self.rate_allow_all(&[limit]).await
    }

    /// Records one event under each of `limits` if every one of them allows it, and none
    /// otherwise: a refusal by one limit does not use up the others.
    pub async fn rate_allow_all(&self, limits: &[RateLimit<'_>]) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        for limit in limits {
            if !take(&mut tx, limit).await? {
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Records one event under `limit` within `tx` unless the limit is reached; the caller
/// commits, or drops the transaction to take nothing.
pub(super) async fn take(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    limit: &RateLimit<'_>,
) -> Result<bool> {
    let now = now_ms();
    sqlx::query("DELETE FROM rate_events WHERE scope = $1 AND key = $2 AND at <= $3")
        .bind(limit.scope)
        .bind(limit.key)
        .bind(now - limit.window_ms)
        .execute(&mut **tx)
        .await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM rate_events WHERE scope = $1 AND key = $2")
            .bind(limit.scope)
            .bind(limit.key)
            .fetch_one(&mut **tx)
            .await?;
    if count as u64 >= limit.limit {
        return Ok(false);
    }
    sqlx::query("INSERT INTO rate_events (scope, key, at) VALUES ($1, $2, $3)")
        .bind(limit.scope)
        .bind(limit.key)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

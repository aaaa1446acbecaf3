//! Subscription requests on their way: `confirming` (waiting for the address to confirm),
//! `approving` (confirmed, waiting for an owner), then `done`, `rejected` or `expired`.
//! A request moves on only from the state it is expected in, so that every confirmation
//! token and every approval works once.

use sqlx::AssertSqlSafe;

use super::rate::{self, RateLimit};
use super::{now_ms, Result, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Subscribe,
    Unsubscribe,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Subscribe => "subscribe",
            RequestKind::Unsubscribe => "unsubscribe",
        }
    }
}

/// A kind as stored, which [`RequestKind::as_str`] wrote.
impl From<String> for RequestKind {
    fn from(text: String) -> RequestKind {
        if text == "unsubscribe" {
            RequestKind::Unsubscribe
        } else {
            RequestKind::Subscribe
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Request {
    pub id: i64,
    pub list_name: String,
    #[sqlx(try_from = "String")]
    pub kind: RequestKind,
    pub address: String,
    pub language: String,
    pub state: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl Request {
    pub fn is_expired(&self, now: i64) -> bool {
        self.state == "confirming" && self.expires_at <= now
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOpened {
    /// A new request, or the still-valid one the address already had for the same thing:
    /// either way a confirmation request is to be sent, and was counted.
    Open(Request),
    /// The list has too many requests waiting already.
    TooManyPending,
    /// The address has had as many confirmation requests as it may: nothing was opened,
    /// since a request that will never be confirmed must not hold one of the list's places.
    AddressLimited,
}

/// What bounds the opening of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// How long the request waits for its confirmation.
    pub lifetime_ms: i64,
    /// Requests waiting per list, for confirmation or approval.
    pub max_pending: i64,
    /// Confirmation requests one address may receive per `confirmations_window_ms`, all
    /// lists together.
    pub confirmations: u64,
    pub confirmations_window_ms: i64,
}

const COLUMNS: &str =
    "id, list_name, kind, address, language, state, reason, created_at, expires_at";

impl Store {
    /// Opens a request waiting for confirmation, or returns the one already waiting, and
    /// counts the confirmation request about to be sent to `address`; all or nothing.
    pub async fn open_request(
        &self,
        list: &str,
        kind: RequestKind,
        address: &str,
        language: &str,
        limits: &RequestLimits,
    ) -> Result<RequestOpened> {
        let now = now_ms();
        let confirmation = RateLimit {
            scope: "confirmation",
            key: address,
            limit: limits.confirmations,
            window_ms: limits.confirmations_window_ms,
        };
        let mut tx = self.begin_write().await?;
        let existing: Option<Request> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE address = $1 AND list_name = $2 AND kind = $3 \
             AND state = 'confirming' AND expires_at > $4 ORDER BY id DESC LIMIT 1"
        )))
        .bind(address)
        .bind(list)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(request) = existing {
            if !rate::take(&mut tx, &confirmation).await? {
                return Ok(RequestOpened::AddressLimited);
            }
            tx.commit().await?;
            return Ok(RequestOpened::Open(request));
        }
        let pending: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM requests WHERE list_name = $1 \
             AND ((state = 'confirming' AND expires_at > $2) OR state = 'approving')",
        )
        .bind(list)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if pending >= limits.max_pending {
            return Ok(RequestOpened::TooManyPending);
        }
        if !rate::take(&mut tx, &confirmation).await? {
            return Ok(RequestOpened::AddressLimited);
        }
        let request = sqlx::query_as(AssertSqlSafe(format!(
            "INSERT INTO requests (list_name, kind, address, language, state, created_at, \
             expires_at, updated_at) VALUES ($1, $2, $3, $4, 'confirming', $5, $6, $5) \
             RETURNING {COLUMNS}"
        )))
        .bind(list)
        .bind(kind.as_str())
        .bind(address)
        .bind(language)
        .bind(now)
        .bind(now.saturating_add(limits.lifetime_ms))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RequestOpened::Open(request))
    }

    pub async fn request(&self, id: i64) -> Result<Option<Request>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Moves a request from `from` to `to`; with `apply`, also makes the change it asks for
    /// (subscribe or unsubscribe), in the same transaction. Returns false when the request
    /// was not in state `from` (already used, or answered by someone else).
    pub async fn advance_request(
        &self,
        request: &Request,
        from: &str,
        to: &str,
        apply: bool,
        reason: &str,
    ) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE requests SET state = $3, reason = $4, updated_at = $5 WHERE id = $1 AND state = $2",
        )
        .bind(request.id)
        .bind(from)
        .bind(to)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            return Ok(false);
        }
        if apply {
            match request.kind {
                RequestKind::Subscribe => {
                    super::members::subscribe_in(
                        &mut tx,
                        &request.list_name,
                        &request.address,
                        "",
                        &request.language,
                        now,
                    )
                    .await?;
                }
                RequestKind::Unsubscribe => {
                    super::members::unsubscribe_in(&mut tx, &request.list_name, &request.address)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Requests of `list` waiting for an owner's approval, oldest first: `limit` of them
    /// after skipping `offset`.
    pub async fn approval_page(&self, list: &str, limit: i64, offset: i64) -> Result<Vec<Request>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE list_name = $1 AND state = 'approving' \
             ORDER BY id LIMIT $2 OFFSET $3"
        )))
        .bind(list)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many requests of `list` wait for an owner's approval.
    pub async fn approval_count(&self, list: &str) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM requests WHERE list_name = $1 AND state = 'approving'",
        )
        .bind(list)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Requests still waiting (unexpired confirmations and approvals), oldest first.
    pub async fn pending_requests(&self, list: Option<&str>) -> Result<Vec<Request>> {
        Ok(sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM requests WHERE ($1 = '' OR list_name = $1) \
             AND ((state = 'confirming' AND expires_at > $2) OR state = 'approving') ORDER BY id"
        )))
        .bind(list.unwrap_or(""))
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?)
    }
}

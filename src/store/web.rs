//! The web console's records: sign-in requests (one per emailed link) and sessions. What a
//! browser presents (the link's nonce, the session id in its cookie) is kept only as a hash,
//! which callers compute; comparing hashes tells nothing about the secrets behind them.

use super::{now_ms, Result, Store};

/// A signed-in browser, as its session id's hash finds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebSession {
    pub address: String,
    /// What the session's forms carry against cross-site requests.
    pub csrf_secret: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

/// A new session, to open when a sign-in link is used.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub csrf_secret: &'a str,
    /// A session presented by the same browser, to end: signing in again never keeps an
    /// old session id alive (no fixation).
    pub replaces: Option<&'a str>,
}

/// One of an address's own subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OwnSubscription {
    pub list_name: String,
    /// `active`, or `disabled` while its deliveries are off for bouncing.
    pub status: String,
    /// The member's language, in which every list writes to them.
    pub language: String,
    /// `each`, `daily` or `weekly` (see [`super::DeliveryMode`]).
    pub delivery_mode: String,
}

impl Store {
    /// Opens a sign-in request for `address`, valid `lifetime_ms`; returns its id. Spent
    /// requests and idle sessions are cleared on the way, so that neither table grows.
    pub async fn open_sign_in(
        &self,
        address: &str,
        nonce_hash: &str,
        lifetime_ms: i64,
        idle_ms: i64,
    ) -> Result<i64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sign_in_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM web_sessions WHERE last_seen_at <= $1")
            .bind(now - idle_ms)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sign_in_requests (address, nonce_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(address)
        .bind(nonce_hash)
        .bind(now)
        .bind(now + lifetime_ms)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether sign-in request `id` with that nonce can still be used.
    pub async fn sign_in_usable(&self, id: i64, nonce_hash: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM sign_in_requests WHERE id = $1 AND nonce_hash = $2 \
             AND used_at = 0 AND expires_at > $3",
        )
        .bind(id)
        .bind(nonce_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Uses sign-in request `id` and opens `session` for its address, in one transaction;
    /// returns the address, or `None` when the request is unknown, used or expired. Two
    /// presses at once open one session: only one can mark the request used.
    pub async fn redeem_sign_in(
        &self,
        id: i64,
        nonce_hash: &str,
        session: NewSession<'_>,
    ) -> Result<Option<String>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let address: Option<String> = sqlx::query_scalar(
            "UPDATE sign_in_requests SET used_at = $3 WHERE id = $1 AND nonce_hash = $2 \
             AND used_at = 0 AND expires_at > $3 RETURNING address",
        )
        .bind(id)
        .bind(nonce_hash)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(address) = address else {
            return Ok(None);
        };
        if let Some(old) = session.replaces {
            sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO web_sessions (id_hash, address, csrf_secret, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(session.id_hash)
        .bind(&address)
        .bind(session.csrf_secret)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(address))
    }

    /// The session whose id hashes to `id_hash`, unless it has been idle `idle_ms` or more.
    /// Its last sight is moved on when it is older than `refresh_ms`: writing on every page
    /// would make each visit a database write.
    pub async fn web_session(
        &self,
        id_hash: &str,
        idle_ms: i64,
        refresh_ms: i64,
    ) -> Result<Option<WebSession>> {
        let now = now_ms();
        let session: Option<WebSession> = sqlx::query_as(
            "SELECT address, csrf_secret, created_at, last_seen_at FROM web_sessions \
             WHERE id_hash = $1 AND last_seen_at > $2",
        )
        .bind(id_hash)
        .bind(now - idle_ms)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut session) = session else {
            return Ok(None);
        };
        if now - session.last_seen_at >= refresh_ms {
            sqlx::query("UPDATE web_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(id_hash)
                .bind(now)
                .execute(&self.pool)
                .await?;
            session.last_seen_at = now;
        }
        Ok(Some(session))
    }

    /// Ends one session; false when there was none.
    pub async fn end_web_session(&self, id_hash: &str) -> Result<bool> {
        let ended = sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(ended.rows_affected() > 0)
    }

    /// Ends every session of `address`; returns how many there were.
    pub async fn end_web_sessions_of(&self, address: &str) -> Result<u64> {
        let ended = sqlx::query("DELETE FROM web_sessions WHERE address = $1")
            .bind(address)
            .execute(&self.pool)
            .await?;
        Ok(ended.rows_affected())
    }

    /// The subscriptions of `address` and no one else's, by list name.
    pub async fn subscriptions_of(&self, address: &str) -> Result<Vec<OwnSubscription>> {
        Ok(sqlx::query_as(
            "SELECT s.list_name, s.status, m.language, s.delivery_mode \
             FROM subscriptions s JOIN members m ON m.id = s.member_id \
             WHERE m.address = $1 ORDER BY s.list_name",
        )
        .bind(address)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ImportLine;

    const DAY: i64 = 24 * 3_600_000;

    async fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&format!("sqlite://{}/web.db", dir.path().display()), 2)
            .await
            .expect("store")
    }

    fn session<'a>(id_hash: &'a str, replaces: Option<&'a str>) -> NewSession<'a> {
        NewSession {
            id_hash,
            csrf_secret: "csrf",
            replaces,
        }
    }

    #[tokio::test]
    async fn a_sign_in_request_opens_one_session_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let id = store
            .open_sign_in("ana@example.org", "nonce", 60_000, DAY)
            .await
            .expect("open");
        assert!(store.sign_in_usable(id, "nonce").await.expect("read"));
        assert!(!store.sign_in_usable(id, "other").await.expect("read"));
        let wrong = store
            .redeem_sign_in(id, "other", session("s0", None))
            .await
            .expect("redeem");
        assert_eq!(wrong, None);
        let first = store
            .redeem_sign_in(id, "nonce", session("s1", None))
            .await
            .expect("redeem");
        assert_eq!(first.as_deref(), Some("ana@example.org"));
        let again = store
            .redeem_sign_in(id, "nonce", session("s2", None))
            .await
            .expect("redeem");
        assert_eq!(again, None);
        assert!(!store.sign_in_usable(id, "nonce").await.expect("read"));
        let found = store.web_session("s1", DAY, 0).await.expect("read");
        assert_eq!(found.map(|s| s.address).as_deref(), Some("ana@example.org"));
        assert_eq!(store.web_session("s2", DAY, 0).await.expect("read"), None);
        store.close().await;
    }

    #[tokio::test]
    async fn sessions_end_idle_replaced_singly_and_all_at_once() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let open = |hash: &'static str, replaces: Option<&'static str>| {
            let store = store.clone();
            async move {
                let id = store
                    .open_sign_in("ben@example.org", "n", 60_000, DAY)
                    .await
                    .expect("open");
                store
                    .redeem_sign_in(id, "n", session(hash, replaces))
                    .await
                    .expect("redeem")
            }
        };
        assert!(open("a", None).await.is_some());
        assert!(open("b", Some("a")).await.is_some());
        assert_eq!(store.web_session("a", DAY, 0).await.expect("read"), None);
        assert!(open("c", None).await.is_some());
        // An expired request is not usable, and a session idle for longer than allowed is gone.
        let id = store
            .open_sign_in("ben@example.org", "late", -1, DAY)
            .await
            .expect("open");
        assert!(!store.sign_in_usable(id, "late").await.expect("read"));
        assert_eq!(store.web_session("b", 0, 0).await.expect("read"), None);
        assert!(store.end_web_session("b").await.expect("end"));
        assert!(!store.end_web_session("b").await.expect("end"));
        assert_eq!(
            store
                .end_web_sessions_of("ben@example.org")
                .await
                .expect("end"),
            1
        );
        assert_eq!(store.web_session("c", DAY, 0).await.expect("read"), None);
        store.close().await;
    }

    #[tokio::test]
    async fn subscriptions_of_an_address_are_its_own() {
        let dir = tempfile::tempdir().expect("dir");
        let store = store(&dir).await;
        let line = |address: &str, language: &str| ImportLine {
            address: address.into(),
            display_name: String::new(),
            language: language.into(),
        };
        store
            .add_member("news", &line("ana@example.org", "fr"))
            .await
            .expect("add");
        store
            .add_member("team", &line("ana@example.org", "fr"))
            .await
            .expect("add");
        store
            .add_member("team", &line("ben@example.org", "en"))
            .await
            .expect("add");
        let own = store
            .subscriptions_of("ana@example.org")
            .await
            .expect("read");
        let lists: Vec<&str> = own.iter().map(|s| s.list_name.as_str()).collect();
        assert_eq!(lists, ["news", "team"]);
        assert!(own
            .iter()
            .all(|s| s.language == "fr" && s.status == "active"));
        assert!(store
            .subscriptions_of("nobody@example.org")
            .await
            .expect("read")
            .is_empty());
        store.close().await;
    }
}

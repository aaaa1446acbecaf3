//! The daemons sharing the database (table `nodes`): each registers under its own identity
//! and renews a heartbeat; a node whose heartbeat is older than the take-over time is dead,
//! and the claims it held are released for the living. Heartbeats are stamped with the
//! database's clock, so that the machines' clocks need not agree for a node to be judged.
//!
//! Also the back-off destinations share (table `destination_pauses`): a pause one node
//! learnt from a `4xx` reply holds for every node.

use super::{Backend, Result, Store};

/// A node that registered, as the table says.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NodeRow {
    pub id: String,
    pub host: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
}

/// What a take-over did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenOver {
    /// The dead node.
    pub node: String,
    /// Its claims made due again.
    pub released: u64,
}

impl Store {
    /// Epoch milliseconds by the database's clock, in this backend's SQL.
    fn database_now(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// Registers node `id` of `host`, alive now. A node registering anew (after it was
    /// taken for dead) keeps its start time.
    pub async fn register_node(&self, id: &str, host: &str) -> Result<()> {
        let now = self.database_now();
        let sql = format!(
            "INSERT INTO nodes (id, host, started_at, heartbeat_at) VALUES ($1, $2, {now}, {now}) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(host)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Renews node `id`'s heartbeat; false when its row is gone, that is when another node
    /// took it for dead and released its claims.
    pub async fn heartbeat(&self, id: &str) -> Result<bool> {
        let now = self.database_now();
        let sql = format!("UPDATE nodes SET heartbeat_at = {now} WHERE id = $1");
        let renewed = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(renewed == 1)
    }

    /// The registered nodes, live or not, oldest first.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        Ok(sqlx::query_as(
            "SELECT id, host, started_at, heartbeat_at FROM nodes ORDER BY started_at, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many nodes heartbeat within the last `takeover_ms` (at least the caller, once it
    /// has registered).
    pub async fn live_nodes(&self, takeover_ms: i64) -> Result<i64> {
        let now = self.database_now();
        let sql = format!("SELECT COUNT(*) FROM nodes WHERE heartbeat_at >= {now} - $1");
        Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(takeover_ms)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Takes over every node whose last heartbeat is older than `takeover_ms`: its row goes
    /// and its claims are due at once. Several live nodes may try at once; each dead node
    /// is taken over by one of them (the one whose delete found the row).
    pub async fn take_over_dead_nodes(&self, takeover_ms: i64) -> Result<Vec<TakenOver>> {
        let now = self.database_now();
        let sql = format!("SELECT id FROM nodes WHERE heartbeat_at < {now} - $1");
        let dead: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(takeover_ms)
            .fetch_all(&self.pool)
            .await?;
        let mut taken = Vec::new();
        for node in dead {
            let mut tx = self.begin_write().await?;
            // Checked again under the delete: the node may have come back since.
            let sql = format!("DELETE FROM nodes WHERE id = $1 AND heartbeat_at < {now} - $2");
            let deleted = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&node)
                .bind(takeover_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                continue;
            }
            let released = super::deliveries::release_claims_of(&mut tx, &node).await?
                + super::claims::release_message_claims_of(&mut tx, &node).await?;
            tx.commit().await?;
            taken.push(TakenOver { node, released });
        }
        Ok(taken)
    }

    /// Node `id` stops for good: what it still holds is due at once, and its row goes.
    pub async fn retire_node(&self, id: &str) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let released = super::deliveries::release_claims_of(&mut tx, id).await?
            + super::claims::release_message_claims_of(&mut tx, id).await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(released)
    }

    /// Records that `domain` is paused until `until` (epoch ms) after `strikes` `4xx`
    /// replies in a row, unless a longer pause is already recorded.
    pub async fn share_pause(&self, domain: &str, until: i64, strikes: i64) -> Result<()> {
        let longer = match self.backend {
            Backend::Postgres => "GREATEST(destination_pauses.paused_until, excluded.paused_until)",
            Backend::Sqlite => "MAX(destination_pauses.paused_until, excluded.paused_until)",
        };
        let sql = format!(
            "INSERT INTO destination_pauses (domain, paused_until, strikes) VALUES ($1, $2, $3) \
             ON CONFLICT (domain) DO UPDATE SET paused_until = {longer}, strikes = excluded.strikes"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(domain)
            .bind(until)
            .bind(strikes)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The destinations paused past `now_ms`, with the end of each pause; pauses that have
    /// ended are forgotten on the way.
    pub async fn shared_pauses(&self, now_ms: i64) -> Result<Vec<(String, i64)>> {
        sqlx::query("DELETE FROM destination_pauses WHERE paused_until <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_as(
            "SELECT domain, paused_until FROM destination_pauses WHERE paused_until > $1",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// Registers node `id` at the start of its process, and frees the claims (on deliveries,
    /// commands and bounces) nobody will take over otherwise; returns how many. On PostgreSQL those are claims of nodes with
    /// no row (left by a version that named nodes by host name alone): a dead
    /// predecessor's claims are its own node's, left to the take-over. On SQLite, which
    /// one daemon uses at a time, every claim and every other node is a predecessor's: all
    /// its claims come free at once, and its rows go.
    pub async fn start_node(&self, id: &str, host: &str) -> Result<u64> {
        if self.backend == Backend::Postgres {
            self.register_node(id, host).await?;
        }
        let mut tx = self.begin_write().await?;
        let deliveries = match self.backend {
            Backend::Sqlite => {
                sqlx::query("DELETE FROM nodes WHERE id <> $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'sending'")
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
            Backend::Postgres => sqlx::query(
                "UPDATE deliveries SET next_attempt_at = 0 WHERE state = 'sending' \
                 AND next_attempt_at > $1 \
                 AND NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = deliveries.claimed_by)",
            )
            .bind(super::now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        let messages =
            super::claims::release_orphaned_message_claims(&mut tx, self.backend).await?;
        tx.commit().await?;
        if self.backend == Backend::Sqlite {
            self.register_node(id, host).await?;
        }
        Ok(deliveries + messages)
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema_tests::FreshPostgresSchema;
    use super::*;

    /// Claims one delivery queued for `recipient` in the name of `node`, for a minute.
    async fn claimed_by(store: &Store, node: &str, recipient: &str) -> i64 {
        store
            .queue_notice("news", &[recipient.into()], b"Subject: n\r\n\r\nx\r\n")
            .await
            .expect("notice queued");
        let claimed = store
            .claim_deliveries(node, 10, 60_000)
            .await
            .expect("claimed");
        assert_eq!(claimed.len(), 1);
        claimed[0].id
    }

    async fn dead_nodes_are_taken_over(store: &Store) {
        store
            .register_node("dead", "host-a")
            .await
            .expect("dead registers");
        store
            .register_node("alive", "host-b")
            .await
            .expect("alive registers");
        let held = claimed_by(store, "dead", "a@example.org").await;
        let kept = claimed_by(store, "alive", "b@example.org").await;
        assert_eq!(store.live_nodes(30_000).await.expect("count"), 2);
        assert!(store
            .take_over_dead_nodes(30_000)
            .await
            .expect("none dead")
            .is_empty());

        // The dead node's last heartbeat is a minute old.
        sqlx::query("UPDATE nodes SET heartbeat_at = heartbeat_at - 60000 WHERE id = 'dead'")
            .execute(&store.pool)
            .await
            .expect("aged");
        assert_eq!(store.live_nodes(30_000).await.expect("count"), 1);
        let taken = store.take_over_dead_nodes(30_000).await.expect("take over");
        assert_eq!(
            taken,
            vec![TakenOver {
                node: "dead".into(),
                released: 1
            }]
        );
        assert!(store
            .take_over_dead_nodes(30_000)
            .await
            .expect("again")
            .is_empty());
        // Its delivery is due again, the live node's is not.
        let claimed = store
            .claim_deliveries("alive", 10, 60_000)
            .await
            .expect("claim");
        let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![held]);
        assert_ne!(held, kept);
        // The dead node, back after a stall, learns it was taken for dead.
        assert!(!store.heartbeat("dead").await.expect("heartbeat"));
        assert!(store.heartbeat("alive").await.expect("heartbeat"));

        // A clean stop releases the node's own claims and removes it.
        assert_eq!(store.retire_node("alive").await.expect("retired"), 2);
        assert!(store.nodes().await.expect("nodes").is_empty());
    }

    #[tokio::test]
    async fn a_node_whose_heartbeat_stopped_is_taken_over_by_the_living() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sqlite = Store::open(&format!("sqlite://{}/nodes.db", dir.path().display()), 1)
            .await
            .expect("SQLite store");
        dead_nodes_are_taken_over(&sqlite).await;
        sqlite.close().await;
        let Some(postgres) = FreshPostgresSchema::create("nodes_takeover").await else {
            return;
        };
        let store = Store::open(&postgres.url, 2)
            .await
            .expect("PostgreSQL store");
        dead_nodes_are_taken_over(&store).await;
        store.close().await;
        postgres.drop().await;
    }

    /// What a starting node frees: on PostgreSQL claims no registered node holds; on
    /// SQLite, whose one daemon's predecessor held them all, every claim.
    async fn starting_frees(store: &Store) -> (u64, Vec<String>) {
        store
            .register_node("running", "host-a")
            .await
            .expect("registers");
        claimed_by(store, "running", "a@example.org").await;
        claimed_by(store, "old-host-name", "b@example.org").await;
        let released = store.start_node("new", "host-b").await.expect("started");
        let nodes = store.nodes().await.expect("nodes");
        (released, nodes.into_iter().map(|n| n.id).collect())
    }

    #[tokio::test]
    async fn a_starting_node_frees_only_claims_no_take_over_will() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let sqlite = Store::open(&format!("sqlite://{}/start.db", dir.path().display()), 1)
            .await
            .expect("SQLite store");
        assert_eq!(starting_frees(&sqlite).await, (2, vec!["new".to_string()]));
        sqlite.close().await;
        let Some(postgres) = FreshPostgresSchema::create("nodes_start").await else {
            return;
        };
        let store = Store::open(&postgres.url, 2)
            .await
            .expect("PostgreSQL store");
        let (released, mut nodes) = starting_frees(&store).await;
        nodes.sort();
        assert_eq!((released, nodes), (1, vec!["new".into(), "running".into()]));
        store.close().await;
        postgres.drop().await;
    }

    #[tokio::test]
    async fn a_pause_is_shared_until_it_ends() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(&format!("sqlite://{}/pauses.db", dir.path().display()), 1)
            .await
            .expect("SQLite store");
        store
            .share_pause("slow.example", 5_000, 1)
            .await
            .expect("shared");
        // A shorter pause recorded later does not cut the longer one.
        store
            .share_pause("slow.example", 3_000, 2)
            .await
            .expect("shared");
        assert_eq!(
            store.shared_pauses(1_000).await.expect("read"),
            vec![("slow.example".to_string(), 5_000)]
        );
        assert!(store.shared_pauses(5_000).await.expect("read").is_empty());
        store.close().await;
    }
}

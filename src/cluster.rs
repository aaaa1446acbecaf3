//! Several daemons on one PostgreSQL database: who this process is among them, that it is
//! alive, and what happens to the work of one that died.
//!
//! Each process is a node of its own, under a [`NodeIdentity`] made at start: the host
//! name (or `[delivery] node_name`), the process id and a random suffix, so that two
//! daemons on one host never pass for one another. Whatever a node claims from the
//! database in its own name (today: deliveries, see `store::deliveries`) it claims under
//! [`NodeIdentity::id`]; a part that wants to claim something once across the cluster does
//! the same, and leaves its claims to the take-over below when the node dies.
//!
//! The [`run`] task (supervised, one per daemon) renews the node's heartbeat in table
//! `nodes` every [`heartbeat_interval`], and on each beat takes over every node whose
//! heartbeat is older than `[cluster] takeover_seconds`: its claims are due at once, so
//! that members wait for a dead node seconds rather than the length of its leases. It also
//! counts the live nodes and reads the destinations' shared back-off, both kept in
//! [`Membership`] for the delivery workers, which pace every destination for the cluster as
//! a whole.
//!
//! A node that stops cleanly retires ([`retire`]): what it still holds is due at once and
//! its row goes. A restart is a new node; on PostgreSQL its dead predecessor is taken over
//! like any other. SQLite serves one daemon, whose predecessor's claims come free at start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::signals::Signals;
use crate::store::{now_ms, Store, StoreError};

/// Who this process is among the daemons sharing the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    id: String,
    host: String,
}

impl NodeIdentity {
    /// A new identity for this process, named after `name` (the host name when the
    /// configuration gives none), with the process id and a random suffix.
    pub fn new(name: &str) -> NodeIdentity {
        let host = hostname::get()
            .map(|host| host.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let name = if name.is_empty() { host.as_str() } else { name };
        let suffix: u32 = rand::random();
        NodeIdentity {
            id: format!("{name}-{}-{suffix:08x}", std::process::id()),
            host,
        }
    }

    /// The identity claims are made under; unique to this process.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The machine the node runs on.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl std::fmt::Display for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// What the heartbeat learns of the cluster, for the parts that pace themselves by it.
#[derive(Debug)]
pub struct Membership {
    live: AtomicUsize,
    /// Destinations paused by any node, with the end of each pause (epoch ms).
    pauses: Mutex<HashMap<String, i64>>,
}

impl Default for Membership {
    /// Alone, until the first heartbeat says otherwise.
    fn default() -> Self {
        Membership {
            live: AtomicUsize::new(1),
            pauses: Mutex::default(),
        }
    }
}

impl Membership {
    /// The nodes whose heartbeat is fresh, this one included: at least 1.
    pub fn live_nodes(&self) -> usize {
        self.live.load(Ordering::Relaxed).max(1)
    }

    /// Until when (epoch ms) some node paused `domain`, if one did.
    pub fn shared_pause(&self, domain: &str) -> Option<i64> {
        let pauses = self.pauses.lock().unwrap_or_else(PoisonError::into_inner);
        pauses.get(domain).copied()
    }

    /// Set by each heartbeat (and by tests).
    pub fn set_live_nodes(&self, live: usize) {
        self.live.store(live.max(1), Ordering::Relaxed);
    }

    /// Set by each heartbeat (and by tests).
    pub fn set_pauses(&self, pauses: HashMap<String, i64>) {
        *self.pauses.lock().unwrap_or_else(PoisonError::into_inner) = pauses;
    }
}

/// How often a node renews its heartbeat: a quarter of the take-over time, so that three
/// beats may be late before it passes for dead, between half a second and five seconds.
pub fn heartbeat_interval(takeover: Duration) -> Duration {
    (takeover / 4).clamp(Duration::from_millis(500), Duration::from_secs(5))
}

/// Registers the node at the start of its process and frees what its predecessor left
/// that no take-over will (see [`Store::start_node`]).
pub async fn join(store: &Store, node: &NodeIdentity) -> Result<u64, StoreError> {
    let released = store.start_node(node.id(), node.host()).await?;
    tracing::info!(node = %node, host = node.host(), "node registered");
    if released > 0 {
        tracing::info!(
            released,
            "resuming deliveries, commands and bounces interrupted by the last stop"
        );
    }
    Ok(released)
}

/// The node stops for good: its remaining claims are due at once, and it leaves the table.
pub async fn retire(store: &Store, node: &NodeIdentity) {
    match store.retire_node(node.id()).await {
        Ok(released) => tracing::info!(node = %node, released, "node retired"),
        Err(error) => {
            tracing::warn!(node = %node, %error, "cannot retire the node; it will be taken over")
        }
    }
}

/// Runs `work` (a stopping daemon's last transactions) while renewing the node's
/// heartbeat every second: the heartbeat task has stopped with the rest, and a node that
/// went quiet while finishing would be taken over, its copies in hand sent twice.
pub async fn beating_while<F: std::future::Future>(
    store: &Store,
    node: &NodeIdentity,
    work: F,
) -> F::Output {
    tokio::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => return output,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        // The work's tasks run on their own meanwhile; only noticing their end waits.
        if let Err(error) = store.heartbeat(node.id()).await {
            tracing::warn!(node = %node, %error, "heartbeat failed while stopping");
        }
    }
}

/// What the heartbeat task works with.
#[derive(Clone)]
pub struct Heartbeat {
    pub node: Arc<NodeIdentity>,
    pub store: Store,
    /// `[cluster] takeover_seconds`.
    pub takeover: Duration,
    pub membership: Arc<Membership>,
    /// Woken when a take-over made deliveries due; stopped by its shutdown.
    pub signals: Signals,
}

/// Beats until the daemon stops.
pub async fn run(heartbeat: Heartbeat) {
    let mut shutdown = heartbeat.signals.shutdown.clone();
    let interval = heartbeat_interval(heartbeat.takeover);
    while !*shutdown.borrow() {
        if let Err(error) = heartbeat.beat().await {
            tracing::error!(node = %heartbeat.node, %error, "heartbeat failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

impl Heartbeat {
    /// One beat: renew, take over the dead, count the living, read the shared pauses.
    pub async fn beat(&self) -> Result<(), StoreError> {
        let (store, node) = (&self.store, &self.node);
        if !store.heartbeat(node.id()).await? {
            // Another node took this one for dead (a stall, a lost database connection)
            // and released its claims: its workers find out as they renew their leases.
            tracing::warn!(node = %node, "this node was taken for dead; registering again");
            store.register_node(node.id(), node.host()).await?;
        }
        let takeover_ms = i64::try_from(self.takeover.as_millis()).unwrap_or(i64::MAX);
        let taken = store.take_over_dead_nodes(takeover_ms).await?;
        for dead in &taken {
            tracing::warn!(node = %node, dead = %dead.node, released = dead.released, "took over the claims of a node whose heartbeat stopped");
        }
        if taken.iter().any(|dead| dead.released > 0) {
            self.signals.queued.notify_waiters();
        }
        let live = store.live_nodes(takeover_ms).await?;
        self.membership
            .set_live_nodes(usize::try_from(live).unwrap_or(1));
        let pauses = store.shared_pauses(now_ms()).await?;
        self.membership.set_pauses(pauses.into_iter().collect());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_processes_of_one_name_are_two_nodes() {
        let (a, b) = (NodeIdentity::new("mx1"), NodeIdentity::new("mx1"));
        assert_ne!(a.id(), b.id());
        assert!(a.id().starts_with(&format!("mx1-{}-", std::process::id())));
        assert!(!NodeIdentity::new("").id().starts_with('-'));
    }

    #[test]
    fn heartbeats_go_several_times_within_the_takeover_time() {
        assert_eq!(
            heartbeat_interval(Duration::from_secs(30)),
            Duration::from_secs(5)
        );
        assert_eq!(
            heartbeat_interval(Duration::from_secs(3)),
            Duration::from_millis(750)
        );
        assert_eq!(
            heartbeat_interval(Duration::from_secs(2)),
            Duration::from_millis(500)
        );
    }
}

//! Per-destination pacing, by recipient domain: at most `destination_concurrency`
//! transactions to one domain at a time, and a domain that answers 4xx is slowed down (its
//! concurrency halved, and a pause before the next attempt that doubles while the 4xx
//! replies go on) while the other domains keep their rate. Each success gives back one
//! transaction of concurrency; a success after a pause ends the doubling.
//!
//! The limits hold for the cluster, not per daemon. Concurrency is divided among the live
//! nodes (their count comes with each heartbeat, see [`crate::cluster::Membership`]): each
//! of N nodes runs at most `destination_concurrency / N` transactions to a domain (at least
//! one), so N daemons together stay within the setting without asking the database about
//! every copy. A pause after `4xx` replies is shared through the database: the node that
//! was answered `4xx` records it, and the others heed it from their next heartbeat on
//! (within seconds). Halving after a `4xx` stays each node's own, learnt from its own
//! replies.
//!
//! The state is this daemon's own, in memory: a reload carries it over (with the new
//! settings), a restart starts every domain afresh (pauses recorded in the database
//! excepted).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::cluster::Membership;

/// A pause doubles at most this many times (64 × the configured back-off).
const MAX_DOUBLINGS: u32 = 6;
/// How long a transaction waits for a domain at its concurrency limit before the delivery
/// is put back in the queue instead.
const WAIT_FOR_ROOM: Duration = Duration::from_secs(1);
const WAIT_STEP: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Destination {
    limit: usize,
    in_flight: usize,
    /// 4xx replies in a row.
    strikes: u32,
    /// Epoch ms before which nothing is sent there.
    paused_until: i64,
}

pub struct Destinations {
    /// The settings, which a reload may change while the state goes on.
    max: AtomicUsize,
    backoff_ms: AtomicI64,
    states: Mutex<HashMap<String, Destination>>,
    /// The live nodes and the pauses they share; alone by default.
    membership: Arc<Membership>,
}

/// The right to run one transaction to a domain; gives it back when dropped.
pub struct Permit {
    destinations: Arc<Destinations>,
    domain: String,
}

impl Destinations {
    pub fn new(max: usize, backoff_seconds: u64) -> Arc<Destinations> {
        let destinations = Destinations {
            max: AtomicUsize::new(1),
            backoff_ms: AtomicI64::new(0),
            states: Mutex::new(HashMap::new()),
            membership: Arc::default(),
        };
        destinations.reconfigure(max, backoff_seconds);
        Arc::new(destinations)
    }

    /// The same pacing, held for the cluster that `membership` describes (see the module's
    /// documentation). Call before any permit is given.
    pub fn shared_by(self: Arc<Self>, membership: Arc<Membership>) -> Arc<Destinations> {
        let max = self.max.load(Ordering::Relaxed);
        let backoff_ms = self.backoff_ms.load(Ordering::Relaxed);
        Arc::new(Destinations {
            max: AtomicUsize::new(max),
            backoff_ms: AtomicI64::new(backoff_ms),
            states: Mutex::new(HashMap::new()),
            membership,
        })
    }

    /// Takes new settings, keeping what each domain has shown: a reload must not send a
    /// burst to a domain that is being slowed down.
    pub fn reconfigure(&self, max: usize, backoff_seconds: u64) {
        let backoff_ms = i64::try_from(backoff_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.max.store(max.max(1), Ordering::Relaxed);
        self.backoff_ms.store(backoff_ms, Ordering::Relaxed);
    }

    /// This node's share of the configured concurrency per domain: the whole of it divided
    /// among the live nodes, rounded down so that together they stay within it, at least 1.
    fn max(&self) -> usize {
        (self.max.load(Ordering::Relaxed) / self.membership.live_nodes()).max(1)
    }

    /// A permit for one transaction to `domain`, or the epoch ms when to try again: the
    /// domain is paused, or stayed at its concurrency limit for a while.
    pub async fn admit(
        self: &Arc<Self>,
        domain: &str,
        now_ms: impl Fn() -> i64,
    ) -> Result<Permit, i64> {
        let steps = WAIT_FOR_ROOM.as_millis() / WAIT_STEP.as_millis();
        for _ in 0..steps {
            match self.try_admit(domain, now_ms()) {
                Admission::Go => {
                    return Ok(Permit {
                        destinations: Arc::clone(self),
                        domain: domain.to_string(),
                    })
                }
                Admission::Paused(until) => return Err(until),
                Admission::Full => tokio::time::sleep(WAIT_STEP).await,
            }
        }
        Err(now_ms() + WAIT_FOR_ROOM.as_millis() as i64)
    }

    fn try_admit(&self, domain: &str, now: i64) -> Admission {
        let mut states = self.lock();
        let state = states.entry(domain.to_string()).or_insert(Destination {
            limit: self.max(),
            in_flight: 0,
            strikes: 0,
            paused_until: 0,
        });
        let paused_until = match self.membership.shared_pause(domain) {
            Some(shared) => state.paused_until.max(shared),
            None => state.paused_until,
        };
        if paused_until > now {
            return Admission::Paused(paused_until);
        }
        // The share shrinks when another node joins; a limit learnt earlier may exceed it.
        if state.in_flight >= state.limit.min(self.max()) {
            return Admission::Full;
        }
        state.in_flight += 1;
        Admission::Go
    }

    fn report(&self, domain: &str, temporary_failure: bool, now: i64) -> Option<Pause> {
        let mut states = self.lock();
        let state = states.get_mut(domain)?;
        if temporary_failure {
            state.strikes = state.strikes.saturating_add(1);
            state.limit = (state.limit / 2).max(1);
            let doublings = (state.strikes - 1).min(MAX_DOUBLINGS);
            let pause = self
                .backoff_ms
                .load(Ordering::Relaxed)
                .saturating_mul(1 << doublings);
            state.paused_until = state.paused_until.max(now.saturating_add(pause));
            tracing::info!(
                domain,
                limit = state.limit,
                pause_ms = pause,
                "destination answered 4xx: slowing down"
            );
            Some(Pause {
                until: state.paused_until,
                strikes: state.strikes,
            })
        } else {
            state.strikes = 0;
            state.limit = (state.limit + 1).min(self.max());
            None
        }
    }

    fn release(&self, domain: &str) {
        let mut states = self.lock();
        let Some(state) = states.get_mut(domain) else {
            return;
        };
        state.in_flight = state.in_flight.saturating_sub(1);
        // A domain back to normal is forgotten: the map holds the busy and the troubled only.
        if state.in_flight == 0 && state.strikes == 0 && state.limit == self.max() {
            states.remove(domain);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Destination>> {
        self.states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A pause a destination's `4xx` replies called for, to be shared with the other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// Epoch ms.
    pub until: i64,
    /// `4xx` replies in a row.
    pub strikes: u32,
}

enum Admission {
    Go,
    Full,
    Paused(i64),
}

impl Permit {
    /// What the destination answered: a 4xx slows it down, anything else lets it recover.
    /// The pause a 4xx called for, which the other nodes should heed too.
    pub fn report(&self, temporary_failure: bool, now_ms: i64) -> Option<Pause> {
        self.destinations
            .report(&self.domain, temporary_failure, now_ms)
    }

    /// The domain this permit is for.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.destinations.release(&self.domain);
    }
}

/// The domain deliveries to `recipient` are paced by.
pub fn domain_of(recipient: &str) -> String {
    recipient
        .rsplit_once('@')
        .map_or(recipient, |(_, domain)| domain)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(d: &Destinations, domain: &str) -> Option<Destination> {
        d.lock().get(domain).copied()
    }

    #[tokio::test]
    async fn concurrency_is_limited_per_domain() {
        let d = Destinations::new(2, 60);
        let a1 = d.admit("a.example", || 0).await.expect("first");
        let _a2 = d.admit("a.example", || 0).await.expect("second");
        assert!(matches!(d.try_admit("a.example", 0), Admission::Full));
        let _b = d.admit("b.example", || 0).await.expect("another domain");
        drop(a1);
        assert!(d.admit("a.example", || 0).await.is_ok());
    }

    #[tokio::test]
    async fn a_4xx_halves_and_pauses_that_domain_only_and_success_recovers() {
        let d = Destinations::new(8, 60);
        let permit = d.admit("slow.example", || 0).await.expect("admitted");
        permit.report(true, 1_000);
        drop(permit);
        assert_eq!(d.admit("slow.example", || 2_000).await.err(), Some(61_000));
        assert!(d.admit("fast.example", || 2_000).await.is_ok());
        let s = state(&d, "slow.example").expect("remembered");
        assert_eq!((s.limit, s.strikes), (4, 1));

        // Still failing after the pause: the next pause is twice as long.
        let permit = d
            .admit("slow.example", || 61_000)
            .await
            .expect("after the pause");
        permit.report(true, 62_000);
        drop(permit);
        assert_eq!(
            d.admit("slow.example", || 63_000).await.err(),
            Some(182_000)
        );
        assert_eq!(state(&d, "slow.example").map(|s| s.limit), Some(2));

        // Successes give concurrency back one by one, then the domain is forgotten.
        for limit in [3, 4, 5, 6, 7, 8] {
            let permit = d
                .admit("slow.example", || 200_000)
                .await
                .expect("recovered");
            permit.report(false, 200_000);
            if limit < 8 {
                assert_eq!(
                    state(&d, "slow.example").map(|s| (s.limit, s.strikes)),
                    Some((limit, 0))
                );
            }
        }
        assert_eq!(state(&d, "slow.example"), None);
    }

    #[test]
    fn domains_are_compared_without_case() {
        assert_eq!(domain_of("Ana@NGO.Example"), "ngo.example");
    }

    #[tokio::test]
    async fn new_settings_keep_what_each_domain_has_shown() {
        let d = Destinations::new(8, 60);
        let permit = d.admit("slow.example", || 0).await.expect("admitted");
        permit.report(true, 1_000);
        drop(permit);
        d.reconfigure(2, 10);
        // Still paused as before the reload; the next pause follows the new back-off, and
        // no domain is given more than the new limit.
        assert_eq!(d.admit("slow.example", || 2_000).await.err(), Some(61_000));
        let permit = d.admit("slow.example", || 61_000).await.expect("after it");
        permit.report(true, 61_000);
        drop(permit);
        assert_eq!(d.admit("slow.example", || 62_000).await.err(), Some(81_000));
        let _one = d.admit("other.example", || 0).await.expect("one");
        let _two = d.admit("other.example", || 0).await.expect("two");
        assert!(matches!(d.try_admit("other.example", 0), Admission::Full));
    }

    #[tokio::test]
    async fn the_live_nodes_share_a_domains_concurrency_and_its_pauses() {
        let membership = Arc::new(Membership::default());
        let d = Destinations::new(10, 60).shared_by(Arc::clone(&membership));
        membership.set_live_nodes(3);
        // 10 among 3 nodes: 3 each, 9 together, within the 10 configured.
        let held: Vec<Permit> = {
            let mut held = Vec::new();
            for _ in 0..3 {
                held.push(
                    d.admit("big.example", || 0)
                        .await
                        .expect("within the share"),
                );
            }
            held
        };
        assert!(matches!(d.try_admit("big.example", 0), Admission::Full));
        drop(held);
        // More nodes than the setting: still one each.
        membership.set_live_nodes(20);
        let _one = d.admit("big.example", || 0).await.expect("one");
        assert!(matches!(d.try_admit("big.example", 0), Admission::Full));

        // A pause another node recorded holds here too, until it ends.
        membership.set_pauses(HashMap::from([("slow.example".to_string(), 5_000)]));
        assert_eq!(d.admit("slow.example", || 1_000).await.err(), Some(5_000));
        assert!(d.admit("slow.example", || 5_000).await.is_ok());
    }

    #[tokio::test]
    async fn a_4xx_says_which_pause_to_share() {
        let d = Destinations::new(8, 60);
        let permit = d.admit("slow.example", || 0).await.expect("admitted");
        assert_eq!(
            permit.report(true, 1_000),
            Some(Pause {
                until: 61_000,
                strikes: 1
            })
        );
        drop(permit);
        let permit = d.admit("fast.example", || 0).await.expect("admitted");
        assert_eq!(permit.report(false, 1_000), None);
    }
}

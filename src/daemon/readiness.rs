//! The daemon's answer to `/readyz`: the database answers, the relay was reached lately or
//! can be reached now, every task runs, and no due delivery has waited too long.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::config::RelayConfig;
use crate::health::RelayContact;
use crate::store::{now_ms, Store};
use crate::supervisor::{Liveness, TaskState};
use crate::web::readiness::{Readiness, Report};

/// A relay that answered a worker within this long needs no new connection to prove it.
const RELAY_RECENT_MS: i64 = 5 * 60 * 1000;
/// Each check's own limit, so that a hung database or relay makes an answer, not a hang.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);
/// A due delivery that has waited longer than this means delivery is stuck, not busy: a
/// fan-out to 100,000 members takes some ten seconds here.
const DUE_WAIT_LIMIT_MS: i64 = 10 * 60 * 1000;

pub struct DaemonReadiness {
    pub store: Store,
    pub relay: RelayConfig,
    pub relay_contact: Arc<RelayContact>,
    pub liveness: Arc<Liveness>,
}

impl Readiness for DaemonReadiness {
    fn check(&self) -> Pin<Box<dyn Future<Output = Report> + Send + '_>> {
        Box::pin(self.report())
    }
}

impl DaemonReadiness {
    async fn report(&self) -> Report {
        let now = now_ms();
        let mut reasons = Vec::new();
        let database = match tokio::time::timeout(CHECK_TIMEOUT, self.store.ping()).await {
            Ok(Ok(())) => "ok".to_string(),
            Ok(Err(error)) => format!("unavailable: {error}"),
            Err(_) => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
        };
        if database != "ok" {
            reasons.push(format!("database {database}"));
        }
        let (relay, relay_ok) = self.relay_state(now).await;
        if !relay_ok {
            reasons.push(format!("relay {relay}"));
        }
        let tasks_not_running: Vec<String> = self
            .liveness
            .not_running()
            .into_iter()
            .map(|(name, state)| match state {
                TaskState::Restarting => format!("{name}: restarting"),
                TaskState::GivenUp => format!("{name}: given up"),
                TaskState::Running => name,
            })
            .collect();
        reasons.extend(tasks_not_running.iter().map(|task| format!("task {task}")));
        let oldest_due = match self.store.oldest_due_delivery(now).await {
            Ok(oldest) => oldest.map(|due| (now - due).max(0)),
            Err(_) => None,
        };
        if let Some(waited) = oldest_due.filter(|waited| *waited > DUE_WAIT_LIMIT_MS) {
            reasons.push(format!("a due delivery has waited {} s", waited / 1000));
        }
        Report {
            ready: reasons.is_empty(),
            reasons,
            database,
            relay,
            tasks_not_running,
            oldest_due_delivery_seconds: oldest_due.map(|waited| waited / 1000),
        }
    }

    /// What is known of the relay, and whether that is good enough.
    async fn relay_state(&self, now: i64) -> (String, bool) {
        if let Some(last) = self.relay_contact.last_ms() {
            if now - last <= RELAY_RECENT_MS {
                return (format!("reached {} s ago", (now - last) / 1000), true);
            }
        }
        let address = (self.relay.host.as_str(), self.relay.port);
        match tokio::time::timeout(CHECK_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(_)) => {
                // Counted as contact, so that a monitor asking every few seconds of a quiet
                // day opens one connection to the relay per five minutes, not one per ask.
                self.relay_contact.reached(now);
                ("reachable".to_string(), true)
            }
            Ok(Err(error)) => (format!("unreachable: {error}"), false),
            Err(_) => (
                format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
                false,
            ),
        }
    }
}

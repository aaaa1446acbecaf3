//! How the daemon's stages wake each other, and how they learn to stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

#[derive(Clone)]
pub struct Signals {
    /// A posting or owner message was committed by the inbound side.
    pub accepted: Arc<Notify>,
    /// Deliveries were queued.
    pub queued: Arc<Notify>,
    /// An email command was committed.
    pub commands: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
    /// Fallback for work queued by another process on the same database.
    pub poll_interval: Duration,
}

impl Signals {
    /// Waits, when a stage found nothing to do, until `wake` fires, the poll interval passes
    /// or the daemon stops.
    pub async fn idle(&self, wake: &Notify, shutdown: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(self.poll_interval) => {}
            _ = shutdown.changed() => {}
        }
    }
}

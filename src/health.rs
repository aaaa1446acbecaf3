//! What the daemon's readiness is judged by, kept where the stages that know it can say
//! so: when the relay last answered. (Which tasks run is the supervisor's to say.)

use std::sync::atomic::{AtomicI64, Ordering};

/// When a delivery worker last reached the relay, in milliseconds since the epoch; 0 until
/// one has.
#[derive(Debug, Default)]
pub struct RelayContact {
    last_ms: AtomicI64,
}

impl RelayContact {
    pub fn reached(&self, now_ms: i64) {
        self.last_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    /// `None` until the relay has been reached once.
    pub fn last_ms(&self) -> Option<i64> {
        Some(self.last_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }
}

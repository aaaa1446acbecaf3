//! Keeps the daemon's long-running tasks running. A task that panics, or ends while the
//! daemon is not stopping, is logged with its name and started again after a pause that
//! doubles with each failure; a task that keeps failing is given up on, and the daemon is
//! told so that it can exit and let the service manager (systemd) start it afresh, rather
//! than run on without, say, its expander, while its listeners still take mail in.
//!
//! tokio's `JoinSet` alone would only report the end of a task; restarting needs a way to
//! make the task again, so each task is given as a function that starts it.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;

/// How failures are met.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The pause before the first restart; it doubles with each further failure.
    pub first_pause: Duration,
    /// The longest pause.
    pub longest_pause: Duration,
    /// More failures than this within [`Policy::window`] and the task is given up on.
    pub failures_allowed: usize,
    pub window: Duration,
}

impl Default for Policy {
    /// One second, doubling to a minute; five failures in ten minutes are forgiven, the
    /// sixth is not. A task that ran through a whole window starts over from one second.
    fn default() -> Self {
        Policy {
            first_pause: Duration::from_secs(1),
            longest_pause: Duration::from_secs(60),
            failures_allowed: 5,
            window: Duration::from_secs(600),
        }
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Running,
    /// Failed, and waiting to be started again.
    Restarting,
    GivenUp,
}

/// The state of every task, as the readiness check reads it.
#[derive(Debug, Default)]
pub struct Liveness {
    states: Mutex<BTreeMap<String, TaskState>>,
}

impl Liveness {
    /// The tasks that are not running, by name.
    pub fn not_running(&self) -> Vec<(String, TaskState)> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states
            .iter()
            .filter(|(_, state)| **state != TaskState::Running)
            .map(|(name, state)| (name.clone(), *state))
            .collect()
    }

    fn set(&self, name: &str, state: TaskState) {
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        states.insert(name.to_string(), state);
    }
}

/// The supervised tasks of one daemon.
pub struct Supervisor {
    tasks: JoinSet<()>,
    liveness: Arc<Liveness>,
    policy: Policy,
    shutdown: watch::Receiver<bool>,
    /// The name of the first task given up on.
    gave_up: Arc<watch::Sender<Option<String>>>,
}

impl Supervisor {
    /// Tasks stop being restarted once `shutdown` says true.
    pub fn new(policy: Policy, shutdown: watch::Receiver<bool>) -> Supervisor {
        Supervisor {
            tasks: JoinSet::new(),
            liveness: Arc::default(),
            policy,
            shutdown,
            gave_up: Arc::new(watch::Sender::new(None)),
        }
    }

    /// Runs the task that `start` makes, and makes it again each time it fails.
    pub fn spawn<F, Fut>(&mut self, name: impl Into<String>, start: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let watch = Watch {
            name: name.into(),
            policy: self.policy,
            shutdown: self.shutdown.clone(),
            gave_up: Arc::clone(&self.gave_up),
            liveness: Arc::clone(&self.liveness),
        };
        self.tasks.spawn(watch.keep_running(start));
    }

    /// Which tasks run, as they come and go.
    pub fn liveness(&self) -> Arc<Liveness> {
        Arc::clone(&self.liveness)
    }

    /// Resolves with the name of a task that kept failing, once one has.
    pub fn given_up(&self) -> impl Future<Output = String> + Send + 'static {
        let mut gave_up = self.gave_up.subscribe();
        async move {
            let name = match gave_up.wait_for(Option::is_some).await {
                Ok(name) => name.clone(),
                Err(_) => None,
            };
            match name {
                Some(name) => name,
                // The supervisor is gone, and with it every task: nothing can fail any more.
                None => std::future::pending().await,
            }
        }
    }

    /// Waits for every task to end (after the shutdown signal), at most `limit`; true when
    /// they all did, false when the rest had to be cut short.
    pub async fn join(&mut self, limit: Duration) -> bool {
        let joined = tokio::time::timeout(limit, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if joined.is_err() {
            self.tasks.abort_all();
            while self.tasks.join_next().await.is_some() {}
        }
        joined.is_ok()
    }
}

/// One task's keeper.
struct Watch {
    name: String,
    policy: Policy,
    shutdown: watch::Receiver<bool>,
    gave_up: Arc<watch::Sender<Option<String>>>,
    liveness: Arc<Liveness>,
}

impl Watch {
    async fn keep_running<F, Fut>(mut self, start: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut failures: VecDeque<Instant> = VecDeque::new();
        let mut pause = self.policy.first_pause;
        loop {
            let started = Instant::now();
            self.liveness.set(&self.name, TaskState::Running);
            // Run apart, so that a panic ends that task and not this keeper; aborted with
            // the keeper when the daemon stops waiting for it.
            let outcome = Aborting(tokio::spawn(start())).finish().await;
            if *self.shutdown.borrow() {
                return;
            }
            let why = failure(outcome);
            if started.elapsed() >= self.policy.window {
                pause = self.policy.first_pause;
            }
            let now = Instant::now();
            failures.push_back(now);
            while failures
                .front()
                .is_some_and(|at| now.duration_since(*at) > self.policy.window)
            {
                failures.pop_front();
            }
            if failures.len() > self.policy.failures_allowed {
                self.liveness.set(&self.name, TaskState::GivenUp);
                tracing::error!(task = %self.name, %why, failures = failures.len(), "task keeps failing; giving up on it");
                self.gave_up.send_if_modified(|first| {
                    let unset = first.is_none();
                    if unset {
                        *first = Some(self.name.clone());
                    }
                    unset
                });
                return;
            }
            self.liveness.set(&self.name, TaskState::Restarting);
            tracing::error!(task = %self.name, %why, pause_ms = pause.as_millis() as u64, "task failed; starting it again");
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = self.shutdown.wait_for(|stopping| *stopping) => return,
            }
            pause = (pause * 2).min(self.policy.longest_pause);
        }
    }
}

/// What ended a task that should not have ended.
fn failure(outcome: Result<(), JoinError>) -> String {
    match outcome {
        Ok(()) => "it ended on its own".to_string(),
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            format!("panic: {}", message.as_deref().unwrap_or("(no message)"))
        }
        Err(error) => error.to_string(),
    }
}

/// A spawned task that is aborted if its handle is dropped before it ends.
struct Aborting(JoinHandle<()>);

impl Aborting {
    async fn finish(mut self) -> Result<(), JoinError> {
        (&mut self.0).await
    }
}

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn quick(failures_allowed: usize) -> Policy {
        Policy {
            first_pause: Duration::from_millis(1),
            longest_pause: Duration::from_millis(4),
            failures_allowed,
            window: Duration::from_secs(60),
        }
    }

    /// A task that runs `n` times: it panics the first `panics` times, then works until
    /// the shutdown.
    fn flaky(
        starts: &Arc<AtomicUsize>,
        panics: usize,
        shutdown: &watch::Receiver<bool>,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync + 'static
    {
        let starts = Arc::clone(starts);
        let shutdown = shutdown.clone();
        move || {
            let n = starts.fetch_add(1, Ordering::SeqCst);
            let mut shutdown = shutdown.clone();
            Box::pin(async move {
                assert!(n >= panics, "injected failure {n}");
                let _ = shutdown.wait_for(|stopping| *stopping).await;
            })
        }
    }

    #[tokio::test]
    async fn a_panicking_task_is_started_again_and_goes_on() {
        let (stop, shutdown) = watch::channel(false);
        let mut supervisor = Supervisor::new(quick(5), shutdown.clone());
        let starts = Arc::new(AtomicUsize::new(0));
        supervisor.spawn("flaky", flaky(&starts, 3, &shutdown));
        while starts.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let given_up = supervisor.given_up();
        tokio::select! {
            name = given_up => panic!("gave up on {name}"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        assert_eq!(
            starts.load(Ordering::SeqCst),
            4,
            "running since the fourth start"
        );
        stop.send(true).expect("stop");
        assert!(supervisor.join(Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn a_task_that_keeps_failing_is_given_up_on_and_named() {
        let (_stop, shutdown) = watch::channel(false);
        let mut supervisor = Supervisor::new(quick(2), shutdown.clone());
        let starts = Arc::new(AtomicUsize::new(0));
        supervisor.spawn("steady", flaky(&starts, 0, &shutdown));
        let failing = Arc::new(AtomicUsize::new(0));
        supervisor.spawn("broken", flaky(&failing, usize::MAX, &shutdown));
        let name = tokio::time::timeout(Duration::from_secs(5), supervisor.given_up())
            .await
            .expect("given up in time");
        assert_eq!(name, "broken");
        assert_eq!(
            supervisor.liveness().not_running(),
            [("broken".to_string(), TaskState::GivenUp)]
        );
        // Started once, and again for each failure forgiven.
        assert_eq!(failing.load(Ordering::SeqCst), 3);
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_task_that_ends_on_its_own_is_a_failure_but_not_at_shutdown() {
        let (stop, shutdown) = watch::channel(false);
        let mut supervisor = Supervisor::new(quick(1), shutdown);
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        supervisor.spawn("returns", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        let name = tokio::time::timeout(Duration::from_secs(5), supervisor.given_up())
            .await
            .expect("given up in time");
        assert_eq!(name, "returns");
        assert_eq!(starts.load(Ordering::SeqCst), 2);

        stop.send(true).expect("stop");
        let mut stopping = Supervisor::new(quick(1), stop.subscribe());
        let ran = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&ran);
        stopping.spawn("returns", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        assert!(stopping.join(Duration::from_secs(5)).await);
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "not started again while stopping"
        );
    }
}

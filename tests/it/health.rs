//! `/healthz` and `/readyz` over real HTTP: ready when the database answers, the relay is
//! reached and every task runs; a 503 naming the reason otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::{eventually, http, Harness, TestDb, DOMAIN};
use tidings::publications::clock::{Clock, ManualClock};

on_both_databases!(
    a_working_daemon_is_ready,
    an_unreachable_relay_makes_it_not_ready,
    a_task_that_is_restarting_makes_it_not_ready_until_it_runs,
    metrics_count_what_happened_and_read_the_queue,
);

async fn readyz(h: &Harness) -> (u16, serde_json::Value) {
    let web = h.daemon.http_addr.expect("HTTP listener");
    let (status, headers, body) = http(web, "GET", "/readyz", "").await;
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{headers}"
    );
    let report = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, report)
}

async fn a_working_daemon_is_ready(db: &TestDb) {
    let h = Harness::start(db).await;
    let web = h.daemon.http_addr.expect("HTTP listener");
    let (status, _, body) = http(web, "GET", "/healthz", "").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    let (status, report) = readyz(&h).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ready"], true);
    assert_eq!(report["database"], "ok");
    // No copy sent yet: the relay is tried.
    assert_eq!(report["relay"], "reachable");
    h.subscribe("open", &["reader@ngo.example"]).await;
    h.write(
        "p@ngo.example",
        &format!("open@{DOMAIN}"),
        "Hi",
        "Hello\r\n",
    )
    .await;
    let (status, report) = readyz(&h).await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report["relay"]
            .as_str()
            .is_some_and(|r| r.starts_with("reached ")),
        "{report}"
    );
    assert_eq!(report["tasks_not_running"], serde_json::json!([]));
    assert_eq!(
        report["oldest_due_delivery_seconds"],
        serde_json::Value::Null
    );
    h.daemon.shutdown().await;
}

async fn an_unreachable_relay_makes_it_not_ready(db: &TestDb) {
    // Nothing listens on the discard port of this machine.
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "[relay]\nhost = \"127.0.0.1\"\nport = ",
            "[relay]\nhost = \"127.0.0.1\"\nport = 9\n# the test's sink: ",
        )
    })
    .await;
    let (status, report) = readyz(&h).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["ready"], false);
    assert_eq!(report["database"], "ok");
    let reasons = report["reasons"].to_string();
    assert!(reasons.contains("relay unreachable"), "{report}");
    h.daemon.shutdown().await;
}

/// A clock that fails the scheduler's readings while it is armed.
#[derive(Default)]
struct FailingClock {
    time: ManualClock,
    armed: AtomicUsize,
}

impl Clock for FailingClock {
    fn now_ms(&self) -> i64 {
        assert_eq!(
            self.armed.load(Ordering::SeqCst),
            0,
            "injected failure of the scheduler"
        );
        self.time.now_ms()
    }
}

async fn a_task_that_is_restarting_makes_it_not_ready_until_it_runs(db: &TestDb) {
    let clock = Arc::new(FailingClock::default());
    let h = Harness::start_with_clock(db, |toml| toml, Arc::clone(&clock) as _).await;
    clock.armed.store(1, Ordering::SeqCst);
    let started = &h;
    // The digest scheduler reads the same clock and fails too: wait for the publication
    // scheduler's restart to show.
    eventually(|| async move {
        let (status, report) = readyz(started).await;
        let restarting = report["tasks_not_running"]
            .to_string()
            .contains("publication scheduler: restarting");
        (status == 503 && restarting).then_some(())
    })
    .await
    .expect("not ready while the scheduler fails, naming it");
    clock.armed.store(0, Ordering::SeqCst);
    let ready = eventually(|| async move {
        let (status, report) = readyz(started).await;
        (status == 200).then_some(report)
    })
    .await;
    assert!(ready.is_some(), "ready again once the scheduler runs");
    h.daemon.shutdown().await;
}

/// The value of the first series whose line starts with `series` (name and labels).
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

/// `/metrics` on its own listener, in Prometheus's text format. The figures of every daemon
/// of this test process add up (one recorder per process), so only their presence and
/// lower bounds are asserted.
async fn metrics_count_what_happened_and_read_the_queue(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("open", &["reader@ngo.example", "other@ngo.example"])
        .await;
    h.write(
        "p@ngo.example",
        &format!("open@{DOMAIN}"),
        "Hi",
        "Hello\r\n",
    )
    .await;
    let outsider = crate::common::message("x@elsewhere.example", "nosuch", "x", "x\r\n");
    let reply = h
        .smtp()
        .await
        .post(
            "x@elsewhere.example",
            &format!("nosuch@{DOMAIN}"),
            &outsider,
        )
        .await;
    assert!(reply.starts_with("550"), "{reply}");

    let metrics = h.daemon.metrics_addr.expect("metrics listener");
    let (status, headers, text) = http(metrics, "GET", "/metrics", "").await;
    assert_eq!(status, 200, "{text}");
    assert!(headers.contains("text/plain"), "{headers}");
    let at_least = |series: &str, floor: f64| {
        let value = value_of(&text, series).unwrap_or_else(|| panic!("no {series} in {text}"));
        assert!(value >= floor, "{series} = {value}");
    };
    at_least("tidings_deliveries_total{outcome=\"sent\"}", 2.0);
    at_least("tidings_relay_transaction_seconds_count", 1.0);
    at_least("tidings_relay_transaction_seconds_bucket{le=\"+Inf\"}", 1.0);
    at_least("tidings_inbound_sessions_total{protocol=\"smtp\"}", 2.0);
    at_least("tidings_inbound_refusals_total{reason=\"550 5.1.1\"}", 1.0);
    // Read from this daemon's database when asked.
    assert_eq!(
        value_of(&text, "tidings_queue_depth{state=\"sent\"}"),
        Some(2.0)
    );
    assert_eq!(value_of(&text, "tidings_held_postings"), Some(0.0));
    assert_eq!(
        value_of(&text, "tidings_oldest_due_delivery_seconds"),
        Some(0.0)
    );
    // Not on the public listener.
    let web = h.daemon.http_addr.expect("HTTP listener");
    assert_eq!(http(web, "GET", "/metrics", "").await.0, 404);
    h.daemon.shutdown().await;
}

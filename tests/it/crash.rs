//! `kill -9` of the daemon in the middle of a fan-out, then a restart: every subscriber is
//! served, and duplicates are bounded by what was in flight at the crash.

use std::time::Duration;

use crate::common::process::{copies_per_recipient, Setup};
use crate::common::{message, SmtpClient, TestDb, DOMAIN};
use tidings_testkit::sink::Sink;

const SUBSCRIBERS: usize = 600;
/// Deliveries a daemon can have claimed at once: relay pool_size × batch_size in the test
/// configuration. Only those may be sent twice.
const IN_FLIGHT: usize = 2 * 20;

on_both_databases!(killed_mid_fan_out_resumes_after_restart);

async fn killed_mid_fan_out_resumes_after_restart(db: &TestDb) {
    // A slow relay, so that the kill lands while the fan-out is under way.
    let sink = Sink::start_slow(true, Duration::from_millis(4))
        .await
        .expect("sink");
    let addresses: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("member{i:04}@ngo.example"))
        .collect();
    let setup = Setup::new(db, &sink, &addresses);

    let mut daemon = setup.spawn(None);
    let smtp = setup.smtp().await;
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Fan-out", "Hello all\r\n");
    let reply = SmtpClient::connect(smtp)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");

    let before_kill = sink.wait_for(100, Duration::from_secs(60)).await;
    assert!(before_kill >= 100, "fan-out did not start");
    daemon.kill().expect("SIGKILL");
    let _ = daemon.wait();
    let at_kill = sink.count() as usize;
    assert!(
        at_kill < SUBSCRIBERS,
        "the kill came after the fan-out ended ({at_kill})"
    );

    let mut daemon = setup.spawn(None);
    let mut unique = 0;
    for _ in 0..600 {
        unique = copies_per_recipient(&sink).len();
        if unique == SUBSCRIBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = daemon.kill();
    let _ = daemon.wait();

    let per_recipient = copies_per_recipient(&sink);
    assert_eq!(
        unique, SUBSCRIBERS,
        "every subscriber served after the restart"
    );
    let duplicates: usize = per_recipient.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= IN_FLIGHT,
        "{duplicates} duplicates, more than the {IN_FLIGHT} deliveries that can be in flight"
    );
}

//! `kill -9` of the daemon in the middle of a fan-out, then a restart: every subscriber is
//! served, and duplicates are bounded by what was in flight at the crash.

use std::time::Duration;

use tidings::config::{DeliveryConfig, RelayConfig};

use crate::common::process::{copies_per_recipient, Setup};
use crate::common::{message, SmtpClient, TestDb, DOMAIN};
use tidings_testkit::sink::Sink;

const SUBSCRIBERS: usize = 700;
/// Copies out before the kill: more than the bound, so that re-sending everything sent so
/// far (as recording outcomes per claimed batch did) fails the test.
const BEFORE_KILL: u64 = 300;

/// Runs the daemon with the shipped relay pool, transaction size and batch size, and
/// answers how many copies may go out twice: `pool_size × max_recipients_per_transaction`.
/// Outcomes are recorded as they happen, so a whole claimed batch (`pool_size ×
/// batch_size`, more than all the subscribers here) is not.
fn with_shipped_settings(setup: &Setup) -> usize {
    let (relay, delivery) = (RelayConfig::default(), DeliveryConfig::default());
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let text = text
        .replace(
            "pool_size = 2\n",
            &format!("pool_size = {}\n", relay.pool_size),
        )
        .replace(
            "max_recipients_per_transaction = 2\n",
            &format!(
                "max_recipients_per_transaction = {}\n",
                relay.max_recipients_per_transaction
            ),
        )
        .replace(
            "batch_size = 20\n",
            &format!("batch_size = {}\n", delivery.batch_size),
        );
    std::fs::write(&setup.config, text).expect("config");
    let bound = relay.pool_size * relay.max_recipients_per_transaction;
    assert!(delivery.batch_size * relay.pool_size > SUBSCRIBERS && (BEFORE_KILL as usize) > bound);
    bound
}

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
    let in_flight = with_shipped_settings(&setup);

    let mut daemon = setup.spawn(None);
    let smtp = setup.smtp().await;
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Fan-out", "Hello all\r\n");
    let reply = SmtpClient::connect(smtp)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");

    let before_kill = sink.wait_for(BEFORE_KILL, Duration::from_secs(60)).await;
    assert!(before_kill >= BEFORE_KILL, "fan-out did not start");
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
    eprintln!("killed after {at_kill} copies: {duplicates} sent twice (bound {in_flight})");
    assert!(
        duplicates <= in_flight,
        "{duplicates} duplicates, more than the {in_flight} copies that can be in flight"
    );
}

//! Several daemons on one PostgreSQL database, as child processes: a fan-out survives one
//! daemon killed (`kill -9`) and one stopped (`SIGTERM`) mid-way, every member is served
//! long before the dead daemon's leases would run out, and duplicates stay within what the
//! killed daemon had in flight. SQLite runs a single daemon; the lease test runs there with
//! one.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use tidings::config::{DeliveryConfig, RelayConfig};

use crate::common::process::{copies_per_recipient, free_port, logged, signal, Setup};
use crate::common::{message, SmtpClient, TestDb, DOMAIN};
use tidings_testkit::sink::Sink;

const SUBSCRIBERS: usize = 30_000;
/// Long enough that a fan-out finishing within the test's bounds proves the take-over, not
/// the lease, freed the dead daemon's claims.
const LEASE_SECONDS: u64 = 900;
/// Short, so that the test need not wait for the shipped 30 s.
const TAKEOVER_SECONDS: u64 = 3;

/// One more configuration file next to `setup`'s, for another daemon on the same database:
/// its own SMTP port, `edit` applied to the text.
fn another_daemon(setup: &Setup, name: &str, edit: impl Fn(String) -> String) -> (PathBuf, u16) {
    let port = free_port();
    let text = std::fs::read_to_string(&setup.config).expect("config");
    let text = edit(text.replace(
        &format!("smtp_listen = \"127.0.0.1:{}\"", setup.port),
        &format!("smtp_listen = \"127.0.0.1:{port}\""),
    ));
    let path = setup.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("config");
    (path, port)
}

/// `tidings serve` on `config`, its log in `log`.
fn spawn(config: &Path, log: &Path) -> Child {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"));
    command
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("TIDINGS_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).expect("log file"));
    command.spawn().expect("daemon starts")
}

/// The shipped relay pool, transaction size and batch size, a long lease and a short
/// take-over; answers how many copies one killed daemon may have had in flight.
fn cluster_settings(text: String) -> String {
    let (relay, delivery) = (RelayConfig::default(), DeliveryConfig::default());
    text.replace(
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
    )
    .replace(
        "lease_seconds = 60\n",
        &format!("lease_seconds = {LEASE_SECONDS}\n"),
    )
    .replace(
        "takeover_seconds = 3\n",
        &format!("takeover_seconds = {TAKEOVER_SECONDS}\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_daemons_survive_one_killed_and_one_stopped_mid_fan_out() {
    // Three daemons on one database: PostgreSQL only (SQLite serves a single daemon).
    let Some(db) = TestDb::postgres("cluster_fan_out").await else {
        return;
    };
    let sink = Sink::start(true).await.expect("sink");
    let addresses: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("member{i:05}@ngo{}.example", i % 7))
        .collect();
    let setup = Setup::new(&db, &sink, &addresses);
    let text = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(&setup.config, cluster_settings(text)).expect("config");
    let relay = RelayConfig::default();
    let in_flight_per_killed = relay.pool_size * relay.max_recipients_per_transaction;

    let logs: Vec<PathBuf> = ["killed", "stopped", "survivor"]
        .iter()
        .map(|name| setup.dir.path().join(format!("{name}.log")))
        .collect();
    let (second, _) = another_daemon(&setup, "second", |t| t);
    let (third, _) = another_daemon(&setup, "third", |t| t);
    let mut killed = spawn(&setup.config, &logs[0]);
    let mut stopped = spawn(&second, &logs[1]);
    let mut survivor = spawn(&third, &logs[2]);
    for log in &logs {
        assert!(
            logged(log, "node registered").await,
            "a daemon did not start"
        );
    }

    let smtp = setup.smtp().await;
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Fan-out", "Hello all\r\n");
    let reply = SmtpClient::connect(smtp)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");

    // A third of the way: kill -9 one daemon, with its claims in hand.
    let third_way = (SUBSCRIBERS / 3) as u64;
    assert!(sink.wait_for(third_way, Duration::from_secs(300)).await >= third_way);
    killed.kill().expect("SIGKILL");
    let _ = killed.wait();
    let at_kill = sink.count();
    let kill_time = Instant::now();
    // Half-way: stop another cleanly.
    let half_way = (SUBSCRIBERS / 2) as u64;
    assert!(sink.wait_for(half_way, Duration::from_secs(300)).await >= half_way);
    signal(&stopped, "TERM");
    let at_stop = sink.count();
    let stop_status = crate::common::process::exit_status(&mut stopped).await;
    assert!(
        (at_kill as usize) < SUBSCRIBERS && (at_stop as usize) < SUBSCRIBERS,
        "the fan-out ended before the kill ({at_kill}) or the stop ({at_stop})"
    );

    // The survivor finishes alone, bounded well inside the dead daemon's lease.
    let mut unique = 0;
    let deadline = Instant::now() + Duration::from_secs(LEASE_SECONDS / 3);
    while Instant::now() < deadline {
        unique = copies_per_recipient(&sink).len();
        if unique == SUBSCRIBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after_kill = kill_time.elapsed();
    // The stopped daemon or the survivor, whichever beat first after the take-over time.
    let took_over: String = logs[1..]
        .iter()
        .map(|log| std::fs::read_to_string(log).unwrap_or_default())
        .collect();
    signal(&survivor, "TERM");
    let survivor_status = crate::common::process::exit_status(&mut survivor).await;

    let per_recipient = copies_per_recipient(&sink);
    let duplicates: usize = per_recipient.values().map(|n| n - 1).sum();
    eprintln!(
        "killed at {at_kill} copies, stopped at {at_stop}; all {unique} served {:.1} s after the \
         kill (take-over {TAKEOVER_SECONDS} s, lease {LEASE_SECONDS} s); {duplicates} sent \
         twice (bound {in_flight_per_killed})",
        after_kill.as_secs_f64()
    );
    assert_eq!(unique, SUBSCRIBERS, "every member served");
    assert!(
        duplicates <= in_flight_per_killed,
        "{duplicates} duplicates, more than the {in_flight_per_killed} copies one killed daemon \
         can have in flight"
    );
    assert!(
        took_over.contains("took over the claims of a node whose heartbeat stopped"),
        "a live daemon took the killed one's claims over:\n{took_over}"
    );
    assert!(stop_status.is_some_and(|s| s.success()), "{stop_status:?}");
    assert!(
        survivor_status.is_some_and(|s| s.success()),
        "{survivor_status:?}"
    );
    // The stopped daemons retired, the killed one was removed by the take-over.
    let store = tidings::store::Store::open(&db.url, 1)
        .await
        .expect("store");
    assert!(store.nodes().await.expect("nodes").is_empty());
    assert_eq!(store.unfinished_deliveries().await.expect("queue"), 0);
    store.close().await;
    db.cleanup().await;
}

on_both_databases!(a_slow_relay_never_lets_another_worker_send_the_same_copies);

/// A batch takes several leases to send: the worker renews its lease, and neither the other
/// workers nor (on PostgreSQL) another daemon send its copies again.
async fn a_slow_relay_never_lets_another_worker_send_the_same_copies(db: &TestDb) {
    const MEMBERS: usize = 240;
    let sink = Sink::start_slow(true, Duration::from_millis(25))
        .await
        .expect("sink");
    let addresses: Vec<String> = (0..MEMBERS)
        .map(|i| format!("reader{i:03}@slow.example"))
        .collect();
    let setup = Setup::new(db, &sink, &addresses);
    // Two batches of 120 copies at 25 ms each: 3 s, past the 1 s lease, while two workers
    // of each daemon have nothing to do but claim what is due.
    let edit = |text: String| {
        text.replace("lease_seconds = 60\n", "lease_seconds = 1\n")
            .replace("batch_size = 20\n", "batch_size = 120\n")
            .replace("pool_size = 2\n", "pool_size = 4\n")
            .replace("takeover_seconds = 3\n", "takeover_seconds = 2\n")
    };
    let text = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(&setup.config, edit(text)).expect("config");
    let mut daemons = vec![setup.spawn(None)];
    if db.kind == "postgres" {
        let (second, _) = another_daemon(&setup, "second", |t| t);
        let log = setup.dir.path().join("second.log");
        daemons.push(spawn(&second, &log));
    }
    let smtp = setup.smtp().await;
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Slowly", "Hello\r\n");
    let reply = SmtpClient::connect(smtp)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");

    let mut unique = 0;
    for _ in 0..600 {
        unique = copies_per_recipient(&sink).len();
        if unique == MEMBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for daemon in &mut daemons {
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
    let per_recipient = copies_per_recipient(&sink);
    let twice: Vec<(&String, &usize)> = per_recipient.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(unique, MEMBERS, "every member served");
    assert!(
        twice.is_empty(),
        "{} members got more than one copy, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
}

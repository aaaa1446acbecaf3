//! `kill -9` of the daemon in the middle of a fan-out, then a restart: every subscriber is
//! served, and duplicates are bounded by what was in flight at the crash.

mod common;

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{message, SmtpClient, TestDb, DOMAIN};
use tidings::sink::Sink;

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
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let config_path = dir.path().join("tidings.toml");
    let config = common::config_toml(&db.url, sink.addr)
        .replace(
            "smtp_listen = \"127.0.0.1:0\"",
            &format!("smtp_listen = \"127.0.0.1:{port}\""),
        )
        .replace("lmtp_listen = \"127.0.0.1:0\"", "lmtp_listen = \"\"")
        .replace("http_listen = \"127.0.0.1:0\"", "http_listen = \"\"");
    std::fs::write(&config_path, config).expect("write config");

    let addresses: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("member{i:04}@ngo.example"))
        .collect();
    let import = dir.path().join("members.txt");
    std::fs::write(&import, addresses.join("\n")).expect("write import");
    let imported = tidings_command(&config_path, &["members", "import", "open"])
        .arg(&import)
        .output()
        .expect("import runs");
    assert!(imported.status.success(), "{imported:?}");

    let mut daemon = spawn_daemon(&config_path);
    let smtp = wait_for_port(port).await;
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

    let mut daemon = spawn_daemon(&config_path);
    let mut unique = 0;
    for _ in 0..600 {
        unique = unique_recipients(&sink).len();
        if unique == SUBSCRIBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = daemon.kill();
    let _ = daemon.wait();

    let per_recipient = unique_recipients(&sink);
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

fn tidings_command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
    command.arg("--config").arg(config).args(args);
    command.env("TIDINGS_LOG", "warn");
    command
}

fn spawn_daemon(config: &Path) -> Child {
    tidings_command(config, &["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("daemon starts")
}

fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn wait_for_port(port: u16) -> std::net::SocketAddr {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("daemon did not listen on {addr}");
}

fn unique_recipients(sink: &Sink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for received in sink.messages() {
        for recipient in received.recipients {
            *seen.entry(recipient).or_insert(0) += 1;
        }
    }
    seen
}

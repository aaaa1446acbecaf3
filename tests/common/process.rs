//! The `tidings` binary run as a child process, for what only a real process shows: signals,
//! crashes and restarts.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tidings_testkit::sink::Sink;

use super::{config_toml, TestDb};

/// A configuration file for a daemon relaying to `sink`, with SMTP on a fixed loopback port
/// (the same after a restart or a reload), and `members` subscribed to the open list.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub port: u16,
}

impl Setup {
    pub fn new(db: &TestDb, sink: &Sink, members: &[String]) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let config = dir.path().join("tidings.toml");
        let text = config_toml(&db.url, sink.addr)
            .replace(
                "smtp_listen = \"127.0.0.1:0\"",
                &format!("smtp_listen = \"127.0.0.1:{port}\""),
            )
            .replace("lmtp_listen = \"127.0.0.1:0\"", "lmtp_listen = \"\"")
            .replace("http_listen = \"127.0.0.1:0\"", "http_listen = \"\"");
        std::fs::write(&config, text).expect("write config");
        let setup = Setup { dir, config, port };
        if !members.is_empty() {
            let import = setup.dir.path().join("members.txt");
            std::fs::write(&import, members.join("\n")).expect("write import");
            let imported = setup
                .command(&["members", "import", "open"])
                .arg(&import)
                .output()
                .expect("import runs");
            assert!(imported.status.success(), "{imported:?}");
        }
        setup
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tidings"));
        command.arg("--config").arg(&self.config).args(args);
        command.env("TIDINGS_LOG", "warn");
        command
    }

    /// Starts `tidings serve`, its log going to `log` when given.
    pub fn spawn(&self, log: Option<&Path>) -> Child {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        };
        self.command(&["serve"])
            .env("TIDINGS_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("daemon starts")
    }

    /// Waits until the daemon's SMTP port takes connections.
    pub async fn smtp(&self) -> SocketAddr {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return addr;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("daemon did not listen on {addr}");
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Sends `signal` (`TERM`, `HUP`...) to the child.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -s {signal} failed");
}

/// Waits (at most 60 s) for the child to exit; kills it if it does not.
pub async fn exit_status(child: &mut Child) -> Option<ExitStatus> {
    for _ in 0..600 {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Waits (at most 15 s) until the log file contains `text`.
pub async fn logged(log: &Path, text: &str) -> bool {
    for _ in 0..150 {
        if std::fs::read_to_string(log).is_ok_and(|l| l.contains(text)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// How many copies each recipient received.
pub fn copies_per_recipient(sink: &Sink) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for received in sink.messages() {
        for recipient in received.recipients {
            *seen.entry(recipient).or_insert(0) += 1;
        }
    }
    seen
}

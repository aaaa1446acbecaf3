//! Postfix for real, in front and behind: a private Postfix instance on a loopback port,
//! configured from the lines README shows (`contrib/postfix/main.cf`), takes a posting from
//! the outside and hands it to tidings over LMTP; tidings relays every member's copy back
//! through it to the outside world (the test sink); the copy the outside refuses comes back
//! as Postfix's bounce to the VERP address and is scored; and Postfix refuses unknown lists
//! and forged tokens at RCPT, from the table `tidings postfix-maps` writes and by asking
//! tidings.
//!
//! Without Postfix the test says plainly that it was skipped, except in CI (`CI` set),
//! where `.ci/run` installs it and a missing one fails.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tidings::inbound::Reply;

use crate::common::process::free_port;
use crate::common::{eventually, message, Harness, SmtpClient, TestDb, DOMAIN};

const POSTFIX: &str = "/usr/sbin/postfix";
/// The lines README tells an administrator to add, with its example names.
const SNIPPET: &str = include_str!("../../contrib/postfix/main.cf");
/// Postfix's name in the Received fields it adds.
const POSTFIX_HOST: &str = "postfix.test.example";
/// Where outside clients connect from: not 127.0.0.1, which the instance trusts as tidings.
const OUTSIDE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const MEMBERS: [&str; 3] = [
    "ann@members.test.example",
    "bob@members.test.example",
    "gone@members.test.example",
];
/// The member whose copy the outside world refuses.
const GONE: &str = "gone@members.test.example";

/// A Postfix instance of the test's own, in a temporary directory; stopped when dropped,
/// whatever the test did.
struct Postfix {
    dir: tempfile::TempDir,
    addr: SocketAddr,
}

impl Postfix {
    /// Starts an instance listening on `addr` (loopback) that hands the list domain to
    /// `lmtp`, takes only the addresses in `recipients`, and sends everything else to
    /// `outside`.
    fn start(
        addr: SocketAddr,
        lmtp: SocketAddr,
        outside: SocketAddr,
        recipients: &Path,
    ) -> Postfix {
        let dir = tempfile::tempdir().expect("temporary directory");
        let postfix = Postfix { dir, addr };
        postfix.write_config(lmtp, outside, recipients);
        let started = postfix.control("start");
        assert!(
            started.status.success(),
            "postfix start failed: {}",
            postfix.log()
        );
        postfix
    }

    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn write_config(&self, lmtp: SocketAddr, outside: SocketAddr, recipients: &Path) {
        let root = self.dir.path();
        // Postfix's daemons run as the postfix user, which must reach the queue and write
        // its data directory; the temporary directory is private to root otherwise.
        chmod(root, "755");
        // The queue must not lie under the configuration directory, whose files
        // `postfix start` wants owned by root; Postfix makes the queue's subdirectories.
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir(root.join(sub)).expect("create a directory");
        }
        let chown = Command::new("chown")
            .args(["postfix"])
            .arg(root.join("data"))
            .status()
            .expect("chown runs");
        assert!(chown.success(), "chown postfix failed");
        std::fs::write(
            self.etc().join("main.cf"),
            main_cf(root, lmtp, outside, recipients),
        )
        .expect("write main.cf");
        std::fs::write(self.etc().join("master.cf"), master_cf(self.addr)).expect("master.cf");
    }

    /// `postfix -c DIR ACTION`. Its messages go to the instance's log, not to the output.
    fn control(&self, action: &str) -> Output {
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.etc())
            .arg(action)
            .output()
            .expect("postfix runs")
    }

    /// The instance's log, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Waits (at most 15 s) until the instance takes connections.
    async fn listening(&self) -> bool {
        let addr = self.addr;
        eventually(|| async move { tokio::net::TcpStream::connect(addr).await.ok() })
            .await
            .is_some()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = self.control("stop");
    }
}

fn chmod(path: &Path, mode: &str) {
    let status = Command::new("chmod")
        .arg(mode)
        .arg(path)
        .status()
        .expect("chmod runs");
    assert!(status.success(), "chmod {mode} failed");
}

/// README's lines with the test's names, then what makes the instance private: its own
/// directories and log, loopback only, trusting only 127.0.0.1 (tidings), and the test
/// sink as the whole outside world.
fn main_cf(root: &Path, lmtp: SocketAddr, outside: SocketAddr, recipients: &Path) -> String {
    let readme = SNIPPET
        .replace("lists.example.org", DOMAIN)
        .replace("127.0.0.1:2424", &lmtp.to_string())
        .replace(
            "/etc/postfix/tidings-recipients",
            &recipients.display().to_string(),
        );
    let root = root.display();
    format!(
        "{readme}
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
# Logged to a file (no syslog here), which Postfix writes only under an allowed prefix.
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = {POSTFIX_HOST}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost = [{outside_ip}]:{outside_port}
# Nothing here asks DNS: a lookup of a test name would only wait for a time-out.
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
# Ask again soon while an address probe is under way.
address_verify_poll_delay = 1s
address_verify_poll_count = 10
",
        outside_ip = outside.ip(),
        outside_port = outside.port(),
    )
}

/// Debian's master.cf cut to the services the test uses, none chrooted (the queue directory
/// holds no copy of /etc), and SMTP on the test's port.
fn master_cf(addr: SocketAddr) -> String {
    let services = [
        "pickup    unix  n - n 60 1 pickup",
        "cleanup   unix  n - n - 0 cleanup",
        "qmgr      unix  n - n 300 1 qmgr",
        "rewrite   unix  - - n - - trivial-rewrite",
        "bounce    unix  - - n - 0 bounce",
        "defer     unix  - - n - 0 bounce",
        "trace     unix  - - n - 0 bounce",
        "verify    unix  - - n - 1 verify",
        "flush     unix  n - n 1000? 0 flush",
        "proxymap  unix  - - n - - proxymap",
        "proxywrite unix - - n - 1 proxymap",
        "smtp      unix  - - n - - smtp",
        "relay     unix  - - n - - smtp",
        "showq     unix  n - n - - showq",
        "error     unix  - - n - - error",
        "retry     unix  - - n - - error",
        "discard   unix  - - n - - discard",
        "lmtp      unix  - - n - - lmtp",
        "anvil     unix  - - n - 1 anvil",
        "scache    unix  - - n - 1 scache",
        "postlog   unix-dgram n - n - 1 postlogd",
    ];
    format!("{addr} inet n - n - - smtpd\n{}\n", services.join("\n"))
}

/// Whether Postfix can be run here (installed, and run by root, as `postfix start` must
/// be); in CI it must.
fn postfix_available() -> bool {
    let missing = if !Path::new(POSTFIX).exists() {
        "is not installed (apt-get install postfix; .ci/run installs it)"
    } else if !is_root() {
        "can be started only by root"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("{POSTFIX} {missing}");
    }
    eprintln!("SKIPPED postfix: {POSTFIX} {missing}");
    false
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// Writes `tidings postfix-maps` output for the harness's configuration to `path`.
fn postfix_maps(h: &Harness, dir: &Path, path: &Path) {
    let config = dir.join("tidings.toml");
    std::fs::write(&config, &h.toml).expect("write the configuration");
    let written = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(&config)
        .args(["postfix-maps", "--output"])
        .arg(path)
        .output()
        .expect("tidings runs");
    assert!(written.status.success(), "{written:?}");
}

/// The harness, relaying to `relay` instead of its sink (which becomes the outside world).
async fn harness_relaying_to(db: &TestDb, relay: SocketAddr) -> Harness {
    Harness::start_with(db, |toml| {
        let (head, tail) = toml.split_once("[relay]").expect("a [relay] section");
        let (_, rest) = tail.split_once("\nport = ").expect("a relay port");
        let (_, rest) = rest.split_once('\n').expect("the line's end");
        format!(
            "{head}[relay]\nhost = \"127.0.0.1\"\nport = {}\n{rest}",
            relay.port()
        )
    })
    .await
}

/// A posting sent to Postfix from the outside, with each recipient's RCPT reply.
async fn rcpt_replies(postfix: &Postfix, to: &[&str]) -> Vec<String> {
    let mut client = SmtpClient::connect_from(OUTSIDE, postfix.addr).await;
    let replies = client
        .envelope("EHLO", "someone@outside.test.example", to)
        .await;
    client.command("QUIT").await;
    replies
}

async fn score_of(h: &Harness, address: &str) -> Option<i64> {
    let report = h
        .daemon
        .store
        .bounce_report(Some("open"), 30)
        .await
        .expect("report");
    report
        .scores
        .into_iter()
        .find(|(_, a, ..)| a == address)
        .map(|(_, _, score, ..)| score)
}

async fn postings_go_through_postfix_both_ways(db: &TestDb) {
    if !postfix_available() {
        return;
    }
    let postfix_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let h = harness_relaying_to(db, postfix_addr).await;
    h.subscribe("open", &MEMBERS).await;
    h.sink
        .script(GONE, [Reply::new(550, "5.1.1", "no such user")]);
    let maps = tempfile::tempdir().expect("temporary directory");
    chmod(maps.path(), "755");
    let recipients = maps.path().join("tidings-recipients");
    postfix_maps(&h, maps.path(), &recipients);
    let lmtp = h.daemon.lmtp_addr.expect("an LMTP listener");
    let postfix = Postfix::start(postfix_addr, lmtp, h.sink.addr, &recipients);
    assert!(postfix.listening().await, "{}", postfix.log());

    // Unknown lists are refused at RCPT by the table; a forged VERP token, which the table
    // lets through as LIST-bounces, by tidings' answer to Postfix's probe.
    let unknown = format!("nosuchlist@{DOMAIN}");
    let forged = format!("open-bounces+forged@{DOMAIN}");
    let refused = rcpt_replies(&postfix, &[&unknown, &forged]).await;
    assert!(
        refused[0].starts_with("550") && refused[0].contains("relay recipient table"),
        "{unknown}: {refused:?}"
    );
    assert!(
        refused[1].starts_with("550") && refused[1].contains("undeliverable address"),
        "{forged}: {refused:?}"
    );

    let to = format!("open@{DOMAIN}");
    let from = "someone@outside.test.example";
    let mut client = SmtpClient::connect_from(OUTSIDE, postfix.addr).await;
    let reply = client
        .post(
            from,
            &to,
            &message(from, &to, "Through Postfix", "Hello\r\n"),
        )
        .await;
    assert!(reply.starts_with("250"), "{reply}\n{}", postfix.log());

    // Every member's copy reaches the outside through Postfix, under its VERP sender.
    let served = h.sink.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(served, 2, "{}", postfix.log());
    for member in &MEMBERS[..2] {
        let copies: Vec<_> = h
            .sink
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r == member))
            .collect();
        assert_eq!(copies.len(), 1, "{member}");
        // The path reads bottom up: Postfix took the posting from the outside client
        // (127.0.0.2), handed it to tidings over LMTP, and relayed the copy out for
        // tidings (127.0.0.1), its Received field on top.
        let text = String::from_utf8_lossy(&copies[0].data).into_owned();
        let by_postfix = format!("by {POSTFIX_HOST} (Postfix)");
        let last_hop = text.split("\r\nReceived:").next().unwrap_or_default();
        assert!(
            last_hop.starts_with("Received:")
                && last_hop.contains("[127.0.0.1])")
                && last_hop.contains(&by_postfix),
            "{text}"
        );
        assert!(
            text.contains(&format!("[{OUTSIDE}])\r\n\t{by_postfix}")),
            "{text}"
        );
        assert!(text.contains(&format!("by {DOMAIN} with LMTP")), "{text}");
        assert!(copies[0].mail_from.starts_with("open-bounces+"));
    }

    // The refused copy comes back as Postfix's bounce to its VERP address, and counts.
    let scored = eventually(|| async { score_of(&h, GONE).await }).await;
    assert_eq!(scored, Some(1), "{}", postfix.log());
    let log = postfix.log();
    let bounce_handed_over = log.lines().any(|line| {
        line.contains("postfix/lmtp")
            && line.contains("to=<open-bounces+")
            && line.contains("status=sent")
    });
    assert!(bounce_handed_over, "{log}");
}

/// README shows the very lines the test configures Postfix with.
#[test]
fn readme_shows_the_postfix_lines_the_test_uses() {
    let readme = include_str!("../../README.md");
    assert!(
        readme.contains(SNIPPET),
        "README's \"Postfix in front\" must quote contrib/postfix/main.cf as it is"
    );
}

on_both_databases!(postings_go_through_postfix_both_ways);

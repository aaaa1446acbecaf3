//! The HTTP listener. Found open: it capped nothing and timed nothing out, so 1,100 half-sent
//! requests used up the process's file descriptors and the SMTP listener could no longer
//! accept ("Too many open files"); and a forged link named the list in its URL, so anyone
//! could find out which confidential lists exist and what they are called.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tidings::tokens::{Purpose, Signer};
use tidings_testkit::sink::Sink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use crate::common::process::{exit_status, free_port, signal, Setup};
use crate::common::{http, message, Harness, SmtpClient, TestDb, DOMAIN, SECRET};

on_both_databases!(
    http_cannot_starve_the_other_listeners,
    http_connections_do_not_outlive_their_time_outs,
    no_page_names_a_confidential_list_to_an_outsider,
);

/// Half-sent requests in the flood: more than the daemon may open files.
const FLOOD: usize = 1_100;

/// The daemon's limit on open files in the flood test, soft and hard: what a login shell or a
/// service manager commonly gives, and fewer than the flood needs without a cap.
const DAEMON_OPEN_FILES: usize = 1_024;

/// A request line and one header, and never the blank line that ends the header.
const HALF_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: tidings.test.example\r\n";

/// Small limits, so that the flood is far past the cap and time-outs come quickly.
const TIGHT_LIMITS: &str =
    "max_http_connections = 50\nhttp_header_timeout_seconds = 1\nhttp_request_timeout_seconds = 2\n";

/// The daemon runs as its own process with a limit of 1,024 open files (what the attack met),
/// so that running out of descriptors shows as it would in production instead of being lost
/// in the test process's larger table. The test opens 1,100 half-sent requests on HTTP; the
/// SMTP listener must still take a posting, every half-sent request must be closed by the
/// server, and then HTTP must answer again.
async fn http_cannot_starve_the_other_listeners(db: &TestDb) {
    // This process holds the flood's client ends, perhaps twice (both databases at once).
    tidings::descriptors::raise_limit().expect("raise this process's limit on open files");
    let own_limit = tidings::descriptors::limits().map_or(usize::MAX, |l| l.soft as usize);
    assert!(
        own_limit > 2 * FLOOD + 512,
        "the test needs about {} open files, but may open only {own_limit}",
        2 * FLOOD + 512
    );
    let sink = Sink::start(true).await.expect("sink");
    let setup = Setup::new(db, &sink, &[]);
    let http_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let text = std::fs::read_to_string(&setup.config).expect("read config");
    let text = text
        .replace(
            "http_listen = \"\"",
            &format!("http_listen = \"{http_addr}\""),
        )
        .replace("[server]\n", &format!("[server]\n{TIGHT_LIMITS}"));
    std::fs::write(&setup.config, text).expect("write config");
    let log = setup.dir.path().join("serve.log");
    let mut daemon = LimitedDaemon::spawn(&setup.config, &log);
    let smtp = setup.smtp().await;
    assert!(
        healthy(http_addr).await,
        "HTTP never answered{}",
        daemon.log()
    );

    // One half-sent request alone, well within the cap: only a header time-out can end it.
    let mut lone = connect_half_sent(http_addr).await;
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(connect_half_sent(http_addr).await);
    }

    let to = format!("open@{DOMAIN}");
    let from = "visitor@ngo.test.example";
    let posting = message(from, &to, "During the flood", "Still reachable?\r\n");
    let posted = timeout(Duration::from_secs(20), async {
        SmtpClient::connect(smtp)
            .await
            .post(from, &to, &posting)
            .await
    })
    .await;
    assert!(
        matches!(&posted, Ok(reply) if reply.starts_with("250")),
        "SMTP posting while HTTP is flooded: {posted:?}{}",
        daemon.log()
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    assert!(
        closed_by_server(&mut lone, deadline).await,
        "a half-sent request is kept open{}",
        daemon.log()
    );
    let mut still_open = 0;
    for stream in &mut flood {
        if !closed_by_server(stream, deadline).await {
            still_open += 1;
        }
    }
    assert_eq!(
        still_open,
        0,
        "half-sent requests the server never closed{}",
        daemon.log()
    );
    drop(flood);

    assert!(
        healthy(http_addr).await,
        "HTTP after the flood{}",
        daemon.log()
    );
    daemon.stop().await;
    let log = daemon.log();
    assert!(!log.contains("Too many open files"), "{log}");
}

/// A connection that has finished its request and waits for another (keep-alive) is closed
/// after the header time-out, and so is one that sends its headers and then never the body
/// they announce: neither may hold a connection slot for ever.
async fn http_connections_do_not_outlive_their_time_outs(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace("[server]\n", &format!("[server]\n{TIGHT_LIMITS}"))
    })
    .await;
    let web = h.daemon.http_addr.expect("http listener");
    let deadline = Instant::now() + Duration::from_secs(30);

    let mut idle = TcpStream::connect(web).await.expect("connect");
    let request = "GET /healthz HTTP/1.1\r\nHost: tidings.test.example\r\n\r\n";
    idle.write_all(request.as_bytes()).await.expect("send");
    let (answer, closed) = read_until_closed(&mut idle, deadline).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        closed,
        "an idle keep-alive connection is kept open: {answer}"
    );

    let mut short = TcpStream::connect(web).await.expect("connect");
    let request = "POST /unsubscribe/open/aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: tidings.test.example\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nList-Unsub";
    short.write_all(request.as_bytes()).await.expect("send");
    let (answer, closed) = read_until_closed(&mut short, deadline).await;
    assert!(
        closed,
        "a request whose body never comes is kept open: {answer}"
    );

    let (status, _, body) = http(web, "GET", "/healthz", "").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    h.daemon.shutdown().await;
}

/// Every way to reach a list's pages without a genuine token for that list (garbage, a
/// well-formed token with a wrong signature, a genuine token of another list or of another
/// use), on every token route, by GET and POST, and every publication path: the answer for
/// the confidential `team` is the answer for a list that does not exist, byte for byte, and
/// says neither `team` nor "Gender Team".
async fn no_page_names_a_confidential_list_to_an_outsider(db: &TestDb) {
    let h = Harness::start(db).await;
    let web = h.daemon.http_addr.expect("http listener");
    let signer = Signer::new(SECRET);
    let insider = "insider@ngo.test.example";
    h.subscribe("team", &[insider]).await;
    let member = h
        .daemon
        .store
        .member_by_address(insider)
        .await
        .expect("query")
        .expect("subscribed");
    let member_id = u64::try_from(member.id).expect("ids are positive");

    // The check sees a name where a page shows one, and only there.
    let genuine = signer.sign(Purpose::Unsubscribe, "team", &[member_id]);
    let (status, _, page) = http(web, "GET", &format!("/unsubscribe/team/{genuine}"), "").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        names_team(&page),
        "a member's own link names the list: {page}"
    );
    assert!(!names_team("Steam teams; gender-teamwork; TEAMS"));

    let routes = [
        ("unsubscribe", Purpose::Unsubscribe),
        ("confirm", Purpose::Confirm),
        ("reenable", Purpose::Reenable),
    ];
    let mut paths = Vec::new();
    for (route, purpose) in routes {
        let other_use = if purpose == Purpose::Unsubscribe {
            Purpose::Reenable
        } else {
            Purpose::Unsubscribe
        };
        let forged = [
            "garbage-token".to_string(),
            "a".repeat(20),
            signer.sign(purpose, "open", &[member_id]),
            signer.sign(other_use, "team", &[member_id]),
        ];
        for token in forged {
            paths.push((
                format!("/{route}/team/{token}"),
                format!("/{route}/nosuch/{token}"),
            ));
            paths.push((
                format!("/{route}/TEAM/{token}"),
                format!("/{route}/nosuch/{token}"),
            ));
        }
    }
    for suffix in ["", "/", "/feed.xml", "/1/en"] {
        paths.push((format!("/p/team{suffix}"), format!("/p/nosuch{suffix}")));
    }

    for (team, nosuch) in &paths {
        for method in ["GET", "POST"] {
            let body = if team.starts_with("/unsubscribe/") && method == "POST" {
                "List-Unsubscribe=One-Click"
            } else {
                ""
            };
            let (status, head, page) = http(web, method, team, body).await;
            assert!(
                !names_team(&head) && !names_team(&page),
                "{method} {team} names the list:\n{head}\n\n{page}"
            );
            let (unknown_status, unknown_head, unknown_page) =
                http(web, method, nosuch, body).await;
            assert_eq!(
                (status, without_date(&head), page.as_str()),
                (
                    unknown_status,
                    without_date(&unknown_head),
                    unknown_page.as_str()
                ),
                "{method} {team} does not answer as {nosuch}"
            );
        }
    }
    assert!(h.is_subscribed("team", insider).await);
    h.daemon.shutdown().await;
}

/// Whether `text` names the list `team`: its display name, or `team` as a word of its own
/// (so "steam" or "teams" do not count, "team@..." or "/team/" do), ignoring case.
fn names_team(text: &str) -> bool {
    let lower = text.to_lowercase();
    let squeezed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    if squeezed.contains("gender team") {
        return true;
    }
    let bytes = lower.as_bytes();
    lower.match_indices("team").any(|(at, word)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + word.len()).copied();
        ![before, after]
            .into_iter()
            .flatten()
            .any(|b| b.is_ascii_alphanumeric())
    })
}

/// The response head without its Date, the only line that may differ between two answers.
fn without_date(head: &str) -> String {
    head.lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn connect_half_sent(addr: SocketAddr) -> TcpStream {
    let mut stream = timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .expect("connect within 5 s")
        .expect("connect");
    // A server past its cap may have closed the connection already; the read shows it.
    let _ = stream.write_all(HALF_REQUEST).await;
    stream
}

/// Whether the server closed the connection (end of stream or reset) before `deadline`.
async fn closed_by_server(stream: &mut TcpStream, deadline: Instant) -> bool {
    read_until_closed(stream, deadline).await.1
}

/// What the server sent (up to 64 KiB), and whether it then closed before `deadline`.
async fn read_until_closed(stream: &mut TcpStream, deadline: Instant) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..16 {
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&received).into(), false)
}

/// Whether GET /healthz is answered 200 "ok" within a few seconds (retrying while the
/// listener starts or its slots free up).
async fn healthy(addr: SocketAddr) -> bool {
    let request =
        "GET /healthz HTTP/1.1\r\nHost: tidings.test.example\r\nConnection: close\r\n\r\n";
    for _ in 0..100 {
        if let Ok(mut stream) = TcpStream::connect(addr).await {
            let _ = stream.write_all(request.as_bytes()).await;
            let deadline = Instant::now() + Duration::from_secs(5);
            let (answer, _) = read_until_closed(&mut stream, deadline).await;
            if answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\nok\n") {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `tidings serve` under a shell that first lowers its limit on open files (soft and hard, so
/// that the daemon cannot raise it); killed if the test ends without stopping it.
struct LimitedDaemon {
    child: Child,
    log: PathBuf,
}

impl LimitedDaemon {
    fn spawn(config: &Path, log: &Path) -> LimitedDaemon {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n {DAEMON_OPEN_FILES} && exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_tidings"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("TIDINGS_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).expect("log file")))
            .spawn()
            .expect("daemon starts");
        LimitedDaemon {
            child,
            log: log.to_path_buf(),
        }
    }

    /// The daemon's log so far, for a failure message.
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("\ndaemon log:\n{text}")
    }

    /// SIGTERM, and a clean exit.
    async fn stop(&mut self) {
        signal(&self.child, "TERM");
        let status = exit_status(&mut self.child).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "stopped with {status:?}{}",
            self.log()
        );
    }
}

impl Drop for LimitedDaemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

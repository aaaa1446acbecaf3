//! Shared test harness: a database of each kind, a daemon on loopback ports, a relay sink,
//! and a raw SMTP client that can say things a polite client never would.
#![allow(dead_code)]

pub mod browser;
pub mod capture;
pub mod chromium;
pub mod dns;
pub mod process;
pub mod publication_fixtures;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tidings::config::Config;
use tidings::daemon::Daemon;
use tidings_testkit::sink::Sink;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const DOMAIN: &str = "lists.test.example";
pub const SECRET: &str = "test-secret-test-secret-test-secret-0123";
/// The Bulletin's editor in [`BULLETIN`].
pub const EDITOR: &str = "editor@coalition.test.example";

/// The Bulletin, as the publication tests configure it: three languages, every second
/// month at 09:00 in Amsterdam, each edition waiting for [`EDITOR`]'s approval.
pub const BULLETIN: &str = r#"
[[publications]]
name = "bulletin"
title = "The Bulletin"
description = "News from the coalition"
languages = ["en", "fr", "es"]
fallback_language = "en"
schedule = "0 0 9 1 1/2 *"
time_zone = "Europe/Amsterdam"
approval = "manual"
editors = ["editor@coalition.test.example"]
sections = ["News", "Events"]
"#;

/// Runs each named async test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::TestDb::sqlite();
                super::$name(&db).await;
                db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::common::TestDb::postgres(stringify!($name)).await {
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            }
        }
    )*};
}

/// A fresh, empty database for one test.
pub struct TestDb {
    pub url: String,
    pub kind: &'static str,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(String, String)>,
}

/// Where the PostgreSQL tests connect; this machine's local server by default.
fn postgres_base_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/tidings.db", dir.path().display());
        TestDb {
            url,
            kind: "sqlite",
            _dir: Some(dir),
            schema: None,
        }
    }

    /// A schema of its own in the test database, or `None` (said plainly on stderr) when
    /// PostgreSQL cannot be reached outside CI. In CI an unreachable PostgreSQL fails.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let base = postgres_base_url();
        let connected =
            tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&base)).await;
        let pool = match connected {
            Ok(Ok(pool)) => pool,
            failure => {
                let reason = match failure {
                    Ok(Err(error)) => error.to_string(),
                    _ => "no answer within 5 s".to_string(),
                };
                if std::env::var_os("CI").is_some() {
                    panic!("PostgreSQL is required in CI but unreachable at {base}: {reason}");
                }
                // Written past the test harness's capture so that the skip is seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED {test} on PostgreSQL: not reachable at {base} ({reason}); set TEST_POSTGRES_URL"
                );
                return None;
            }
        };
        // PostgreSQL cuts identifiers at 63 bytes: keep the test name short.
        let short: String = test.chars().take(30).collect();
        let schema = format!("t_{short}_{}", rand_suffix());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await
            .expect("create test schema");
        pool.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{base}{separator}options[search_path]={schema}"),
            kind: "postgres",
            _dir: None,
            schema: Some((base, schema)),
        })
    }

    pub async fn cleanup(&self) {
        if let Some((base, schema)) = &self.schema {
            if let Ok(pool) = sqlx::PgPool::connect(base).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&pool)
                    .await;
                pool.close().await;
            }
        }
    }
}

/// Asks `check` every 50 ms until it answers, for at most 15 s: what the tests wait for
/// happens on other tasks, and a test must neither sleep blindly nor hang.
pub async fn eventually<T, F, Fut>(mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(answer) = check().await {
            return Some(answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

pub fn rand_suffix() -> String {
    let n: u64 = rand::random();
    format!("{n:016x}")
}

/// Where tests without a DNS server of their own send questions: nothing answers there, so
/// lookups fail and the configured defaults apply.
pub const NO_DNS: &str = "127.0.0.1:9";

/// The test lists: an announce list, a confidential members-only list with prefix and
/// footer, and an open list without decoration.
pub fn config_toml(db_url: &str, relay: SocketAddr) -> String {
    config_toml_with_dns(db_url, relay, NO_DNS)
}

pub fn config_toml_with_dns(db_url: &str, relay: SocketAddr, dns: &str) -> String {
    format!(
        r#"
secret = "{SECRET}"

[server]
domain = "{DOMAIN}"
smtp_listen = "127.0.0.1:0"
lmtp_listen = "127.0.0.1:0"
http_listen = "127.0.0.1:0"
base_url = "https://{DOMAIN}"
max_message_size = 200000
max_line_length = 998

[metrics]
listen = "127.0.0.1:0"

[relay]
host = "127.0.0.1"
port = {port}
tls = "none"
pool_size = 2
max_recipients_per_transaction = 2

[delivery]
retry_initial_seconds = 1
retry_max_seconds = 2
lifetime_seconds = 3600
destination_backoff_seconds = 1
lease_seconds = 60
batch_size = 20
poll_interval_ms = 100

[cluster]
takeover_seconds = 3

[database]
url = "{db_url}"

[dns]
servers = ["{dns}"]
timeout_ms = 1000

[authentication]
trusted_authserv_ids = ["mx.{DOMAIN}"]

[[lists]]
name = "news"
display_name = "Coalition News"
posting = "announce"
posters = ["secretariat@coalition.test.example"]
subscription = "confirm"
visibility = "public"
owners = ["owner@coalition.test.example"]

[[lists]]
name = "team"
display_name = "Gender Team"
posting = "members"
subscription = "members"
visibility = "confidential"
owners = ["chair@coalition.test.example", "vice@coalition.test.example", "clerk@coalition.test.example"]
subject_prefix = "[Team]"
footer = "Confidential: for team members only."

[[lists]]
name = "nouvelles"
display_name = "Nouvelles de la Coalition"
language = "fr"
posting = "members"
subscription = "confirm"
visibility = "public"
owners = ["owner@coalition.test.example"]

[[lists]]
name = "board"
display_name = "Board"
posting = "members"
subscription = "closed"
visibility = "confidential"
owners = ["owner@coalition.test.example"]

[[lists]]
name = "forum"
display_name = "Moderated Forum"
posting = "moderated"
subscription = "confirm"
visibility = "public"
owners = ["owner@coalition.test.example"]
moderators = ["mod@coalition.test.example"]

[[lists]]
name = "open"
display_name = "Open Forum"
posting = "open"
subscription = "confirm"
visibility = "public"
owners = ["owner@coalition.test.example"]
"#,
        port = relay.port()
    )
}

pub fn config(db_url: &str, relay: SocketAddr) -> Config {
    Config::from_toml(
        &config_toml(db_url, relay),
        Path::new("test.toml"),
        Vec::new(),
        &tidings::dkim::keys::Files,
    )
    .expect("test config is valid")
}

/// A daemon, the sink it relays to and the DNS server it asks.
pub struct Harness {
    pub daemon: Daemon,
    pub sink: Sink,
    pub dns: dns::DnsServer,
    /// The configuration it runs, for a restart.
    pub toml: String,
}

impl Harness {
    pub async fn start(db: &TestDb) -> Harness {
        Harness::start_with(db, |toml| toml).await
    }

    /// Starts with the test configuration as changed by `edit` (TOML text in, TOML text out).
    pub async fn start_with(db: &TestDb, edit: impl FnOnce(String) -> String) -> Harness {
        let clock = std::sync::Arc::new(tidings::publications::clock::SystemClock);
        Harness::start_with_clock(db, edit, clock).await
    }

    /// Like [`Harness::start_with`], with the publications scheduler going by `clock`.
    pub async fn start_with_clock(
        db: &TestDb,
        edit: impl FnOnce(String) -> String,
        clock: std::sync::Arc<dyn tidings::publications::clock::Clock>,
    ) -> Harness {
        let sink = Sink::start(true).await.expect("sink starts");
        Harness::launch(db, sink, edit, clock).await
    }

    /// Like [`Harness::start_with`], relaying to a sink that offers only `extensions`.
    pub async fn start_with_relay_offering(
        db: &TestDb,
        extensions: tidings::inbound::Extensions,
        edit: impl FnOnce(String) -> String,
    ) -> Harness {
        let sink = Sink::start_offering(true, extensions)
            .await
            .expect("sink starts");
        let clock = std::sync::Arc::new(tidings::publications::clock::SystemClock);
        Harness::launch(db, sink, edit, clock).await
    }

    async fn launch(
        db: &TestDb,
        sink: Sink,
        edit: impl FnOnce(String) -> String,
        clock: std::sync::Arc<dyn tidings::publications::clock::Clock>,
    ) -> Harness {
        let dns = dns::DnsServer::start().await;
        let toml = edit(config_toml_with_dns(
            &db.url,
            sink.addr,
            &dns.addr.to_string(),
        ));
        let config = Config::from_toml(
            &toml,
            Path::new("test.toml"),
            Vec::new(),
            &tidings::dkim::keys::Files,
        )
        .expect("test config is valid");
        let daemon = Daemon::start_with_clock(config, clock)
            .await
            .expect("daemon starts");
        Harness {
            daemon,
            sink,
            dns,
            toml,
        }
    }

    /// The configuration the daemon runs.
    pub fn config(&self) -> Config {
        Config::from_toml(
            &self.toml,
            Path::new("test.toml"),
            Vec::new(),
            &tidings::dkim::keys::Files,
        )
        .expect("valid")
    }

    pub async fn subscribe(&self, list: &str, addresses: &[&str]) {
        let lines: Vec<_> = addresses
            .iter()
            .map(|a| tidings::store::ImportLine {
                address: a.to_string(),
                display_name: String::new(),
                language: "en".into(),
            })
            .collect();
        self.daemon
            .store
            .import_members(list, &lines)
            .await
            .expect("subscribe");
    }

    pub async fn smtp(&self) -> SmtpClient {
        SmtpClient::connect(self.daemon.smtp_addr.expect("smtp listener")).await
    }

    pub async fn lmtp(&self) -> SmtpClient {
        SmtpClient::connect(self.daemon.lmtp_addr.expect("lmtp listener")).await
    }

    /// Posts a short message from `from` to `list` over SMTP; asserts it is accepted and
    /// waits for the queue to drain.
    pub async fn post_and_drain(&self, from: &str, list: &str) {
        let to = format!("{list}@{DOMAIN}");
        let posting = message(from, &to, "Posting", "Hello\r\n");
        let reply = self.smtp().await.post(from, &to, &posting).await;
        assert!(reply.starts_with("250"), "{reply}");
        assert!(self.queue_drained().await, "the queue did not drain");
    }

    /// (state, attempts, last reply) of the delivery of `list` to `recipient`.
    pub async fn delivery(&self, list: &str, recipient: &str) -> (String, i64, String) {
        let deliveries = self
            .daemon
            .store
            .deliveries_of(list)
            .await
            .expect("deliveries");
        let (_, state, attempts, reply) = deliveries
            .into_iter()
            .find(|d| d.0 == recipient)
            .unwrap_or_else(|| panic!("no delivery to {recipient}"));
        (state, attempts, reply)
    }

    /// Whether no message at all was stored.
    pub async fn nothing_stored(&self) -> bool {
        self.daemon
            .store
            .message_counts()
            .await
            .expect("counts")
            .is_empty()
    }

    /// Recipients as the sink received them, one entry per copy.
    pub fn received_recipients(&self) -> Vec<String> {
        self.sink
            .messages()
            .into_iter()
            .flat_map(|m| m.recipients)
            .collect()
    }

    /// The messages the sink received for `recipient`, parsed.
    pub fn received_by(&self, recipient: &str) -> Vec<mail_parser::Message<'static>> {
        self.sink
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r == recipient))
            .filter_map(|m| {
                mail_parser::MessageParser::default()
                    .parse(&m.data)
                    .map(|p| p.into_owned())
            })
            .collect()
    }

    /// Why each held message waits (`unauthenticated`, ...), oldest first.
    pub async fn held_reasons(&self) -> Vec<String> {
        self.daemon
            .store
            .messages_in_state("held")
            .await
            .expect("held")
            .into_iter()
            .map(|m| m.error)
            .collect()
    }

    /// Whether `address` is an active subscriber of `list`.
    pub async fn is_subscribed(&self, list: &str, address: &str) -> bool {
        self.daemon
            .store
            .is_subscribed(list, address)
            .await
            .expect("query")
    }

    /// Writes a short message from `from` to `to` over SMTP and waits for its consequences.
    pub async fn write(&self, from: &str, to: &str, subject: &str, body: &str) {
        self.send(from, to, &message(from, to, subject, body)).await;
        assert!(self.queue_drained().await, "the queue did not drain");
    }

    /// Sends a whole message (headers included) over SMTP, asserting it is accepted.
    pub async fn send(&self, envelope_from: &str, to: &str, message: &[u8]) {
        let reply = self.smtp().await.post(envelope_from, to, message).await;
        assert!(reply.starts_with("250"), "{to}: {reply}");
    }

    /// Like [`Harness::write`], as the front MTA hands in mail it authenticated: over LMTP,
    /// with its Authentication-Results saying that the author's domain passed DMARC. This
    /// is how an owner's decision, an editor's item or a poster's bulletin proves its From.
    pub async fn write_proven(&self, from: &str, to: &str, subject: &str, body: &str) {
        self.send_proven(from, to, &message(from, to, subject, body))
            .await;
        assert!(self.queue_drained().await, "the queue did not drain");
    }

    /// Sends a whole message over LMTP with the front MTA's results vouching for the
    /// domain of `envelope_from`, asserting it is accepted.
    pub async fn send_proven(&self, envelope_from: &str, to: &str, message: &[u8]) {
        let domain = envelope_from.rsplit_once('@').map_or("", |(_, d)| d);
        let mut proven =
            format!("Authentication-Results: mx.{DOMAIN}; dmarc=pass header.from={domain}\r\n")
                .into_bytes();
        proven.extend_from_slice(message);
        let mut client = self.lmtp().await;
        let rcpt = client.envelope("LHLO", envelope_from, &[to]).await;
        assert!(rcpt[0].starts_with("250"), "{to}: {rcpt:?}");
        let reply = client.data(&proven, 1).await.remove(0);
        assert!(reply.starts_with("250"), "{to}: {reply}");
    }

    /// Waits (at most 15 s) until the queue has nothing left to do.
    pub async fn queue_drained(&self) -> bool {
        let store = &self.daemon.store;
        eventually(|| async move {
            let messages = store.message_counts().await.expect("counts");
            let accepted = messages.iter().any(|(_, state, _)| {
                [
                    "accepted",
                    "received",
                    "held_new",
                    "unprocessed",
                    "processing",
                ]
                .contains(&state.as_str())
            });
            let unfinished = store.unfinished_deliveries().await.expect("queue");
            (!accepted && unfinished == 0).then_some(())
        })
        .await
        .is_some()
    }

    /// The list's deliveries (recipient, state, attempts, last reply) once `settled` holds
    /// for them, waiting at most 15 s; as last seen otherwise.
    pub async fn deliveries_when(
        &self,
        list: &str,
        settled: impl Fn(&[(String, String, i64, String)]) -> bool,
    ) -> Vec<(String, String, i64, String)> {
        let store = &self.daemon.store;
        let settled = &settled;
        let seen = eventually(|| async move {
            let deliveries = store.deliveries_of(list).await.expect("deliveries");
            settled(&deliveries).then_some(deliveries)
        })
        .await;
        match seen {
            Some(deliveries) => deliveries,
            None => store.deliveries_of(list).await.expect("deliveries"),
        }
    }
}

/// An HTTP/1.1 exchange over a real socket: (status, headers, body). Hand-written so that
/// the tests need no HTTP client library; the server closes after answering.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String, String) {
    http_with(addr, method, path, &[], body).await
}

/// Like [`http`], with more request header fields (`Cookie`, `Accept-Language`...).
pub async fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect HTTP");
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/x-www-form-urlencoded\r\n"
    };
    let fields: String = fields
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{fields}{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send HTTP request");
    let mut response = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut response)
        .await
        .expect("read HTTP response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A line-by-line SMTP/LMTP client over a real socket.
pub struct SmtpClient {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    pub greeting: String,
}

impl SmtpClient {
    pub async fn connect(addr: SocketAddr) -> SmtpClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        SmtpClient::over(stream).await
    }

    /// Connects from `source`, another loopback address than 127.0.0.1, so that a server
    /// trusting 127.0.0.1 (Postfix's `mynetworks`) sees a client from outside.
    pub async fn connect_from(source: std::net::IpAddr, addr: SocketAddr) -> SmtpClient {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(source, 0))
            .expect("bind the source address");
        let stream = socket.connect(addr).await.expect("connect");
        SmtpClient::over(stream).await
    }

    async fn over(stream: TcpStream) -> SmtpClient {
        let (read, writer) = stream.into_split();
        let mut client = SmtpClient {
            reader: BufReader::new(read),
            writer,
            greeting: String::new(),
        };
        client.greeting = client.reply().await;
        client
    }

    /// Reads one (possibly multi-line) reply; empty when the server closed.
    pub async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let read =
                tokio::time::timeout(Duration::from_secs(30), self.reader.read_line(&mut line))
                    .await
                    .expect("reply within 30 s");
            match read {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The server may already have closed on a hostile client: that is for the caller's
        // next reply to show.
        let _ = self.writer.write_all(bytes).await;
    }

    pub async fn command(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// HELO/LHLO, MAIL, RCPT for each recipient; returns the RCPT replies.
    pub async fn envelope(&mut self, hello: &str, from: &str, to: &[&str]) -> Vec<String> {
        let hello = self.command(&format!("{hello} client.test.example")).await;
        assert!(hello.starts_with("250"), "hello answered {hello}");
        let mail = self.command(&format!("MAIL FROM:<{from}>")).await;
        assert!(mail.starts_with("250"), "MAIL answered {mail}");
        let mut replies = Vec::new();
        for rcpt in to {
            replies.push(self.command(&format!("RCPT TO:<{rcpt}>")).await);
        }
        replies
    }

    /// DATA with the message (dot-stuffed here); returns the replies after the final dot
    /// (`count` of them: one for SMTP, one per accepted recipient for LMTP).
    pub async fn data(&mut self, message: &[u8], count: usize) -> Vec<String> {
        let go = self.command("DATA").await;
        assert!(go.starts_with("354"), "DATA answered {go}");
        let mut stuffed = Vec::with_capacity(message.len() + 16);
        let mut at_line_start = true;
        for &byte in message {
            if at_line_start && byte == b'.' {
                stuffed.push(b'.');
            }
            stuffed.push(byte);
            at_line_start = byte == b'\n';
        }
        if !stuffed.ends_with(b"\r\n") {
            stuffed.extend_from_slice(b"\r\n");
        }
        stuffed.extend_from_slice(b".\r\n");
        self.send_raw(&stuffed).await;
        let mut replies = Vec::new();
        for _ in 0..count {
            replies.push(self.reply().await);
        }
        replies
    }

    /// A whole SMTP transaction: the reply after DATA (or the refused RCPT's).
    pub async fn post(&mut self, from: &str, to: &str, message: &[u8]) -> String {
        let rcpt = self.envelope("EHLO", from, &[to]).await.remove(0);
        if !rcpt.starts_with("250") {
            return rcpt;
        }
        self.data(message, 1).await.remove(0)
    }
}

/// Publishes an Ed25519 key for `domain` under selector `test` in the harness's DNS, and
/// returns `raw` signed with it (From, To, Cc, Subject, Message-ID and Date signed).
pub fn dkim_sign(h: &Harness, domain: &str, raw: &[u8]) -> Vec<u8> {
    use mail_auth::common::crypto::Ed25519Key;
    use mail_auth::common::headers::HeaderWriter;
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("key");
    let public = data_encoding::BASE64.encode(&key.public_key());
    h.dns.txt(
        &format!("test._domainkey.{domain}"),
        &format!("v=DKIM1; k=ed25519; p={public}"),
    );
    let signature = mail_auth::dkim::DkimSigner::from_key(key)
        .domain(domain)
        .selector("test")
        .headers(["From", "To", "Cc", "Subject", "Message-ID", "Date"])
        .sign(raw)
        .expect("sign");
    let mut signed = signature.to_header().into_bytes();
    signed.extend_from_slice(raw);
    signed
}

/// The address a notice asks to be answered at (its Reply-To).
pub fn reply_to(message: &mail_parser::Message) -> String {
    message
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string()
}

/// A plain posting with CRLF line ends.
pub fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Author <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@client.test.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n{body}",
        rand_suffix()
    )
    .into_bytes()
}

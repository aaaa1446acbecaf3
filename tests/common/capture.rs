//! A relay for hostile tests: it records the raw bytes tidings sends it and reads them as a
//! lenient MTA does (a bare LF ends a line, so `<LF>.<LF>` or `<LF>.<CRLF>` ends a message),
//! which is the reading SMTP smuggling counts on. A correct client looks the same to it as
//! to a strict one; a smuggled line shows up as an extra transaction.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One transaction as the lenient reader understood it.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub mail_from: String,
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, lines joined with CRLF.
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Recorded {
    /// Every byte received, per connection, in order.
    wire: Vec<Vec<u8>>,
    transactions: Vec<Transaction>,
}

pub struct CaptureRelay {
    pub addr: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
}

impl CaptureRelay {
    pub async fn start() -> CaptureRelay {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let shared = Arc::clone(&recorded);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
            }
        });
        CaptureRelay { addr, recorded }
    }

    pub fn transactions(&self) -> Vec<Transaction> {
        self.lock().transactions.clone()
    }

    /// The raw bytes of every connection, in order.
    pub fn wire(&self) -> Vec<Vec<u8>> {
        self.lock().wire.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits (at most 15 s) until `count` transactions were read; returns how many were.
    pub async fn wait_for(&self, count: usize) -> usize {
        for _ in 0..300 {
            if self.transactions().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.transactions().len()
    }
}

async fn serve(mut stream: TcpStream, recorded: Arc<Mutex<Recorded>>) -> std::io::Result<()> {
    let connection = {
        let mut recorded = recorded.lock().unwrap_or_else(|p| p.into_inner());
        recorded.wire.push(Vec::new());
        recorded.wire.len() - 1
    };
    stream
        .write_all(b"220 capture.test ESMTP lenient\r\n")
        .await?;
    let mut pending: Vec<u8> = Vec::new();
    let mut in_data = false;
    let mut current = Transaction::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        let mut answers = Vec::new();
        {
            let mut recorded = recorded.lock().unwrap_or_else(|p| p.into_inner());
            recorded.wire[connection].extend_from_slice(&buf[..n]);
            pending.extend_from_slice(&buf[..n]);
            // A line ends at LF, whatever precedes it: the lenient reading.
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let text = line
                    .strip_suffix(b"\n")
                    .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                    .unwrap_or(&line);
                if in_data {
                    if text == b"." {
                        in_data = false;
                        recorded.transactions.push(std::mem::take(&mut current));
                        answers.push("250 2.0.0 queued\r\n".to_string());
                    } else {
                        let text = text.strip_prefix(b".").unwrap_or(text);
                        current.data.extend_from_slice(text);
                        current.data.extend_from_slice(b"\r\n");
                    }
                    continue;
                }
                answers.push(command(text, &mut current, &mut in_data));
            }
        }
        for answer in answers {
            stream.write_all(answer.as_bytes()).await?;
        }
    }
}

fn command(line: &[u8], current: &mut Transaction, in_data: &mut bool) -> String {
    let text = String::from_utf8_lossy(line).to_string();
    let upper = text.to_ascii_uppercase();
    let argument = || {
        text.split_once(':')
            .map(|(_, rest)| {
                let rest = rest.trim();
                let end = rest.find('>').map_or(rest.len(), |i| i + 1);
                rest[..end]
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string()
            })
            .unwrap_or_default()
    };
    if upper.starts_with("EHLO") || upper.starts_with("HELO") || upper.starts_with("LHLO") {
        "250-capture.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n".into()
    } else if upper.starts_with("MAIL FROM") {
        *current = Transaction {
            mail_from: argument(),
            ..Transaction::default()
        };
        "250 2.1.0 ok\r\n".into()
    } else if upper.starts_with("RCPT TO") {
        current.recipients.push(argument());
        "250 2.1.5 ok\r\n".into()
    } else if upper == "DATA" {
        *in_data = true;
        "354 go ahead\r\n".into()
    } else if upper == "QUIT" {
        "221 2.0.0 bye\r\n".into()
    } else {
        "250 2.0.0 ok\r\n".into()
    }
}

/// The test configuration with its relay at `port` instead of the sink's.
pub fn relay_to(toml: &str, port: u16) -> String {
    let mut out = String::with_capacity(toml.len());
    let mut in_relay = false;
    for line in toml.lines() {
        if line.starts_with('[') {
            in_relay = line.trim() == "[relay]";
        }
        if in_relay && line.trim_start().starts_with("port =") {
            out.push_str(&format!("port = {port}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The transactions in one connection's raw bytes as a strict server reads them: lines end
/// at CRLF only, and a message at CRLF.CRLF only.
pub fn strict_transactions(wire: &[u8]) -> Vec<Transaction> {
    let mut transactions = Vec::new();
    let mut current = Transaction::default();
    let mut in_data = false;
    let mut rest = wire;
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = &rest[..end];
        rest = &rest[end + 2..];
        if in_data {
            if line == b"." {
                in_data = false;
                transactions.push(std::mem::take(&mut current));
            } else {
                current
                    .data
                    .extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
                current.data.extend_from_slice(b"\r\n");
            }
            continue;
        }
        command(line, &mut current, &mut in_data);
    }
    transactions
}

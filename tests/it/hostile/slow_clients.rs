//! Slow clients. A client that trickles a byte at a time keeps no session alive: each
//! command must be whole within the idle time, a message must keep up a minimum rate, and
//! a session has a deadline. One client address may not hold more than its share of the
//! SMTP listener's sessions, and the LMTP listener has slots of its own.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(
    tricklers_are_cut_off_and_cannot_take_every_slot,
    a_message_below_the_minimum_rate_is_cut_off,
    a_session_ends_at_its_deadline,
);

/// One second to send each command, 3 sessions per client address, a 4-second session and
/// 1,000 bytes per second during DATA.
fn impatient(toml: String) -> String {
    toml.replace(
        "max_line_length = 998",
        "max_line_length = 998\nidle_timeout_seconds = 1\nsession_timeout_seconds = 4\n\
         max_connections_per_ip = 3\nmin_data_rate = 1000",
    )
}

/// The most bytes a trickler sends: far more time than any limit here allows.
const TRICKLE: usize = 200;

/// Sends `bytes` over and over, one at a time, `pause` apart, [`TRICKLE`] of them at most,
/// until the server closes the connection (or 20 s pass). Returns what the server said and
/// how many bytes were sent: fewer than [`TRICKLE`] when the server cut the client off while
/// it was still trickling, rather than once it fell silent.
async fn trickle(mut stream: TcpStream, bytes: &[u8], pause: Duration) -> (String, usize) {
    let mut said = Vec::new();
    let mut sent = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 512];
    let mut next = bytes.iter().cycle().take(TRICKLE);
    while tokio::time::Instant::now() < deadline {
        if let Some(&byte) = next.next() {
            if stream.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
        }
        match tokio::time::timeout(pause, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => said.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (String::from_utf8_lossy(&said).into_owned(), sent)
}

async fn greeted(addr: std::net::SocketAddr) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("greeting in time")
        .expect("greeting");
    (stream, String::from_utf8_lossy(&buf[..n]).into_owned())
}

async fn tricklers_are_cut_off_and_cannot_take_every_slot(db: &TestDb) {
    let h = Harness::start_with(db, impatient).await;
    let smtp = h.daemon.smtp_addr.expect("smtp");
    let mut tricklers = Vec::new();
    for _ in 0..3 {
        let (stream, greeting) = greeted(smtp).await;
        assert!(greeting.starts_with("220"), "{greeting}");
        tricklers.push(tokio::spawn(trickle(
            stream,
            b"NOOP",
            Duration::from_millis(300),
        )));
    }
    // A fourth session from the same address is turned away at once.
    let (_, refused) = greeted(smtp).await;
    assert!(refused.starts_with("421 4.7.0"), "{refused}");
    assert!(refused.contains("from your address"), "{refused}");
    // The front MTA's listener is not theirs to fill.
    let lmtp = h.lmtp().await;
    assert!(lmtp.greeting.starts_with("220"), "{}", lmtp.greeting);
    drop(lmtp);
    // Each trickler is cut off: a byte every 300 ms never makes a command within 1 s.
    for trickler in tricklers {
        let (said, sent) = trickler.await.expect("trickler");
        assert!(said.contains("421 4.4.2"), "{said:?}");
        assert!(
            sent < TRICKLE,
            "cut off only once silent, after {sent} bytes"
        );
    }
    // Then an honest sender gets in.
    let to = format!("open@{DOMAIN}");
    h.subscribe("open", &["reader@ngo.example"]).await;
    let posting = message("someone@ngo.example", &to, "After", "Hello\r\n");
    let reply = h
        .smtp()
        .await
        .post("someone@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");
}

async fn a_message_below_the_minimum_rate_is_cut_off(db: &TestDb) {
    let h = Harness::start_with(db, impatient).await;
    let (mut stream, _) = greeted(h.daemon.smtp_addr.expect("smtp")).await;
    let to = format!("open-owner@{DOMAIN}");
    let envelope = format!("EHLO x\r\nMAIL FROM:<a@ngo.example>\r\nRCPT TO:<{to}>\r\nDATA\r\n");
    stream.write_all(envelope.as_bytes()).await.expect("send");
    // About 30 bytes a second, when 1,000 are asked for.
    let (said, sent) = trickle(stream, b"Subject: slow\r\n", Duration::from_millis(30)).await;
    assert!(said.contains("354"), "{said:?}");
    assert!(said.contains("421 4.4.2"), "{said:?}");
    assert!(
        sent < TRICKLE,
        "cut off only once silent, after {sent} bytes"
    );
    assert!(h.nothing_stored().await);
}

async fn a_session_ends_at_its_deadline(db: &TestDb) {
    let h = Harness::start_with(db, impatient).await;
    let mut client = h.smtp().await;
    // Whole commands, each in time, for longer than the session may last.
    let mut last = String::new();
    for _ in 0..40 {
        last = client.command("NOOP").await;
        if !last.starts_with("250") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(last.starts_with("421 4.4.2"), "{last:?}");
    assert!(last.contains("lasted too long"), "{last:?}");
}

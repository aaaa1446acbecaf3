//! SMTP smuggling through tidings. A message whose text holds a `.` line ended or preceded
//! by a bare LF or CR, followed by SMTP commands, is sent to a list's `-owner@` address,
//! which anyone may write to and which is relayed as it came. A relay that takes a bare LF
//! for a line end (as Postfix did before `smtpd_forbid_bare_newline`) must still read
//! exactly one message per copy from what tidings sends it, and no RCPT to the victim.

use crate::common::capture::{relay_to, strict_transactions, CaptureRelay, Transaction};
use crate::common::{Harness, TestDb, DOMAIN};

on_both_databases!(
    smuggled_commands_stay_inside_the_relayed_message,
    a_dot_line_ended_by_cr_cr_lf_does_not_end_the_data,
);

const VICTIM: &str = "victim@elsewhere.example";

/// The endings of a `.` line that lenient readers take for the end of a message.
const SMUGGLING_ENDS: [&str; 5] = ["\n.\r\n", "\n.\n", "\r\n.\n", "\r.\r\n", "\r\n.\r\r\n"];

fn attack(end: &str) -> Vec<u8> {
    format!(
        "From: <attacker@evil.example>\r\nTo: <news-owner@{DOMAIN}>\r\nSubject: hello\r\n\
         Message-ID: <{}@evil.example>\r\n\r\nfirst line{end}MAIL FROM:<attacker@evil.example>\r\n\
         RCPT TO:<{VICTIM}>\r\nDATA\r\nFrom: <secretariat@coalition.test.example>\r\n\
         Subject: forged\r\n\r\nforged body\r\n",
        end.escape_debug()
    )
    .into_bytes()
}

/// What tidings must store of `data` (the bytes after 354 up to the final dot, which has
/// no `.` line that could end it): each CRLF, bare CR or bare LF a CRLF, each line's leading
/// dot removed.
fn canonical(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'\r' | b'\n' => {
                out.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                out.extend_from_slice(b"\r\n");
                line.clear();
                let crlf = data[i] == b'\r' && data.get(i + 1) == Some(&b'\n');
                i += if crlf { 2 } else { 1 };
            }
            byte => {
                line.push(byte);
                i += 1;
            }
        }
    }
    out.extend_from_slice(&line);
    out
}

/// What is stored below the one trace field tidings puts above every message it takes in
/// (`Received: by ...`, folded once): the rest must be the bytes as read, untouched.
fn below_our_trace_field(stored: &[u8]) -> Option<&[u8]> {
    if !stored.starts_with(b"Received: by ") {
        return None;
    }
    let mut at = 0;
    loop {
        let end = at + stored[at..].windows(2).position(|w| w == b"\r\n")? + 2;
        if !matches!(stored.get(end), Some(b' ' | b'\t')) {
            return Some(&stored[end..]);
        }
        at = end;
    }
}

fn is_canonical(message: &[u8]) -> bool {
    message.iter().enumerate().all(|(i, &b)| match b {
        b'\r' => message.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && message[i - 1] == b'\r',
        _ => true,
    })
}

/// The messages stored and expanded (owner mail goes out as it came).
async fn expanded(h: &Harness) -> Vec<tidings::store::StoredMessage> {
    h.daemon
        .store
        .messages_in_state("expanded")
        .await
        .expect("stored")
}

async fn smuggled_commands_stay_inside_the_relayed_message(db: &TestDb) {
    let relay = CaptureRelay::start().await;
    let h = Harness::start_with(db, |toml| relay_to(&toml, relay.addr.port())).await;
    let owner = format!("news-owner@{DOMAIN}");
    for end in SMUGGLING_ENDS {
        let mut client = h.smtp().await;
        let rcpt = client
            .envelope("EHLO", "attacker@evil.example", &[&owner])
            .await;
        assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
        assert!(client.command("DATA").await.starts_with("354"));
        // Raw: exactly these bytes, no dot-stuffing by the client.
        let mut data = attack(end);
        data.extend_from_slice(b".\r\n");
        client.send_raw(&data).await;
        let reply = client.reply().await;
        assert!(reply.starts_with("250"), "{end:?}: {reply}");
        assert!(
            client.command("NOOP").await.starts_with("250"),
            "{end:?}: the listener read the smuggled lines as commands"
        );
    }
    assert!(h.queue_drained().await, "the queue did not drain");

    let seen = relay.transactions();
    assert_eq!(
        seen.len(),
        SMUGGLING_ENDS.len(),
        "one copy per message to the single owner, no more: {seen:#?}"
    );
    for transaction in &seen {
        assert_eq!(transaction.recipients, ["owner@coalition.test.example"]);
        assert!(!transaction.mail_from.contains("attacker"));
    }
    // Read strictly, the wire says the same as read leniently: no ambiguity. (Copies went
    // over several connections, so they are compared in a common order.)
    let by_content = |transactions: Vec<Transaction>| {
        let mut all: Vec<_> = transactions
            .into_iter()
            .map(|t| (t.data, t.recipients, t.mail_from))
            .collect();
        all.sort();
        all
    };
    let strict = relay
        .wire()
        .iter()
        .flat_map(|wire| strict_transactions(wire))
        .collect();
    assert_eq!(by_content(strict), by_content(seen.clone()));
    // And each copy is the stored message, byte for byte, canonical, the smuggled commands
    // inside it as text; what was stored is our trace field above the canonical bytes.
    let stored = expanded(&h).await;
    assert_eq!(stored.len(), SMUGGLING_ENDS.len());
    for end in SMUGGLING_ENDS {
        let expected = canonical(&attack(end));
        let message = stored
            .iter()
            .find(|m| below_our_trace_field(&m.raw) == Some(expected.as_slice()))
            .unwrap_or_else(|| panic!("{end:?}: not stored as {expected:?}: {stored:#?}"));
        assert!(
            is_canonical(&message.raw),
            "{end:?} stored with bare line ends"
        );
        assert!(
            seen.iter().any(|t| t.data == message.raw),
            "{end:?}: no copy equals the stored message"
        );
        let text = String::from_utf8_lossy(&message.raw);
        assert!(
            text.contains(&format!("\r\nRCPT TO:<{VICTIM}>\r\n")),
            "{text}"
        );
    }
}

async fn a_dot_line_ended_by_cr_cr_lf_does_not_end_the_data(db: &TestDb) {
    let h = Harness::start(db).await;
    let owner = format!("news-owner@{DOMAIN}");
    let mut client = h.smtp().await;
    client
        .envelope("EHLO", "attacker@evil.example", &[&owner])
        .await;
    assert!(client.command("DATA").await.starts_with("354"));
    client
        .send_raw(b"From: <a@evil.example>\r\nSubject: x\r\n\r\nbefore\r\n.\r\r\nNOOP\r\n")
        .await;
    // Still in DATA: the NOOP is text, and nothing is answered until the real end.
    client.send_raw(b"after\r\n.\r\n").await;
    let reply = client.reply().await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(client.command("NOOP").await.starts_with("250 2.0.0 OK"));
    assert!(h.queue_drained().await);
    let stored = expanded(&h).await;
    assert_eq!(stored.len(), 1);
    let text = String::from_utf8_lossy(&stored[0].raw).to_string();
    assert!(
        text.ends_with("before\r\n\r\n\r\nNOOP\r\nafter\r\n"),
        "{text:?}"
    );
}

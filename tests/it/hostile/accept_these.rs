//! `accept_these` on a confidential list is no way round its gates: an address named there
//! passes the same two a member's posting must, a proven From and no outside recipients.

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(accept_these_passes_the_confidential_gates_like_a_member);

const GUEST: &str = "guest@partner.example";
const BRUNO: &str = "bruno@ngo-b.example";

async fn accept_these_passes_the_confidential_gates_like_a_member(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "footer = \"Confidential: for team members only.\"",
            "footer = \"Confidential: for team members only.\"\naccept_these = [\"@partner.example\"]",
        )
    })
    .await;
    h.subscribe("team", &[BRUNO]).await;
    let team = format!("team@{DOMAIN}");

    // Unproven: held, as a member's would be.
    h.write(GUEST, &team, "Unproven", "Hello\r\n").await;
    // Proven, but copied to someone outside the list: held.
    let copied = String::from_utf8(message(GUEST, &team, "Copied", "Hello\r\n"))
        .expect("text")
        .replacen("\r\n", "\r\nCc: press@newspaper.example\r\n", 1);
    h.send_proven(GUEST, &team, copied.as_bytes()).await;
    assert!(h.queue_drained().await);
    assert!(
        h.received_by(BRUNO).is_empty(),
        "accept_these bypassed a gate"
    );
    assert_eq!(
        h.held_reasons().await,
        ["unauthenticated", "outside_recipients"]
    );

    // Proven and among members: delivered.
    h.write_proven(GUEST, &team, "Proven", "Hello\r\n").await;
    let received = h.received_by(BRUNO);
    assert_eq!(received.len(), 1);
    assert!(received[0].subject().unwrap_or_default().contains("Proven"));
}

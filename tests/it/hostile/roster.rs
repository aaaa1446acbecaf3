//! The roster of a confidential list is never disclosed by the SMTP answer. An unproven
//! From gets the same answer whether or not it is a member: the member's posting is held
//! (it may be genuine), the outsider's dropped without a word and counted for the owners.
//! Only a sender whose domain proved the From may learn, by a refusal, that they are not a
//! member, which they knew.

use crate::common::{dkim_sign, message, Harness, SmtpClient, TestDb, DOMAIN};

on_both_databases!(
    an_unproven_sender_cannot_tell_members_from_outsiders,
    a_proven_outsider_is_refused_during_the_transaction,
);

const ANA: &str = "ana@ngo-a.example";
const BRUNO: &str = "bruno@ngo-b.example";
const MALLORY: &str = "mallory@elsewhere.example";

/// Every reply of one transaction from `from` to `team@`, over SMTP or LMTP.
async fn replies(client: &mut SmtpClient, hello: &str, from: &str, message: &[u8]) -> Vec<String> {
    let team = format!("team@{DOMAIN}");
    let mut all = client.envelope(hello, from, &[&team]).await;
    all.extend(client.data(message, 1).await);
    all
}

async fn an_unproven_sender_cannot_tell_members_from_outsiders(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    let team = format!("team@{DOMAIN}");
    // A plain posting and a large one, over SMTP and LMTP: the answers must not differ.
    let big = "y".repeat(76) + "\r\n";
    let bodies = [
        ("Hello", "Hello team\r\n".to_string()),
        ("Large", big.repeat(2000)),
    ];
    for (hello, lmtp) in [("EHLO", false), ("LHLO", true)] {
        for (subject, body) in &bodies {
            let answer = |from: &'static str| {
                let h = &h;
                let team = team.clone();
                async move {
                    let mut client = if lmtp { h.lmtp().await } else { h.smtp().await };
                    let posting = message(from, &team, subject, body);
                    replies(&mut client, hello, from, &posting).await
                }
            };
            let member = answer(ANA).await;
            let outsider = answer(MALLORY).await;
            assert_eq!(
                member, outsider,
                "{hello} {subject}: the answer tells them apart"
            );
            assert!(member.iter().all(|r| r.starts_with("250")), "{member:?}");
        }
    }
    assert!(h.queue_drained().await);
    assert!(
        h.received_by(BRUNO).is_empty(),
        "an unproven posting went out"
    );
    // The member's four postings wait for the owners; the outsider's four are gone.
    assert_eq!(h.held_reasons().await, ["unauthenticated"; 4]);
    let dropped = h.daemon.store.dropped_counts(0).await.expect("counts");
    assert_eq!(
        dropped,
        [("team".to_string(), "confidential".to_string(), 4)]
    );
    let held = h
        .daemon
        .store
        .messages_in_state("held")
        .await
        .expect("held");
    assert!(held
        .iter()
        .all(|m| !String::from_utf8_lossy(&m.raw).contains(MALLORY)));
}

async fn a_proven_outsider_is_refused_during_the_transaction(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    let team = format!("team@{DOMAIN}");
    let signed = dkim_sign(
        &h,
        "elsewhere.example",
        &message(MALLORY, &team, "Let me in", "Hello\r\n"),
    );
    let reply = h.smtp().await.post(MALLORY, &team, &signed).await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    assert!(reply.contains("only members"), "{reply}");
    assert!(h.nothing_stored().await);
}

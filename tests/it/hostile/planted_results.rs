//! Authentication-Results planted by the sender. The header of a trusted authserv-id is
//! believed only from the front MTA (over LMTP, or from `front_mta_addresses`), and only for
//! the domain it names; a planted one is neither believed nor passed on to subscribers.

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(
    a_planted_header_is_not_believed_nor_passed_on,
    a_dmarc_pass_that_names_no_domain_proves_nothing,
    mail_from_a_configured_front_mta_is_believed,
);

const ANA: &str = "ana@ngo-a.example";
const BRUNO: &str = "bruno@ngo-b.example";

fn with_results(results: &str, raw: Vec<u8>) -> Vec<u8> {
    let mut planted = format!("Authentication-Results: mx.{DOMAIN}; {results}\r\n").into_bytes();
    planted.extend_from_slice(&raw);
    planted
}

/// Sends `raw` over LMTP as the front MTA would hand it in.
async fn through_lmtp(h: &Harness, from: &str, to: &str, raw: &[u8]) {
    let mut client = h.lmtp().await;
    let rcpt = client.envelope("LHLO", from, &[to]).await;
    assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
    let reply = client.data(raw, 1).await.remove(0);
    assert!(reply.starts_with("250"), "{reply}");
}

async fn a_planted_header_is_not_believed_nor_passed_on(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    h.subscribe("open", &[BRUNO]).await;
    let team = format!("team@{DOMAIN}");
    let planted = |subject: &str, to: &str| {
        with_results(
            "dkim=pass header.d=ngo-a.example",
            message(ANA, to, subject, "Hello\r\n"),
        )
    };

    // Straight to the SMTP listener: the sender's own claim.
    h.send(ANA, &team, &planted("Planted", &team)).await;
    assert!(h.queue_drained().await);
    assert!(
        h.received_by(BRUNO).is_empty(),
        "a planted header was believed"
    );
    assert_eq!(h.held_reasons().await, ["unauthenticated"]);

    // The same header from the front MTA is its verdict.
    through_lmtp(&h, ANA, &team, &planted("Through the MX", &team)).await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1);

    // Where nothing depends on it, the planted header still never reaches subscribers.
    let open = format!("open@{DOMAIN}");
    h.send(ANA, &open, &planted("Open", &open)).await;
    assert!(h.queue_drained().await);
    let copy = h
        .received_by(BRUNO)
        .into_iter()
        .find(|m| m.subject() == Some("Open"))
        .expect("delivered");
    let copy = String::from_utf8_lossy(copy.raw_message()).to_ascii_lowercase();
    assert!(!copy.contains(&format!("mx.{DOMAIN}; dkim=pass")), "{copy}");
}

async fn a_dmarc_pass_that_names_no_domain_proves_nothing(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    let team = format!("team@{DOMAIN}");
    let raw = with_results("dmarc=pass", message(ANA, &team, "Vague", "Hello\r\n"));
    through_lmtp(&h, ANA, &team, &raw).await;
    let raw = with_results(
        "dmarc=pass header.from=elsewhere.example",
        message(ANA, &team, "Other domain", "Hello\r\n"),
    );
    through_lmtp(&h, ANA, &team, &raw).await;
    assert!(h.queue_drained().await);
    assert!(h.received_by(BRUNO).is_empty());
    assert_eq!(h.held_reasons().await, ["unauthenticated"; 2]);
}

async fn mail_from_a_configured_front_mta_is_believed(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace(
            "[authentication]",
            "[authentication]\nfront_mta_addresses = [\"127.0.0.1\"]",
        )
    })
    .await;
    h.subscribe("team", &[ANA, BRUNO]).await;
    let team = format!("team@{DOMAIN}");
    let raw = with_results(
        "dmarc=pass header.from=ngo-a.example",
        message(ANA, &team, "Relayed by the MX over SMTP", "Hello\r\n"),
    );
    h.send(ANA, &team, &raw).await;
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(BRUNO).len(), 1);
}

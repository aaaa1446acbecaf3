//! Email commands turned against third parties. A message to `LIST-request@` carries up to
//! ten commands, and every `subscribe ADDRESS` writes to ADDRESS: the limits must count
//! commands, not messages, must hold over LMTP (where no client IP is known) per envelope
//! sender and per target, and must keep a flood from filling the list's pending requests.
//! The reply to the (forgeable) From address must never carry the attacker's text.

use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(
    commands_are_counted_not_messages,
    lmtp_commands_are_limited_per_sender_and_target,
    replies_quote_only_command_lines,
);

/// Where the attacker's victims live: nothing of ours, so every message there is one
/// tidings was made to write.
const ELSEWHERE: &str = "elsewhere.example";

/// Ten `subscribe` lines, each naming another victim.
fn ten_subscribes(batch: usize) -> String {
    (0..10)
        .map(|i| format!("subscribe victim{batch}-{i}@{ELSEWHERE}\r\n"))
        .collect()
}

/// Messages the sink received for addresses at `ELSEWHERE` whose local part starts with
/// `prefix`: the confirmation requests sent to third parties.
fn sent_to(h: &Harness, prefix: &str) -> usize {
    h.received_recipients()
        .iter()
        .filter(|r| r.starts_with(prefix) && r.ends_with(&format!("@{ELSEWHERE}")))
        .count()
}

/// Sends `body` to `open-request@` over LMTP with envelope sender and From `from`.
async fn lmtp_request(h: &Harness, from: &str, body: &str) {
    let to = format!("open-request@{DOMAIN}");
    let mut lmtp = h.lmtp().await;
    let rcpt = lmtp.envelope("LHLO", from, &[&to]).await;
    assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
    let replies = lmtp.data(&message(from, &to, "", body), 1).await;
    assert!(replies[0].starts_with("250"), "{replies:?}");
}

async fn commands_are_counted_not_messages(db: &TestDb) {
    const PER_IP: usize = 5;
    let h = Harness::start_with(db, |toml| {
        toml.replacen(
            "[[lists]]",
            &format!("[subscriptions]\nrequests_per_ip_per_hour = {PER_IP}\n\n[[lists]]"),
            1,
        )
    })
    .await;
    let to = format!("open-request@{DOMAIN}");
    let mut smtp = h.smtp().await;
    // Each message from another sender, so that only the client IP (127.0.0.1) is shared:
    // 5 messages of 10 commands are 50 confirmation requests to 50 different victims.
    for batch in 0..PER_IP {
        let from = format!("sender{batch}@attacker.example");
        let reply = smtp
            .post(&from, &to, &message(&from, &to, "", &ten_subscribes(batch)))
            .await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert!(h.queue_drained().await, "the queue did not drain");
    let confirmations = sent_to(&h, "victim");
    assert!(confirmations >= 1, "the first commands are carried out");
    assert!(
        confirmations <= PER_IP,
        "{confirmations} confirmation requests to third parties from one client IP \
         (limit {PER_IP} an hour)"
    );
    h.daemon.shutdown().await;
}

async fn lmtp_commands_are_limited_per_sender_and_target(db: &TestDb) {
    const PER_SENDER: usize = 4;
    const PER_TARGET: usize = 2;
    const MAX_PENDING: usize = 12;
    let h = Harness::start_with(db, |toml| {
        let limits = format!(
            "[subscriptions]\nrequests_per_sender_per_hour = {PER_SENDER}\n\
             confirmations_per_address_per_day = {PER_TARGET}\n\
             max_pending_per_list = {MAX_PENDING}\n\n[[lists]]"
        );
        toml.replacen("[[lists]]", &limits, 1)
    })
    .await;

    // One envelope sender, 5 messages of 10 commands: 50 victims, far more than the list's
    // pending requests may hold.
    let flooder = "flood@attacker.example";
    for batch in 0..5 {
        lmtp_request(&h, flooder, &ten_subscribes(batch)).await;
    }
    assert!(h.queue_drained().await, "the queue did not drain");
    let confirmations = sent_to(&h, "victim");
    assert!(confirmations >= 1, "the first commands are carried out");
    assert!(
        confirmations <= PER_SENDER,
        "{confirmations} confirmation requests from one envelope sender (limit {PER_SENDER})"
    );

    // Many senders, one target.
    let target = format!("target@{ELSEWHERE}");
    for i in 0..20 {
        let sender = format!("helper{i}@attacker.example");
        lmtp_request(&h, &sender, &format!("subscribe {target}\r\n")).await;
    }
    assert!(h.queue_drained().await, "the queue did not drain");
    let to_target = sent_to(&h, "target");
    assert!(to_target >= 1, "the target is asked once");
    assert!(
        to_target <= PER_TARGET,
        "{to_target} confirmation requests to one target (limit {PER_TARGET})"
    );

    let pending = h
        .daemon
        .store
        .pending_requests(Some("open"))
        .await
        .expect("pending requests");
    assert!(
        pending.len() <= PER_SENDER + 1,
        "{} requests waiting after the flood",
        pending.len()
    );

    // The list still takes a legitimate request.
    let legit = "amina@ngo.example";
    let join = format!("open-join@{DOMAIN}");
    let mut lmtp = h.lmtp().await;
    let rcpt = lmtp.envelope("LHLO", legit, &[&join]).await;
    assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
    let replies = lmtp.data(&message(legit, &join, "join", ""), 1).await;
    assert!(replies[0].starts_with("250"), "{replies:?}");
    assert!(h.queue_drained().await, "the queue did not drain");
    assert_eq!(
        h.received_by(legit).len(),
        1,
        "a legitimate subscriber gets a confirmation request after the flood"
    );
    h.daemon.shutdown().await;
}

async fn replies_quote_only_command_lines(db: &TestDb) {
    let h = Harness::start(db).await;
    let victim = format!("victim@{ELSEWHERE}");
    let to = format!("open-request@{DOMAIN}");
    let spam_subject = "WIN A FREE PRIZE http://spam.example/claim";
    // Invalid arguments, then a line of prose starting with a command word (which ends the
    // commands, like any other text), then plain spam.
    let body = "language fr\r\n\
                subscribe http://spam.example/buy-now\r\n\
                language spam.example\r\n\
                subscribe\r\n\
                subscribe Cheap pills at http://spam.example/pills\r\n\
                Click http://spam.example/now for FREE MONEY\r\n";
    // The From is forged: the reply goes to the victim, not to the attacker.
    let raw = message(&victim, &to, spam_subject, body);
    h.send("attacker@attacker.example", &to, &raw).await;
    assert!(h.queue_drained().await, "the queue did not drain");

    let recipients = h.received_recipients();
    assert!(
        recipients.iter().all(|r| *r == victim),
        "tidings wrote to someone other than the From: {recipients:?}"
    );
    let received = h.received_by(&victim);
    assert!(!received.is_empty(), "the From gets an answer");
    let attacker_text = ["spam.example", "prize", "pills", "free money", "buy-now"];
    let mut summary = None;
    for copy in &received {
        let subject = copy.subject().unwrap_or_default().to_lowercase();
        let text = copy.body_text(0).unwrap_or_default().to_lowercase();
        let html = copy.body_html(0).unwrap_or_default().to_lowercase();
        for part in [&subject, &text, &html] {
            for spam in attacker_text {
                assert!(!part.contains(spam), "{spam:?} was sent on:\n{part}");
            }
        }
        if text.lines().any(|line| line.trim_end() == "> language fr") {
            summary = Some(text);
        }
    }
    let summary = summary.expect("a summary quoting the recognised commands");
    assert!(
        summary.lines().any(|line| line.trim_end() == "> subscribe"),
        "{summary}"
    );
    assert!(summary.contains("help"), "no hint at `help`:\n{summary}");
    h.daemon.shutdown().await;
}

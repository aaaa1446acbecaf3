//! `tidings serve` under signals, as a real process: SIGTERM finishes what is in flight and
//! exits cleanly, SIGHUP reloads the configuration; neither loses nor repeats a delivery.

use std::time::Duration;

use crate::common::process::{copies_per_recipient, exit_status, logged, signal, Setup};
use crate::common::{message, SmtpClient, TestDb, DOMAIN};
use tidings_testkit::sink::Sink;

const SUBSCRIBERS: usize = 600;

on_both_databases!(
    sighup_then_sigterm_mid_fan_out_then_restart_serves_every_member_exactly_once,
    sighup_applies_a_valid_file_and_keeps_running_on_a_bad_one,
    sighup_keeps_the_socket_and_lets_a_session_in_progress_finish_under_the_old_configuration,
);

async fn sighup_then_sigterm_mid_fan_out_then_restart_serves_every_member_exactly_once(
    db: &TestDb,
) {
    // A slow relay, so that the signals land while the fan-out is under way.
    let sink = Sink::start_slow(true, Duration::from_millis(4))
        .await
        .expect("sink");
    let members: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("member{i:04}@ngo.example"))
        .collect();
    let setup = Setup::new(db, &sink, &members);
    let log = setup.dir.path().join("serve.log");
    let mut daemon = setup.spawn(Some(&log));
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Fan-out", "Hello all\r\n");
    let reply = SmtpClient::connect(setup.smtp().await)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");

    assert!(sink.wait_for(50, Duration::from_secs(60)).await >= 50);
    signal(&daemon, "HUP");
    assert!(logged(&log, "configuration reloaded").await, "no reload");
    let at_reload = sink.count();
    assert!(sink.wait_for(at_reload + 50, Duration::from_secs(60)).await > at_reload);
    signal(&daemon, "TERM");
    let status = exit_status(&mut daemon).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    let at_stop = copies_per_recipient(&sink).len();
    assert!(
        at_stop < SUBSCRIBERS,
        "the fan-out ended before SIGTERM ({at_stop})"
    );

    let mut daemon = setup.spawn(None);
    for _ in 0..600 {
        if copies_per_recipient(&sink).len() == SUBSCRIBERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&daemon, "TERM");
    let status = exit_status(&mut daemon).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");

    let copies = copies_per_recipient(&sink);
    assert_eq!(copies.len(), SUBSCRIBERS, "every member served");
    let repeated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "sent twice: {repeated:?}");
}

async fn sighup_applies_a_valid_file_and_keeps_running_on_a_bad_one(db: &TestDb) {
    let sink = Sink::start(true).await.expect("sink");
    let setup = Setup::new(db, &sink, &[]);
    let log = setup.dir.path().join("serve.log");
    let mut daemon = setup.spawn(Some(&log));
    let before = rcpt_extra(&setup).await;
    assert!(
        !before.starts_with("250"),
        "unknown list accepted: {before}"
    );

    let original = std::fs::read_to_string(&setup.config).expect("config");
    let with_extra = format!(
        "{original}\n[[lists]]\nname = \"extra\"\ndisplay_name = \"Extra\"\nposting = \"open\"\n\
         subscription = \"confirm\"\nvisibility = \"public\"\nowners = [\"owner@coalition.test.example\"]\n"
    );
    std::fs::write(&setup.config, &with_extra).expect("write config");
    signal(&daemon, "HUP");
    assert!(logged(&log, "configuration reloaded").await, "no reload");
    let after = rcpt_extra(&setup).await;
    assert!(after.starts_with("250"), "new list refused: {after}");

    std::fs::write(
        &setup.config,
        with_extra.replace("[relay]\n", "[relay]\nno_such_key = 1\n"),
    )
    .expect("write config");
    signal(&daemon, "HUP");
    assert!(
        logged(&log, "configuration not reloaded").await,
        "bad file not reported"
    );
    let still = rcpt_extra(&setup).await;
    assert!(
        still.starts_with("250"),
        "the running configuration changed: {still}"
    );

    signal(&daemon, "TERM");
    let status = exit_status(&mut daemon).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

async fn sighup_keeps_the_socket_and_lets_a_session_in_progress_finish_under_the_old_configuration(
    db: &TestDb,
) {
    let sink = Sink::start(true).await.expect("sink");
    let setup = Setup::new(db, &sink, &["member@ngo.example".to_string()]);
    let log = setup.dir.path().join("serve.log");
    let mut daemon = setup.spawn(Some(&log));
    let smtp = setup.smtp().await;
    let open = format!("open@{DOMAIN}");
    let extra = format!("extra@{DOMAIN}");

    // A session under way when the signal comes.
    let mut old = SmtpClient::connect(smtp).await;
    let hello = old.command("EHLO client.test.example").await;
    assert!(hello.starts_with("250"), "{hello}");

    // Connections made all through the reload: each must be greeted, none refused.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let knocking = tokio::spawn(async move {
        let mut greeted = 0;
        for _ in 0..2000 {
            if *stopped.borrow() {
                break;
            }
            let client = SmtpClient::connect(smtp).await;
            assert!(client.greeting.starts_with("220"), "{}", client.greeting);
            greeted += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        greeted
    });

    let original = std::fs::read_to_string(&setup.config).expect("config");
    let with_extra = format!(
        "{original}\n[[lists]]\nname = \"extra\"\ndisplay_name = \"Extra\"\nposting = \"open\"\n\
         subscription = \"confirm\"\nvisibility = \"public\"\nowners = [\"owner@coalition.test.example\"]\n"
    );
    std::fs::write(&setup.config, &with_extra).expect("write config");
    tokio::time::sleep(Duration::from_millis(100)).await;
    signal(&daemon, "HUP");
    assert!(logged(&log, "configuration reloaded").await, "no reload");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop.send(true);
    let greeted = knocking.await.expect("every connection greeted");
    assert!(greeted > 0);

    // The old session goes on under the configuration it started with: it does not know
    // the new list, and its posting to a list it knows is accepted and delivered.
    let mail = old.command("MAIL FROM:<member@ngo.example>").await;
    assert!(mail.starts_with("250"), "{mail}");
    let refused = old.command(&format!("RCPT TO:<{extra}>")).await;
    assert!(
        !refused.starts_with("250"),
        "old session knew the new list: {refused}"
    );
    let rcpt = old.command(&format!("RCPT TO:<{open}>")).await;
    assert!(rcpt.starts_with("250"), "{rcpt}");
    let posting = message(
        "member@ngo.example",
        &open,
        "Across a reload",
        "Still here\r\n",
    );
    let accepted = old.data(&posting, 1).await.remove(0);
    assert!(accepted.starts_with("250"), "{accepted}");
    assert!(
        sink.wait_for(1, Duration::from_secs(30)).await >= 1,
        "posting not delivered"
    );

    // A new session has the new configuration.
    let after = rcpt_extra(&setup).await;
    assert!(after.starts_with("250"), "new list refused: {after}");

    signal(&daemon, "TERM");
    let status = exit_status(&mut daemon).await.expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// The daemon's answer to RCPT TO the list `extra`.
async fn rcpt_extra(setup: &Setup) -> String {
    let mut client = SmtpClient::connect(setup.smtp().await).await;
    let extra = format!("extra@{DOMAIN}");
    client
        .envelope("EHLO", "someone@ngo.example", &[&extra])
        .await
        .pop()
        .unwrap_or_default()
}

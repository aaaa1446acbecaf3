//! Listener limits and start-up state: recipients per transaction, concurrent connections,
//! idle clients, and the generated secret that must survive a restart.

use crate::common::{Harness, TestDb, DOMAIN};
use tidings::config::Config;
use tidings::daemon;
use tidings::store::Store;
use tidings::tokens::Purpose;

on_both_databases!(
    too_many_recipients_connections_or_idle_time_are_refused,
    a_generated_secret_is_kept_across_restarts,
);

async fn too_many_recipients_connections_or_idle_time_are_refused(db: &TestDb) {
    let h = Harness::start_with(db, |toml| {
        toml.replace("max_line_length = 998", "max_line_length = 998\nmax_recipients = 2\nmax_connections = 2\nidle_timeout_seconds = 1")
    })
    .await;
    let to = format!("open@{DOMAIN}");
    let mut client = h.smtp().await;
    let replies = client
        .envelope("EHLO", "a@ngo.example", &[&to, &to, &to])
        .await;
    assert!(
        replies[0].starts_with("250") && replies[1].starts_with("250"),
        "{replies:?}"
    );
    assert!(replies[2].starts_with("452 4.5.3"), "{replies:?}");

    // Two connections are open (this one and the next); a third is turned away.
    let _second = h.smtp().await;
    let third = h.smtp().await;
    assert!(third.greeting.starts_with("421"), "{}", third.greeting);

    // A client that says nothing is told so and disconnected.
    let mut idle = client;
    let closing = idle.reply().await;
    assert!(closing.starts_with("421 4.4.2"), "{closing}");
    assert_eq!(
        idle.reply().await,
        "",
        "connection closed after the idle time-out"
    );
    h.daemon.shutdown().await;
}

async fn a_generated_secret_is_kept_across_restarts(db: &TestDb) {
    let relay = "127.0.0.1:9".parse().expect("addr");
    let text = crate::common::config_toml(&db.url, relay).replace(
        &format!("secret = \"{}\"", crate::common::SECRET),
        "secret = \"\"",
    );
    let config = Config::from_toml(
        &text,
        std::path::Path::new("t.toml"),
        Vec::new(),
        &tidings::dkim::keys::Files,
    )
    .expect("valid");
    let token = {
        let store = Store::open(&db.url, 2).await.expect("store");
        let signer = daemon::signer(&config, &store).await.expect("signer");
        store.close().await;
        signer.sign(Purpose::Verp, "team", &[7])
    };
    let store = Store::open(&db.url, 2).await.expect("store");
    let signer = daemon::signer(&config, &store).await.expect("signer");
    assert_eq!(signer.verify(Purpose::Verp, "team", &token), Some(vec![7]));
    store.close().await;
}

//! The `tidings` command as an operator uses it, on both databases.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::TestDb;

on_both_databases!(
    members_commands_are_idempotent_and_report_by_line,
    queue_and_lists_show_the_state,
    shunted_messages_are_listed_shown_retried_and_discarded
);

fn tidings(config: &Path, db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TIDINGS_DATABASE_URL", &db.url)
        .env("TIDINGS_LOG", "warn")
        .output()
        .expect("tidings runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tidings.toml");
    let relay = "127.0.0.1:9".parse().expect("addr");
    std::fs::write(&path, common::config_toml("sqlite://unused.db", relay)).expect("write");
    path
}

async fn members_commands_are_idempotent_and_report_by_line(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path());
    let file = dir.path().join("members.csv");
    std::fs::write(
        &file,
        "address,name,language\nana@ngo-a.example,\"Silva, Ana\",pt\n\nnot an address\nBRUNO@ngo-b.example\ncarol@ngo-c.example,Carol,xx\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8 path");

    let first = stdout(&tidings(&config, db, &["members", "import", "team", file]));
    assert!(first.contains(":4: skipped"), "{first}");
    assert!(
        first.contains(":6: skipped") && first.contains("unknown language"),
        "{first}"
    );
    assert!(
        first.contains("team: 2 added, 0 already present, 2 invalid"),
        "{first}"
    );
    let second = stdout(&tidings(&config, db, &["members", "import", "team", file]));
    assert!(
        second.contains("team: 0 added, 2 already present, 2 invalid"),
        "{second}"
    );

    let added = stdout(&tidings(
        &config,
        db,
        &[
            "members",
            "add",
            "team",
            "Dina@NGO-D.example",
            "--name",
            "Dina",
            "--lang",
            "ar",
        ],
    ));
    assert!(added.contains("added dina@ngo-d.example"), "{added}");
    let again = stdout(&tidings(
        &config,
        db,
        &["members", "add", "team", "dina@ngo-d.example"],
    ));
    assert!(again.contains("already a member"), "{again}");

    let roster = stdout(&tidings(&config, db, &["members", "list", "team"]));
    let lines: Vec<&str> = roster.lines().collect();
    assert_eq!(lines.len(), 3, "{roster}");
    assert!(
        lines[0].starts_with("ana@ngo-a.example\tSilva, Ana\tpt"),
        "{roster}"
    );
    assert!(lines[1].starts_with("bruno@ngo-b.example"), "{roster}");

    let removed = stdout(&tidings(
        &config,
        db,
        &["members", "remove", "team", "bruno@ngo-b.example"],
    ));
    assert!(removed.contains("removed"), "{removed}");
    let missing = tidings(
        &config,
        db,
        &["members", "remove", "team", "bruno@ngo-b.example"],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not a member"));

    let unknown = tidings(&config, db, &["members", "add", "nosuch", "a@b.example"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no list named \"nosuch\""));
}

async fn queue_and_lists_show_the_state(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path());
    stdout(&tidings(
        &config,
        db,
        &["members", "add", "news", "reader@ngo.example"],
    ));
    let lists = stdout(&tidings(&config, db, &["lists"]));
    let news = lists
        .lines()
        .find(|l| l.starts_with("news@"))
        .expect("news listed");
    assert!(
        news.contains("announce") && news.ends_with("Coalition News"),
        "{news}"
    );
    assert!(news.contains(" 1 "), "one subscriber: {news}");
    let queue = stdout(&tidings(&config, db, &["queue"]));
    assert!(queue.contains("no deliveries yet"), "{queue}");
}

#[test]
fn check_config_names_every_problem_and_serve_refuses_to_start() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.toml");
    let relay = "127.0.0.1:9".parse().expect("addr");
    let bad = common::config_toml("sqlite://x.db", relay)
        .replace(
            "posters = [\"secretariat@coalition.test.example\"]",
            "posters = []",
        )
        .replace("name = \"open\"", "name = \"open-owner\"")
        .replace(
            "base_url = \"https://lists.test.example\"",
            "base_url = \"ftp://x\"",
        );
    std::fs::write(&path, bad).expect("write");
    for command in ["check-config", "serve"] {
        let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["--config", path.to_str().expect("path"), command])
            .output()
            .expect("runs");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("(news).posters"), "{stderr}");
        assert!(stderr.contains("open-owner"), "{stderr}");
        assert!(stderr.contains("server.base_url"), "{stderr}");
    }
    let shipped = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/tidings.toml"),
            "check-config",
        ])
        .output()
        .expect("runs");
    assert!(shipped.status.success(), "{shipped:?}");
}

#[test]
fn unknown_environment_override_is_refused() {
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/tidings.toml"),
            "check-config",
        ])
        .env("TIDINGS_RELAY_HOSTNAME", "mx.example.org")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("did you mean TIDINGS_RELAY_HOST"));
}

async fn shunted_messages_are_listed_shown_retried_and_discarded(db: &TestDb) {
    let h = common::Harness::start(db).await;
    // A posting for a list that has since left the configuration cannot be handled.
    let ids = h
        .daemon
        .store
        .insert_messages(&[tidings::store::NewMessage {
            list_name: "retired".into(),
            kind: tidings::store::MessageKind::Posting,
            envelope_from: "a@ngo.example".into(),
            message_id: "<old@ngo.example>".into(),
            raw: b"From: a@ngo.example\r\nSubject: old\r\n\r\nbody\r\n".to_vec(),
            peer: String::new(),
            recipient: String::new(),
            hold_reason: None,
        }])
        .await
        .expect("insert");
    let id = ids[0].to_string();
    assert!(wait_shunted(&h, 1).await, "the message was not set aside");

    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path());
    let listed = stdout(&tidings(&config, db, &["shunt", "list"]));
    assert!(
        listed.contains("retired") && listed.contains("no longer in the configuration"),
        "{listed}"
    );
    let shown = stdout(&tidings(&config, db, &["shunt", "show", &id]));
    assert!(
        shown.contains("Subject: old") && shown.contains("reason:"),
        "{shown}"
    );

    stdout(&tidings(&config, db, &["shunt", "retry", &id]));
    assert!(
        wait_shunted(&h, 1).await,
        "retried, and set aside again: the list is still gone"
    );
    stdout(&tidings(&config, db, &["shunt", "discard", &id]));
    assert!(stdout(&tidings(&config, db, &["shunt", "list"])).contains("no messages set aside"));
    let again = tidings(&config, db, &["shunt", "retry", &id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not set aside"));
    h.daemon.shutdown().await;
}

/// Waits (at most 10 s) until `count` messages are set aside.
async fn wait_shunted(h: &common::Harness, count: usize) -> bool {
    for _ in 0..200 {
        if h.daemon
            .store
            .shunted_messages()
            .await
            .expect("query")
            .len()
            == count
        {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[test]
fn missing_templates_are_named_once_with_the_setting_to_fix() {
    let elsewhere = tempfile::tempdir().expect("dir");
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .current_dir(elsewhere.path())
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/tidings.toml"),
            "serve",
        ])
        .env(
            "TIDINGS_DATABASE_URL",
            format!("sqlite://{}/t.db", elsewhere.path().display()),
        )
        .env("TIDINGS_SERVER_SMTP_LISTEN", "127.0.0.1:0")
        .env("TIDINGS_SERVER_LMTP_LISTEN", "")
        .env("TIDINGS_SERVER_HTTP_LISTEN", "")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TIDINGS_SERVER_TEMPLATES_DIR"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

//! The log as a program reads it: with `TIDINGS_LOG_FORMAT=json` every line is a JSON
//! object, and one posting can be followed from its SMTP session to each copy by the ids
//! the lines carry.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::common::process::{exit_status, signal, Setup};
use crate::common::{eventually, message, SmtpClient, TestDb, DOMAIN};
use tidings_testkit::sink::Sink;

on_both_databases!(one_posting_is_followed_in_the_json_log_from_the_socket_to_each_copy);

const MEMBERS: [&str; 3] = ["a@ngo.example", "b@ngo.example", "c@ngo.example"];

/// The lines of the log, each parsed; a line that is not JSON fails the test.
fn lines(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn said(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

/// The value of `field` in the span named `name` that the line is in.
fn in_span<'a>(line: &'a Value, name: &str, field: &str) -> Option<&'a Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == name)
        .map(|span| &span[field])
}

async fn one_posting_is_followed_in_the_json_log_from_the_socket_to_each_copy(db: &TestDb) {
    let sink = Sink::start(true).await.expect("sink");
    let members: Vec<String> = MEMBERS.iter().map(|m| m.to_string()).collect();
    let setup = Setup::new(db, &sink, &members);
    let log = setup.dir.path().join("serve.json");
    let mut daemon = setup
        .command(&["serve"])
        .env("TIDINGS_LOG", "tidings=debug")
        .env("TIDINGS_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("daemon starts");
    let to = format!("open@{DOMAIN}");
    let posting = message("poster@ngo.example", &to, "Followed", "Hello\r\n");
    let reply = SmtpClient::connect(setup.smtp().await)
        .await
        .post("poster@ngo.example", &to, &posting)
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(sink.wait_for(3, Duration::from_secs(30)).await, 3);
    let log_path = &log;
    let copies_logged = eventually(|| async move {
        let copies = lines(log_path).iter().filter(|l| said(l) == "copy").count();
        (copies == MEMBERS.len()).then_some(())
    })
    .await;
    assert!(copies_logged.is_some(), "a line per copy");
    signal(&daemon, "TERM");
    assert!(exit_status(&mut daemon).await.is_some_and(|s| s.success()));

    let lines = lines(&log);
    let accepted = lines
        .iter()
        .find(|l| said(l) == "message accepted")
        .expect("the acceptance is logged");
    let session = in_span(accepted, "session", "session").expect("in its session");
    let id = &accepted["fields"]["id"];
    assert!(id.is_i64(), "{accepted}");
    let queued = lines
        .iter()
        .find(|l| said(l) == "message queued for delivery" && &l["fields"]["id"] == id)
        .expect("the expansion is logged with the message's id");
    assert_eq!(queued["fields"]["recipients"], MEMBERS.len());
    let copies: Vec<&Value> = lines
        .iter()
        .filter(|l| said(l) == "copy" && in_span(l, "message", "id") == Some(id))
        .collect();
    assert_eq!(copies.len(), MEMBERS.len(), "{copies:?}");
    let mut deliveries: Vec<i64> = copies
        .iter()
        .map(|c| c["fields"]["delivery_id"].as_i64().expect("a delivery id"))
        .collect();
    deliveries.dedup();
    assert_eq!(deliveries.len(), MEMBERS.len());
    assert!(copies.iter().all(|c| c["fields"]["outcome"] == "sent"));
    // Each session's lines carry their session's id (the port probe before the posting
    // made sessions of its own).
    assert!(lines
        .iter()
        .filter_map(|l| in_span(l, "session", "session"))
        .all(|id| id.as_str().is_some_and(|id| id.len() == 16)));
    assert!(session.as_str().is_some_and(|id| id.len() == 16));
}

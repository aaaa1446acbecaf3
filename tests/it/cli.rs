//! The `tidings` command as an operator uses it, on both databases.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{TestDb, BULLETIN};

on_both_databases!(
    members_commands_are_idempotent_and_report_by_line,
    queue_and_lists_show_the_state,
    shunted_messages_are_listed_shown_retried_and_discarded,
    items_commands_add_list_show_edit_and_withdraw,
    editions_commands_preview_build_approve_and_cancel,
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

/// The command's error message, asserting that it failed.
fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tidings.toml");
    let relay = "127.0.0.1:9".parse().expect("addr");
    std::fs::write(
        &path,
        crate::common::config_toml("sqlite://unused.db", relay),
    )
    .expect("write");
    path
}

async fn members_commands_are_idempotent_and_report_by_line(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_config(dir.path());
    let file = dir.path().join("members.csv");
    std::fs::write(
        &file,
        "address,name,language\nana@ngo-a.example,\"Silva, Ana\",pt\n\nnot an address\nBRUNO@ngo-b.example\ncarol@ngo-c.example,Carol,xx\nana@ngo-a.example\n",
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
        first.contains("team: 2 added, 1 already present, 2 invalid"),
        "{first}"
    );
    let second = stdout(&tidings(&config, db, &["members", "import", "team", file]));
    assert!(
        second.contains("team: 0 added, 3 already present, 2 invalid"),
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
    let bad = crate::common::config_toml("sqlite://x.db", relay)
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
fn a_log_setting_that_cannot_be_followed_is_refused_with_the_fix() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/tidings.toml");
    for (variable, value, expected) in [
        (
            "TIDINGS_LOG_FORMAT",
            "xml",
            "write text (the default) or json",
        ),
        ("TIDINGS_LOG", "tidings=loud", "TIDINGS_LOG=info"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["--config", shipped, "check-config"])
            .env(variable, value)
            .output()
            .expect("runs");
        assert!(!output.status.success(), "{variable}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}

#[test]
fn check_config_warns_of_a_public_base_url_that_is_not_https() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tidings.toml");
    let relay = "127.0.0.1:9".parse().expect("addr");
    let shipped = "base_url = \"https://lists.test.example\"";
    let cases = [
        ("http://lists.test.example", true),
        ("http://lists.test.example:8080/tidings", true),
        ("https://lists.test.example", false),
        ("http://127.0.0.1:8080", false),
        ("http://localhost:8080", false),
        ("http://[::1]:8080", false),
    ];
    for (base_url, warned) in cases {
        let toml = crate::common::config_toml("sqlite://x.db", relay)
            .replace(shipped, &format!("base_url = {base_url:?}"));
        std::fs::write(&path, toml).expect("write");
        let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["--config", path.to_str().expect("path"), "check-config"])
            .output()
            .expect("runs");
        // A warning, never a refusal.
        let out = stdout(&output);
        let warning = out
            .lines()
            .find(|l| l.starts_with("warning: server.base_url"));
        assert_eq!(warning.is_some(), warned, "{base_url}: {out}");
        if let Some(warning) = warning {
            assert!(warning.contains("one-click unsubscribe"), "{warning}");
            assert!(
                warning.contains("\"https://lists.test.example"),
                "{warning}"
            );
        }
    }
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
    let h = crate::common::Harness::start(db).await;
    // A posting for a list that has since left the configuration cannot be handled.
    let ids = h
        .daemon
        .store
        .insert_messages(
            b"From: a@ngo.example\r\nSubject: old\r\n\r\nbody\r\n",
            &[tidings::store::NewMessage {
                list_name: "retired".into(),
                kind: tidings::store::MessageKind::Posting,
                envelope_from: "a@ngo.example".into(),
                message_id: "<old@ngo.example>".into(),
                peer: String::new(),
                recipient: String::new(),
                hold_reason: None,
                proof: String::new(),
                author: "a@ngo.example".into(),
                author_policy: None,
                arrival: None,
            }],
        )
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
async fn wait_shunted(h: &crate::common::Harness, count: usize) -> bool {
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

/// The test configuration with the Bulletin, waiting for an editor's approval.
fn write_publication_config(dir: &Path) -> std::path::PathBuf {
    let path = write_config(dir);
    let mut toml = std::fs::read_to_string(&path).expect("read");
    toml.push_str(BULLETIN);
    std::fs::write(&path, toml).expect("write");
    path
}

/// A Markdown file for --body-file.
fn body(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf-8 path").to_string()
}

/// The number in "item N added ..." or "edition N ...".
fn id_in(output: &str) -> String {
    output
        .split_whitespace()
        .nth(1)
        .filter(|id| id.parse::<i64>().is_ok())
        .unwrap_or_else(|| panic!("no id in {output:?}"))
        .to_string()
}

/// Adds an item with the given language, key and title; returns its id.
fn add_item(
    config: &Path,
    db: &TestDb,
    file: &str,
    (lang, key, title): (&str, &str, &str),
) -> String {
    let added = stdout(&tidings(
        config,
        db,
        &[
            "items",
            "add",
            "bulletin",
            "--title",
            title,
            "--lang",
            lang,
            "--section",
            "News",
            "--key",
            key,
            "--body-file",
            file,
        ],
    ));
    assert!(
        added.contains("added to the next edition of bulletin"),
        "{added}"
    );
    id_in(&added)
}

async fn items_commands_add_list_show_edit_and_withdraw(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_publication_config(dir.path());
    let file = body(
        dir.path(),
        "court.md",
        "The **Court** met in *The Hague*.\n",
    );

    let court = add_item(&config, db, &file, ("en", "court", "The Court in 2027"));
    let cour = add_item(&config, db, &file, ("fr", "court", "La Cour en 2027"));
    // Without --lang, --section or --key: the fallback language, no section, a key made
    // from the title.
    let budget = id_in(&stdout(&tidings(
        &config,
        db,
        &[
            "items",
            "add",
            "BULLETIN",
            "--title",
            "Budget 2027",
            "--body-file",
            &file,
        ],
    )));

    items_are_listed_and_shown(&config, db, &cour);
    items_are_edited_and_withdrawn(&config, db, dir.path(), (&court, &budget));
    // Mistakes are refused with the reason.
    spent_unknown_and_misplaced_items_are_refused(&config, db, &file, &budget);
    bad_item_values_are_refused(&config, db, dir.path(), (&file, &court));
}

/// Three items waiting (see above): listed with their language and key, and one shown.
fn items_are_listed_and_shown(config: &Path, db: &TestDb, cour: &str) {
    let list = stdout(&tidings(config, db, &["items", "list", "bulletin"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines.iter().all(|l| l.contains("waiting")), "{list}");
    let budget_line = lines
        .iter()
        .find(|l| l.contains("Budget 2027"))
        .expect("listed");
    assert!(
        budget_line.contains(" en ") && budget_line.contains("budget-2027"),
        "{budget_line}"
    );

    let shown = stdout(&tidings(config, db, &["items", "show", cour]));
    for expected in [
        "publication: bulletin",
        "language: fr",
        "section:  News",
        "key:      court",
        "title:    La Cour en 2027",
        "state:    accepted",
        "edition:  -",
        "The **Court** met in *The Hague*.",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
}

fn items_are_edited_and_withdrawn(
    config: &Path,
    db: &TestDb,
    dir: &Path,
    (court, budget): (&str, &str),
) {
    let other = body(dir, "other.md", "Revised text.\n");
    let edited = stdout(&tidings(
        config,
        db,
        &[
            "items",
            "edit",
            court,
            "--title",
            "The Court, revised",
            "--section",
            "Events",
            "--body-file",
            &other,
        ],
    ));
    assert!(
        edited.contains(&format!("item {court} changed")),
        "{edited}"
    );
    let shown = stdout(&tidings(config, db, &["items", "show", court]));
    assert!(
        shown.contains("title:    The Court, revised")
            && shown.contains("section:  Events")
            && shown.contains("Revised text."),
        "{shown}"
    );

    let removed = stdout(&tidings(config, db, &["items", "remove", budget]));
    assert!(
        removed.contains(&format!("item {budget} withdrawn")),
        "{removed}"
    );
    let list = stdout(&tidings(config, db, &["items", "list", "bulletin"]));
    let budget_line = list
        .lines()
        .find(|l| l.contains("Budget 2027"))
        .expect("listed");
    assert!(budget_line.contains("withdrawn"), "{list}");
    let waiting = stdout(&tidings(config, db, &["items", "list", "--waiting"]));
    assert_eq!(waiting.lines().count(), 2, "{waiting}");
    assert!(!waiting.contains("Budget 2027"), "{waiting}");
}

fn spent_unknown_and_misplaced_items_are_refused(
    config: &Path,
    db: &TestDb,
    file: &str,
    budget: &str,
) {
    let refused = stderr(&tidings(config, db, &["items", "remove", budget]));
    assert!(
        refused.contains("already in an edition or withdrawn"),
        "{refused}"
    );
    let refused = stderr(&tidings(
        config,
        db,
        &["items", "edit", budget, "--title", "x"],
    ));
    assert!(refused.contains("can no longer change"), "{refused}");
    for args in [
        vec!["items", "show", "999"],
        vec!["items", "edit", "999", "--title", "x"],
        vec!["items", "remove", "999"],
    ] {
        let error = stderr(&tidings(config, db, &args));
        assert!(error.contains("no item 999"), "{args:?}: {error}");
        assert!(error.contains("tidings items list"), "{args:?}: {error}");
    }
    for args in [
        vec![
            "items",
            "add",
            "nosuch",
            "--title",
            "T",
            "--body-file",
            file,
        ],
        // A list is not a publication.
        vec!["items", "add", "team", "--title", "T", "--body-file", file],
        vec!["items", "list", "nosuch"],
    ] {
        let error = stderr(&tidings(config, db, &args));
        assert!(error.contains("no publication named"), "{args:?}: {error}");
    }
}

fn bad_item_values_are_refused(
    config: &Path,
    db: &TestDb,
    dir: &Path,
    (file, court): (&str, &str),
) {
    for args in [
        vec![
            "items",
            "add",
            "bulletin",
            "--title",
            "T",
            "--lang",
            "pt",
            "--body-file",
            file,
        ],
        vec!["items", "edit", court, "--lang", "pt"],
    ] {
        let error = stderr(&tidings(config, db, &args));
        assert!(
            error.contains("The Bulletin is written in en, fr, es, not \"pt\""),
            "{args:?}: {error}"
        );
    }
    let error = stderr(&tidings(
        config,
        db,
        &[
            "items",
            "add",
            "bulletin",
            "--title",
            "  ",
            "--body-file",
            file,
        ],
    ));
    assert!(error.contains("no title"), "{error}");
    let missing = dir.join("missing.md");
    let missing = missing.to_str().expect("utf-8 path");
    let error = stderr(&tidings(
        config,
        db,
        &[
            "items",
            "add",
            "bulletin",
            "--title",
            "T",
            "--body-file",
            missing,
        ],
    ));
    assert!(error.contains(&format!("cannot read {missing}")), "{error}");
    let error = stderr(&tidings(config, db, &["items", "show", "one"]));
    assert!(error.contains("invalid value 'one'"), "{error}");
    // Nothing refused was stored.
    let list = stdout(&tidings(config, db, &["items", "list"]));
    assert_eq!(list.lines().count(), 3, "{list}");
}

async fn editions_commands_preview_build_approve_and_cancel(db: &TestDb) {
    let dir = tempfile::tempdir().expect("dir");
    let config = write_publication_config(dir.path());
    let file = body(dir.path(), "court.md", "The **Court** met.\n");
    stdout(&tidings(
        &config,
        db,
        &[
            "members",
            "add",
            "bulletin",
            "lecteur@ngo.example",
            "--lang",
            "fr",
        ],
    ));
    let court = add_item(&config, db, &file, ("en", "court", "The Court in 2027"));
    add_item(&config, db, &file, ("fr", "court", "La Cour en 2027"));

    a_preview_is_written_and_stores_nothing(&config, db, dir.path());
    let edition = an_edition_built_now_waits_for_the_editors(&config, db, &court);
    an_approved_edition_is_sent_once(&config, db, &edition);
    // Nothing waits: nothing to build.
    let error = stderr(&tidings(&config, db, &["editions", "build", "bulletin"]));
    assert!(
        error.contains("no items are waiting for bulletin"),
        "{error}"
    );

    a_cancelled_edition_gives_its_items_back(&config, db, &file);
    edition_mistakes_are_refused(&config, db);
}

fn a_preview_is_written_and_stores_nothing(config: &Path, db: &TestDb, dir: &Path) {
    let page = dir.join("preview.html");
    let page_arg = page.to_str().expect("utf-8 path");
    let previewed = stdout(&tidings(
        config,
        db,
        &[
            "editions", "preview", "bulletin", "--lang", "fr", "--out", page_arg,
        ],
    ));
    assert!(
        previewed.contains(page_arg) && previewed.contains("Numéro 1"),
        "{previewed}"
    );
    let html = std::fs::read_to_string(&page).expect("preview written");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html:.80}");
    assert!(html.contains("lang=\"fr\"") && html.contains("La Cour en 2027"));
    let english = stdout(&tidings(
        config,
        db,
        &["editions", "preview", "bulletin", "--lang", "en"],
    ));
    assert!(english.contains("The Court in 2027") && !english.contains("La Cour"));
    let list = stdout(&tidings(config, db, &["editions", "list"]));
    assert!(list.contains("(no editions)"), "{list}");
}

/// Built outside the schedule, from the items added above (`court` among them); its id.
fn an_edition_built_now_waits_for_the_editors(config: &Path, db: &TestDb, court: &str) -> String {
    let built = stdout(&tidings(config, db, &["editions", "build", "bulletin"]));
    assert!(
        built.contains("(No. 1) built") && built.contains("tidings editions approve"),
        "{built}"
    );
    let edition = id_in(&built);
    let list = stdout(&tidings(config, db, &["editions", "list", "bulletin"]));
    let line = list.lines().next().expect("one edition");
    assert!(
        line.contains("special") && line.contains("awaiting_approval"),
        "{list}"
    );
    let shown = stdout(&tidings(config, db, &["editions", "show", &edition]));
    for expected in [
        "state:       awaiting_approval",
        "sent:        -",
        "language:    en  The Bulletin — Issue 1",
        "language:    fr  The Bulletin — Numéro 1",
        "The Court in 2027",
        "La Cour en 2027",
    ] {
        assert!(shown.contains(expected), "{expected:?} in {shown}");
    }
    // Its items are taken.
    let error = stderr(&tidings(
        config,
        db,
        &["items", "edit", court, "--title", "x"],
    ));
    assert!(error.contains("already in an edition"), "{error}");

    edition
}

fn an_approved_edition_is_sent_once(config: &Path, db: &TestDb, edition: &str) {
    let approved = stdout(&tidings(config, db, &["editions", "approve", edition]));
    assert!(
        approved.contains(&format!("edition {edition} queued for 1 subscribers")),
        "{approved}"
    );
    let shown = stdout(&tidings(config, db, &["editions", "show", edition]));
    assert!(
        shown.contains("state:       sent") && !shown.contains("sent:        -"),
        "{shown}"
    );
    let error = stderr(&tidings(config, db, &["editions", "approve", edition]));
    assert!(
        error.contains("is sent, not waiting for approval"),
        "{error}"
    );
    let error = stderr(&tidings(config, db, &["editions", "cancel", edition]));
    assert!(
        error.contains("is sent, not waiting for approval"),
        "{error}"
    );
}

fn a_cancelled_edition_gives_its_items_back(config: &Path, db: &TestDb, file: &str) {
    let next = add_item(config, db, file, ("en", "next", "Next story"));
    let second = id_in(&stdout(&tidings(
        config,
        db,
        &["editions", "build", "bulletin"],
    )));
    let cancelled = stdout(&tidings(config, db, &["editions", "cancel", &second]));
    assert!(
        cancelled.contains("cancelled; its items wait"),
        "{cancelled}"
    );
    let waiting = stdout(&tidings(
        config,
        db,
        &["items", "list", "bulletin", "--waiting"],
    ));
    assert!(
        waiting.contains("Next story") && waiting.trim_start().starts_with(&next),
        "{waiting}"
    );
    let shown = stdout(&tidings(config, db, &["editions", "show", &second]));
    assert!(shown.contains("state:       cancelled"), "{shown}");
    let error = stderr(&tidings(config, db, &["editions", "cancel", &second]));
    assert!(error.contains("is cancelled, not waiting"), "{error}");
}

fn edition_mistakes_are_refused(config: &Path, db: &TestDb) {
    for args in [
        vec!["editions", "show", "999"],
        vec!["editions", "approve", "999"],
        vec!["editions", "send", "999"],
        vec!["editions", "cancel", "999"],
    ] {
        let error = stderr(&tidings(config, db, &args));
        assert!(error.contains("no edition 999"), "{args:?}: {error}");
    }
    for args in [
        vec!["editions", "build", "nosuch"],
        vec!["editions", "preview", "nosuch", "--lang", "en"],
        vec!["editions", "list", "nosuch"],
    ] {
        let error = stderr(&tidings(config, db, &args));
        assert!(
            error.contains("no publication named \"nosuch\""),
            "{args:?}: {error}"
        );
    }
    let error = stderr(&tidings(
        config,
        db,
        &["editions", "preview", "bulletin", "--lang", "pt"],
    ));
    assert!(
        error.contains("written in en, fr, es, not \"pt\""),
        "{error}"
    );
    let error = stderr(&tidings(config, db, &["editions", "preview", "bulletin"]));
    assert!(error.contains("--lang"), "{error}");
}

/// `postfix-maps` prints one `ADDRESS OK` line per address the daemon takes (a publication's
/// bare name is none), and `--output` writes the same table.
#[test]
fn postfix_maps_lists_the_addresses_of_lists_and_publications() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = write_publication_config(dir.path());
    let db = TestDb::sqlite();
    let printed = stdout(&tidings(&config, &db, &["postfix-maps"]));
    let lines: Vec<&str> = printed.lines().filter(|l| !l.starts_with('#')).collect();
    for address in [
        "open",
        "open-request",
        "open-bounces",
        "open-confirm",
        "team-owner",
        "bulletin-submit",
        "bulletin-leave",
        "postmaster",
        "abuse",
    ] {
        let line = format!("{address}@{} OK", crate::common::DOMAIN);
        assert!(lines.contains(&line.as_str()), "{line} missing:\n{printed}");
    }
    let bare = format!("bulletin@{} OK", crate::common::DOMAIN);
    assert!(!lines.contains(&bare.as_str()), "{printed}");
    let file = dir.path().join("recipients");
    let written = tidings(&config, &db, &["postfix-maps", "--output"]);
    assert!(
        !written.status.success(),
        "--output needs a file: {written:?}"
    );
    let file_arg = file.display().to_string();
    stdout(&tidings(
        &config,
        &db,
        &["postfix-maps", "--output", &file_arg],
    ));
    assert_eq!(std::fs::read_to_string(&file).expect("written"), printed);
}

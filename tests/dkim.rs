//! Every message tidings sends carries DKIM signatures that an independent verifier accepts:
//! Python's dkimpy, given the DNS records that `tidings dkim keygen` printed. Personal copies
//! of a posting, a subscription confirmation, mail forwarded to a list's owners, and the
//! copies of a newsletter edition, whose bodies differ per reader.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::{message, Harness, TestDb, DOMAIN};
use tidings::publications::editions::{Built, Slot};
use tidings::publications::ItemInput;
use tidings::store::ImportLine;

on_both_databases!(postings_and_notices_verify_with_both_keys);

const RSA_SELECTOR: &str = "rsa-test";
const ED25519_SELECTOR: &str = "ed25519-test";

/// Keys made once per test run by the real command, with the DNS records it printed.
struct Keys {
    _dir: tempfile::TempDir,
    rsa: PathBuf,
    ed25519: PathBuf,
    /// (record name, TXT value)
    records: Vec<(String, String)>,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("dir");
        let (rsa, rsa_record) = keygen(dir.path(), "rsa", RSA_SELECTOR);
        let (ed25519, ed_record) = keygen(dir.path(), "ed25519", ED25519_SELECTOR);
        Keys {
            _dir: dir,
            rsa,
            ed25519,
            records: vec![rsa_record, ed_record],
        }
    })
}

/// Runs `tidings dkim keygen` and reads the record back from its zone-file line.
fn keygen(dir: &Path, algorithm: &str, selector: &str) -> (PathBuf, (String, String)) {
    let out = dir.join(format!("{selector}.pem"));
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .args([
            "dkim",
            "keygen",
            "--algorithm",
            algorithm,
            "--selector",
            selector,
        ])
        .args(["--domain", DOMAIN, "--out"])
        .arg(&out)
        .output()
        .expect("tidings runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{output:?}");
    let line = text
        .lines()
        .find(|l| l.contains(" IN TXT "))
        .unwrap_or_else(|| panic!("no TXT record in {text}"));
    let name = line.split(". IN TXT").next().expect("name").to_string();
    assert_eq!(name, format!("{selector}._domainkey.{DOMAIN}"));
    let value: String = line.split('"').skip(1).step_by(2).collect();
    if algorithm == "rsa" {
        assert!(
            line.matches('"').count() >= 4,
            "split into DNS strings: {line}"
        );
    }
    (out, (name, value))
}

const EDITOR: &str = "editor@coalition.test.example";

fn with_dkim(toml: String) -> String {
    let keys = keys();
    format!(
        "{toml}\n[[publications]]\nname = \"bulletin\"\ntitle = \"The Bulletin\"\n\
         languages = [\"en\", \"fr\"]\nfallback_language = \"en\"\n\
         schedule = \"0 0 0 1 1 * 2099\"\ntime_zone = \"UTC\"\napproval = \"manual\"\n\
         editors = [\"{EDITOR}\"]\n\n[dkim]\nselector = \"{RSA_SELECTOR}\"\nkey_file = {:?}\n\
         ed25519_selector = \"{ED25519_SELECTOR}\"\ned25519_key_file = {:?}\n",
        keys.rsa.display().to_string(),
        keys.ed25519.display().to_string()
    )
}

async fn postings_and_notices_verify_with_both_keys(db: &TestDb) {
    let h = Harness::start_with(db, with_dkim).await;
    let members = [
        "ana@ngo-a.example",
        "bruno@ngo-b.example",
        "chen@ngo-c.example",
    ];
    h.subscribe("open", &members).await;
    h.post_and_drain(members[0], "open").await;
    // A notice: the confirmation request of a join.
    let newcomer = "newcomer@ngo-d.example";
    h.write(newcomer, &format!("open-join@{DOMAIN}"), "join", "")
        .await;
    // Mail to the owners goes out as one shared message, in two transactions.
    let owners = format!("team-owner@{DOMAIN}");
    let question = message("someone@elsewhere.example", &owners, "Question", "Hi\r\n");
    h.send("someone@elsewhere.example", &owners, &question)
        .await;
    assert!(h.queue_drained().await, "the queue did not drain");
    let readers = ["reader-en@ngo-e.example", "reader-fr@ngo-f.example"];
    send_edition(&h, &readers).await;

    let received = h.sink.messages();
    let recipients = h.received_recipients();
    for expected in members.iter().chain(&readers).chain([&newcomer]) {
        assert!(recipients.iter().any(|r| r == expected), "{recipients:?}");
    }
    assert!(received.len() >= 6, "{} messages", received.len());
    let personal: Vec<bool> = received
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).contains("\r\nList-Unsubscribe-Post:"))
        .collect();
    assert_eq!(
        personal.iter().filter(|p| **p).count(),
        members.len() + readers.len()
    );
    for copy in &received {
        let text = String::from_utf8_lossy(&copy.data);
        assert_eq!(text.matches("DKIM-Signature:").count(), 2, "{text}");
    }

    // A copy whose unsubscribe link was changed on the way must fail: the field is signed.
    let first_personal = personal.iter().position(|p| *p).expect("a personal copy");
    let tampered = String::from_utf8_lossy(&received[first_personal].data)
        .replacen("/unsubscribe/open/", "/unsubscribe/open/x", 1)
        .into_bytes();
    let mut messages: Vec<&[u8]> = received.iter().map(|m| m.data.as_slice()).collect();
    messages.push(&tampered);
    let Some(verdicts) = dkimpy_verify(&messages, &keys().records) else {
        h.daemon.shutdown().await;
        return;
    };
    for (index, is_personal) in personal.iter().enumerate() {
        let mine: Vec<&Verdict> = verdicts.iter().filter(|v| v.message == index).collect();
        let mut selectors: Vec<&str> = mine.iter().map(|v| v.selector.as_str()).collect();
        selectors.sort();
        assert_eq!(selectors, [ED25519_SELECTOR, RSA_SELECTOR], "{verdicts:?}");
        for verdict in mine {
            assert_eq!(verdict.result, "pass", "message {index}: {verdicts:?}");
            let signed: Vec<String> = verdict.h.split(':').map(str::to_lowercase).collect();
            for field in ["from", "subject", "date", "message-id", "to"] {
                assert!(signed.iter().any(|s| s == field), "{field}: {verdict:?}");
            }
            if *is_personal {
                for field in ["list-unsubscribe", "list-unsubscribe-post", "list-id"] {
                    assert!(signed.iter().any(|s| s == field), "{field}: {verdict:?}");
                }
            }
        }
    }
    let tampered: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.message == received.len())
        .map(|v| v.result.as_str())
        .collect();
    assert_eq!(tampered, ["fail", "fail"], "{verdicts:?}");
    h.daemon.shutdown().await;
}

/// Builds an edition of one story, approves it, and waits until the readers have it: each
/// copy's body carries the reader's own unsubscribe link.
async fn send_edition(h: &Harness, readers: &[&str]) {
    let lines: Vec<ImportLine> = readers
        .iter()
        .zip(["en", "fr"])
        .map(|(address, language)| ImportLine {
            address: address.to_string(),
            display_name: String::new(),
            language: language.into(),
        })
        .collect();
    let store = &h.daemon.store;
    store
        .import_members("bulletin", &lines)
        .await
        .expect("subscribed");
    let publications = &h.daemon.publications;
    let bulletin = publications.publication("bulletin").expect("configured");
    let story = ItemInput {
        title: "Signed news".into(),
        section: None,
        language: Some("en".into()),
        key: Some("signed".into()),
        body: "Every copy is *signed*.".into(),
        author: EDITOR.into(),
    };
    publications.add_item(bulletin, story).await.expect("item");
    let built = publications.build(bulletin, Slot::Special).await;
    let Ok(Built::Edition { id, .. }) = built else {
        panic!("no edition built: {built:?}");
    };
    publications.approve(id).await.expect("approved");
    assert!(h.queue_drained().await, "the edition was not sent");
}

/// One signature's result as dkimpy saw it.
#[derive(Debug)]
struct Verdict {
    message: usize,
    result: String,
    selector: String,
    h: String,
}

/// Verifies every signature of every message with dkimpy, the DNS answered from `records`.
/// `None`, said plainly, when python3 with dkimpy and PyNaCl is not installed (`.ci/run`
/// installs them); in CI that fails instead.
fn dkimpy_verify(messages: &[&[u8]], records: &[(String, String)]) -> Option<Vec<Verdict>> {
    let available = Command::new("python3")
        .args(["-c", "import dkim, nacl.signing"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let why = "python3 with dkimpy and PyNaCl is not available (pip install dkimpy pynacl)";
        assert!(std::env::var_os("CI").is_none(), "CI needs dkimpy: {why}");
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED third-party DKIM verification: {why}"
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("dir");
    let zone: serde_json::Map<String, serde_json::Value> = records
        .iter()
        .map(|(name, value)| (name.to_lowercase(), value.clone().into()))
        .collect();
    let zone_file = dir.path().join("zone.json");
    std::fs::write(&zone_file, serde_json::Value::Object(zone).to_string()).expect("write");
    let mut command = Command::new("python3");
    command.args(["-c", VERIFY]).arg(&zone_file);
    for (index, message) in messages.iter().enumerate() {
        let path = dir.path().join(format!("{index}.eml"));
        std::fs::write(&path, message).expect("write");
        command.arg(path);
    }
    let output = command.output().expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    let verdicts = stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 4, "{line}\n{stderr}");
            Verdict {
                message: fields[0].parse().expect("index"),
                result: fields[1].to_string(),
                selector: fields[2].to_string(),
                h: fields[3].to_string(),
            }
        })
        .collect();
    Some(verdicts)
}

/// argv: zone.json, then message files named INDEX.eml. Prints, per signature:
/// INDEX, pass or fail, selector, signed fields.
const VERIFY: &str = r#"
import json, logging, os, re, sys
import dkim
from dkim.util import parse_tag_value

logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
zone = json.load(open(sys.argv[1]))

def dns(name, timeout=5):
    value = zone.get(name.decode().rstrip('.').lower())
    return value.encode() if value else None

for path in sys.argv[2:]:
    index = os.path.basename(path).split('.')[0]
    message = open(path, 'rb').read()
    headers = dkim.DKIM(message).headers
    signatures = [v for (n, v) in headers if n.lower() == b'dkim-signature']
    for i, value in enumerate(signatures):
        tags = parse_tag_value(re.sub(rb'\s+', b'', value))
        ok = dkim.DKIM(message).verify(idx=i, dnsfunc=dns)
        print(index, 'pass' if ok else 'fail', tags[b's'].decode(), tags[b'h'].decode(), sep='\t')
"#;

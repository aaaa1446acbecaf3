//! Every message tidings sends carries DKIM signatures that an independent verifier accepts:
//! Python's dkimpy, given the DNS records that `tidings dkim keygen` printed. Personal copies
//! of a posting, a subscription confirmation, mail forwarded to a list's owners, and the
//! copies of a newsletter edition, whose bodies differ per reader.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::{message, reply_to, Harness, TestDb, DOMAIN};
use tidings::publications::editions::{Built, Slot};
use tidings::publications::ItemInput;
use tidings::store::ImportLine;

on_both_databases!(
    postings_and_notices_verify_with_both_keys,
    a_bulletin_is_signed_by_the_secretariats_domain_too,
    postings_are_sealed_with_arc_onto_the_chain_they_bring,
    a_posting_is_expanded_with_what_was_kept_at_its_arrival,
);

const FORWARDER: &str = "forwarder.example";

/// ARC (RFC 8617): every posting gets the list's set on top of what it brings, `cv=none`
/// without a chain, `cv=pass` on a valid one and `cv=fail` on a broken one; dkimpy's
/// `arc_verify` checks the chain of each copy as a receiver would.
async fn postings_are_sealed_with_arc_onto_the_chain_they_bring(db: &TestDb) {
    use tidings::dkim::{keys, Algorithm, Sealer};
    let h = Harness::start_with(db, with_dkim).await;
    h.subscribe("open", &["reader@ngo.example"]).await;
    let open = format!("open@{DOMAIN}");
    let rsa_record = keys().records[0].1.clone();
    h.dns
        .txt(&format!("fwd._domainkey.{FORWARDER}"), &rsa_record);
    let forwarder = Sealer::new(
        FORWARDER,
        "fwd",
        keys::load(&keys().rsa, Algorithm::Rsa).expect("key"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let posting = |subject: &str| message("ana@ngo-a.example", &open, subject, "Hello\r\n");
    let forwarded = |raw: Vec<u8>| {
        let set = forwarder
            .seal(
                &raw,
                "mx.forwarder.example; dkim=none",
                mail_auth::arc::ChainValidation::None,
                now,
            )
            .expect("seals")
            .expect("a set");
        [set, raw].concat()
    };
    // No chain; a valid chain; a chain broken by a change after the forwarder sealed it.
    let broken = String::from_utf8(forwarded(posting("Broken")))
        .expect("text")
        .replace("Subject: Broken", "Subject: Changed")
        .into_bytes();
    for raw in [posting("Plain"), forwarded(posting("Forwarded")), broken] {
        h.send("ana@ngo-a.example", &open, &raw).await;
    }
    assert!(h.queue_drained().await);
    let copies = h.received_by("reader@ngo.example");
    assert_eq!(copies.len(), 3);
    let seal_of = |subject: &str| {
        let copy = copies
            .iter()
            .find(|m| m.subject() == Some(subject))
            .unwrap_or_else(|| panic!("no copy of {subject}"));
        let raw = String::from_utf8_lossy(copy.raw_message()).into_owned();
        let seal = raw
            .split("\r\nARC-Seal:")
            .nth(1)
            .or_else(|| raw.split("ARC-Seal:").nth(1))
            .expect("sealed")
            .split("\r\n")
            .next()
            .unwrap_or_default()
            .to_string();
        (raw, seal)
    };
    let (plain, plain_seal) = seal_of("Plain");
    assert!(
        plain_seal.contains("i=1; a=rsa-sha256") && plain_seal.contains("cv=none"),
        "{plain_seal}"
    );
    let (forwarded, forwarded_seal) = seal_of("Forwarded");
    assert!(
        forwarded_seal.contains("i=2;") && forwarded_seal.contains("cv=pass"),
        "{forwarded_seal}"
    );
    let (broken, broken_seal) = seal_of("Changed");
    assert!(
        broken_seal.contains("i=2;") && broken_seal.contains("cv=fail"),
        "{broken_seal}"
    );
    assert!(
        plain.contains("ARC-Authentication-Results: i=1; "),
        "{plain}"
    );

    let mut records = keys().records.clone();
    records.push((format!("fwd._domainkey.{FORWARDER}"), rsa_record));
    let copies: Vec<&[u8]> = vec![plain.as_bytes(), forwarded.as_bytes(), broken.as_bytes()];
    if let Some(verdicts) = dkimpy_arc_verify(&copies, &records) {
        assert_eq!(verdicts, ["pass", "pass", "fail"]);
    }
    h.daemon.shutdown().await;
}

/// What a posting proved on arrival is checked as it arrives and kept with it, with its
/// author and their domain's DMARC policy; that is what its ARC set carries and what
/// decides its From, however late it is expanded: a held posting approved afterwards is
/// not checked again.
async fn a_posting_is_expanded_with_what_was_kept_at_its_arrival(db: &TestDb) {
    const AUTHOR: &str = "author@ngo.example";
    const READER: &str = "reader@ngo.example";
    let h = Harness::start_with(db, with_dkim).await;
    h.subscribe("forum", &[AUTHOR, READER]).await;
    let forum = format!("forum@{DOMAIN}");
    h.write(AUTHOR, &forum, "Held", "Hello\r\n").await;
    let moderate = reply_to(&h.received_by("mod@coalition.test.example")[0]);

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    let kept: (String, String, String, String) = sqlx::query_as(
        "SELECT author, author_policy, arrival_results, arrival_chain FROM messages \
         WHERE state = 'held'",
    )
    .fetch_one(&pool)
    .await
    .expect("the held posting");
    assert_eq!(kept.0, AUTHOR);
    // ngo.example publishes no DMARC record.
    assert_eq!(kept.1, "none");
    assert!(
        kept.2.contains("dmarc=none header.from=ngo.example"),
        "{kept:?}"
    );
    assert_eq!(kept.3, "none");
    // Had expansion looked again, it would find neither of these.
    sqlx::query(
        "UPDATE messages SET author_policy = 'reject', \
         arrival_results = 'kept.example; dkim=pass' WHERE state = 'held'",
    )
    .execute(&pool)
    .await
    .expect("mark what was kept");
    pool.close().await;

    h.write_proven(
        "mod@coalition.test.example",
        &moderate,
        "Re: held",
        "approve\r\n",
    )
    .await;
    assert!(h.queue_drained().await);
    let copies = h.received_by(READER);
    assert_eq!(copies.len(), 1);
    let raw = String::from_utf8_lossy(copies[0].raw_message()).into_owned();
    assert!(
        raw.contains("ARC-Authentication-Results: i=1; kept.example; dkim=pass"),
        "{raw}"
    );
    let from = copies[0].from().and_then(|from| from.first());
    assert_eq!(
        from.and_then(|address| address.address()),
        Some(forum.as_str()),
        "sent under the list's name, as the kept policy asks"
    );
    h.daemon.shutdown().await;
}

/// The ARC chain validation of each message by dkimpy: `pass`, `fail` or `none`; `None`
/// (said plainly) when dkimpy is not installed.
fn dkimpy_arc_verify(messages: &[&[u8]], records: &[(String, String)]) -> Option<Vec<String>> {
    if !dkimpy_available() {
        return None;
    }
    let script = [DKIMPY_ZONE, ARC_VERIFY].concat();
    let (stdout, _) = run_verifier(("python3", "-c", &script), messages, records);
    Some(stdout.lines().map(str::to_owned).collect())
}

/// Runs a verifier `(interpreter, flag, script)` over the messages, given the zone file
/// then one file per message; its standard output and error.
fn run_verifier(
    (interpreter, flag, script): (&str, &str, &str),
    messages: &[&[u8]],
    records: &[(String, String)],
) -> (String, String) {
    let (dir, files) = message_files(messages, records);
    let output = Command::new(interpreter)
        .args([flag, script])
        .arg(dir.path().join("zone.json"))
        .args(&files)
        .output()
        .unwrap_or_else(|error| panic!("{interpreter} runs: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stdout}{stderr}");
    (stdout, stderr)
}

/// What both dkimpy scripts start with: DNS answered from the zone file (argv[1]).
const DKIMPY_ZONE: &str = r#"
import json, logging, sys

logging.basicConfig(stream=sys.stderr, level=logging.ERROR)
zone = json.load(open(sys.argv[1]))

def dns(name, timeout=5):
    value = zone.get(name.decode().rstrip('.').lower())
    return value.encode() if value else None
"#;

/// argv: zone.json, then message files. Prints each one's chain validation.
const ARC_VERIFY: &str = r#"
import dkim

for path in sys.argv[2:]:
    cv, results, reason = dkim.arc_verify(open(path, 'rb').read(), dnsfunc=dns)
    # dkimpy answers None, not fail, for a chain whose newest seal says cv=fail.
    print(cv.decode() if cv else 'fail', file=sys.stdout)
    if cv != b'pass':
        print(path, reason, results, file=sys.stderr)
"#;

const SECRETARIAT: &str = "secretariat@coalition.test.example";

/// The test configuration signing with the list domain's keys and, through
/// `[[dkim.keys]]`, with an RSA key of the Secretariat's domain.
fn with_secretariat_key(toml: String) -> String {
    format!(
        "{}\n[[dkim.keys]]\ndomain = \"coalition.test.example\"\nselector = \"coalition\"\n\
         key_file = {:?}\nalgorithm = \"rsa\"\n",
        with_dkim(toml),
        keys().rsa.display().to_string()
    )
}

/// DMARC alignment: a bulletin From the Secretariat's domain goes out with a signature of
/// that domain besides the list domain's, and every signature verifies.
async fn a_bulletin_is_signed_by_the_secretariats_domain_too(db: &TestDb) {
    let h = Harness::start_with(db, with_secretariat_key).await;
    h.subscribe("news", &["reader@ngo.example"]).await;
    h.write_proven(
        SECRETARIAT,
        &format!("news@{DOMAIN}"),
        "Bulletin",
        "News\r\n",
    )
    .await;
    // An owner's forward, From an outside domain, is signed by the list domain alone.
    let question = message(
        "someone@elsewhere.example",
        &format!("news-owner@{DOMAIN}"),
        "Q",
        "Hi\r\n",
    );
    h.send(
        "someone@elsewhere.example",
        &format!("news-owner@{DOMAIN}"),
        &question,
    )
    .await;
    assert!(h.queue_drained().await);
    let received = h.sink.messages();
    assert_eq!(received.len(), 2);
    let mut records = keys().records.clone();
    let rsa = records[0].1.clone();
    records.push(("coalition._domainkey.coalition.test.example".into(), rsa));
    let messages: Vec<&[u8]> = received.iter().map(|m| m.data.as_slice()).collect();
    let bulletin = received
        .iter()
        .position(|m| m.recipients == ["reader@ngo.example"])
        .expect("the bulletin");
    let Some(verdicts) = dkimpy_verify(&messages, &records) else {
        h.daemon.shutdown().await;
        return;
    };
    assert!(verdicts.iter().all(|v| v.result == "pass"), "{verdicts:?}");
    let selectors = |index: usize| {
        let mut selectors: Vec<&str> = verdicts
            .iter()
            .filter(|v| v.message == index)
            .map(|v| v.selector.as_str())
            .collect();
        selectors.sort();
        selectors
    };
    assert_eq!(
        selectors(bulletin),
        ["coalition", ED25519_SELECTOR, RSA_SELECTOR]
    );
    assert_eq!(selectors(1 - bulletin), [ED25519_SELECTOR, RSA_SELECTOR]);
    h.daemon.shutdown().await;
}

/// A copy as the delivery worker writes it: the reader's own header lines, then the shared
/// decorated posting. Its `h=` list varies in length: copy `i` has `i % 25` Cc fields and,
/// by the bits of `i / 25`, a Sender, a Reply-To, a Content-Transfer-Encoding and
/// In-Reply-To with References; its subject length varies too.
fn matrix_copy(i: usize, domain: &str) -> Vec<u8> {
    let subject: String = "Statement on the Review Conference "
        .chars()
        .cycle()
        .take((i * 13) % 121)
        .collect();
    // Fields at the top of the message come last in `h=`, just before the reader's own,
    // where the folds of the list are decided: vary them there.
    let mut shared = String::new();
    let optional = [
        "Sender: Team <team-bounces@ngo-a.example>\r\n",
        "Reply-To: Ana <ana@ngo-a.example>\r\n",
        "Content-Transfer-Encoding: quoted-printable\r\n",
        "In-Reply-To: <parent@ngo-b.example>\r\nReferences: <root@ngo-c.example>\r\n <parent@ngo-b.example>\r\n",
    ];
    for (bit, field) in optional.iter().enumerate() {
        if (i / 25) >> bit & 1 == 1 {
            shared.push_str(field);
        }
    }
    for cc in 0..i % 25 {
        shared.push_str(&format!("Cc: member{cc}@ngo-b.example\r\n"));
    }
    shared.push_str(&format!(
        "From: Ana Lima <ana@ngo-a.example>\r\nTo: team@{domain}\r\n\
         Subject: [Team] {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{i}.matrix@ngo-a.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         List-Id: Team <team.{domain}>\r\nList-Post: <mailto:team@{domain}>\r\n\r\n\
         Dear team,\r\n\r\ncopy {i}.\r\n"
    ));
    let personal = format!(
        "List-Unsubscribe: <mailto:team-leave+{i:x}@{domain}?subject=unsubscribe>,\r\n \
         <https://{domain}/unsubscribe/team/{i:x}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    );
    let mut copy = personal.into_bytes();
    copy.extend_from_slice(shared.as_bytes());
    copy
}

/// The column (1 to 75 after the fold's tab) at which the value of each RSA signature's
/// `b=` begins: over all of them, where the folds fall.
fn b_columns(copies: &[Vec<u8>]) -> std::collections::BTreeSet<usize> {
    copies
        .iter()
        .filter_map(|copy| {
            let text = String::from_utf8_lossy(copy);
            let signature = text.split("DKIM-Signature:").nth(1)?;
            let at = signature.find(" b=")? + 3;
            let line_start = signature[..at].rfind("\r\n\t").map_or(0, |i| i + 3);
            Some(at - line_start)
        })
        .collect()
}

/// Folds land at many columns, the one dkimpy failed on among them: over a thousand copies,
/// with selectors of 1 to 37 characters, two domains, header sets of many sizes, subjects
/// of 0 to 120 characters and signing times of 1 to 10 digits,
/// each signed with RSA and Ed25519 as the worker signs them, and checked by two
/// independent verifiers: dkimpy (both keys) and Perl's Mail::DKIM (RSA; Debian's has no
/// Ed25519).
#[test]
fn a_thousand_copies_verify_in_dkimpy_and_mail_dkim() {
    use tidings::dkim::{Algorithm, Dkim, Prepared};
    const COPIES: usize = 1_036;
    let keys = keys();
    let domains = [
        "l.example",
        "lists.coalition-for-the-international-criminal-court.example",
    ];
    let record = |selector: &str| {
        keys.records
            .iter()
            .find(|(name, _)| name.starts_with(&format!("{selector}._domainkey.")))
            .map(|(_, value)| value.clone())
            .expect("record")
    };
    let mut records = Vec::new();
    let mut copies = Vec::with_capacity(COPIES);
    for (i, domain) in (0..COPIES).map(|i| (i, domains[i % domains.len()])) {
        let selector = "s".repeat(1 + i % 37);
        let ed_selector = format!("{selector}e");
        let dkim = Dkim::new(
            domain,
            vec![
                signing_key(domain, &selector, &keys.rsa, Algorithm::Rsa),
                signing_key(domain, &ed_selector, &keys.ed25519, Algorithm::Ed25519),
            ],
        );
        records.push((
            format!("{selector}._domainkey.{domain}"),
            record(RSA_SELECTOR),
        ));
        records.push((
            format!("{ed_selector}._domainkey.{domain}"),
            record(ED25519_SELECTOR),
        ));
        let copy = matrix_copy(i, domain);
        // The reader's own lines (the first two fields) are signed per copy; the rest once.
        let shared_at = String::from_utf8_lossy(&copy)
            .find("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
            .expect("personal fields")
            + "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n".len();
        let prepared = Prepared::new(&copy[shared_at..]).expect("prepares");
        // Every `h=` list ends with the same oversigned names, whose folds settle into the
        // same few places whatever came before: what moves the `b=` value along its line
        // is now the length of `t=`, 1 to 10 digits.
        let signed_at = 10u64.pow((i % 10) as u32);
        let mut signed = dkim
            .sign(&prepared, &copy[..shared_at], signed_at)
            .expect("signs");
        signed.extend_from_slice(&copy);
        copies.push(signed);
    }
    records.sort();
    records.dedup();
    let columns = b_columns(&copies);
    // mail-auth folds as soon as a line reaches 76 columns, so a value of `len` characters
    // begun at `column` ends on a fold when this holds; that is what dkimpy failed on. The
    // matrix must contain it for RSA (344 characters), or it proves nothing.
    let ends_on_a_fold = |column: usize, len: usize| (len + column).is_multiple_of(75);
    assert!(
        columns.iter().any(|&column| ends_on_a_fold(column, 344)),
        "no RSA b= value of the matrix ends on a fold: {columns:?}"
    );
    let messages: Vec<&[u8]> = copies.iter().map(Vec::as_slice).collect();
    if let Some(verdicts) = dkimpy_verify(&messages, &records) {
        let failed: Vec<&Verdict> = verdicts.iter().filter(|v| v.result != "pass").collect();
        assert_eq!(verdicts.len(), 2 * COPIES);
        assert!(
            failed.is_empty(),
            "dkimpy failed {} signatures: {failed:?}",
            failed.len()
        );
    }
    if let Some(verdicts) = mail_dkim_verify(&messages, &records) {
        let rsa: Vec<&(usize, String, String)> = verdicts
            .iter()
            .filter(|(_, _, a)| a == "rsa-sha256")
            .collect();
        let failed: Vec<_> = rsa
            .iter()
            .filter(|(_, result, _)| result != "pass")
            .collect();
        assert_eq!(rsa.len(), COPIES);
        assert!(
            failed.is_empty(),
            "Mail::DKIM failed {} signatures: {failed:?}",
            failed.len()
        );
    }
}

/// A key of the test run, to be published as `selector._domainkey.domain`.
fn signing_key(
    domain: &str,
    selector: &str,
    path: &Path,
    algorithm: tidings::dkim::Algorithm,
) -> tidings::dkim::SigningKey {
    tidings::dkim::SigningKey {
        domain: domain.into(),
        selector: selector.into(),
        key: tidings::dkim::keys::load(path, algorithm).expect("key loads"),
    }
}

/// Verifies every message with Perl's Mail::DKIM, the keys answered from `records`: per
/// signature, (message index, result, algorithm). `None`, said plainly, when Mail::DKIM is
/// not installed (`.ci/run` installs Debian's libmail-dkim-perl); in CI that fails instead.
fn mail_dkim_verify(
    messages: &[&[u8]],
    records: &[(String, String)],
) -> Option<Vec<(usize, String, String)>> {
    let available = Command::new("perl")
        .args(["-MMail::DKIM::Verifier", "-MJSON::PP", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let why = "Perl's Mail::DKIM is not available (apt-get install libmail-dkim-perl)";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs Mail::DKIM: {why}"
        );
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "SKIPPED Mail::DKIM verification: {why}");
        return None;
    }
    let (stdout, stderr) = run_verifier(("perl", "-e", MAIL_DKIM_VERIFY), messages, records);
    Some(
        stdout
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                assert_eq!(fields.len(), 3, "{line}\n{stderr}");
                let index = fields[0].parse().expect("index");
                (index, fields[1].to_string(), fields[2].to_string())
            })
            .collect(),
    )
}

/// argv: zone.json, then message files named INDEX.eml. Prints, per signature: INDEX,
/// result, algorithm. Keys come from the zone instead of the DNS.
const MAIL_DKIM_VERIFY: &str = r#"
use strict; use warnings;
use JSON::PP; use Mail::DKIM::Verifier; use Mail::DKIM::PublicKey;
my $zone = do { local $/; open my $f, '<', shift @ARGV or die $!; decode_json(<$f>) };
{
    no warnings 'redefine';
    *Mail::DKIM::PublicKey::fetch_async = sub {
        my ($class, %p) = @_;
        my $txt = $zone->{lc "$p{Selector}._domainkey.$p{Domain}"};
        my $key = defined $txt ? Mail::DKIM::PublicKey->parse($txt) : undef;
        my $success = ($p{Callbacks} || {})->{Success} || sub { $_[0] };
        return sub { $success->($key) };
    };
}
for my $path (@ARGV) {
    my ($index) = $path =~ m{(\d+)\.eml$};
    open my $fh, '<:raw', $path or die $!;
    my $dkim = Mail::DKIM::Verifier->new;
    $dkim->PRINT(do { local $/; <$fh> });
    $dkim->CLOSE;
    print join("	", $index, $_->result, $_->algorithm), "
" for $dkim->signatures;
}
"#;

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
    // So must one with a From, a Subject, a List-Unsubscribe or a Cc added above the rest.
    let first_personal = personal.iter().position(|p| *p).expect("a personal copy");
    let original = &received[first_personal].data;
    let mut tampered = vec![String::from_utf8_lossy(original)
        .replacen("/unsubscribe/open/", "/unsubscribe/open/x", 1)
        .into_bytes()];
    tampered.extend(ADDED.iter().map(|field| with_added(field, original)));
    let mut messages: Vec<&[u8]> = received.iter().map(|m| m.data.as_slice()).collect();
    messages.extend(tampered.iter().map(Vec::as_slice));
    let honest = |index: usize| index < received.len();
    if let Some(verdicts) = mail_dkim_verify(&messages, &keys().records) {
        let rsa: Vec<_> = verdicts.iter().filter(|v| v.2 == "rsa-sha256").collect();
        assert_eq!(rsa.len(), messages.len(), "{verdicts:?}");
        for (index, result, _) in rsa {
            let expected = if honest(*index) { "pass" } else { "fail" };
            assert_eq!(result, expected, "Mail::DKIM, message {index}");
        }
    }
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
            // Oversigned: each once more than the copy has it.
            let count = |name: &str| signed.iter().filter(|s| *s == name).count();
            for field in ["from", "subject", "date", "message-id", "to"] {
                assert_eq!(count(field), 2, "{field}: {verdict:?}");
            }
            for field in ["cc", "list-archive"] {
                assert!(count(field) >= 1, "{field}: {verdict:?}");
            }
            if *is_personal {
                for field in ["list-unsubscribe", "list-unsubscribe-post", "list-id"] {
                    assert_eq!(count(field), 2, "{field}: {verdict:?}");
                }
            }
            // Editions carry List-Archive and Content-Language; postings and editions
            // List-Owner.
            let edition = received[index]
                .recipients
                .iter()
                .any(|r| readers.contains(&r.as_str()));
            let present: &[&str] = match (edition, *is_personal) {
                (true, _) => &["list-archive", "list-owner"],
                (false, true) => &["list-owner"],
                (false, false) => &[],
            };
            for field in present {
                assert_eq!(count(field), 2, "{field}: {verdict:?}");
            }
            // Signed where present (editions and notices), not oversigned.
            let language = count("content-language");
            assert!(language == 1 || (language == 0 && !edition), "{verdict:?}");
        }
    }
    let tampered: Vec<&str> = verdicts
        .iter()
        .filter(|v| !honest(v.message))
        .map(|v| v.result.as_str())
        .collect();
    assert_eq!(
        tampered,
        vec!["fail"; 2 * (1 + ADDED.len())],
        "{verdicts:?}"
    );
    h.daemon.shutdown().await;
}

/// Fields a forger adds above a signed copy, where mail programs read them (a verifier
/// takes the lowest instance of a name first, RFC 6376 5.4.2, so without oversigning these
/// would leave the signature valid): another author, another subject, another way to
/// leave, and a Cc the copy did not have.
const ADDED: [&str; 4] = [
    "From: Secretariat <secretariat@coalition.test.example>\r\n",
    "Subject: Urgent: confirm your membership\r\n",
    "List-Unsubscribe: <https://evil.example/leave>\r\n",
    "Cc: outsider@evil.example\r\n",
];

fn with_added(field: &str, copy: &[u8]) -> Vec<u8> {
    let mut added = field.as_bytes().to_vec();
    added.extend_from_slice(copy);
    added
}

/// A copy signed as the worker signs it fails in both verifiers once a field of [`ADDED`]
/// is put above it; the same copy signed by mail-auth with each of its fields named once,
/// as `h=` was before oversigning, still verifies with the same additions, which is what
/// oversigning takes away (except an added From in dkimpy, which looks for a From above
/// the signed one whatever `h=` says).
#[test]
fn fields_added_above_a_signed_copy_fail_in_dkimpy_and_mail_dkim() {
    use mail_auth::common::headers::HeaderWriter;
    use tidings::dkim::{Algorithm, Dkim, Prepared};
    let keys = keys();
    let rsa = signing_key(DOMAIN, RSA_SELECTOR, &keys.rsa, Algorithm::Rsa);
    let ed25519 = signing_key(DOMAIN, ED25519_SELECTOR, &keys.ed25519, Algorithm::Ed25519);
    let dkim = Dkim::new(DOMAIN, vec![rsa, ed25519]);
    // Copy 0 of the matrix: no Cc, no Reply-To.
    let copy = matrix_copy(0, DOMAIN);
    let mut ours = dkim
        .sign(&Prepared::new(&copy).expect("prepares"), b"", 1_780_000_000)
        .expect("signs");
    ours.extend_from_slice(&copy);
    let once = [
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "List-Id",
        "List-Post",
    ];
    let rsa = signing_key(DOMAIN, RSA_SELECTOR, &keys.rsa, Algorithm::Rsa);
    let unprotected = mail_auth::dkim::DkimSigner::from_key(rsa.key)
        .domain(DOMAIN)
        .selector(RSA_SELECTOR)
        .headers(once)
        .sign(&copy)
        .expect("mail-auth signs");
    let mut control = unprotected.to_header().into_bytes();
    control.extend_from_slice(&copy);
    let mut messages = vec![ours.clone(), control.clone()];
    for field in ADDED {
        messages.push(with_added(field, &ours));
        messages.push(with_added(field, &control));
    }
    // Even messages are ours (two signatures), odd ones the control (one, RSA); message 3
    // is the control with a From added.
    let passes = |index: usize| index < 2 || index % 2 == 1;
    let all: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    if let Some(verdicts) = dkimpy_verify(&all, &keys.records) {
        assert_eq!(verdicts.len(), 3 * (1 + ADDED.len()), "{verdicts:?}");
        for verdict in &verdicts {
            let pass = verdict.result == "pass";
            let expected = passes(verdict.message) && verdict.message != 3;
            assert_eq!(pass, expected, "dkimpy: {verdict:?}");
        }
    }
    if let Some(verdicts) = mail_dkim_verify(&all, &keys.records) {
        let rsa: Vec<_> = verdicts.iter().filter(|v| v.2 == "rsa-sha256").collect();
        assert_eq!(rsa.len(), 2 * (1 + ADDED.len()), "{verdicts:?}");
        for (index, result, _) in rsa {
            assert_eq!(
                result == "pass",
                passes(*index),
                "Mail::DKIM, message {index}"
            );
        }
    }
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
    let built = publications
        .build(&tidings::store::Actor::cli(), bulletin, Slot::Special)
        .await;
    let Ok(Built::Edition { id, .. }) = built else {
        panic!("no edition built: {built:?}");
    };
    publications
        .approve(&tidings::store::Actor::cli(), id)
        .await
        .expect("approved");
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
    if !dkimpy_available() {
        return None;
    }
    let script = [DKIMPY_ZONE, VERIFY].concat();
    let (stdout, stderr) = run_verifier(("python3", "-c", &script), messages, records);
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

/// Whether python3 with dkimpy and PyNaCl is installed (`.ci/run` installs them); said
/// plainly when not, and a failure in CI.
fn dkimpy_available() -> bool {
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
    }
    available
}

/// The messages as files named INDEX.eml, and the DNS records as zone.json, in a temporary
/// directory for a verifier to read.
fn message_files(
    messages: &[&[u8]],
    records: &[(String, String)],
) -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().expect("dir");
    let zone: serde_json::Map<String, serde_json::Value> = records
        .iter()
        .map(|(name, value)| (name.to_lowercase(), value.clone().into()))
        .collect();
    std::fs::write(
        dir.path().join("zone.json"),
        serde_json::Value::Object(zone).to_string(),
    )
    .expect("write");
    let files = messages
        .iter()
        .enumerate()
        .map(|(index, message)| {
            let path = dir.path().join(format!("{index}.eml"));
            std::fs::write(&path, message).expect("write");
            path
        })
        .collect();
    (dir, files)
}

/// argv: zone.json, then message files named INDEX.eml. Prints, per signature:
/// INDEX, pass or fail, selector, signed fields.
const VERIFY: &str = r#"
import os, re
import dkim
from dkim.util import parse_tag_value

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

//! Labelled bounces (`tests/bounce_samples/`): each sample says what tidings must find in it
//! (the class of its failures and the addresses they name, no failure at all, or a
//! complaint), and the rates that matter for members are printed over every set at hand:
//!
//! - *counted against member*: of the refusals about the sender (blocklists, reputation,
//!   PTR, authentication, policy, spam), how many tidings would count as a mailbox failure;
//! - *failure found*: of the bounces, how many tidings finds a failure in;
//! - *false failure*: of the messages that are not bounces (auto-replies, complaints, DMARC
//!   reports, challenges), how many tidings takes for one.
//!
//! The targets are asserted on the labelled set kept here. Other labelled sets, laid out the
//! same way (a directory with `expected.toml` and the files it names), are measured too when
//! `TIDINGS_BOUNCE_SAMPLES` names them (colon-separated); flufl.bounce's corpus, when
//! `.ci/bounce-corpus` has fetched it, is measured for failures found (its labels say
//! nothing of classes or of non-bounces).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tidings::bounces::{analyse, read, BounceClass, Returned};

#[derive(serde::Deserialize)]
struct Labels {
    sample: Vec<Sample>,
}

/// What one sample is and what must be found in it.
#[derive(serde::Deserialize)]
struct Sample {
    file: String,
    /// `sender` (a refusal about the sender: never to count against the member), `address`
    /// (the address does not work), `other` (any other failure: temporary, the message...),
    /// or `none` (not a bounce: nothing may be found).
    kind: Kind,
    /// The class every failure found must have; absent for `none`, and in sets labelled by
    /// others where only `kind` is known.
    class: Option<String>,
    /// The failed addresses the sample must name (compared without case); absent: not checked.
    addresses: Option<Vec<String>>,
    /// An abuse report (RFC 5965): tidings must read it as a complaint.
    #[serde(default)]
    complaint: bool,
}

#[derive(serde::Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Sender,
    Address,
    Other,
    None,
}

/// The three rates, as counts.
#[derive(Default)]
struct Rates {
    sender: usize,
    sender_counted: usize,
    bounces: usize,
    found: usize,
    not_bounces: usize,
    false_failures: usize,
    address: usize,
    address_counted: usize,
}

impl Rates {
    fn add(&mut self, kind: Kind, raw: &[u8]) {
        let failures = analyse(raw);
        let found = !failures.is_empty();
        let counted = failures.iter().any(|f| f.class.counts());
        match kind {
            Kind::None => {
                self.not_bounces += 1;
                self.false_failures += usize::from(found);
                return;
            }
            Kind::Sender => {
                self.sender += 1;
                self.sender_counted += usize::from(counted);
            }
            Kind::Address => {
                self.address += 1;
                self.address_counted += usize::from(counted);
            }
            Kind::Other => {}
        }
        self.bounces += 1;
        self.found += usize::from(found);
    }

    fn print(&self, name: &str) {
        let rate = |n: usize, of: usize| {
            if of == 0 {
                format!("{n}/{of}")
            } else {
                format!("{n}/{of} ({:.1} %)", n as f64 * 100.0 / of as f64)
            }
        };
        eprintln!(
            "{name}: counted against member {}, failure found {}, false failure {}; \
             address failures counted {}",
            rate(self.sender_counted, self.sender),
            rate(self.found, self.bounces),
            rate(self.false_failures, self.not_bounces),
            rate(self.address_counted, self.address),
        );
    }

    /// At most 5 % of sender refusals counted, at least 95 % of bounces found, at most one
    /// false failure per 25 messages that are not bounces.
    fn meet_targets(&self) -> bool {
        self.sender_counted * 20 <= self.sender
            && self.found * 20 >= self.bounces * 19
            && self.false_failures * 25 <= self.not_bounces
    }
}

fn labels(dir: &Path) -> Labels {
    let text = std::fs::read_to_string(dir.join("expected.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join("expected.toml").display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn measure(dir: &Path) -> Rates {
    let mut rates = Rates::default();
    for sample in labels(dir).sample {
        let raw = std::fs::read(dir.join(&sample.file)).expect("sample");
        rates.add(sample.kind, &raw);
    }
    rates
}

fn own_samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bounce_samples")
}

/// What was wrong with one sample, or nothing.
fn check(dir: &Path, sample: &Sample) -> Option<String> {
    let raw = std::fs::read(dir.join(&sample.file)).expect("sample");
    let failures = analyse(&raw);
    let file = &sample.file;
    let classes: Vec<&str> = failures.iter().map(|f| f.class.as_str()).collect();
    if sample.complaint != matches!(read(&raw), Returned::Complaint(_)) {
        return Some(format!("{file}: complaint expected {}", sample.complaint));
    }
    match (&sample.kind, &sample.class) {
        (Kind::None, _) if !failures.is_empty() => {
            return Some(format!("{file}: not a bounce, found {classes:?}"))
        }
        (Kind::None, _) => return None,
        (_, _) if failures.is_empty() => return Some(format!("{file}: no failure found")),
        (_, Some(class)) if classes.iter().any(|c| c != class) => {
            return Some(format!("{file}: expected {class}, found {classes:?}"))
        }
        _ => {}
    }
    if sample.kind == Kind::Sender && failures.iter().any(|f| f.class == BounceClass::Mailbox) {
        return Some(format!(
            "{file}: a sender refusal counted against the member"
        ));
    }
    let want: Option<BTreeSet<String>> = sample
        .addresses
        .as_ref()
        .map(|a| a.iter().map(|a| a.to_ascii_lowercase()).collect());
    let found: BTreeSet<String> = failures
        .iter()
        .filter_map(|f| f.address.as_deref())
        .map(str::to_ascii_lowercase)
        .collect();
    match want {
        Some(want) if want != found => Some(format!(
            "{file}: expected addresses {want:?}, found {found:?}"
        )),
        _ => None,
    }
}

#[test]
fn each_sample_reads_as_labelled() {
    let dir = own_samples();
    let wrong: Vec<String> = labels(&dir)
        .sample
        .iter()
        .filter_map(|sample| check(&dir, sample))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn rates_over_every_labelled_set() {
    let own = measure(&own_samples());
    own.print("tests/bounce_samples");
    let extra = std::env::var("TIDINGS_BOUNCE_SAMPLES").unwrap_or_default();
    for dir in extra.split(':').filter(|d| !d.is_empty()) {
        measure(Path::new(dir)).print(dir);
    }
    let flufl =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-corpora/flufl-bounce-6.0.0");
    if let Ok(text) = std::fs::read_to_string(flufl.join("expected.json")) {
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).expect("expected.json");
        let mut rates = Rates::default();
        // Its samples that name no address are bounces too (ones its detectors cannot
        // read), not messages that bounce detection should leave alone: left out.
        for (file, want) in &expected {
            let names_any = ["permanent", "temporary"]
                .iter()
                .any(|k| want[k].as_array().is_some_and(|a| !a.is_empty()));
            if names_any {
                let raw = std::fs::read(flufl.join("samples").join(file)).expect("sample");
                rates.add(Kind::Other, &raw);
            }
        }
        rates.print("flufl.bounce");
    }
    assert!(
        own.meet_targets(),
        "the targets are not met on tests/bounce_samples"
    );
}

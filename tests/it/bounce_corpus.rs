//! Real bounces from many mail servers (the samples of Python's flufl.bounce, fetched by
//! `.ci/bounce-corpus`), read by tidings and compared with the answers flufl.bounce's own
//! tests expect: which addresses failed, permanently or temporarily.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use tidings::bounces::{analyse, BounceClass};

#[derive(serde::Deserialize)]
struct Expected {
    permanent: BTreeSet<String>,
    temporary: BTreeSet<String>,
}

fn corpus() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-corpora/flufl-bounce-6.0.0");
    if dir.join("expected.json").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the bounce corpus is missing: run .ci/bounce-corpus"
    );
    eprintln!("SKIPPED: bounce corpus not fetched; run .ci/bounce-corpus to test against it");
    None
}

fn lower(addresses: &BTreeSet<String>) -> BTreeSet<String> {
    addresses.iter().map(|a| a.to_ascii_lowercase()).collect()
}

#[test]
fn real_bounces_name_the_failed_addresses_and_their_class() {
    let Some(dir) = corpus() else { return };
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected: BTreeMap<String, Expected> = serde_json::from_str(&text).expect("json");
    let mut matched = Vec::new();
    let mut missed = Vec::new();
    for (file, want) in &expected {
        let raw = std::fs::read(dir.join("samples").join(file)).expect("sample");
        let failures = analyse(&raw);
        let found = |temporary: bool| -> BTreeSet<String> {
            failures
                .iter()
                .filter(|f| (f.class == BounceClass::Temporary) == temporary)
                .filter_map(|f| f.address.as_deref())
                .map(str::to_ascii_lowercase)
                .collect()
        };
        let (permanent, temporary) = (found(false), found(true));
        if permanent == lower(&want.permanent) && temporary == lower(&want.temporary) {
            matched.push(file.as_str());
        } else {
            missed.push(format!(
                "{file}: expected {:?}/{:?}, found {:?}/{:?}",
                want.permanent, want.temporary, permanent, temporary
            ));
        }
    }
    eprintln!(
        "{} of {} bounces read as flufl.bounce expects",
        matched.len(),
        expected.len()
    );
    for miss in &missed {
        eprintln!("  {miss}");
    }
    let dsn: Vec<_> = missed.iter().filter(|m| m.starts_with("dsn_")).collect();
    assert!(
        dsn.is_empty(),
        "every RFC 3464 report must be read exactly: {dsn:?}"
    );
    assert!(
        matched.len() * 100 >= expected.len() * 80,
        "{} of {}",
        matched.len(),
        expected.len()
    );
}

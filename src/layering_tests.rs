//! Holds the crate to the layering drawn in its top doc comment: a module may use modules
//! of the layers before its own, and no other.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers of lib.rs, in order.
const LAYERS: [&[&str]; 9] = [
    &[
        "address",
        "health",
        "message",
        "signals",
        "store",
        "supervisor",
        "templating",
        "tokens",
    ],
    &["cluster", "links"],
    &["config"],
    &["authentication", "descriptors", "dkim", "notices"],
    &["list_archive", "pipeline", "publications", "subscriptions"],
    &["bounces", "digests", "inbound", "moderation", "retention"],
    &["delivery", "runner", "web"],
    &["daemon"],
    &["cli"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The source files of a top-level module, its tests left out: tests may use anything.
fn product_files(src: &Path, module: &str) -> Vec<PathBuf> {
    let mut files = vec![src.join(format!("{module}.rs"))];
    let mut dirs = vec![src.join(module)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|entry| entry.path()) {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_dir() && name != "tests" {
                dirs.push(path);
            } else if name.ends_with(".rs") && name != "tests.rs" {
                files.push(path);
            }
        }
    }
    files.retain(|file| file.is_file());
    files
}

/// The top-level modules `code` names as `crate::name` or `crate::{name, ...}`, comments
/// and inline test modules left out.
fn modules_used(code: &str) -> BTreeSet<String> {
    let product = code
        .split("#[cfg(test)]\nmod tests {")
        .next()
        .unwrap_or_default();
    let mut used = BTreeSet::new();
    for line in product
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
    {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + "crate::".len()..];
            let names = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or_default(),
                None => rest,
            };
            for name in names.split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                used.insert(name);
            }
        }
    }
    used
}

#[test]
fn every_module_uses_only_the_layers_before_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut breaches = Vec::new();
    for (layer, modules) in LAYERS.iter().enumerate() {
        for module in modules.iter() {
            for file in product_files(&src, module) {
                let code = std::fs::read_to_string(&file).expect("readable source");
                for used in modules_used(&code) {
                    let allowed = used == *module || layer_of(&used).is_none_or(|l| l < layer);
                    if !allowed {
                        breaches.push(format!("{} uses {used}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "against the layering of lib.rs:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn every_module_has_its_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|name| name.trim_end_matches(';'))
        .collect();
    for module in declared {
        assert!(
            layer_of(module).is_some(),
            "{module} has no layer in lib.rs"
        );
    }
}

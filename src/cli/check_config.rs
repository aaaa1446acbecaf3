use std::path::Path;

use crate::config::Config;
use crate::descriptors::{self, Budget};

pub fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path, &crate::dkim::keys::Files)?;
    println!(
        "{}: OK, {} lists for {}",
        path.display(),
        config.lists.len(),
        config.server.domain
    );
    // `serve` raises its limit on open files to the hard limit, so that is the one to fit.
    let short = descriptors::limits().and_then(|limits| Budget::of(&config).check(limits.hard));
    if let Some(short) = short {
        println!("warning: {short}");
    }
    for warning in config.warnings() {
        println!("warning: {warning}");
    }
    for (domain, selector, file, algorithm) in config.dkim.all_keys() {
        let which = if domain == config.dkim.domain {
            "every message"
        } else {
            "messages whose From is aligned with it"
        };
        println!(
            "DKIM: signing {which} as {domain} with the {} key {file} (selector {selector})",
            algorithm.name()
        );
    }
    Ok(())
}

use std::path::Path;

use crate::config::Config;

pub fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    println!(
        "{}: OK, {} lists for {}",
        path.display(),
        config.lists.len(),
        config.server.domain
    );
    for (selector, file, algorithm) in crate::dkim::configured_keys(&config.dkim) {
        println!(
            "DKIM: signing as {} with the {} key {file} (selector {selector})",
            config.dkim.domain,
            algorithm.name()
        );
    }
    Ok(())
}

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
    Ok(())
}

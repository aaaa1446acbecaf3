use std::collections::HashMap;

use crate::config::Config;
use crate::links::{self, Role};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    let counts: HashMap<String, i64> = store.subscriber_counts().await?.into_iter().collect();
    println!(
        "{:<40} {:<12} {:<9} {:<12} {:<4} {:>11}  DISPLAY NAME",
        "ADDRESS", "VISIBILITY", "POSTING", "SUBSCRIBING", "LANG", "SUBSCRIBERS"
    );
    // Publications are subscribed to through lists of their own, shown with the others.
    for list in config.lists.iter().chain(&config.publication_lists) {
        println!(
            "{:<40} {:<12} {:<9} {:<12} {:<4} {:>11}  {}",
            links::address(&list.name, Role::Post, &config.server.domain),
            format!("{:?}", list.visibility).to_lowercase(),
            format!("{:?}", list.posting).to_lowercase(),
            format!("{:?}", list.subscription).to_lowercase(),
            list.language,
            counts.get(&list.name).copied().unwrap_or(0),
            list.display_name
        );
    }
    Ok(())
}

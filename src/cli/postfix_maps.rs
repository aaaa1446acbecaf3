//! `tidings postfix-maps`: the table of every address tidings takes, for Postfix's
//! `relay_recipient_maps`, so that Postfix refuses mail to an unknown list at RCPT instead of
//! accepting it and sending a bounce later (to a sender that is often forged).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::config::Config;
use crate::links;

#[derive(Debug, Args)]
pub struct PostfixMapsArgs {
    /// Write the table to this file (replaced whole, so Postfix never reads half of it)
    /// instead of printing it.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub fn run(config: &Config, args: PostfixMapsArgs) -> anyhow::Result<()> {
    let table = table(config);
    match &args.output {
        Some(path) => replace(path, &table),
        None => {
            std::io::stdout().write_all(table.as_bytes())?;
            Ok(())
        }
    }
}

/// One `ADDRESS OK` line per address, lists and publications in the file's order, then the
/// role addresses: the format of Postfix's `texthash:` and of `postmap` input.
fn table(config: &Config) -> String {
    let domain = &config.server.domain;
    let lists = config.lists.iter().map(|list| (&list.name, false));
    let publications = config.publications.iter().map(|p| (&p.name, true));
    let mut text = format!(
        "# Written by `tidings postfix-maps` from the configuration; every address tidings\n\
         # takes at {domain}. With recipient_delimiter = +, LIST-bounces also stands for\n\
         # every LIST-bounces+TOKEN (tidings checks the token).\n"
    );
    let addresses = lists
        .chain(publications)
        .flat_map(|(name, is_publication)| links::recipients(name, is_publication, domain))
        .chain(links::role_recipients(domain));
    for address in addresses {
        text.push_str(&address);
        text.push_str(" OK\n");
    }
    text
}

/// Writes `text` next to `path` and renames it over `path`.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".new");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot replace {}", path.display()))
}

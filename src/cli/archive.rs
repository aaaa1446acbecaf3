//! `tidings archive ...`: a list's archive, for the operator: loading a past archive from
//! an mbox file, and removing a message.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::config::Config;
use crate::list_archive;
use crate::store::Actor;

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Load a list's past archive from an mbox file (Mailman's or Sympa's export, mboxrd or
    /// mboxo). Messages the archive has already, by Message-ID, are left as they are, so
    /// running it twice adds nothing twice.
    Import { list: String, file: PathBuf },
    /// Remove a message from a list's archive, by the key at the end of its page's address
    /// (`…/archive/LIST/message/KEY`). Recorded in the audit trail.
    Remove { list: String, key: String },
}

pub async fn run(config: &Config, command: ArchiveCommand) -> anyhow::Result<()> {
    match command {
        ArchiveCommand::Import { list, file } => {
            let list = archived_list(config, &list)?;
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read the mbox file {}", file.display()))?;
            if !bytes.is_empty() && !bytes.starts_with(b"From ") {
                bail!(
                    "{} is not an mbox file: it must begin with a \"From \" line (Mailman's \
                     LIST.mbox, Sympa's or Thunderbird's export)",
                    file.display()
                );
            }
            let store = super::open_store(config).await?;
            let done = list_archive::import::import(&store, &list.name, &bytes).await?;
            println!(
                "{}: {} messages read, {} added, {} already in the archive, {} unreadable",
                list.name, done.read, done.added, done.present, done.unreadable
            );
        }
        ArchiveCommand::Remove { list, key } => {
            let list = archived_list(config, &list)?;
            let store = super::open_store(config).await?;
            if list_archive::remove(&store, &Actor::cli(), &list.name, key.trim()).await? {
                println!("removed {key} from the archive of {}", list.name);
            } else {
                bail!(
                    "the archive of {} has no message {key}; its key is the end of the \
                     message's page address",
                    list.name
                );
            }
        }
    }
    Ok(())
}

/// A configured list (not a publication's: they have no archive).
fn archived_list<'c>(
    config: &'c Config,
    name: &str,
) -> anyhow::Result<&'c crate::config::ListConfig> {
    let list = super::list(config, name)?;
    if !config.lists.iter().any(|l| l.name == list.name) {
        bail!("{name} is a publication's list of subscribers: it has no archive");
    }
    Ok(list)
}

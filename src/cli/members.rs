//! `tidings members ...`: the roster of a list, for the operator.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::address;
use crate::config::Config;
use crate::store::{Actor, MemberAdded};
use crate::subscriptions::roster;

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// Subscribe one address (no confirmation is asked: the operator vouches for it).
    Add {
        list: String,
        address: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Language of the member's notices; defaults to the list's language.
        #[arg(long)]
        lang: Option<String>,
    },
    /// Subscribe every address of a file: one address per line, or CSV lines
    /// `address,name,language`. Running it twice adds nobody twice.
    Import { list: String, file: PathBuf },
    /// Print the list's members.
    List { list: String },
    /// Unsubscribe one address.
    Remove { list: String, address: String },
    /// Requests waiting for the address's confirmation or an owner's approval.
    Pending { list: Option<String> },
}

pub async fn run(config: &Config, command: MembersCommand) -> anyhow::Result<()> {
    match command {
        MembersCommand::Add {
            list,
            address,
            name,
            lang,
        } => {
            let list = super::list(config, &list)?;
            let language = lang.unwrap_or_else(|| list.language.clone());
            let line = roster::member_line(&address, &name, &language)?;
            let store = super::open_store(config).await?;
            match roster::add(&store, &Actor::cli(), list, &line).await? {
                MemberAdded::Added => println!("added {} to {}", line.address, list.name),
                MemberAdded::AlreadyPresent => {
                    println!("{} is already a member of {}", line.address, list.name)
                }
            }
        }
        MembersCommand::Import { list, file } => import(config, &list, &file).await?,
        MembersCommand::Pending { list } => {
            if let Some(list) = &list {
                super::list(config, list)?;
            }
            let store = super::open_store(config).await?;
            super::requests::print_requests(&store.pending_requests(list.as_deref()).await?);
        }
        MembersCommand::List { list } => {
            let list = super::list(config, &list)?;
            let store = super::open_store(config).await?;
            for member in store.members_of(&list.name).await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    member.address, member.display_name, member.language, member.status
                );
            }
        }
        MembersCommand::Remove { list, address } => {
            let list = super::list(config, &list)?;
            let address = address::normalize(&address)?;
            let store = super::open_store(config).await?;
            if roster::remove(&store, &Actor::cli(), list, &address).await? {
                println!("removed {address} from {}", list.name);
            } else {
                anyhow::bail!("{address} is not a member of {}", list.name);
            }
        }
    }
    Ok(())
}

async fn import(config: &Config, list: &str, file: &Path) -> anyhow::Result<()> {
    let list = super::list(config, list)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = super::open_store(config).await?;
    let report = roster::import(&store, &Actor::cli(), list, &text).await?;
    for (number, problem) in &report.invalid {
        println!("{}:{number}: skipped: {problem}", file.display());
    }
    println!(
        "{}: {} added, {} already present, {} invalid",
        list.name,
        report.added,
        report.present,
        report.invalid.len()
    );
    Ok(())
}

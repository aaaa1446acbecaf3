//! `tidings members ...`: the roster of a list, for the operator.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::address;
use crate::config::Config;
use crate::store::{Actor, ImportLine, MemberAdded};
use crate::subscriptions::roster;

use super::SkippedLines;

use crate::config::LANGUAGES;

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
            let line = member_line(&address, &name, &language)?;
            let store = super::open_store(config).await?;
            match roster::add(&store, &Actor::cli(), &list.name, &line).await? {
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
            if roster::remove(&store, &Actor::cli(), &list.name, &address).await? {
                println!("removed {address} from {}", list.name);
            } else {
                anyhow::bail!("{address} is not a member of {}", list.name);
            }
        }
    }
    Ok(())
}

fn member_line(address: &str, name: &str, language: &str) -> anyhow::Result<ImportLine> {
    let address = address::normalize(address)?;
    let language = language.trim().to_ascii_lowercase();
    if !LANGUAGES.contains(&language.as_str()) {
        anyhow::bail!(
            "unknown language {language:?}: use one of {}",
            LANGUAGES.join(", ")
        );
    }
    if name.contains(['\r', '\n']) {
        anyhow::bail!("the name must fit on one line");
    }
    Ok(ImportLine {
        address,
        display_name: name.trim().to_string(),
        language,
    })
}

async fn import(config: &Config, list: &str, file: &Path) -> anyhow::Result<()> {
    let list = super::list(config, list)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (lines, invalid) = parse_import(&text, &list.language);
    let store = super::open_store(config).await?;
    let results = roster::import(&store, &Actor::cli(), &list.name, &lines).await?;
    let added = results.iter().filter(|r| **r == MemberAdded::Added).count();
    for (number, problem) in &invalid {
        println!("{}:{number}: skipped: {problem}", file.display());
    }
    println!(
        "{}: {added} added, {} already present, {} invalid",
        list.name,
        results.len() - added,
        invalid.len()
    );
    Ok(())
}

/// Reads an import file: the members it names, and the problems of the lines it skips, by
/// line number. Blank lines, `#` comments and a header line starting with `address` are
/// ignored.
pub fn parse_import(text: &str, default_language: &str) -> (Vec<ImportLine>, SkippedLines) {
    let mut invalid = Vec::new();
    let mut lines = Vec::new();
    for (number, fields) in super::csv_lines::data_lines(text, "address", &mut invalid) {
        let field = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        let language = if field(2).is_empty() {
            default_language
        } else {
            field(2)
        };
        match member_line(field(0), field(1), language) {
            Ok(line) => lines.push(line),
            Err(problem) => invalid.push((number, problem.to_string())),
        }
    }
    invalid.sort();
    (lines, invalid)
}

#[cfg(test)]
mod tests {
    use super::parse_import;

    #[test]
    fn plain_and_csv_lines_with_line_numbers() {
        let text = "address,name,language\nana@example.org\n\n# comment\n\"Doe, Jane\"@x\nbob@example.org,\"Bob, Jr.\",fr\ncarol@example.org,Carol,xx\n";
        let (lines, invalid) = parse_import(text, "en");
        let addresses: Vec<_> = lines.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(addresses, ["ana@example.org", "bob@example.org"]);
        assert_eq!(lines[1].display_name, "Bob, Jr.");
        assert_eq!(lines[1].language, "fr");
        assert_eq!(lines[0].language, "en");
        let numbers: Vec<usize> = invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [5, 7]);
    }
}

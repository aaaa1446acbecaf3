//! `tidings items ...`: the items editors submit for a publication's next edition.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::publications::ItemInput;
use crate::store::ItemChanges;

#[derive(Debug, Subcommand)]
pub enum ItemsCommand {
    /// Add an item to the next edition; the body is Markdown read from a file (`-` for
    /// standard input).
    Add {
        publication: String,
        #[arg(long)]
        title: String,
        /// Language of the item; default: the publication's fallback language.
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        section: Option<String>,
        /// Translation key shared by the versions of one story; default: made from the title.
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        body_file: PathBuf,
    },
    /// Items of a publication (every publication without a name); waiting ones only with
    /// --waiting.
    List {
        publication: Option<String>,
        #[arg(long)]
        waiting: bool,
    },
    /// One item with its body.
    Show { id: i64 },
    /// Change an item that no edition carries yet.
    Edit {
        id: i64,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        section: Option<String>,
        #[arg(long)]
        lang: Option<String>,
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        body_file: Option<PathBuf>,
    },
    /// Withdraw an item that no edition carries yet.
    Remove { id: i64 },
}

pub async fn run(config: Config, command: ItemsCommand) -> anyhow::Result<()> {
    let publications = super::publications(&Arc::new(config)).await?;
    match command {
        ItemsCommand::Add {
            publication,
            title,
            lang,
            section,
            key,
            body_file,
        } => {
            let publication = publications.publication(&publication)?;
            let input = ItemInput {
                title,
                section,
                language: lang,
                key,
                body: read_body(&body_file)?,
                author: String::new(),
            };
            let id = publications.add_item(publication, input).await?;
            println!(
                "item {id} added to the next edition of {}",
                publication.name
            );
        }
        ItemsCommand::List {
            publication,
            waiting,
        } => {
            // A mistyped name is an error, not an empty list.
            let publication = publication
                .as_deref()
                .map(|name| publications.publication(name))
                .transpose()?;
            let items = publications
                .store()
                .items(publication.map(|p| p.name.as_str()), waiting)
                .await?;
            if items.is_empty() {
                println!("(no items)");
            }
            for item in items {
                let place = match (item.state.as_str(), item.edition_id) {
                    ("withdrawn", _) => "withdrawn".to_string(),
                    (_, Some(edition)) => format!("edition {edition}"),
                    _ => "waiting".to_string(),
                };
                println!(
                    "{:>6}  {:<16} {:<3} {:<14} {:<20} {:<24} {}",
                    item.id,
                    item.publication,
                    item.language,
                    place,
                    item.section,
                    item.translation_key,
                    item.title
                );
            }
        }
        ItemsCommand::Show { id } => {
            let item = publications
                .store()
                .item(id)
                .await?
                .with_context(|| format!("no item {id}; `tidings items list` shows them"))?;
            println!(
                "id:       {}\npublication: {}\nlanguage: {}\nsection:  {}\nkey:      {}\ntitle:    {}\nstate:    {}\nedition:  {}\nauthor:   {}\n\n{}",
                item.id,
                item.publication,
                item.language,
                item.section,
                item.translation_key,
                item.title,
                item.state,
                item.edition_id.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                item.author,
                item.body
            );
        }
        ItemsCommand::Edit {
            id,
            title,
            section,
            lang,
            key,
            body_file,
        } => {
            let changes = ItemChanges {
                title,
                section,
                body: body_file.as_deref().map(read_body).transpose()?,
                language: lang,
                translation_key: key,
            };
            publications.edit_item(id, changes).await?;
            println!("item {id} changed");
        }
        ItemsCommand::Remove { id } => {
            publications.withdraw_item(id).await?;
            println!("item {id} withdrawn");
        }
    }
    Ok(())
}

fn read_body(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("cannot read standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

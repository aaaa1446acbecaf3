//! `tidings items ...`: the items editors submit for a publication's next edition.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::config::Config;
use crate::publications::{ItemInput, Publications};
use crate::store::ItemChanges;

#[derive(Debug, Subcommand)]
pub enum ItemsCommand {
    /// Add an item to the next edition; the body is Markdown read from a file (`-` for
    /// standard input).
    Add(NewItem),
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
    Edit(ItemEdit),
    /// Withdraw an item that no edition carries yet.
    Remove { id: i64 },
}

#[derive(Debug, Args)]
pub struct NewItem {
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
}

#[derive(Debug, Args)]
pub struct ItemEdit {
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
}

pub async fn run(config: Config, command: ItemsCommand) -> anyhow::Result<()> {
    let publications = super::publications(&Arc::new(config)).await?;
    match command {
        ItemsCommand::Add(item) => add(&publications, item).await,
        ItemsCommand::List {
            publication,
            waiting,
        } => list(&publications, publication.as_deref(), waiting).await,
        ItemsCommand::Show { id } => show(&publications, id).await,
        ItemsCommand::Edit(edit) => change(&publications, edit).await,
        ItemsCommand::Remove { id } => {
            publications.withdraw_item(id).await?;
            println!("item {id} withdrawn");
            Ok(())
        }
    }
}

async fn add(publications: &Publications, item: NewItem) -> anyhow::Result<()> {
    let publication = publications.publication(&item.publication)?;
    let input = ItemInput {
        title: item.title,
        section: item.section,
        language: item.lang,
        key: item.key,
        body: read_body(&item.body_file)?,
        author: String::new(),
    };
    let id = publications.add_item(publication, input).await?;
    println!(
        "item {id} added to the next edition of {}",
        publication.name
    );
    Ok(())
}

async fn list(
    publications: &Publications,
    publication: Option<&str>,
    waiting: bool,
) -> anyhow::Result<()> {
    // A mistyped name is an error, not an empty list.
    let publication = publication
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
    Ok(())
}

async fn show(publications: &Publications, id: i64) -> anyhow::Result<()> {
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
    Ok(())
}

async fn change(publications: &Publications, edit: ItemEdit) -> anyhow::Result<()> {
    let changes = ItemChanges {
        title: edit.title,
        section: edit.section,
        body: edit.body_file.as_deref().map(read_body).transpose()?,
        language: edit.lang,
        translation_key: edit.key,
    };
    publications.edit_item(edit.id, changes).await?;
    println!("item {} changed", edit.id);
    Ok(())
}

fn read_body(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        return std::io::read_to_string(std::io::stdin()).context("cannot read standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

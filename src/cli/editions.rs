//! `tidings editions ...`: built editions, previews, special editions and decisions.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::config::Config;
use crate::publications::editions::{Built, Slot};
use crate::publications::Publications;
use crate::store::Actor;

#[derive(Debug, Subcommand)]
pub enum EditionsCommand {
    /// Editions of a publication (every publication without a name), oldest first.
    List { publication: Option<String> },
    /// One edition: state, items, languages.
    Show { id: i64 },
    /// The next edition as it would be built now, as HTML (nothing is stored or sent).
    Preview {
        publication: String,
        #[arg(long)]
        lang: String,
        /// Write the HTML to this file (for a browser) instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Build a special edition now, outside the schedule, from the items waiting.
    Build { publication: String },
    /// Approve an edition waiting for approval: it goes to the subscribers now.
    Approve { id: i64 },
    /// Send an edition waiting for approval to the subscribers now (the same as approve,
    /// for operators).
    Send { id: i64 },
    /// Cancel an edition waiting for approval; its items wait for the next edition.
    Cancel { id: i64 },
}

pub async fn run(config: Config, command: EditionsCommand) -> anyhow::Result<()> {
    let publications = super::publications(&Arc::new(config)).await?;
    match command {
        EditionsCommand::List { publication } => list(&publications, publication.as_deref()).await,
        EditionsCommand::Show { id } => show(&publications, id).await,
        EditionsCommand::Preview {
            publication,
            lang,
            out,
        } => preview(&publications, &publication, &lang, out).await,
        EditionsCommand::Build { publication } => build(&publications, &publication).await,
        EditionsCommand::Approve { id } | EditionsCommand::Send { id } => {
            let queued = publications.approve(&Actor::cli(), id).await?;
            println!("edition {id} queued for {queued} subscribers");
            Ok(())
        }
        EditionsCommand::Cancel { id } => {
            publications.cancel(&Actor::cli(), id).await?;
            println!("edition {id} cancelled; its items wait for the next edition");
            Ok(())
        }
    }
}

async fn list(publications: &Publications, publication: Option<&str>) -> anyhow::Result<()> {
    // A mistyped name is an error, not an empty list.
    let publication = publication
        .map(|name| publications.publication(name))
        .transpose()?;
    let editions = publications
        .store()
        .editions(publication.map(|p| p.name.as_str()))
        .await?;
    if editions.is_empty() {
        println!("(no editions)");
    }
    for edition in editions {
        println!(
            "{:>6}  {:<16} {:>5} {:<9} {:<18} {}",
            edition.id,
            edition.publication,
            edition
                .number
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            edition.kind,
            edition.state,
            date(edition.scheduled_at)
        );
    }
    Ok(())
}

async fn show(publications: &Publications, id: i64) -> anyhow::Result<()> {
    let store = publications.store();
    let edition = store
        .edition(id)
        .await?
        .with_context(|| format!("no edition {id}; `tidings editions list` shows them"))?;
    println!(
        "id:          {}\npublication: {}\nnumber:      {}\nkind:        {}\nstate:       {}\nscheduled:   {}\nsent:        {}",
        edition.id,
        edition.publication,
        edition.number.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
        edition.kind,
        edition.state,
        date(edition.scheduled_at),
        edition.sent_at.map(date).unwrap_or_else(|| "-".into())
    );
    for render in store.edition_renders(id).await? {
        println!("language:    {}  {}", render.language, render.subject);
    }
    for item in store.edition_items(id).await? {
        println!(
            "item {:>6}:  {} [{}] {}",
            item.id, item.language, item.section, item.title
        );
    }
    Ok(())
}

async fn preview(
    publications: &Publications,
    publication: &str,
    lang: &str,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let publication = publications.publication(publication)?;
    let rendered = publications.preview(publication, lang).await?;
    match out {
        Some(path) => {
            std::fs::write(&path, &rendered.html)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("{}: {}", path.display(), rendered.subject);
        }
        None => print!("{}", rendered.html),
    }
    Ok(())
}

async fn build(publications: &Publications, publication: &str) -> anyhow::Result<()> {
    let publication = publications.publication(publication)?;
    match publications.build(&Actor::cli(), publication, Slot::Special).await? {
        Built::Edition { id, number, queued: None } => println!(
            "edition {id} (No. {number}) built; the editors have the preview: `tidings editions approve {id}` sends it"
        ),
        Built::Edition { id, number, queued: Some(queued) } => {
            println!("edition {id} (No. {number}) built and queued for {queued} subscribers")
        }
        Built::Empty | Built::AlreadyBuilt => {
            anyhow::bail!("no items are waiting for {}: nothing to build", publication.name)
        }
    }
    Ok(())
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

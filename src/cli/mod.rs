//! The `tidings` command: one file per command group. Every command but `serve` works on the
//! same database while the daemon runs.

mod archive;
mod bounces;
mod check_config;
mod dkim;
mod editions;
mod held;
mod items;
mod lists;
mod members;
mod orgs;
mod postfix_maps;
pub mod process;
mod queue;
mod requests;
mod serve;
mod shunt;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "tidings",
    version,
    about = "Mailing lists and scheduled newsletters"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "TIDINGS_CONFIG",
        default_value = "config/tidings.toml"
    )]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: SMTP/LMTP/HTTP listeners and delivery workers.
    Serve,
    /// Validate the configuration file and print every problem found.
    CheckConfig,
    /// Show the configured lists with their policies and subscriber counts.
    Lists,
    /// Manage the members of a list.
    #[command(subcommand)]
    Members(members::MembersCommand),
    /// Decide on subscription requests waiting for approval.
    #[command(subcommand)]
    Requests(requests::RequestsCommand),
    /// The registry of member organisations behind the `members` subscription policy.
    #[command(subcommand)]
    Orgs(orgs::OrgsCommand),
    /// Postings held for a moderator: list, show, approve, reject, discard.
    #[command(subcommand)]
    Held(held::HeldCommand),
    /// Messages set aside because they could not be handled: list, show, retry, discard.
    #[command(subcommand)]
    Shunt(shunt::ShuntCommand),
    /// Items for a publication's next edition: add, list, show, edit, remove.
    #[command(subcommand)]
    Items(items::ItemsCommand),
    /// A publication's editions: list, show, preview, build, approve, send, cancel.
    #[command(subcommand)]
    Editions(editions::EditionsCommand),
    /// Show the delivery queue: pending, deferred, sent and failed deliveries per list.
    Queue,
    /// Bounce scores, members disabled for bouncing, and failures by destination domain.
    Bounces(bounces::BouncesArgs),
    /// DKIM signing keys: `keygen` writes one and prints its DNS record.
    #[command(subcommand)]
    Dkim(dkim::DkimCommand),
    /// Print (or write with --output) Postfix's `relay_recipient_maps` table: every address
    /// tidings takes, so that Postfix refuses the others at RCPT.
    PostfixMaps(postfix_maps::PostfixMapsArgs),
    /// A list's archive: import a past archive from an mbox file, remove a message.
    #[command(subcommand)]
    Archive(archive::ArchiveCommand),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::CheckConfig => check_config::run(&cli.config),
        Command::Serve => serve::run(&cli.config, load_config(&cli.config)?).await,
        Command::Lists => lists::run(&load_config(&cli.config)?).await,
        Command::Members(command) => members::run(&load_config(&cli.config)?, command).await,
        Command::Queue => queue::run(&load_config(&cli.config)?).await,
        Command::Bounces(args) => bounces::run(&load_config(&cli.config)?, args).await,
        Command::Requests(command) => requests::run(load_config(&cli.config)?, command).await,
        Command::Orgs(command) => orgs::run(&load_config(&cli.config)?, command).await,
        Command::Held(command) => held::run(load_config(&cli.config)?, command).await,
        Command::Shunt(command) => shunt::run(&load_config(&cli.config)?, command).await,
        Command::Items(command) => items::run(load_config(&cli.config)?, command).await,
        Command::Editions(command) => editions::run(load_config(&cli.config)?, command).await,
        Command::Dkim(command) => dkim::run(&cli.config, command),
        Command::PostfixMaps(args) => postfix_maps::run(&load_config(&cli.config)?, args),
        Command::Archive(command) => archive::run(&load_config(&cli.config)?, command).await,
    }
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    // The error lists every problem; the caller prints it as is.
    Ok(Config::load(path, &crate::dkim::keys::Files)?)
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.database.url, config.database.max_connections)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database.url)))
}

/// The subscription service, as the daemon has it, for commands whose decisions send notices.
async fn subscriptions(
    config: &std::sync::Arc<Config>,
) -> anyhow::Result<crate::subscriptions::Subscriptions> {
    let store = open_store(config).await?;
    let signer = crate::daemon::signer(config, &store).await?;
    let notices = crate::notices::Notices::load(std::sync::Arc::clone(config))
        .context("cannot load the templates (server.templates_dir)")?;
    Ok(crate::subscriptions::Subscriptions::new(
        std::sync::Arc::clone(config),
        store,
        signer,
        std::sync::Arc::new(notices),
    ))
}

/// The publications service, as the daemon has it (the system clock; no delivery workers
/// to wake: the daemon's find queued editions on their next look at the queue).
async fn publications(
    config: &std::sync::Arc<Config>,
) -> anyhow::Result<crate::publications::Publications> {
    let subscriptions = subscriptions(config).await?;
    let templates = crate::publications::render::PublicationTemplates::load(
        Path::new(&config.server.templates_dir),
        &config.publications,
    )
    .context("cannot load the publication templates (server.templates_dir)")?;
    Ok(crate::publications::Publications::new(
        crate::publications::Parts {
            config: std::sync::Arc::clone(config),
            store: subscriptions.store().clone(),
            signer: subscriptions.signer().clone(),
            notices: std::sync::Arc::new(crate::notices::Notices::load(std::sync::Arc::clone(
                config,
            ))?),
            templates: std::sync::Arc::new(templates),
            clock: std::sync::Arc::new(crate::publications::clock::SystemClock),
            queued: None,
        },
    ))
}

/// A database URL fit for messages: without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The list named on the command line, or an error that says where lists come from.
fn list<'c>(config: &'c Config, name: &str) -> anyhow::Result<&'c crate::config::ListConfig> {
    config.list(name).with_context(|| {
        format!("no list named {name:?} in the configuration; `tidings lists` shows the configured lists")
    })
}

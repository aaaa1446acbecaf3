//! `tidings requests ...`: subscription requests waiting for an owner's decision.

use std::sync::Arc;

use clap::Subcommand;

use crate::config::Config;
use crate::store::{Actor, Request};

#[derive(Debug, Subcommand)]
pub enum RequestsCommand {
    /// Requests waiting for confirmation or approval, oldest first.
    List {
        /// Only this list's.
        list: Option<String>,
    },
    /// Subscribe the requester (welcome message in their language).
    Approve { id: i64 },
    /// Refuse the request; the requester is told, with the reason if one is given.
    Reject {
        id: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub async fn run(config: Config, command: RequestsCommand) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let subscriptions = super::subscriptions(&config).await?;
    match command {
        RequestsCommand::List { list } => {
            if let Some(list) = &list {
                super::list(&config, list)?;
            }
            print_requests(
                &subscriptions
                    .store()
                    .pending_requests(list.as_deref())
                    .await?,
            );
        }
        RequestsCommand::Approve { id } => {
            let request = subscriptions.decide(&Actor::cli(), id, true, "").await?;
            println!(
                "approved request {id}: {} subscribed to {}",
                request.address, request.list_name
            );
        }
        RequestsCommand::Reject { id, reason } => {
            let request = subscriptions
                .decide(&Actor::cli(), id, false, reason.trim())
                .await?;
            println!(
                "rejected request {id} of {} for {}",
                request.address, request.list_name
            );
        }
    }
    Ok(())
}

pub fn print_requests(requests: &[Request]) {
    if requests.is_empty() {
        println!("(no requests waiting)");
        return;
    }
    println!(
        "{:>6}  {:<30} {:<12} {:<11} {:<4} ADDRESS",
        "ID", "LIST", "KIND", "WAITING FOR", "LANG"
    );
    for request in requests {
        let waiting_for = if request.state == "approving" {
            "approval"
        } else {
            "confirmation"
        };
        println!(
            "{:>6}  {:<30} {:<12} {:<11} {:<4} {}",
            request.id,
            request.list_name,
            request.kind.as_str(),
            waiting_for,
            request.language,
            request.address
        );
    }
}

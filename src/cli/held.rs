//! `tidings held ...`: postings waiting for a moderator.

use std::sync::Arc;

use clap::Subcommand;

use crate::config::Config;
use crate::moderation;
use crate::store::Actor;
use crate::subscriptions::commands::Answer;

#[derive(Debug, Subcommand)]
pub enum HeldCommand {
    /// Held postings, oldest first, with the reason they are held.
    List,
    /// One held posting: who, why, and the message as received.
    Show { id: i64 },
    /// Send the posting on to the list.
    Approve { id: i64 },
    /// Refuse the posting; its author is told, with the reason if one is given.
    Reject {
        id: i64,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Drop the posting without telling anyone.
    Discard { id: i64 },
}

pub async fn run(config: Config, command: HeldCommand) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let subscriptions = super::subscriptions(&config).await?;
    let store = subscriptions.store();
    let (id, answer) = match command {
        HeldCommand::List => {
            let mut held = store.messages_in_state("held_new").await?;
            held.extend(store.messages_in_state("held").await?);
            if held.is_empty() {
                println!("(no postings held)");
            }
            for message in held {
                let (author, subject, _) = moderation::summary(&message);
                println!(
                    "{:>6}  {:<30} {:<14} {:<30} {}",
                    message.id, message.list_name, message.error, author, subject
                );
            }
            return Ok(());
        }
        HeldCommand::Show { id } => {
            let message = store
                .message(id)
                .await?
                .filter(|m| m.state.starts_with("held"))
                .ok_or_else(|| {
                    anyhow::anyhow!("no held posting {id}; `tidings held list` shows them")
                })?;
            println!(
                "id:      {}\nlist:    {}\nreason:  {}\n",
                message.id, message.list_name, message.error
            );
            print!("{}", String::from_utf8_lossy(&message.raw));
            return Ok(());
        }
        HeldCommand::Approve { id } => (id, Answer::Approve),
        HeldCommand::Reject { id, reason } => (id, Answer::Reject(reason.trim().to_string())),
        HeldCommand::Discard { id } => (id, Answer::Discard),
    };
    if !moderation::decide(&subscriptions, &Actor::cli(), id, answer).await? {
        anyhow::bail!(
            "no held posting {id} waiting for a decision; `tidings held list` shows them"
        );
    }
    println!("posting {id} decided");
    Ok(())
}

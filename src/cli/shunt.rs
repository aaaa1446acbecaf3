//! `tidings shunt ...`: messages the daemon set aside because it could not handle them
//! (a list removed from the configuration, a message that cannot be decorated, an internal
//! error). Nothing is dropped silently: the operator retries or discards each one.

use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ShuntCommand {
    /// Messages set aside, with the reason.
    List,
    /// One message: its details, then the message as received.
    Show { id: i64 },
    /// Hand the message back to the daemon, once the cause is fixed.
    Retry { id: i64 },
    /// Give up on the message (it stays stored, marked discarded).
    Discard { id: i64 },
}

pub async fn run(config: &Config, command: ShuntCommand) -> anyhow::Result<()> {
    let store = super::open_store(config).await?;
    match command {
        ShuntCommand::List => {
            let shunted = store.shunted_messages().await?;
            if shunted.is_empty() {
                println!("(no messages set aside)");
            }
            for message in shunted {
                println!(
                    "{:>6}  {:<30} {:<8} {:>8} bytes  {}",
                    message.id,
                    message.list_name,
                    message.kind,
                    message.raw.len(),
                    message.error
                );
            }
        }
        ShuntCommand::Show { id } => {
            let message = store
                .message(id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no message {id}"))?;
            println!("id:       {}", message.id);
            println!("list:     {}", message.list_name);
            println!("kind:     {}", message.kind);
            println!("state:    {}", message.state);
            println!("sender:   {}", message.envelope_from);
            println!("reason:   {}", message.error);
            println!();
            print!("{}", String::from_utf8_lossy(&message.raw));
        }
        ShuntCommand::Retry { id } => {
            if !store.retry_shunted(id).await? {
                anyhow::bail!(
                    "message {id} is not set aside; `tidings shunt list` shows those that are"
                );
            }
            println!("message {id} handed back to the daemon");
        }
        ShuntCommand::Discard { id } => {
            if !store.discard_shunted(id).await? {
                anyhow::bail!(
                    "message {id} is not set aside; `tidings shunt list` shows those that are"
                );
            }
            println!("message {id} discarded");
        }
    }
    Ok(())
}

//! From one accepted message to one queued delivery per recipient. A posting is decorated
//! here, once, and the decorated bytes are stored with the deliveries in the same
//! transaction: a crash before the commit leaves the message `accepted`, to be expanded again.

use std::sync::Arc;

use crate::config::{Config, ListConfig, PostingPolicy};
use crate::pipeline::decorate::{decorate, ListDecoration};
use crate::store::{MessageKind, PendingMessage, Store, StoreError};

use crate::signals::Signals;

/// Messages taken from the database at a time.
const BATCH: i64 = 16;

pub async fn run(config: Arc<Config>, store: Store, signals: Signals) {
    let mut shutdown = signals.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let pending = match store.pending_messages(BATCH).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::error!(%error, "cannot read accepted messages");
                Vec::new()
            }
        };
        if pending.is_empty() {
            signals.idle(&signals.accepted, &mut shutdown).await;
            continue;
        }
        for message in pending {
            match expand(&config, &store, &message).await {
                Ok(Some(recipients)) => {
                    tracing::info!(list = %message.list_name, id = message.id, recipients, "message queued for delivery");
                    signals.queued.notify_waiters();
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%error, id = message.id, "cannot expand message; will retry")
                }
            }
        }
    }
}

async fn expand(
    config: &Config,
    store: &Store,
    message: &PendingMessage,
) -> Result<Option<u64>, StoreError> {
    let Some(list) = config.list(&message.list_name) else {
        let reason = format!(
            "list {} is no longer in the configuration",
            message.list_name
        );
        store.shunt_message(message.id, &reason).await?;
        tracing::warn!(list = %message.list_name, id = message.id, "message shunted: list is gone");
        return Ok(None);
    };
    match message.kind {
        MessageKind::Posting => match decorate(&message.raw, &decoration(list, config)) {
            Ok(decorated) => store.expand_to_subscribers(message.id, &decorated).await,
            Err(error) => {
                tracing::warn!(list = %list.name, id = message.id, %error, "message shunted: cannot decorate");
                store.shunt_message(message.id, &error.to_string()).await?;
                Ok(None)
            }
        },
        // Mail for the owners goes to them as it came.
        MessageKind::Owner => {
            store
                .expand_to_addresses(message.id, &message.raw, &list.owners)
                .await
        }
        // Never pending here: bounces and commands have their own processors, notices are
        // queued ready-made.
        MessageKind::Bounce | MessageKind::Command | MessageKind::Notice => Ok(None),
    }
}

fn decoration<'a>(list: &'a ListConfig, config: &'a Config) -> ListDecoration<'a> {
    ListDecoration {
        list_name: &list.name,
        display_name: &list.display_name,
        domain: &config.server.domain,
        base_url: &config.server.base_url,
        posting_allowed_to_all_members: list.posting != PostingPolicy::Announce,
        subject_prefix: list.subject_prefix.as_deref(),
        footer: list.footer.as_deref(),
    }
}

//! From one accepted message to one queued delivery per recipient. A posting is decorated
//! here, once, and the decorated bytes are stored with the deliveries in the same
//! transaction: a crash before the commit leaves the message `accepted`, to be expanded again.

use std::sync::Arc;

use crate::authentication::arrival::{Arrival, Origin};
use crate::authentication::dmarc::AuthorPolicy;
use crate::authentication::Authenticator;
use crate::config::{Config, FromRewrite, ListConfig, PostingPolicy, UnknownPolicy, Visibility};
use crate::dkim::Dkim;
use crate::list_archive::entry::{entry, Posted};
use crate::notices::Notices;
use crate::pipeline::decorate::{decorate, ListDecoration};
use crate::pipeline::ParsedMessage;
use crate::store::{MessageKind, PendingMessage, Store, StoreError};

use crate::signals::Signals;

use tracing::Instrument;

/// What expansion needs beyond the message: the list's texts, for decoration, and the keys
/// and checks that seal a posting's ARC set.
#[derive(Clone)]
pub struct Expander {
    pub config: Arc<Config>,
    pub store: Store,
    pub notices: Arc<Notices>,
    pub authenticator: Arc<Authenticator>,
    pub dkim: Option<Arc<Dkim>>,
}

/// Messages taken from the database at a time.
const BATCH: i64 = 16;

pub async fn run(expander: Expander, signals: Signals) {
    let store = &expander.store;
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
            let span = tracing::info_span!("message", id = message.id);
            match expander.expand(&message).instrument(span).await {
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

impl Expander {
    async fn expand(&self, message: &PendingMessage) -> Result<Option<u64>, StoreError> {
        let (config, store) = (&self.config, &self.store);
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
            MessageKind::Posting => match self.decorate(list, message).await {
                Ok(decorated) => {
                    // As relayed to the members: decorated, before each copy's own fields.
                    let archived = entry(
                        &list.name,
                        &decorated,
                        Posted::ReceivedAt(message.received_at),
                    );
                    if archived.is_none() {
                        tracing::warn!(list = %list.name, id = message.id, "posting cannot be read for the archive; relayed unarchived");
                    }
                    store
                        .expand_to_subscribers(message.id, &decorated, archived.as_ref())
                        .await
                }
                Err(reason) => {
                    tracing::warn!(list = %list.name, id = message.id, %reason, "message shunted: cannot decorate");
                    store.shunt_message(message.id, &reason).await?;
                    Ok(None)
                }
            },
            // Mail for the owners, or for the postmaster, goes to them as it came.
            MessageKind::Owner => store.expand_to_addresses(message.id, &list.owners).await,
            MessageKind::Postmaster => {
                let postmaster = config.postmaster().to_string();
                store.expand_to_addresses(message.id, &[postmaster]).await
            }
            // Never pending here: bounces and commands have their own processors, notices are
            // queued ready-made.
            MessageKind::Bounce | MessageKind::Command | MessageKind::Notice => Ok(None),
        }
    }

    /// The posting as members receive it; `Err` says why it cannot be.
    async fn decorate(
        &self,
        list: &ListConfig,
        message: &PendingMessage,
    ) -> Result<Vec<u8>, String> {
        let config = &self.config;
        let notice = match list.visibility {
            Visibility::Confidential => Some(
                self.notices
                    .snippet("confidential_notice", list)
                    .map_err(|e| e.to_string())?,
            ),
            Visibility::Public => None,
        };
        let account_line = self
            .notices
            .snippet("account_footer", list)
            .map_err(|e| e.to_string())?;
        let decoration = ListDecoration {
            list_name: &list.name,
            display_name: &list.display_name,
            domain: &config.server.domain,
            posting_allowed_to_all_members: list.posting != PostingPolicy::Announce,
            subject_prefix: list.subject_prefix.as_deref(),
            footer: list.footer.as_deref(),
            confidentiality_notice: notice.as_deref(),
            account_line: Some(&account_line),
            rewrite_from: self.rewrite_from(list, message).await,
            // A trusted id on mail that did not come through the front MTA is the sender's
            // own claim: pass none of them on.
            public_archive: match list.visibility {
                Visibility::Public => Some(&config.server.base_url),
                Visibility::Confidential => None,
            },
            trusted_authserv_ids: if config
                .authentication
                .through_front_mta(message.peer.parse().ok())
            {
                &config.authentication.trusted_authserv_ids
            } else {
                &[]
            },
        };
        let decorated = decorate(&message.raw, &decoration).map_err(|e| e.to_string())?;
        Ok(self.sealed(message, decorated).await)
    }

    /// The decorated posting with the ARC set the list adds on top (RFC 8617), when the
    /// list domain has an RSA key: what the posting proved on arrival, for receivers who
    /// would otherwise see only the author's signature broken by the decoration.
    async fn sealed(&self, message: &PendingMessage, decorated: Vec<u8>) -> Vec<u8> {
        let Some(sealer) = self.dkim.as_deref().and_then(Dkim::sealer) else {
            return decorated;
        };
        let arrival = match message.arrival() {
            Some(stored) => Arrival::from_stored(stored),
            // Accepted before the list had a key to seal with (or before arrivals were
            // kept): checked now, as late as that.
            None => {
                let origin = Origin {
                    client_ip: message.peer.parse().ok(),
                    mail_from: &message.envelope_from,
                };
                self.authenticator.arrival(&message.raw, origin).await
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match sealer.seal(&decorated, &arrival.results, arrival.chain, now) {
            Ok(Some(set)) => [set, decorated].concat(),
            Ok(None) => decorated,
            Err(error) => {
                // Unsealed, the posting still goes out signed: ARC is for the receivers'
                // benefit of the doubt, not a condition of delivery.
                tracing::warn!(%error, id = message.id, "cannot seal the posting's ARC set");
                decorated
            }
        }
    }

    /// Whether the posting must go out under the list's address (see
    /// `authentication::dmarc`); asked once per posting, not per recipient.
    async fn rewrite_from(&self, list: &ListConfig, message: &PendingMessage) -> bool {
        let dmarc = &self.config.dmarc;
        match self.config.rewrite_from(list) {
            FromRewrite::Always => return true,
            FromRewrite::Never => return false,
            FromRewrite::Policy => {}
        }
        let kept = message.author_policy.as_deref();
        let policy = match kept.and_then(AuthorPolicy::from_stored) {
            Some(policy) => policy,
            // Accepted before the policy was kept, or while the list did not go by it.
            None => self.authenticator.author_policy(&author_of(message)).await,
        };
        tracing::debug!(list = %list.name, ?policy, "author domain's DMARC policy");
        match policy {
            AuthorPolicy::Reject | AuthorPolicy::Quarantine => true,
            AuthorPolicy::None => false,
            AuthorPolicy::Unknown => dmarc.when_policy_unknown == UnknownPolicy::Rewrite,
        }
    }
}

/// The posting's author as acceptance read it; read again only from a posting accepted
/// before that was kept.
fn author_of(message: &PendingMessage) -> String {
    match &message.author {
        Some(author) => author.clone(),
        None => ParsedMessage::parse(&message.raw)
            .ok()
            .and_then(|parsed| parsed.from)
            .unwrap_or_default(),
    }
}

//! The daemon's side of a session: which recipients it takes, and what it does with a
//! message: judge it for every recipient, commit what is accepted, and only then say 250.

use std::sync::Arc;

use crate::authentication::{Authenticator, Connection};
use crate::config::{Config, ListConfig, Visibility};
use crate::pipeline::{self, Confidentiality, Decision, ParsedMessage, Posting};
use crate::signals::Signals;
use crate::store::{MessageKind, NewMessage, Store};
use crate::tokens::Signer;

use super::routing::{self, Destination};
use super::session::{Envelope, MailHandler, Protocol};
use super::Reply;

pub struct ListHandler {
    config: Arc<Config>,
    store: Store,
    signer: Signer,
    authenticator: Arc<Authenticator>,
    /// Wakes the stage that takes each kind of message as soon as one is committed.
    signals: Signals,
}

/// What one recipient makes of a message.
enum Verdict {
    Keep(NewMessage),
    Drop,
    Refuse(Reply),
}

impl ListHandler {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        signer: Signer,
        authenticator: Arc<Authenticator>,
        signals: Signals,
    ) -> ListHandler {
        ListHandler {
            config,
            store,
            signer,
            authenticator,
            signals,
        }
    }

    async fn verdict(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        parsed: &ParsedMessage,
        recipient: &str,
    ) -> Verdict {
        let destination = match routing::route(recipient, &self.config, &self.signer) {
            Ok(destination) => destination,
            Err(refusal) => return Verdict::Refuse(refusal),
        };
        let mut hold_reason = None;
        let kind = match destination {
            Destination::Post { ref list } => {
                match self.judge_posting(list, envelope, raw, parsed).await {
                    Ok(Decision::Accept) => MessageKind::Posting,
                    Ok(Decision::Hold { rule, reason }) => {
                        tracing::info!(list = %list, message_id = %parsed.message_id, rule, reason, "posting held for moderation");
                        hold_reason = Some(reason.to_string());
                        MessageKind::Posting
                    }
                    Ok(Decision::Discard { rule, reason }) => {
                        tracing::info!(list = %list, message_id = %parsed.message_id, rule, %reason, "posting discarded");
                        return Verdict::Drop;
                    }
                    Ok(Decision::Reject {
                        rule,
                        status,
                        reason,
                    }) => {
                        tracing::info!(list = %list, message_id = %parsed.message_id, rule, "posting refused");
                        return Verdict::Refuse(Reply::new(550, status, reason));
                    }
                    Err(refusal) => return Verdict::Refuse(refusal),
                }
            }
            Destination::Submit { ref list } => {
                let author = parsed.from.as_deref().unwrap_or_default();
                let editor = self
                    .config
                    .publication(list)
                    .is_some_and(|p| p.is_editor(author));
                if !editor {
                    tracing::info!(publication = %list, message_id = %parsed.message_id, "item refused: not from an editor");
                    return Verdict::Refuse(Reply::new(
                        550,
                        "5.7.1",
                        format!("only the editors of {list} may submit items"),
                    ));
                }
                MessageKind::Command
            }
            Destination::Owner { .. } => MessageKind::Owner,
            Destination::Bounces { .. } => MessageKind::Bounce,
            Destination::Request { .. }
            | Destination::Join { .. }
            | Destination::Leave { .. }
            | Destination::Confirm { .. }
            | Destination::Approve { .. }
            | Destination::Moderate { .. }
            | Destination::ApproveEdition { .. } => MessageKind::Command,
        };
        Verdict::Keep(NewMessage {
            list_name: destination.list().to_string(),
            kind,
            envelope_from: envelope.mail_from.clone(),
            message_id: parsed.message_id.clone(),
            raw: raw.to_vec(),
            // Over LMTP the client is the front MTA, not the sender's machine.
            peer: match envelope.protocol {
                Protocol::Smtp => envelope.peer.ip().to_string(),
                Protocol::Lmtp => String::new(),
            },
            recipient: recipient.to_string(),
            hold_reason,
        })
    }

    async fn judge_posting(
        &self,
        list: &str,
        envelope: &Envelope,
        raw: &[u8],
        parsed: &ParsedMessage,
    ) -> Result<Decision, Reply> {
        let Some(list) = self.config.list(list) else {
            return Err(Reply::new(550, "5.1.1", "no such list here"));
        };
        let author = parsed.from.as_deref().unwrap_or_default();
        let author_is_subscriber = self
            .store
            .is_subscribed(&list.name, author)
            .await
            .map_err(|error| temporary_failure(&error))?;
        let confidentiality = if list.visibility == Visibility::Confidential && author_is_subscriber
        {
            Some(self.confidentiality(list, envelope, raw, parsed).await?)
        } else {
            None
        };
        Ok(pipeline::judge(&Posting {
            list,
            domain: &self.config.server.domain,
            message: parsed,
            author_is_subscriber,
            confidentiality,
        }))
    }

    /// The facts the confidential rule needs, which cost DNS lookups and queries, so they
    /// are gathered only for members' postings to confidential lists.
    async fn confidentiality(
        &self,
        list: &ListConfig,
        envelope: &Envelope,
        raw: &[u8],
        parsed: &ParsedMessage,
    ) -> Result<Confidentiality, Reply> {
        let connection = Connection {
            client_ip: match envelope.protocol {
                Protocol::Smtp => Some(envelope.peer.ip()),
                Protocol::Lmtp => None,
            },
            helo: &envelope.helo,
            mail_from: &envelope.mail_from,
        };
        let author = parsed.from.as_deref().unwrap_or_default();
        let proof = self
            .authenticator
            .authenticate(raw, author, connection)
            .await;
        tracing::debug!(list = %list.name, message_id = %parsed.message_id, ?proof, "author authentication");
        Ok(Confidentiality {
            author_authenticated: proof.is_some(),
            outsiders: self.outsiders(list, &parsed.visible_recipients).await?,
        })
    }

    /// Counts To and Cc addresses that are neither this list's own addresses nor its
    /// members. Past a bound every further address counts as an outsider unchecked: a
    /// posting addressed to that many people is held anyway.
    async fn outsiders(&self, list: &ListConfig, addresses: &[String]) -> Result<usize, Reply> {
        const CHECKED: usize = 200;
        let mut outsiders = addresses.len().saturating_sub(CHECKED);
        for address in addresses.iter().take(CHECKED) {
            if self.is_own_address(list, address) {
                continue;
            }
            let member = self
                .store
                .is_subscribed(&list.name, address)
                .await
                .map_err(|error| temporary_failure(&error))?;
            if !member {
                outsiders += 1;
            }
        }
        Ok(outsiders)
    }

    fn is_own_address(&self, list: &ListConfig, address: &str) -> bool {
        matches!(
            routing::route(address, &self.config, &self.signer),
            Ok(destination) if destination.list().eq_ignore_ascii_case(&list.name)
        )
    }

    /// Commits the kept messages; the replies they earn depend on that commit.
    async fn commit(&self, kept: Vec<NewMessage>) -> Result<(), Reply> {
        if kept.is_empty() {
            return Ok(());
        }
        match self.store.insert_messages(&kept).await {
            Ok(ids) => {
                for (message, id) in kept.iter().zip(ids) {
                    tracing::info!(list = %message.list_name, message_id = %message.message_id, id, kind = ?message.kind, "message accepted");
                }
                let is = |kind: MessageKind| kept.iter().any(|m| m.kind == kind);
                if is(MessageKind::Posting) || is(MessageKind::Owner) {
                    self.signals.accepted.notify_one();
                }
                let for_runner = is(MessageKind::Command) || is(MessageKind::Bounce);
                if for_runner || kept.iter().any(|m| m.hold_reason.is_some()) {
                    self.signals.commands.notify_one();
                }
                Ok(())
            }
            Err(error) => Err(temporary_failure(&error)),
        }
    }
}

impl MailHandler for ListHandler {
    async fn check_recipient(&self, _envelope: &Envelope, recipient: &str) -> Result<(), Reply> {
        routing::route(recipient, &self.config, &self.signer).map(|_| ())
    }

    async fn take_message(&self, envelope: &Envelope, message: Vec<u8>) -> Vec<Reply> {
        let parsed = match ParsedMessage::parse(&message) {
            Ok(parsed) => parsed,
            Err(malformed) => {
                tracing::info!(peer = %envelope.peer, problem = %malformed, "message refused as malformed");
                let reply = Reply::new(554, "5.6.0", malformed.to_string());
                return answer_all(envelope, reply);
            }
        };
        let mut verdicts = Vec::with_capacity(envelope.recipients.len());
        for recipient in &envelope.recipients {
            verdicts.push(self.verdict(envelope, &message, &parsed, recipient).await);
        }
        match envelope.protocol {
            Protocol::Smtp => self.answer_once(verdicts).await,
            Protocol::Lmtp => self.answer_each(verdicts).await,
        }
    }
}

impl ListHandler {
    /// SMTP has one reply for all recipients: if any list refuses the message, nothing is
    /// kept and the sender learns why; a partial acceptance would need a bounce afterwards.
    async fn answer_once(&self, verdicts: Vec<Verdict>) -> Vec<Reply> {
        let mut kept = Vec::new();
        let mut refusals: Vec<Reply> = Vec::new();
        for verdict in verdicts {
            match verdict {
                Verdict::Keep(message) => kept.push(message),
                Verdict::Drop => {}
                Verdict::Refuse(reply) => refusals.push(reply),
            }
        }
        if let Some(first) = refusals.first() {
            let mut reply = first.clone();
            reply.text = refusals
                .iter()
                .map(|r| r.text.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return vec![reply];
        }
        match self.commit(kept).await {
            Ok(()) => vec![Reply::new(250, "2.0.0", "message accepted")],
            Err(reply) => vec![reply],
        }
    }

    /// LMTP answers per recipient, so each list decides for itself.
    async fn answer_each(&self, verdicts: Vec<Verdict>) -> Vec<Reply> {
        let mut kept = Vec::new();
        // `None`: the reply depends on the commit below.
        let replies: Vec<Option<Reply>> = verdicts
            .into_iter()
            .map(|verdict| match verdict {
                Verdict::Keep(message) => {
                    kept.push(message);
                    None
                }
                Verdict::Drop => Some(Reply::new(250, "2.0.0", "message accepted")),
                Verdict::Refuse(reply) => Some(reply),
            })
            .collect();
        let committed = self.commit(kept).await;
        replies
            .into_iter()
            .map(|reply| {
                reply.unwrap_or_else(|| match &committed {
                    Ok(()) => Reply::new(250, "2.0.0", "message accepted"),
                    Err(reply) => reply.clone(),
                })
            })
            .collect()
    }
}

fn answer_all(envelope: &Envelope, reply: Reply) -> Vec<Reply> {
    match envelope.protocol {
        Protocol::Smtp => vec![reply],
        Protocol::Lmtp => vec![reply; envelope.recipients.len()],
    }
}

fn temporary_failure(error: &crate::store::StoreError) -> Reply {
    tracing::error!(%error, "storage failed while taking a message");
    Reply::new(
        451,
        "4.3.0",
        "temporary storage problem, please try again later",
    )
}

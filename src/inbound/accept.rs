//! The daemon's side of a session: which recipients it takes, and what it does with a
//! message: judge it for every recipient, commit what is accepted, and only then say 250.
//!
//! A transaction may name one address many times, or many of our addresses: each distinct
//! destination (`LIST-owner@` however it is spelled; `postmaster@` and `abuse@`, which reach
//! the same person) is judged once, and the message's bytes are stored once for all of them.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::authentication::arrival::Origin;
use crate::authentication::dmarc::AuthorPolicy;
use crate::authentication::{Authenticator, Connection, Proof};
use crate::config::{Config, FromRewrite, ListConfig};
use crate::pipeline::{self, Decision, ParsedMessage, Posting};
use crate::signals::Signals;
use crate::store::{MessageKind, NewMessage, Store, StoredArrival};
use crate::tokens::Signer;

use super::session::{Envelope, MailHandler, Protocol};
use super::Reply;
use crate::links::Destination;

pub struct ListHandler {
    config: Arc<Config>,
    store: Store,
    signer: Signer,
    authenticator: Arc<Authenticator>,
    /// Whether postings will be sealed with an ARC set, which carries what they proved on
    /// arrival: then that is checked here, as they arrive, and kept with them.
    seals: bool,
    /// Wakes the stage that takes each kind of message as soon as one is committed.
    signals: Signals,
}

/// A message kept, of this kind, held for moderation with the reason when there is one.
type Kept = (MessageKind, Option<String>);

/// What one recipient makes of a message.
enum Verdict {
    // Boxed: a kept message is larger than a refusal by what acceptance learned of it.
    Keep(Box<NewMessage>),
    Drop,
    Refuse(Reply),
}

/// One message being taken in, with what every recipient's verdict shares: the author's
/// proof, their domain's DMARC policy and the verdict on the arrival are looked up (DNS, at
/// most once each) only when some recipient needs them.
struct Intake<'a> {
    envelope: &'a Envelope,
    raw: &'a [u8],
    parsed: &'a ParsedMessage,
    proof: OnceCell<Option<Proof>>,
    author_policy: OnceCell<AuthorPolicy>,
    arrival: OnceCell<StoredArrival>,
}

impl Intake<'_> {
    fn author(&self) -> &str {
        self.parsed.from.as_deref().unwrap_or_default()
    }
}

impl ListHandler {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        signer: Signer,
        authenticator: Arc<Authenticator>,
        seals: bool,
        signals: Signals,
    ) -> ListHandler {
        ListHandler {
            config,
            store,
            signer,
            authenticator,
            seals,
            signals,
        }
    }

    async fn verdict(
        &self,
        intake: &Intake<'_>,
        (recipient, destination): (&str, Destination),
    ) -> Verdict {
        let kept = match &destination {
            Destination::Post { list } => self.posting(list, intake).await,
            Destination::Submit { list } => self.item(list, intake).await,
            Destination::Approve { .. }
            | Destination::Moderate { .. }
            | Destination::ApproveEdition { .. } => {
                // Decisions are carried out by the command runner only with a proof, which
                // is taken here, where the connection is known.
                self.proof(intake).await;
                Ok((MessageKind::Command, None))
            }
            Destination::Owner { .. } => Ok((MessageKind::Owner, None)),
            Destination::Postmaster { .. } => Ok((MessageKind::Postmaster, None)),
            Destination::Bounces { .. } => Ok((MessageKind::Bounce, None)),
            Destination::Request { .. }
            | Destination::Join { .. }
            | Destination::Leave { .. }
            | Destination::Confirm { .. } => Ok((MessageKind::Command, None)),
        };
        let (kind, hold_reason) = match kept {
            Ok(kept) => kept,
            Err(verdict) => return verdict,
        };
        let (author_policy, arrival) = match kind {
            MessageKind::Posting => self.learned(destination.list(), intake).await,
            _ => (None, None),
        };
        let envelope = intake.envelope;
        let proof = intake.proof.get().copied().flatten();
        Verdict::Keep(Box::new(NewMessage {
            list_name: destination.list().to_string(),
            kind,
            envelope_from: envelope.mail_from.clone(),
            message_id: intake.parsed.message_id.clone(),
            // Over LMTP the client is the front MTA, not the sender's machine.
            peer: match envelope.protocol {
                Protocol::Smtp => envelope.peer.ip().to_string(),
                Protocol::Lmtp => String::new(),
            },
            recipient: recipient.to_string(),
            hold_reason,
            proof: proof.map(Proof::as_str).unwrap_or_default().to_string(),
            author: intake.author().to_string(),
            author_policy,
            arrival,
        }))
    }

    /// A posting is kept (perhaps held, with the reason), or dropped, or refused.
    async fn posting(&self, list: &str, intake: &Intake<'_>) -> Result<Kept, Verdict> {
        let message_id = &intake.parsed.message_id;
        match self.judge_posting(list, intake).await {
            Ok(Decision::Accept) => Ok((MessageKind::Posting, None)),
            Ok(Decision::Hold { rule, reason }) => {
                tracing::info!(list = %list, message_id = %message_id, rule, reason, "posting held for moderation");
                Ok((MessageKind::Posting, Some(reason.to_string())))
            }
            Ok(Decision::Discard { rule, reason }) => {
                tracing::info!(list = %list, message_id = %message_id, rule, %reason, "posting discarded");
                if let Err(error) = self.store.count_dropped(list, rule).await {
                    tracing::warn!(%error, list = %list, "cannot count a dropped posting");
                }
                Err(Verdict::Drop)
            }
            Ok(Decision::Reject {
                rule,
                status,
                reason,
            }) => {
                tracing::info!(list = %list, message_id = %message_id, rule, "posting refused");
                Err(Verdict::Refuse(Reply::new(550, status, reason)))
            }
            Err(refusal) => Err(Verdict::Refuse(refusal)),
        }
    }

    /// An editor's item is kept, held while its author is not proven; anyone else's is
    /// refused.
    async fn item(&self, publication: &str, intake: &Intake<'_>) -> Result<Kept, Verdict> {
        let message_id = &intake.parsed.message_id;
        let editor = self
            .config
            .publication(publication)
            .is_some_and(|p| p.is_editor(intake.author()));
        if !editor {
            tracing::info!(publication = %publication, message_id = %message_id, "item refused: not from an editor");
            return Err(Verdict::Refuse(Reply::new(
                550,
                "5.7.1",
                format!("only the editors of {publication} may submit items"),
            )));
        }
        // An item is published under the coalition's name: an editor's From alone is not
        // enough, the rest waits for the editors to vouch for it.
        if self.proof(intake).await.is_none() {
            tracing::info!(publication = %publication, message_id = %message_id, "item held: its author is not proven");
            return Ok((MessageKind::Command, Some("unauthenticated".to_string())));
        }
        Ok((MessageKind::Command, None))
    }

    async fn judge_posting(&self, list: &str, intake: &Intake<'_>) -> Result<Decision, Reply> {
        let Some(list) = self.config.list(list) else {
            return Err(Reply::new(550, "5.1.1", "no such list here"));
        };
        let author = intake.author();
        let author_is_subscriber = self
            .store
            .is_subscribed(&list.name, author)
            .await
            .map_err(|error| temporary_failure(&error))?;
        let author_authenticated = if pipeline::needs_proof(list, author) {
            Some(self.proof(intake).await.is_some())
        } else {
            None
        };
        let insider = author_is_subscriber || list.accept_these.matches(author);
        let outsiders = if pipeline::counts_outsiders(list, insider, author_authenticated) {
            self.outsiders(list, &intake.parsed.visible_recipients)
                .await?
        } else {
            0
        };
        Ok(pipeline::judge(&Posting {
            list,
            domain: &self.config.server.domain,
            message: intake.parsed,
            author_is_subscriber,
            author_authenticated,
            outsiders,
        }))
    }

    /// How the author is proven to have sent the message, asked once per message.
    async fn proof(&self, intake: &Intake<'_>) -> Option<Proof> {
        *intake
            .proof
            .get_or_init(|| async {
                let envelope = intake.envelope;
                let client_ip = client_ip(envelope);
                let connection = Connection {
                    client_ip,
                    helo: &envelope.helo,
                    mail_from: &envelope.mail_from,
                    through_front_mta: self.config.authentication.through_front_mta(client_ip),
                };
                let proof = self
                    .authenticator
                    .authenticate(intake.raw, intake.author(), connection)
                    .await;
                tracing::debug!(message_id = %intake.parsed.message_id, ?proof, "author authentication");
                proof
            })
            .await
    }

    /// What expansion will need to know of a posting to `list` and can be known now, when
    /// the signatures and the author's DNS are as the author's servers left them (not when
    /// the posting is approved days later): the DMARC policy of the author's domain if the
    /// list goes by it, and the verdict on the arrival if the posting is to be sealed.
    async fn learned(
        &self,
        list: &str,
        intake: &Intake<'_>,
    ) -> (Option<String>, Option<StoredArrival>) {
        let goes_by_policy = self
            .config
            .list(list)
            .is_some_and(|list| self.config.rewrite_from(list) == FromRewrite::Policy);
        let author_policy = match goes_by_policy {
            true => Some(self.author_policy(intake).await.as_str().to_string()),
            false => None,
        };
        let arrival = match self.seals {
            true => Some(self.arrival(intake).await),
            false => None,
        };
        (author_policy, arrival)
    }

    /// The DMARC policy of the author's domain, asked once per message.
    async fn author_policy(&self, intake: &Intake<'_>) -> AuthorPolicy {
        *intake
            .author_policy
            .get_or_init(|| self.authenticator.author_policy(intake.author()))
            .await
    }

    /// The verdict on the message as it arrived, for the ARC set sealed on it, asked once
    /// per message.
    async fn arrival(&self, intake: &Intake<'_>) -> StoredArrival {
        intake
            .arrival
            .get_or_init(|| async {
                let envelope = intake.envelope;
                let origin = Origin {
                    client_ip: client_ip(envelope),
                    mail_from: &envelope.mail_from,
                };
                let arrival = self.authenticator.arrival(intake.raw, origin).await;
                arrival.stored()
            })
            .await
            .clone()
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

    /// Which of our addresses `recipient` is, or the reply that refuses it.
    fn route(&self, recipient: &str) -> Result<Destination, Reply> {
        let links = self.config.links(&self.signer);
        Ok(links.route(recipient, &*self.config)?)
    }

    fn is_own_address(&self, list: &ListConfig, address: &str) -> bool {
        matches!(
            self.route(address),
            Ok(destination) if destination.list().eq_ignore_ascii_case(&list.name)
        )
    }

    /// Commits the kept messages, their bytes once; the replies they earn depend on that
    /// commit.
    async fn commit(&self, stored: &Stamped, kept: Vec<NewMessage>) -> Result<(), Reply> {
        if kept.is_empty() {
            return Ok(());
        }
        match self.store.insert_messages(&stored.raw, &kept).await {
            Ok(ids) => {
                for (message, id) in kept.iter().zip(ids) {
                    tracing::info!(list = %message.list_name, message_id = %message.message_id, id, queue_id = %stored.queue_id, kind = ?message.kind, "message accepted");
                }
                let is = |kind: MessageKind| kept.iter().any(|m| m.kind == kind);
                if is(MessageKind::Posting) || is(MessageKind::Owner) || is(MessageKind::Postmaster)
                {
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
        self.route(recipient).map(|_| ()).inspect_err(counted)
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
        let intake = Intake {
            envelope,
            raw: &message,
            parsed: &parsed,
            proof: OnceCell::new(),
            author_policy: OnceCell::new(),
            arrival: OnceCell::new(),
        };
        let routed = envelope
            .recipients
            .iter()
            .map(|recipient| self.route(recipient));
        let (distinct, of_recipient) = distinct_destinations(routed);
        let mut verdicts = Vec::with_capacity(distinct.len());
        for (first, destination) in distinct {
            let verdict = match destination {
                Ok(destination) => {
                    let recipient = &envelope.recipients[first];
                    self.verdict(&intake, (recipient, destination)).await
                }
                // Judged at RCPT already; only a reload in between can get here.
                Err(refusal) => Verdict::Refuse(refusal),
            };
            verdicts.push(verdict);
        }
        let stored = Stamped::new(message, envelope, &self.config.server.hostname);
        match envelope.protocol {
            Protocol::Smtp => self.answer_once(&stored, verdicts).await,
            Protocol::Lmtp => {
                let replies = self.answer_each(&stored, verdicts).await;
                // A repeated recipient still gets its own reply (RFC 2033 §4.2), the same as
                // the first time it was named.
                of_recipient.iter().map(|&i| replies[i].clone()).collect()
            }
        }
    }
}

/// Counts a refusal for the metrics, by its code: `550 5.7.1` (not allowed), `550 5.1.1`
/// (no such list), `552 5.3.4` (too large)… a handful of values.
fn counted(reply: &Reply) {
    let code = format!("{} {}", reply.code, reply.status);
    metrics::counter!("tidings_inbound_refusals_total", "reason" => code).increment(1);
}

/// The SMTP client; none over LMTP, whose client is the front MTA, not the sender's machine.
fn client_ip(envelope: &Envelope) -> Option<std::net::IpAddr> {
    match envelope.protocol {
        Protocol::Smtp => Some(envelope.peer.ip()),
        Protocol::Lmtp => None,
    }
}

/// Where a transaction's recipients lead, each destination once: for each distinct one the
/// index of the first recipient that named it, and for each recipient the index of its
/// destination among them. A recipient that could not be routed stands for itself.
#[allow(clippy::type_complexity)]
fn distinct_destinations(
    routed: impl Iterator<Item = Result<Destination, Reply>>,
) -> (Vec<(usize, Result<Destination, Reply>)>, Vec<usize>) {
    let mut distinct: Vec<(usize, Result<Destination, Reply>)> = Vec::new();
    let mut of_recipient = Vec::new();
    for (i, destination) in routed.enumerate() {
        let seen = match &destination {
            Ok(destination) => distinct
                .iter()
                .position(|(_, seen)| seen.as_ref() == Ok(destination)),
            Err(_) => None,
        };
        let index = seen.unwrap_or_else(|| {
            distinct.push((i, destination));
            distinct.len() - 1
        });
        of_recipient.push(index);
    }
    (distinct, of_recipient)
}

impl ListHandler {
    /// SMTP has one reply for all recipients: if any list refuses the message, nothing is
    /// kept and the sender learns why; a partial acceptance would need a bounce afterwards.
    async fn answer_once(&self, stored: &Stamped, verdicts: Vec<Verdict>) -> Vec<Reply> {
        let mut kept = Vec::new();
        let mut refusals: Vec<Reply> = Vec::new();
        for verdict in verdicts {
            match verdict {
                Verdict::Keep(message) => kept.push(*message),
                Verdict::Drop => {}
                Verdict::Refuse(reply) => {
                    counted(&reply);
                    refusals.push(reply)
                }
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
        match self.commit(stored, kept).await {
            Ok(()) => vec![Reply::new(250, "2.0.0", "message accepted")],
            Err(reply) => vec![reply],
        }
    }

    /// LMTP answers per recipient, so each list decides for itself.
    async fn answer_each(&self, stored: &Stamped, verdicts: Vec<Verdict>) -> Vec<Reply> {
        let mut kept = Vec::new();
        // `None`: the reply depends on the commit below.
        let replies: Vec<Option<Reply>> = verdicts
            .into_iter()
            .map(|verdict| match verdict {
                Verdict::Keep(message) => {
                    kept.push(*message);
                    None
                }
                Verdict::Drop => Some(Reply::new(250, "2.0.0", "message accepted")),
                Verdict::Refuse(reply) => {
                    counted(&reply);
                    Some(reply)
                }
            })
            .collect();
        let committed = self.commit(stored, kept).await;
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

/// A message as it is stored: the bytes the client sent, byte for byte (authors' DKIM
/// signatures must still verify), below one trace field of ours (RFC 5321 4.4).
struct Stamped {
    raw: Vec<u8>,
    /// Names the message in the trace field and in the log.
    queue_id: String,
}

impl Stamped {
    /// The field says by whom, how and when the message was taken in, and under which id:
    /// `Received: by HOST with ESMTP id ID; DATE`. It has no `from` clause, neither the
    /// client's address nor its HELO name, on any list: every member reads it, and on a
    /// confidential list the poster's address is theirs alone. The bytes are stored once
    /// for every list a transaction names, so one field serves all; the client's address
    /// is kept in the database (the message's `peer`) for the operator.
    fn new(mut message: Vec<u8>, envelope: &Envelope, hostname: &str) -> Stamped {
        let queue_id = format!("{:016X}", rand::random::<u64>());
        let field = format!(
            "Received: by {hostname} with {} id {queue_id};\r\n\t{}\r\n",
            envelope.trace_protocol(),
            chrono::Utc::now().to_rfc2822()
        );
        // Room is made at the front of the buffer the message was read into; nothing
        // after the field changes.
        message.splice(0..0, field.into_bytes());
        Stamped {
            raw: message,
            queue_id,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(protocol: Protocol, extended: bool, smtputf8: bool) -> Envelope {
        Envelope {
            protocol,
            peer: "203.0.113.5:40000".parse().expect("address"),
            helo: "laptop.ngo-a.example".into(),
            extended,
            mail_from: "ana@ngo-a.example".into(),
            smtputf8,
            eight_bit_mime: false,
            recipients: vec!["team@lists.example.org".into()],
        }
    }

    #[test]
    fn the_trace_field_goes_above_the_bytes_as_sent_and_names_no_client() {
        let sent = b"From: a@ngo-a.example\r\nSubject: s\r\n\r\nbody\r\n".to_vec();
        let cases = [
            (envelope(Protocol::Smtp, true, false), "ESMTP"),
            (envelope(Protocol::Smtp, false, false), "SMTP"),
            (envelope(Protocol::Smtp, true, true), "UTF8SMTP"),
            (envelope(Protocol::Lmtp, true, false), "LMTP"),
            (envelope(Protocol::Lmtp, true, true), "UTF8LMTP"),
        ];
        for (envelope, protocol) in cases {
            let stored = Stamped::new(sent.clone(), &envelope, "lists.example.org");
            let text = String::from_utf8(stored.raw).expect("utf-8");
            let (field, rest) = text.split_once("\r\n\t").expect("folded");
            assert_eq!(
                field,
                format!(
                    "Received: by lists.example.org with {protocol} id {};",
                    stored.queue_id
                )
            );
            let (date, message) = rest.split_once("\r\n").expect("one field");
            assert!(chrono::DateTime::parse_from_rfc2822(date).is_ok(), "{date}");
            assert_eq!(message.as_bytes(), sent.as_slice());
            assert!(!text.contains("203.0.113.5") && !text.contains("laptop"));
        }
    }

    #[test]
    fn a_repeated_destination_is_judged_once() {
        let owner = |list: &str| Ok(Destination::Owner { list: list.into() });
        let refused = || Err(Reply::new(550, "5.1.1", "no such list here"));
        let routed = vec![
            owner("a"),
            owner("b"),
            refused(),
            owner("a"),
            refused(),
            owner("b"),
        ];
        let (distinct, of_recipient) = distinct_destinations(routed.into_iter());
        let firsts: Vec<usize> = distinct.iter().map(|(first, _)| *first).collect();
        assert_eq!(firsts, [0, 1, 2, 4]);
        assert_eq!(of_recipient, [0, 1, 2, 0, 3, 1]);
    }
}

//! Carries out the mail sent to the daemon itself rather than to a list's members:
//! commands to `LIST-request@`, `-join@` and `-leave@`, replies to `-confirm+TOKEN@` that
//! confirm a request or decide on a held posting or an edition, and editors' items to
//! `-submit@`. The inbound side commits them and they are claimed here a few at a time and
//! carried out one by one, as Mailman's command runner does; each ends `processed` or
//! `ignored`, with the reason. The claim makes each command carried out once, however many
//! daemons share the database. Between
//! batches the runner also does the housekeeping of moderation and bounces.

use std::sync::Arc;

use mail_parser::{Message, MessageParser};
use serde_json::json;

use crate::address;
use crate::config::ListConfig;
use crate::links::Destination;
use crate::notices::Automatic;
use crate::signals::Signals;
use crate::store::{Actor, Claimed, Job, RateLimit, ReceivedCommand, RequestKind, JOB_LEASE_MS};

use crate::publications::{PublicationError, Publications};
use crate::subscriptions::commands::{self, Answer, Command};
use crate::subscriptions::{
    automatic, Requested, Result, SubscriptionError, Subscriptions, HOUR_MS,
};
use crate::{bounces, moderation};

/// Commands claimed at a time: few, so that several daemons share a burst between them.
const BATCH: i64 = 4;

/// Carries out the commands that arrive, claiming each (see [`Store::claim_messages`]) in
/// the name of daemon `node`, so that with several daemons on one database every command is
/// carried out once.
///
/// [`Store::claim_messages`]: crate::store::Store::claim_messages
pub async fn run(
    subscriptions: Arc<Subscriptions>,
    publications: Arc<Publications>,
    signals: Signals,
    node: Arc<str>,
) {
    let mut shutdown = signals.shutdown.clone();
    let store = subscriptions.store().clone();
    while !*shutdown.borrow() {
        let claimed = match store
            .claim_messages(Job::Commands, &node, BATCH, JOB_LEASE_MS)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "cannot claim received commands");
                Claimed {
                    token: String::new(),
                    messages: Vec::new(),
                }
            }
        };
        if let Err(error) = moderation::housekeeping(&subscriptions).await {
            tracing::error!(%error, "moderation housekeeping failed");
        }
        if let Err(error) = bounces::process::housekeeping(&subscriptions, &node).await {
            tracing::error!(%error, "bounce processing failed");
        }
        if claimed.messages.is_empty() {
            signals.idle(&signals.commands, &mut shutdown).await;
            continue;
        }
        for command in claimed.messages {
            let services = (&*subscriptions, &*publications);
            let (state, note) = match process(services, &command).await {
                Ok(Handled::Processed) => ("processed", String::new()),
                Ok(Handled::Ignored(reason)) => {
                    tracing::info!(list = %command.list_name, id = command.id, reason, "command message ignored");
                    ("ignored", reason.to_string())
                }
                Err(error) => {
                    tracing::error!(%error, list = %command.list_name, id = command.id, "command failed");
                    ("shunted", error.to_string())
                }
            };
            match store
                .complete_claim(command.id, &claimed.token, state, &note)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(
                        id = command.id,
                        "a command outlived its claim and was taken over by another daemon"
                    )
                }
                Err(error) => {
                    tracing::error!(%error, id = command.id, "cannot record a command's outcome")
                }
            }
        }
    }
}

enum Handled {
    Processed,
    Ignored(&'static str),
}

async fn process(
    (subscriptions, publications): (&Subscriptions, &Publications),
    received: &ReceivedCommand,
) -> Result<Handled> {
    let admitted = match admit(subscriptions, received).await? {
        Ok(admitted) => admitted,
        Err(reason) => return Ok(Handled::Ignored(reason)),
    };
    let Admitted {
        message,
        sender,
        destination,
        requester,
    } = admitted;
    let list = subscriptions.list(destination.list())?;
    let reply = || Reply::new(list, &sender, &message, received);
    match destination {
        Destination::Join { .. } | Destination::Leave { .. } | Destination::Confirm { .. } => {
            self_service(subscriptions, list, &sender, destination).await?;
        }
        Destination::Request { .. } => {
            execute_commands(subscriptions, &requester, list, &sender, &message).await?
        }
        Destination::Moderate { message_id, .. } => {
            return moderate_by_reply(subscriptions, reply(), message_id).await;
        }
        Destination::Approve { request_id, .. } => {
            return approve_by_reply(subscriptions, reply(), request_id).await;
        }
        Destination::Submit { .. } => return submit_item(publications, reply()).await,
        Destination::ApproveEdition { edition_id, .. } => {
            return approve_edition((subscriptions, publications), reply(), edition_id).await;
        }
        Destination::Post { .. }
        | Destination::Owner { .. }
        | Destination::Bounces { .. }
        | Destination::Postmaster { .. } => {
            return Ok(Handled::Ignored("not a command address"));
        }
    }
    Ok(Handled::Processed)
}

/// A command message worth carrying out, and whom it counts against.
struct Admitted<'a> {
    message: Message<'a>,
    sender: String,
    destination: Destination,
    requester: Requester<'a>,
}

/// The message, parsed, when it is a command from a person to an address that still
/// exists, within the requester's allowance; otherwise why it is ignored.
async fn admit<'a>(
    subscriptions: &Subscriptions,
    received: &'a ReceivedCommand,
) -> Result<std::result::Result<Admitted<'a>, &'static str>> {
    // A parser panic must not stop the runner; the message is then ignored, not retried.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(&received.raw))
        .ok()
        .flatten();
    let Some(message) = parsed else {
        return Ok(Err("unparseable message"));
    };
    if let Some(reason) = automatic::automatic(&message, &received.envelope_from) {
        return Ok(Err(reason));
    }
    let Some(sender) = sender(&message) else {
        return Ok(Err("no usable From address"));
    };
    let config = subscriptions.config();
    let Ok(destination) = subscriptions.links().route(&received.recipient, config) else {
        return Ok(Err("address no longer valid"));
    };
    let requester = Requester::of(received, &destination);
    // The message itself counts once; it pays for its first command that writes.
    if !requester.take(subscriptions).await? {
        return Ok(Err("client IP or envelope sender rate limit"));
    }
    Ok(Ok(Admitted {
        message,
        sender,
        destination,
        requester,
    }))
}

/// Joining, leaving and confirming by mail, each one message to its own address.
async fn self_service(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    sender: &str,
    destination: Destination,
) -> Result<()> {
    match destination {
        Destination::Join { .. } => {
            let language = subscriptions.language_for(list, sender).await?;
            let requested = subscriptions
                .request(list, RequestKind::Subscribe, sender, &language)
                .await?;
            if requested == Requested::Closed {
                let results = vec![result_of("join", "closed", "")];
                reply(subscriptions, list, sender, &language, results).await?;
            }
        }
        Destination::Leave {
            member_id: Some(member_id),
            ..
        } => {
            subscriptions.leave_by_token(list, member_id).await?;
        }
        Destination::Leave {
            member_id: None, ..
        } => {
            let language = subscriptions.language_for(list, sender).await?;
            subscriptions
                .request(list, RequestKind::Unsubscribe, sender, &language)
                .await?;
        }
        Destination::Confirm { request_id, .. } => {
            let outcome = subscriptions.confirm(list, request_id).await?;
            tracing::info!(list = %list.name, request = request_id, ?outcome, "confirmation by reply");
        }
        // The other addresses are not self-service; `process` sends none of them here.
        _ => {}
    }
    Ok(())
}

/// The author's address: commands always apply to whoever sent them.
fn sender(message: &Message) -> Option<String> {
    let from = message.from()?.first()?.address()?;
    address::normalize(from).ok()
}

/// Whom a command message counts against, for `requests_per_ip_per_hour` and
/// `requests_per_sender_per_hour`.
struct Requester<'a> {
    /// The SMTP client's IP address; empty over LMTP, where the client is the front MTA
    /// and counting it would throttle every member at once.
    peer: &'a str,
    /// The envelope sender, for the self-service addresses (`-join@`, `-leave@`,
    /// `-request@`) only: the other command addresses carry a signed token or are checked
    /// against the list's owners and editors, and a moderator approving by reply must not
    /// run out.
    envelope_sender: Option<String>,
}

impl<'a> Requester<'a> {
    fn of(received: &'a ReceivedCommand, destination: &Destination) -> Requester<'a> {
        let self_service = matches!(
            destination,
            Destination::Join { .. }
                | Destination::Leave {
                    member_id: None,
                    ..
                }
                | Destination::Request { .. }
        );
        let envelope_sender = self_service.then(|| {
            address::normalize(&received.envelope_from)
                .unwrap_or_else(|_| received.envelope_from.trim().to_lowercase())
        });
        Requester {
            peer: &received.peer,
            envelope_sender,
        }
    }

    /// Takes one command from every allowance of the requester: false, and nothing taken,
    /// when one of them is used up.
    async fn take(&self, subscriptions: &Subscriptions) -> Result<bool> {
        let limits = &subscriptions.config().subscriptions;
        let per_ip = (!self.peer.is_empty()).then_some(RateLimit {
            scope: "requests-ip",
            key: self.peer,
            limit: limits.requests_per_ip_per_hour,
            window_ms: HOUR_MS,
        });
        let per_sender = self.envelope_sender.as_deref().map(|sender| RateLimit {
            scope: "requests-sender",
            key: sender,
            limit: limits.requests_per_sender_per_hour,
            window_ms: HOUR_MS,
        });
        let allowances: Vec<RateLimit> = per_ip.into_iter().chain(per_sender).collect();
        Ok(subscriptions.store().rate_allow_all(&allowances).await?)
    }
}

async fn execute_commands(
    subscriptions: &Subscriptions,
    requester: &Requester<'_>,
    list: &ListConfig,
    sender: &str,
    message: &Message<'_>,
) -> Result<()> {
    let subject = message.subject().unwrap_or_default();
    let body = message.body_text(0).unwrap_or_default();
    let mut language = subscriptions.language_for(list, sender).await?;
    let mut results = Vec::new();
    // The message was counted once already: that pays for its first command that writes.
    let mut prepaid = true;
    let mut refused = 0;
    for command in commands::parse(subject, &body) {
        let paid = !command.writes()
            || std::mem::take(&mut prepaid)
            || requester.take(subscriptions).await?;
        if !paid {
            refused += 1;
            results.push(result_of(&command.quoted(), "too_many", ""));
            continue;
        }
        // Another address named in a command is only ever asked to confirm; it is never
        // changed directly.
        let (outcome, argument) = match &command {
            Command::Subscribe { address } => {
                let target = address.as_deref().unwrap_or(sender);
                match subscriptions
                    .request(list, RequestKind::Subscribe, target, &language)
                    .await?
                {
                    Requested::Requested => ("subscribe_requested", ""),
                    Requested::Closed => ("closed", ""),
                }
            }
            Command::Unsubscribe { address } => {
                let target = address.as_deref().unwrap_or(sender);
                subscriptions
                    .request(list, RequestKind::Unsubscribe, target, &language)
                    .await?;
                ("unsubscribe_requested", "")
            }
            Command::Language(code) => {
                subscriptions.store().set_language(sender, code).await?;
                language.clone_from(code);
                ("language_set", code.as_str())
            }
            Command::LanguageUnknown => ("language_unknown", ""),
            // A publication's subscribers get its editions, which are their own digest.
            Command::Digest(_) if subscriptions.config().publication(&list.name).is_some() => {
                ("unknown_command", "")
            }
            Command::Digest(mode) => {
                // The answer is the same whether or not the sender is subscribed.
                let changed = subscriptions
                    .store()
                    .set_delivery_mode(&list.name, sender, *mode)
                    .await?;
                tracing::info!(list = %list.name, mode = mode.as_str(), changed, "delivery mode set by email");
                ("digest_set", commands::digest_word(*mode))
            }
            Command::Help => {
                send_help(subscriptions, list, sender, &language).await?;
                ("help_sent", "")
            }
            Command::Unknown => ("unknown_command", ""),
        };
        results.push(result_of(&command.quoted(), outcome, argument));
    }
    if refused > 0 {
        tracing::info!(list = %list.name, refused, "commands not carried out: client IP or envelope sender rate limit");
    }
    reply(subscriptions, list, sender, &language, results).await
}

/// One line of the reply: the command as quoted (see [`Command::quoted`]), what became of
/// it, and the language it set, if it set one.
fn result_of(command: &str, outcome: &str, argument: &str) -> serde_json::Value {
    json!({ "command": command, "outcome": outcome, "argument": argument })
}

async fn send_help(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    sender: &str,
    language: &str,
) -> Result<()> {
    auto_reply(subscriptions, list, (sender, language), "help", json!({})).await
}

/// The summary reply to a command message, in the sender's language.
async fn reply(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    sender: &str,
    language: &str,
    results: Vec<serde_json::Value>,
) -> Result<()> {
    auto_reply(
        subscriptions,
        list,
        (sender, language),
        "command_results",
        json!({ "results": results }),
    )
    .await
}

/// An automatic reply to a command's sender, within the per-address reply limit.
async fn auto_reply(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    to: (&str, &str),
    name: &'static str,
    extra: serde_json::Value,
) -> Result<()> {
    if !allowed_reply(subscriptions, to.0).await? {
        tracing::info!(list = %list.name, notice = name, "reply not sent: address rate limit");
        return Ok(());
    }
    subscriptions
        .notify(list, to, name, Automatic::Replied, extra)
        .await
}

async fn allowed_reply(subscriptions: &Subscriptions, sender: &str) -> Result<bool> {
    let per_hour = subscriptions
        .config()
        .subscriptions
        .replies_per_address_per_hour;
    Ok(subscriptions
        .store()
        .rate_allow("reply", sender, per_hour, HOUR_MS)
        .await?)
}

/// A message answering a notice, or bringing an item: who sent it, what it says, and what
/// proved its From when it was taken in.
struct Reply<'a> {
    list: &'a ListConfig,
    sender: &'a str,
    message: &'a Message<'a>,
    received: &'a ReceivedCommand,
}

impl<'a> Reply<'a> {
    fn new(
        list: &'a ListConfig,
        sender: &'a str,
        message: &'a Message<'a>,
        received: &'a ReceivedCommand,
    ) -> Reply<'a> {
        Reply {
            list,
            sender,
            message,
            received,
        }
    }

    /// Whether the sender's domain proved the From (or a moderator vouched for the message).
    fn is_proven(&self) -> bool {
        !self.received.proof.is_empty()
    }
}

/// The decision in a reply from one of the list's owners or moderators (a publication's
/// editors are its owners), or why there is none. Anyone can write an owner's From: a
/// decision whose From was not proven is not carried out, and the owner is told why.
async fn decision(
    subscriptions: &Subscriptions,
    reply: &Reply<'_>,
) -> Result<std::result::Result<Answer, &'static str>> {
    let list = reply.list;
    if !list.may_moderate(reply.sender) {
        return Ok(Err("answer not from an owner or moderator"));
    }
    let body = reply.message.body_text(0).unwrap_or_default();
    let Some(answer) = commands::answer(reply.message.subject().unwrap_or_default(), &body) else {
        return Ok(Err("answer says neither approve, reject nor discard"));
    };
    if !reply.is_proven() {
        tracing::info!(list = %list.name, id = reply.received.id, "decision not carried out: its From is not proven");
        let language = subscriptions.language_for(list, reply.sender).await?;
        auto_reply(
            subscriptions,
            list,
            (reply.sender, &language),
            "decision_unauthenticated",
            json!({}),
        )
        .await?;
        return Ok(Err("decision not authenticated"));
    }
    Ok(Ok(answer))
}

/// An owner's reply to an approval request (`discard` drops the request without a word).
async fn approve_by_reply(
    subscriptions: &Subscriptions,
    reply: Reply<'_>,
    request_id: i64,
) -> Result<Handled> {
    let (approve, reason) = match decision(subscriptions, &reply).await? {
        Ok(Answer::Approve) => (true, String::new()),
        Ok(Answer::Reject(reason)) => (false, reason),
        Ok(Answer::Discard) => (false, String::new()),
        Err(why) => return Ok(Handled::Ignored(why)),
    };
    match subscriptions
        .decide(&Actor::email(reply.sender), request_id, approve, &reason)
        .await
    {
        Ok(_) => Ok(Handled::Processed),
        Err(SubscriptionError::NotAwaitingApproval { .. }) => {
            Ok(Handled::Ignored("request already decided"))
        }
        Err(error) => Err(error),
    }
}

/// A moderator's reply about a held posting.
async fn moderate_by_reply(
    subscriptions: &Subscriptions,
    reply: Reply<'_>,
    message_id: i64,
) -> Result<Handled> {
    let answer = match decision(subscriptions, &reply).await? {
        Ok(answer) => answer,
        Err(why) => return Ok(Handled::Ignored(why)),
    };
    if moderation::decide(
        subscriptions,
        &Actor::email(reply.sender),
        message_id,
        answer,
    )
    .await?
    {
        Ok(Handled::Processed)
    } else {
        Ok(Handled::Ignored("posting already decided"))
    }
}

/// An editor's item for the next edition. The inbound side has checked the From address,
/// and held the item for the editors when nothing proved it; an unproven one gets here only
/// once an editor approved it.
async fn submit_item(publications: &Publications, item: Reply<'_>) -> Result<Handled> {
    let Some(publication) = publications.config().publication(&item.list.name) else {
        return Ok(Handled::Ignored("not a publication"));
    };
    if !publication.is_editor(item.sender) {
        return Ok(Handled::Ignored("item not from an editor"));
    }
    if !item.is_proven() {
        return Ok(Handled::Ignored("item not authenticated"));
    }
    let subject = item.message.subject().unwrap_or_default();
    let body = item.message.body_text(0).unwrap_or_default();
    publications
        .take_mailed_item(publication, item.sender, subject, &body)
        .await
        .map_err(publication_failure)?;
    Ok(Handled::Processed)
}

/// An editor's reply to an edition's preview: `approve` sends it, `reject` or `discard`
/// cancels it.
async fn approve_edition(
    (subscriptions, publications): (&Subscriptions, &Publications),
    reply: Reply<'_>,
    edition_id: i64,
) -> Result<Handled> {
    let answer = match decision(subscriptions, &reply).await? {
        Ok(answer) => answer,
        Err(why) => return Ok(Handled::Ignored(why)),
    };
    let actor = Actor::email(reply.sender);
    let decided = match answer {
        Answer::Approve => publications.approve(&actor, edition_id).await.map(drop),
        Answer::Reject(_) | Answer::Discard => publications.cancel(&actor, edition_id).await,
    };
    match decided {
        Ok(()) => Ok(Handled::Processed),
        Err(PublicationError::NotAwaitingApproval { .. } | PublicationError::NoSuchEdition(_)) => {
            Ok(Handled::Ignored("edition already decided"))
        }
        Err(error) => Err(publication_failure(error)),
    }
}

fn publication_failure(error: PublicationError) -> SubscriptionError {
    match error {
        PublicationError::Store(error) => error.into(),
        PublicationError::Notice(error) => error.into(),
        other => SubscriptionError::Publication(other.to_string()),
    }
}

//! Postings held for a moderator. A held posting is stored as `held_new`; the moderators'
//! notice is then queued in the same transaction that moves it to `held` (so that a crash
//! loses no notice and several daemons send it once), and it waits as `held` until a
//! moderator approves it (back to `accepted`, and on to the subscribers), rejects it (the
//! author is told why) or discards it, or until it expires. An editor's item whose From was
//! not proven is held the same way, the publication's editors moderating it; approved, it
//! goes on to the command runner as if proven.

pub mod view;

use mail_parser::MessageParser;
use serde_json::json;

use crate::config::ListConfig;
use crate::links::Question;
use crate::notices::{Automatic, Notice};
use crate::store::{now_ms, Actor, Audited, ReadyNotice, StoredMessage};
use crate::subscriptions::commands::Answer;
use crate::subscriptions::{Result, Subscriptions};

const DAY_MS: i64 = 24 * 3_600_000;

/// Lines of a held posting quoted in the moderators' notice.
const EXCERPT_LINES: usize = 12;

/// Tells the moderators about newly held postings, and expires those nobody decided on.
/// Each change of state and the notice about it are committed together, so that with
/// several daemons each notice goes once, and a crash loses none.
pub async fn housekeeping(subscriptions: &Subscriptions) -> Result<()> {
    let store = subscriptions.store();
    for held in store.messages_in_state("held_new").await? {
        let Ok(list) = subscriptions.list(&held.list_name) else {
            store
                .move_message(
                    held.id,
                    "held_new",
                    "shunted",
                    Some("list no longer configured"),
                )
                .await?;
            continue;
        };
        let notice = moderators_notice(subscriptions, list, &held)?;
        if store
            .move_message_with_notices(held.id, ("held_new", "held"), None, &[notice])
            .await?
        {
            tracing::info!(list = %list.name, id = held.id, "moderators told of a held posting");
        }
    }
    let expiry_days = subscriptions.config().moderation.held_expiry_days;
    let cutoff = now_ms() - expiry_days as i64 * DAY_MS;
    for id in store.message_ids_in_state_before("held", cutoff).await? {
        let Some(expired) = store.message(id).await? else {
            continue;
        };
        let notice = match subscriptions.list(&expired.list_name) {
            Ok(list) => {
                let extra = json!({ "expires_days": expiry_days });
                author_notice(subscriptions, list, &expired, "held_expired", extra).await?
            }
            Err(_) => None,
        };
        store
            .move_message_with_notices(id, ("held", "expired"), None, notice.as_slice())
            .await?;
    }
    Ok(())
}

/// Carries out `actor`'s decision on a held posting, and records it in the audit trail;
/// false when the posting is not (or no longer) held.
pub async fn decide(
    subscriptions: &Subscriptions,
    actor: &Actor,
    message_id: i64,
    answer: Answer,
) -> Result<bool> {
    let store = subscriptions.store();
    let Some(held) = store
        .message(message_id)
        .await?
        .filter(|m| m.state == "held")
    else {
        return Ok(false);
    };
    let decided = match &answer {
        Answer::Approve => store.release_held(message_id).await?,
        Answer::Reject(reason) => {
            // The author hears why in the same transaction that rejects: once, and surely.
            let notice = match subscriptions.list(&held.list_name) {
                Ok(list) => {
                    let extra = json!({ "reason": reason });
                    author_notice(subscriptions, list, &held, "posting_rejected", extra).await?
                }
                Err(_) => None,
            };
            store
                .move_message_with_notices(
                    message_id,
                    ("held", "rejected"),
                    Some(reason),
                    notice.as_slice(),
                )
                .await?
        }
        Answer::Discard => {
            store
                .move_message(message_id, "held", "discarded", None)
                .await?
        }
    };
    if !decided {
        return Ok(false);
    }
    tracing::info!(list = %held.list_name, id = message_id, ?answer, "held posting decided");
    let (action, detail) = match &answer {
        Answer::Approve => ("held.approve", None),
        Answer::Reject(reason) => ("held.reject", Some(reason.clone())),
        Answer::Discard => ("held.discard", None),
    };
    let event = Audited {
        action,
        list_name: Some(&held.list_name),
        object: Some(format!("message {message_id}")),
        detail: detail.filter(|reason| !reason.is_empty()),
        ..Audited::default()
    };
    store.record_audit(actor, &event).await?;
    Ok(true)
}

/// The notice telling the list's moderators (its owners when it names none) of a posting
/// held for them, with the address to answer.
fn moderators_notice(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    held: &StoredMessage,
) -> Result<ReadyNotice> {
    let moderate_address =
        subscriptions
            .links()
            .answer_address(&list.name, Question::Moderate, held.id);
    let moderators = if list.moderators.is_empty() {
        &list.owners
    } else {
        &list.moderators
    };
    let (author, subject, excerpt) = summary(held);
    let notice = Notice {
        name: "held_notice",
        list,
        language: &list.language,
        recipients: moderators.clone(),
        address: &author,
        reply_to: Some(moderate_address.clone()),
        automatic: Automatic::Generated,
        extra: json!({
            "sender": author,
            "subject": subject,
            "reason": held.error,
            "excerpt": excerpt,
            "held_id": held.id,
            "moderate_address": moderate_address,
            "cli_approve": format!("tidings held approve {}", held.id),
            "cli_reject": format!("tidings held reject {} --reason \"...\"", held.id),
            "cli_discard": format!("tidings held discard {}", held.id),
            "expires_days": subscriptions.config().moderation.held_expiry_days,
        }),
    };
    Ok(subscriptions.notices().prepare(&notice)?)
}

/// The notice telling a held posting's author what became of it, in their language (the
/// list's when tidings does not know theirs); none when the posting names no author.
async fn author_notice(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    held: &StoredMessage,
    name: &'static str,
    mut extra: serde_json::Value,
) -> Result<Option<ReadyNotice>> {
    let (author, subject, _) = summary(held);
    if author.is_empty() {
        return Ok(None);
    }
    if let Some(extra) = extra.as_object_mut() {
        extra.insert("subject".into(), json!(subject));
    }
    let language = subscriptions.language_for(list, &author).await?;
    let notice = Notice {
        name,
        list,
        language: &language,
        recipients: vec![author.clone()],
        address: &author,
        reply_to: None,
        automatic: Automatic::Generated,
        extra,
    };
    Ok(Some(subscriptions.notices().prepare(&notice)?))
}

/// Author, subject and the first lines of a held posting.
pub fn summary(held: &StoredMessage) -> (String, String, String) {
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(&held.raw))
        .ok()
        .flatten();
    let Some(message) = parsed else {
        return (held.envelope_from.clone(), String::new(), String::new());
    };
    let author = message
        .from()
        .and_then(|from| from.first())
        .and_then(|a| a.address())
        .and_then(|a| crate::address::normalize(a).ok())
        .unwrap_or_else(|| held.envelope_from.clone());
    let subject = message.subject().unwrap_or_default().to_string();
    let body = message.body_text(0).unwrap_or_default();
    let excerpt: Vec<&str> = body.lines().take(EXCERPT_LINES).collect();
    (author, subject, excerpt.join("\n"))
}

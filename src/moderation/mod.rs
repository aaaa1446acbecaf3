//! Postings held for a moderator. A held posting is stored as `held_new`; the moderators are
//! then told (so that a crash between the two loses no notice) and it waits as `held` until a
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
use crate::store::{now_ms, Actor, Audited, StoredMessage};
use crate::subscriptions::commands::Answer;
use crate::subscriptions::{Result, Subscriptions};

const DAY_MS: i64 = 24 * 3_600_000;

/// Lines of a held posting quoted in the moderators' notice.
const EXCERPT_LINES: usize = 12;

/// Tells the moderators about newly held postings, and expires those nobody decided on.
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
        notify_moderators(subscriptions, list, &held).await?;
        store
            .move_message(held.id, "held_new", "held", None)
            .await?;
    }
    let expiry_days = subscriptions.config().moderation.held_expiry_days;
    let cutoff = now_ms() - expiry_days as i64 * DAY_MS;
    for id in store.message_ids_in_state_before("held", cutoff).await? {
        if !store.move_message(id, "held", "expired", None).await? {
            continue;
        }
        let Some(expired) = store.message(id).await? else {
            continue;
        };
        if let Ok(list) = subscriptions.list(&expired.list_name) {
            tell_author(
                subscriptions,
                list,
                &expired,
                "held_expired",
                json!({ "expires_days": expiry_days }),
            )
            .await?;
        }
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
            store
                .move_message(message_id, "held", "rejected", Some(reason))
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
    if let (Answer::Reject(reason), Ok(list)) = (&answer, subscriptions.list(&held.list_name)) {
        tell_author(
            subscriptions,
            list,
            &held,
            "posting_rejected",
            json!({ "reason": reason }),
        )
        .await?;
    }
    Ok(true)
}

async fn notify_moderators(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    held: &StoredMessage,
) -> Result<()> {
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
    Ok(subscriptions
        .notices()
        .send(subscriptions.store(), notice)
        .await?)
}

/// Tells a held posting's author what became of it, in the list's language.
async fn tell_author(
    subscriptions: &Subscriptions,
    list: &ListConfig,
    held: &StoredMessage,
    name: &'static str,
    mut extra: serde_json::Value,
) -> Result<()> {
    let (author, subject, _) = summary(held);
    if author.is_empty() {
        return Ok(());
    }
    if let Some(extra) = extra.as_object_mut() {
        extra.insert("subject".into(), json!(subject));
    }
    let language = subscriptions.language_for(list, &author).await?;
    subscriptions
        .notify(
            list,
            (&author, &language),
            name,
            Automatic::Generated,
            extra,
        )
        .await
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

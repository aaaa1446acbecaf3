//! What tidings does with a bounce: the VERP token names the delivery (so the member and the
//! list are known whatever the bounce's format), the bounce itself says what failed and how
//! ([`super::read`]), and the membership follows: a mailbox failure raises the member's
//! score and may disable their deliveries; a policy rejection is reported to the list's
//! owners as a deliverability problem; anything else is only logged.
//!
//! A complaint (an abuse report from a provider's feedback loop) unsubscribes its member at
//! once, as every sender of bulk mail must: whoever marks the list's mail as spam is not to
//! get more of it, not even a goodbye.
//!
//! Disabled members are sent re-enable notices with a link, and removed after the last one
//! goes unanswered.

use serde_json::json;

use crate::config::{Config, ListConfig};
use crate::links::Destination;
use crate::notices::{Automatic, Notice, Notices};
use crate::store::{
    BounceEvent, BouncedDelivery, ComplaintEvent, Job, ReceivedCommand, ScoreOutcome, Store,
    JOB_LEASE_MS,
};
use crate::subscriptions::{Result, Subscriptions};

use super::arf::Complaint;
use super::{read, score, BounceClass, Failure, Returned};

const DAY_MS: i64 = 24 * 3_600_000;

/// Bounces claimed per pass.
const BATCH: i64 = 32;

/// Reads the bounces waiting, claimed in the name of daemon `node` so that with several
/// daemons each bounce counts once, then sends the re-enable notices and removals that are
/// due. A bounce whose daemon died while reading it is read again once its claim runs out.
pub async fn housekeeping(subscriptions: &Subscriptions, node: &str) -> Result<()> {
    let store = subscriptions.store();
    let claimed = store
        .claim_messages(Job::Bounces, node, BATCH, JOB_LEASE_MS)
        .await?;
    for bounce in claimed.messages {
        let (state, note) = match process(subscriptions, &bounce).await {
            Ok(note) => ("processed", note),
            Err(error) => {
                tracing::error!(%error, id = bounce.id, "bounce processing failed");
                ("shunted", error.to_string())
            }
        };
        if !store
            .complete_claim(bounce.id, &claimed.token, state, &note)
            .await?
        {
            tracing::warn!(
                id = bounce.id,
                "a bounce outlived its claim and was taken over by another daemon"
            );
        }
    }
    reenable_reminders(subscriptions).await
}

/// Handles one bounce; returns a note on what it did, for `tidings shunt`-style records.
async fn process(subscriptions: &Subscriptions, bounce: &ReceivedCommand) -> Result<String> {
    let delivery_id = match subscriptions
        .links()
        .route(&bounce.recipient, subscriptions.config())
    {
        Ok(Destination::Bounces { delivery_id, .. }) => delivery_id,
        _ => None,
    };
    let failures = match read(&bounce.raw) {
        Returned::Failures(failures) => failures,
        Returned::Complaint(complaint) => {
            return complain(subscriptions, delivery_id, &complaint).await
        }
        Returned::NotABounce(why) => return Ok(format!("not a bounce: {why}")),
    };
    let Some(delivery_id) = delivery_id else {
        return Ok("no VERP token: kept for the owners, not scored".into());
    };
    let Some(delivery) = subscriptions.store().bounced_delivery(delivery_id).await? else {
        return Ok("the delivery it names is gone".into());
    };
    let Some(failure) = pick(&failures, &delivery.recipient) else {
        return Ok("reports no failure".into());
    };
    let outcome = apply(
        subscriptions.config(),
        subscriptions.store(),
        subscriptions.notices(),
        &delivery,
        failure,
    )
    .await?;
    let status = failure.status.map(|s| s.to_string()).unwrap_or_default();
    metrics::counter!("tidings_bounces_total", "class" => failure.class.as_str(), "from" => "report").increment(1);
    tracing::info!(list = %delivery.list_name, delivery_id, class = failure.class.as_str(), status = %status, ?outcome, "bounce processed");
    Ok(format!("{} {status}: {outcome:?}", failure.class.as_str()))
}

/// Counts a complaint for its list and unsubscribes the member it names, without a goodbye.
async fn complain(
    subscriptions: &Subscriptions,
    delivery_id: Option<i64>,
    complaint: &Complaint,
) -> Result<String> {
    let store = subscriptions.store();
    let Some((list, member_id)) = complainer(subscriptions, delivery_id, complaint).await? else {
        return Ok("a complaint that names no copy of ours: kept for the owners".into());
    };
    let member = match member_id {
        Some(id) => store.member(id).await?,
        None => None,
    };
    let address = member.as_ref().map(|m| m.address.as_str());
    let event = ComplaintEvent {
        list_name: &list,
        member: member_id.zip(address),
        domain: address.and_then(crate::address::domain_of).unwrap_or(""),
        feedback_type: &complaint.feedback_type,
    };
    let removed = store.record_complaint(&event).await?;
    tracing::info!(list = %list, member_id, feedback_type = %complaint.feedback_type, removed, "complaint counted");
    Ok(format!(
        "complaint ({}): {}",
        complaint.feedback_type,
        if removed {
            "member unsubscribed"
        } else {
            "no subscription to end"
        }
    ))
}

/// The list and member a complaint is about: the delivery named by the VERP address it came
/// to or by the original's envelope sender, or else the member named by the original's
/// List-Unsubscribe token. Tokens are signed: a forged report names no one.
async fn complainer(
    subscriptions: &Subscriptions,
    delivery_id: Option<i64>,
    complaint: &Complaint,
) -> Result<Option<(String, Option<i64>)>> {
    let (config, links) = (subscriptions.config(), subscriptions.links());
    let named = complaint
        .senders
        .iter()
        .filter_map(|sender| match links.route(sender, config) {
            Ok(Destination::Bounces {
                delivery_id: Some(id),
                ..
            }) => Some(id),
            _ => None,
        });
    for id in delivery_id.into_iter().chain(named) {
        if let Some(delivery) = subscriptions.store().bounced_delivery(id).await? {
            return Ok(Some((delivery.list_name, delivery.member_id)));
        }
    }
    Ok(complaint
        .unsubscribe
        .iter()
        .find_map(|target| links.unsubscribe_target(target, config))
        .map(|(list, member_id)| (list, Some(member_id))))
}

/// What a failure of one delivery does, whether a bounce reported it or the relay refused
/// the copy outright: it is logged for `tidings bounces`, a mailbox failure counts against
/// the member, and a policy rejection is reported to the owners.
pub async fn apply(
    config: &Config,
    store: &Store,
    notices: &Notices,
    delivery: &BouncedDelivery,
    failure: &Failure,
) -> Result<ScoreOutcome> {
    let domain = crate::address::domain_of(&delivery.recipient).unwrap_or("");
    let status = failure.status.map(|s| s.to_string()).unwrap_or_default();
    let event = BounceEvent {
        list_name: &delivery.list_name,
        member_id: delivery.member_id,
        domain,
        class: failure.class.as_str(),
        counts: failure.class.counts(),
        status: &status,
        detail: &failure.detail,
    };
    let rescore = |state, now| score::rescore(state, now, &config.bounces);
    let outcome = store.record_bounce(&event, &rescore).await?;
    if failure.class == BounceClass::Policy {
        if let Some(list) = config.list(&delivery.list_name) {
            report_policy_rejection(store, notices, list, domain, &status, &failure.detail).await?;
        }
    }
    Ok(outcome)
}

/// The failure about the delivery's recipient, or the only one reported.
fn pick<'a>(failures: &'a [Failure], recipient: &str) -> Option<&'a Failure> {
    failures
        .iter()
        .find(|f| {
            f.address
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(recipient))
        })
        .or_else(|| (failures.len() == 1).then(|| &failures[0]))
        .or_else(|| failures.iter().find(|f| f.class != BounceClass::Temporary))
}

/// Owners hear about policy rejections once a day per list and destination domain: the
/// problem is the list's reputation or configuration, and one notice says it.
async fn report_policy_rejection(
    store: &Store,
    notices: &Notices,
    list: &ListConfig,
    domain: &str,
    status: &str,
    detail: &str,
) -> Result<()> {
    let key = format!("{}:{domain}", list.name);
    if !store.rate_allow("deliverability", &key, 1, DAY_MS).await? {
        return Ok(());
    }
    let extra = json!({ "domain": domain, "status": status, "detail": detail });
    let notice = Notice::to_owners("deliverability", list, extra);
    Ok(notices.send(store, notice).await?)
}

/// Sends the re-enable notices that are due, and removes members whose last one went
/// unanswered. Each notice is counted and queued in one transaction that only the first of
/// several daemons gets to commit: every member hears once.
async fn reenable_reminders(subscriptions: &Subscriptions) -> Result<()> {
    let config = &subscriptions.config().bounces;
    let store = subscriptions.store();
    let interval = config.notice_interval_days as i64 * DAY_MS;
    for member in store.disabled_members_due(interval).await? {
        let Ok(list) = subscriptions.list(&member.list_name) else {
            continue;
        };
        if member.notices_sent >= config.reenable_notices as i64 {
            if store
                .remove_unanswered(&list.name, member.member_id, member.notices_sent)
                .await?
            {
                tracing::info!(list = %list.name, member_id = member.member_id, "member removed after unanswered re-enable notices");
            }
            continue;
        }
        let url = subscriptions
            .links()
            .reenable_url(&list.name, member.member_id);
        let notice = Notice {
            name: "bounce_disabled",
            list,
            language: &member.language,
            recipients: vec![member.address.clone()],
            address: &member.address,
            reply_to: None,
            automatic: Automatic::Generated,
            extra: json!({
                "reenable_url": url,
                "notice_number": member.notices_sent + 1,
                "notices_total": config.reenable_notices,
                "interval_days": config.notice_interval_days,
            }),
        };
        let ready = subscriptions.notices().prepare(&notice)?;
        let whom = (list.name.as_str(), member.member_id);
        if store
            .send_reenable_notice(whom, member.notices_sent, &ready)
            .await?
        {
            tracing::info!(list = %list.name, member_id = member.member_id, number = member.notices_sent + 1, "re-enable notice queued");
        }
    }
    Ok(())
}

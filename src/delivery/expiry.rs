//! Deliveries that ran out of retries: the list's owners are told once per posting, with
//! the last reply, so that they can tell the members concerned another way.

use mail_parser::MessageParser;
use serde_json::json;

use crate::config::Config;
use crate::notices::{Notice, NoticeError, Notices};
use crate::store::Store;

/// A subscriber's copy of a posting that expired, as the worker saw it.
pub struct Expired {
    pub list_name: String,
    pub message_id: i64,
    pub reply: String,
}

/// Queues the `delivery_expired` notice for each posting of `expired` whose owners were
/// not told yet. Mail to owners is not reported: it would go to the same owners.
pub async fn notify_owners(
    config: &Config,
    store: &Store,
    notices: &Notices,
    expired: &[Expired],
) -> Result<(), NoticeError> {
    let mut seen = Vec::new();
    for delivery in expired {
        if seen.contains(&delivery.message_id) {
            continue;
        }
        seen.push(delivery.message_id);
        let Some(list) = config.list(&delivery.list_name) else {
            continue;
        };
        if list.owners.is_empty() || !store.first_expiry_of(delivery.message_id).await? {
            continue;
        }
        let subject = store
            .decorated_message(delivery.message_id)
            .await?
            .and_then(|bytes| subject_of(&bytes))
            .unwrap_or_default();
        let notice = Notice::to_owners(
            "delivery_expired",
            list,
            json!({
                "subject": subject,
                "detail": delivery.reply,
                "lifetime_days": config.delivery.lifetime_seconds / 86_400,
            }),
        );
        notices.send(store, notice).await?;
        tracing::info!(list = %list.name, message_id = delivery.message_id, "owners told of expired deliveries");
    }
    Ok(())
}

fn subject_of(message: &[u8]) -> Option<String> {
    MessageParser::default()
        .parse_headers(message)
        .and_then(|parsed| parsed.subject().map(str::to_string))
}

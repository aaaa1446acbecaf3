//! The lists' archives: what each list said, kept as relayed to its members, to be read on
//! the web (publicly for public lists, by members only for confidential ones). Not the
//! archive of a publication's editions (`publications::archive`).
//!
//! - [`entry`]: a message as the archive keeps it: its key (from the Message-ID), its
//!   author, subject, date, the ids it answers and the words it is found by;
//! - [`words`]: the words of a text as both databases' full-text engines are given them,
//!   lowercased and with their accents taken off, and a search's words alike;
//! - [`subject`]: the subject a reply shares with what it answers;
//! - [`threads`]: a thread's messages in reading order, each with its depth;
//! - [`mbox`]: mbox files, read (Mailman's and Sympa's exports, mboxrd or mboxo) and written
//!   (mboxrd);
//! - [`html`]: a message's HTML part, cleaned to be shown without scripts or remote content;
//! - [`import`]: a past archive loaded from an mbox file, once per Message-ID;
//! - [`remove`]: an owner's removal of a message, recorded in the audit trail.
//!
//! Postings are archived by delivery, in the transaction that queues their copies.

pub mod entry;
pub mod html;
pub mod import;
pub mod mbox;
pub mod subject;
pub mod threads;
pub mod words;

use crate::store::{Actor, Audited, Store, StoreError};

/// Removes message `key` from `list`'s archive for `actor`, and records it in the audit
/// trail. Whether there was such a message.
pub async fn remove(
    store: &Store,
    actor: &Actor,
    list: &str,
    key: &str,
) -> Result<bool, StoreError> {
    if !store.remove_archived(list, key).await? {
        return Ok(false);
    }
    let event = Audited {
        action: "archive.remove",
        list_name: Some(list),
        object: Some(format!("archived message {key}")),
        ..Audited::default()
    };
    store.record_audit(actor, &event).await?;
    Ok(true)
}

/// `read` of the parsed message, `None` when parsing fails or panics: an archived message
/// is anyone's bytes, and mail-parser has had panics found by fuzzing. The closures passed
/// here only read, so nothing half-changed outlives a panic.
pub(crate) fn parsed<T>(raw: &[u8], read: impl FnOnce(&mail_parser::Message) -> T) -> Option<T> {
    let parse = std::panic::AssertUnwindSafe(|| {
        mail_parser::MessageParser::default()
            .parse(raw)
            .map(|m| read(&m))
    });
    std::panic::catch_unwind(parse).ok().flatten()
}

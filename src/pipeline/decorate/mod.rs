//! What a list adds to every posting: RFC 2369/2919 list headers, a subject
//! prefix and a footer, applied to the raw message so that everything the
//! poster wrote (including signed parts) reaches members byte-for-byte.

mod archive_headers;
mod footer;
mod from_rewrite;
mod list_headers;
mod subject_prefix;
mod untrusted_results;

use crate::links::{self, Role};
use crate::message::{ParseError, RawMessage};

pub struct ListDecoration<'a> {
    /// Local part, e.g. "team-gender".
    pub list_name: &'a str,
    /// E.g. "Gender issue team".
    pub display_name: &'a str,
    /// E.g. "lists.example.org".
    pub domain: &'a str,
    /// False for announce-only lists, which get `List-Post: NO`.
    pub posting_allowed_to_all_members: bool,
    /// E.g. "[team-gender]".
    pub subject_prefix: Option<&'a str>,
    /// Plain text, may be non-ASCII.
    pub footer: Option<&'a str>,
    /// Put before the footer on a confidential list's postings, in the list's language.
    pub confidentiality_notice: Option<&'a str>,
    /// Put after the footer, when there is one: where members manage their subscriptions
    /// (the console's account page, the same URL for everyone), in the list's language.
    pub account_line: Option<&'a str>,
    /// Send under the list's address: the author's domain has an enforcing DMARC policy.
    pub rewrite_from: bool,
    /// Front MTAs whose Authentication-Results headers are passed on.
    pub trusted_authserv_ids: &'a [String],
    /// The web address (`base_url`) the list's public archive is under: its copies then name
    /// the archive (`List-Archive`) and their own page in it (`Archived-At`). `None` for a
    /// confidential list, whose archive is for its members only and never named.
    pub public_archive: Option<&'a str>,
}

impl ListDecoration<'_> {
    fn address(&self, role: Role) -> String {
        links::address(self.list_name, role, self.domain)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecorateError {
    #[error("unparseable message: {0}")]
    Unparseable(#[from] ParseError),
}

/// Returns the message as the list sends it to members. `List-Unsubscribe`
/// is left to delivery, where it is specific to each recipient.
pub fn decorate(raw: &[u8], list: &ListDecoration) -> Result<Vec<u8>, DecorateError> {
    let mut msg = RawMessage::parse(raw)?;
    untrusted_results::apply(&mut msg, list.trusted_authserv_ids);
    list_headers::apply(&mut msg, list);
    ensure_message_id(&mut msg, raw, list);
    archive_headers::apply(&mut msg, list);
    if list.rewrite_from {
        from_rewrite::apply(&mut msg, list);
    }
    subject_prefix::apply(&mut msg, list.subject_prefix);
    let mut footer: Vec<&str> = [list.confidentiality_notice, list.footer]
        .into_iter()
        .flatten()
        .collect();
    // Only where the body is changed anyway: a posting without a footer keeps its body
    // byte for byte, and with it its author's DKIM signature.
    if !footer.is_empty() {
        footer.extend(list.account_line);
    }
    let footer = footer.join("\n\n");
    footer::apply(&mut msg, &footer);
    Ok(msg.to_bytes())
}

/// Derived from the content rather than random so that a retried delivery
/// of the same message gets the same id (duplicate suppression still works).
fn ensure_message_id(msg: &mut RawMessage, raw: &[u8], list: &ListDecoration) {
    let present = msg
        .get("Message-ID")
        .is_some_and(|id| !id.trim().is_empty());
    if present {
        return;
    }
    let id = format!(
        "<{:016x}.{:016x}@{}>",
        fnv1a64(raw, FNV_OFFSET),
        fnv1a64(raw, FNV_OFFSET_ALT),
        list.domain
    );
    msg.replace("Message-ID", &id);
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// A second basis gives an independent-enough 64 bits for a 128-bit id.
const FNV_OFFSET_ALT: u64 = 0x84222325_cbf29ce4;

pub(crate) fn fnv1a64(bytes: &[u8], basis: u64) -> u64 {
    bytes.iter().fold(basis, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;

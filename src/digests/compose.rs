//! A digest as a message: multipart/mixed of a text/plain table of contents (after RFC
//! 1153) and a multipart/digest (RFC 2046 5.1.5) of the postings as message/rfc822, with
//! the list's own header fields. The text part is quoted-printable so that delivery can
//! put each member's own unsubscribe link in place of the placeholder.

use crate::config::{ListConfig, PostingPolicy};
use crate::links::{self, Role};
use crate::message::{MessageBuilder, Part, RawMessage, TransferEncoding};

/// The header fields of a posting a digest keeps: what a reader needs to read it and to
/// answer it. Trace fields, signatures, ARC sets and the list fields of the single copy
/// are no part of it in a digest.
const KEPT_FIELDS: [&str; 10] = [
    "Date",
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
];

/// A posting as a digest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub subject: String,
    /// The author's display name, or their address without one.
    pub author: String,
}

/// The subject and author of a posting, on one line each, for the table of contents.
pub fn topic(raw: &[u8]) -> Topic {
    // Cap what is parsed: a digest entry is a posting the list already took, but the table
    // of contents needs its header only.
    let head = &raw[..raw.len().min(64 * 1024)];
    let parsed = std::panic::catch_unwind(|| {
        let message = mail_parser::MessageParser::default().parse_headers(head)?;
        let subject = message.subject().unwrap_or_default().to_owned();
        let from = message.from().and_then(|from| from.first());
        let author = from
            .and_then(|f| f.name().map(str::to_owned))
            .filter(|name| !name.trim().is_empty())
            .or_else(|| from.and_then(|f| f.address().map(str::to_owned)))
            .unwrap_or_default();
        Some((subject, author))
    });
    let (subject, author) = parsed.ok().flatten().unwrap_or_default();
    Topic {
        subject: one_line(&subject),
        author: one_line(&author),
    }
}

/// The posting as it goes into the digest: only the [`KEPT_FIELDS`] and the MIME fields
/// of its header, its body as relayed.
pub fn trimmed(raw: &[u8]) -> Vec<u8> {
    match RawMessage::parse(raw) {
        Ok(mut message) => {
            message.remove_if(|field| {
                let name = field.name();
                !(KEPT_FIELDS
                    .iter()
                    .any(|kept| kept.eq_ignore_ascii_case(name))
                    || name.to_ascii_lowercase().starts_with("content-"))
            });
            message.to_bytes()
        }
        // The list relayed it as it is: the digest carries it as it is.
        Err(_) => raw.to_vec(),
    }
}

/// What a digest message is about, beyond its text.
pub struct DigestHeader<'a> {
    pub list: &'a ListConfig,
    pub domain: &'a str,
    pub language: &'a str,
    pub subject: &'a str,
    /// Unique per list and period, e.g. `digest.daily.1893456000000.fr`.
    pub message_key: &'a str,
    pub date_ms: i64,
}

/// The digest message: `text` (the table of contents, with the unsubscribe placeholder),
/// then the postings.
pub fn digest_message(header: &DigestHeader, text: &str, postings: Vec<Vec<u8>>) -> Vec<u8> {
    let list = header.list;
    let own = |role: Role| links::address(&list.name, role, header.domain);
    let date = chrono::DateTime::from_timestamp_millis(header.date_ms).unwrap_or_default();
    let members_post = list.posting != PostingPolicy::Announce;
    let mut message = MessageBuilder::new();
    message
        // Mailman's choice: from the request address, so that an answer to the digest as a
        // whole reaches no one's inbox by mistake; replies go where a posting's would.
        .address("From", &list.display_name, &own(Role::Request))
        .field("To", &own(Role::Post))
        .field(
            "Reply-To",
            &own(if members_post {
                Role::Post
            } else {
                Role::Owner
            }),
        )
        .field("Subject", header.subject)
        .date(date)
        .message_id(
            &format!("{}.{}", header.message_key, list.name),
            header.domain,
        )
        .address(
            "List-Id",
            &list.display_name,
            &links::list_id(&list.name, header.domain),
        )
        .field(
            "List-Post",
            &if members_post {
                format!("<mailto:{}>", own(Role::Post))
            } else {
                "NO".to_owned()
            },
        )
        .field(
            "List-Help",
            &format!("<mailto:{}?subject=help>", own(Role::Request)),
        )
        .field("List-Subscribe", &format!("<mailto:{}>", own(Role::Join)))
        .field("List-Owner", &format!("<mailto:{}>", own(Role::Owner)))
        .field("Precedence", "list")
        .field("Content-Language", header.language);
    let contents = Part::text("plain", text, TransferEncoding::QuotedPrintable);
    message.finish(&Part::mixed(vec![contents, Part::digest(postings)]))
}

/// Control characters (line breaks included) become spaces, runs of spaces one.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_the_decoded_subject_and_the_authors_name() {
        let raw = b"From: =?utf-8?q?Am=C3=A9lie?= <amelie@ngo.example>\r\n\
                    Subject: =?utf-8?q?R=C3=A9union?=\r\n\tdu lundi\r\n\r\nbody\r\n";
        assert_eq!(
            topic(raw),
            Topic {
                subject: "Réunion du lundi".into(),
                author: "Amélie".into()
            }
        );
        let bare = b"From: ben@ngo.example\r\n\r\nbody\r\n";
        assert_eq!(
            topic(bare),
            Topic {
                subject: String::new(),
                author: "ben@ngo.example".into()
            }
        );
    }

    #[test]
    fn a_trimmed_posting_keeps_what_readers_need() {
        let raw = b"Received: by lists.example.org with ESMTP id 1\r\n\
                    ARC-Seal: i=1; cv=none\r\nDKIM-Signature: v=1\r\n\
                    From: a@ngo.example\r\nSubject: Hi\r\nList-Id: <x>\r\n\
                    Content-Type: text/plain\r\n\r\nbody\r\n";
        let trimmed = String::from_utf8(trimmed(raw)).expect("ASCII");
        assert_eq!(
            trimmed,
            "From: a@ngo.example\r\nSubject: Hi\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        );
    }
}

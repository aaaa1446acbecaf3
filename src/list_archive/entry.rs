//! A message as the archive keeps it, read from its bytes: the key its URL names it by (from
//! its Message-ID), the ids it answers, its author, subject and date, and the words it is
//! found by.

use mail_parser::Message;

use super::{parsed, subject, words};
use crate::links::{archive_key, normal_message_id};
use crate::store::NewArchived;

/// The most of a message's text that is indexed for search, in bytes of words.
const INDEXED_TEXT: usize = 64 * 1024;

/// When a message was posted, for its entry.
#[derive(Debug, Clone, Copy)]
pub enum Posted {
    /// When tidings received it: a posting to the list.
    ReceivedAt(i64),
    /// Its Date field, else `fallback` (an imported message: its mbox `From ` line's date,
    /// or the time of the import).
    Dated { fallback: i64 },
}

/// The archive's entry for `raw` in `list`, or `None` when it cannot be read as a message.
/// A message without a Message-ID is given one from its bytes, so that the same message
/// imported twice is the same entry.
pub fn entry(list: &str, raw: &[u8], posted: Posted) -> Option<NewArchived> {
    parsed(raw, |message| read(list, raw, message, posted))
}

fn read(list: &str, raw: &[u8], message: &Message, posted: Posted) -> NewArchived {
    let message_id = message
        .header_raw("Message-ID")
        .map(normal_message_id)
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| made_up_id(raw));
    let in_reply_to = message
        .header_raw("In-Reply-To")
        .and_then(|field| ids(field).into_iter().next());
    let references = message
        .header_raw("References")
        .map(ids)
        .unwrap_or_default();
    let subject_text = message.subject().unwrap_or_default().trim().to_owned();
    let (thread_subject, subject_is_reply) = subject::thread_subject(&subject_text);
    let (author_name, author_address) = author(message);
    let posted_at = match posted {
        Posted::ReceivedAt(at) => at,
        Posted::Dated { fallback } => message
            .date()
            .map(|date| date.to_timestamp() * 1000)
            .filter(|at| *at > 0)
            .unwrap_or(fallback),
    };
    let text = message.body_text(0).unwrap_or_default();
    NewArchived {
        list_name: list.to_owned(),
        message_key: archive_key(&message_id),
        message_id,
        in_reply_to,
        references,
        search_subject: words::indexed(&subject_text, INDEXED_TEXT),
        search_author: words::indexed(&format!("{author_name} {author_address}"), INDEXED_TEXT),
        search_body: words::indexed(&text, INDEXED_TEXT),
        subject: subject_text,
        thread_subject,
        subject_is_reply,
        author_name,
        author_address,
        posted_at,
        raw: raw.to_vec(),
    }
}

/// The ids between angle brackets in a field, in order.
fn ids(field: &str) -> Vec<String> {
    field
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>'))
        .map(|(id, _)| normal_message_id(id))
        .filter(|id| !id.is_empty())
        .collect()
}

/// The first From address: its name (decoded) and address, lowercased.
fn author(message: &Message) -> (String, String) {
    let first = message.from().and_then(|from| from.first());
    let name = first
        .and_then(|a| a.name())
        .map(|n| n.trim().trim_matches('"').to_owned())
        .unwrap_or_default();
    let address = first
        .and_then(|a| a.address())
        .map(|a| a.trim().to_lowercase())
        .unwrap_or_default();
    // Mailman 2's public archives write addresses as `ana at ngo.example`.
    let address = match address.split_once(" at ") {
        Some((local, domain)) if !address.contains('@') => format!("{local}@{domain}"),
        _ => address,
    };
    (name, address)
}

/// An id for a message that has none: from its bytes, so that it is the same at every import.
fn made_up_id(raw: &[u8]) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(raw);
    format!(
        "{}@archive.invalid",
        data_encoding::HEXLOWER.encode(&hash[..16])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &[u8] = b"From: =?utf-8?q?Jos=C3=A9?= <Jose@NGO.example>\r\n\
To: team@lists.example\r\nSubject: Re: [Team] Agenda\r\n\
Message-ID: <reply-1@ngo.example>\r\nIn-Reply-To: <first@ngo.example>\r\n\
References: <zero@ngo.example>\r\n <first@ngo.example>\r\n\
Date: Tue, 3 Mar 2026 10:00:00 +0000\r\n\r\nLa r\xc3\xa9union est confirm\xc3\xa9e.\r\n";

    #[test]
    fn an_entry_names_what_it_answers() {
        let entry = entry("team", REPLY, Posted::Dated { fallback: 0 }).expect("entry");
        assert_eq!(entry.message_id, "reply-1@ngo.example");
        assert_eq!(entry.message_key, archive_key("<reply-1@ngo.example>"));
        assert_eq!(entry.in_reply_to.as_deref(), Some("first@ngo.example"));
        assert_eq!(entry.references, ["zero@ngo.example", "first@ngo.example"]);
        assert_eq!(entry.thread_subject, "agenda");
        assert!(entry.subject_is_reply);
        assert_eq!(entry.author_name, "José");
        assert_eq!(entry.author_address, "jose@ngo.example");
        assert_eq!(entry.posted_at, 1_772_532_000_000);
        assert_eq!(entry.search_body, "la reunion est confirmee");
        assert_eq!(entry.search_author, "jose jose ngo example");
    }

    #[test]
    fn a_message_without_an_id_gets_the_same_one_each_time() {
        let raw = b"From: a@b.example\r\nSubject: Hi\r\n\r\nText\r\n";
        let first = entry("l", raw, Posted::ReceivedAt(5)).expect("entry");
        let again = entry("l", raw, Posted::ReceivedAt(6)).expect("entry");
        assert_eq!(first.message_key, again.message_key);
        assert!(first.message_id.ends_with("@archive.invalid"));
        assert_eq!(first.posted_at, 5);
    }
}

//! An edition as a message, and the preview editors get of it: the publication's own
//! header fields (who it is from, the list fields of RFC 2369 and RFC 2919), built with
//! [`crate::message::MessageBuilder`]. Parts are quoted-printable, which keeps the
//! unsubscribe placeholder whole for delivery to replace per recipient.

use crate::links::{self, archive_url, Role};
use crate::message::{MessageBuilder, Part, TransferEncoding};

const ENCODING: TransferEncoding = TransferEncoding::QuotedPrintable;

/// Who an edition message is from and what it belongs to.
pub struct Masthead<'a> {
    pub publication: &'a str,
    pub title: &'a str,
    pub domain: &'a str,
    pub base_url: &'a str,
    /// Unique per message, e.g. `edition.12.fr`.
    pub message_key: &'a str,
    pub date_ms: i64,
}

/// One language of an edition, as subscribers get it (before personalisation).
pub fn edition_message(
    masthead: &Masthead,
    language: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> Vec<u8> {
    let mut message = MessageBuilder::new();
    message
        .address("From", masthead.title, &own(masthead, Role::Post))
        // Readers' replies reach the editors; the publication's own address takes no mail.
        .field("Reply-To", &own(masthead, Role::Owner))
        .field("To", &own(masthead, Role::Post))
        .field("Subject", subject);
    common_fields(&mut message, masthead);
    message
        .field("Precedence", "list")
        .field("Content-Language", language);
    message.finish(&Part::alternative(text, html, ENCODING))
}

/// The message editors receive to check an edition: their instructions, then every
/// language of the edition as subscribers will see it.
pub fn preview_message(
    masthead: &Masthead,
    (to, reply_to): (&str, &str),
    (subject, instructions): (&str, &str),
    languages: &[(&str, &str, &str)],
) -> Vec<u8> {
    let mut message = MessageBuilder::new();
    message
        .address("From", masthead.title, &own(masthead, Role::Owner))
        .field("To", to)
        .field("Reply-To", reply_to)
        .field("Subject", subject);
    common_fields(&mut message, masthead);
    message.field("Auto-Submitted", "auto-generated");
    let mut parts = vec![Part::text("plain", instructions, ENCODING)];
    parts.extend(languages.iter().map(|(language, text, html)| {
        Part::alternative(text, html, ENCODING).field("Content-Language", language)
    }));
    message.finish(&Part::mixed(parts))
}

/// Date, Message-ID and the list fields of RFC 2369 and RFC 2919.
fn common_fields(message: &mut MessageBuilder, masthead: &Masthead) {
    let date = chrono::DateTime::from_timestamp_millis(masthead.date_ms).unwrap_or_default();
    // The key numbers an edition within this database, which starts again at 1 after a
    // reset; the time (and the builder's random bits) keep readers' programs from taking a
    // new edition for one they have.
    let id_left = format!(
        "{}.{}.{:x}",
        masthead.message_key,
        masthead.publication,
        masthead.date_ms.max(0)
    );
    message
        .date(date)
        .message_id(&id_left, masthead.domain)
        .address(
            "List-Id",
            masthead.title,
            &links::list_id(masthead.publication, masthead.domain),
        )
        .field("List-Post", "NO")
        .field(
            "List-Help",
            &format!("<mailto:{}?subject=help>", own(masthead, Role::Request)),
        )
        .field(
            "List-Subscribe",
            &format!("<mailto:{}>", own(masthead, Role::Join)),
        )
        .field(
            "List-Owner",
            &format!("<mailto:{}>", own(masthead, Role::Owner)),
        )
        .field(
            "List-Archive",
            &format!("<{}>", archive_url(masthead.base_url, masthead.publication)),
        );
}

/// The publication's address of `role`.
fn own(masthead: &Masthead, role: Role) -> String {
    links::address(masthead.publication, role, masthead.domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_edition_built_twice_gets_two_message_ids() {
        let masthead = Masthead {
            publication: "bulletin",
            title: "The Bulletin",
            domain: "lists.example.org",
            base_url: "https://lists.example.org",
            message_key: "edition.1.en",
            date_ms: 1_800_000_000_000,
        };
        // What a database reset gives: the same number, language and time.
        let ids: Vec<String> = (0..2)
            .map(|_| {
                let message = edition_message(&masthead, "en", "News", "text", "<p>html</p>");
                let text = String::from_utf8(message).expect("utf-8");
                let line = text.lines().find(|l| l.starts_with("Message-ID: "));
                line.expect("Message-ID").to_owned()
            })
            .collect();
        assert_ne!(ids[0], ids[1]);
        for id in &ids {
            assert!(
                id.starts_with("Message-ID: <edition.1.en.bulletin.1a3185c5000.")
                    && id.ends_with("@lists.example.org>"),
                "{id}"
            );
        }
    }
}

//! Building the messages tidings writes itself (notices, editions, previews to editors):
//! header fields, then a MIME tree of UTF-8 text parts in multipart/alternative and
//! multipart/mixed containers.
//!
//! Our own module rather than a crate. mail-builder is in the tree (mail-auth builds it),
//! but it picks each part's transfer encoding from the content, and an edition needs
//! quoted-printable laid out so that [`UNSUBSCRIBE_PLACEHOLDER`] stays whole on a line of
//! its own: delivery swaps each recipient's link in with a byte-level replacement. And
//! every header field here goes through [`header_field`] and [`address_field`], whose
//! folding, RFC 2047 encoding and refusal of line breaks from untrusted values are the
//! ones the lists' own header editing uses and tests. What is left (boundaries, parts,
//! two encodings) is short.
//!
//! [`UNSUBSCRIBE_PLACEHOLDER`]: super::UNSUBSCRIBE_PLACEHOLDER

use chrono::{DateTime, Utc};

use super::build::{address_field, header_field};
use super::encode::{base64_lines, quoted_printable};

/// How a text part's bytes are carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// Survives any relay whatever the language or line length.
    Base64,
    /// Readable as it is, and lets the unsubscribe placeholder through whole.
    QuotedPrintable,
}

impl TransferEncoding {
    fn name(self) -> &'static str {
        match self {
            TransferEncoding::Base64 => "base64",
            TransferEncoding::QuotedPrintable => "quoted-printable",
        }
    }

    fn encode(self, text: &str) -> String {
        match self {
            TransferEncoding::Base64 => base64_lines(text),
            TransferEncoding::QuotedPrintable => quoted_printable(text),
        }
    }
}

/// A MIME entity: header fields of its own, then text or other entities.
#[derive(Debug, Clone)]
pub struct Part {
    /// Built fields other than Content-Type and Content-Transfer-Encoding.
    fields: Vec<u8>,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    Text {
        /// `plain` or `html`.
        subtype: &'static str,
        encoding: TransferEncoding,
        content: String,
    },
    Multipart {
        /// `alternative`, `mixed` or `digest`.
        subtype: &'static str,
        parts: Vec<Part>,
    },
    /// A whole message as it is (`message/rfc822`), e.g. a posting in a digest.
    Message(Vec<u8>),
}

impl Part {
    /// A `text/SUBTYPE; charset=utf-8` part; line ends become CRLF.
    pub fn text(subtype: &'static str, content: &str, encoding: TransferEncoding) -> Part {
        Part {
            fields: Vec::new(),
            body: Body::Text {
                subtype,
                encoding,
                content: content.to_owned(),
            },
        }
    }

    /// The same content as plain text and as HTML, for the reader's program to choose.
    pub fn alternative(text: &str, html: &str, encoding: TransferEncoding) -> Part {
        Part::multipart(
            "alternative",
            vec![
                Part::text("plain", text, encoding),
                Part::text("html", html, encoding),
            ],
        )
    }

    /// Parts shown one after the other.
    pub fn mixed(parts: Vec<Part>) -> Part {
        Part::multipart("mixed", parts)
    }

    /// Messages one after the other, as in a digest (RFC 2046 5.1.5).
    pub fn digest(messages: Vec<Vec<u8>>) -> Part {
        let parts = messages
            .into_iter()
            .map(|raw| Part {
                fields: Vec::new(),
                body: Body::Message(raw),
            })
            .collect();
        Part::multipart("digest", parts)
    }

    fn multipart(subtype: &'static str, parts: Vec<Part>) -> Part {
        Part {
            fields: Vec::new(),
            body: Body::Multipart { subtype, parts },
        }
    }

    /// Adds a field of the part's own, e.g. its Content-Language.
    pub fn field(mut self, name: &str, value: &str) -> Part {
        self.fields.extend(header_field(name, value));
        self
    }

    /// The part's fields and content. A delimiter owns the CRLF before it (RFC 2046
    /// 5.1.1), so the content ends without one of its own.
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.fields);
        match &self.body {
            Body::Text {
                subtype,
                encoding,
                content,
            } => {
                let content_type = format!("text/{subtype}; charset=utf-8");
                out.extend(header_field("Content-Type", &content_type));
                out.extend(header_field("Content-Transfer-Encoding", encoding.name()));
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(encoding.encode(content).as_bytes());
            }
            Body::Message(raw) => {
                out.extend(header_field("Content-Type", "message/rfc822"));
                // A message/rfc822 part cannot be encoded (RFC 2046 5.2.1): 8bit says what
                // it carries when it is not plain ASCII.
                if !raw.is_ascii() {
                    out.extend(header_field("Content-Transfer-Encoding", "8bit"));
                }
                out.extend_from_slice(b"\r\n");
                // The delimiter that follows owns the last line end.
                out.extend_from_slice(raw.strip_suffix(b"\r\n").unwrap_or(raw));
            }
            Body::Multipart { subtype, parts } => {
                let boundary = boundary();
                let content_type = format!("multipart/{subtype}; boundary=\"{boundary}\"");
                out.extend(header_field("Content-Type", &content_type));
                for part in parts {
                    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
                    part.write(out);
                }
                out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            }
        }
    }
}

/// `=_` can occur in neither quoted-printable nor base64 text, so no content line can be
/// taken for a delimiter; the random part keeps nested multiparts apart.
fn boundary() -> String {
    format!("=_tidings_{:016x}", rand::random::<u64>())
}

/// A Message-ID (RFC 5322 3.6.4) `<LEFT.RANDOM@DOMAIN>`: the 64 random bits keep it from
/// being given twice even when `left` repeats, as an edition number does after a database
/// reset.
pub fn message_id(left: &str, domain: &str) -> String {
    format!("<{left}.{:016x}@{domain}>", rand::random::<u64>())
}

/// A message's header fields in the order they are added, then its body.
#[derive(Debug, Default)]
pub struct MessageBuilder {
    head: Vec<u8>,
}

impl MessageBuilder {
    pub fn new() -> MessageBuilder {
        MessageBuilder::default()
    }

    /// `Name: value`, folded, encoded where not ASCII, line breaks dropped.
    pub fn field(&mut self, name: &str, value: &str) -> &mut MessageBuilder {
        self.head.extend(header_field(name, value));
        self
    }

    /// `Name: phrase <addr>`.
    pub fn address(&mut self, name: &str, display_name: &str, addr: &str) -> &mut MessageBuilder {
        self.head.extend(address_field(name, display_name, addr));
        self
    }

    pub fn date(&mut self, at: DateTime<Utc>) -> &mut MessageBuilder {
        self.field("Date", &at.to_rfc2822())
    }

    /// A new [`message_id`]. It is made once, when the message is built and stored, so a
    /// copy sent again after a failure keeps it.
    pub fn message_id(&mut self, left: &str, domain: &str) -> &mut MessageBuilder {
        self.field("Message-ID", &message_id(left, domain))
    }

    /// The whole message: the fields added, MIME-Version, then `body` with its own.
    pub fn finish(&self, body: &Part) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + 4096);
        out.extend_from_slice(&self.head);
        out.extend(header_field("MIME-Version", "1.0"));
        body.write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(raw)
            .expect("parses")
    }

    #[test]
    fn an_alternative_reads_back_in_both_encodings() {
        let text = "Bonjour à tous,\nune ligne\n";
        let html = "<p>Bonjour à tous</p>\n";
        for encoding in [TransferEncoding::Base64, TransferEncoding::QuotedPrintable] {
            let mut builder = MessageBuilder::new();
            builder
                .address("From", "Équipe", "team@example.org")
                .field("Subject", "Réunion")
                .message_id("notice", "example.org");
            let raw = builder
                .finish(&Part::alternative(text, html, encoding).field("Content-Language", "fr"));
            let message = parse(&raw);
            assert_eq!(message.subject(), Some("Réunion"));
            assert_eq!(
                message.body_text(0).as_deref(),
                Some(text.replace('\n', "\r\n").as_str())
            );
            assert_eq!(
                message.body_html(0).as_deref(),
                Some(html.replace('\n', "\r\n").as_str())
            );
            let raw = String::from_utf8(raw).expect("ASCII");
            assert!(raw.contains(&format!("Content-Transfer-Encoding: {}", encoding.name())));
            assert!(raw.lines().all(|l| l.len() <= 76), "{raw}");
        }
    }

    #[test]
    fn nested_multiparts_have_their_own_boundaries() {
        let body = Part::mixed(vec![
            Part::text("plain", "instructions", TransferEncoding::QuotedPrintable),
            Part::alternative("one", "<p>one</p>", TransferEncoding::QuotedPrintable)
                .field("Content-Language", "en"),
        ]);
        let raw = MessageBuilder::new().finish(&body);
        let message = parse(&raw);
        assert_eq!(message.parts.len(), 5);
        let text = String::from_utf8(raw).expect("ASCII");
        let boundaries: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("--"))
            .filter(|l| !l.ends_with("--"))
            .collect();
        assert_eq!(boundaries.len(), 4);
        assert_eq!(boundaries[0], boundaries[1]);
        assert_ne!(boundaries[1], boundaries[2]);
    }

    #[test]
    fn a_digest_carries_whole_messages() {
        let first = b"From: a@example.org\r\nSubject: One\r\n\r\nfirst body\r\n".to_vec();
        let second = "From: b@example.org\r\nSubject: Deux\r\n\r\ndeuxième\r\n"
            .as_bytes()
            .to_vec();
        let body = Part::mixed(vec![
            Part::text("plain", "contents", TransferEncoding::QuotedPrintable),
            Part::digest(vec![first, second]),
        ]);
        let raw = MessageBuilder::new().finish(&body);
        let message = parse(&raw);
        let inner: Vec<String> = message
            .attachments()
            .filter_map(|part| part.message())
            .map(|m| {
                format!(
                    "{}|{}",
                    m.subject().unwrap_or(""),
                    m.body_text(0).unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(inner, ["One|first body", "Deux|deuxième"]);
        let text = String::from_utf8(raw).expect("UTF-8");
        assert!(text.contains("Content-Type: multipart/digest;"), "{text}");
        assert_eq!(text.matches("Content-Type: message/rfc822").count(), 2);
        assert_eq!(text.matches("Content-Transfer-Encoding: 8bit").count(), 1);
    }

    #[test]
    fn message_ids_differ_for_the_same_left_part() {
        let id = message_id("edition.1.en", "example.org");
        assert!(
            id.starts_with("<edition.1.en.") && id.ends_with("@example.org>"),
            "{id}"
        );
        assert_ne!(id, message_id("edition.1.en", "example.org"));
    }
}

//! The leaf MIME parts of a message, as a list's attachment policy judges them.
//!
//! Containers are not judged themselves: multipart parts are walked, and so are forwarded
//! messages (message/rfc822 and message/global), so that a forwarded message cannot carry in
//! an attachment the list would refuse on its own.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// One leaf part: a body text, an attachment or an inline image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `type/subtype`, lowercased; `text/plain` when the part does not say.
    pub content_type: String,
    /// Decoded size in bytes: the size of the file the sender attached.
    pub size: usize,
    /// The file name the sender gave, if any.
    pub file_name: Option<String>,
    /// Text meant to be read in the message itself, not a file attached to it.
    pub body_text: bool,
}

/// Every leaf part of `raw`, outer message first, in order.
pub fn read(raw: &[u8]) -> Vec<Part> {
    let mut parts = Vec::new();
    if let Some(message) = MessageParser::default().parse(raw) {
        collect(&message, &mut parts);
    }
    parts
}

fn collect(message: &Message, parts: &mut Vec<Part>) {
    for part in &message.parts {
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Message(nested) => collect(nested, parts),
            PartType::Text(_)
            | PartType::Html(_)
            | PartType::Binary(_)
            | PartType::InlineBinary(_) => parts.push(leaf(part)),
        }
    }
}

fn leaf(part: &mail_parser::MessagePart) -> Part {
    let content_type = part
        .content_type()
        .map(|ct| match ct.subtype() {
            Some(subtype) => format!("{}/{subtype}", ct.ctype()),
            None => ct.ctype().to_string(),
        })
        .unwrap_or_else(|| "text/plain".into())
        .to_ascii_lowercase();
    let file_name = part.attachment_name().map(str::to_string);
    let marked_attachment = part
        .content_disposition()
        .is_some_and(|disposition| disposition.is_attachment());
    Part {
        body_text: content_type.starts_with("text/") && !marked_attachment && file_name.is_none(),
        content_type,
        size: part.len(),
        file_name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(parts: &[Part]) -> Vec<(&str, bool)> {
        parts
            .iter()
            .map(|p| (p.content_type.as_str(), p.body_text))
            .collect()
    }

    #[test]
    fn a_plain_message_is_one_body_text() {
        let parts = read(b"From: a@ngo.example\r\nSubject: hi\r\n\r\nHello\r\n");
        assert_eq!(summary(&parts), [("text/plain", true)]);
    }

    #[test]
    fn alternatives_are_body_text_and_attachments_are_not() {
        let raw = b"From: a@ngo.example\r\n\
            Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
            --m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
            --a\r\nContent-Type: text/plain\r\n\r\nHello\r\n\
            --a\r\nContent-Type: text/html\r\n\r\n<p>Hello</p>\r\n\
            --a--\r\n\
            --m\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
            Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n\
            --m\r\nContent-Type: text/csv\r\nContent-Disposition: attachment\r\n\r\na,b\r\n\
            --m--\r\n";
        let parts = read(raw);
        assert_eq!(
            summary(&parts),
            [
                ("text/plain", true),
                ("text/html", true),
                ("application/pdf", false),
                ("text/csv", false)
            ]
        );
        assert_eq!(parts[2].size, 9, "decoded size of %PDF-1.4\\n");
        assert_eq!(parts[2].file_name.as_deref(), Some("report.pdf"));
    }

    #[test]
    fn forwarded_messages_are_walked() {
        let raw = b"From: a@ngo.example\r\n\
            Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
            --m\r\nContent-Type: text/plain\r\n\r\nSee below\r\n\
            --m\r\nContent-Type: message/rfc822\r\n\r\n\
            From: b@ngo.example\r\nContent-Type: multipart/mixed; boundary=\"n\"\r\n\r\n\
            --n\r\nContent-Type: text/plain\r\n\r\nOriginal\r\n\
            --n\r\nContent-Type: application/zip; name=\"x.zip\"\r\n\r\nPK\r\n\
            --n--\r\n\
            --m--\r\n";
        let parts = read(raw);
        assert_eq!(
            summary(&parts),
            [
                ("text/plain", true),
                ("text/plain", true),
                ("application/zip", false)
            ]
        );
    }
}

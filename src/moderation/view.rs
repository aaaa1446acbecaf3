//! A held posting as a moderator reads it in the web console: its header, its text, its
//! HTML part apart (to be shown only in a sandbox), and its attachments by number. Parsing
//! is wrapped in `catch_unwind`, as for the notices: a posting is anyone's bytes.

use mail_parser::{Address, Message, MessageParser, MimeHeaders};

/// An attachment as the posting's page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the sender gave it, or empty.
    pub name: String,
    pub content_type: String,
    pub size: usize,
}

/// What a moderator is shown of a held posting.
#[derive(Debug, Clone, Default)]
pub struct Shown {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub text: String,
    /// Whether it has an HTML part, which [`html`] gives.
    pub has_html: bool,
    pub attachments: Vec<Attachment>,
}

/// `read` of the parsed message, `None` when parsing (or reading) fails or panics. The
/// closures passed here only read and return what they built, so nothing half-changed
/// outlives a panic: asserting unwind safety is sound.
fn parse<T>(raw: &[u8], read: impl FnOnce(&Message) -> T) -> Option<T> {
    let parse =
        std::panic::AssertUnwindSafe(|| MessageParser::default().parse(raw).map(|m| read(&m)));
    std::panic::catch_unwind(parse).ok().flatten()
}

fn addresses(address: Option<&Address>) -> String {
    address
        .map(|a| {
            a.iter()
                .map(|addr| match (addr.name(), addr.address()) {
                    (Some(name), Some(address)) => format!("{name} <{address}>"),
                    (None, Some(address)) => address.to_owned(),
                    (Some(name), None) => name.to_owned(),
                    (None, None) => String::new(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Author (From, else the envelope sender) and subject of a posting's first bytes.
pub fn headline(head: &[u8], envelope_from: &str) -> (String, String) {
    parse(head, |m| {
        let author = m
            .from()
            .and_then(|from| from.first())
            .and_then(|a| a.address())
            .and_then(|a| crate::address::normalize(a).ok())
            .unwrap_or_else(|| envelope_from.to_owned());
        (author, m.subject().unwrap_or_default().to_owned())
    })
    .unwrap_or_else(|| (envelope_from.to_owned(), String::new()))
}

/// The posting's header, text and attachments; `None` when it cannot be parsed.
pub fn show(raw: &[u8]) -> Option<Shown> {
    parse(raw, |m| Shown {
        from: addresses(m.from()),
        to: addresses(m.to()),
        subject: m.subject().unwrap_or_default().to_owned(),
        date: m.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        text: m.body_text(0).unwrap_or_default().into_owned(),
        has_html: html_of(m).is_some(),
        attachments: m
            .attachments()
            .map(|part| Attachment {
                name: part.attachment_name().unwrap_or_default().to_owned(),
                content_type: part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(sub) => format!("{}/{sub}", ct.ctype()),
                        None => ct.ctype().to_owned(),
                    })
                    .unwrap_or_else(|| "application/octet-stream".into()),
                size: part.contents().len(),
            })
            .collect(),
    })
}

/// Only a part that is HTML: mail-parser would otherwise make HTML of the text part.
fn html_of(message: &Message) -> Option<String> {
    let part = message.html_part(0).filter(|p| p.is_text_html())?;
    part.text_contents().map(str::to_owned)
}

/// The posting's HTML part, when it has one.
pub fn html(raw: &[u8]) -> Option<String> {
    parse(raw, html_of).flatten()
}

/// Attachment number `n` (from 0): the name the sender gave it, and its decoded bytes.
pub fn attachment(raw: &[u8], n: usize) -> Option<(String, Vec<u8>)> {
    parse(raw, |m| {
        let part = m.attachments().nth(n)?;
        let name = part.attachment_name().unwrap_or_default().to_owned();
        Some((name, part.contents().to_vec()))
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTING: &[u8] = b"From: Ana <ana@ngo.example>\r\nTo: forum@lists.example\r\n\
Subject: Plans\r\nDate: Fri, 4 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nHello <script>x</script>\r\n--b2\r\n\
Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello</p>\r\n--b2--\r\n--b1\r\n\
Content-Type: application/pdf; name=\"plan.pdf\"\r\n\
Content-Disposition: attachment; filename=\"plan.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n--b1--\r\n";

    #[test]
    fn a_posting_is_shown_in_parts() {
        let shown = show(POSTING).expect("parsed");
        assert_eq!(shown.from, "Ana <ana@ngo.example>");
        assert_eq!(shown.subject, "Plans");
        assert!(
            shown.text.contains("<script>"),
            "text is raw; pages escape it"
        );
        assert!(shown.has_html);
        assert_eq!(
            shown.attachments,
            vec![Attachment {
                name: "plan.pdf".into(),
                content_type: "application/pdf".into(),
                size: 6,
            }]
        );
        assert_eq!(
            html(POSTING).as_deref().map(str::trim),
            Some("<p>Hello</p>")
        );
        assert_eq!(
            attachment(POSTING, 0),
            Some(("plan.pdf".into(), b"%PDF-1".to_vec()))
        );
        assert_eq!(attachment(POSTING, 1), None);
    }

    #[test]
    fn plain_text_has_no_html_part() {
        let plain = b"From: a@b.example\r\nSubject: Hi\r\n\r\nJust text\r\n";
        assert!(!show(plain).expect("parsed").has_html);
        assert_eq!(html(plain), None);
        assert_eq!(
            headline(plain, "env@b.example"),
            ("a@b.example".into(), "Hi".into())
        );
    }
}

//! An edition as a message: multipart/alternative, text and HTML in quoted-printable, with
//! the list headers. The unsubscribe placeholder is kept whole on an encoded line of its
//! own, so that delivery can put each recipient's link in its place with a byte-level
//! replacement, without decoding or re-encoding anything.

use crate::message::{address_field, header_field};

use super::render::UNSUBSCRIBE_PLACEHOLDER;
use crate::links::{self, archive_url, Role};

/// Longest encoded line before the soft line break (RFC 2045 allows 76 with the `=`).
const QP_WIDTH: usize = 75;

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
    let mut out = headers(masthead, subject);
    out.extend(header_field("Content-Language", language));
    out.extend(header_field("MIME-Version", "1.0"));
    out.extend(alternative(&boundary(masthead.message_key), text, html));
    out
}

/// The message editors receive to check an edition: their instructions, then every
/// language of the edition as subscribers will see it.
pub fn preview_message(
    masthead: &Masthead,
    (to, reply_to): (&str, &str),
    (subject, instructions): (&str, &str),
    languages: &[(&str, &str, &str)],
) -> Vec<u8> {
    let mut out = address_field("From", masthead.title, &own(masthead, Role::Owner));
    out.extend(header_field("To", to));
    out.extend(header_field("Reply-To", reply_to));
    out.extend(header_field("Subject", subject));
    out.extend(common_headers(masthead));
    out.extend(header_field("Auto-Submitted", "auto-generated"));
    out.extend(header_field("MIME-Version", "1.0"));
    let mixed = boundary(&format!("{}.preview", masthead.message_key));
    out.extend(header_field(
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{mixed}\""),
    ));
    out.extend_from_slice(format!("\r\n--{mixed}\r\n").as_bytes());
    out.extend(text_part("plain", instructions));
    for (index, (language, text, html)) in languages.iter().enumerate() {
        out.extend_from_slice(format!("\r\n--{mixed}\r\n").as_bytes());
        out.extend(header_field("Content-Language", language));
        out.extend(alternative(
            &boundary(&format!("{}.{index}", masthead.message_key)),
            text,
            html,
        ));
    }
    out.extend_from_slice(format!("\r\n--{mixed}--\r\n").as_bytes());
    out
}

fn headers(masthead: &Masthead, subject: &str) -> Vec<u8> {
    let mut out = address_field("From", masthead.title, &own(masthead, Role::Post));
    // Readers' replies reach the editors; the publication's own address takes no mail.
    out.extend(header_field("Reply-To", &own(masthead, Role::Owner)));
    out.extend(header_field("To", &own(masthead, Role::Post)));
    out.extend(header_field("Subject", subject));
    out.extend(common_headers(masthead));
    out.extend(header_field("Precedence", "list"));
    out
}

/// Date, Message-ID and the list headers of RFC 2369 and RFC 2919.
fn common_headers(masthead: &Masthead) -> Vec<u8> {
    let date = chrono::DateTime::from_timestamp_millis(masthead.date_ms)
        .unwrap_or_default()
        .to_rfc2822();
    let mut out = header_field("Date", &date);
    out.extend(header_field("Message-ID", &message_id(masthead)));
    out.extend(address_field(
        "List-Id",
        masthead.title,
        &links::list_id(masthead.publication, masthead.domain),
    ));
    out.extend(header_field("List-Post", "NO"));
    out.extend(header_field(
        "List-Help",
        &format!("<mailto:{}?subject=help>", own(masthead, Role::Request)),
    ));
    out.extend(header_field(
        "List-Subscribe",
        &format!("<mailto:{}>", own(masthead, Role::Join)),
    ));
    out.extend(header_field(
        "List-Owner",
        &format!("<mailto:{}>", own(masthead, Role::Owner)),
    ));
    out.extend(header_field(
        "List-Archive",
        &format!("<{}>", archive_url(masthead.base_url, masthead.publication)),
    ));
    out
}

/// The key numbers an edition within this database, which starts again at 1 after a
/// reset; the time and 64 random bits keep the id from being given twice all the same
/// (RFC 5322 3.6.4), so that readers' programs never take a new edition for one they have.
/// The id is made once, when the message is built and stored, so a copy sent again after
/// a failure keeps it.
fn message_id(masthead: &Masthead) -> String {
    format!(
        "<{}.{}.{:x}.{:016x}@{}>",
        masthead.message_key,
        masthead.publication,
        masthead.date_ms.max(0),
        rand::random::<u64>(),
        masthead.domain
    )
}

/// The publication's address of `role`.
fn own(masthead: &Masthead, role: Role) -> String {
    links::address(masthead.publication, role, masthead.domain)
}

fn boundary(key: &str) -> String {
    format!(
        "=_tidings_{}_{:016x}",
        key.replace(['.', ' '], "_"),
        rand::random::<u64>()
    )
}

/// A Content-Type header and the multipart/alternative body it announces.
fn alternative(boundary: &str, text: &str, html: &str) -> Vec<u8> {
    let mut out = header_field(
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    );
    for (subtype, body) in [("plain", text), ("html", html)] {
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        out.extend(text_part(subtype, body));
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

fn text_part(subtype: &str, body: &str) -> Vec<u8> {
    let mut out = format!(
        "Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(quoted_printable(body).as_bytes());
    out
}

/// Quoted-printable with CRLF line ends, the placeholder never split or escaped.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        encode_line(line.strip_suffix('\r').unwrap_or(line), &mut out);
    }
    out
}

/// One line of text, with soft line breaks; the placeholder stands alone on its line.
fn encode_line(line: &str, out: &mut String) {
    let mut width = 0;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(UNSUBSCRIBE_PLACEHOLDER) {
            if width > 0 {
                out.push_str("=\r\n");
            }
            out.push_str(UNSUBSCRIBE_PLACEHOLDER);
            rest = &rest[UNSUBSCRIBE_PLACEHOLDER.len()..];
            width = QP_WIDTH;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        let encoded = encode_char(c, rest.is_empty());
        if width + encoded.len() > QP_WIDTH {
            out.push_str("=\r\n");
            width = 0;
        }
        width += encoded.len();
        out.push_str(&encoded);
    }
}

fn encode_char(c: char, last: bool) -> String {
    let literal = (c.is_ascii_graphic() && c != '=') || (c == ' ' && !last);
    if literal {
        return c.to_string();
    }
    let mut bytes = [0u8; 4];
    c.encode_utf8(&mut bytes)
        .bytes()
        .map(|b| format!("={b:02X}"))
        .collect()
}

/// What delivery puts in place of the placeholder: the recipient's link, encoded to fit the
/// lines around it.
pub fn encoded_link(url: &str) -> String {
    let mut out = String::new();
    encode_line(url, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(encoded: &str) -> String {
        let joined = encoded.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'=' && tail.len() >= 2 {
                let hex = std::str::from_utf8(&tail[..2]).unwrap_or("00");
                bytes.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).unwrap_or_default()
    }

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

    #[test]
    fn lines_stay_short_and_decode_to_the_text() {
        let text = format!(
            "Café = ☕ {}\nمرحبا بالعالم {}{} end \n{}",
            "x".repeat(100),
            "y".repeat(50),
            UNSUBSCRIBE_PLACEHOLDER,
            UNSUBSCRIBE_PLACEHOLDER
        );
        let encoded = quoted_printable(&text);
        assert!(encoded.split("\r\n").all(|l| l.len() <= 76), "{encoded}");
        assert_eq!(decode(&encoded), text.replace('\n', "\r\n"));
        assert_eq!(encoded.matches(UNSUBSCRIBE_PLACEHOLDER).count(), 2);
    }

    #[test]
    fn the_link_replaces_the_placeholder_and_lines_stay_short() {
        let text = format!("Leave: <a href=\"{UNSUBSCRIBE_PLACEHOLDER}\">here</a>");
        let url = format!(
            "https://lists.example.org/unsubscribe/bulletin/{}",
            "a".repeat(90)
        );
        let replaced =
            quoted_printable(&text).replace(UNSUBSCRIBE_PLACEHOLDER, &encoded_link(&url));
        assert!(replaced.split("\r\n").all(|l| l.len() <= 76), "{replaced}");
        assert_eq!(
            decode(&replaced),
            text.replace(UNSUBSCRIBE_PLACEHOLDER, &url)
        );
    }
}

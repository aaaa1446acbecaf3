//! The first step for every message: is it a message at all? Hostile or broken input is
//! refused here, before any list looks at it.

use mail_parser::{HeaderName, HeaderValue, MessageParser};

use crate::address;

use super::parts::{self, Part};

/// What the rules need to know about a message, read once.
#[derive(Debug, Clone)]
pub struct ParsedMessage {
    /// The author (From), normalised; `None` when From is absent or unreadable.
    pub from: Option<String>,
    /// The author's display name as written, possibly empty.
    pub from_name: String,
    /// Every address in To and Cc, normalised, in order; unreadable ones are left out.
    pub visible_recipients: Vec<String>,
    pub message_id: String,
    pub subject: String,
    /// Values of every List-Id header, lowercased.
    pub list_ids: Vec<String>,
    /// Values of every X-Loop header, lowercased.
    pub x_loops: Vec<String>,
    /// Size in bytes as received, headers and encoded attachments included.
    pub size: usize,
    /// The leaf MIME parts, for the attachment policy.
    pub parts: Vec<Part>,
}

/// Why a message is refused before any list sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("message contains NUL bytes")]
    NulBytes,
    #[error(
        "message header contains bytes that are not UTF-8; encode non-ASCII header text (RFC 2047)"
    )]
    EightBitHeader,
    #[error("message is not a valid RFC 5322 message")]
    Unparseable,
    #[error("message has no From header")]
    NoFrom,
}

impl ParsedMessage {
    pub fn parse(raw: &[u8]) -> Result<ParsedMessage, Malformed> {
        if raw.contains(&0) {
            return Err(Malformed::NulBytes);
        }
        if std::str::from_utf8(header_section(raw)).is_err() {
            return Err(Malformed::EightBitHeader);
        }
        // mail-parser has had fuzz-found panics in the past; a bad message must never take
        // the session down with it.
        let parsed =
            std::panic::catch_unwind(|| read_fields(raw)).map_err(|_| Malformed::Unparseable)?;
        let parsed = parsed.ok_or(Malformed::Unparseable)?;
        if parsed.from.is_none() {
            return Err(Malformed::NoFrom);
        }
        Ok(parsed)
    }
}

fn read_fields(raw: &[u8]) -> Option<ParsedMessage> {
    let message = MessageParser::default().parse_headers(raw)?;
    let author = message.from().and_then(|from| from.first());
    let from = author
        .and_then(|addr| addr.address())
        .and_then(|addr| address::normalize(addr).ok());
    let visible_recipients = [message.to(), message.cc()]
        .into_iter()
        .flatten()
        .flat_map(|field| field.iter())
        .filter_map(|addr| addr.address())
        .filter_map(|addr| address::normalize(addr).ok())
        .collect();
    let texts = |name: HeaderName<'static>| -> Vec<String> {
        message
            .header_values(name)
            .filter_map(|value| match value {
                HeaderValue::Text(text) => Some(text.to_lowercase()),
                HeaderValue::Address(addr) => addr
                    .first()
                    .and_then(|a| a.address())
                    .map(str::to_lowercase),
                _ => None,
            })
            .collect()
    };
    Some(ParsedMessage {
        from,
        from_name: author
            .and_then(|addr| addr.name())
            .unwrap_or_default()
            .to_string(),
        visible_recipients,
        message_id: message.message_id().unwrap_or_default().to_string(),
        subject: message.subject().unwrap_or_default().to_string(),
        list_ids: texts(HeaderName::ListId),
        x_loops: texts(HeaderName::Other("X-Loop".into())),
        size: raw.len(),
        parts: parts::read(raw),
    })
}

/// The bytes before the first empty line, found in one pass.
fn header_section(raw: &[u8]) -> &[u8] {
    let mut end = 0;
    for line in raw.split_inclusive(|&byte| byte == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        end += line.len();
    }
    &raw[..end]
}

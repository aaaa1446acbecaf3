//! Bounces: what a returned message says went wrong, and for whom. RFC 3464 reports are read
//! field by field ([`dsn`]); other formats are read for their addresses, codes and words
//! ([`scan`]). Each failure is classified by its RFC 3463 status ([`status`]): only failures
//! of the address itself count against a member ([`score`]); [`process`] applies all this to
//! the bounces the daemon receives.

pub mod dsn;
pub mod process;
pub mod scan;
pub mod score;
pub mod status;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

pub use status::{BounceClass, Status};

/// Bytes of a bounce that are read: the notice and the report come first, and a returned
/// message of megabytes adds nothing but cost.
const READ_AT_MOST: usize = 256 * 1024;

/// One recipient's failure as a bounce reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The failed address, when the bounce names it (the VERP token names it anyway).
    pub address: Option<String>,
    pub class: BounceClass,
    pub status: Option<Status>,
    /// The remote server's words, one line, for the owners and `tidings bounces`.
    pub detail: String,
}

impl Failure {
    /// The relay's own refusal of a copy (`550 5.1.1 …` to RCPT, `554 5.7.1 …` to DATA),
    /// classified like a bounce: it is the same news, only sooner. `None` when the text is
    /// not a server's reply (a local error names no reply code).
    pub fn from_reply(reply: &str) -> Option<Failure> {
        let status = Status::find(reply);
        status.or_else(|| status::reply_code_status(reply))?;
        Some(Failure {
            address: None,
            class: status::classify(status, Some("failed"), reply)?,
            status,
            detail: one_line(reply),
        })
    }
}

/// Every failure a bounce reports; empty when it reports none (a success notice, an
/// auto-reply, or something unreadable).
pub fn analyse(raw: &[u8]) -> Vec<Failure> {
    let raw = &raw[..raw.len().min(READ_AT_MOST)];
    // mail-parser has had fuzz-found panics; a hostile bounce must not stop the processor.
    std::panic::catch_unwind(|| {
        let message = MessageParser::default().parse(raw)?;
        let reported = delivery_status(&message, raw)
            .map(|report| from_report(&report))
            .unwrap_or_default();
        // Some reports carry no per-recipient block; their notice still names the address.
        Some(if reported.is_empty() {
            from_notice(&message)
        } else {
            reported
        })
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// The body of the report's `message/delivery-status` part (RFC 6533's global variant too),
/// also inside a forwarded report. Part offsets, nested ones included, count from the start
/// of the whole bounce (`raw`).
fn delivery_status(message: &Message, raw: &[u8]) -> Option<Vec<u8>> {
    message.parts.iter().find_map(|part| {
        if let PartType::Message(nested) = &part.body {
            return delivery_status(nested, raw);
        }
        let content_type = part.content_type()?;
        let subtype = content_type.subtype()?.to_ascii_lowercase();
        let is_report = content_type.ctype().eq_ignore_ascii_case("message")
            && matches!(
                subtype.as_str(),
                "delivery-status" | "global-delivery-status"
            );
        if !is_report {
            return None;
        }
        let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
        Some(body.to_vec())
    })
}

fn from_report(report: &[u8]) -> Vec<Failure> {
    dsn::parse(report)
        .into_iter()
        .filter_map(|recipient| {
            let detail = recipient.diagnostic.clone().unwrap_or_default();
            let class = status::classify(recipient.status, recipient.action.as_deref(), &detail)?;
            Some(Failure {
                address: recipient.address().map(str::to_string),
                class,
                status: recipient.status,
                detail: one_line(&detail),
            })
        })
        .collect()
}

fn from_notice(message: &Message) -> Vec<Failure> {
    let text: String = message
        .parts
        .iter()
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let own: Vec<String> = [message.from(), message.to()]
        .into_iter()
        .flatten()
        .flat_map(|field| field.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .collect();
    let notice = scan::read(&text, &own);
    let mut status = Status::find(&notice.text);
    // "(#4.4.1) I'm not going to try again": a final failure quoting a transient code.
    if status.is_some_and(|s| s.class == 4) && notice.is_final {
        status = None;
    }
    let class = if notice.is_warning {
        Some(BounceClass::Temporary)
    } else if status.is_some() || notice.reports_failure {
        status::classify(status, None, &notice.text)
    } else {
        None
    };
    let Some(class) = class else {
        return Vec::new();
    };
    let detail = one_line(&status_line(&notice.text));
    let failure = |address: Option<String>| Failure {
        address,
        class,
        status,
        detail: detail.clone(),
    };
    if notice.addresses.is_empty() {
        vec![failure(None)]
    } else {
        notice
            .addresses
            .into_iter()
            .map(|a| failure(Some(a)))
            .collect()
    }
}

/// The line of a notice most likely to carry the server's reason.
fn status_line(text: &str) -> String {
    text.lines()
        .find(|line| Status::find(line).is_some())
        .or_else(|| {
            text.lines()
                .find(|l| l.trim_start().starts_with(['4', '5']) && l.trim().len() > 4)
        })
        .unwrap_or_default()
        .to_string()
}

/// At most 300 characters on one line: details end up in notices and tables.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(300)
        .collect()
}

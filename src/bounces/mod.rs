//! Bounces: what a returned message says went wrong, and for whom. RFC 3464 reports are read
//! field by field ([`dsn`]); other formats are read for their addresses, codes and words
//! ([`scan`]). Each failure is classified by its RFC 3463 status and its words ([`status`],
//! [`words`]): only failures of the address itself count against a member ([`score`]).
//! Recipients' complaints (RFC 5965 abuse reports, [`arf`]) are told apart, and so are the
//! messages that reach a bounce address without being bounces ([`not_bounces`]).
//! [`process`] applies all this to what the daemon receives.

pub mod arf;
pub mod dsn;
pub mod not_bounces;
pub mod process;
pub mod scan;
pub mod score;
pub mod status;
pub mod words;

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

/// What a message sent to a bounce address turns out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// A bounce, with every failure it reports: none when it reports none (a success notice,
    /// or something unreadable).
    Failures(Vec<Failure>),
    /// A recipient's complaint from a provider's feedback loop.
    Complaint(arf::Complaint),
    /// Not a bounce at all (an auto-reply, a challenge, a DMARC report...): why.
    NotABounce(&'static str),
}

/// What a message sent to a bounce address is and says.
pub fn read(raw: &[u8]) -> Returned {
    let raw = &raw[..raw.len().min(READ_AT_MOST)];
    // mail-parser has had fuzz-found panics; a hostile bounce must not stop the processor.
    std::panic::catch_unwind(|| {
        let message = MessageParser::default().parse(raw)?;
        if let Some(feedback) = arf::read(&message, raw) {
            return Some(feedback);
        }
        let notice = notice_text(&message, raw);
        // Some reports carry no per-recipient block; their notice still names the address.
        let reported = report_part(
            &message,
            raw,
            &["delivery-status", "global-delivery-status"],
        )
        .map(|(_, report)| dsn::parse(report))
        .unwrap_or_default();
        if !reported.is_empty() {
            let senders = senders(&message);
            return Some(Returned::Failures(from_report(reported, &notice, &senders)));
        }
        if let Some(why) = not_bounces::recognise(&message, &notice) {
            return Some(Returned::NotABounce(why));
        }
        Some(Returned::Failures(from_notice(&message, &notice)))
    })
    .ok()
    .flatten()
    .unwrap_or(Returned::Failures(Vec::new()))
}

/// Every failure a bounce reports; empty when it reports none, or is no bounce.
pub fn analyse(raw: &[u8]) -> Vec<Failure> {
    match read(raw) {
        Returned::Failures(failures) => failures,
        Returned::Complaint(_) | Returned::NotABounce(_) => Vec::new(),
    }
}

/// The first part of type `message/SUBTYPE` (one of `subtypes`), also inside a forwarded
/// report, with the message it is part of. Part offsets, nested ones included, count from
/// the start of the whole bounce (`raw`).
fn report_part<'m, 'r>(
    message: &'m Message<'m>,
    raw: &'r [u8],
    subtypes: &[&str],
) -> Option<(&'m Message<'m>, &'r [u8])> {
    message.parts.iter().find_map(|part| {
        if let PartType::Message(nested) = &part.body {
            return report_part(nested, raw, subtypes);
        }
        let content_type = part.content_type()?;
        let subtype = content_type.subtype()?;
        let is_report = content_type.ctype().eq_ignore_ascii_case("message")
            && subtypes.iter().any(|s| subtype.eq_ignore_ascii_case(s));
        if !is_report {
            return None;
        }
        let body = raw.get(part.offset_body as usize..part.offset_end as usize)?;
        Some((message, body))
    })
}

/// The human-readable parts of a bounce, decoded. A returned header block
/// (`text/rfc822-headers`) is the original's, not the notice. When the MIME structure is
/// broken and leaves no text, the raw body is the notice.
fn notice_text(message: &Message, raw: &[u8]) -> String {
    let texts: Vec<&str> = message
        .parts
        .iter()
        .filter(|part| {
            !part.content_type().is_some_and(|t| {
                t.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
            })
        })
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.as_ref()),
            _ => None,
        })
        .collect();
    if texts.iter().any(|t| !t.trim().is_empty()) {
        return texts.join("\n");
    }
    let body_start = message.root_part().offset_body as usize;
    String::from_utf8_lossy(raw.get(body_start..).unwrap_or_default()).into_owned()
}

fn from_report(
    recipients: Vec<dsn::RecipientReport>,
    notice: &str,
    senders: &[String],
) -> Vec<Failure> {
    recipients
        .into_iter()
        .filter_map(|recipient| {
            let detail = recipient.diagnostic.clone().unwrap_or_default();
            let address = recipient.address().map(str::to_string);
            // When the server's words say nothing of the reason ("550 Rejected"), the
            // notice's may ("error after EHLO").
            let reason = if words::read(&detail) == words::Reading::default() {
                format!("{detail}\n{}", scan::before_original_message(notice))
            } else {
                detail.clone()
            };
            let mut class =
                status::classify(recipient.status, recipient.action.as_deref(), &reason)?;
            if class == BounceClass::Mailbox && quotes_a_sender(&detail, senders, &address) {
                class = BounceClass::Policy;
            }
            Some(Failure {
                address,
                class,
                status: recipient.status,
                detail: one_line(&detail),
            })
        })
        .collect()
}

/// Whether a server's reply quotes one of the sender's addresses (other than the failed
/// recipient's): "550 5.2.0 <list-bounces+…@…> From: domain is invalid" refuses the sender,
/// whatever its code says.
fn quotes_a_sender(reply: &str, senders: &[String], failed: &Option<String>) -> bool {
    let reply = reply.to_ascii_lowercase();
    senders
        .iter()
        .filter(|s| !failed.as_deref().is_some_and(|f| f.eq_ignore_ascii_case(s)))
        .any(|s| reply.contains(&s.to_ascii_lowercase()))
}

/// The sender's addresses: where the bounce was sent (the original's envelope sender), and
/// the returned original's author and envelope sender.
fn senders(message: &Message) -> Vec<String> {
    let originals = message.parts.iter().filter_map(|part| match &part.body {
        PartType::Message(original) => Some(original),
        _ => None,
    });
    let mut senders = addresses(message.to());
    for original in originals {
        senders.extend(addresses(original.from()));
        senders.extend(arf::bracketed(
            original.header_raw("Return-Path").unwrap_or_default(),
        ));
    }
    senders.retain(|s| s.contains('@'));
    senders
}

fn addresses(field: Option<&mail_parser::Address>) -> Vec<String> {
    field
        .into_iter()
        .flat_map(|field| field.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .collect()
}

fn from_notice(message: &Message, text: &str) -> Vec<Failure> {
    let own: Vec<String> = [message.from(), message.to()]
        .into_iter()
        .flat_map(addresses)
        .collect();
    let notice = scan::read(text, &own);
    let subject = message.subject().unwrap_or_default();
    let mut status = Status::find(&notice.text);
    // "(#4.4.1) I'm not going to try again": a final failure quoting a transient code.
    let action = notice.is_final.then_some("failed");
    if status.is_some_and(|s| s.class == 4) && notice.is_final {
        status = None;
    }
    let class = if notice.is_warning {
        Some(BounceClass::Temporary)
    } else if status.is_some() || notice.reports_failure || scan::says_failure(subject) {
        status::classify(status, action, &notice.text)
    } else {
        None
    };
    let Some(mut class) = class else {
        return Vec::new();
    };
    let detail = one_line(&status_line(&notice.text));
    if class == BounceClass::Mailbox && quotes_a_sender(&detail, &senders(message), &None) {
        class = BounceClass::Policy;
    }
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

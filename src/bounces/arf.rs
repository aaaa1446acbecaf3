//! Complaints: a recipient pressed "this is spam", and their provider's feedback loop sends
//! an abuse report (RFC 5965: `multipart/report; report-type=feedback-report`, a
//! `message/feedback-report` part, and the original message or its header). The report
//! comes to the copy's VERP address, or is forwarded to the list's bounce address; in that
//! case the original's own header names the copy: its envelope sender (`Original-Mail-From`,
//! `Return-Path`, the VERP address) or its `List-Unsubscribe` token.
//!
//! A complaint is no bounce: the address works, and its owner does not want the mail.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use super::Returned;

/// Feedback types that mean the recipient does not want the mail: RFC 5965's `abuse` and
/// `fraud`, and `opt-out`, which some loops still send from the draft that preceded it.
/// Authentication failure reports (RFC 6591), `virus` and `not-spam` are no complaints.
const COMPLAINTS: &[&str] = &["abuse", "fraud", "opt-out", "optout"];

/// A recipient's complaint and what names the copy it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complaint {
    /// `Feedback-Type`, lowercase.
    pub feedback_type: String,
    /// The original's envelope sender as the report gives it (`Original-Mail-From`), then as
    /// its header does (`Return-Path`): a list's VERP address names the delivery.
    pub senders: Vec<String>,
    /// The targets of the original's `List-Unsubscribe` (addresses of its mailto, and URLs):
    /// a list's unsubscribe token names the member.
    pub unsubscribe: Vec<String>,
}

/// A feedback report, as a complaint or as a report that is not one; `None` when `message`
/// holds no `message/feedback-report` part.
pub(super) fn read(message: &Message, raw: &[u8]) -> Option<Returned> {
    let (report, fields) = super::report_part(message, raw, &["feedback-report"])?;
    let fields = String::from_utf8_lossy(fields);
    let field = |name: &str| {
        fields.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let feedback_type = field("Feedback-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !COMPLAINTS.contains(&feedback_type.as_str()) {
        return Some(Returned::NotABounce(
            "a feedback report that is no complaint",
        ));
    }
    let original = original_header(report, raw);
    let original = original
        .as_deref()
        .and_then(|header| MessageParser::default().parse_headers(header));
    let original_field = |name: &'static str| {
        original
            .as_ref()
            .and_then(|o| o.header_raw(name))
            .unwrap_or("")
    };
    let senders = field("Original-Mail-From")
        .into_iter()
        .chain([original_field("Return-Path").to_string()])
        .flat_map(|value| bracketed(&value))
        .collect();
    let unsubscribe = bracketed(original_field("List-Unsubscribe"))
        .into_iter()
        .map(|target| {
            let target = target.strip_prefix("mailto:").unwrap_or(&target);
            // A mailto's `?subject=unsubscribe` is not part of the address.
            target.split('?').next().unwrap_or(target).to_string()
        })
        .collect();
    Some(Returned::Complaint(Complaint {
        feedback_type,
        senders,
        unsubscribe,
    }))
}

/// The header of the original message a report returns (as `message/rfc822`, or as
/// `text/rfc822-headers`).
fn original_header(report: &Message, raw: &[u8]) -> Option<Vec<u8>> {
    report.parts.iter().find_map(|part| {
        let is_headers = part.content_type().is_some_and(|t| {
            t.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
        });
        if !(matches!(part.body, PartType::Message(_)) || is_headers) {
            return None;
        }
        raw.get(part.offset_body as usize..part.offset_end as usize)
            .map(<[u8]>::to_vec)
    })
}

/// The `<…>` items of a header value, or the bare value when it has none.
pub(super) fn bracketed(value: &str) -> Vec<String> {
    let items: Vec<String> = value
        .split('<')
        .skip(1)
        .filter_map(|item| item.split_once('>'))
        .map(|(item, _)| item.trim().to_string())
        .filter(|item| !item.is_empty())
        .collect();
    if items.is_empty() && !value.trim().is_empty() {
        vec![value.trim().to_string()]
    } else {
        items
    }
}

//! Messages that reach a bounce address without being bounces: out-of-office and other
//! automatic replies (RFC 3834), challenges that ask the sender to confirm they are human,
//! read receipts (RFC 8098) and DMARC or TLS aggregate reports. None of them says anything
//! about the member's address, and taking one for a failure would count a working address
//! against its member.
//!
//! Real bounces come from a mail system (`MAILER-DAEMON`, `postmaster`, "Mail Delivery
//! Subsystem") or quote an enhanced status code; those are never set aside here, whatever
//! their subject says.

use mail_parser::{Message, MimeHeaders};

use super::status::Status;
use super::{scan, words};

/// Local parts and display names of the mail systems that send bounces.
const MAIL_SYSTEMS: &[&str] = &[
    "mailer-daemon",
    "mailer_daemon",
    "mailerdaemon",
    "mail-daemon",
    "mdaemon",
    "postmaster",
    "post_master",
    "mail delivery",
    "delivery subsystem",
    "mail system",
    "mail administrator",
];

/// Subjects of automatic replies, in the languages most often seen.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "out of office",
    "out of the office",
    "auto",
    "autoreply",
    "auto-reply",
    "auto reply",
    "automatic reply",
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend",
    "réponse automatique",
    "reponse automatique",
    "absence",
    "risposta automatica",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "automatisch antwoord",
    "afwezig",
    "autosvar",
    "on vacation",
    "vacation",
    "away until",
    "away from",
    "on leave",
];

/// Words of challenge-response systems asking the sender to prove they are a person.
const CHALLENGES: &[&str] = &[
    "requires confirmation",
    "require confirmation",
    "requires your confirmation",
    "please confirm",
    "confirm your message",
    "confirm that you",
    "confirm you are",
    "verify that you",
    "verify you are",
    "prove you are",
    "not a robot",
    "human sender",
    "challenge",
    "whitelist",
    "approved senders",
    "sender approval",
    "spam arrest",
    "spamarrest",
    "boxbe",
    "mailinblack",
    "choicemail",
];

/// Why `message` (with `notice`, its human-readable text) is not a bounce, or `None` when it
/// may be one.
pub fn recognise(message: &Message, notice: &str) -> Option<&'static str> {
    if is_aggregate_report(message) {
        return Some("a DMARC or TLS aggregate report");
    }
    if has_part(message, "message", "disposition-notification") {
        return Some("a read receipt");
    }
    let notice = scan::before_original_message(notice);
    if from_a_mail_system(message) || Status::find(notice).is_some() {
        return None;
    }
    let lower = notice.to_lowercase();
    if words::any(&lower, CHALLENGES) {
        return Some("a challenge asking the sender to confirm");
    }
    if is_auto_reply(message) {
        return Some("an automatic reply");
    }
    None
}

fn from_a_mail_system(message: &Message) -> bool {
    message
        .from()
        .into_iter()
        .flat_map(|from| from.iter())
        .any(|from| {
            let local = from
                .address()
                .and_then(|a| a.rsplit_once('@'))
                .map_or("", |(local, _)| local);
            let name = from.name().unwrap_or_default();
            let said = format!("{local} {name}").to_lowercase();
            MAIL_SYSTEMS.iter().any(|s| said.contains(s))
        })
}

/// RFC 3834's `Auto-Submitted: auto-replied`, the headers of common responders, or the
/// subject of one.
fn is_auto_reply(message: &Message) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    let marked = header("Auto-Submitted").is_some_and(|v| v.starts_with("auto-replied"))
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("X-Autoresponder").is_some()
        || header("Precedence").is_some_and(|v| v == "auto_reply");
    let subject = message.subject().unwrap_or_default().to_lowercase();
    marked || words::any(&subject, AUTO_REPLY_SUBJECTS)
}

/// A DMARC aggregate report (RFC 7489 §7.2: "Report Domain: … Submitter: …", a zipped XML
/// file named `receiver!domain!begin!end`), or an SMTP TLS report (RFC 8460).
fn is_aggregate_report(message: &Message) -> bool {
    let subject = message.subject().unwrap_or_default().to_lowercase();
    if subject.contains("report domain:") || subject.contains("dmarc aggregate") {
        return true;
    }
    message.parts.iter().any(|part| {
        let zipped = part.content_type().is_some_and(|t| {
            t.ctype().eq_ignore_ascii_case("application")
                && t.subtype().is_some_and(|s| {
                    let s = s.to_ascii_lowercase();
                    s.contains("zip") || s.starts_with("tlsrpt")
                })
        });
        zipped && part.attachment_name().is_some_and(|n| n.contains('!'))
    })
}

fn has_part(message: &Message, ctype: &str, subtype: &str) -> bool {
    message.parts.iter().any(|part| {
        part.content_type().is_some_and(|t| {
            t.ctype().eq_ignore_ascii_case(ctype)
                && t.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
        })
    })
}

//! RFC 3463 enhanced status codes (`5.1.1`), and what a failure says about the member's
//! address. Only a failure of the address itself may count against a member: a message
//! refused as spam, for the sending server's reputation or for DMARC says nothing about the
//! member's mailbox, and dropping good members for it would punish them for our problem.

use std::fmt;

use super::words;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// 2 (success), 4 (persistent transient failure) or 5 (permanent failure).
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Status {
    /// The first enhanced status code in `text`, standing alone (not part of an IP address
    /// or a version number).
    pub fn find(text: &str) -> Option<Status> {
        Status::find_with_rest(text).map(|(status, _)| status)
    }

    /// The first code in `text` and the text after it.
    fn find_with_rest(text: &str) -> Option<(Status, &str)> {
        let bytes = text.as_bytes();
        (0..bytes.len()).find_map(|start| {
            let boundary_before = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
            if !boundary_before || !matches!(bytes[start], b'2' | b'4' | b'5') {
                return None;
            }
            let status = Status::at(&text[start..])?;
            // A code is at least five ASCII bytes ("5.1.1"): the rest starts past them.
            Some((status, text.get(start + 5..).unwrap_or("")))
        })
    }

    /// How much a code says about a failure: any failure code more than a success code
    /// (transcripts quote `250 2.1.0 Ok` before the refusal), a sender-side code most (it
    /// decides the class whatever else is said), then any code with a subject and detail,
    /// then `X.Y.0`, then `X.0.0`.
    fn specificity(self) -> u8 {
        let failure = if self.class == 2 { 0 } else { 4 };
        if self.is_about_the_sender() {
            failure + 3
        } else {
            failure + u8::from(self.subject != 0) + u8::from(self.detail != 0)
        }
    }

    /// Security and policy (X.7.x), a bad or refused sender address (X.1.7, X.1.8).
    pub fn is_about_the_sender(self) -> bool {
        self.class != 2
            && (self.subject == 7 || (self.subject == 1 && matches!(self.detail, 7 | 8)))
    }

    /// The address: bad mailbox or domain (X.1.1 to X.1.6), mailbox disabled or full
    /// (X.2.1, X.2.2), no route to the domain (X.4.4).
    fn is_about_the_mailbox(self) -> bool {
        matches!(
            (self.subject, self.detail),
            (1, 1..=6) | (2, 1) | (2, 2) | (4, 4)
        )
    }

    /// The message: too big for the mailbox (X.2.3), for the system (X.3.4), its content (X.6.x).
    fn is_about_the_message(self) -> bool {
        matches!((self.subject, self.detail), (6, _) | (2, 3) | (3, 4))
    }

    fn at(text: &str) -> Option<Status> {
        let mut parts = text.splitn(3, '.');
        let class = parts.next()?;
        let subject = parts.next()?;
        let rest = parts.next()?;
        let detail_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = rest.as_bytes().get(detail_len);
        let ends_cleanly =
            after.is_none_or(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')));
        let digits = |s: &str, max: usize| {
            (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        if class.len() != 1 || !ends_cleanly {
            return None;
        }
        Some(Status {
            class: class.parse().ok()?,
            subject: digits(subject, 3)?,
            detail: digits(&rest[..detail_len], 3)?,
        })
    }
}

/// What a failed delivery means for the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BounceClass {
    /// The address does not work (no such user, mailbox disabled, domain gone): counts
    /// toward the member's bounce score.
    Mailbox,
    /// Refused for spam, policy, reputation or DMARC: reported to the owners as a
    /// deliverability problem, never counted against the member.
    Policy,
    /// Refused for something about this message (too big, content): not counted.
    Message,
    /// Temporary (4.x.x, or a delay warning): not counted; the queue retries.
    Temporary,
}

impl BounceClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceClass::Mailbox => "mailbox",
            BounceClass::Policy => "policy",
            BounceClass::Message => "message",
            BounceClass::Temporary => "temporary",
        }
    }

    pub fn counts(self) -> bool {
        self == BounceClass::Mailbox
    }
}

/// Classifies one failure from its status code (when there is one), the report's action,
/// and the server's words (`text`, its diagnostic).
///
/// The most specific code wins: one the server wrote into its own reply beats the report's
/// `Status:` field, which reporting MTAs often fill with a generic `5.0.0` or a guessed
/// `5.1.1`. A refusal about the sender (its code or its words) is a policy matter whatever
/// the code says; only when the words also say the address does not work, with a mailbox
/// code, does the code decide.
pub fn classify(status: Option<Status>, action: Option<&str>, text: &str) -> Option<BounceClass> {
    if matches!(action, Some("delivered" | "relayed" | "expanded")) {
        return None;
    }
    if action == Some("delayed") {
        return Some(BounceClass::Temporary);
    }
    let words = words::read(text);
    let mut status = match (most_specific(text), status) {
        (Some(own), Some(field)) if field.specificity() > own.specificity() => Some(field),
        (Some(own), _) => Some(own),
        (None, field) => field,
    }
    .or_else(|| reply_code_status(text));
    // The reporting server gave up: whatever the code, the failure is final (RFC 3464 §2.3.3).
    if action == Some("failed") {
        status = status.map(|s| Status {
            class: s.class.max(5),
            ..s
        });
    }
    let status = status.unwrap_or(Status {
        class: 5,
        subject: 0,
        detail: 0,
    });
    if status.class == 2 {
        return None;
    }
    if status.class == 4 {
        return Some(BounceClass::Temporary);
    }
    let mailbox_code = status.is_about_the_mailbox();
    let about_the_sender = status.is_about_the_sender()
        || words.about_the_sender
        || (words.sender_side && !(words.mailbox && mailbox_code));
    Some(if about_the_sender {
        BounceClass::Policy
    } else if mailbox_code || words.mailbox {
        BounceClass::Mailbox
    } else if status.is_about_the_message() || words.message {
        BounceClass::Message
    } else {
        BounceClass::Mailbox
    })
}

/// The most specific enhanced code in a server's words: several appear when a reply is
/// quoted with its continuation lines or a relay adds its own.
fn most_specific(text: &str) -> Option<Status> {
    let mut best: Option<Status> = None;
    let mut rest = text;
    while let Some((status, after)) = Status::find_with_rest(rest) {
        if best.is_none_or(|b| status.specificity() > b.specificity()) {
            best = Some(status);
        }
        rest = after;
    }
    best
}

/// A basic SMTP reply code (`550`, `452`) where no enhanced code is given: its first digit
/// is the class, the rest says nothing reliable.
pub(super) fn reply_code_status(words: &str) -> Option<Status> {
    let bytes = words.as_bytes();
    (0..bytes.len().saturating_sub(2)).find_map(|i| {
        let code = &bytes[i..i + 3];
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let after_ok = bytes.get(i + 3).is_none_or(|b| matches!(b, b' ' | b'-'));
        let shaped = matches!(code[0], b'4' | b'5')
            && matches!(code[1], b'0'..=b'5')
            && code[2].is_ascii_digit();
        (before_ok && after_ok && shaped).then(|| Status {
            class: code[0] - b'0',
            subject: 0,
            detail: 0,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(text: &str) -> Option<String> {
        Status::find(text).map(|s| s.to_string())
    }

    #[test]
    fn finds_codes_but_not_addresses_or_versions() {
        assert_eq!(
            status("550 5.1.1 <a@b>: User unknown"),
            Some("5.1.1".into())
        );
        assert_eq!(status("(#4.4.1)"), Some("4.4.1".into()));
        assert_eq!(status("host 195.7.46.14 said"), None);
        assert_eq!(status("Postfix 2.5.1-3"), None);
        assert_eq!(status("5.7.26 unauthenticated"), Some("5.7.26".into()));
        assert_eq!(status("1.2.3.4 and 5.0.0"), Some("5.0.0".into()));
    }

    fn class(code: &str, text: &str) -> Option<BounceClass> {
        classify(Status::find(code), Some("failed"), text)
    }

    #[test]
    fn only_address_failures_count() {
        assert_eq!(class("5.1.1", "user unknown"), Some(BounceClass::Mailbox));
        assert_eq!(
            class("5.2.1", "mailbox disabled"),
            Some(BounceClass::Mailbox)
        );
        assert_eq!(
            class("5.7.1", "message rejected as spam"),
            Some(BounceClass::Policy)
        );
        assert_eq!(
            class(
                "5.7.26",
                "unauthenticated email from x is not accepted due to domain's DMARC policy"
            ),
            Some(BounceClass::Policy)
        );
        assert_eq!(
            class("5.0.0", "550 blocked using zen.spamhaus.org"),
            Some(BounceClass::Policy)
        );
        assert_eq!(
            classify(Status::find("4.2.2"), None, "mailbox full"),
            Some(BounceClass::Temporary)
        );
        assert_eq!(
            class("4.4.7", "delivery time expired"),
            Some(BounceClass::Mailbox),
            "the reporting server gave up: final"
        );
        assert_eq!(
            class("5.3.4", "message too big"),
            Some(BounceClass::Message)
        );
        assert_eq!(
            class("5.0.0", "recipient reached disk quota"),
            Some(BounceClass::Mailbox)
        );
        assert_eq!(
            classify(None, Some("delayed"), "5.1.1"),
            Some(BounceClass::Temporary)
        );
        assert_eq!(classify(None, Some("delivered"), ""), None);
        assert_eq!(
            classify(None, None, "said: 452 too many"),
            Some(BounceClass::Temporary)
        );
        assert_eq!(
            classify(None, None, "554 denied: spam"),
            Some(BounceClass::Policy)
        );
    }

    #[test]
    fn the_most_specific_code_and_the_sender_side_win() {
        let failed =
            |field: &str, reply: &str| classify(Status::find(field), Some("failed"), reply);
        assert_eq!(
            failed("5.1.1", "550 5.7.1 IP address blacklisted by recipient"),
            Some(BounceClass::Policy),
            "the reply's own code beats a guessed Status"
        );
        assert_eq!(
            failed("5.0.0", "550 5.1.8 Sender address rejected"),
            Some(BounceClass::Policy)
        );
        assert_eq!(
            failed(
                "5.1.1",
                "550 5.1.1 <a@b.example> - 192.0.2.1 has sent to too many recipients"
            ),
            Some(BounceClass::Policy),
            "a mailbox code given for the sending IP"
        );
        assert_eq!(
            failed(
                "5.1.1",
                "antispam.example said: 550 5.1.1 <a@b.example>: Recipient address rejected: User unknown"
            ),
            Some(BounceClass::Mailbox),
            "a mailbox code and mailbox words: the address"
        );
        assert_eq!(
            classify(None, None, "Out: 250 2.1.0 Ok\nOut: 550 5.1.1 No such user"),
            Some(BounceClass::Mailbox),
            "success codes quoted in a transcript say nothing"
        );
    }
}

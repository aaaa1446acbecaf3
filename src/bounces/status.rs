//! RFC 3463 enhanced status codes (`5.1.1`), and what a failure says about the member's
//! address. Only a failure of the address itself may count against a member: a message
//! refused as spam, for the sending server's reputation or for DMARC says nothing about the
//! member's mailbox, and dropping good members for it would punish them for our problem.

use std::fmt;

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
        let bytes = text.as_bytes();
        (0..bytes.len()).find_map(|start| {
            let boundary_before = start == 0
                || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'.');
            if !boundary_before || !matches!(bytes[start], b'2' | b'4' | b'5') {
                return None;
            }
            Status::at(&text[start..])
        })
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

/// Words the big providers use when they refuse mail for who sent it rather than for whom
/// it was meant (Gmail, Microsoft, Yahoo, Spamhaus-based filters...).
const POLICY_WORDS: &[&str] = &[
    "spam",
    "unsolicited",
    "blocked",
    "blocklist",
    "block list",
    "blacklist",
    "denylist",
    "dnsbl",
    "spamhaus",
    "reputation",
    "dmarc",
    "policy",
    "banned",
    "access denied",
    "not authorized to send",
    "authentication",
    "rate limit",
];

/// Classifies one failure from its status code (when there is one), the report's action,
/// and the server's words.
pub fn classify(status: Option<Status>, action: Option<&str>, text: &str) -> Option<BounceClass> {
    if matches!(action, Some("delivered" | "relayed" | "expanded")) {
        return None;
    }
    if action == Some("delayed") {
        return Some(BounceClass::Temporary);
    }
    let words = text.to_ascii_lowercase();
    let says_policy = POLICY_WORDS.iter().any(|w| words.contains(w));
    let mut status = status.or_else(|| reply_code_status(&words));
    // The reporting server gave up: whatever the code, the failure is final (RFC 3464 §2.3.3).
    if action == Some("failed") {
        status = status.map(|s| Status {
            class: s.class.max(5),
            ..s
        });
    }
    let Some(status) = status else {
        return Some(if says_policy {
            BounceClass::Policy
        } else {
            BounceClass::Mailbox
        });
    };
    Some(match (status.class, status.subject, status.detail) {
        (2, _, _) => return None,
        (4, _, _) => BounceClass::Temporary,
        (_, 7, _) => BounceClass::Policy,
        (_, 1, _) | (_, 2, 1) | (_, 2, 2) | (_, 4, 4) => BounceClass::Mailbox,
        (_, 6, _) | (_, 2, 3) | (_, 3, 4) => BounceClass::Message,
        _ if says_policy => BounceClass::Policy,
        _ => BounceClass::Mailbox,
    })
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
}

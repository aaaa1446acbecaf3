//! The words of bounces: what a server's reason says about whose fault the failure is.
//!
//! A refusal that is about the sender (the list's server, its address, its reputation, how
//! it connects) must never count against the member: their mailbox works, our mail does
//! not get in. Servers often give such refusals a generic or even a mailbox code (`5.0.0`,
//! `5.1.1`), so their words matter as much as their codes. Phrases are matched whole, at
//! word boundaries, in lowercase: `ptr` must not match "interrupt", nor `spam` "antispam".

/// Phrases that name the sender as the problem, whatever else the reason says.
const ABOUT_THE_SENDER: &[&str] = &[
    "sender address rejected",
    "sender address is",
    "sender rejected",
    "sender denied",
    "sender blocked",
    "sender domain",
    "sender's domain",
    "sender verify",
    "sender verification",
    "sender is not",
    "sender not",
    "senders not allowed",
    "domain of sender",
    "envelope sender",
    "mail from command",
    "reply to mail from",
    "after mail from",
    "return path",
    "return-path",
    "from address",
    "from header",
    "from: header",
    "purported responsible address",
    "valid sender",
    "unauthenticated sender",
    "unauthenticated senders",
    "not allowed to send",
    "not permitted to send",
    "not authorized to send",
    "permission to post",
    "not allowed to post",
    "not a member",
    "non-member",
    "only members",
    "members only",
    "mismatches client ip",
    "does not match your ip",
    ">>> mail from:",
    "after ehlo",
    "after helo",
    "open relay",
    "groups.google.com",
    "message rejected",
    "mail rejected",
];

/// Reasons about how or by whom the mail was sent: blocklists, reputation, reverse DNS,
/// authentication, spam, policy and rate. They name the sender as the problem unless the
/// reason also says, with a mailbox code, that the address does not work (a filter host
/// called "antispam" that answers "user unknown").
const SENDER_SIDE: &[&str] = &[
    "blacklist",
    "blacklisted",
    "black list",
    "blocklist",
    "blocklisted",
    "block list",
    "denylist",
    "dnsbl",
    "rbl",
    "spamhaus",
    "spamcop",
    "sorbs",
    "barracuda",
    "cloudmark",
    "blocked",
    "block",
    "reputation",
    "senderscore",
    "reverse dns",
    "reverse lookup",
    "reverse-dns",
    "rdns",
    "ptr",
    "ptr record",
    "no reverse",
    "fix reverse",
    "client host",
    "client ip",
    "ip",
    "your ip",
    "ip address",
    "your host",
    "your server",
    "helo",
    "ehlo",
    "spam",
    "spammer",
    "spamming",
    "spamassassin",
    "unsolicited",
    "bulk mail",
    "junk mail",
    "policy",
    "policies",
    "not allowed",
    "not permitted",
    "prohibited",
    "refused",
    "denied",
    "banned",
    "administratively",
    "authentication",
    "unauthenticated",
    "not authenticated",
    "spf",
    "dkim",
    "dmarc",
    "rate limit",
    "rate limited",
    "rate-limited",
    "too many",
    "sending rate",
    "at a rate",
    "throttled",
    "throttling",
    "greylisted",
    "greylisting",
    "protocol violation",
    "network not allowed",
    "host network",
    "suspicious",
    "security",
];

/// Reasons that say the address does not work.
const MAILBOX: &[&str] = &[
    "user unknown",
    "unknown user",
    "unknown recipient",
    "recipient unknown",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "no such account",
    "no such address",
    "no mailbox",
    "invalid recipient",
    "invalid mailbox",
    "invalid address",
    "invalid user",
    "mailbox unavailable",
    "mailbox not found",
    "mailbox does not exist",
    "mailbox is full",
    "mailbox full",
    "mailbox has exceeded",
    "over quota",
    "quota exceeded",
    "exceeded storage",
    "recipient not found",
    "address not found",
    "user not found",
    "account does not exist",
    "address does not exist",
    "user does not exist",
    "recipient does not exist",
    "does not exist",
    "doesn't exist",
    "doesn't have",
    "not listed in",
    "account is disabled",
    "account has been disabled",
    "account disabled",
    "account is inactive",
    "mailbox disabled",
    "mailbox is disabled",
    "deactivated",
    "no longer",
    "host unknown",
    "unknown host",
    "domain not found",
    "no such domain",
    "unrouteable",
    "unroutable",
];

/// Reasons about this one message: its size or content.
const ABOUT_THE_MESSAGE: &[&str] = &[
    "virus",
    "malware",
    "infected",
    "too large",
    "too big",
    "message size",
    "size limit",
    "exceeds the maximum",
    "duplicated message-id",
    "hop count exceeded",
];

/// What a reason's words say about whose fault the failure is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Names the sender as the problem outright.
    pub about_the_sender: bool,
    /// Blocklists, reputation, PTR, authentication, spam, policy, rate.
    pub sender_side: bool,
    /// The address does not work.
    pub mailbox: bool,
    /// This message's size or content.
    pub message: bool,
}

pub fn read(text: &str) -> Reading {
    let lower = text.to_lowercase();
    Reading {
        about_the_sender: any(&lower, ABOUT_THE_SENDER),
        sender_side: any(&lower, SENDER_SIDE),
        mailbox: any(&lower, MAILBOX),
        message: any(&lower, ABOUT_THE_MESSAGE),
    }
}

/// Whether `lower` (lowercase text) holds one of `phrases` as whole words.
pub fn any(lower: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|phrase| contains_words(lower, phrase))
}

fn contains_words(lower: &str, phrase: &str) -> bool {
    let bytes = lower.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric();
    let mut from = 0;
    while let Some(at) = lower[from..].find(phrase) {
        let start = from + at;
        let end = start + phrase.len();
        let before = start == 0 || !is_word(bytes[start - 1]);
        let after = end == bytes.len() || !is_word(bytes[end]);
        if before && after {
            return true;
        }
        // Advance by one character, not one byte: the text may be any UTF-8.
        from = start + lower[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_only() {
        assert!(!read("interrupted by antispam.example.net").sender_side);
        assert!(read("no PTR record for 192.0.2.1").sender_side);
        assert!(read("550 5.1.1 <a@b.example>: User unknown").mailbox);
        assert!(read("553 Sender address rejected: domain not found").about_the_sender);
        assert!(!read("550 5.1.1 Recipient address rejected: User unknown").about_the_sender);
        assert!(read("Ünïcode… blocked using zen.spamhaus.org").sender_side);
    }
}

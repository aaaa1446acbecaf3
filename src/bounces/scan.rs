//! Bounces that are not RFC 3464 reports: qmail, old Postfix and Exim, Yahoo, Microsoft and
//! the many "simple" formats. Their words vary endlessly; what tidings needs from them is
//! modest, because the VERP token already names the member and the delivery. So this reads
//! only the human-readable notice (never the returned original message, which quotes the
//! list's own addresses), finds the addresses it names, the status code or reply code it
//! gives, and whether it is a warning or a final failure.

/// Lines that start the copy of the original message in the usual formats.
const ORIGINAL_MESSAGE_MARKERS: &[&str] = &[
    "--- below this line is a copy of the message",
    "original message follows",
    "----- original message",
    "------ this is a copy of the message",
    "--- original message",
    "returned mail follows",
    "unsent message below",
    "----- the following is a copy",
    "start of returned message",
    "original message as received",
    "message text follows",
    "unsent message follows",
    "------- returned message",
    "original mail as follows",
    "content-type: message/rfc822",
];

/// Header fields of a quoted original that no marker announces: three header lines in a row
/// after an empty line, with its route or identity ([`ORIGINAL_IDENTITY_FIELDS`]) or both its
/// From and To, start the original's header. Some notices show a header of their own
/// (To, Cc, Date, Subject), which is not the original.
const ORIGINAL_HEADER_FIELDS: &[&str] = &[
    "received:",
    "return-path:",
    "message-id:",
    "date:",
    "from:",
    "to:",
    "cc:",
    "subject:",
    "mime-version:",
    "content-type:",
    "reply-to:",
    "dkim-signature:",
    "x-",
];

const ORIGINAL_IDENTITY_FIELDS: &[&str] = &["received:", "return-path:", "message-id:"];

/// Lines of a notice that name addresses other than the failed ones: the original's sender,
/// recipients and identifiers, as some notices repeat them.
const NOT_FAILED_LABELS: &[&str] = &[
    "from:",
    "to:",
    "cc:",
    "bcc:",
    "reply-to:",
    "sender:",
    "return-path:",
    "message-id:",
    "in-reply-to:",
    "references:",
    "mail from:",
];

/// Words of warnings about mail still being retried.
const WARNING_WORDS: &[&str] = &[
    "will continue trying",
    "will keep trying",
    "still trying",
    "not yet been delivered",
    "delivery is delayed",
    "delayed mail",
    "this is a warning",
    "warning: message",
    "will retry",
    "temporary failure",
    "delivery attempts will continue",
];

/// Words that make a failure final even when a 4.x.x code is quoted.
const FINAL_WORDS: &[&str] = &[
    "permanent",
    "given up",
    "not going to try again",
    "fatal",
    "could not be delivered",
    "undeliverable",
];

/// Words only a delivery failure uses; without one of them (or a status code) a message to
/// the bounce address is an auto-reply or chatter, not a bounce.
const FAILURE_WORDS: &[&str] = &[
    "undeliver",
    "not be delivered",
    "delivery failed",
    "delivery has failed",
    "failed recipient",
    "unable to deliver",
    "wasn't able to deliver",
    "was not delivered",
    "did not reach",
    "user unknown",
    "unknown user",
    "no such user",
    "does not exist",
    "doesn't exist",
    "doesn't have",
    "not found",
    "invalid recipient",
    "mailbox unavailable",
    "mailbox is full",
    "quota",
    "returned mail",
    "rejected",
    "permanent error",
    "fatal",
    "delivery status notification",
    "failed",
    "did not receive",
    "intended recipient",
    "invalid",
    "unknown host",
    "not recognized",
    "not collected",
    "delivery problems",
    "non-delivered",
    "not delivered",
    "nondeliverable",
    "non-delivery",
    "could not deliver",
    "couldn't be delivered",
    "mail system error",
    "failure reasons",
    "account is disabled",
    "permission to post",
    "exceeded",
    "loop alert",
    "not a member",
    "not member",
    "mail failure",
    "delivery failure",
    "malformed",
];

/// The notice part of a non-standard bounce.
pub struct Notice {
    /// Addresses the notice names, in order, without duplicates.
    pub addresses: Vec<String>,
    pub is_warning: bool,
    /// Says the failure is final, whatever code it quotes.
    pub is_final: bool,
    /// Says something failed at all.
    pub reports_failure: bool,
    /// The lines that explain the failure, for the records and for classification.
    pub text: String,
}

/// Reads `text` (the bounce's human-readable parts, decoded); `ignore` lists addresses that
/// are the bounce's own (its From, To, the list's) rather than failed recipients.
pub fn read(text: &str, ignore: &[String]) -> Notice {
    let notice = before_original_message(text);
    let lower = notice.to_ascii_lowercase();
    let mut addresses: Vec<String> = Vec::new();
    let failed_lines = notice.lines().filter(|line| {
        // Transcripts quote the commands sent: `>>> MAIL From:<sender>`.
        let line = line
            .trim_start_matches([' ', '\t', '>', '<'])
            .to_ascii_lowercase();
        !NOT_FAILED_LABELS
            .iter()
            .any(|label| line.starts_with(label))
    });
    for address in failed_lines.flat_map(addresses_in) {
        let lowered = address.to_ascii_lowercase();
        let is_role = ["postmaster@", "mailer-daemon@", "root@"]
            .iter()
            .any(|r| lowered.starts_with(r));
        let ignored = ignore.iter().any(|i| i.eq_ignore_ascii_case(&address));
        if !is_role && !ignored && !addresses.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            addresses.push(address);
        }
    }
    let warned = WARNING_WORDS.iter().any(|w| lower.contains(w));
    let final_words = FINAL_WORDS.iter().any(|w| lower.contains(w));
    Notice {
        addresses,
        is_warning: warned && !final_words,
        is_final: final_words,
        reports_failure: says_failure(notice),
        text: notice.to_string(),
    }
}

/// Whether `text` (its human-readable parts, or the subject) says that delivery failed.
pub fn says_failure(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    FAILURE_WORDS
        .iter()
        .chain(FINAL_WORDS)
        .any(|w| lower.contains(w))
}

/// The notice without the quoted original that follows it, when there is one.
pub fn before_original_message(text: &str) -> &str {
    let lower = text.to_ascii_lowercase();
    let marked = ORIGINAL_MESSAGE_MARKERS
        .iter()
        .filter_map(|m| lower.find(m));
    let end = marked
        .chain(original_header(&lower))
        .min()
        .unwrap_or(text.len());
    // `find` on the lowercased copy: ASCII lowercasing keeps byte offsets.
    text.get(..end).unwrap_or(text)
}

/// Where a quoted original's header starts in a notice that does not announce it (see
/// [`ORIGINAL_HEADER_FIELDS`]).
fn original_header(lower: &str) -> Option<usize> {
    let starts_with = |line: &str, fields: &[&str]| fields.iter().any(|f| line.starts_with(f));
    let lines: Vec<&str> = lower.split_inclusive('\n').collect();
    let mut offset = 0;
    for (i, line) in lines.iter().enumerate() {
        let after_empty = i == 0 || lines[i - 1].trim().is_empty();
        if after_empty && starts_with(line, ORIGINAL_HEADER_FIELDS) {
            // The block: header lines and their continuation lines.
            let block: Vec<&str> = lines[i..]
                .iter()
                .take_while(|l| {
                    starts_with(l, ORIGINAL_HEADER_FIELDS)
                        || l.starts_with([' ', '\t']) && !l.trim().is_empty()
                })
                .filter(|l| !l.starts_with([' ', '\t']))
                .copied()
                .collect();
            if block.len() >= 3
                && block
                    .iter()
                    .any(|l| starts_with(l, ORIGINAL_IDENTITY_FIELDS))
            {
                return Some(offset);
            }
        }
        offset += line.len();
    }
    None
}

/// Mail addresses in free text: `local@domain` with a dot in the domain, stripped of the
/// brackets, quotes and punctuation around them.
fn addresses_in(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '<' | '>' | '(' | ')' | '"' | '\'' | ',' | ';' | '[' | ']'
            )
    })
    .filter_map(|word| {
        let word = word.trim_matches(|c: char| matches!(c, '.' | ':' | '!' | '?'));
        let word = word.strip_prefix("mailto:").unwrap_or(word);
        let word = word.strip_prefix("rfc822;").unwrap_or(word);
        let (local, domain) = word.rsplit_once('@')?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&*+-/=?^_`{|}~.".contains(&b));
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        (local_ok && domain_ok).then(|| word.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmail_notice_names_the_address_not_the_original() {
        let text = "Hi. This is the qmail-send program at gate0.example.net.\n\
            I'm afraid I wasn't able to deliver your message to the following addresses.\n\
            This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
            <userx@example.de>:\n\n--- Below this line is a copy of the message.\n\n\
            From: list@lists.example.org\n";
        let notice = read(text, &[]);
        assert_eq!(notice.addresses, ["userx@example.de"]);
        assert!(!notice.is_warning);
    }

    #[test]
    fn warnings_and_ignored_addresses() {
        let text = "This is a warning: message to <a@example.org> not yet been delivered; \
                    will continue trying. Contact postmaster@example.net or list-bounces@l.example.";
        let notice = read(text, &["list-bounces@l.example".into()]);
        assert_eq!(notice.addresses, ["a@example.org"]);
        assert!(notice.is_warning);
    }
}

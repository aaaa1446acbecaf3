//! The list's attachment policy: attachments (and inline images) of a type outside
//! `allowed_types`, or larger than `max_part_size`, hold the posting for a moderator or
//! refuse it, as `attachment_action` says. The text of the message itself (text parts not
//! marked as attachments, such as both halves of a multipart/alternative) is always fine;
//! its size is for `max_message_size` to judge.

use crate::config::{AttachmentAction, ListConfig};
use crate::pipeline::parts::Part;
use crate::pipeline::{Decision, Posting};

const RULE: &str = "attachments";

/// The first thing wrong with a posting's attachments.
enum Offence<'a> {
    Type(&'a Part),
    TooBig(&'a Part),
}

pub fn check(posting: &Posting) -> Option<Decision> {
    let list = posting.list;
    let offence = posting
        .message
        .parts
        .iter()
        .filter(|part| !part.body_text)
        .find_map(|part| offence(list, part))?;
    Some(match list.attachment_action {
        AttachmentAction::Hold => Decision::Hold {
            rule: RULE,
            reason: match offence {
                Offence::Type(_) => "attachment_type",
                Offence::TooBig(_) => "attachment_too_big",
            },
        },
        AttachmentAction::Reject => refusal(list, &posting.list_address(), &offence),
    })
}

fn offence<'a>(list: &ListConfig, part: &'a Part) -> Option<Offence<'a>> {
    if !list.allows_type(&part.content_type) {
        Some(Offence::Type(part))
    } else if list.max_part_size > 0 && part.size as u64 > list.max_part_size {
        Some(Offence::TooBig(part))
    } else {
        None
    }
}

/// The SMTP refusal, which the sender's own server reports to them: it names the part and
/// what the list takes instead, so that they can send it again in a form that passes.
fn refusal(list: &ListConfig, address: &str, offence: &Offence) -> Decision {
    let (status, reason) = match offence {
        Offence::Type(part) => (
            // RFC 3463: media not supported.
            "5.6.1",
            format!(
                "{address} does not accept attachments of type {}{}; it accepts {}",
                part.content_type,
                named(part),
                list.allowed_types.join(", ")
            ),
        ),
        Offence::TooBig(part) => (
            // RFC 3463: message too big for system.
            "5.3.4",
            format!(
                "{address} does not accept attachments larger than {}; the attachment{} is {}",
                human_size(list.max_part_size),
                named(part),
                human_size(part.size as u64)
            ),
        ),
    };
    Decision::Reject {
        rule: RULE,
        status,
        reason,
    }
}

fn named(part: &Part) -> String {
    part.file_name
        .as_deref()
        .map(|name| format!(" ({name})"))
        .unwrap_or_default()
}

/// Sizes as people read them: `512 bytes`, `300 KB`, `2.5 MB` (1 KB = 1024 bytes).
fn human_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    const MB: u64 = 1024 * KB;
    if bytes < KB {
        format!("{bytes} bytes")
    } else if bytes < MB {
        format!("{} KB", bytes.div_ceil(KB))
    } else {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::rules::testing::{list, message, posting};

    const POLICY: &str = r#"
        allowed_types = ["application/pdf", "image/*"]
        max_part_size = 1000
    "#;

    /// A message with a text body and one attachment of `kind` holding `bytes` bytes.
    fn with_attachment(kind: &str, bytes: usize) -> String {
        format!(
            "From: a@ngo.example\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
             --m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
             --a\r\nContent-Type: text/plain\r\n\r\n{text}\r\n\
             --a\r\nContent-Type: text/html\r\n\r\n<p>{text}</p>\r\n\
             --a--\r\n\
             --m\r\nContent-Type: {kind}\r\n\
             Content-Disposition: attachment; filename=\"file\"\r\n\r\n{body}\r\n\
             --m--\r\n",
            text = "long text ".repeat(500),
            body = "x".repeat(bytes),
        )
    }

    fn decide(policy: &str, raw: &str) -> Option<Decision> {
        let list = list(policy);
        let message = message(raw);
        check(&posting(&list, &message, true))
    }

    fn held(reason: &'static str) -> Option<Decision> {
        Some(Decision::Hold { rule: RULE, reason })
    }

    #[test]
    fn allowed_attachments_and_long_texts_pass() {
        assert_eq!(
            decide(POLICY, &with_attachment("application/pdf", 1000)),
            None
        );
        assert_eq!(decide(POLICY, &with_attachment("image/png", 10)), None);
        assert_eq!(decide("", &with_attachment("application/zip", 5000)), None);
    }

    #[test]
    fn other_types_and_big_attachments_are_held() {
        let zip = with_attachment("application/zip", 10);
        assert_eq!(decide(POLICY, &zip), held("attachment_type"));
        let big = with_attachment("application/pdf", 1001);
        assert_eq!(decide(POLICY, &big), held("attachment_too_big"));
        let csv = with_attachment("text/csv", 10);
        assert_eq!(
            decide(POLICY, &csv),
            held("attachment_type"),
            "attached text"
        );
    }

    #[test]
    fn rejecting_lists_say_what_they_take() {
        let policy = format!("{POLICY}\nattachment_action = \"reject\"");
        let zip = with_attachment("application/zip", 10);
        assert_eq!(
            decide(&policy, &zip),
            Some(Decision::Reject {
                rule: RULE,
                status: "5.6.1",
                reason: "team@lists.example.org does not accept attachments of type \
                         application/zip (file); it accepts application/pdf, image/*"
                    .into()
            })
        );
        let big = with_attachment("image/jpeg", 2000);
        let Some(Decision::Reject { status, reason, .. }) = decide(&policy, &big) else {
            panic!("a big attachment is refused");
        };
        assert_eq!(status, "5.3.4");
        assert!(
            reason.ends_with("larger than 1000 bytes; the attachment (file) is 2 KB"),
            "{reason}"
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_size(512), "512 bytes");
        assert_eq!(human_size(300 * 1024), "300 KB");
        assert_eq!(human_size(5 * 1024 * 1024 / 2), "2.5 MB");
    }
}

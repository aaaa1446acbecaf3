//! Mail that no person wrote: auto-responders, delivery reports, other lists. tidings never
//! acts on it and never answers it, so that two robots cannot keep each other busy
//! (RFC 3834).

use mail_parser::{Message, MimeHeaders};

/// Why a message is automatic, or `None` for a message a person sent.
pub fn automatic(message: &Message, envelope_from: &str) -> Option<&'static str> {
    if envelope_from.trim().is_empty() || envelope_from.trim() == "<>" {
        return Some("null envelope sender (a delivery report)");
    }
    let local = envelope_from
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(local.as_str(), "mailer-daemon" | "postmaster" | "nobody")
        || local.ends_with("-bounces")
    {
        return Some("sender is a mail system");
    }
    let header = |name: &str| -> Option<String> {
        message
            .header_raw(name)
            .map(|value| value.trim().to_ascii_lowercase())
    };
    if header("Auto-Submitted").is_some_and(|value| !value.starts_with("no")) {
        return Some("Auto-Submitted");
    }
    if header("Precedence").is_some_and(|value| matches!(value.as_str(), "bulk" | "junk" | "list"))
    {
        return Some("Precedence bulk, junk or list");
    }
    let robot_headers = [
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Response-Suppress",
        "List-Id",
    ];
    if let Some(name) = robot_headers.iter().find(|name| header(name).is_some()) {
        return Some(match *name {
            "List-Id" => "came through a mailing list",
            _ => "auto-responder header",
        });
    }
    if message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("a delivery or disposition report");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::automatic;
    use mail_parser::MessageParser;

    fn check(headers: &str, envelope_from: &str) -> Option<&'static str> {
        let raw = format!("From: a@ngo.example\r\n{headers}Subject: x\r\n\r\nsubscribe\r\n");
        let message = MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parses");
        automatic(&message, envelope_from)
    }

    #[test]
    fn robots_are_recognised_and_people_are_not() {
        assert_eq!(check("", "a@ngo.example"), None);
        assert_eq!(check("Auto-Submitted: no\r\n", "a@ngo.example"), None);
        assert!(check("Auto-Submitted: auto-replied\r\n", "a@ngo.example").is_some());
        assert!(check("Precedence: bulk\r\n", "a@ngo.example").is_some());
        assert!(check("X-Autoreply: yes\r\n", "a@ngo.example").is_some());
        assert!(check("", "").is_some());
        assert!(check("", "MAILER-DAEMON@mx.example").is_some());
        assert!(check(
            "Content-Type: multipart/report; report-type=delivery-status\r\n",
            "a@ngo.example"
        )
        .is_some());
    }
}

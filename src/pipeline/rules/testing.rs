//! What the rules' unit tests share: a list, a message and a posting built without a
//! database.

use crate::config::ListConfig;
use crate::pipeline::{ParsedMessage, Posting};

/// The list `team`, members-only, with `extra` TOML keys added or replacing the defaults.
pub fn list(extra: &str) -> ListConfig {
    let defaults = [
        ("name", "\"team\""),
        ("display_name", "\"Team\""),
        ("posting", "\"members\""),
        ("subscription", "\"closed\""),
        ("visibility", "\"confidential\""),
    ];
    let mut text = format!("{extra}\n");
    for (key, value) in defaults {
        if !extra.contains(&format!("{key} =")) {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    toml::from_str(&text).expect("test list")
}

pub fn message(raw: &str) -> ParsedMessage {
    ParsedMessage::parse(raw.as_bytes()).expect("test message")
}

/// A short message whose From is `author`.
pub fn message_from(author: &str) -> ParsedMessage {
    message(&format!(
        "From: Author <{author}>\r\nTo: team@lists.example.org\r\nSubject: hi\r\n\r\nHello\r\n"
    ))
}

pub fn posting<'a>(
    list: &'a ListConfig,
    message: &'a ParsedMessage,
    author_is_subscriber: bool,
) -> Posting<'a> {
    Posting {
        list,
        domain: "lists.example.org",
        message,
        author_is_subscriber,
        author_authenticated: None,
        outsiders: 0,
    }
}

//! DMARC mitigation as Mailman 3 does it ("munge From"): when the author's domain would
//! have receivers reject a relayed posting, the list sends it under its own address, naming
//! the author in the display name, and keeps the author reachable through Reply-To.

use mail_parser::MessageParser;

use super::ListDecoration;
use crate::links::Role;
use crate::message::{Field, RawMessage};

pub(super) fn apply(msg: &mut RawMessage, list: &ListDecoration) {
    let Some(from) = msg.field("From").cloned() else {
        return;
    };
    let author_name = author_name(from.as_bytes());
    let display = format!("{author_name} via {}", list.display_name);
    msg.replace_field(Field::address("From", &display, &list.address(Role::Post)));
    // An author who set Reply-To chose where replies go; otherwise they go to the author,
    // with the original field's bytes, since re-encoding could only lose something.
    if msg.field("Reply-To").is_none() {
        msg.append_field(from.renamed("Reply-To"));
    }
}

/// The author's display name or, when there is none, the address written as
/// `alice at ngo.example`: a display name that looks like an address (other than the one
/// the field holds) is what phishing looks like to receivers and readers alike.
fn author_name(from_field: &[u8]) -> String {
    let parsed = MessageParser::default().parse_headers(from_field);
    let author = parsed
        .as_ref()
        .and_then(|m| m.from())
        .and_then(|from| from.first());
    let name = author.and_then(|a| a.name().filter(|n| !n.trim().is_empty()));
    let address = || {
        author
            .and_then(|a| a.address())
            .map(|a| a.replacen('@', " at ", 1))
    };
    name.map(str::to_owned)
        .or_else(address)
        .unwrap_or_else(|| "someone".to_owned())
}

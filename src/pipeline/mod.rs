//! What happens to a posting between the SMTP transaction and the queue, as in Mailman:
//! [`parse`] refuses what is not a message, the [`rules`] run in order and the first one that
//! objects decides (a [`Decision`]), and [`decorate`] adds the list's headers and footer to an
//! accepted posting once, before it is expanded into deliveries.

pub mod decorate;
pub mod parse;
pub mod parts;
pub mod rules;

use crate::config::ListConfig;

pub use parse::{Malformed, ParsedMessage};

/// A posting on its way through the rules: the message, the list, and the facts the rules
/// need from the database, looked up once beforehand.
#[derive(Debug)]
pub struct Posting<'a> {
    pub list: &'a ListConfig,
    pub domain: &'a str,
    pub message: &'a ParsedMessage,
    /// Whether the author (From) is an active subscriber of the list.
    pub author_is_subscriber: bool,
    /// Checked only for a member's posting to a confidential list.
    pub confidentiality: Option<Confidentiality>,
}

/// What a member's posting to a confidential list must prove before it is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confidentiality {
    /// Whether the author's domain vouches for the From address (DKIM or SPF, aligned).
    pub author_authenticated: bool,
    /// Addresses in To or Cc that are neither members nor this list's own addresses.
    pub outsiders: usize,
}

impl Posting<'_> {
    /// The list's address, `name@domain`.
    pub fn list_address(&self) -> String {
        format!("{}@{}", self.list.name, self.domain)
    }

    /// The RFC 2919 list identifier, `name.domain`.
    pub fn list_id(&self) -> String {
        format!("{}.{}", self.list.name, self.domain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Accept,
    /// Dropped without a word to anyone (a loop): answering would feed the loop.
    Discard {
        rule: &'static str,
        reason: String,
    },
    /// Kept for a moderator to decide; `reason` is a code the moderator notice explains.
    Hold {
        rule: &'static str,
        reason: &'static str,
    },
    /// Refused during the SMTP/LMTP transaction, so the sender's own server reports it.
    Reject {
        rule: &'static str,
        status: &'static str,
        reason: String,
    },
}

/// Runs the rules in order; the first that objects decides.
pub fn judge(posting: &Posting) -> Decision {
    rules::ORDER
        .iter()
        .find_map(|(_, rule)| rule(posting))
        .unwrap_or(Decision::Accept)
}

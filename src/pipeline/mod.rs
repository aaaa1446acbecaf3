//! What happens to a posting between the SMTP transaction and the queue, as in Mailman:
//! [`parse`] refuses what is not a message, the [`rules`] run in order and the first one that
//! objects decides (a [`Decision`]), and [`decorate`] adds the list's headers and footer to an
//! accepted posting once, before it is expanded into deliveries.

pub mod decorate;
pub mod parse;
pub mod parts;
pub mod rules;

use crate::config::{ListConfig, PostingPolicy, Visibility};
use crate::links::{self, Role};

pub use parse::{Malformed, ParsedMessage};

/// A posting on its way through the rules: the message, the list, and the facts the rules
/// need from the database and the DNS, looked up once beforehand.
#[derive(Debug)]
pub struct Posting<'a> {
    pub list: &'a ListConfig,
    pub domain: &'a str,
    pub message: &'a ParsedMessage,
    /// Whether the author (From) is an active subscriber of the list.
    pub author_is_subscriber: bool,
    /// Whether the author's domain vouches for the From address (aligned DKIM or SPF, or
    /// the trusted front MTA's results); asked only where [`needs_proof`] says a right
    /// depends on it, `None` elsewhere.
    pub author_authenticated: Option<bool>,
    /// To and Cc addresses that are neither members nor this list's own addresses; counted
    /// only where [`counts_outsiders`] says so, 0 elsewhere.
    pub outsiders: usize,
}

/// Whether a posting to `list` from `author` claims a right that a From header alone cannot
/// give, since anyone can write any From: to speak to a confidential list at all, or to an
/// announcement list's subscribers as one of its posters (or an address in its
/// `accept_these`). Members of other lists post on their From alone, as in Mailman.
pub fn needs_proof(list: &ListConfig, author: &str) -> bool {
    list.visibility == Visibility::Confidential
        || (list.posting == PostingPolicy::Announce
            && (list.is_poster(author) || list.accept_these.matches(author)))
}

/// Whether the To and Cc of a posting must be checked for people outside the list: only for
/// a confidential list's proven insiders, whose posting would otherwise go out. Checking
/// anyone else's would let an outsider learn who is a member.
pub fn counts_outsiders(list: &ListConfig, insider: bool, authenticated: Option<bool>) -> bool {
    list.visibility == Visibility::Confidential && insider && authenticated == Some(true)
}

impl Posting<'_> {
    /// The list's address, `name@domain`.
    pub fn list_address(&self) -> String {
        links::address(&self.list.name, Role::Post, self.domain)
    }

    /// The RFC 2919 list identifier, `name.domain`.
    pub fn list_id(&self) -> String {
        links::list_id(&self.list.name, self.domain)
    }

    /// The From address, empty when there is none.
    pub fn author(&self) -> &str {
        self.message.from.as_deref().unwrap_or_default()
    }

    /// Whether the author may post here as if a member: a subscriber, or named in the
    /// list's `accept_these`.
    pub fn author_is_insider(&self) -> bool {
        self.author_is_subscriber || self.list.accept_these.matches(self.author())
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

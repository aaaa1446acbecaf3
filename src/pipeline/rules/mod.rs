//! One small rule per file, each answering "does this posting stop here?". A rule returns
//! `None` to let the posting go on to the next one.

mod attachments;
mod confidential;
mod loop_detect;
mod max_size;
mod posting_policy;
mod sender_filter;
#[cfg(test)]
mod testing;

use super::{Decision, Posting};

pub type Rule = fn(&Posting) -> Option<Decision>;

/// The rules, in the order they run. Who may post is settled before what they may post, as
/// in Mailman: the list's own sender filters first (their discards and refusals spare the
/// moderators), then a confidential list's proof that an insider really sent it and keeps it
/// among members (which `accept_these` does not bypass), then the posting policy, so that a
/// non-member's oversized posting is refused rather than held; size and attachments apply
/// to everyone let through. On a confidential list no rule after `confidential` sees an
/// unproven outsider, so no answer there depends on who is a member.
pub const ORDER: &[(&str, Rule)] = &[
    ("loop", loop_detect::check),
    ("sender-filter", sender_filter::check),
    ("confidential", confidential::check),
    ("posting-policy", posting_policy::check),
    ("max-size", max_size::check),
    ("attachments", attachments::check),
];

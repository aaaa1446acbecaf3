//! One small rule per file, each answering "does this posting stop here?". A rule returns
//! `None` to let the posting go on to the next one.

mod confidential;
mod loop_detect;
mod posting_policy;

use super::{Decision, Posting};

pub type Rule = fn(&Posting) -> Option<Decision>;

/// The rules, in the order they run.
pub const ORDER: &[(&str, Rule)] = &[
    ("loop", loop_detect::check),
    ("confidential", confidential::check),
    ("posting-policy", posting_policy::check),
];

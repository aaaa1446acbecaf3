//! Who may post: `announce` lists take postings from their listed posters only, `members`
//! lists from their subscribers, `moderated` lists from their subscribers once a moderator
//! agrees, `open` lists from anyone. The author is the From address,
//! the one readers see.

use crate::config::PostingPolicy;
use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let author = posting.message.from.as_deref().unwrap_or_default();
    let list = posting.list_address();
    let refused = |reason: String| {
        Some(Decision::Reject {
            rule: "posting-policy",
            status: "5.7.1",
            reason,
        })
    };
    match posting.list.posting {
        PostingPolicy::Open => None,
        PostingPolicy::Members | PostingPolicy::Moderated if !posting.author_is_subscriber => {
            refused(format!("only members of {list} may post to it"))
        }
        PostingPolicy::Members => None,
        PostingPolicy::Moderated => Some(Decision::Hold {
            rule: "posting-policy",
            reason: "moderated",
        }),
        PostingPolicy::Announce
            if posting
                .list
                .posters
                .iter()
                .any(|p| p.eq_ignore_ascii_case(author)) =>
        {
            None
        }
        PostingPolicy::Announce => refused(format!(
            "{list} is an announcement list: only its designated posters may post to it"
        )),
    }
}

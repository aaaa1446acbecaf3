//! Who may post: `announce` lists take postings from their listed posters only, `members`
//! lists from their subscribers, `moderated` lists from their subscribers once a moderator
//! agrees, `open` lists from anyone. The author is the From address,
//! the one readers see. Authors named in the list's `accept_these` are let through whatever
//! the policy, as Mailman's "accept" action for non-members.

use crate::config::PostingPolicy;
use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let author = posting.message.from.as_deref().unwrap_or_default();
    if posting.list.accept_these.matches(author) {
        return None;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::rules::testing::{list, message_from, posting};

    const POSTER: &str = "secretariat@coalition.example";

    fn decide(policy: &str, author: &str, subscriber: bool) -> Option<Decision> {
        let list = list(&format!(
            "posting = \"{policy}\"\nposters = [\"{POSTER}\"]\n\
             accept_these = [\"@partner.example\"]"
        ));
        let message = message_from(author);
        check(&posting(&list, &message, subscriber))
    }

    fn refused(decision: Option<Decision>) -> bool {
        matches!(
            decision,
            Some(Decision::Reject {
                status: "5.7.1",
                ..
            })
        )
    }

    #[test]
    fn each_policy_takes_its_posters() {
        assert_eq!(decide("open", "anyone@ngo.example", false), None);
        assert_eq!(decide("members", "member@ngo.example", true), None);
        assert!(refused(decide("members", "outsider@ngo.example", false)));
        assert_eq!(decide("announce", POSTER, false), None);
        assert!(refused(decide("announce", "member@ngo.example", true)));
        assert_eq!(
            decide("moderated", "member@ngo.example", true),
            Some(Decision::Hold {
                rule: "posting-policy",
                reason: "moderated"
            })
        );
        assert!(refused(decide("moderated", "outsider@ngo.example", false)));
    }

    #[test]
    fn accepted_senders_pass_every_policy() {
        for policy in ["members", "announce", "moderated"] {
            assert_eq!(
                decide(policy, "chair@partner.example", false),
                None,
                "{policy}"
            );
        }
    }
}

//! Who may post: `announce` lists take postings from their listed posters only, `members`
//! lists from their subscribers, `moderated` lists from their subscribers once a moderator
//! agrees, `open` lists from anyone. The author is the From address,
//! the one readers see. Authors named in the list's `accept_these` are let through whatever
//! the policy, as Mailman's "accept" action for non-members.
//!
//! Where the right is a privilege (see [`crate::pipeline::needs_proof`]), the From must be
//! proven: an unproven posting "from the Secretariat" is held for the moderators with the
//! reason `unauthenticated`, never sent to every subscriber under the list's signature.

use crate::config::PostingPolicy;
use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let author = posting.author();
    if posting.list.accept_these.matches(author) {
        return unproven(posting);
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
        PostingPolicy::Announce if posting.list.is_poster(author) => unproven(posting),
        PostingPolicy::Announce => refused(format!(
            "{list} is an announcement list: only its designated posters may post to it"
        )),
    }
}

/// A privileged author's posting whose From was asked for a proof and had none is held.
fn unproven(posting: &Posting) -> Option<Decision> {
    (posting.author_authenticated == Some(false)).then_some(Decision::Hold {
        rule: "posting-policy",
        reason: "unauthenticated",
    })
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
    fn an_unproven_poster_is_held() {
        let list = list(&format!("posting = \"announce\"\nposters = [\"{POSTER}\"]"));
        let message = message_from(POSTER);
        let decide = |authenticated| {
            check(&crate::pipeline::Posting {
                author_authenticated: authenticated,
                ..posting(&list, &message, false)
            })
        };
        assert_eq!(decide(Some(true)), None);
        assert_eq!(
            decide(Some(false)),
            Some(Decision::Hold {
                rule: "posting-policy",
                reason: "unauthenticated"
            })
        );
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

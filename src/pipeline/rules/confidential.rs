//! A confidential list's postings stay among its members, and the list says nothing about
//! who they are. A posting from an insider (a member, or an address in `accept_these`) is
//! held when nothing proves the insider sent it (From alone is trivially forged, and a
//! forged posting would put words in a member's mouth in front of the whole team), or when
//! its To or Cc would carry it to people outside the list.
//!
//! An unproven posting from anyone else is dropped without a word and counted, and the
//! SMTP answer is the 250 an unproven member's posting gets when it is held: refusing it
//! would tell anyone who tries an address whether it is on the roster. Only an outsider
//! whose domain proved the From is refused, by the posting policy; that tells them nothing
//! but what they know.

use crate::config::Visibility;
use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    if posting.list.visibility != Visibility::Confidential {
        return None;
    }
    let hold = |reason| {
        Some(Decision::Hold {
            rule: "confidential",
            reason,
        })
    };
    let proven = posting.author_authenticated == Some(true);
    match (proven, posting.author_is_insider()) {
        (true, true) if posting.outsiders > 0 => hold("outside_recipients"),
        (true, _) => None,
        (false, true) => hold("unauthenticated"),
        (false, false) => Some(Decision::Discard {
            rule: "confidential",
            reason: "unauthenticated posting from a non-member".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::rules::testing::{list, message_from, posting};

    fn judge(member: bool, authenticated: Option<bool>, outsiders: usize) -> Option<Decision> {
        let list = list("accept_these = [\"guest@partner.example\"]");
        let message = message_from(if member {
            "a@ngo.example"
        } else {
            "stranger@ngo.example"
        });
        check(&crate::pipeline::Posting {
            author_authenticated: authenticated,
            outsiders,
            ..posting(&list, &message, member)
        })
    }

    fn held(reason: &'static str) -> Option<Decision> {
        Some(Decision::Hold {
            rule: "confidential",
            reason,
        })
    }

    #[test]
    fn proven_members_among_members_pass() {
        assert_eq!(judge(true, Some(true), 0), None);
    }

    #[test]
    fn unproven_or_copied_outside_is_held() {
        assert_eq!(judge(true, Some(false), 0), held("unauthenticated"));
        assert_eq!(judge(true, None, 0), held("unauthenticated"));
        assert_eq!(judge(true, Some(true), 2), held("outside_recipients"));
    }

    #[test]
    fn unproven_outsiders_are_dropped_and_proven_ones_left_to_the_policy() {
        assert!(matches!(
            judge(false, Some(false), 0),
            Some(Decision::Discard {
                rule: "confidential",
                ..
            })
        ));
        assert_eq!(judge(false, Some(true), 0), None);
    }

    #[test]
    fn accept_these_passes_the_same_gates_as_a_member() {
        let list = list("accept_these = [\"guest@partner.example\"]");
        let message = message_from("guest@partner.example");
        let judge = |authenticated, outsiders| {
            check(&crate::pipeline::Posting {
                author_authenticated: authenticated,
                outsiders,
                ..posting(&list, &message, false)
            })
        };
        assert_eq!(judge(Some(false), 0), held("unauthenticated"));
        assert_eq!(judge(Some(true), 1), held("outside_recipients"));
        assert_eq!(judge(Some(true), 0), None);
    }
}

//! A confidential list's postings stay among its members. A member's posting is held when
//! nothing proves the member sent it (From alone is trivially forged, and a forged posting
//! would put words in a member's mouth in front of the whole team), or when its To or Cc
//! would carry it to people outside the list. Postings from non-members are left to the
//! posting policy, which refuses them.

use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let facts = posting.confidentiality?;
    let hold = |reason| {
        Some(Decision::Hold {
            rule: "confidential",
            reason,
        })
    };
    if !facts.author_authenticated {
        hold("unauthenticated")
    } else if facts.outsiders > 0 {
        hold("outside_recipients")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ListConfig, PostingPolicy, SubscriptionPolicy, Visibility};
    use crate::pipeline::{Confidentiality, ParsedMessage};

    fn judge(confidentiality: Option<Confidentiality>) -> Option<Decision> {
        let list: ListConfig = toml::from_str(
            "name = \"team\"\ndisplay_name = \"Team\"\nposting = \"members\"\n\
             subscription = \"closed\"\nvisibility = \"confidential\"",
        )
        .expect("list");
        assert_eq!(list.posting, PostingPolicy::Members);
        assert_eq!(list.subscription, SubscriptionPolicy::Closed);
        assert_eq!(list.visibility, Visibility::Confidential);
        let message =
            ParsedMessage::parse(b"From: a@ngo.example\r\nTo: team@l.example\r\n\r\nhi\r\n")
                .expect("message");
        check(&Posting {
            list: &list,
            domain: "l.example",
            message: &message,
            author_is_subscriber: true,
            confidentiality,
        })
    }

    fn held(reason: &'static str) -> Option<Decision> {
        Some(Decision::Hold {
            rule: "confidential",
            reason,
        })
    }

    #[test]
    fn authenticated_members_among_members_pass() {
        let facts = Confidentiality {
            author_authenticated: true,
            outsiders: 0,
        };
        assert_eq!(judge(Some(facts)), None);
        assert_eq!(judge(None), None);
    }

    #[test]
    fn unauthenticated_or_copied_outside_is_held() {
        let unauthenticated = Confidentiality {
            author_authenticated: false,
            outsiders: 0,
        };
        assert_eq!(judge(Some(unauthenticated)), held("unauthenticated"));
        let copied = Confidentiality {
            author_authenticated: true,
            outsiders: 2,
        };
        assert_eq!(judge(Some(copied)), held("outside_recipients"));
    }
}

//! The list's own sender filters, as Mailman's `*_these_nonmembers`: senders named in
//! `discard_these`, `reject_these` or `hold_these` are dropped, refused or held whatever the
//! posting policy; senders named in `accept_these` go on, and the posting policy lets them
//! through. The sender is the From address, as for the posting policy.

use crate::config::SenderAction;
use crate::pipeline::{Decision, Posting};

const RULE: &str = "sender-filter";

pub fn check(posting: &Posting) -> Option<Decision> {
    let author = posting.message.from.as_deref()?;
    match posting.list.sender_action(author)? {
        SenderAction::Accept => None,
        SenderAction::Discard => Some(Decision::Discard {
            rule: RULE,
            reason: "sender named in discard_these".into(),
        }),
        SenderAction::Reject => Some(Decision::Reject {
            rule: RULE,
            status: "5.7.1",
            reason: format!(
                "{} does not accept postings from your address",
                posting.list_address()
            ),
        }),
        SenderAction::Hold => Some(Decision::Hold {
            rule: RULE,
            reason: "sender_filter",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::rules::testing::{list, message_from, posting};

    const FILTERS: &str = r#"
        accept_these = ["friend@spam.example"]
        discard_these = ["@spam.example"]
        reject_these = ['^.*@(.+\.)?junk\.example$']
        hold_these = ["@watch.example", "twice@junk.example"]
    "#;

    fn decide(author: &str) -> Option<Decision> {
        let list = list(FILTERS);
        let message = message_from(author);
        check(&posting(&list, &message, false))
    }

    #[test]
    fn unnamed_and_accepted_senders_go_on() {
        assert_eq!(decide("someone@ngo.example"), None);
        assert_eq!(
            decide("friend@spam.example"),
            None,
            "accept wins over discard"
        );
    }

    #[test]
    fn named_senders_are_discarded_refused_or_held() {
        assert!(matches!(
            decide("bot@spam.example"),
            Some(Decision::Discard { rule: RULE, .. })
        ));
        assert_eq!(
            decide("x@mail.junk.example"),
            Some(Decision::Reject {
                rule: RULE,
                status: "5.7.1",
                reason: "team@lists.example.org does not accept postings from your address".into()
            })
        );
        assert_eq!(
            decide("twice@junk.example"),
            decide("x@junk.example"),
            "reject wins over hold"
        );
        assert_eq!(
            decide("reader@watch.example"),
            Some(Decision::Hold {
                rule: RULE,
                reason: "sender_filter"
            })
        );
    }
}

//! A list may take smaller postings than the server: a larger one is held for a moderator,
//! as Mailman does, who may still let an exceptional one through.

use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let limit = posting.list.max_message_size;
    (limit > 0 && posting.message.size as u64 > limit).then_some(Decision::Hold {
        rule: "max-size",
        reason: "too_big",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::rules::testing::{list, message, posting};

    fn decide(limit: u64, body_bytes: usize) -> Option<Decision> {
        let list = list(&format!("max_message_size = {limit}"));
        let raw = format!("From: a@ngo.example\r\n\r\n{}", "x".repeat(body_bytes));
        let message = message(&raw);
        check(&posting(&list, &message, true))
    }

    #[test]
    fn postings_over_the_limit_are_held() {
        // The header is 23 bytes: 23 + 77 = 100.
        assert_eq!(decide(100, 77), None);
        assert_eq!(
            decide(100, 78),
            Some(Decision::Hold {
                rule: "max-size",
                reason: "too_big"
            })
        );
    }

    #[test]
    fn zero_means_no_limit_of_its_own() {
        assert_eq!(decide(0, 100_000), None);
    }
}

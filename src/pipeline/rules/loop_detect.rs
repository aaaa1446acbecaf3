//! A message that already carries this list's List-Id or X-Loop has been through the list
//! once: distributing it again would start a mail loop.

use crate::pipeline::{Decision, Posting};

pub fn check(posting: &Posting) -> Option<Decision> {
    let list_id = posting.list_id();
    let address = posting.list_address();
    let seen_list_id = posting
        .message
        .list_ids
        .iter()
        .any(|id| id.contains(&list_id));
    let seen_x_loop = posting
        .message
        .x_loops
        .iter()
        .any(|value| value.contains(&address));
    (seen_list_id || seen_x_loop).then(|| Decision::Discard {
        rule: "loop",
        reason: format!("message already went through {address}"),
    })
}

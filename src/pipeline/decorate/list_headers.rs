//! RFC 2369 / RFC 2919 list headers.

use super::ListDecoration;
use crate::message::{Field, RawMessage, LIST_FIELDS};

pub(super) fn apply(msg: &mut RawMessage, list: &ListDecoration) {
    // Another list (or the poster) may have set them: letting them through would point our
    // members at someone else's list.
    for name in LIST_FIELDS.iter().chain(&["Precedence"]) {
        msg.remove(name);
    }
    let domain = list.domain_part();
    let list_id = format!("{}.{domain}", list.local_part(""));
    msg.append_field(Field::address("List-Id", list.display_name, &list_id));
    let post = if list.posting_allowed_to_all_members {
        format!("<mailto:{}>", list.posting_address())
    } else {
        "NO".to_owned()
    };
    msg.append("List-Post", &post);
    let help = format!(
        "<mailto:{}@{domain}?subject=help>",
        list.local_part("-request")
    );
    msg.append("List-Help", &help);
    let join = format!("<mailto:{}@{domain}>", list.local_part("-join"));
    msg.append("List-Subscribe", &join);
    let owner = format!("<mailto:{}@{domain}>", list.local_part("-owner"));
    msg.append("List-Owner", &owner);
    msg.append("Precedence", "list");
    msg.append("X-Loop", &list.posting_address());
}

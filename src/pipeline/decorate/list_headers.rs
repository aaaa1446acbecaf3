//! RFC 2369 / RFC 2919 list headers.

use super::ListDecoration;
use crate::links::{self, Role};
use crate::message::{Field, RawMessage, LIST_FIELDS};

pub(super) fn apply(msg: &mut RawMessage, list: &ListDecoration) {
    // Another list (or the poster) may have set them: letting them through would point our
    // members at someone else's list.
    for name in LIST_FIELDS.iter().chain(&["Precedence"]) {
        msg.remove(name);
    }
    let list_id = links::list_id(list.list_name, list.domain);
    msg.append_field(Field::address("List-Id", list.display_name, &list_id));
    let post = if list.posting_allowed_to_all_members {
        format!("<mailto:{}>", list.address(Role::Post))
    } else {
        "NO".to_owned()
    };
    msg.append("List-Post", &post);
    let help = format!("<mailto:{}?subject=help>", list.address(Role::Request));
    msg.append("List-Help", &help);
    let join = format!("<mailto:{}>", list.address(Role::Join));
    msg.append("List-Subscribe", &join);
    let owner = format!("<mailto:{}>", list.address(Role::Owner));
    msg.append("List-Owner", &owner);
    msg.append("Precedence", "list");
    msg.append("X-Loop", &list.address(Role::Post));
}

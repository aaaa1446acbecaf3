//! RFC 2369's `List-Archive` and RFC 5064's `Archived-At`, on a public list's copies only:
//! a confidential list's archive is for its members, and its copies do not say where.

use super::ListDecoration;
use crate::links;
use crate::message::RawMessage;

pub(super) fn apply(msg: &mut RawMessage, list: &ListDecoration) {
    // Another list's archive (or the poster's word) is not where this list keeps it;
    // `List-Archive` went with the other list fields.
    msg.remove("Archived-At");
    let Some(base_url) = list.public_archive else {
        return;
    };
    let archive = links::list_archive_url(base_url, list.list_name);
    msg.append("List-Archive", &format!("<{archive}>"));
    // The Message-ID is there: decoration made one for a posting that came without.
    let key = links::archive_key(msg.get("Message-ID").unwrap_or_default().as_str());
    let page = links::archived_message_url(base_url, list.list_name, &key);
    msg.append("Archived-At", &format!("<{page}>"));
}

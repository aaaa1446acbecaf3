//! An owner's or operator's changes to a list's roster, without the member's confirmation:
//! the one way every front end (the CLI's `members`, the web console) adds and removes
//! members, so that each change is recorded in the audit trail whichever way it came.

use crate::store::{Actor, Audited, ImportLine, MemberAdded, Store};

use super::Result;

/// Subscribes one address to `list` on `actor`'s word. Idempotent; only an addition is
/// recorded.
pub async fn add(
    store: &Store,
    actor: &Actor,
    list: &str,
    line: &ImportLine,
) -> Result<MemberAdded> {
    let added = store.add_member(list, line).await?;
    if added == MemberAdded::Added {
        let event = Audited {
            action: "member.add",
            list_name: Some(list),
            object: Some(line.address.clone()),
            ..Audited::default()
        };
        store.record_audit(actor, &event).await?;
    }
    Ok(added)
}

/// Subscribes every line's address to `list`, recorded as one event with its counts.
pub async fn import(
    store: &Store,
    actor: &Actor,
    list: &str,
    lines: &[ImportLine],
) -> Result<Vec<MemberAdded>> {
    let results = store.import_members(list, lines).await?;
    let added = results.iter().filter(|r| **r == MemberAdded::Added).count();
    let event = Audited {
        action: "member.import",
        list_name: Some(list),
        detail: Some(format!(
            "{added} added, {} already present",
            results.len() - added
        )),
        ..Audited::default()
    };
    store.record_audit(actor, &event).await?;
    Ok(results)
}

/// Removes `address` from `list` on `actor`'s word, without a goodbye; false when it was
/// not a member (and nothing is recorded).
pub async fn remove(store: &Store, actor: &Actor, list: &str, address: &str) -> Result<bool> {
    let removed = store.remove_member(list, address).await?;
    if removed {
        let event = Audited {
            action: "member.remove",
            list_name: Some(list),
            object: Some(address.to_owned()),
            ..Audited::default()
        };
        store.record_audit(actor, &event).await?;
    }
    Ok(removed)
}

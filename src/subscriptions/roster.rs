//! A list's roster as its operator and owners change it, from the command line (`tidings
//! members`) and the web console alike: one function per change, so that both go through
//! the same checks, and each change is logged and recorded in the audit trail with who
//! made it, whichever way it came.
//!
//! Additions here are vouched for by whoever makes them: no confirmation is asked of the
//! address, as with `tidings members add`.

use crate::address::{self, AddressError};
use crate::config::{ListConfig, LANGUAGES};
use crate::store::{Actor, Audited, ImportLine, MemberAdded, Store, StoreError};

use super::csv_lines::{data_lines, SkippedLines};

/// Why a member's line (typed in a form, or a line of an import) is not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("unknown language {0:?}: use one of {all}", all = LANGUAGES.join(", "))]
    Language(String),
    #[error("the name must fit on one line")]
    Name,
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] LineProblem),
}

/// What an import did: how many lines added a member, how many named one already there, and
/// the lines skipped with their problem, by line number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: usize,
    pub present: usize,
    pub invalid: SkippedLines,
}

/// A language as stored, when tidings speaks it.
pub fn language(language: &str) -> Result<String, LineProblem> {
    let language = language.trim().to_ascii_lowercase();
    if LANGUAGES.contains(&language.as_str()) {
        Ok(language)
    } else {
        Err(LineProblem::Language(language))
    }
}

/// One member to subscribe, checked: the address normalised, the language one tidings
/// speaks, the name on one line.
pub fn member_line(address: &str, name: &str, lang: &str) -> Result<ImportLine, LineProblem> {
    let address = address::normalize(address)?;
    let language = language(lang)?;
    if name.contains(['\r', '\n']) {
        return Err(LineProblem::Name);
    }
    Ok(ImportLine {
        address,
        display_name: name.trim().to_string(),
        language,
    })
}

/// Reads an import: the members it names, and the problems of the lines it skips, by line
/// number. One address per line, or CSV lines `address,name,language`; blank lines, `#`
/// comments and a header line starting with `address` are ignored.
pub fn parse_import(text: &str, default_language: &str) -> (Vec<ImportLine>, SkippedLines) {
    let mut invalid = Vec::new();
    let mut lines = Vec::new();
    for (number, fields) in data_lines(text, "address", &mut invalid) {
        let field = |i: usize| fields.get(i).map(String::as_str).unwrap_or("");
        let language = if field(2).is_empty() {
            default_language
        } else {
            field(2)
        };
        match member_line(field(0), field(1), language) {
            Ok(line) => lines.push(line),
            Err(problem) => invalid.push((number, problem.to_string())),
        }
    }
    invalid.sort();
    (lines, invalid)
}

/// Subscribes every member `text` names to `list` (in the list's language when a line names
/// none); running it twice adds nobody twice. Recorded as one event with its counts.
pub async fn import(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    text: &str,
) -> Result<ImportReport, StoreError> {
    let (lines, invalid) = parse_import(text, &list.language);
    let results = store.import_members(&list.name, &lines).await?;
    let added = results.iter().filter(|r| **r == MemberAdded::Added).count();
    let present = results.len() - added;
    tracing::info!(list = %list.name, added, present, invalid = invalid.len(), "members imported");
    let detail = format!(
        "{added} added, {present} already present, {} invalid",
        invalid.len()
    );
    record(store, actor, list, "member.import", None, Some(detail)).await?;
    Ok(ImportReport {
        added,
        present,
        invalid,
    })
}

/// Subscribes one member to `list`. Idempotent; only an addition is recorded.
pub async fn add(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    line: &ImportLine,
) -> Result<MemberAdded, StoreError> {
    let added = store.add_member(&list.name, line).await?;
    tracing::info!(list = %list.name, added = added == MemberAdded::Added, "member added");
    if added == MemberAdded::Added {
        record(store, actor, list, "member.add", Some(&line.address), None).await?;
    }
    Ok(added)
}

/// Removes `address` (normalised) from `list`, without a goodbye; false when it was not a
/// member (and nothing is recorded).
pub async fn remove(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    address: &str,
) -> Result<bool, StoreError> {
    let removed = store.remove_member(&list.name, address).await?;
    tracing::info!(list = %list.name, removed, "member removed");
    if removed {
        record(store, actor, list, "member.remove", Some(address), None).await?;
    }
    Ok(removed)
}

/// Sets the language of a member's notices, on every list (a member has one language, in
/// which every list writes to them); false when the address is unknown.
pub async fn set_language(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    (address, lang): (&str, &str),
) -> Result<bool, RosterError> {
    let lang = language(lang)?;
    let changed = store.set_language(address, &lang).await?;
    tracing::info!(list = %list.name, language = %lang, changed, "member language changed");
    if changed {
        record(
            store,
            actor,
            list,
            "member.language",
            Some(address),
            Some(lang),
        )
        .await?;
    }
    Ok(changed)
}

/// Turns deliveries back on for member `member_id` of `list`, disabled for bouncing, with a
/// clean score, as the member's own re-enable link does; false when it was not disabled.
pub async fn reenable(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    member_id: i64,
) -> Result<bool, StoreError> {
    let reenabled = store.reenable(&list.name, member_id).await?;
    tracing::info!(list = %list.name, member = member_id, reenabled, "member re-enabled");
    if reenabled {
        let member = format!("member {member_id}");
        record(store, actor, list, "member.reenable", Some(&member), None).await?;
    }
    Ok(reenabled)
}

/// Records a change to `list`'s roster in the audit trail.
async fn record(
    store: &Store,
    actor: &Actor,
    list: &ListConfig,
    action: &'static str,
    object: Option<&str>,
    detail: Option<String>,
) -> Result<(), StoreError> {
    let event = Audited {
        action,
        list_name: Some(&list.name),
        object: object.map(str::to_owned),
        detail,
        ..Audited::default()
    };
    store.record_audit(actor, &event).await
}

#[cfg(test)]
mod tests {
    use super::parse_import;

    #[test]
    fn plain_and_csv_lines_with_line_numbers() {
        let text = "address,name,language\nana@example.org\n\n# comment\n\"Doe, Jane\"@x\nbob@example.org,\"Bob, Jr.\",fr\ncarol@example.org,Carol,xx\n";
        let (lines, invalid) = parse_import(text, "en");
        let addresses: Vec<_> = lines.iter().map(|l| l.address.as_str()).collect();
        assert_eq!(addresses, ["ana@example.org", "bob@example.org"]);
        assert_eq!(lines[1].display_name, "Bob, Jr.");
        assert_eq!(lines[1].language, "fr");
        assert_eq!(lines[0].language, "en");
        let numbers: Vec<usize> = invalid.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [5, 7]);
    }
}

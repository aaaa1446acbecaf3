//! Subject prefix such as `[team-gender]`.

use crate::message::{Field, RawMessage};

pub(super) fn apply(msg: &mut RawMessage, prefix: Option<&str>) {
    let Some(prefix) = prefix.map(str::trim).filter(|p| !p.is_empty()) else {
        return;
    };
    let field = msg.field("Subject");
    let subject = field.map(Field::value).unwrap_or_default();
    let subject = subject.trim();
    // Anywhere, not just at the start: replies arrive as "Re: [list] ...",
    // "AW: [list] ...", "Fwd: [list] ...".
    if contains_ignore_case(subject, prefix) {
        return;
    }
    // Re-encoding a lossy decode would garble the subject, so then the
    // original bytes are kept.
    let lossy = match field {
        Some(f) if !f.value_is_faithful() => Some(f.with_value_prefix(prefix)),
        _ => None,
    };
    match lossy {
        Some(prefixed) => msg.replace_field(prefixed),
        None if subject.is_empty() => msg.replace("Subject", prefix),
        None => msg.replace("Subject", &format!("{prefix} {subject}")),
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

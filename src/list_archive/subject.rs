//! The subject a reply shares with what it answers: without the reply and forward
//! prefixes of the mail programs the coalition's members use (English, French, Spanish,
//! Portuguese, Arabic, German, Nordic, Italian), without a list's `[tag]`, lowercased and
//! with its spaces collapsed.

/// Prefixes that say a message answers or forwards another, lowercased, before the colon.
const PREFIXES: [&str; 17] = [
    "re",
    "fw",
    "fwd",
    "aw",
    "sv",
    "vs",
    "wg",
    "tr",
    "rv",
    "res",
    "enc",
    "ref",
    "rif",
    "r",
    "antw",
    "رد",
    "إعادة توجيه",
];

/// The thread subject of `subject`, and whether a prefix said it answers or forwards.
pub fn thread_subject(subject: &str) -> (String, bool) {
    let mut rest = subject.trim();
    let mut reply = false;
    loop {
        if let Some(after) = strip_tag(rest) {
            rest = after;
            continue;
        }
        if let Some(after) = strip_prefix(rest) {
            rest = after;
            reply = true;
            continue;
        }
        break;
    }
    let words: Vec<&str> = rest.split_whitespace().collect();
    (words.join(" ").to_lowercase(), reply)
}

/// `rest` after a leading `[tag]`.
fn strip_tag(rest: &str) -> Option<&str> {
    let inner = rest.strip_prefix('[')?;
    let close = inner.find(']')?;
    Some(inner[close + 1..].trim_start())
}

/// `rest` after a leading reply or forward prefix: `Re:`, `RE[2]:`, `Fwd (3):`, `رد:`.
fn strip_prefix(rest: &str) -> Option<&str> {
    let colon = rest.find([':', '：'])?;
    let (word, after) = rest.split_at(colon);
    let after = &after[after.chars().next()?.len_utf8()..];
    let word = word.trim_end();
    // A counter after the word, as some programs write: `Re[2]`, `Re(2)`, `Re^2`.
    let word = word
        .trim_end_matches(|c: char| c.is_ascii_digit() || matches!(c, '[' | ']' | '(' | ')' | '^'))
        .trim_end();
    PREFIXES
        .iter()
        .any(|prefix| word.to_lowercase() == *prefix)
        .then(|| after.trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_share_the_subject_they_answer() {
        assert_eq!(
            thread_subject("Meeting  in Nairobi"),
            ("meeting in nairobi".into(), false)
        );
        for reply in [
            "Re: Meeting in Nairobi",
            "RE: [Team] Re: meeting in nairobi",
            "[Team] AW: Fwd: Meeting in Nairobi",
            "Re[2]: Meeting in Nairobi",
            "TR : Meeting in Nairobi",
            "رد: Meeting in Nairobi",
        ] {
            assert_eq!(
                thread_subject(reply),
                ("meeting in nairobi".into(), true),
                "{reply}"
            );
        }
        assert_eq!(
            thread_subject("[Team] Agenda: next steps"),
            ("agenda: next steps".into(), false)
        );
    }
}

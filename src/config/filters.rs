//! A list's posting filters: senders it always accepts, holds, refuses or drops (Mailman's
//! `accept_these_nonmembers` and its siblings) and the attachments it takes.
//!
//! Sender patterns are compiled when the configuration is read. An entry that does not
//! compile is kept with its problem, so that validation reports every bad entry at once
//! instead of stopping at the first; a configuration with such an entry never runs.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ListConfig;
use crate::address::{self, is_dns_name};

/// What a list does with a posting whose sender one of its filters names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderAction {
    /// Let through whatever the posting policy says (size and attachment limits still apply).
    Accept,
    /// Dropped without a word.
    Discard,
    /// Refused during the SMTP transaction.
    Reject,
    /// Kept for a moderator.
    Hold,
}

/// What happens to a posting whose attachments the list does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentAction {
    #[default]
    Hold,
    Reject,
}

/// One filter list (`accept_these`, ...): addresses, `@domain`s and `^regex` patterns.
#[derive(Debug, Clone, Default)]
pub struct AddressPatterns(Vec<Entry>);

#[derive(Debug, Clone)]
struct Entry {
    source: String,
    /// The compiled entry, or what is wrong with it.
    matcher: Result<Matcher, String>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Address(String),
    /// The domain and every domain under it.
    Domain(String),
    Pattern(regex::Regex),
}

impl AddressPatterns {
    /// Whether any entry names `address` (a normalised, lowercase address).
    pub fn matches(&self, address: &str) -> bool {
        self.0.iter().any(|entry| match &entry.matcher {
            Ok(matcher) => matcher.matches(address),
            Err(_) => false,
        })
    }

    /// The entries that could not be read: position, entry and what is wrong with it.
    pub fn problems(&self) -> impl Iterator<Item = (usize, &str, &str)> {
        self.0.iter().enumerate().filter_map(|(index, entry)| {
            let problem = entry.matcher.as_ref().err()?;
            Some((index, entry.source.as_str(), problem.as_str()))
        })
    }
}

impl Entry {
    fn new(source: String) -> Entry {
        let matcher = Matcher::compile(source.trim());
        Entry { source, matcher }
    }
}

impl Matcher {
    fn compile(entry: &str) -> Result<Matcher, String> {
        if entry.starts_with('^') {
            // Addresses are compared lowercased, so a pattern written with capitals must
            // still match them.
            return regex::RegexBuilder::new(entry)
                .case_insensitive(true)
                .build()
                .map(Matcher::Pattern)
                .map_err(|error| {
                    format!(
                        "{entry:?} is not a valid regular expression: {}",
                        regex_problem(&error)
                    )
                });
        }
        if let Some(domain) = entry.strip_prefix('@') {
            return if is_dns_name(domain) {
                Ok(Matcher::Domain(domain.to_ascii_lowercase()))
            } else {
                Err(format!("{entry:?} does not name a domain after the @"))
            };
        }
        if address::check(entry).is_ok() {
            Ok(Matcher::Address(entry.to_ascii_lowercase()))
        } else {
            Err(format!(
                "{entry:?} is neither an address, an @domain nor a pattern starting with ^"
            ))
        }
    }

    fn matches(&self, address: &str) -> bool {
        match self {
            Matcher::Address(expected) => address == expected,
            Matcher::Domain(domain) => address.rsplit_once('@').is_some_and(|(_, at)| {
                at == domain
                    || at
                        .strip_suffix(domain.as_str())
                        .is_some_and(|sub| sub.ends_with('.'))
            }),
            Matcher::Pattern(pattern) => pattern.is_match(address),
        }
    }
}

/// The regex crate explains a syntax error over several lines, quoting the pattern with a
/// caret under the fault; a configuration problem is one line, so only the explanation is kept.
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(&text)
        .to_string()
}

impl<'de> Deserialize<'de> for AddressPatterns {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        Ok(AddressPatterns(
            entries.into_iter().map(Entry::new).collect(),
        ))
    }
}

impl Serialize for AddressPatterns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|entry| &entry.source))
    }
}

impl ListConfig {
    /// Whether `address` is one of an announce list's designated posters.
    pub fn is_poster(&self, address: &str) -> bool {
        self.posters.iter().any(|p| p.eq_ignore_ascii_case(address))
    }

    /// The sender filters under their configuration names, in the order they are tried:
    /// accept first, so that one address can be excepted from a wider pattern in another
    /// filter, then the harshest action.
    pub fn sender_filters(&self) -> [(&'static str, SenderAction, &AddressPatterns); 4] {
        [
            ("accept_these", SenderAction::Accept, &self.accept_these),
            ("discard_these", SenderAction::Discard, &self.discard_these),
            ("reject_these", SenderAction::Reject, &self.reject_these),
            ("hold_these", SenderAction::Hold, &self.hold_these),
        ]
    }

    /// What the first filter naming `sender` asks for, if any does.
    pub fn sender_action(&self, sender: &str) -> Option<SenderAction> {
        self.sender_filters()
            .into_iter()
            .find(|(_, _, patterns)| patterns.matches(sender))
            .map(|(_, action, _)| action)
    }

    /// Whether the list takes attachments of `content_type` (`type/subtype`).
    pub fn allows_type(&self, content_type: &str) -> bool {
        self.allowed_types.is_empty()
            || self
                .allowed_types
                .iter()
                .any(|allowed| type_matches(allowed, content_type))
    }
}

/// `allowed` is `type/subtype`, and a subtype ending with `*` stands for every subtype
/// starting with what precedes it (`image/*`, `application/vnd.oasis.opendocument.*`).
fn type_matches(allowed: &str, content_type: &str) -> bool {
    let allowed = allowed.to_ascii_lowercase();
    let content_type = content_type.to_ascii_lowercase();
    match allowed.strip_suffix('*') {
        Some(prefix) => content_type.starts_with(prefix),
        None => content_type == allowed,
    }
}

/// Why an `allowed_types` entry is not a MIME type or type pattern, or `None` when it is.
pub(super) fn type_problem(entry: &str) -> Option<String> {
    // RFC 6838 restricted-name characters.
    let name_ok = |name: &str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let Some((kind, subtype)) = entry.split_once('/') else {
        return Some(format!("{entry:?} is not a MIME type (type/subtype)"));
    };
    let subtype_ok = match subtype.strip_suffix('*') {
        Some(stem) => stem.is_empty() || name_ok(stem),
        None => name_ok(subtype),
    };
    if kind == "*" {
        Some(format!(
            "{entry:?} would allow every type, which an empty allowed_types already does"
        ))
    } else if !name_ok(kind) || !subtype_ok {
        Some(format!("{entry:?} is not a MIME type (type/subtype)"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(entries: &[&str]) -> AddressPatterns {
        AddressPatterns(entries.iter().map(|e| Entry::new(e.to_string())).collect())
    }

    #[test]
    fn addresses_domains_and_patterns_match() {
        let filter = patterns(&[
            "Chair@Partner.example",
            "@watch.example",
            r"^news(letter)?@.*\.example$",
        ]);
        assert!(filter.matches("chair@partner.example"));
        assert!(!filter.matches("vice@partner.example"));
        assert!(filter.matches("anyone@watch.example"));
        assert!(filter.matches("anyone@mail.watch.example"));
        assert!(!filter.matches("anyone@nowatch.example"));
        assert!(filter.matches("newsletter@shop.example"));
        assert!(filter.matches("news@shop.example"));
        assert!(!filter.matches("news@shop.example.org"));
        assert_eq!(filter.problems().count(), 0);
    }

    #[test]
    fn patterns_ignore_case() {
        assert!(patterns(&["^SALES@"]).matches("sales@shop.example"));
    }

    #[test]
    fn bad_entries_are_kept_with_their_problem_and_never_match() {
        let filter = patterns(&[
            "^(unclosed",
            "@",
            "@not a domain",
            "nobody",
            "ok@ngo.example",
        ]);
        let problems: Vec<(usize, &str, &str)> = filter.problems().collect();
        let indexes: Vec<usize> = problems.iter().map(|p| p.0).collect();
        assert_eq!(indexes, [0, 1, 2, 3]);
        assert_eq!(
            problems[0].2,
            "\"^(unclosed\" is not a valid regular expression: unclosed group"
        );
        assert!(problems[3].2.contains("neither an address"), "{problems:?}");
        assert!(!filter.matches("nobody"));
        assert!(filter.matches("ok@ngo.example"));
    }

    #[test]
    fn types_match_exactly_or_by_prefix() {
        assert!(type_matches("application/pdf", "application/pdf"));
        assert!(type_matches("Application/PDF", "application/pdf"));
        assert!(!type_matches("application/pdf", "application/pdfx"));
        assert!(type_matches("image/*", "image/png"));
        assert!(!type_matches("image/*", "imagex/png"));
        let odf = "application/vnd.oasis.opendocument.*";
        assert!(type_matches(odf, "application/vnd.oasis.opendocument.text"));
        assert!(!type_matches(odf, "application/vnd.ms-excel"));
    }

    #[test]
    fn type_entries_are_checked() {
        for good in [
            "application/pdf",
            "image/*",
            "application/vnd.ms-*",
            "text/x-c++",
        ] {
            assert_eq!(type_problem(good), None, "{good}");
        }
        for bad in [
            "pdf",
            "*/*",
            "image/",
            "/png",
            "image/p*g",
            "text/plain; charset=utf-8",
        ] {
            assert!(type_problem(bad).is_some(), "{bad}");
        }
    }
}

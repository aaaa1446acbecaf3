//! Items as editors submit them by mail: the Subject is the title, the body is Markdown, and
//! `Section:`, `Language:` and `Key:` lines may lead the body.
//!
//! The key (translation key) ties the versions of one story in several languages together:
//! an edition in French shows the French version of each story, and the fallback language's
//! version of a story nobody translated. Without a `Key:` line, the key is made from the
//! title (lowercase ASCII letters and digits joined by `-`), so translations need the same
//! `Key:` line (or `tidings items add --key`) to travel together.

/// A submission taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub title: String,
    pub section: Option<String>,
    pub language: Option<String>,
    pub key: Option<String>,
    pub body: String,
}

/// Lead lines read before the body: more would be part of the text.
const MAX_LEAD_LINES: usize = 3;

pub fn parse_submission(subject: &str, body: &str) -> Submission {
    let mut submission = Submission {
        title: subject.trim().to_string(),
        section: None,
        language: None,
        key: None,
        body: String::new(),
    };
    let body = body.replace("\r\n", "\n");
    let mut lines = body.lines().peekable();
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    for _ in 0..MAX_LEAD_LINES {
        let Some((name, value)) = lines.peek().and_then(|l| l.split_once(':')) else {
            break;
        };
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        let field = match name.trim().to_ascii_lowercase().as_str() {
            "section" => &mut submission.section,
            "language" => &mut submission.language,
            "key" => &mut submission.key,
            _ => break,
        };
        *field = value;
        lines.next();
    }
    let rest: Vec<&str> = lines.collect();
    submission.body = rest.join("\n").trim().to_string();
    if let Some(language) = submission.language.as_mut() {
        language.make_ascii_lowercase();
    }
    submission
}

/// The translation key of an item whose editor gave none.
pub fn key_from_title(title: &str) -> String {
    let mut key = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
        if key.len() >= 60 {
            break;
        }
    }
    let key = key.trim_end_matches('-');
    if key.is_empty() {
        // A title without Latin letters (Arabic, say): a key of its own.
        format!("item-{:08x}", rand::random::<u32>())
    } else {
        key.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_lines_are_read_and_removed() {
        let submission = parse_submission(
            " Rome Statute turns 30 ",
            "\r\nSection: Campaigns\r\nlanguage: FR\r\nKey: rome-30\r\n\r\nThe **Statute**.\r\nKey: not a lead line\r\n",
        );
        assert_eq!(submission.title, "Rome Statute turns 30");
        assert_eq!(submission.section.as_deref(), Some("Campaigns"));
        assert_eq!(submission.language.as_deref(), Some("fr"));
        assert_eq!(submission.key.as_deref(), Some("rome-30"));
        assert_eq!(submission.body, "The **Statute**.\nKey: not a lead line");
    }

    #[test]
    fn a_body_without_lead_lines_is_all_text() {
        let submission = parse_submission("Title", "Note: this is text.\nMore.");
        assert_eq!(submission.section, None);
        assert_eq!(submission.body, "Note: this is text.\nMore.");
    }

    #[test]
    fn keys_from_titles() {
        assert_eq!(
            key_from_title("The Court's 2027 budget!"),
            "the-court-s-2027-budget"
        );
        assert!(key_from_title("المحكمة").starts_with("item-"));
    }
}

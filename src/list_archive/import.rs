//! A list's past archive loaded from an mbox file (Mailman's or Sympa's export): each
//! message stored as it is in the file, once per Message-ID, so that importing the same
//! file twice, or a file that overlaps what tidings archived itself, adds nothing twice.

use super::entry::{entry, Posted};
use super::mbox;
use crate::store::{now_ms, Store, StoreError};

/// Messages stored per transaction.
const BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Messages found in the file.
    pub read: usize,
    /// Messages added to the archive.
    pub added: u64,
    /// Messages the archive had already (by Message-ID, or removed from it).
    pub present: u64,
    /// Messages that could not be read as mail.
    pub unreadable: usize,
}

/// Imports the messages of the mbox file `file` into `list`'s archive.
pub async fn import(store: &Store, list: &str, file: &[u8]) -> Result<Imported, StoreError> {
    let now = now_ms();
    let messages = mbox::split(file);
    let mut report = Imported {
        read: messages.len(),
        ..Imported::default()
    };
    for chunk in messages.chunks(BATCH) {
        let entries: Vec<_> = chunk
            .iter()
            .filter_map(|message| {
                let fallback = from_line_time(&message.from_line).unwrap_or(now);
                entry(list, &message.raw, Posted::Dated { fallback })
            })
            .collect();
        report.unreadable += chunk.len() - entries.len();
        let added = store.archive_messages(&entries).await?;
        report.added += added;
        report.present += entries.len() as u64 - added;
    }
    Ok(report)
}

/// The time of a `From ` line (`ana@ngo.example Mon Jan  5 09:12:00 2026`), as UTC.
fn from_line_time(line: &str) -> Option<i64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    // The date is the line's last five words: weekday, month, day, time, year.
    let date = words.get(words.len().checked_sub(4)?..)?.join(" ");
    chrono::NaiveDateTime::parse_from_str(&date, "%b %d %H:%M:%S %Y")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_give_their_time() {
        assert_eq!(
            from_line_time("ana at ngo.example  Mon Jan  5 09:12:00 2026"),
            Some(1_767_604_320_000)
        );
        assert_eq!(from_line_time("nobody"), None);
    }
}

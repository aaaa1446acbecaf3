//! mbox files: read as Mailman (2's `LIST.mbox`, 3's export) and Sympa write them, and
//! written for a month's download.
//!
//! Messages are separated by a `From ` line. Reading takes a `From ` line as a separator
//! only at the start of the file or after an empty line, and only when it carries a time
//! (`Mon Jan  1 00:00:00 2024`), so that a body line that begins with "From " and escaped
//! nobody's quoting is not taken for one. Inside a message, a line `>From `, `>>From `…
//! loses one `>`: mboxrd's quoting undone exactly, and mboxo's (which quoted only
//! `From `) as well as it can be (an original `>From ` line comes back as `From `).
//!
//! Writing is mboxrd: every line that is `From ` after any number of `>` gets one more.

/// One message of an mbox file: its `From ` line (without `From `) and its bytes, with
/// CRLF line ends as mail has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMessage {
    pub from_line: String,
    pub raw: Vec<u8>,
}

/// The messages of an mbox file, in order. Bytes before the first `From ` line are not a
/// message and are left out.
pub fn split(file: &[u8]) -> Vec<MboxMessage> {
    let mut messages = Vec::new();
    let mut current: Option<MboxMessage> = None;
    let mut previous_empty = true;
    for line in file.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if previous_empty && is_separator(line) {
            messages.extend(current.take().map(finish));
            current = Some(MboxMessage {
                from_line: String::from_utf8_lossy(&line[5..]).trim().to_owned(),
                raw: Vec::new(),
            });
            previous_empty = false;
            continue;
        }
        previous_empty = line.is_empty();
        if let Some(message) = current.as_mut() {
            message.raw.extend_from_slice(unquoted(line));
            message.raw.extend_from_slice(b"\r\n");
        }
    }
    messages.extend(current.map(finish));
    messages
}

/// A message without the empty line that separated it from the next, and without the
/// empty line a file's split leaves after its last line end.
fn finish(mut message: MboxMessage) -> MboxMessage {
    while message.raw.ends_with(b"\r\n\r\n") {
        message.raw.truncate(message.raw.len() - 2);
    }
    message
}

/// `From ` followed by something and a time of day (`00:00`).
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    rest.windows(4).any(|w| {
        w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
    }) || rest.windows(5).any(|w| {
        w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == b':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
    })
}

/// A line with its mbox quoting undone: `>From ` → `From `, `>>From ` → `>From `.
fn unquoted(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Appends one message to an mboxrd file: its `From ` line (the sender's address and the
/// time, as `asctime` writes it), its lines with LF ends and `From ` quoted, an empty line.
pub fn append(file: &mut Vec<u8>, sender: &str, epoch_ms: i64, raw: &[u8]) {
    let sender: String = sender
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    let sender = if sender.is_empty() {
        "MAILER-DAEMON".to_owned()
    } else {
        sender
    };
    let when = chrono::DateTime::from_timestamp_millis(epoch_ms)
        .map(|t| t.format("%a %b %e %H:%M:%S %Y").to_string())
        .unwrap_or_else(|| "Thu Jan  1 00:00:00 1970".into());
    file.extend_from_slice(format!("From {sender} {when}\n").as_bytes());
    let raw = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let quotes = line.iter().take_while(|b| **b == b'>').count();
        if line[quotes..].starts_with(b"From ") {
            file.push(b'>');
        }
        file.extend_from_slice(line);
        file.push(b'\n');
    }
    file.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &[u8] = b"From ana at ngo.example  Mon Jan  5 09:12:00 2026\n\
From: ana@ngo.example\nSubject: One\n\nFirst line\n>From the start, quoted\n\
>>From twice quoted\n\nFrom here on, a line nobody quoted\n\n\
From bo@ngo.example Tue Jan  6 10:00:00 2026\nFrom: bo@ngo.example\nSubject: Two\n\nSecond\n";

    #[test]
    fn messages_are_split_at_from_lines_with_a_time_and_unquoted() {
        let messages = split(FILE);
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0].from_line,
            "ana at ngo.example  Mon Jan  5 09:12:00 2026"
        );
        assert_eq!(
            String::from_utf8_lossy(&messages[0].raw),
            "From: ana@ngo.example\r\nSubject: One\r\n\r\nFirst line\r\n\
From the start, quoted\r\n>From twice quoted\r\n\r\nFrom here on, a line nobody quoted\r\n"
        );
        assert_eq!(
            String::from_utf8_lossy(&messages[1].raw),
            "From: bo@ngo.example\r\nSubject: Two\r\n\r\nSecond\r\n"
        );
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let raw = b"From: ana@ngo.example\r\nSubject: One\r\n\r\nFrom here\r\n>From there\r\n";
        let mut file = Vec::new();
        append(&mut file, "ana@ngo.example", 1_767_603_120_000, raw);
        append(&mut file, "", 0, b"Subject: Two\r\n\r\nx\r\n");
        let text = String::from_utf8_lossy(&file);
        assert!(
            text.starts_with("From ana@ngo.example Mon Jan  5 08:52:00 2026\n"),
            "{text}"
        );
        assert!(text.contains("\n>From here\n>>From there\n\nFrom MAILER-DAEMON Thu Jan  1"));
        let back = split(&file);
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].raw, raw);
        assert_eq!(back[1].raw, b"Subject: Two\r\n\r\nx\r\n");
    }
}

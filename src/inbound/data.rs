//! The message text of DATA (RFC 5321 §4.1.1.4 and §4.5.2), read into canonical form.
//!
//! Hand-written rather than smtp-proto's `DataReceiver`, which ends the data at
//! `<CRLF>.<CR><CR><LF>` as well as at `<CRLF>.<CRLF>` and keeps bare CRs and LFs in the
//! message. A bare line end that one reader takes for a line and another does not is what
//! SMTP smuggling is made of: a relay that accepts `<LF>.<LF>` (or `<LF>.<CRLF>`) as the end
//! of data reads the rest of our copy as the commands of a second, forged message.
//!
//! So tidings does what Postfix's `smtpd_forbid_bare_newline = normalize` does, and a little
//! more: every line end the client sends (CRLF, a bare LF, a bare CR) becomes CRLF in the
//! stored message, a leading dot is removed at the start of every line (dot-unstuffing), and
//! the data ends only at `<CRLF>.<CRLF>` whose first CRLF was a real one. A `.` line after a
//! bare line end, or ended by one, is an empty line of the message, never its end. What is
//! stored is therefore canonical, and the relay client can stuff it without ambiguity.

/// Where the reader stands in the line it is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `after_crlf` when the previous line ended with a real CRLF
    /// (or this is the first line), the only place where the end of data may begin.
    LineStart { after_crlf: bool },
    /// A dot began the line, and was removed.
    Dot { after_crlf: bool },
    /// `.` then CR began a line that followed a real CRLF: LF now ends the data.
    DotCr,
    /// Within a line.
    Text,
    /// A CR was read within a line: LF makes it a CRLF, anything else a bare CR.
    Cr,
}

/// Reads DATA into canonical CRLF lines, across any number of reads.
#[derive(Debug)]
pub struct DataReader {
    state: State,
}

impl Default for DataReader {
    fn default() -> Self {
        DataReader::new()
    }
}

impl DataReader {
    /// A reader at the start of the message: the CRLF that ended the DATA command counts as
    /// the one before a `.` that ends an empty message.
    pub fn new() -> DataReader {
        DataReader {
            state: State::LineStart { after_crlf: true },
        }
    }

    /// Appends the message text in `bytes` to `message`, canonical, and advances `bytes`
    /// past what it read. Returns true when the end of data was read; the bytes after it
    /// (pipelined commands) are left in `bytes`.
    pub fn ingest(&mut self, bytes: &mut std::slice::Iter<'_, u8>, message: &mut Vec<u8>) -> bool {
        let input = bytes.as_slice();
        let mut at = 0;
        while at < input.len() {
            if self.state == State::Text {
                // The common case: copy the rest of the line in one go.
                let rest = &input[at..];
                match memchr::memchr2(b'\r', b'\n', rest) {
                    None => {
                        message.extend_from_slice(rest);
                        break;
                    }
                    Some(end) => {
                        message.extend_from_slice(&rest[..end]);
                        at += end;
                    }
                }
            }
            let byte = input[at];
            at += 1;
            if self.step(byte, message) {
                *bytes = input[at..].iter();
                return true;
            }
        }
        *bytes = input[input.len()..].iter();
        false
    }

    /// Takes one byte; true when it ended the data.
    fn step(&mut self, byte: u8, message: &mut Vec<u8>) -> bool {
        match (self.state, byte) {
            (State::Cr, b'\n') => self.end_line(message, true),
            (State::Cr, _) => {
                // A bare CR ended the line; the byte begins the next one.
                self.end_line(message, false);
                return self.step(byte, message);
            }
            (State::LineStart { after_crlf }, b'.') => self.state = State::Dot { after_crlf },
            (State::Dot { after_crlf: true }, b'\r') => self.state = State::DotCr,
            (State::DotCr, b'\n') => return true,
            (State::DotCr, _) => {
                // `.` then a bare CR: an empty line, not the end.
                self.end_line(message, false);
                return self.step(byte, message);
            }
            (_, b'\r') => self.state = State::Cr,
            (_, b'\n') => self.end_line(message, false),
            (_, _) => {
                message.push(byte);
                self.state = State::Text;
            }
        }
        false
    }

    fn end_line(&mut self, message: &mut Vec<u8>, real_crlf: bool) {
        message.extend_from_slice(b"\r\n");
        self.state = State::LineStart {
            after_crlf: real_crlf,
        };
    }
}

/// Whether `message` is canonical: every CR is followed by LF and every LF preceded by CR.
pub fn is_canonical(message: &[u8]) -> bool {
    let mut previous = 0u8;
    for (i, &byte) in message.iter().enumerate() {
        match byte {
            b'\r' if message.get(i + 1) != Some(&b'\n') => return false,
            b'\n' if previous != b'\r' => return false,
            _ => {}
        }
        previous = byte;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `chunks` one after the other; the message and what was left after its end.
    fn read(chunks: &[&[u8]]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut reader = DataReader::new();
        let mut message = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut bytes = chunk.iter();
            if reader.ingest(&mut bytes, &mut message) {
                let mut rest: Vec<u8> = bytes.as_slice().to_vec();
                for later in &chunks[i + 1..] {
                    rest.extend_from_slice(later);
                }
                return Some((message, rest));
            }
        }
        None
    }

    fn whole(data: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        read(&[data])
    }

    #[test]
    fn a_plain_message_ends_at_crlf_dot_crlf_and_leaves_what_follows() {
        let (message, rest) = whole(b"Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n").expect("ends");
        assert_eq!(message, b"Subject: x\r\n\r\nbody\r\n");
        assert_eq!(rest, b"QUIT\r\n");
        let (empty, _) = whole(b".\r\n").expect("an empty message ends at once");
        assert!(empty.is_empty());
    }

    #[test]
    fn leading_dots_are_unstuffed_at_every_line_start() {
        let (message, _) = whole(b"..one\r\n...two\r\nthree.\r\n.\r\n").expect("ends");
        assert_eq!(message, b".one\r\n..two\r\nthree.\r\n");
        let (message, _) = whole(b"a\n..b\r..c\r\n.\r\n").expect("ends");
        assert_eq!(message, b"a\r\n.b\r\n.c\r\n");
    }

    #[test]
    fn bare_line_ends_become_crlf() {
        let (message, _) = whole(b"a\nb\rc\r\r\nd\n\ne\r\n.\r\n").expect("ends");
        assert_eq!(message, b"a\r\nb\r\nc\r\n\r\nd\r\n\r\ne\r\n");
        assert!(is_canonical(&message));
    }

    #[test]
    fn only_a_real_crlf_dot_crlf_ends_the_data() {
        for smuggled in [
            &b"a\n.\nMAIL FROM:<x>\r\n"[..],
            b"a\n.\r\nMAIL FROM:<x>\r\n",
            b"a\r\n.\nMAIL FROM:<x>\r\n",
            b"a\r.\r\nMAIL FROM:<x>\r\n",
            b"a\r\n.\rMAIL FROM:<x>\r\n",
            b"a\r\n.\r\r\nMAIL FROM:<x>\r\n",
        ] {
            let mut data = smuggled.to_vec();
            data.extend_from_slice(b"end\r\n.\r\n");
            let (message, rest) = whole(&data).expect("ends at the real end");
            assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(smuggled));
            assert!(is_canonical(&message));
            let text = String::from_utf8_lossy(&message);
            assert!(
                text.contains("\r\nMAIL FROM:<x>\r\nend\r\n"),
                "{:?} read as {text:?}",
                String::from_utf8_lossy(smuggled)
            );
        }
    }

    #[test]
    fn the_end_may_be_split_anywhere_between_reads() {
        let data = b"x\r\n..y\r\n.\r\nNOOP\r\n";
        for cut in 0..=data.len() {
            let (message, rest) = read(&[&data[..cut], &data[cut..]]).expect("ends");
            assert_eq!(message, b"x\r\n.y\r\n", "cut at {cut}");
            assert_eq!(rest, b"NOOP\r\n", "cut at {cut}");
        }
    }

    #[test]
    fn canonical_means_no_bare_cr_or_lf() {
        assert!(is_canonical(b"a\r\nb\r\n"));
        assert!(is_canonical(b""));
        assert!(!is_canonical(b"a\nb"));
        assert!(!is_canonical(b"a\rb"));
        assert!(!is_canonical(b"a\r"));
    }
}

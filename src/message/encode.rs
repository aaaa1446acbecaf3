//! The transfer encodings of the text parts tidings writes (RFC 2045), and the placeholder
//! that an edition's copies replace with each recipient's own unsubscribe link.
//!
//! Quoted-printable keeps the placeholder whole on an encoded line of its own, so that
//! delivery can put each recipient's link in its place with a byte-level replacement,
//! without decoding or re-encoding anything.

use super::build::base64;

/// Stands for the personal unsubscribe URL in a rendered edition. Plain ASCII without `=`,
/// `&` or anything HTML escaping or quoted-printable would rewrite, so it comes out of both
/// parts verbatim (as long as quoted-printable does not split it: it is shorter than a line).
pub const UNSUBSCRIBE_PLACEHOLDER: &str = "https://unsubscribe.invalid/@@UNSUBSCRIBE@@";

/// Longest encoded line before the soft line break (RFC 2045 allows 76 with the `=`).
const QP_WIDTH: usize = 75;

/// Input bytes per line of base64: 76 characters, the most RFC 2045 allows.
const BASE64_LINE_BYTES: usize = 57;

/// `text` with CRLF line ends, in base64 lines of 76 characters separated by CRLF.
pub(super) fn base64_lines(text: &str) -> String {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    crlf.as_bytes()
        .chunks(BASE64_LINE_BYTES)
        .map(base64)
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Quoted-printable with CRLF line ends, the placeholder never split or escaped.
pub fn quoted_printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push_str("\r\n");
        }
        encode_line(line.strip_suffix('\r').unwrap_or(line), &mut out);
    }
    out
}

/// What delivery puts in place of the placeholder: the recipient's link, encoded to fit the
/// lines around it.
pub fn encoded_link(url: &str) -> String {
    let mut out = String::new();
    encode_line(url, &mut out);
    out
}

/// One line of text, with soft line breaks; the placeholder stands alone on its line.
fn encode_line(line: &str, out: &mut String) {
    let mut width = 0;
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with(UNSUBSCRIBE_PLACEHOLDER) {
            if width > 0 {
                out.push_str("=\r\n");
            }
            out.push_str(UNSUBSCRIBE_PLACEHOLDER);
            rest = &rest[UNSUBSCRIBE_PLACEHOLDER.len()..];
            width = QP_WIDTH;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        let encoded = encode_char(c, rest.is_empty());
        if width + encoded.len() > QP_WIDTH {
            out.push_str("=\r\n");
            width = 0;
        }
        width += encoded.len();
        out.push_str(&encoded);
    }
}

fn encode_char(c: char, last: bool) -> String {
    let literal = (c.is_ascii_graphic() && c != '=') || (c == ' ' && !last);
    if literal {
        return c.to_string();
    }
    let mut bytes = [0u8; 4];
    c.encode_utf8(&mut bytes)
        .bytes()
        .map(|b| format!("={b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(encoded: &str) -> String {
        let joined = encoded.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'=' && tail.len() >= 2 {
                let hex = std::str::from_utf8(&tail[..2]).unwrap_or("00");
                bytes.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn lines_stay_short_and_decode_to_the_text() {
        let text = format!(
            "Café = ☕ {}\nمرحبا بالعالم {}{} end \n{}",
            "x".repeat(100),
            "y".repeat(50),
            UNSUBSCRIBE_PLACEHOLDER,
            UNSUBSCRIBE_PLACEHOLDER
        );
        let encoded = quoted_printable(&text);
        assert!(encoded.split("\r\n").all(|l| l.len() <= 76), "{encoded}");
        assert_eq!(decode(&encoded), text.replace('\n', "\r\n"));
        assert_eq!(encoded.matches(UNSUBSCRIBE_PLACEHOLDER).count(), 2);
    }

    #[test]
    fn the_link_replaces_the_placeholder_and_lines_stay_short() {
        let text = format!("Leave: <a href=\"{UNSUBSCRIBE_PLACEHOLDER}\">here</a>");
        let url = format!(
            "https://lists.example.org/unsubscribe/bulletin/{}",
            "a".repeat(90)
        );
        let replaced =
            quoted_printable(&text).replace(UNSUBSCRIBE_PLACEHOLDER, &encoded_link(&url));
        assert!(replaced.split("\r\n").all(|l| l.len() <= 76), "{replaced}");
        assert_eq!(
            decode(&replaced),
            text.replace(UNSUBSCRIBE_PLACEHOLDER, &url)
        );
    }

    #[test]
    fn base64_lines_are_76_characters_of_crlf_text() {
        let text = "é\n".repeat(40);
        let encoded = base64_lines(&text);
        let lines: Vec<&str> = encoded.split("\r\n").collect();
        assert!(lines.len() > 1);
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
        let decoded = data_encoding::BASE64
            .decode(lines.concat().as_bytes())
            .expect("base64");
        assert_eq!(decoded, "é\r\n".repeat(40).into_bytes());
    }
}

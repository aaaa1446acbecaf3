//! Decoding of single header values, delegated to mail-parser by feeding
//! it a one-field header block, so its RFC 2047 and charset handling is
//! reused without depending on where it thinks the whole message's fields
//! begin and end.

use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::{HeaderValue, MessageParser};

/// Parses `raw_value` as if it were the value of header `name`.
fn parse_value(name: &str, raw_value: &[u8]) -> Option<HeaderValue<'static>> {
    let mut buf = Vec::with_capacity(name.len() + raw_value.len() + 4);
    buf.extend_from_slice(name.as_bytes());
    buf.push(b':');
    buf.extend_from_slice(raw_value);
    if !buf.ends_with(b"\n") {
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    let parsed = MessageParser::default().parse_headers(&buf)?;
    let header = parsed.headers().first()?;
    Some(header.value.clone().into_owned())
}

/// Unfolded, RFC 2047-decoded text of an unstructured value.
pub(crate) fn unstructured(raw_value: &[u8]) -> String {
    match parse_value("Subject", raw_value) {
        Some(HeaderValue::Text(text)) => text.into_owned(),
        Some(HeaderValue::TextList(list)) => list.join(" "),
        _ => String::new(),
    }
}

/// A parsed `Content-Type` (also used for `Content-Disposition`, which
/// shares its syntax).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Lower-cased `type/subtype`; `type` alone when no subtype was given.
    pub mime_type: String,
    /// Parameters in order, names lower-cased, values decoded (RFC 2231).
    pub params: Vec<(String, String)>,
}

impl ContentType {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is(&self, mime_type: &str) -> bool {
        self.mime_type.eq_ignore_ascii_case(mime_type)
    }
}

pub(crate) fn content_type(raw_value: &[u8]) -> Option<ContentType> {
    let HeaderValue::ContentType(ct) = parse_value("Content-Type", raw_value)? else {
        return None;
    };
    let mut mime_type = ct.c_type.to_ascii_lowercase();
    if let Some(sub) = &ct.c_subtype {
        mime_type.push('/');
        mime_type.push_str(&sub.to_ascii_lowercase());
    }
    let params = ct
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.name.to_ascii_lowercase(), a.value.into_owned()))
        .collect();
    Some(ContentType { mime_type, params })
}

/// Whether [`unstructured`] recovers the text without loss: every
/// encoded-word's charset is one mail-parser really decodes and nothing
/// decoded to U+FFFD.
pub(crate) fn unstructured_is_faithful(raw_value: &[u8]) -> bool {
    encoded_word_charsets(raw_value).all(charset_is_decodable)
        && !unstructured(raw_value).contains('\u{fffd}')
}

/// Escape sequences for ISO-2022 and high bytes for the EUC/Big5/GBK family.
const CHARSET_PROBE: &[u8] = b"\x1b$B$\"\x1b(B\xa4\xa2";

/// Without its `full_encoding` feature, mail-parser knows the CJK charset
/// names but decodes them as UTF-8. That is detected by behaviour, not by a
/// list of names, so enabling the feature needs no change here.
fn charset_is_decodable(label: &[u8]) -> bool {
    // RFC 2231 allows a language after '*'.
    let charset = label.split(|&b| b == b'*').next().unwrap_or_default();
    if [&b"utf-8"[..], b"utf8", b"us-ascii"]
        .iter()
        .any(|k| charset.eq_ignore_ascii_case(k))
    {
        return true;
    }
    charset_decoder(charset)
        .is_some_and(|decode| decode(CHARSET_PROBE) != String::from_utf8_lossy(CHARSET_PROBE))
}

/// Charset labels of things shaped like `=?charset?b?` or `=?charset?q?`.
fn encoded_word_charsets(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.windows(2)
        .enumerate()
        .filter(|(_, w)| w == b"=?")
        .filter_map(move |(i, _)| {
            let rest = raw.get(i + 2..)?;
            let q = rest.iter().position(|&b| b == b'?')?;
            let tail = rest.get(q + 1..q + 3)?;
            let is_word = matches!(tail.first(), Some(b'b' | b'B' | b'q' | b'Q'))
                && tail.get(1) == Some(&b'?');
            is_word.then(|| rest.get(..q)).flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodable_charsets() {
        for ok in [
            "utf-8",
            "UTF-8",
            "us-ascii",
            "iso-8859-1",
            "windows-1256",
            "koi8-r",
            "utf-8*fr",
        ] {
            assert!(charset_is_decodable(ok.as_bytes()), "{ok}");
        }
        for bad in ["x-unknown", "x-klingon"] {
            assert!(!charset_is_decodable(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn faithfulness_of_values() {
        assert!(unstructured_is_faithful(b" =?iso-8859-1?q?Caf=E9?= ok\r\n"));
        assert!(unstructured_is_faithful(b" plain =? not a word\r\n"));
        assert!(!unstructured_is_faithful(b" Caf\xe9\r\n"));
        assert!(!unstructured_is_faithful(b" =?x-unknown?q?abc?=\r\n"));
    }
}

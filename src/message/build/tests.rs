use super::*;
use crate::message::decode::unstructured;

fn lines(field: &[u8]) -> Vec<&[u8]> {
    let body = field.strip_suffix(b"\r\n").expect("field ends with CRLF");
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

fn value_of(field: &[u8]) -> String {
    let colon = field.iter().position(|&b| b == b':').expect("colon");
    unstructured(&field[colon + 1..])
}

fn assert_well_formed(field: &[u8]) {
    assert!(field.ends_with(b"\r\n"));
    let ls = lines(field);
    for (i, line) in ls.iter().enumerate() {
        assert!(!line.contains(&b'\r') && !line.contains(&b'\n'));
        assert!(
            line.len() <= 76,
            "line too long: {:?}",
            String::from_utf8_lossy(line)
        );
        if i > 0 {
            assert!(line.starts_with(b" ") || line.starts_with(b"\t"));
        }
    }
}

fn encoded_words(field: &[u8]) -> Vec<String> {
    String::from_utf8(field.to_vec())
        .expect("ascii")
        .split_whitespace()
        .filter(|w| w.starts_with("=?"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn simple_ascii() {
    assert_eq!(
        header_field("Subject", "hello world"),
        b"Subject: hello world\r\n"
    );
}

#[test]
fn strips_cr_lf_and_controls() {
    let f = header_field("Subject", "x\r\nBcc: evil@x\0");
    assert_eq!(f, b"Subject: xBcc: evil@x\r\n");
    let f = header_field("X-Evil\r\nBcc", "v");
    assert_eq!(f, b"X-EvilBcc: v\r\n");
}

#[test]
fn folds_long_ascii_at_whitespace() {
    let value = "word ".repeat(40);
    let value = value.trim();
    let f = header_field("Subject", value);
    assert!(lines(&f).len() > 1);
    assert_well_formed(&f);
    let unfolded: Vec<u8> = f
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    assert_eq!(unfolded, format!("Subject: {value}").as_bytes());
}

#[test]
fn keeps_unusual_whitespace_on_unfolding() {
    let value = "a\t b   c";
    assert_eq!(header_field("X", value), b"X: a\t b   c\r\n");
}

#[test]
fn french_round_trips() {
    let value = "Réunion de l'équipe « genre » à 14 h — ordre du jour détaillé";
    let f = header_field("Subject", value);
    assert_well_formed(&f);
    assert!(f.is_ascii());
    assert_eq!(value_of(&f), value);
    assert!(String::from_utf8_lossy(&f).contains("=?utf-8?q?"));
}

#[test]
fn arabic_round_trips() {
    let value = "اجتماع فريق النوع الاجتماعي يوم الثلاثاء لمناقشة الخطة السنوية والميزانية";
    let f = header_field("Subject", value);
    assert_well_formed(&f);
    assert!(f.is_ascii());
    assert_eq!(value_of(&f), value);
    assert!(String::from_utf8_lossy(&f).contains("=?utf-8?b?"));
}

#[test]
fn encoded_words_are_short_and_whole_characters() {
    let value = "😀é日本語".repeat(20);
    let f = header_field("Subject", &value);
    assert_well_formed(&f);
    let words = encoded_words(&f);
    assert!(words.len() > 3);
    let mut joined = String::new();
    for w in &words {
        assert!(w.len() <= 75);
        let decoded = unstructured(format!(" {w}\r\n").as_bytes());
        assert!(!decoded.contains('\u{fffd}'), "split character in {w}");
        joined.push_str(&decoded);
    }
    assert_eq!(joined, value);
    assert_eq!(value_of(&f), value);
}

#[test]
fn mixed_ascii_and_non_ascii_keep_spacing() {
    let value = "[team-gender] Re: Café au lait  et  thé";
    let f = header_field("Subject", value);
    assert!(String::from_utf8_lossy(&f).starts_with("Subject: [team-gender] Re: "));
    assert_eq!(value_of(&f), value);
}

#[test]
fn literal_encoded_word_lookalike_is_protected() {
    let value = "see =?utf-8?q?not_encoded?= here";
    let f = header_field("Subject", value);
    assert_eq!(value_of(&f), value);
}

#[test]
fn base64_vectors() {
    let cases = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, expected) in cases {
        assert_eq!(base64(input.as_bytes()), expected);
    }
}

#[test]
fn q_encoding() {
    assert_eq!(q_encode("é a_b=c".as_bytes()), "=C3=A9_a=5Fb=3Dc");
}

#[test]
fn address_field_plain_quoted_encoded() {
    assert_eq!(
        address_field(
            "List-Id",
            "Gender issue team",
            "team-gender.lists.example.org"
        ),
        b"List-Id: Gender issue team <team-gender.lists.example.org>\r\n"
    );
    assert_eq!(
        address_field("List-Id", "Team, \"gender\"", "a.b"),
        b"List-Id: \"Team, \\\"gender\\\"\" <a.b>\r\n"
    );
    assert_eq!(address_field("List-Id", "", "a.b"), b"List-Id: <a.b>\r\n");
    let f = address_field("List-Id", "Équipe (genre)", "a.b");
    assert!(f.is_ascii());
    let s = String::from_utf8_lossy(&f);
    assert!(s.starts_with("List-Id: =?utf-8?"));
    assert!(s.ends_with(" <a.b>\r\n"));
}

#[test]
fn address_field_resists_injection() {
    let f = address_field("List-Id", "x\r\nBcc: evil@x", "a.b>\r\nBcc: c");
    assert_eq!(lines(&f).len(), 1);
    assert!(!String::from_utf8_lossy(&f).contains("\r\nBcc"));
}

#[test]
fn tabs_next_to_encoded_words_survive() {
    let value = "a\té\t\tb c";
    let f = header_field("Subject", value);
    assert_eq!(value_of(&f), value);
}

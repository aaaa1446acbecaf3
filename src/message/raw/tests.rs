use super::*;

const CRLF_MSG: &[u8] = b"Received: from a by b;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n\
From: Alice <alice@example.org>\r\nTo: team@lists.example.org\r\n\
Subject: =?utf-8?q?R=C3=A9union?=\r\n   de travail\r\n\
X-Odd : spaced name\r\n\r\nHello\r\n\r\n-- \r\nAlice\r\n";

fn lf(msg: &[u8]) -> Vec<u8> {
    msg.iter().copied().filter(|&b| b != b'\r').collect()
}

#[test]
fn rebuild_is_byte_identical_crlf() {
    let msg = RawMessage::parse(CRLF_MSG).expect("parse");
    assert_eq!(msg.fields().len(), 5);
    assert_eq!(msg.eol(), b"\r\n");
    assert_eq!(msg.to_bytes(), CRLF_MSG);
}

#[test]
fn rebuild_is_byte_identical_lf() {
    let raw = lf(CRLF_MSG);
    let msg = RawMessage::parse(&raw).expect("parse");
    assert_eq!(msg.fields().len(), 5);
    assert_eq!(msg.eol(), b"\n");
    assert_eq!(msg.body(), b"Hello\n\n-- \nAlice\n");
    assert_eq!(msg.to_bytes(), raw);
}

#[test]
fn rebuild_without_body_is_identical() {
    for raw in [
        &b"Subject: x\r\nFrom: a@b\r\n"[..],
        b"Subject: x\r\nFrom: a@b",
        b"Subject: x\r\n\r\n",
        b"Subject: x\n",
    ] {
        let msg = RawMessage::parse(raw).expect("parse");
        assert!(msg.body().is_empty());
        assert_eq!(msg.to_bytes(), raw);
    }
}

#[test]
fn appending_to_unterminated_last_field_starts_a_new_line() {
    let mut msg = RawMessage::parse(b"Subject: x").expect("parse");
    msg.append("To", "a@b");
    assert_eq!(msg.to_bytes(), b"Subject: x\r\nTo: a@b\r\n");
}

#[test]
fn names_are_case_insensitive_and_values_decoded() {
    let msg = RawMessage::parse(CRLF_MSG).expect("parse");
    assert_eq!(msg.get("subject").as_deref(), Some("Réunion de travail"));
    assert_eq!(msg.get("X-ODD").as_deref(), Some("spaced name"));
    assert_eq!(msg.fields()[4].name(), "X-Odd");
    assert!(msg.get("Cc").is_none());
}

#[test]
fn edits_leave_body_untouched() {
    let mut msg = RawMessage::parse(CRLF_MSG).expect("parse");
    let body = msg.body().to_vec();
    msg.append("X-Added", "1");
    msg.prepend("X-First", "0");
    msg.replace("Subject", "new");
    assert_eq!(msg.remove("received").len(), 1);
    let out = msg.to_bytes();
    assert!(out.starts_with(b"X-First: 0\r\nFrom:"));
    assert!(out.ends_with(&body));
    let reparsed = RawMessage::parse(&out).expect("reparse");
    assert_eq!(reparsed.body(), &body[..]);
    let names: Vec<_> = reparsed.fields().iter().map(Field::name).collect();
    assert_eq!(
        names,
        ["X-First", "From", "To", "Subject", "X-Odd", "X-Added"]
    );
    assert_eq!(reparsed.get("Subject").as_deref(), Some("new"));
}

#[test]
fn replace_drops_duplicates_and_appends_when_missing() {
    let mut msg = RawMessage::parse(b"A: 1\r\nB: 2\r\nA: 3\r\n\r\n").expect("parse");
    msg.replace("a", "9");
    msg.replace("C", "4");
    assert_eq!(msg.to_bytes(), b"A: 9\r\nB: 2\r\nC: 4\r\n\r\n");
}

#[test]
fn lf_message_gets_lf_fields() {
    let raw = lf(CRLF_MSG);
    let mut msg = RawMessage::parse(&raw).expect("parse");
    msg.append("X-Long", &"word ".repeat(30));
    let out = msg.to_bytes();
    assert!(!out.contains(&b'\r'));
    let reparsed = RawMessage::parse(&out).expect("reparse");
    assert_eq!(reparsed.body(), msg.body());
}

#[test]
fn non_header_line_starts_body() {
    let raw = b"Subject: x\r\nthis is body\r\n";
    let msg = RawMessage::parse(raw).expect("parse");
    assert_eq!(msg.body(), b"this is body\r\n");
    assert_eq!(msg.to_bytes(), b"Subject: x\r\n\r\nthis is body\r\n");
}

#[test]
fn unparseable_input_is_an_error() {
    assert_eq!(RawMessage::parse(b"").err(), Some(ParseError::Empty));
    for raw in [&b"just some text\r\n"[..], b"\r\nbody", b" folded: x\r\n"] {
        assert_eq!(RawMessage::parse(raw).err(), Some(ParseError::NoHeaders));
    }
}

#[test]
fn content_type_is_parsed() {
    let raw = b"Content-Type: Text/Plain;\r\n charset=\"UTF-8\"; format=flowed\r\n\r\nx";
    let msg = RawMessage::parse(raw).expect("parse");
    let ct = msg.get_content_type("content-type").expect("ct");
    assert!(ct.is("text/plain"));
    assert_eq!(ct.param("Charset"), Some("UTF-8"));
    assert_eq!(ct.param("format"), Some("flowed"));
}

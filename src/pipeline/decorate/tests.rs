use super::*;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

const FOOTER: &str = "Gender issue team\nhttps://lists.example.org/team-gender";

fn list() -> ListDecoration<'static> {
    ListDecoration {
        list_name: "team-gender",
        display_name: "Gender issue team",
        domain: "lists.example.org",
        posting_allowed_to_all_members: true,
        subject_prefix: Some("[team-gender]"),
        footer: None,
        confidentiality_notice: None,
        account_line: None,
        rewrite_from: false,
        trusted_authserv_ids: &[],
        public_archive: None,
    }
}

fn with_footer(footer: &'static str) -> ListDecoration<'static> {
    ListDecoration {
        footer: Some(footer),
        ..list()
    }
}

fn plain(subject: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.org>\r\nTo: team-gender@lists.example.org\r\n\
         Subject: {subject}\r\nMessage-ID: <1@example.org>\r\n\r\nHello team,\r\nsee you.\r\n"
    )
    .into_bytes()
}

fn run(raw: &[u8], list: &ListDecoration) -> Vec<u8> {
    decorate(raw, list).expect("decorate")
}

fn parse(raw: &[u8]) -> Message<'_> {
    MessageParser::default().parse(raw).expect("mail-parser")
}

fn body_of(raw: &[u8]) -> Vec<u8> {
    RawMessage::parse(raw).expect("raw").body().to_vec()
}

fn header_block(raw: &[u8]) -> String {
    let msg = RawMessage::parse(raw).expect("raw");
    let fields: Vec<u8> = msg
        .fields()
        .iter()
        .flat_map(|f| f.as_bytes().to_vec())
        .collect();
    String::from_utf8_lossy(&fields).into_owned()
}

fn values(raw: &[u8], name: &str) -> Vec<String> {
    let msg = RawMessage::parse(raw).expect("raw");
    msg.fields()
        .iter()
        .filter(|f| f.is(name))
        .map(|f| f.value())
        .collect()
}

/// (mime type, decoded text) of every non-multipart part, in order.
fn leaves(m: &Message) -> Vec<(String, String)> {
    m.parts
        .iter()
        .filter_map(|p| {
            let text = match &p.body {
                PartType::Text(t) | PartType::Html(t) => t.to_string(),
                PartType::Binary(b) | PartType::InlineBinary(b) => {
                    String::from_utf8_lossy(b).into_owned()
                }
                _ => return None,
            };
            let ct = p.content_type().map_or("text/plain".to_owned(), |c| {
                format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default())
            });
            Some((ct, text))
        })
        .collect()
}

fn root_type(m: &Message) -> String {
    let ct = m.content_type().expect("content-type");
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
}

#[test]
fn body_is_untouched_without_footer() {
    for raw in [
        plain("Hi"),
        plain("Hi").into_iter().filter(|&b| b != b'\r').collect(),
    ] {
        let out = run(&raw, &list());
        assert_eq!(body_of(&out), body_of(&raw));
        assert!(out.ends_with(&body_of(&raw)));
    }
}

#[test]
fn lf_message_stays_lf() {
    let raw: Vec<u8> = plain("Hi").into_iter().filter(|&b| b != b'\r').collect();
    let out = run(&raw, &with_footer(FOOTER));
    assert!(!out.contains(&b'\r'));
    assert!(out
        .ends_with(b"see you.\n\n-- \nGender issue team\nhttps://lists.example.org/team-gender\n"));
}

#[test]
fn list_headers_replace_foreign_ones() {
    let raw = b"From: a@example.org\r\nList-Id: Other <other.example.com>\r\n\
        List-Post: <mailto:other@example.com>\r\nlist-unsubscribe: <mailto:x@example.com>\r\n\
        List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nList-Archive: <https://x>\r\n\
        List-Owner: <mailto:o@x>\r\nPrecedence: bulk\r\nSubject: s\r\n\r\nbody\r\n";
    let out = run(raw, &list());
    assert_eq!(
        values(&out, "List-Id"),
        ["Gender issue team <team-gender.lists.example.org>"]
    );
    assert_eq!(
        values(&out, "List-Post"),
        ["<mailto:team-gender@lists.example.org>"]
    );
    assert_eq!(
        values(&out, "List-Help"),
        ["<mailto:team-gender-request@lists.example.org?subject=help>"]
    );
    assert_eq!(
        values(&out, "List-Subscribe"),
        ["<mailto:team-gender-join@lists.example.org>"]
    );
    assert_eq!(
        values(&out, "List-Owner"),
        ["<mailto:team-gender-owner@lists.example.org>"]
    );
    assert_eq!(values(&out, "Precedence"), ["list"]);
    assert_eq!(values(&out, "X-Loop"), ["team-gender@lists.example.org"]);
    for gone in ["List-Unsubscribe", "List-Unsubscribe-Post", "List-Archive"] {
        assert!(values(&out, gone).is_empty(), "{gone} leaked");
    }
    assert!(!String::from_utf8_lossy(&out).contains("example.com"));
    assert_eq!(body_of(&out), b"body\r\n");
}

#[test]
fn announce_only_list_says_no() {
    let list = ListDecoration {
        posting_allowed_to_all_members: false,
        ..list()
    };
    let out = run(&plain("Hi"), &list);
    assert_eq!(values(&out, "List-Post"), ["NO"]);
}

#[test]
fn list_id_display_name_is_quoted_or_encoded() {
    let quoted = ListDecoration {
        display_name: "Team (gender), \"core\"",
        ..list()
    };
    let out = run(&plain("Hi"), &quoted);
    assert!(header_block(&out)
        .contains("List-Id: \"Team (gender), \\\"core\\\"\" <team-gender.lists.example.org>\r\n"));
    let encoded = ListDecoration {
        display_name: "Équipe genre",
        ..list()
    };
    let out = run(&plain("Hi"), &encoded);
    assert!(out.is_ascii());
    assert_eq!(
        values(&out, "List-Id"),
        ["Équipe genre <team-gender.lists.example.org>"]
    );
}

#[test]
fn subject_prefix_added_once() {
    let out = run(&plain("Meeting notes"), &list());
    assert_eq!(parse(&out).subject(), Some("[team-gender] Meeting notes"));
    let again = run(&out, &list());
    assert_eq!(parse(&again).subject(), Some("[team-gender] Meeting notes"));
}

#[test]
fn subject_prefix_not_doubled_on_replies() {
    for subject in [
        "Re: [team-gender] x",
        "AW: [TEAM-GENDER] x",
        "Fwd: Re: [Team-Gender] x",
    ] {
        let raw = plain(subject);
        let out = run(&raw, &list());
        assert_eq!(values(&out, "Subject"), [subject]);
        let field = format!("Subject: {subject}\r\n");
        assert!(
            header_block(&out).contains(&field),
            "subject field was rewritten"
        );
    }
}

#[test]
fn missing_subject_gets_prefix_alone() {
    let raw = b"From: a@example.org\r\n\r\nbody\r\n";
    let out = run(raw, &list());
    assert_eq!(parse(&out).subject(), Some("[team-gender]"));
}

#[test]
fn non_ascii_subjects_round_trip() {
    let arabic = "اجتماع فريق النوع الاجتماعي يوم الثلاثاء لمناقشة الخطة السنوية";
    let cases = [
        (
            "=?iso-8859-1?q?R=E9union_de_l'=E9quipe?=".to_owned(),
            "Réunion de l'équipe".to_owned(),
        ),
        (
            "Réunion à 14 h, café prévu".to_owned(),
            "Réunion à 14 h, café prévu".to_owned(),
        ),
        (
            format!("=?utf-8?b?{}?=", crate::message::base64(arabic.as_bytes())),
            arabic.to_owned(),
        ),
        (arabic.to_owned(), arabic.to_owned()),
    ];
    for (raw_subject, decoded) in cases {
        let out = run(&plain(&raw_subject), &list());
        assert!(
            header_block(&out).is_ascii(),
            "unencoded header: {raw_subject}"
        );
        let expected = format!("[team-gender] {decoded}");
        assert_eq!(parse(&out).subject(), Some(expected.as_str()));
        for line in header_block(&out).split("\r\n") {
            assert!(line.len() <= 78, "long line {line}");
        }
    }
}

#[test]
fn footer_appended_to_plain_text() {
    let raw = plain("Hi");
    let out = run(&raw, &with_footer(FOOTER));
    let body = body_of(&out);
    assert!(body.starts_with(&body_of(&raw)));
    assert_eq!(
        &body[body_of(&raw).len()..],
        b"\r\n-- \r\nGender issue team\r\nhttps://lists.example.org/team-gender\r\n"
    );
    assert!(values(&out, "Content-Type").is_empty());
}

#[test]
fn footer_without_trailing_newline_in_body() {
    let raw = b"Subject: s\r\n\r\nno newline";
    let out = run(raw, &with_footer("foot"));
    assert!(out.ends_with(b"\r\n\r\nno newline\r\n\r\n-- \r\nfoot\r\n"));
}

#[test]
fn non_ascii_footer_upgrades_ascii_part() {
    let raw = b"Subject: s\r\nContent-Type: text/plain; charset=us-ascii; format=flowed\r\n\
        Content-Transfer-Encoding: 7bit\r\n\r\nhello\r\n";
    let out = run(raw, &with_footer("Équipe genre — مرحبا"));
    let m = parse(&out);
    assert_eq!(
        m.body_text(0).as_deref(),
        Some("hello\r\n\r\n-- \r\nÉquipe genre — مرحبا\r\n")
    );
    let ct = m.content_type().expect("ct");
    assert_eq!(ct.attribute("charset"), Some("utf-8"));
    assert_eq!(ct.attribute("format"), Some("flowed"));
    assert_eq!(values(&out, "Content-Transfer-Encoding"), ["8bit"]);
}

#[test]
fn non_ascii_footer_on_bare_message_declares_mime() {
    let out = run(&plain("Hi"), &with_footer("Équipe"));
    assert_eq!(values(&out, "MIME-Version"), ["1.0"]);
    assert_eq!(values(&out, "Content-Type"), ["text/plain; charset=utf-8"]);
    assert!(parse(&out)
        .body_text(0)
        .is_some_and(|t| t.ends_with("Équipe\r\n")));
}

#[test]
fn footer_on_base64_text_wraps() {
    let raw = b"Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nQm9uam91ciDDqXF1aXBlCg==\r\n";
    let out = run(raw, &with_footer("Pied de page é"));
    let orig = body_of(raw);
    assert!(out.windows(orig.len()).any(|w| w == orig));
    let m = parse(&out);
    assert_eq!(root_type(&m), "multipart/mixed");
    let leaves = leaves(&m);
    assert_eq!(leaves.len(), 2);
    assert_eq!(
        leaves[0],
        ("text/plain".to_owned(), "Bonjour équipe\n".to_owned())
    );
    assert_eq!(
        leaves[1],
        ("text/plain".to_owned(), "Pied de page é\r\n".to_owned())
    );
    assert_eq!(values(&out, "MIME-Version"), ["1.0"]);
    assert_eq!(values(&out, "Content-Transfer-Encoding"), ["8bit"]);
}

#[test]
fn footer_on_quoted_printable_wraps() {
    let raw = b"Subject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n";
    let out = run(raw, &with_footer("foot"));
    let leaves = leaves(&parse(&out));
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[0].1, "Café\r\n");
}

const MIXED: &[u8] = b"Subject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
Content-Type: text/plain\r\n\r\nfirst\r\n--b1\r\nContent-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\nepilogue\r\n";

#[test]
fn footer_on_mixed_adds_a_part() {
    let out = run(MIXED, &with_footer(FOOTER));
    let m = parse(&out);
    assert_eq!(root_type(&m), "multipart/mixed");
    let leaves = leaves(&m);
    assert_eq!(leaves.len(), 3);
    assert_eq!(leaves[0].1, "first");
    assert_eq!(
        leaves[2],
        (
            "text/plain".to_owned(),
            format!("{}\r\n", FOOTER.replace('\n', "\r\n"))
        )
    );
    let body = body_of(&out);
    let original = body_of(MIXED);
    let cut = original.len() - b"--b1--\r\nepilogue\r\n".len();
    assert!(body.starts_with(&original[..cut]));
    assert!(body.ends_with(b"\r\n--b1--\r\nepilogue\r\n"));
}

#[test]
fn footer_containing_boundary_wraps_instead() {
    let out = run(MIXED, &with_footer("--b1--"));
    let m = parse(&out);
    assert_eq!(leaves(&m).len(), 3);
    assert_eq!(leaves(&m)[2].1, "--b1--\r\n");
    assert!(body_of(&out)
        .windows(body_of(MIXED).len())
        .any(|w| w == body_of(MIXED)));
}

#[test]
fn footer_on_alternative_wraps_in_mixed() {
    let raw = b"Subject: s\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/alternative;\r\n boundary=\"alt\"\r\n\r\n--alt\r\n\
        Content-Type: text/plain\r\n\r\nplain\r\n--alt\r\nContent-Type: text/html\r\n\r\n\
        <p>html</p>\r\n--alt--\r\n";
    let out = run(raw, &with_footer(FOOTER));
    let m = parse(&out);
    assert_eq!(root_type(&m), "multipart/mixed");
    let inner = m.part(1).expect("first inner part");
    let ct = inner.content_type().expect("ct");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let leaves = leaves(&m);
    assert_eq!(leaves.len(), 3);
    assert_eq!(leaves[0], ("text/plain".to_owned(), "plain".to_owned()));
    assert_eq!(
        leaves[1],
        ("text/html".to_owned(), "<p>html</p>".to_owned())
    );
    assert!(leaves[2].1.starts_with("Gender issue team"));
    let orig_body = body_of(raw);
    assert!(out.windows(orig_body.len()).any(|w| w == orig_body));
    assert_eq!(values(&out, "Content-Type").len(), 1);
}

#[test]
fn signed_message_is_wrapped_untouched() {
    let signed_body = b"--sig\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--sig\r\n\
        Content-Type: application/pgp-signature\r\n\r\n-----BEGIN PGP SIGNATURE-----\r\n\
        xyz\r\n-----END PGP SIGNATURE-----\r\n--sig--\r\n";
    let mut raw = b"Subject: s\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; \
        boundary=\"sig\"; protocol=\"application/pgp-signature\"; micalg=pgp-sha256\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(signed_body);
    let out = run(&raw, &with_footer("foot"));
    let m = parse(&out);
    assert_eq!(root_type(&m), "multipart/mixed");
    let inner_ct = format!(
        "\r\nContent-Type: multipart/signed; boundary=\"sig\"; protocol=\"application/pgp-signature\"; micalg=pgp-sha256\r\n\r\n{}",
        String::from_utf8_lossy(signed_body)
    );
    assert!(String::from_utf8_lossy(&out).contains(&inner_ct));
    assert_eq!(leaves(&m).len(), 3);
}

#[test]
fn html_alone_is_wrapped() {
    let raw = b"Subject: s\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>x</p>\r\n";
    let m_out = run(raw, &with_footer("foot"));
    let leaves = leaves(&parse(&m_out));
    assert_eq!(
        leaves[0],
        ("text/html".to_owned(), "<p>x</p>\r\n".to_owned())
    );
    assert_eq!(leaves[1], ("text/plain".to_owned(), "foot\r\n".to_owned()));
}

#[test]
fn header_injection_is_neutralised() {
    let evil = "x\r\nBcc: evil@x";
    let list = ListDecoration {
        display_name: evil,
        subject_prefix: Some(evil),
        footer: Some(evil),
        ..list()
    };
    for raw in [plain("Hi"), MIXED.to_vec()] {
        let out = run(&raw, &list);
        let headers = header_block(&out);
        assert!(!headers.contains("\r\nBcc"), "{headers}");
        assert!(!headers.starts_with("Bcc"));
        let m = parse(&out);
        assert!(m.bcc().is_none());
        for part in &m.parts {
            assert!(part
                .headers
                .iter()
                .all(|h| !h.name().eq_ignore_ascii_case("bcc")));
        }
    }
}

#[test]
fn message_id_added_when_missing() {
    let raw = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n";
    let out = run(raw, &list());
    let ids = values(&out, "Message-ID");
    assert_eq!(ids.len(), 1);
    assert!(ids[0].starts_with('<') && ids[0].ends_with("@lists.example.org>"));
    assert_eq!(values(&run(raw, &list()), "Message-ID"), ids);
    let m_id = parse(&out).message_id().map(str::to_owned);
    assert!(m_id.is_some_and(|id| id.ends_with("@lists.example.org")));
    let other = run(
        b"From: b@example.org\r\nSubject: s\r\n\r\nbody\r\n",
        &list(),
    );
    assert_ne!(values(&other, "Message-ID"), ids);
}

#[test]
fn existing_message_id_kept() {
    let out = run(&plain("Hi"), &list());
    assert_eq!(values(&out, "Message-ID"), ["<1@example.org>"]);
}

#[test]
fn headers_only_message_gets_footer() {
    let out = run(b"Subject: s\r\n", &with_footer("foot"));
    assert!(out.ends_with(b"\r\n\r\n\r\n-- \r\nfoot\r\n"));
    assert_eq!(
        parse(&out).body_text(0).as_deref(),
        Some("\r\n-- \r\nfoot\r\n")
    );
}

#[test]
fn unparseable_message_is_an_error() {
    assert!(decorate(b"", &list()).is_err());
    assert!(decorate(b"not a message at all\r\n", &list()).is_err());
}

#[test]
fn undecodable_subject_keeps_original_bytes() {
    let raw = plain("=?x-unknown?b?GyRCJU8lbSE8GyhC?=");
    let out = run(&raw, &list());
    assert!(header_block(&out)
        .contains("\r\nSubject: [team-gender] =?x-unknown?b?GyRCJU8lbSE8GyhC?=\r\n"));
    let mut latin1 = b"Subject: Caf\xe9\r\n".to_vec();
    latin1.extend_from_slice(b"\r\nbody\r\n");
    let out = run(&latin1, &list());
    assert!(out.starts_with(b"Subject: [team-gender] Caf\xe9\r\n"));
    assert_eq!(values(&run(&out, &list()), "Subject").len(), 1);
    assert!(run(&out, &list()).starts_with(b"Subject: [team-gender] Caf\xe9\r\n"));
}

#[test]
fn from_is_rewritten_to_the_list_with_the_author_in_reply_to() {
    let list = ListDecoration {
        rewrite_from: true,
        ..list()
    };
    let out = run(&plain("Hi"), &list);
    let m = parse(&out);
    let from = m.from().and_then(|f| f.first()).expect("From");
    assert_eq!(from.address(), Some("team-gender@lists.example.org"));
    assert_eq!(from.name(), Some("Alice via Gender issue team"));
    let reply_to = m.reply_to().and_then(|r| r.first()).expect("Reply-To");
    assert_eq!(reply_to.address(), Some("alice@example.org"));
    assert_eq!(values(&out, "From").len(), 1);
    assert_eq!(body_of(&out), body_of(&plain("Hi")));
}

#[test]
fn from_rewrite_keeps_the_authors_own_reply_to_and_spells_out_a_bare_address() {
    let raw =
        b"From: bob@example.org\r\nReply-To: <desk@example.org>\r\nSubject: x\r\n\r\nbody\r\n";
    let list = ListDecoration {
        rewrite_from: true,
        ..list()
    };
    let out = run(raw, &list);
    let m = parse(&out);
    let from = m.from().and_then(|f| f.first()).expect("From");
    assert_eq!(
        from.name(),
        Some("bob at example.org via Gender issue team")
    );
    assert_eq!(values(&out, "Reply-To"), ["<desk@example.org>"]);
}

#[test]
fn only_trusted_authentication_results_are_passed_on() {
    let raw = b"Authentication-Results: mx.lists.example.org; dkim=pass header.d=example.org\r\n\
Authentication-Results: forged.example; dkim=pass header.d=example.org\r\n\
From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n";
    let trusted = ["mx.lists.example.org".to_string()];
    let trusting = ListDecoration {
        trusted_authserv_ids: &trusted,
        ..list()
    };
    let out = run(raw, &trusting);
    let kept = values(&out, "Authentication-Results");
    assert_eq!(kept.len(), 1);
    assert!(kept[0].starts_with("mx.lists.example.org;"), "{kept:?}");
    let out = run(raw, &list());
    assert!(values(&out, "Authentication-Results").is_empty());
}

#[test]
fn confidentiality_notice_comes_before_the_footer() {
    let list = ListDecoration {
        confidentiality_notice: Some("CONFIDENTIAL: members only."),
        footer: Some("The footer"),
        ..list()
    };
    let out = run(&plain("Hi"), &list);
    let text = String::from_utf8_lossy(&body_of(&out)).into_owned();
    let notice = text.find("CONFIDENTIAL").expect("notice");
    let footer = text.find("The footer").expect("footer");
    assert!(notice < footer, "{text}");
}

#[test]
fn the_account_line_ends_a_footer_and_never_starts_one() {
    let account = "Your subscriptions: https://lists.example.org/console/account";
    let with_footer = ListDecoration {
        footer: Some("The footer"),
        account_line: Some(account),
        ..list()
    };
    let out = run(&plain("Hi"), &with_footer);
    let text = String::from_utf8_lossy(&body_of(&out)).into_owned();
    let footer = text.find("The footer").expect("footer");
    let line = text.find(account).expect("account line");
    assert!(footer < line, "{text}");

    // Without a footer the body stays as the author signed it.
    let raw = plain("Hi");
    let without = ListDecoration {
        account_line: Some(account),
        ..list()
    };
    let out = run(&raw, &without);
    assert_eq!(body_of(&out), body_of(&raw));
}

#[test]
fn a_public_lists_copies_name_its_archive_and_their_page_in_it() {
    let raw = b"From: a@example.org\r\nSubject: x\r\nMessage-ID: <m1@example.org>\r\n\
Archived-At: <https://elsewhere.example/m1>\r\nList-Archive: <https://elsewhere.example/>\r\n\r\nbody\r\n";
    let public = ListDecoration {
        public_archive: Some("https://lists.example.org"),
        ..list()
    };
    let out = run(raw, &public);
    assert_eq!(
        values(&out, "List-Archive"),
        ["<https://lists.example.org/archive/team-gender/>"]
    );
    let key = crate::links::archive_key("<m1@example.org>");
    assert_eq!(
        values(&out, "Archived-At"),
        [format!(
            "<https://lists.example.org/archive/team-gender/message/{key}>"
        )]
    );
    let confidential = run(raw, &list());
    assert!(values(&confidential, "List-Archive").is_empty());
    assert!(values(&confidential, "Archived-At").is_empty());
}

//! Assembling a notice: multipart/alternative with a text and an HTML part. Parts are
//! base64-encoded UTF-8, which no relay mangles whatever the language or line length.

use crate::message::{address_field, header_field};

use super::templates::RenderedNotice;
use super::Automatic;

pub struct Envelope<'a> {
    pub from_name: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub reply_to: Option<&'a str>,
    pub list_id: &'a str,
    pub domain: &'a str,
    pub automatic: Automatic,
    pub rendered: &'a RenderedNotice,
}

pub fn assemble(envelope: &Envelope) -> Vec<u8> {
    let unique = format!("{:016x}", rand::random::<u64>());
    let boundary = format!("=_tidings_{unique}");
    let mut out = Vec::with_capacity(4096);
    out.extend(address_field("From", envelope.from_name, envelope.from));
    out.extend(header_field("To", envelope.to));
    if let Some(reply_to) = envelope.reply_to {
        out.extend(header_field("Reply-To", reply_to));
    }
    out.extend(header_field("Subject", &envelope.rendered.subject));
    out.extend(header_field("Date", &chrono::Utc::now().to_rfc2822()));
    out.extend(header_field(
        "Message-ID",
        &format!("<notice.{unique}@{}>", envelope.domain),
    ));
    out.extend(header_field("List-Id", envelope.list_id));
    let automatic = match envelope.automatic {
        Automatic::Replied => "auto-replied",
        Automatic::Generated => "auto-generated",
    };
    out.extend(header_field("Auto-Submitted", automatic));
    out.extend(header_field("Content-Language", &envelope.rendered.lang));
    out.extend(header_field("MIME-Version", "1.0"));
    out.extend(header_field(
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    ));
    out.extend_from_slice(b"\r\n");
    for (subtype, body) in [
        ("plain", &envelope.rendered.text),
        ("html", &envelope.rendered.html),
    ] {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        out.extend_from_slice(
            format!("Content-Type: text/{subtype}; charset=utf-8\r\n").as_bytes(),
        );
        out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        let crlf = body.replace("\r\n", "\n").replace('\n', "\r\n");
        out.extend_from_slice(
            data_encoding::BASE64_MIME
                .encode(crlf.as_bytes())
                .as_bytes(),
        );
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

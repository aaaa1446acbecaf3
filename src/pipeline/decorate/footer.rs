//! Footer, added the way Mailman's decorate handler does: appended in place
//! when that is safe for the part's encoding, otherwise as a separate part
//! so the original content is never re-encoded.

use super::fnv1a64;
use crate::message::{header_field, ContentType, Field, RawMessage};

enum Plan {
    /// Lone text/plain that can take the footer as-is.
    Append,
    /// multipart/mixed: new part before the closing delimiter at this offset.
    Insert { boundary: String, at: usize },
    /// Everything else: original becomes the first part of a new mixed.
    Wrap,
}

pub(super) fn apply(msg: &mut RawMessage, footer: &str) {
    let Some(text) = normalize(footer, msg.eol()) else {
        return;
    };
    match plan(msg, &text) {
        Plan::Append => append_to_plain(msg, &text),
        Plan::Insert { boundary, at } => insert_into_mixed(msg, &text, &boundary, at),
        Plan::Wrap => wrap(msg, &text),
    }
}

/// Footer lines with the message's line ending, including after the last
/// line; `None` when there is nothing to add.
fn normalize(footer: &str, eol: &[u8]) -> Option<Vec<u8>> {
    let unified = footer.replace("\r\n", "\n").replace('\r', "\n");
    let trimmed = unified.trim_end();
    if trimmed.trim_start().is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() + 16);
    for line in trimmed.split('\n') {
        let clean: String = line
            .chars()
            .filter(|c| *c == '\t' || !c.is_control())
            .collect();
        out.extend_from_slice(clean.as_bytes());
        out.extend_from_slice(eol);
    }
    Some(out)
}

fn transfer_encoding(msg: &RawMessage) -> String {
    msg.get("Content-Transfer-Encoding")
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "7bit".to_owned())
}

fn is_identity(cte: &str) -> bool {
    matches!(cte, "7bit" | "8bit" | "binary")
}

fn plan(msg: &RawMessage, text: &[u8]) -> Plan {
    let cte = transfer_encoding(msg);
    let ct = match msg.field("Content-Type") {
        None => None,
        Some(_) => match msg.get_content_type("Content-Type") {
            Some(ct) => Some(ct),
            None => return Plan::Wrap,
        },
    };
    match ct {
        Some(ct) if ct.is("multipart/mixed") => plan_mixed(msg, &ct, &cte, text),
        Some(ct) if !ct.is("text/plain") => Plan::Wrap,
        _ if !is_identity(&cte) || is_attachment(msg) => Plan::Wrap,
        ct => {
            let charset = ct.as_ref().and_then(|c| c.param("charset"));
            if can_append(charset, text.is_ascii()) {
                Plan::Append
            } else {
                Plan::Wrap
            }
        }
    }
}

fn is_attachment(msg: &RawMessage) -> bool {
    msg.get_content_type("Content-Disposition")
        .is_some_and(|d| d.is("attachment"))
}

fn charset_is_ascii(charset: &str) -> bool {
    ["us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us", "us"]
        .iter()
        .any(|c| charset.eq_ignore_ascii_case(c))
}

fn charset_is_utf8(charset: &str) -> bool {
    charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("utf8")
}

/// Charsets where appending ASCII bytes would not produce ASCII text.
fn charset_is_ascii_incompatible(charset: &str) -> bool {
    let c = charset.to_ascii_lowercase();
    [
        "utf-16", "utf-32", "ucs-", "utf-7", "utf7", "iso-2022", "hz-",
    ]
    .iter()
    .any(|p| c.starts_with(p))
}

fn can_append(charset: Option<&str>, footer_ascii: bool) -> bool {
    match charset {
        None => true,
        Some(c) if charset_is_ascii(c) || charset_is_utf8(c) => true,
        Some(c) => footer_ascii && !charset_is_ascii_incompatible(c),
    }
}

fn append_to_plain(msg: &mut RawMessage, text: &[u8]) {
    let eol = msg.eol();
    let mut body = msg.body().to_vec();
    if !body.is_empty() && !body.ends_with(b"\n") {
        body.extend_from_slice(eol);
    }
    body.extend_from_slice(eol);
    body.extend_from_slice(b"-- ");
    body.extend_from_slice(eol);
    body.extend_from_slice(text);
    msg.set_body(body);
    if !text.is_ascii() {
        declare_utf8(msg);
    }
}

/// The part may have been labelled us-ascii (explicitly or by default) and
/// 7bit; both are now wrong.
fn declare_utf8(msg: &mut RawMessage) {
    let ct = msg.get_content_type("Content-Type");
    let charset = ct.as_ref().and_then(|c| c.param("charset"));
    if !charset.is_some_and(charset_is_utf8) {
        let params = ct.map(|c| c.params).unwrap_or_default();
        msg.replace("Content-Type", &render_text_plain_utf8(&params));
    }
    if transfer_encoding(msg) == "7bit" {
        msg.replace("Content-Transfer-Encoding", "8bit");
    }
    ensure_mime_version(msg);
}

fn ensure_mime_version(msg: &mut RawMessage) {
    if msg.field("MIME-Version").is_none() {
        msg.append("MIME-Version", "1.0");
    }
}

fn render_text_plain_utf8(params: &[(String, String)]) -> String {
    let mut out = String::from("text/plain; charset=utf-8");
    for (name, value) in params.iter().filter(|(n, _)| n != "charset") {
        out.push_str("; ");
        out.push_str(&render_param(name, value));
    }
    out
}

fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// RFC 2045 token or quoted-string, or RFC 2231 for non-ASCII values.
fn render_param(name: &str, value: &str) -> String {
    if is_token(value) {
        format!("{name}={value}")
    } else if value.is_ascii() {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{name}=\"{escaped}\"")
    } else {
        format!("{name}*=utf-8''{}", percent_encode(value))
    }
}

fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn plan_mixed(msg: &RawMessage, ct: &ContentType, cte: &str, text: &[u8]) -> Plan {
    let Some(boundary) = ct.param("boundary").filter(|b| !b.is_empty()) else {
        return Plan::Wrap;
    };
    // A footer line that looks like a delimiter would split our part.
    if !is_identity(cte) || contains(text, boundary.as_bytes()) {
        return Plan::Wrap;
    }
    match closing_delimiter(msg.body(), boundary) {
        Some(at) => Plan::Insert {
            boundary: boundary.to_owned(),
            at,
        },
        None => Plan::Wrap,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle, 0).is_some()
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// Offset of the first `--boundary--` line. The first one ends the
/// multipart (RFC 2046 5.1.1); anything after it is epilogue.
fn closing_delimiter(body: &[u8], boundary: &str) -> Option<usize> {
    let delim = format!("--{boundary}--");
    let mut from = 0;
    while let Some(at) = find(body, delim.as_bytes(), from) {
        let at_line_start = at == 0 || body.get(at - 1) == Some(&b'\n');
        let rest = body.get(at + delim.len()..).unwrap_or_default();
        if at_line_start && ends_delimiter_line(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn ends_delimiter_line(rest: &[u8]) -> bool {
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    rest.get(..line_end)
        .unwrap_or_default()
        .iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r'))
}

fn field_bytes(name: &str, value: &str, eol: &[u8]) -> Vec<u8> {
    let field = header_field(name, value);
    if eol == b"\n" {
        field.into_iter().filter(|&b| b != b'\r').collect()
    } else {
        field
    }
}

/// Headers, blank line and text of the footer part (without delimiter).
fn footer_part(text: &[u8], eol: &[u8]) -> Vec<u8> {
    let cte = if text.is_ascii() { "7bit" } else { "8bit" };
    let mut part = field_bytes("Content-Type", "text/plain; charset=utf-8", eol);
    part.extend(field_bytes("Content-Transfer-Encoding", cte, eol));
    part.extend(field_bytes("Content-Disposition", "inline", eol));
    part.extend_from_slice(eol);
    part.extend_from_slice(text);
    part
}

fn insert_into_mixed(msg: &mut RawMessage, text: &[u8], boundary: &str, at: usize) {
    let eol = msg.eol();
    let body = msg.body();
    let mut out = Vec::with_capacity(body.len() + text.len() + 256);
    out.extend_from_slice(body.get(..at).unwrap_or_default());
    // The line break before the original closing delimiter now precedes
    // ours, so the last existing part keeps its exact content.
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(eol);
    out.extend(footer_part(text, eol));
    out.extend_from_slice(eol);
    out.extend_from_slice(body.get(at..).unwrap_or_default());
    msg.set_body(out);
    if !text.is_ascii() && transfer_encoding(msg) == "7bit" {
        msg.replace("Content-Transfer-Encoding", "8bit");
    }
}

fn is_content_field(field: &Field) -> bool {
    field
        .name()
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("content-"))
}

/// A boundary absent from the body and footer. "=_" cannot occur in
/// quoted-printable or base64 text, so collisions are unlikely to begin
/// with; the loop makes them impossible.
fn fresh_boundary(body: &[u8], text: &[u8]) -> String {
    let seed = fnv1a64(body, super::FNV_OFFSET);
    let mut n: u32 = 0;
    loop {
        let candidate = format!("=_tidings_{seed:016x}_{n}");
        if !contains(body, candidate.as_bytes()) && !contains(text, candidate.as_bytes()) {
            return candidate;
        }
        n = n.wrapping_add(1);
    }
}

fn outer_transfer_encoding(inner_cte: &str, text: &[u8]) -> Option<&'static str> {
    match inner_cte {
        "binary" => Some("binary"),
        "8bit" => Some("8bit"),
        _ if !text.is_ascii() => Some("8bit"),
        _ => None,
    }
}

fn wrap(msg: &mut RawMessage, text: &[u8]) {
    let eol = msg.eol();
    let inner_cte = transfer_encoding(msg);
    let boundary = fresh_boundary(msg.body(), text);
    let moved = msg.remove_if(is_content_field);
    let mut out = Vec::with_capacity(msg.body().len() + text.len() + 512);
    push_delimiter(&mut out, &boundary, eol, false);
    for field in &moved {
        out.extend_from_slice(field.as_bytes());
        if !field.as_bytes().ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
    }
    out.extend_from_slice(eol);
    out.extend_from_slice(msg.body());
    // Delimiters own the line break before them (RFC 2046), so the
    // original body stays exactly as it was, trailing newline or not.
    out.extend_from_slice(eol);
    push_delimiter(&mut out, &boundary, eol, false);
    out.extend(footer_part(text, eol));
    out.extend_from_slice(eol);
    push_delimiter(&mut out, &boundary, eol, true);
    msg.set_body(out);
    msg.replace("MIME-Version", "1.0");
    let content_type = format!("multipart/mixed; boundary=\"{boundary}\"");
    msg.append("Content-Type", &content_type);
    if let Some(cte) = outer_transfer_encoding(&inner_cte, text) {
        msg.append("Content-Transfer-Encoding", cte);
    }
}

fn push_delimiter(out: &mut Vec<u8>, boundary: &str, eol: &[u8], close: bool) {
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    if close {
        out.extend_from_slice(b"--");
    }
    out.extend_from_slice(eol);
}

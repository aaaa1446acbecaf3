//! Splitting a message into header fields and body.
//!
//! The split is hand-written instead of taken from mail-parser's header
//! offsets: mail-parser silently skips lines it cannot read as a field, and
//! where a field ends is decided by each value parser (address, date, ...),
//! so rebuilding from its offsets cannot promise byte-identical output. Here
//! only RFC 5322 line structure matters: a field is a `name:` line plus any
//! following lines that start with whitespace; the first empty line ends the
//! header block.

use std::borrow::Cow;
use std::ops::Range;

use super::build::{address_field, header_field};
use super::decode::{self, ContentType};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("message is empty")]
    Empty,
    #[error("message does not start with a header field")]
    NoHeaders,
}

/// One header field, exactly as it appears on the wire (folding and line
/// ending included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    raw: Cow<'a, [u8]>,
    colon: usize,
}

impl<'a> Field<'a> {
    /// A new field built by [`header_field`], so the value cannot inject
    /// further fields.
    pub fn new(name: &str, value: &str) -> Field<'static> {
        Field::from_built(header_field(name, value))
    }

    /// A new `Name: phrase <addr>` field built by [`address_field`].
    pub fn address(name: &str, display_name: &str, angle_addr: &str) -> Field<'static> {
        Field::from_built(address_field(name, display_name, angle_addr))
    }

    fn from_built(raw: Vec<u8>) -> Field<'static> {
        let colon = raw.iter().position(|&b| b == b':').unwrap_or(0);
        Field {
            raw: Cow::Owned(raw),
            colon,
        }
    }

    /// The field name as written (without trailing whitespace).
    pub fn name(&self) -> &str {
        let name = self.raw.get(..self.colon).unwrap_or_default();
        std::str::from_utf8(name.trim_ascii_end()).unwrap_or_default()
    }

    pub fn is(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name)
    }

    /// Everything after the colon, still folded, line ending included.
    pub fn raw_value(&self) -> &[u8] {
        self.raw.get(self.colon + 1..).unwrap_or_default()
    }

    /// Unfolded, RFC 2047-decoded value.
    pub fn value(&self) -> String {
        decode::unstructured(self.raw_value())
    }

    /// Whether [`Field::value`] represents the value without loss; when
    /// not, rewriting the field from it would garble it.
    pub fn value_is_faithful(&self) -> bool {
        decode::unstructured_is_faithful(self.raw_value())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// This field's value, byte for byte, under another name: for moving an address list
    /// from one field to another without re-encoding it.
    pub fn renamed(&self, name: &str) -> Field<'static> {
        let mut raw: Vec<u8> = name
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != ':')
            .collect::<String>()
            .into_bytes();
        raw.push(b':');
        let colon = raw.len() - 1;
        raw.extend_from_slice(self.raw_value());
        Field {
            raw: Cow::Owned(raw),
            colon,
        }
    }

    /// This field with `prefix` put in front of its value, the existing
    /// value kept as raw bytes. For values that cannot be decoded and
    /// re-encoded faithfully (charsets mail-parser does not know, raw 8-bit
    /// text in a legacy charset). The kept part is already a single folded
    /// field; bare CRs, which some software treats as line breaks, go.
    pub fn with_value_prefix(&self, prefix: &str) -> Field<'static> {
        let head = header_field(self.name(), prefix);
        let mut raw = head.strip_suffix(b"\r\n").unwrap_or(&head).to_vec();
        raw.push(b' ');
        let value = self.raw_value().trim_ascii_start();
        for (i, &b) in value.iter().enumerate() {
            if b != b'\r' || value.get(i + 1) == Some(&b'\n') {
                raw.push(b);
            }
        }
        if !raw.ends_with(b"\n") {
            raw.extend_from_slice(b"\r\n");
        }
        Field::from_built(raw)
    }

    fn ends_line(&self) -> bool {
        self.raw.ends_with(b"\n")
    }

    /// Built fields use CRLF; a LF-only message should stay LF-only.
    fn with_eol(self, eol: &[u8]) -> Self {
        if eol != b"\n" || !self.raw.contains(&b'\r') {
            return self;
        }
        let raw: Vec<u8> = self.raw.iter().copied().filter(|&b| b != b'\r').collect();
        Field {
            raw: Cow::Owned(raw),
            colon: self.colon,
        }
    }
}

/// A message split into header fields and an untouched body.
#[derive(Debug, Clone)]
pub struct RawMessage<'a> {
    fields: Vec<Field<'a>>,
    /// The empty line ending the header block, if there was one.
    separator: Option<&'a [u8]>,
    body: Cow<'a, [u8]>,
    eol: &'static [u8],
}

impl<'a> RawMessage<'a> {
    pub fn parse(raw: &'a [u8]) -> Result<Self, ParseError> {
        if raw.is_empty() {
            return Err(ParseError::Empty);
        }
        let (ranges, separator, body_start) = split(raw)?;
        let fields = ranges
            .into_iter()
            .map(|r| field_at(raw, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RawMessage {
            fields,
            separator,
            body: Cow::Borrowed(raw.get(body_start..).unwrap_or_default()),
            eol: detect_eol(raw),
        })
    }

    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// First field named `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.is(name))
    }

    /// Decoded value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.field(name).map(Field::value)
    }

    /// Parsed first `name` field with Content-Type syntax.
    pub fn get_content_type(&self, name: &str) -> Option<ContentType> {
        self.field(name)
            .and_then(|f| decode::content_type(f.raw_value()))
    }

    /// Removes every field named `name`, returning them in order.
    pub fn remove(&mut self, name: &str) -> Vec<Field<'a>> {
        self.remove_if(|f| f.is(name))
    }

    /// Removes every field matching `pred`, returning them in order.
    pub fn remove_if(&mut self, pred: impl FnMut(&Field<'a>) -> bool) -> Vec<Field<'a>> {
        let (removed, kept) = std::mem::take(&mut self.fields).into_iter().partition(pred);
        self.fields = kept;
        removed
    }

    pub fn append(&mut self, name: &str, value: &str) {
        self.append_field(Field::new(name, value));
    }

    pub fn prepend(&mut self, name: &str, value: &str) {
        self.prepend_field(Field::new(name, value));
    }

    pub fn append_field(&mut self, field: Field<'a>) {
        let field = field.with_eol(self.eol);
        self.fields.push(field);
    }

    pub fn prepend_field(&mut self, field: Field<'a>) {
        let field = field.with_eol(self.eol);
        self.fields.insert(0, field);
    }

    /// Sets the value of the first `name` field in place (keeping its
    /// name's spelling) and drops any others; appends when there is none.
    pub fn replace(&mut self, name: &str, value: &str) {
        let spelled = self.field(name).map_or(name, Field::name).to_owned();
        self.replace_field(Field::new(&spelled, value));
    }

    /// Puts `field` where the first field of the same name is, dropping any
    /// others of that name; appends when there is none.
    pub fn replace_field(&mut self, field: Field<'a>) {
        let name = field.name().to_owned();
        let field = field.with_eol(self.eol);
        match self.fields.iter().position(|f| f.is(&name)) {
            Some(pos) => {
                self.remove(&name);
                self.fields.insert(pos.min(self.fields.len()), field);
            }
            None => self.fields.push(field),
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn set_body(&mut self, body: Vec<u8>) {
        self.body = Cow::Owned(body);
    }

    /// The line ending the message uses (`\r\n` or `\n`), for text added
    /// to it.
    pub fn eol(&self) -> &'static [u8] {
        self.eol
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_hint());
        let has_more = self.separator.is_some() || !self.body.is_empty();
        let last = self.fields.len().saturating_sub(1);
        for (i, field) in self.fields.iter().enumerate() {
            out.extend_from_slice(field.as_bytes());
            // Only the original last field may lack a line ending (input
            // cut right after it); anything following needs a new line.
            if !field.ends_line() && (i < last || has_more) {
                out.extend_from_slice(self.eol);
            }
        }
        match self.separator {
            Some(sep) => out.extend_from_slice(sep),
            None if !self.body.is_empty() => out.extend_from_slice(self.eol),
            None => {}
        }
        out.extend_from_slice(&self.body);
        out
    }

    fn len_hint(&self) -> usize {
        let headers: usize = self.fields.iter().map(|f| f.raw.len()).sum();
        headers + self.body.len() + 4
    }
}

fn detect_eol(raw: &[u8]) -> &'static [u8] {
    match raw.iter().position(|&b| b == b'\n') {
        Some(i) if i > 0 && raw.get(i - 1) == Some(&b'\r') => b"\r\n",
        Some(_) => b"\n",
        None => b"\r\n",
    }
}

fn line_end(raw: &[u8], start: usize) -> usize {
    raw.get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        .map_or(raw.len(), |i| start + i + 1)
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// Index of the colon when `line` starts with a valid field name.
/// Whitespace before the colon is the obsolete syntax of RFC 5322 4.5.
fn name_colon(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?.trim_ascii_end();
    let valid = !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b));
    valid.then_some(colon)
}

fn field_at(raw: &[u8], range: Range<usize>) -> Result<Field<'_>, ParseError> {
    let bytes = raw.get(range).ok_or(ParseError::NoHeaders)?;
    let colon = name_colon(bytes).ok_or(ParseError::NoHeaders)?;
    Ok(Field {
        raw: Cow::Borrowed(bytes),
        colon,
    })
}

type Split<'a> = (Vec<Range<usize>>, Option<&'a [u8]>, usize);

/// Field byte ranges, the separator line and where the body starts.
///
/// A line that is neither a field nor a continuation ends the header block
/// without a separator (as Python's email package does): it is kept as the
/// start of the body rather than dropped.
fn split(raw: &[u8]) -> Result<Split<'_>, ParseError> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let end = line_end(raw, pos);
        let line = raw.get(pos..end).unwrap_or_default();
        if is_blank(line) {
            if ranges.is_empty() {
                return Err(ParseError::NoHeaders);
            }
            return Ok((ranges, Some(line), end));
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            let last = ranges.last_mut().ok_or(ParseError::NoHeaders)?;
            last.end = end;
        } else if name_colon(line).is_some() {
            ranges.push(pos..end);
        } else if ranges.is_empty() {
            return Err(ParseError::NoHeaders);
        } else {
            return Ok((ranges, None, pos));
        }
        pos = end;
    }
    Ok((ranges, None, raw.len()))
}

#[cfg(test)]
mod tests;

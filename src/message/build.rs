//! Builds header fields from text that may come from untrusted sources
//! (posters, list owners). Everything that ends up in a header goes through
//! here so that no caller can smuggle a line break into the header block.

/// RFC 2047 caps lines holding encoded-words at 76 characters, which also
/// keeps us under RFC 5322's recommended 78.
const MAX_LINE: usize = 76;
const MAX_ENCODED_WORD: usize = 75;
/// `=?utf-8?b?` + `?=`.
const ENCODED_WORD_OVERHEAD: usize = 12;
/// A word this long cannot be folded and risks RFC 5322's hard 998 limit, so
/// it is carried in encoded-words, which can be split anywhere.
const MAX_LITERAL_WORD: usize = 900;

/// Builds `Name: value\r\n`, unfolded value in, folded field out.
///
/// Control characters (CR and LF above all) are dropped rather than escaped:
/// a value is one logical line, and unfolding a folded value is exactly the
/// removal of its CRLFs. Non-ASCII words become RFC 2047 encoded-words.
pub fn header_field(name: &str, value: &str) -> Vec<u8> {
    let value = sanitize(value);
    layout(name, &unstructured_pieces(value.trim()))
}

/// Builds `Name: phrase <addr>` (e.g. `List-Id`), quoting or encoding the
/// phrase as RFC 5322 requires. An empty phrase yields `Name: <addr>`.
pub fn address_field(name: &str, display_name: &str, angle_addr: &str) -> Vec<u8> {
    let display = sanitize(display_name);
    let addr: String = sanitize(angle_addr)
        .chars()
        .filter(|c| !matches!(c, '<' | '>') && !is_wsp(*c))
        .collect();
    let mut pieces = phrase_pieces(display.trim());
    pieces.push(Piece::new(" ", format!("<{addr}>"), false));
    layout(name, &pieces)
}

fn sanitize(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c == '\t' || !c.is_control())
        .collect()
}

/// Names are program constants in practice, but filtering keeps the
/// no-injection guarantee unconditional.
fn sanitize_name(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic() && *c != ':')
        .collect()
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// A unit of layout: either copied literally or carried in encoded-words.
/// `ws` is the whitespace that precedes it in the unfolded value; folding
/// happens only in front of it so that unfolding restores it exactly.
struct Piece {
    ws: String,
    text: String,
    encode: bool,
}

impl Piece {
    fn new(ws: &str, text: String, encode: bool) -> Self {
        Piece {
            ws: ws.to_owned(),
            text,
            encode,
        }
    }
}

fn needs_encoding(word: &str) -> bool {
    // A literal "=?" could be mistaken for an encoded-word by a reader.
    !word.is_ascii() || word.contains("=?") || word.len() > MAX_LITERAL_WORD
}

/// Adjacent words that need encoding are merged, whitespace included,
/// because decoders drop the whitespace between two encoded-words.
fn unstructured_pieces(value: &str) -> Vec<Piece> {
    let words = split_words(value);
    let encode = encoding_flags(&words);
    let mut pieces: Vec<Piece> = Vec::new();
    for ((ws, word), encode) in words.into_iter().zip(encode) {
        match pieces.last_mut() {
            Some(last) if encode && last.encode => {
                last.text.push_str(ws);
                last.text.push_str(word);
            }
            _ => pieces.push(Piece::new(ws, word.to_owned(), encode)),
        }
    }
    pieces
}

/// Decoders reduce any whitespace next to an encoded-word to one space, so
/// whitespace other than a single space between an encoded and a literal
/// word is carried inside the encoded-word by encoding both.
fn encoding_flags(words: &[(&str, &str)]) -> Vec<bool> {
    let mut encode: Vec<bool> = words.iter().map(|(_, w)| needs_encoding(w)).collect();
    let mut changed = true;
    while changed {
        changed = false;
        for i in 1..words.len() {
            let odd_ws = words.get(i).is_some_and(|(ws, _)| *ws != " ");
            if odd_ws && encode.get(i - 1) != encode.get(i) {
                encode
                    .iter_mut()
                    .skip(i - 1)
                    .take(2)
                    .for_each(|e| *e = true);
                changed = true;
            }
        }
    }
    encode
}

/// Splits a trimmed value into (preceding whitespace, word) pairs.
fn split_words(value: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = value;
    let mut ws = "";
    while !rest.is_empty() {
        let word_end = rest.find(is_wsp).unwrap_or(rest.len());
        out.push((ws, &rest[..word_end]));
        let after = &rest[word_end..];
        let ws_end = after.find(|c| !is_wsp(c)).unwrap_or(after.len());
        ws = &after[..ws_end];
        rest = &after[ws_end..];
    }
    out
}

fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn phrase_pieces(display: &str) -> Vec<Piece> {
    if display.is_empty() {
        Vec::new()
    } else if !display.is_ascii() || display.contains("=?") {
        // Encoded-words may not sit inside a quoted-string, so the whole
        // phrase is encoded, specials and all.
        vec![Piece::new(" ", display.to_owned(), true)]
    } else if display.chars().all(|c| is_atext(c) || is_wsp(c)) {
        split_words(display)
            .into_iter()
            .map(|(ws, word)| Piece::new(ws, word.to_owned(), false))
            .collect()
    } else {
        vec![Piece::new(" ", quoted_string(display), false)]
    }
}

fn quoted_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn layout(name: &str, pieces: &[Piece]) -> Vec<u8> {
    let mut folder = Folder::new(&sanitize_name(name));
    for (i, piece) in pieces.iter().enumerate() {
        let ws = if i == 0 || piece.ws.is_empty() {
            " "
        } else {
            piece.ws.as_str()
        };
        if piece.encode {
            folder.push_encoded(ws, &piece.text);
        } else {
            folder.push_literal(ws, &piece.text);
        }
    }
    folder.finish()
}

struct Folder {
    out: String,
    col: usize,
    line_has_atom: bool,
}

impl Folder {
    fn new(name: &str) -> Self {
        let out = format!("{name}:");
        Folder {
            col: out.len(),
            out,
            line_has_atom: false,
        }
    }

    fn fold(&mut self) {
        self.out.push_str("\r\n");
        self.col = 0;
        self.line_has_atom = false;
    }

    fn emit(&mut self, ws: &str, atom: &str) {
        self.out.push_str(ws);
        self.out.push_str(atom);
        self.col += ws.len() + atom.len();
        self.line_has_atom = true;
    }

    fn push_literal(&mut self, ws: &str, atom: &str) {
        if self.line_has_atom && self.col + ws.len() + atom.len() > MAX_LINE {
            self.fold();
        }
        self.emit(ws, atom);
    }

    fn push_encoded(&mut self, ws: &str, text: &str) {
        let enc = Encoding::choose(text);
        let mut rest = text;
        let mut ws = ws;
        while let Some(first) = rest.chars().next() {
            let room = MAX_LINE
                .saturating_sub(self.col + ws.len())
                .min(MAX_ENCODED_WORD);
            let mut take = enc.fit(rest, room);
            if take == 0 && self.line_has_atom {
                self.fold();
                continue;
            }
            // Only reachable with an absurdly long field name: accept an
            // overlong line rather than loop forever.
            take = take.max(first.len_utf8());
            let word = enc.word(&rest.as_bytes()[..take]);
            self.emit(ws, &word);
            rest = &rest[take..];
            // Whitespace between encoded-words is dropped by decoders.
            ws = " ";
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.out.push_str("\r\n");
        self.out.into_bytes()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    B,
    Q,
}

impl Encoding {
    /// Q keeps mostly-Latin text readable in raw form; B is shorter for
    /// scripts where nearly every byte would need escaping.
    fn choose(text: &str) -> Self {
        let bytes = text.as_bytes();
        if Encoding::Q.len(bytes) <= Encoding::B.len(bytes) {
            Encoding::Q
        } else {
            Encoding::B
        }
    }

    fn len(self, bytes: &[u8]) -> usize {
        match self {
            Encoding::B => bytes.len().div_ceil(3) * 4,
            Encoding::Q => bytes.iter().map(|b| q_len(*b)).sum(),
        }
    }

    /// Largest prefix of `text`, on a character boundary, whose
    /// encoded-word fits in `room` characters.
    fn fit(self, text: &str, room: usize) -> usize {
        let mut fitted = 0;
        for (idx, c) in text.char_indices() {
            let end = idx + c.len_utf8();
            if ENCODED_WORD_OVERHEAD + self.len(&text.as_bytes()[..end]) > room {
                break;
            }
            fitted = end;
        }
        fitted
    }

    fn word(self, bytes: &[u8]) -> String {
        match self {
            Encoding::B => format!("=?utf-8?b?{}?=", base64(bytes)),
            Encoding::Q => format!("=?utf-8?q?{}?=", q_encode(bytes)),
        }
    }
}

/// RFC 2047 5(3): the restricted set is safe in phrases too.
fn q_is_literal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!*+-/".contains(&b)
}

fn q_len(b: u8) -> usize {
    if q_is_literal(b) || b == b' ' {
        1
    } else {
        3
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn q_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if q_is_literal(b) {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('_');
        } else {
            out.push('=');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;

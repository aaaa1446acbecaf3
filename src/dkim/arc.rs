//! ARC sealing (RFC 8617): the set a list adds to a posting it changed, once per posting,
//! before the copies are made. Its `ARC-Authentication-Results` say what the posting proved
//! when it arrived, its `ARC-Message-Signature` covers the decorated posting (not the
//! reader's own header lines, which every copy adds later), and its `ARC-Seal` covers every
//! set of the chain, the earlier ones included.
//!
//! mail-auth seals ARC sets too, but it writes their `b=` values as it writes DKIM's, with a
//! fold where a value ends on a line's last column, which dkimpy fails (see `sign.rs`), and
//! its field writers are private. So the three fields are written here, folded only between
//! tags and inside values, and each signature covers the relaxed canonical form of the very
//! text that is sent; mail-auth does the canonicalisation, hashing and RSA.

use mail_auth::arc::ChainValidation;
use mail_auth::common::crypto::{DkimKey, HashAlgorithm, SigningKey as _};
use mail_auth::common::headers::{Writable, Writer};
use mail_auth::dkim::Canonicalization;
use mail_auth::AuthenticatedMessage;

use super::sign::{CanonicalFields, SignError};
use crate::message::RawMessage;

/// The fields each copy adds for its own reader (its unsubscribe links), after the posting
/// was sealed: the `ARC-Message-Signature` leaves them out, and names no field twice, so
/// that they may be added.
const PER_COPY_FIELDS: [&str; 2] = ["List-Unsubscribe", "List-Unsubscribe-Post"];

/// The fields an `ARC-Message-Signature` covers, where present: those DKIM signs, but for
/// the reader's own.
fn sealed_fields() -> Vec<&'static str> {
    super::sign::signed_fields()
        .filter(|name| !PER_COPY_FIELDS.contains(name))
        .collect()
}

/// RFC 8617 §4.2.1: no more than 50 sets.
const MAX_INSTANCE: u32 = 50;

/// Width of a folded base64 line.
const BASE64_LINE: usize = 64;

/// The list domain's RSA key, which seals (RFC 8617 knows no other algorithm).
pub struct Sealer {
    domain: String,
    selector: String,
    key: DkimKey,
}

/// Bytes a signature covers, written as they are.
struct Data<'a>(&'a [u8]);

impl Writable for Data<'_> {
    fn write(self, writer: &mut impl Writer) {
        writer.write(self.0);
    }
}

impl Sealer {
    pub fn new(domain: &str, selector: &str, key: DkimKey) -> Sealer {
        Sealer {
            domain: domain.to_ascii_lowercase(),
            selector: selector.to_owned(),
            key,
        }
    }

    /// The ARC set to put on top of `message`: ARC-Seal, ARC-Message-Signature and
    /// ARC-Authentication-Results, each CRLF-terminated. `results` is the value of the
    /// authentication results the posting earned on arrival, `chain` what its ARC chain came
    /// to. `None` when nothing may be added: the chain already ended in `cv=fail`
    /// (RFC 8617 §5.1.2), or it is as long as a chain may be.
    pub fn seal(
        &self,
        message: &[u8],
        results: &str,
        chain: ChainValidation,
        now: u64,
    ) -> Result<Option<Vec<u8>>, SignError> {
        let earlier = EarlierSets::of(message);
        let instance = earlier.last_instance + 1;
        if earlier.ended_in_failure || instance > MAX_INSTANCE {
            return Ok(None);
        }
        let cv = match (instance, chain) {
            (1, _) => "none",
            (_, ChainValidation::Pass) => "pass",
            _ => "fail",
        };
        let results_value = format!(" i={instance}; {}", results.trim());
        let signature = self.message_signature(message, instance, now)?;
        let seal_value = |b: &str| {
            format!(
                " i={instance}; a=rsa-sha256; t={now}; cv={cv};\r\n\td={}; s={};\r\n\tb={b}",
                self.domain, self.selector
            )
        };
        let mut sealed = earlier.canonical;
        relaxed(&mut sealed, "ARC-Authentication-Results", &results_value);
        relaxed(&mut sealed, "ARC-Message-Signature", &signature);
        relaxed(&mut sealed, "ARC-Seal", &seal_value(""));
        // The field being signed is hashed without its line end.
        sealed.truncate(sealed.len() - 2);
        let b = self.sign(&sealed)?;
        Ok(Some(
            format!(
                "ARC-Seal:{}\r\nARC-Message-Signature:{signature}\r\n\
                 ARC-Authentication-Results:{results_value}\r\n",
                seal_value(&b)
            )
            .into_bytes(),
        ))
    }

    /// The value of this instance's ARC-Message-Signature over `message`.
    fn message_signature(
        &self,
        message: &[u8],
        instance: u32,
        now: u64,
    ) -> Result<String, SignError> {
        let parsed = RawMessage::parse(message)?;
        let fields = CanonicalFields::chosen(parsed.fields(), &sealed_fields());
        if fields.names.is_empty() {
            return Err(SignError::NothingToSign);
        }
        let body = Canonicalization::Relaxed.canonical_body(parsed.body(), 0);
        let body_hash = base64(HashAlgorithm::Sha256.hash(body).as_ref());
        let names = fold_names(&fields.names);
        let value = |b: &str| {
            format!(
                " i={instance}; a=rsa-sha256; c=relaxed/relaxed; d={}; s={}; t={now};\r\n\t\
                 h={names};\r\n\tbh={body_hash};\r\n\tb={b}",
                self.domain, self.selector
            )
        };
        let mut signed = fields.canonical;
        relaxed(&mut signed, "ARC-Message-Signature", &value(""));
        signed.truncate(signed.len() - 2);
        Ok(value(&self.sign(&signed)?))
    }

    /// The signature of `data`, base64, folded inside only.
    fn sign(&self, data: &[u8]) -> Result<String, SignError> {
        let signature = self
            .key
            .sign(Data(data))
            .map_err(|e| SignError::Crypto(e.to_string()))?;
        Ok(base64(&signature))
    }
}

/// The ARC sets a message already carries, in the relaxed canonical form the next seal
/// covers (RFC 8617 §5.1.1: each set's results, message signature and seal, by instance).
struct EarlierSets {
    canonical: Vec<u8>,
    last_instance: u32,
    ended_in_failure: bool,
}

impl EarlierSets {
    fn of(message: &[u8]) -> EarlierSets {
        let mut sets = EarlierSets {
            canonical: Vec::new(),
            last_instance: 0,
            ended_in_failure: false,
        };
        let Some(parsed) = AuthenticatedMessage::parse(message) else {
            return sets;
        };
        let mut instances: Vec<u32> = parsed.as_headers.iter().map(|h| h.header.i).collect();
        instances.sort_unstable();
        instances.dedup();
        for i in instances {
            let results = parsed.aar_headers.iter().find(|h| h.header.i == i);
            let signature = parsed.ams_headers.iter().find(|h| h.header.i == i);
            let seal = parsed.as_headers.iter().find(|h| h.header.i == i);
            let (Some(results), Some(signature), Some(seal)) = (results, signature, seal) else {
                // A set with a part missing is a broken chain; the seal says so.
                continue;
            };
            Canonicalization::Relaxed.canonicalize_headers(
                [
                    (results.name, results.value),
                    (signature.name, signature.value),
                    (seal.name, seal.value),
                ]
                .into_iter(),
                &mut sets.canonical,
            );
            sets.last_instance = i;
            sets.ended_in_failure = seal.header.cv == ChainValidation::Fail;
        }
        sets
    }
}

/// Appends the relaxed canonical form of the field `name:value` (CRLF-terminated; mail-auth
/// ends a canonical field with CRLF only when the value it is given ends with one).
fn relaxed(out: &mut Vec<u8>, name: &str, value: &str) {
    let field = format!("{value}\r\n");
    Canonicalization::Relaxed
        .canonicalize_headers(std::iter::once((name.as_bytes(), field.as_bytes())), out);
}

/// `h=`'s names joined by `:`, folded before a name where a line would pass 70 columns.
fn fold_names(names: &[String]) -> String {
    let mut out = String::new();
    let mut line = 2; // "h="
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            if line + name.len() + 1 > 70 {
                out.push_str("\r\n\t");
                line = 0;
            }
            out.push(':');
            line += 1;
        }
        out.push_str(name);
        line += name.len();
    }
    out
}

/// Base64 in lines of [`BASE64_LINE`] characters, folded between them only.
fn base64(bytes: &[u8]) -> String {
    let text = data_encoding::BASE64.encode(bytes);
    text.as_bytes()
        .chunks(BASE64_LINE)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fold_between_pieces_only() {
        let names: Vec<String> = ["From", "To", "Subject", "Date", "Message-ID"]
            .into_iter()
            .cycle()
            .take(30)
            .map(String::from)
            .collect();
        let folded = fold_names(&names);
        assert!(folded.lines().all(|line| line.len() <= 72), "{folded}");
        assert!(folded.contains("\r\n\t:"), "{folded}");
        assert_eq!(folded.replace("\r\n\t", "").split(':').count(), 30);
        let encoded = base64(&[7u8; 256]);
        assert!(!encoded.starts_with(char::is_whitespace));
        assert!(!encoded.ends_with(char::is_whitespace));
        assert_eq!(encoded.replace("\r\n\t", "").len(), 344);
    }
}

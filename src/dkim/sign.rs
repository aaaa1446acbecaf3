//! Signing with the body hash computed once per message.
//!
//! Every copy of a posting has the same body and the same shared header block; only a few
//! header lines placed above it differ per recipient. mail-auth's `DkimSigner::sign` hashes
//! the whole body on each call, so for a fan-out the work that is the same for every copy
//! (the relaxed body hash and the canonical form of the shared header fields) is done once,
//! in [`Prepared`], and each copy only canonicalises its own lines and signs.
//!
//! Canonicalisation, hashing, the signature's own header text and the keys are mail-auth's
//! public pieces; what is written here is the choice of fields and the pairing of canonical
//! headers with the signature header (mail-auth's `SignableMessage`, which is private).

use mail_auth::common::crypto::{DkimKey, HashAlgorithm, SigningKey as _};
use mail_auth::common::headers::{HeaderWriter, Writable, Writer};
use mail_auth::dkim::{Canonicalization, DkimSigner, Done, Signature};

use super::keys::Algorithm;
use crate::message::{Field, ParseError, RawMessage, LIST_FIELDS};

/// The fields named once more in `h=` than they occur (RFC 6376 8.15), besides the list
/// fields ([`LIST_FIELDS`]): the extra name stands for an instance that does not exist, so
/// a verifier hashes it as empty, and a field of that name added anywhere after signing
/// (above the others, where mail programs read it, as well as below) takes its place and
/// breaks the signature. These and the list fields are what a reader sees or acts on: who
/// wrote, to whom, about what, and the list's own links.
const OVERSIGNED_FIELDS: [&str; 7] = [
    "From",
    "Reply-To",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
];

/// The other fields signed where present: the rest of those RFC 6376 5.4.1 recommends, and
/// the Content-Language of editions and notices.
const SIGNED_ONCE_FIELDS: [&str; 7] = [
    "Sender",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Language",
];

/// Every field signed where present; the list fields include List-Unsubscribe-Post, which
/// RFC 8058 requires to be signed together with List-Unsubscribe.
pub(super) fn signed_fields() -> impl Iterator<Item = &'static str> {
    OVERSIGNED_FIELDS
        .iter()
        .chain(&SIGNED_ONCE_FIELDS)
        .chain(&LIST_FIELDS)
        .copied()
}

/// Every oversigned name, in the order `h=` ends with them.
fn oversigned() -> impl Iterator<Item = &'static str> {
    OVERSIGNED_FIELDS.iter().chain(&LIST_FIELDS).copied()
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("the message cannot be signed: {0}")]
    Parse(#[from] ParseError),
    #[error("the message has none of the fields DKIM signs (not even From)")]
    NothingToSign,
    #[error("DKIM signing failed: {0}")]
    Crypto(String),
}

/// The signing keys: those of the list domain sign every message, those of another domain
/// the messages whose From is aligned with it (DMARC's relaxed alignment), so that a
/// copy sent in the name of the Secretariat's domain passes DMARC for that domain.
pub struct Dkim {
    list_domain: String,
    signers: Vec<DkimSigner<DkimKey, Done>>,
    /// Seals the ARC set of each posting; only with an RSA key of the list domain.
    sealer: Option<super::Sealer>,
}

/// One private key and where its public half is published.
pub struct SigningKey {
    pub domain: String,
    pub selector: String,
    pub key: DkimKey,
}

/// What every copy of one message shares.
pub struct Prepared {
    /// SHA-256 of the relaxed-canonical body (`bh=`).
    body_hash: Vec<u8>,
    /// The signed fields of the message, bottom to top (the order of `h=`), and their
    /// relaxed-canonical form in the same order.
    fields: CanonicalFields,
    /// The domain of the From address, which chooses the keys besides the list domain's.
    author_domain: Option<String>,
}

#[derive(Default)]
pub(super) struct CanonicalFields {
    pub(super) names: Vec<String>,
    pub(super) canonical: Vec<u8>,
}

impl CanonicalFields {
    fn of(fields: &[Field<'_>]) -> CanonicalFields {
        let names: Vec<&str> = signed_fields().collect();
        CanonicalFields::chosen(fields, &names)
    }

    /// The fields of `fields` named in `names`. Verifiers take repeated fields from the
    /// bottom up (RFC 6376 5.4.2), so listing the chosen fields bottom to top keeps `h=`
    /// and the hashed data in step whatever repeats.
    pub(super) fn chosen(fields: &[Field<'_>], names: &[&str]) -> CanonicalFields {
        let chosen: Vec<&Field<'_>> = fields
            .iter()
            .rev()
            .filter(|field| names.iter().any(|name| field.is(name)))
            .collect();
        let mut canonical = Vec::new();
        Canonicalization::Relaxed.canonicalize_headers(
            chosen
                .iter()
                .map(|field| (field.name().as_bytes(), field.raw_value())),
            &mut canonical,
        );
        CanonicalFields {
            names: chosen.iter().map(|field| field.name().to_owned()).collect(),
            canonical,
        }
    }
}

impl Prepared {
    /// Hashes the body and canonicalises the signed header fields of `message`.
    pub fn new(message: &[u8]) -> Result<Prepared, SignError> {
        let parsed = RawMessage::parse(message)?;
        let body = Canonicalization::Relaxed.canonical_body(parsed.body(), 0);
        let author_domain = parsed
            .field("From")
            .and_then(|field| from_domain(field.as_bytes()));
        Ok(Prepared {
            body_hash: HashAlgorithm::Sha256.hash(body).as_ref().to_vec(),
            fields: CanonicalFields::of(parsed.fields()),
            author_domain,
        })
    }
}

/// The domain of the address in a From field.
fn from_domain(field: &[u8]) -> Option<String> {
    let parsed = mail_parser::MessageParser::default().parse_headers(field)?;
    let address = parsed.from()?.first()?.address()?;
    let (_, domain) = address.rsplit_once('@')?;
    Some(domain.trim().to_ascii_lowercase())
}

/// The data an RSA or Ed25519 signature covers: the canonical signed fields, then the
/// DKIM-Signature field itself with an empty `b=` (RFC 6376 3.7), as [`unsigned_field`]
/// writes it.
struct SignedData<'a> {
    fields: [&'a [u8]; 2],
    signature: &'a [u8],
}

impl Writable for SignedData<'_> {
    fn write(self, writer: &mut impl Writer) {
        for part in self.fields {
            writer.write(part);
        }
        writer.write(self.signature);
    }
}

/// The relaxed-canonical DKIM-Signature field with `b=` empty, which the signature covers.
fn unsigned_field(signature: &Signature) -> Vec<u8> {
    let mut field = Vec::with_capacity(512);
    signature.write(&mut field, false);
    tight_values(&field).into_bytes()
}

/// The field as it is sent, its `b=` and `bh=` values tight against `=` and `;`.
fn signed_field(signature: &Signature) -> String {
    tight_values(signature.to_header().as_bytes())
}

/// mail-auth folds a base64 value wherever the line reaches 76 columns, which may be right
/// after `b=` or right before the `;` that closes it. Verifiers remove the value of `b=` to
/// check the signature, but not all remove the whitespace around it: dkimpy keeps a fold
/// left between the value and its `;` and hashes `b= ;` where the signer hashed `b=;`, and
/// fails. So no whitespace is left at either end of the `b=` and `bh=` values (folds inside
/// them stay), in the field sent and in the field signed alike.
fn tight_values(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    let tags: Vec<&str> = text.split(';').collect();
    let last = tags.len().saturating_sub(1);
    tags.iter()
        .enumerate()
        .map(|(i, tag)| match tag.split_once('=') {
            Some((name, value)) if i < last && matches!(name.trim(), "b" | "bh") => {
                format!(
                    "{name}={}",
                    value.trim_matches(|c: char| c.is_ascii_whitespace())
                )
            }
            _ => (*tag).to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

impl Dkim {
    /// One signer per key; those of `list_domain` sign every message.
    pub fn new(list_domain: &str, keys: Vec<SigningKey>) -> Dkim {
        let signers = keys
            .into_iter()
            .map(|key| {
                // The template's field list is never used: `sign` sets `h=` per message.
                DkimSigner::from_key(key.key)
                    .domain(key.domain.to_ascii_lowercase())
                    .selector(key.selector)
                    .headers(signed_fields())
            })
            .collect();
        Dkim {
            list_domain: list_domain.to_ascii_lowercase(),
            signers,
            sealer: None,
        }
    }

    pub fn with_sealer(mut self, sealer: Option<super::Sealer>) -> Dkim {
        self.sealer = sealer;
        self
    }

    /// What seals postings' ARC sets, when a key can.
    pub fn sealer(&self) -> Option<&super::Sealer> {
        self.sealer.as_ref()
    }

    /// `(domain, selector, key type)` of each key, for logs.
    pub fn selectors(&self) -> impl Iterator<Item = (&str, &str, Algorithm)> {
        self.signers.iter().map(|signer| {
            let algorithm = match signer.key {
                DkimKey::Rsa(_) => Algorithm::Rsa,
                DkimKey::Ed25519(_) => Algorithm::Ed25519,
            };
            (
                signer.template.d.as_str(),
                signer.template.s.as_str(),
                algorithm,
            )
        })
    }

    /// The keys that sign a message from `author_domain`: the list domain's, and those of a
    /// domain aligned with the author's.
    fn signers_for<'a>(
        &'a self,
        author_domain: Option<&'a str>,
    ) -> impl Iterator<Item = &'a DkimSigner<DkimKey, Done>> {
        self.signers.iter().filter(move |signer| {
            let domain = signer.template.d.as_str();
            domain == self.list_domain
                || author_domain.is_some_and(|author| crate::address::aligned(domain, author))
        })
    }

    /// The DKIM-Signature fields (one per key, CRLF-terminated) for the message made of
    /// `prefix` (whole header lines, possibly none) placed above the prepared message. `now`
    /// is the signing time in seconds since the epoch (`t=`).
    pub fn sign(&self, prepared: &Prepared, prefix: &[u8], now: u64) -> Result<Vec<u8>, SignError> {
        let own = if prefix.is_empty() {
            CanonicalFields::default()
        } else {
            CanonicalFields::of(RawMessage::parse(prefix)?.fields())
        };
        // The prefix sits above the shared fields, so bottom to top it comes last; the
        // oversigned names follow every real instance of theirs.
        if prepared.fields.names.is_empty() && own.names.is_empty() {
            return Err(SignError::NothingToSign);
        }
        let names: Vec<String> = prepared
            .fields
            .names
            .iter()
            .chain(&own.names)
            .cloned()
            .chain(oversigned().map(str::to_owned))
            .collect();
        let mut fields = Vec::with_capacity(self.signers.len() * 600);
        for signer in self.signers_for(prepared.author_domain.as_deref()) {
            let mut signature = signer.template.clone();
            signature.bh.clone_from(&prepared.body_hash);
            signature.t = now;
            signature.h.clone_from(&names);
            signature.b = signer
                .key
                .sign(SignedData {
                    fields: [&prepared.fields.canonical, &own.canonical],
                    signature: &unsigned_field(&signature),
                })
                .map_err(|e| SignError::Crypto(e.to_string()))?;
            fields.extend_from_slice(signed_field(&signature).as_bytes());
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::keys;

    const SHARED: &str = "From: Ana <ana@ngo-a.example>\r\n\
        To: team@lists.example.org\r\n\
        Cc: someone@example.org,\r\n  other@example.org\r\n\
        Subject:   [Team]  Agenda\t for Monday\r\n\
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
        Message-ID: <x@ngo-a.example>\r\n\
        X-Not-Signed: whatever\r\n\
        Received: from somewhere\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        List-Id: Team <team.lists.example.org>\r\n\
        List-Post: <mailto:team@lists.example.org>\r\n\
        To: second-to@example.org\r\n\
        \r\n\
        Dear team,  \r\n\
        \r\n\
        see  you.\r\n\
        \r\n\
        \r\n";

    const PREFIX: &str = "List-Unsubscribe: <mailto:team-leave+abc@lists.example.org>,\r\n \
        <https://lists.example.org/unsubscribe/team/abc>\r\n\
        List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";

    fn key(domain: &str, selector: &str, key: DkimKey) -> SigningKey {
        SigningKey {
            domain: domain.into(),
            selector: selector.into(),
            key,
        }
    }

    /// Keys of the list domain sign every copy; another domain's key only the copies whose
    /// From is aligned with it (here `ngo-a.example`, the author's).
    #[test]
    fn another_domains_key_signs_only_what_is_aligned_with_it() {
        let (_dir, path) = key_file(Algorithm::Ed25519);
        let load = || keys::load(&path, Algorithm::Ed25519).expect("loads");
        let dkim = Dkim::new(
            "lists.example.org",
            vec![
                key("lists.example.org", "list", load()),
                key("ngo-a.example", "author", load()),
                key("elsewhere.example", "other", load()),
            ],
        );
        let domains = |message: &str| {
            let prepared = Prepared::new(message.as_bytes()).expect("prepares");
            let fields = dkim.sign(&prepared, b"", 1).expect("signs");
            String::from_utf8_lossy(&fields)
                .split("DKIM-Signature:")
                .filter_map(|s| s.split("d=").nth(1)?.split(';').next().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_eq!(domains(SHARED), ["lists.example.org", "ngo-a.example"]);
        let from_sub = SHARED.replace("ana@ngo-a.example", "ana@mail.ngo-a.example");
        assert_eq!(domains(&from_sub), ["lists.example.org", "ngo-a.example"]);
        let from_list = SHARED.replace("ana@ngo-a.example", "team@lists.example.org");
        assert_eq!(domains(&from_list), ["lists.example.org"]);
    }

    /// A new key in a file, so that the same key can be loaded twice (keys are not Clone).
    fn key_file(algorithm: Algorithm) -> (tempfile::TempDir, std::path::PathBuf) {
        let generated = keys::generate(algorithm).expect("key");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key.pem");
        keys::write_private_key(&path, &generated.private_pem).expect("write");
        (dir, path)
    }

    /// The names of the signed fields present in `message`, each once: mail-auth signs
    /// every instance of a listed name, and adds a listed name it does not find.
    fn present(message: &[u8]) -> Vec<String> {
        let parsed = RawMessage::parse(message).expect("parses");
        let mut names: Vec<String> = Vec::new();
        for field in parsed.fields() {
            let signed = signed_fields().any(|name| field.is(name));
            if signed && !names.iter().any(|n| field.is(n)) {
                names.push(field.name().to_owned());
            }
        }
        names
    }

    /// Signs the same message with mail-auth's own one-shot signer and with the prepared
    /// path, at the same time, and expects the very same field (with its `b=` and `bh=`
    /// values tight, see [`tight_values`]): RSA PKCS#1 v1.5 and Ed25519 signatures are
    /// deterministic, so any difference in the signed data would show. mail-auth's list is
    /// the names present followed by the oversigned ones: it signs the instances of the
    /// first mention of a name and appends, in order, every mention it has not matched,
    /// which is the oversigning `h=` of [`Dkim::sign`].
    fn same_as_mail_auth(algorithm: Algorithm, prefix: &str) {
        let (_dir, path) = key_file(algorithm);
        let load = || keys::load(&path, algorithm).expect("loads");
        let whole = format!("{prefix}{SHARED}");
        let mut listed = present(whole.as_bytes());
        listed.extend(oversigned().map(str::to_owned));
        let reference = DkimSigner::from_key(load())
            .domain("lists.example.org")
            .selector("s1")
            .headers(listed)
            .sign(whole.as_bytes())
            .expect("mail-auth signs");
        let dkim = Dkim::new(
            "lists.example.org",
            vec![key("lists.example.org", "s1", load())],
        );
        let prepared = Prepared::new(SHARED.as_bytes()).expect("prepares");
        let ours = dkim
            .sign(&prepared, prefix.as_bytes(), reference.t)
            .expect("signs");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            tight_values(reference.to_header().as_bytes())
        );
        assert!(reference.h.iter().any(|h| h == "List-Id"));
        // Every oversigned name once more than its instances: To twice in the message.
        let named = |name: &str| {
            reference
                .h
                .iter()
                .filter(|h| h.eq_ignore_ascii_case(name))
                .count()
        };
        assert_eq!(named("To"), 3, "{:?}", reference.h);
        assert_eq!(named("From"), 2, "{:?}", reference.h);
        assert_eq!(named("List-Owner"), 1, "{:?}", reference.h);
        assert_eq!(named("MIME-Version"), 1, "{:?}", reference.h);
    }

    #[test]
    fn base64_values_lose_the_folds_at_their_ends_only() {
        let field = "DKIM-Signature: v=1; a=rsa-sha256; s=s; d=example.org;\r\n\t\
            h=From:To; t=1; bh=\r\n\tAAAA\r\n\tBBBB=\r\n\t; b=CCCC\r\n\tDDDD==\r\n\t;\r\n";
        assert_eq!(
            tight_values(field.as_bytes()),
            "DKIM-Signature: v=1; a=rsa-sha256; s=s; d=example.org;\r\n\t\
            h=From:To; t=1; bh=AAAA\r\n\tBBBB=; b=CCCC\r\n\tDDDD==;\r\n"
        );
        // An empty b= (the signed form) and other tags are left as they are.
        let unsigned = "dkim-signature:v=1; h=From:To; bh=AAAA BBBB=; b=;";
        assert_eq!(tight_values(unsigned.as_bytes()), unsigned);
    }

    #[test]
    fn rsa_signature_of_a_personal_copy_equals_mail_auths() {
        same_as_mail_auth(Algorithm::Rsa, PREFIX);
    }

    #[test]
    fn ed25519_signature_of_a_personal_copy_equals_mail_auths() {
        same_as_mail_auth(Algorithm::Ed25519, PREFIX);
    }

    #[test]
    fn a_shared_message_without_prefix_equals_mail_auths() {
        same_as_mail_auth(Algorithm::Ed25519, "");
    }

    #[test]
    fn both_keys_sign_and_the_unsubscribe_fields_are_covered() {
        let (_rsa_dir, rsa) = key_file(Algorithm::Rsa);
        let (_ed_dir, ed) = key_file(Algorithm::Ed25519);
        let dkim = Dkim::new(
            "lists.example.org",
            vec![
                key(
                    "lists.example.org",
                    "r",
                    keys::load(&rsa, Algorithm::Rsa).expect("rsa"),
                ),
                key(
                    "lists.example.org",
                    "e",
                    keys::load(&ed, Algorithm::Ed25519).expect("ed"),
                ),
            ],
        );
        let prepared = Prepared::new(SHARED.as_bytes()).expect("prepares");
        let fields = dkim.sign(&prepared, PREFIX.as_bytes(), 1).expect("signs");
        let text = String::from_utf8_lossy(&fields).replace("\r\n\t", " ");
        let signatures: Vec<&str> = text.lines().collect();
        assert_eq!(signatures.len(), 2, "{text}");
        assert!(signatures[0].contains("a=rsa-sha256; s=r;"), "{text}");
        assert!(signatures[1].contains("a=ed25519-sha256; s=e;"), "{text}");
        for signature in signatures {
            let h = signature
                .split("h=")
                .nth(1)
                .and_then(|h| h.split(';').next());
            // Folds may fall anywhere in the list.
            let h: String = h.expect("h= tag").split_whitespace().collect();
            let h = h.to_ascii_lowercase();
            let oversigned = oversigned()
                .collect::<Vec<_>>()
                .join(":")
                .to_ascii_lowercase();
            let present = h.strip_suffix(&format!(":{oversigned}"));
            assert!(
                present.is_some_and(|p| p.ends_with("list-unsubscribe-post:list-unsubscribe")),
                "{h}"
            );
            assert!(
                !h.contains("x-not-signed") && !h.contains("received"),
                "{h}"
            );
        }
    }
}

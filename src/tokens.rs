//! Signed tokens carried in addresses and links (VERP bounce addresses, unsubscribe links).
//!
//! A token is `base32(fields as varints || truncated HMAC-SHA256)` in lowercase without
//! padding: safe in an address local part, and unchanged by MTAs that fold case. The MAC
//! covers the purpose and a context string (the list name), so a token minted for one list or
//! one use is worthless for another.

use hmac::{Mac, SimpleHmac};
use sha2::Sha256;

type HmacSha256 = SimpleHmac<Sha256>;

/// 80 bits: forging one token needs ~2^79 tries, against a daemon that rate-limits nothing
/// cheaper than an SMTP transaction.
const MAC_LEN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Purpose {
    /// `LIST-bounces+TOKEN@`: names one delivery.
    Verp = 1,
    /// Unsubscribe link and mailto: names one member of one list.
    Unsubscribe = 2,
    /// Confirmation of a subscription request by reply or link: names the request.
    Confirm = 3,
    /// An owner's answer to a request waiting for approval: names the request.
    Approve = 4,
    /// A moderator's answer to a held posting: names the message.
    Moderate = 5,
    /// An editor's answer to an edition waiting for approval: names the edition.
    Edition = 6,
    /// A member disabled for bouncing turning deliveries back on: names the member.
    Reenable = 7,
    /// The emailed link that signs a person in to the web console: names the sign-in
    /// request and carries a random nonce whose hash the request keeps.
    SignIn = 8,
}

#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<secret>)")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Signer {
        Signer {
            key: secret.as_bytes().to_vec(),
        }
    }

    pub fn sign(&self, purpose: Purpose, context: &str, fields: &[u64]) -> String {
        let mut payload = Vec::with_capacity(fields.len() * 4 + MAC_LEN);
        for &field in fields {
            write_varint(&mut payload, field);
        }
        let tag = self.mac(purpose, context, &payload).finalize().into_bytes();
        payload.extend_from_slice(&tag[..MAC_LEN]);
        data_encoding::BASE32_NOPAD
            .encode(&payload)
            .to_ascii_lowercase()
    }

    /// The fields of a genuine token, or `None` for anything forged, altered or malformed.
    /// The comparison runs in constant time.
    pub fn verify(&self, purpose: Purpose, context: &str, token: &str) -> Option<Vec<u64>> {
        let bytes = data_encoding::BASE32_NOPAD
            .decode(token.to_ascii_uppercase().as_bytes())
            .ok()?;
        let split = bytes.len().checked_sub(MAC_LEN)?;
        let (payload, tag) = bytes.split_at(split);
        self.mac(purpose, context, payload)
            .verify_truncated_left(tag)
            .ok()?;
        read_varints(payload)
    }

    /// The id a genuine single-field token carries (a delivery, a member, a request).
    pub fn verify_id(&self, purpose: Purpose, context: &str, token: &str) -> Option<i64> {
        match self.verify(purpose, context, token).as_deref() {
            Some(&[id]) => i64::try_from(id).ok(),
            _ => None,
        }
    }

    fn mac(&self, purpose: Purpose, context: &str, payload: &[u8]) -> HmacSha256 {
        // SimpleHmac accepts keys of any length, so `new_from_slice` cannot fail.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(&[purpose as u8]);
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context.as_bytes());
        mac.update(payload);
        mac
    }
}

/// A fresh random secret for a new installation (256 bits, hex).
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    data_encoding::HEXLOWER.encode(&bytes)
}

/// A fresh random value for a session id or a form's CSRF secret (256 bits, hex).
pub fn random_secret() -> String {
    generate_secret()
}

/// SHA-256 of `value`, hex: what the database keeps of a secret the browser holds, so that
/// reading the database gives no one a session.
pub fn digest(value: &str) -> String {
    use sha2::Digest;
    data_encoding::HEXLOWER.encode(&Sha256::digest(value.as_bytes()))
}

/// Whether two secrets are equal, in a time that depends only on their lengths: a
/// comparison that stops at the first difference tells an attacker how much they guessed.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn read_varints(mut bytes: &[u8]) -> Option<Vec<u64>> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let (&byte, rest) = bytes.split_first()?;
            bytes = rest;
            if shift > 63 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        fields.push(value);
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let signer = Signer::new("secret-secret-secret-secret-secret!");
        let token = signer.sign(Purpose::Verp, "team-gender", &[42, 1 << 40]);
        assert_eq!(token, token.to_ascii_lowercase());
        assert_eq!(
            signer.verify(Purpose::Verp, "team-gender", &token),
            Some(vec![42, 1 << 40])
        );
        assert_eq!(signer.verify(Purpose::Verp, "TEAM-x", &token), None);
        assert_eq!(
            signer.verify(Purpose::Unsubscribe, "team-gender", &token),
            None
        );
        assert_eq!(
            signer.verify(Purpose::Verp, "team-gender", &token.to_ascii_uppercase()),
            Some(vec![42, 1 << 40])
        );
        let mut forged = token.clone().into_bytes();
        forged[0] = if forged[0] == b'a' { b'b' } else { b'a' };
        let forged = String::from_utf8(forged).unwrap_or_default();
        assert_eq!(signer.verify(Purpose::Verp, "team-gender", &forged), None);
        assert_eq!(signer.verify(Purpose::Verp, "team-gender", "!!"), None);
        assert_eq!(signer.verify(Purpose::Verp, "team-gender", ""), None);
        let other = Signer::new("another-secret-another-secret-another");
        assert_eq!(other.verify(Purpose::Verp, "team-gender", &token), None);
    }

    #[test]
    fn secrets_compare_whole_and_digest_stably() {
        let secret = random_secret();
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, random_secret());
        assert!(same_secret(&secret, &secret.clone()));
        assert!(!same_secret(&secret, &random_secret()));
        assert!(!same_secret(&secret, &secret[..63]));
        assert!(!same_secret("", "a"));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

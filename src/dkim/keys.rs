//! DKIM keys: reading a private key from its PEM file, generating a new one, and the DNS TXT
//! record that publishes its public half.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{DkimKey, Ed25519Key, RsaKey, Sha256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;

use crate::config::{KeyFiles, KeyProblem};

pub use crate::config::KeyAlgorithm as Algorithm;

/// Bits of the RSA keys `tidings dkim keygen` makes: RFC 8301 asks for at least 1024 and
/// recommends 2048; longer keys do not fit one 255-byte DNS string either way and sign
/// several times slower.
pub const RSA_BITS: usize = 2048;

impl Algorithm {
    /// The `k=` tag of the DNS record.
    fn dns_tag(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    fn other(self) -> Algorithm {
        match self {
            Algorithm::Rsa => Algorithm::Ed25519,
            Algorithm::Ed25519 => Algorithm::Rsa,
        }
    }
}

/// The key files a configuration names, as validation reads them.
pub struct Files;

impl KeyFiles for Files {
    fn problem(&self, file: &Path, algorithm: Algorithm) -> Option<KeyProblem> {
        let error = load(file, algorithm).err()?;
        Some(KeyProblem {
            missing: matches!(&error, KeyError::Read { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound),
            message: error.to_string(),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} holds no PEM private key (a \"-----BEGIN PRIVATE KEY-----\" block): {reason}", path.display())]
    NotPem { path: PathBuf, reason: String },
    #[error("{} is not a usable {} private key: {reason}", path.display(), algorithm.name())]
    Rejected {
        path: PathBuf,
        algorithm: Algorithm,
        reason: String,
    },
    #[error("{} already exists; a key is never overwritten: choose another --out or --selector", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate an {} key: {reason}", algorithm.name())]
    Generate {
        algorithm: Algorithm,
        reason: String,
    },
}

/// Reads the private key of `algorithm` from a PEM file (PKCS#8; PKCS#1 for RSA too).
pub fn load(path: &Path, algorithm: Algorithm) -> Result<DkimKey, KeyError> {
    let pem = std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|error| KeyError::NotPem {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    parse(&der, algorithm).map_err(|reason| {
        // The commonest mistake is a key in the other setting: say so instead of quoting the
        // crypto library's parse error alone.
        let reason = if parse(&der, algorithm.other()).is_ok() {
            format!(
                "it is an {} key; set it as {} instead",
                algorithm.other().name(),
                algorithm.other().key_file_setting()
            )
        } else {
            reason
        };
        KeyError::Rejected {
            path: path.to_path_buf(),
            algorithm,
            reason,
        }
    })
}

fn parse(der: &PrivateKeyDer<'_>, algorithm: Algorithm) -> Result<DkimKey, String> {
    match (algorithm, der) {
        (Algorithm::Rsa, der) => RsaKey::<Sha256>::from_key_der(der.clone_key())
            .map(DkimKey::Rsa)
            .map_err(|e| format!("{e} (RSA keys of 2048 to 4096 bits are accepted)")),
        // Ed25519 PKCS#8 v1 (as OpenSSL writes it) lacks the public key, which the "maybe
        // unchecked" reader derives.
        (Algorithm::Ed25519, PrivateKeyDer::Pkcs8(der)) => {
            Ed25519Key::from_pkcs8_maybe_unchecked_der(der.secret_pkcs8_der())
                .map(DkimKey::Ed25519)
                .map_err(|e| e.to_string())
        }
        (Algorithm::Ed25519, _) => Err("an Ed25519 key must be in PKCS#8 form".into()),
    }
}

/// A new private key and the public key data that the DNS record carries.
pub struct GeneratedKey {
    pub algorithm: Algorithm,
    /// PKCS#8, PEM-encoded.
    pub private_pem: String,
    /// The `p=` data: SubjectPublicKeyInfo DER for RSA (what every verifier accepts), the
    /// raw 32-byte key for Ed25519 (RFC 8463).
    pub public_key: Vec<u8>,
}

pub fn generate(algorithm: Algorithm) -> Result<GeneratedKey, KeyError> {
    let failed = |reason: String| KeyError::Generate { algorithm, reason };
    let (pkcs8, public_key) = match algorithm {
        Algorithm::Rsa => generate_rsa().map_err(failed)?,
        Algorithm::Ed25519 => generate_ed25519().map_err(failed)?,
    };
    Ok(GeneratedKey {
        algorithm,
        private_pem: pem("PRIVATE KEY", &pkcs8),
        public_key,
    })
}

/// (PKCS#8 private key, SubjectPublicKeyInfo) DER of a new RSA key. The `rsa` crate is used
/// for generation only (ring cannot generate RSA keys); signing is ring's.
fn generate_rsa() -> Result<(Vec<u8>, Vec<u8>), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let key =
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS).map_err(|e| e.to_string())?;
    let private = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| e.to_string())?;
    Ok((private.as_bytes().to_vec(), public.as_bytes().to_vec()))
}

/// (PKCS#8 private key, raw public key) of a new Ed25519 key. ring writes PKCS#8 v2, which
/// carries the public key too and which OpenSSL 3.0 cannot read; the file gets v1, as
/// OpenSSL writes it, so that the key also serves other DKIM signers.
fn generate_ed25519() -> Result<(Vec<u8>, Vec<u8>), String> {
    use rsa::pkcs8::der::Encode;
    use rsa::pkcs8::PrivateKeyInfo;
    let v2 = Ed25519Key::generate_pkcs8().map_err(|e| e.to_string())?;
    let public_key = Ed25519Key::from_pkcs8_der(&v2)
        .map_err(|e| e.to_string())?
        .public_key();
    let info = PrivateKeyInfo::try_from(v2.as_slice()).map_err(|e| e.to_string())?;
    let v1 = PrivateKeyInfo {
        public_key: None,
        ..info
    }
    .to_der()
    .map_err(|e| e.to_string())?;
    Ok((v1, public_key))
}

/// RFC 7468 text encoding: base64 in 64-character lines between BEGIN and END lines.
fn pem(label: &str, der: &[u8]) -> String {
    let encoded = data_encoding::BASE64.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap_or_default());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Writes a private key readable by its owner only, never replacing an existing file.
pub fn write_private_key(path: &Path, pem: &str) -> Result<(), KeyError> {
    let write_error = |source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            write_error(source)
        }
    })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_error)
}

/// The TXT record that publishes a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// `SELECTOR._domainkey.DOMAIN`
    pub name: String,
    /// `v=DKIM1; k=...; p=...`
    pub value: String,
}

/// A DNS character-string holds at most 255 bytes (RFC 1035 3.3); a TXT record may hold
/// several, which receivers join.
const DNS_STRING_MAX: usize = 255;

impl DnsRecord {
    pub fn new(selector: &str, domain: &str, key: &GeneratedKey) -> DnsRecord {
        DnsRecord {
            name: format!("{selector}._domainkey.{domain}"),
            value: format!(
                "v=DKIM1; k={}; p={}",
                key.algorithm.dns_tag(),
                data_encoding::BASE64.encode(&key.public_key)
            ),
        }
    }

    /// The record as a zone-file line, the value split into strings of at most 255 bytes.
    pub fn zone_line(&self) -> String {
        let strings: Vec<String> = self
            .value
            .as_bytes()
            .chunks(DNS_STRING_MAX)
            .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
            .collect();
        format!("{}. IN TXT {}", self.name, strings.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_back_from_their_file_and_refuse_to_be_overwritten() {
        let dir = tempfile::tempdir().expect("dir");
        for algorithm in [Algorithm::Rsa, Algorithm::Ed25519] {
            let key = generate(algorithm).expect("generates");
            let path = dir.path().join(format!("keys/{}.pem", algorithm.name()));
            write_private_key(&path, &key.private_pem).expect("writes");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            assert!(load(&path, algorithm).is_ok(), "{algorithm:?} loads");
            let wrong = load(&path, algorithm.other()).err().map(|e| e.to_string());
            assert!(
                wrong.as_deref().is_some_and(|e| e.contains("instead")),
                "{wrong:?}"
            );
            let again = write_private_key(&path, &key.private_pem);
            assert!(matches!(again, Err(KeyError::Exists { .. })));
        }
    }

    #[test]
    fn a_file_without_a_key_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "not a key\n").expect("write");
        let error = load(&path, Algorithm::Rsa).err().map(|e| e.to_string());
        assert!(
            error.as_deref().is_some_and(|e| e.contains("key.pem")),
            "{error:?}"
        );
    }

    #[test]
    fn long_records_are_split_into_dns_strings() {
        let key = GeneratedKey {
            algorithm: Algorithm::Rsa,
            private_pem: String::new(),
            public_key: vec![7; 294],
        };
        let record = DnsRecord::new("s1", "lists.example.org", &key);
        assert_eq!(record.name, "s1._domainkey.lists.example.org");
        let line = record.zone_line();
        assert!(line.starts_with("s1._domainkey.lists.example.org. IN TXT \"v=DKIM1; k=rsa; p="));
        let strings: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert_eq!(strings.len(), 2, "{line}");
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), record.value);
    }
}

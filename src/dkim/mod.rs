//! DKIM signing (RFC 6376; Ed25519 keys per RFC 8463) of everything tidings sends, so that
//! receivers can tell list mail from forgeries and DMARC passes for the list domain.
//! [`keys`] reads, generates and publishes keys; [`sign`] signs each copy, hashing a body
//! once per message however many recipients it has.

pub mod keys;
pub mod sign;

pub use keys::{Algorithm, DnsRecord, GeneratedKey, KeyError};
pub use sign::{Dkim, Prepared, SignError};

use std::path::Path;

use crate::config::DkimConfig;

impl Dkim {
    /// The signer the configuration asks for, or `None` when no key is configured.
    pub fn from_config(config: &DkimConfig) -> Result<Option<Dkim>, KeyError> {
        let mut keys = Vec::new();
        for (selector, file, algorithm) in configured_keys(config) {
            keys.push((selector.to_owned(), keys::load(Path::new(file), algorithm)?));
        }
        Ok((!keys.is_empty()).then(|| Dkim::new(&config.domain, keys)))
    }
}

/// (selector, key file, algorithm) of each configured key.
pub fn configured_keys(config: &DkimConfig) -> impl Iterator<Item = (&str, &str, Algorithm)> {
    [
        (&config.selector, &config.key_file, Algorithm::Rsa),
        (
            &config.ed25519_selector,
            &config.ed25519_key_file,
            Algorithm::Ed25519,
        ),
    ]
    .into_iter()
    .filter(|(_, file, _)| !file.is_empty())
    .map(|(selector, file, algorithm)| (selector.as_str(), file.as_str(), algorithm))
}

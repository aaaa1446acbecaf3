//! DKIM signing (RFC 6376; Ed25519 keys per RFC 8463) of everything tidings sends, so that
//! receivers can tell list mail from forgeries and DMARC passes for the list domain.
//! [`keys`] reads, generates and publishes keys; [`sign`] signs each copy, hashing a body
//! once per message however many recipients it has.

pub mod arc;
pub mod keys;
pub mod sign;

pub use arc::Sealer;
pub use keys::{Algorithm, DnsRecord, GeneratedKey, KeyError};
pub use sign::{Dkim, Prepared, SignError, SigningKey};

use std::path::Path;

use crate::config::DkimConfig;

impl Dkim {
    /// The signer the configuration asks for, or `None` when no key is configured.
    pub fn from_config(config: &DkimConfig) -> Result<Option<Dkim>, KeyError> {
        let mut keys = Vec::new();
        for (domain, selector, file, algorithm) in config.all_keys() {
            keys.push(SigningKey {
                domain: domain.to_owned(),
                selector: selector.to_owned(),
                key: keys::load(Path::new(file), algorithm)?,
            });
        }
        if keys.is_empty() {
            return Ok(None);
        }
        // The list domain's RSA key also seals ARC sets; keys cannot be shared, so it is
        // read a second time.
        let sealer = match config.key_file.as_str() {
            "" => None,
            file => Some(Sealer::new(
                &config.domain,
                &config.selector,
                keys::load(Path::new(file), Algorithm::Rsa)?,
            )),
        };
        Ok(Some(Dkim::new(&config.domain, keys).with_sealer(sealer)))
    }
}

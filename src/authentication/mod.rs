//! Who really sent a posting. A From header costs nothing to forge, so confidential lists
//! believe it only when the author's domain vouches for the message: a DKIM signature, or an
//! SPF-authorised envelope sender, aligned with the From domain (the alignment DMARC asks for).
//! The checks run here with mail-auth, or come from a trusted front MTA's
//! `Authentication-Results` header, whichever proves it first.
//!
//! [`dmarc`] answers the other DNS question of a list server: does the author's domain ask
//! receivers to reject mail that is not aligned with it, as a relayed posting is not?

pub mod arrival;
pub mod dmarc;
pub mod dns;
pub mod results;

use std::net::IpAddr;
use std::sync::Arc;

use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, DkimResult, SpfResult};

use crate::address::{aligned, domain_of};
use crate::config::AuthenticationConfig;
use crate::message::RawMessage;

use dns::{Dns, Lookup};

/// How the author was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A trusted front MTA's Authentication-Results header.
    FrontMta,
    Dkim,
    Spf,
}

/// What the SMTP session knows about the sender's machine. Over LMTP the client is the
/// front MTA, so there is nothing to check SPF against.
#[derive(Debug, Clone, Copy)]
pub struct Connection<'a> {
    pub client_ip: Option<IpAddr>,
    pub helo: &'a str,
    pub mail_from: &'a str,
    /// The message came from the front MTA (over LMTP, or over SMTP from one of
    /// `front_mta_addresses`): only then are its Authentication-Results headers the front
    /// MTA's and not the sender's own claims.
    pub through_front_mta: bool,
}

impl Proof {
    /// The name stored with a message taken in.
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::FrontMta => "front-mta",
            Proof::Dkim => "dkim",
            Proof::Spf => "spf",
        }
    }
}

pub struct Authenticator {
    dns: Arc<Dns>,
    config: AuthenticationConfig,
    /// Our own name, which SPF macros may ask for.
    hostname: String,
}

impl Authenticator {
    pub fn new(dns: Arc<Dns>, config: AuthenticationConfig, hostname: String) -> Authenticator {
        Authenticator {
            dns,
            config,
            hostname,
        }
    }

    /// The DMARC policy of `author`'s domain; `None` for an author without one.
    pub async fn author_policy(&self, author: &str) -> dmarc::AuthorPolicy {
        match domain_of(author) {
            Some(domain) => dmarc::author_policy(&self.dns, domain).await,
            None => dmarc::AuthorPolicy::None,
        }
    }

    /// How `author` is proven to have sent `raw`, or `None` when nothing proves it.
    pub async fn authenticate(
        &self,
        raw: &[u8],
        author: &str,
        connection: Connection<'_>,
    ) -> Option<Proof> {
        let author_domain = domain_of(author)?;
        if connection.through_front_mta && self.front_mta_vouches(raw, author_domain) {
            return Some(Proof::FrontMta);
        }
        if !self.config.verify_locally {
            return None;
        }
        let message = AuthenticatedMessage::parse(raw)?;
        let checks = self.verify(&message, author_domain, connection);
        match self.dns.bounded(author_domain, checks).await {
            Lookup::Answered(proof) => proof,
            Lookup::Unavailable => None,
        }
    }

    /// Only the topmost header of a trusted authserv-id is read: a front MTA adds its own on
    /// top, so one the sender planted with the same id sits below it.
    fn front_mta_vouches(&self, raw: &[u8], author_domain: &str) -> bool {
        let Ok(message) = RawMessage::parse(raw) else {
            return false;
        };
        message
            .fields()
            .iter()
            .filter(|f| f.is("Authentication-Results"))
            .filter_map(|f| results::parse(&f.value()))
            .find(|r| self.is_trusted(&r.authserv_id))
            .is_some_and(|r| vouches_for(&r, author_domain))
    }

    pub fn is_trusted(&self, authserv_id: &str) -> bool {
        self.config
            .trusted_authserv_ids
            .iter()
            .any(|id| id.eq_ignore_ascii_case(authserv_id))
    }

    /// `None` when DNS gave no usable answer (the caller's deadline and failure memory
    /// apply), `Some(None)` when the checks ran and proved nothing.
    async fn verify(
        &self,
        message: &AuthenticatedMessage<'_>,
        author_domain: &str,
        connection: Connection<'_>,
    ) -> Option<Option<Proof>> {
        let dkim = self.dns.authenticator().verify_dkim(message).await;
        let aligned_pass = dkim.iter().any(|output| {
            output.result() == &DkimResult::Pass
                && output
                    .signature()
                    .is_some_and(|s| aligned(&s.d.to_ascii_lowercase(), author_domain))
        });
        if aligned_pass {
            return Some(Some(Proof::Dkim));
        }
        let dkim_unavailable = dkim
            .iter()
            .any(|output| matches!(output.result(), DkimResult::TempError(_)));
        let spf = match connection.client_ip {
            Some(ip) => self.spf_pass(ip, connection).await,
            None => Some(false),
        };
        match spf {
            Some(true)
                if domain_of(connection.mail_from).is_some_and(|d| aligned(d, author_domain)) =>
            {
                Some(Some(Proof::Spf))
            }
            None => None,
            _ if dkim_unavailable => None,
            _ => Some(None),
        }
    }

    /// `None` when SPF could not be evaluated for want of DNS.
    async fn spf_pass(&self, ip: IpAddr, connection: Connection<'_>) -> Option<bool> {
        if connection.mail_from.is_empty() {
            return Some(false);
        }
        let output = self
            .dns
            .authenticator()
            .verify_spf(SpfParameters::verify_mail_from(
                ip,
                connection.helo,
                &self.hostname,
                connection.mail_from,
            ))
            .await;
        match output.result() {
            SpfResult::Pass => Some(true),
            SpfResult::TempError => None,
            _ => Some(false),
        }
    }
}

/// Whether a front MTA's results prove the author domain: DMARC passed for it (and says so:
/// a `dmarc=pass` that names no `header.from` vouches for nobody), or DKIM or SPF passed for
/// an aligned domain.
fn vouches_for(results: &results::AuthenticationResults, author_domain: &str) -> bool {
    results.results.iter().any(|r| {
        if r.result != "pass" {
            return false;
        }
        let names = |keys: &[&str]| {
            keys.iter()
                .filter_map(|k| r.property(k))
                .map(|v| domain_of(v).unwrap_or(v).to_ascii_lowercase())
                .collect::<Vec<_>>()
        };
        match r.method.as_str() {
            "dmarc" => {
                let from = names(&["header.from"]);
                !from.is_empty() && from.iter().all(|d| d.eq_ignore_ascii_case(author_domain))
            }
            "dkim" => names(&["header.d", "header.i"])
                .iter()
                .any(|d| aligned(d, author_domain)),
            "spf" => names(&["smtp.mailfrom"])
                .iter()
                .any(|d| aligned(d, author_domain)),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn front(value: &str) -> results::AuthenticationResults {
        results::parse(value).expect("parses")
    }

    #[test]
    fn front_mta_results_vouch_only_for_aligned_passes() {
        let domain = "ngo.example";
        assert!(vouches_for(
            &front("mx; dmarc=pass header.from=ngo.example"),
            domain
        ));
        assert!(vouches_for(
            &front("mx; dkim=pass header.d=ngo.example"),
            domain
        ));
        assert!(vouches_for(
            &front("mx; spf=pass smtp.mailfrom=a@ngo.example"),
            domain
        ));
        assert!(!vouches_for(
            &front("mx; dkim=pass header.d=evil.example"),
            domain
        ));
        assert!(!vouches_for(
            &front("mx; dkim=fail header.d=ngo.example"),
            domain
        ));
        assert!(!vouches_for(
            &front("mx; dmarc=pass header.from=evil.example"),
            domain
        ));
        assert!(!vouches_for(&front("mx; none"), domain));
        assert!(
            !vouches_for(&front("mx; dmarc=pass"), domain),
            "a DMARC pass that names no domain vouches for none"
        );
    }
}

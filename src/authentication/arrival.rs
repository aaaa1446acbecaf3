//! What a posting proved when it arrived, for the ARC set the list adds (RFC 8617): a list
//! changes a posting (subject prefix, footer), which breaks its author's DKIM signature, and
//! the ARC set tells receivers what the signature and SPF said before the change.
//!
//! Mail that came through the front MTA carries the front MTA's verdict in its trusted
//! `Authentication-Results`; other mail is checked here (DKIM, SPF, DMARC, and the ARC chain
//! it already carries), every lookup within the DNS deadline.

use std::net::IpAddr;

use mail_auth::arc::ChainValidation;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, AuthenticationResults, DkimResult};

use super::dns::Lookup;
use super::{results, Authenticator};
use crate::address::domain_of;
use crate::store::StoredArrival;

/// The verdict on a posting as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The value of an `Authentication-Results` field: `authserv-id; method=result ...`.
    pub results: String,
    /// What the ARC chain the posting already carried comes to, for the `cv=` of the set
    /// added to it: none without a chain, pass for a valid one, fail for a broken one.
    pub chain: ChainValidation,
}

impl Arrival {
    /// As the store keeps it with the posting, from acceptance to expansion.
    pub fn stored(&self) -> StoredArrival {
        let chain = match self.chain {
            ChainValidation::None => "none",
            ChainValidation::Pass => "pass",
            ChainValidation::Fail => "fail",
        };
        StoredArrival {
            results: self.results.clone(),
            chain: chain.to_string(),
        }
    }

    /// Back from the store. A chain it cannot read counts as broken: RFC 8617 gives a
    /// doubtful chain no credit.
    pub fn from_stored(stored: StoredArrival) -> Arrival {
        let chain = match stored.chain.as_str() {
            "none" => ChainValidation::None,
            "pass" => ChainValidation::Pass,
            _ => ChainValidation::Fail,
        };
        Arrival {
            results: stored.results,
            chain,
        }
    }
}

/// Where a posting came from, as the store keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The SMTP client, `None` over LMTP.
    pub client_ip: Option<IpAddr>,
    pub mail_from: &'a str,
}

impl Authenticator {
    /// The verdict on `raw` as it arrived from `origin`.
    pub async fn arrival(&self, raw: &[u8], origin: Origin<'_>) -> Arrival {
        let Some(message) = AuthenticatedMessage::parse(raw) else {
            return Arrival {
                results: format!("{}; none", self.hostname),
                chain: ChainValidation::None,
            };
        };
        let through_front_mta = self.config.through_front_mta(origin.client_ip);
        let front = through_front_mta
            .then(|| self.front_mta_results(raw))
            .flatten();
        let author_domain = message
            .from
            .first()
            .and_then(|from| domain_of(from))
            .unwrap_or_default()
            .to_ascii_lowercase();
        // Without DNS a chain cannot be checked: it counts as broken, as RFC 8617 asks.
        let unchecked = |front: Option<String>| Arrival {
            results: front.unwrap_or_else(|| format!("{}; none", self.hostname)),
            chain: if message.as_headers.is_empty() {
                ChainValidation::None
            } else {
                ChainValidation::Fail
            },
        };
        if !self.config.verify_locally {
            return unchecked(front);
        }
        let lookups = async {
            let arc = self.dns.authenticator().verify_arc(&message).await;
            let chain = match (message.as_headers.is_empty(), arc.result()) {
                (true, _) => ChainValidation::None,
                (false, DkimResult::Pass) => ChainValidation::Pass,
                _ => ChainValidation::Fail,
            };
            if let Some(front) = &front {
                return Some((front.clone(), chain));
            }
            let results = self
                .own_results(&message, origin, &author_domain, &arc)
                .await;
            Some((results, chain))
        };
        match self.dns.bounded(&author_domain, lookups).await {
            Lookup::Answered((results, chain)) => Arrival { results, chain },
            Lookup::Unavailable => unchecked(front),
        }
    }

    /// The topmost trusted front MTA's results, as it wrote them.
    fn front_mta_results(&self, raw: &[u8]) -> Option<String> {
        let message = crate::message::RawMessage::parse(raw).ok()?;
        message
            .fields()
            .iter()
            .filter(|f| f.is("Authentication-Results"))
            .map(|f| f.value())
            .find(|value| results::parse(value).is_some_and(|r| self.is_trusted(&r.authserv_id)))
            .map(|value| value.trim().to_string())
    }

    /// DKIM, SPF (for mail from an SMTP client), ARC and DMARC as checked here.
    async fn own_results(
        &self,
        message: &AuthenticatedMessage<'_>,
        origin: Origin<'_>,
        author_domain: &str,
        arc: &mail_auth::ArcOutput<'_>,
    ) -> String {
        let resolver = self.dns.authenticator();
        let dkim = resolver.verify_dkim(message).await;
        let mut results =
            AuthenticationResults::new(&self.hostname).with_dkim_results(&dkim, author_domain);
        let mail_from_domain = domain_of(origin.mail_from).unwrap_or_default();
        let spf = match origin.client_ip {
            Some(ip) if !origin.mail_from.is_empty() => {
                let spf = resolver
                    .verify_spf(SpfParameters::verify_mail_from(
                        ip,
                        mail_from_domain,
                        &self.hostname,
                        origin.mail_from,
                    ))
                    .await;
                results =
                    results.with_spf_mailfrom_result(&spf, ip, origin.mail_from, mail_from_domain);
                Some(spf)
            }
            _ => None,
        };
        if let Some(ip) = origin.client_ip {
            results = results.with_arc_result(arc, ip);
        }
        let none = mail_auth::SpfOutput::default();
        let dmarc = resolver
            .verify_dmarc(DmarcParameters::new(
                message,
                &dkim,
                mail_from_domain,
                spf.as_ref().unwrap_or(&none),
            ))
            .await;
        let header = results.with_dmarc_result(&dmarc).to_header();
        header
            .trim_end()
            .strip_prefix("Authentication-Results: ")
            .unwrap_or(&header)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_comes_back_from_the_store_as_it_went_in() {
        for chain in [
            ChainValidation::None,
            ChainValidation::Pass,
            ChainValidation::Fail,
        ] {
            let arrival = Arrival {
                results: "mx.example; dkim=pass header.d=example.org".into(),
                chain,
            };
            assert_eq!(Arrival::from_stored(arrival.stored()), arrival);
        }
        let unreadable = StoredArrival {
            results: "mx.example; none".into(),
            chain: "maybe".into(),
        };
        assert_eq!(
            Arrival::from_stored(unreadable).chain,
            ChainValidation::Fail
        );
    }
}

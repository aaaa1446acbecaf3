//! The DMARC policy of a posting's author domain. A list relays a posting with the author's
//! From but from its own servers and with its own changes (subject prefix, footer), so
//! neither SPF nor the author's DKIM signature survives; receivers then apply the author
//! domain's policy. Where that policy is `reject` or `quarantine`, the list must send the
//! posting under its own name (see `pipeline::decorate`).
//!
//! mail-auth's DMARC evaluation does the policy discovery (the RFC 9989 tree walk, `sp`, `np`
//! and test mode); it is asked about a stand-in message that carries only the author's From,
//! with no DKIM or SPF result, so what comes back is the policy that would apply.

use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::Policy;
use mail_auth::{AuthenticatedMessage, DmarcResult, SpfOutput};

use super::dns::{Dns, Lookup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorPolicy {
    Reject,
    Quarantine,
    /// `p=none`, or no DMARC record at all.
    None,
    /// DNS did not answer in time.
    Unknown,
}

impl AuthorPolicy {
    pub fn is_enforcing(self) -> bool {
        matches!(self, AuthorPolicy::Reject | AuthorPolicy::Quarantine)
    }

    /// As the store keeps it with the posting.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorPolicy::Reject => "reject",
            AuthorPolicy::Quarantine => "quarantine",
            AuthorPolicy::None => "none",
            AuthorPolicy::Unknown => "unknown",
        }
    }

    /// Back from the store; `None` for what it never writes.
    pub fn from_stored(stored: &str) -> Option<AuthorPolicy> {
        [
            AuthorPolicy::Reject,
            AuthorPolicy::Quarantine,
            AuthorPolicy::None,
            AuthorPolicy::Unknown,
        ]
        .into_iter()
        .find(|policy| policy.as_str() == stored)
    }
}

pub async fn author_policy(dns: &Dns, author_domain: &str) -> AuthorPolicy {
    let author_domain = author_domain.to_ascii_lowercase();
    let stand_in = format!("From: <postmaster@{author_domain}>\r\n\r\n");
    let Some(message) = AuthenticatedMessage::parse(stand_in.as_bytes()) else {
        return AuthorPolicy::Unknown;
    };
    let lookup = async {
        let spf = SpfOutput::new(author_domain.clone());
        let output = dns
            .authenticator()
            .verify_dmarc(DmarcParameters::new(&message, &[], &author_domain, &spf))
            .await;
        if matches!(output.dkim_result(), DmarcResult::TempError(_)) {
            return None;
        }
        Some(match output.policy() {
            Policy::Reject => AuthorPolicy::Reject,
            Policy::Quarantine => AuthorPolicy::Quarantine,
            Policy::None | Policy::Unspecified => AuthorPolicy::None,
        })
    };
    match dns
        .bounded(&format!("_dmarc.{author_domain}"), lookup)
        .await
    {
        Lookup::Answered(policy) => policy,
        Lookup::Unavailable => AuthorPolicy::Unknown,
    }
}

//! Email addresses and domain names as tidings checks, stores and compares them. One grammar
//! for every address tidings takes in (a member imported or subscribing, an owner in the
//! configuration, an organisation's contact) and sends to: the `email_address` crate's, on
//! which lettre's `Address` rests too, so an address taken in is one the relay client can
//! send to. It is narrowed to what mailing lists meet in practice: no quoted local parts,
//! no domain literals, a domain with at least two labels that is not an IPv4 address.
//!
//! Domains are compared here too: DMARC's relaxed alignment, by the Public Suffix List.

use email_address::EmailAddress;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("{0:?} is not an email address: expected local@domain")]
    Malformed(String),
    #[error("{0:?} is too long for an email address (254 characters at most)")]
    TooLong(String),
}

/// Checks a bare address exactly as written: `local@domain`, nothing around it.
pub fn check(address: &str) -> Result<(), AddressError> {
    if address.len() > 254 {
        return Err(AddressError::TooLong(address.chars().take(40).collect()));
    }
    let well_formed = address.rsplit_once('@').is_some_and(|(local, domain)| {
        !local.starts_with('"')
            && EmailAddress::is_valid_local_part(local)
            && is_mail_domain(domain)
    });
    if well_formed {
        Ok(())
    } else {
        Err(AddressError::Malformed(address.to_string()))
    }
}

/// Validates an address as typed or found in a header (`<>` and spaces around it are
/// dropped) and returns its stored form: lowercased. Local parts are case-sensitive in
/// theory, but no mailbox provider treats them so, and one member must not be two
/// subscribers because of a capital letter.
pub fn normalize(address: &str) -> Result<String, AddressError> {
    let trimmed = address.trim().trim_start_matches('<').trim_end_matches('>');
    check(trimmed)?;
    Ok(trimmed.to_lowercase())
}

/// A domain mail can be addressed to, internationalised names written either way.
fn is_mail_domain(domain: &str) -> bool {
    let labels = domain.split('.').count();
    let top_is_numeric = domain
        .rsplit('.')
        .next()
        .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()));
    !domain.starts_with('[')
        && labels >= 2
        && !top_is_numeric
        && EmailAddress::is_valid_domain(domain)
}

/// A fully qualified DNS name in ASCII (a server's or a signing domain, `xn--` for an
/// internationalised one): at least two labels of letters, digits and inner hyphens, and a
/// top-level label that is not all digits (so that an IPv4 address does not pass).
pub fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    let tld_ok = labels
        .last()
        .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    name.len() <= 253 && labels.len() >= 2 && tld_ok && labels.iter().all(|l| is_dns_label(l))
}

/// One label of a DNS name (or a DKIM selector's).
pub fn is_dns_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The domain of an address (`a@b` → `b`), or of a bare domain or `@domain` identity.
pub fn domain_of(address: &str) -> Option<&str> {
    let domain = address.rsplit_once('@').map_or(address, |(_, d)| d).trim();
    (domain.contains('.') && !domain.starts_with('.')).then_some(domain)
}

/// Relaxed alignment (RFC 7489 §3.1): the two domains have the same organisational domain,
/// the registrable domain the Public Suffix List gives (`mail.ngo.example.org` and
/// `lists.ngo.example.org` both belong to `ngo.example.org`; `a.github.io` and `b.github.io`
/// do not share one).
pub fn aligned(identity: &str, author: &str) -> bool {
    let identity = identity.trim_end_matches('.').to_ascii_lowercase();
    let author = author.trim_end_matches('.').to_ascii_lowercase();
    !identity.is_empty() && organisational_domain(&identity) == organisational_domain(&author)
}

/// The registrable domain of `domain` by the Public Suffix List; a bare public suffix (or a
/// name the list cannot place) stands for itself.
pub fn organisational_domain(domain: &str) -> &str {
    psl::domain_str(domain).unwrap_or(domain)
}

#[cfg(test)]
mod tests {
    use super::{aligned, check, normalize};

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            normalize(" Ana.Silva@Example.ORG ").as_deref(),
            Ok("ana.silva@example.org")
        );
        assert_eq!(normalize("<a+b@x.example>").as_deref(), Ok("a+b@x.example"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "no-at",
            "@x.org",
            "a@",
            "a@b",
            "a b@x.org",
            "a@x..org",
            "a@-x.org",
            "a\r\n@x.org",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_domain_is_a_name_not_a_number() {
        assert!(check("a@1.2.3.4").is_err());
        assert!(check("a@[192.0.2.1]").is_err());
        assert!(check("\"a b\"@example.org").is_err());
        assert!(check("josé@exämple.org").is_ok());
        assert!(
            check(" a@example.org").is_err(),
            "check takes the address as written"
        );
    }

    /// Whatever is taken in can be sent to: every address `normalize` accepts, lettre (the
    /// relay client) accepts too. Random strings over the characters that trip grammars up.
    #[test]
    fn every_address_taken_in_is_one_the_relay_client_sends_to() {
        const PIECES: [&str; 24] = [
            "a", "Z", "0", "9", ".", "..", "-", "+", "@", "\"", " ", "é", "ü", "[", "]", "<", ">",
            "\r\n", "'", "_", "example", "org", "xn--p1ai", "\\",
        ];
        let mut accepted = 0;
        for _ in 0..50_000 {
            let length = rand::random_range(1..12);
            let text: String = (0..length)
                .map(|_| PIECES[rand::random_range(0..PIECES.len())])
                .collect();
            let candidates = [
                text.clone(),
                format!("{text}@example.org"),
                format!("a@{text}.org"),
            ];
            for candidate in candidates {
                if let Ok(address) = normalize(&candidate) {
                    accepted += 1;
                    assert!(
                        address.parse::<lettre::Address>().is_ok(),
                        "{address:?} taken in but not sendable"
                    );
                }
            }
        }
        assert!(accepted > 1_000, "only {accepted} addresses exercised");
    }

    #[test]
    fn alignment_is_relaxed_but_never_crosses_registrable_domains() {
        assert!(aligned("ngo.example", "ngo.example"));
        assert!(aligned("mail.ngo.example", "ngo.example"));
        assert!(aligned("ngo.example", "lists.ngo.example"));
        assert!(
            aligned("a.ngo.example", "b.ngo.example"),
            "siblings share a parent"
        );
        assert!(aligned("Mail.NGO.example.", "ngo.example"));
        assert!(!aligned("example", "ngo.example"));
        assert!(!aligned("otherngo.example", "ngo.example"));
        assert!(!aligned("evil.example", "ngo.example"));
        // Public suffixes of more than one label, from the list itself.
        assert!(aligned("lists.coalition.org.uk", "coalition.org.uk"));
        assert!(!aligned("coalition.org.uk", "other.org.uk"));
        assert!(!aligned("alice.github.io", "bob.github.io"));
    }
}

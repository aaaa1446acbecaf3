//! Which of this daemon's addresses a recipient is. Everything that is not one of them is
//! refused: tidings is never a relay.

use crate::config::Config;
use crate::tokens::{Purpose, Signer};

use super::reply::Reply;

/// A recipient address that belongs to this daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `LIST@domain`: a posting.
    Post { list: String },
    /// `LIST-request@domain`: email commands.
    Request { list: String },
    /// `LIST-join@domain`.
    Join { list: String },
    /// `LIST-leave@domain`, or `LIST-leave+TOKEN@domain` (the List-Unsubscribe mailto), whose
    /// token names the member.
    Leave {
        list: String,
        member_id: Option<i64>,
    },
    /// `LIST-owner@domain`.
    Owner { list: String },
    /// `LIST-bounces+TOKEN@domain`, a delivery report naming one delivery (VERP), or
    /// `LIST-bounces@domain` for mail sent to several recipients at once.
    Bounces {
        list: String,
        delivery_id: Option<i64>,
    },
    /// `LIST-confirm+TOKEN@domain`: the reply that confirms a request.
    Confirm { list: String, request_id: i64 },
    /// `LIST-confirm+TOKEN@domain` with an owner's token: the answer to a request waiting
    /// for approval.
    Approve { list: String, request_id: i64 },
    /// `LIST-confirm+TOKEN@domain` with a moderator's token: the decision on a held posting.
    Moderate { list: String, message_id: i64 },
    /// `PUBLICATION-submit@domain`: an editor's item for the next edition.
    Submit { list: String },
    /// `PUBLICATION-confirm+TOKEN@domain` with an edition's token: an editor's decision on
    /// an edition waiting for approval.
    ApproveEdition { list: String, edition_id: i64 },
    /// `postmaster@domain` or `abuse@domain` (RFC 5321 §4.5.1, RFC 2142), forwarded to the
    /// configured postmaster; carried under the first list's name, whose bounce address its
    /// copy uses.
    Postmaster { list: String },
}

impl Destination {
    pub fn list(&self) -> &str {
        match self {
            Destination::Post { list }
            | Destination::Request { list }
            | Destination::Join { list }
            | Destination::Leave { list, .. }
            | Destination::Owner { list }
            | Destination::Bounces { list, .. }
            | Destination::Confirm { list, .. }
            | Destination::Approve { list, .. }
            | Destination::Moderate { list, .. }
            | Destination::Submit { list }
            | Destination::ApproveEdition { list, .. }
            | Destination::Postmaster { list } => list,
        }
    }
}

/// Reserved suffixes of a list name, as in Mailman, and `-submit` of publications.
const SUFFIXES: [&str; 7] = [
    "-request", "-join", "-leave", "-owner", "-bounces", "-confirm", "-submit",
];

/// Role addresses every mail domain must answer (RFC 5321 §4.5.1, RFC 2142); no list may be
/// named so.
pub const ROLE_ADDRESSES: [&str; 2] = ["postmaster", "abuse"];

pub fn route(recipient: &str, config: &Config, signer: &Signer) -> Result<Destination, Reply> {
    let address = recipient.trim().to_ascii_lowercase();
    // RFC 5321 §4.1.1.3: `RCPT TO:<Postmaster>` without a domain must be taken too. The
    // SMTP parser hands it over as an empty address (an empty RCPT has no other meaning).
    if address.is_empty() || address == "postmaster" {
        return postmaster(config);
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(Reply::new(
            550,
            "5.1.3",
            "recipient must be a full address (list@domain)",
        ));
    };
    if domain != config.server.domain.to_ascii_lowercase() {
        return Err(Reply::new(
            550,
            "5.7.1",
            format!(
                "relay access denied: this server only takes mail for lists at {}",
                config.server.domain
            ),
        ));
    }
    if ROLE_ADDRESSES.contains(&local) {
        return postmaster(config);
    }
    let (base, detail) = match local.split_once('+') {
        Some((base, detail)) => (base, Some(detail)),
        None => (local, None),
    };
    let no_such = || Reply::new(550, "5.1.1", format!("<{recipient}>: no such list here"));
    if let Some(publication) = config.publication(base) {
        return Err(Reply::new(
            550,
            "5.7.1",
            format!(
                "{}@{domain} is a newsletter and takes no postings; editors send items to {}-submit@{domain}",
                publication.name, publication.name
            ),
        ));
    }
    if let Some(list) = config.list(base) {
        return match detail {
            None => Ok(Destination::Post {
                list: list.name.clone(),
            }),
            Some(_) => Err(no_such()),
        };
    }
    for suffix in SUFFIXES {
        let Some(name) = base.strip_suffix(suffix) else {
            continue;
        };
        let Some(list) = config.list(name) else {
            return Err(no_such());
        };
        let list = list.name.clone();
        let forged = || {
            Reply::new(
                550,
                "5.1.1",
                format!("<{recipient}>: unknown or forged address"),
            )
        };
        let verified = |purpose: Purpose, token: &str| signer.verify_id(purpose, &list, token);
        return match (suffix, detail) {
            ("-request", None) => Ok(Destination::Request { list }),
            ("-join", None) => Ok(Destination::Join { list }),
            ("-leave", None) => Ok(Destination::Leave {
                list,
                member_id: None,
            }),
            ("-leave", Some(token)) => match verified(Purpose::Unsubscribe, token) {
                Some(member_id) => Ok(Destination::Leave {
                    list,
                    member_id: Some(member_id),
                }),
                None => Err(forged()),
            },
            ("-owner", None) => Ok(Destination::Owner { list }),
            ("-bounces", None) => Ok(Destination::Bounces {
                list,
                delivery_id: None,
            }),
            ("-bounces", Some(token)) => match verified(Purpose::Verp, token) {
                Some(delivery_id) => Ok(Destination::Bounces {
                    list,
                    delivery_id: Some(delivery_id),
                }),
                None => Err(forged()),
            },
            ("-confirm", Some(token)) => {
                if let Some(request_id) = verified(Purpose::Confirm, token) {
                    Ok(Destination::Confirm { list, request_id })
                } else if let Some(request_id) = verified(Purpose::Approve, token) {
                    Ok(Destination::Approve { list, request_id })
                } else if let Some(message_id) = verified(Purpose::Moderate, token) {
                    Ok(Destination::Moderate { list, message_id })
                } else if let Some(edition_id) = verified(Purpose::Edition, token) {
                    Ok(Destination::ApproveEdition { list, edition_id })
                } else {
                    Err(forged())
                }
            }
            ("-submit", None) if config.publication(&list).is_some() => {
                Ok(Destination::Submit { list })
            }
            _ => Err(no_such()),
        };
    }
    Err(no_such())
}

fn postmaster(config: &Config) -> Result<Destination, Reply> {
    match config.lists.first() {
        Some(list) => Ok(Destination::Postmaster {
            list: list.name.clone(),
        }),
        None => Err(Reply::new(
            451,
            "4.3.0",
            "no postmaster is configured here yet, try again later",
        )),
    }
}

/// The address whose token answers request `request_id` for `purpose` (confirmation by the
/// requester, or approval by an owner).
pub fn confirm_address(
    list: &str,
    purpose: Purpose,
    request_id: i64,
    domain: &str,
    signer: &Signer,
) -> String {
    let token = signer.sign(purpose, list, &[request_id as u64]);
    format!("{list}-confirm+{token}@{domain}")
}

/// The bounce address of mail sent to several recipients in one transaction.
pub fn bounce_address(list: &str, domain: &str) -> String {
    format!("{list}-bounces@{domain}")
}

/// The address a delivery's bounce comes back to: `LIST-bounces+TOKEN@domain` (VERP).
pub fn verp_address(list: &str, delivery_id: i64, domain: &str, signer: &Signer) -> String {
    let token = signer.sign(Purpose::Verp, list, &[delivery_id as u64]);
    format!("{list}-bounces+{token}@{domain}")
}

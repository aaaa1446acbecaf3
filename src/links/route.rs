//! Which of this daemon's addresses a recipient is. Everything that is not one of them is
//! refused: tidings is never a relay.

use crate::tokens::Purpose;

use super::{address, Links, Question, Role, ROLE_ADDRESSES};

/// The names routing needs to know: which are lists and which are publications, as
/// configured.
pub trait Directory {
    /// The list (a publication is one too) of that name, spelled as configured.
    fn list(&self, name: &str) -> Option<&str>;
    /// The publication of that name, spelled as configured.
    fn publication(&self, name: &str) -> Option<&str>;
    /// The list whose name mail to `postmaster@` is carried under (its copy uses that list's
    /// bounce address), or `None` while no list is configured.
    fn postmaster_list(&self) -> Option<&str>;
}

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

/// Why a recipient is none of this daemon's addresses; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unroutable {
    #[error("recipient must be a full address (list@domain)")]
    NotAnAddress,
    #[error("relay access denied: this server only takes mail for lists at {domain}")]
    OtherDomain { domain: String },
    #[error("{address} is a newsletter and takes no postings; editors send items to {submit}")]
    Newsletter { address: String, submit: String },
    #[error("<{recipient}>: no such list here")]
    NoSuchList { recipient: String },
    /// A token that is not genuine, or not for that list and use.
    #[error("<{recipient}>: unknown or forged address")]
    Forged { recipient: String },
    #[error("no postmaster is configured here yet, try again later")]
    NoPostmaster,
}

impl Links<'_> {
    /// What `recipient` is, the token in it checked.
    pub fn route(
        &self,
        recipient: &str,
        lists: &impl Directory,
    ) -> Result<Destination, Unroutable> {
        let lowered = recipient.trim().to_ascii_lowercase();
        // RFC 5321 §4.1.1.3: `RCPT TO:<Postmaster>` without a domain must be taken too. The
        // SMTP parser hands it over as an empty address (an empty RCPT has no other meaning).
        if lowered.is_empty() || lowered == "postmaster" {
            return postmaster(lists);
        }
        let (local, domain) = lowered.rsplit_once('@').ok_or(Unroutable::NotAnAddress)?;
        if domain != self.domain.to_ascii_lowercase() {
            return Err(Unroutable::OtherDomain {
                domain: self.domain.to_owned(),
            });
        }
        if ROLE_ADDRESSES.contains(&local) {
            return postmaster(lists);
        }
        let (base, detail) = match local.split_once('+') {
            Some((base, detail)) => (base, Some(detail)),
            None => (local, None),
        };
        let no_such = || Unroutable::NoSuchList {
            recipient: recipient.to_owned(),
        };
        if let Some(publication) = lists.publication(base) {
            return Err(Unroutable::Newsletter {
                address: address(publication, Role::Post, domain),
                submit: address(publication, Role::Submit, domain),
            });
        }
        if let Some(list) = lists.list(base) {
            return match detail {
                None => Ok(Destination::Post {
                    list: list.to_owned(),
                }),
                Some(_) => Err(no_such()),
            };
        }
        let (list, role) = Role::SUFFIXED
            .iter()
            .find_map(|role| Some((base.strip_suffix(role.suffix())?, *role)))
            .ok_or_else(no_such)?;
        let list = lists.list(list).ok_or_else(no_such)?.to_owned();
        let is_publication = lists.publication(&list).is_some();
        self.destination(list, role, detail, is_publication)
            .ok_or_else(|| match detail {
                Some(_) if matches!(role, Role::Leave | Role::Bounces | Role::Confirm) => {
                    Unroutable::Forged {
                        recipient: recipient.to_owned(),
                    }
                }
                _ => no_such(),
            })
    }

    /// What the address of `role` of `list` is, with the token it carries (if any); `None`
    /// when there is no such address or the token is not genuine.
    fn destination(
        &self,
        list: String,
        role: Role,
        detail: Option<&str>,
        is_publication: bool,
    ) -> Option<Destination> {
        let verified = |purpose: Purpose, token: &str| self.signer.verify_id(purpose, &list, token);
        Some(match (role, detail) {
            (Role::Request, None) => Destination::Request { list },
            (Role::Join, None) => Destination::Join { list },
            (Role::Leave, None) => Destination::Leave {
                list,
                member_id: None,
            },
            (Role::Leave, Some(token)) => Destination::Leave {
                member_id: Some(verified(Purpose::Unsubscribe, token)?),
                list,
            },
            (Role::Owner, None) => Destination::Owner { list },
            (Role::Bounces, None) => Destination::Bounces {
                list,
                delivery_id: None,
            },
            (Role::Bounces, Some(token)) => Destination::Bounces {
                delivery_id: Some(verified(Purpose::Verp, token)?),
                list,
            },
            (Role::Confirm, Some(token)) => self.answer(list, token)?,
            (Role::Submit, None) if is_publication => Destination::Submit { list },
            _ => return None,
        })
    }

    /// The answer a reply to `LIST-confirm+TOKEN@` gives, to whichever question the token is for.
    fn answer(&self, list: String, token: &str) -> Option<Destination> {
        let (question, id) = Question::ALL.into_iter().find_map(|question| {
            let id = self.signer.verify_id(question.purpose(), &list, token)?;
            Some((question, id))
        })?;
        Some(match question {
            Question::Confirm => Destination::Confirm {
                list,
                request_id: id,
            },
            Question::Approve => Destination::Approve {
                list,
                request_id: id,
            },
            Question::Moderate => Destination::Moderate {
                list,
                message_id: id,
            },
            Question::Edition => Destination::ApproveEdition {
                list,
                edition_id: id,
            },
        })
    }
}

fn postmaster(lists: &impl Directory) -> Result<Destination, Unroutable> {
    let list = lists.postmaster_list().ok_or(Unroutable::NoPostmaster)?;
    Ok(Destination::Postmaster {
        list: list.to_owned(),
    })
}

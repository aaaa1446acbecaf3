//! Joining and leaving lists, by email command, by link and by an owner's decision.
//!
//! Every self-service change is confirmed by the address itself (double opt-in), except the
//! signed one-click unsubscribe of RFC 8058. Answers never reveal whether an address is
//! subscribed, and the rate limits keep anyone from flooding a third party with
//! confirmation requests.

pub mod automatic;
pub mod commands;
pub mod csv_lines;
pub mod roster;

use std::sync::Arc;

use serde_json::json;

use crate::config::{Config, ListConfig, SubscriptionPolicy};
use crate::links::{Links, Question};
use crate::notices::{Automatic, Notice, NoticeError, Notices};
use crate::store::{
    Actor, Audited, Member, Request, RequestKind, RequestLimits, RequestOpened, Store, StoreError,
};
use crate::tokens::Signer;

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error("no subscription request {0}; `tidings requests list` shows those waiting")]
    NoSuchRequest(i64),
    #[error("request {id} is {state}, not waiting for approval")]
    NotAwaitingApproval { id: i64, state: String },
    #[error("list {0} is not in the configuration")]
    UnknownList(String),
    #[error("{0}")]
    Publication(String),
}

pub type Result<T> = std::result::Result<T, SubscriptionError>;

/// What became of a request to join or leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    /// A confirmation request was sent, or would have been: the answer is the same whether
    /// or not the address is subscribed, rate-limited or already asked.
    Requested,
    /// The list takes no self-service subscriptions.
    Closed,
}

/// What a confirmation (reply or button) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    Subscribed,
    Unsubscribed,
    AwaitingApproval,
    Expired,
    Used,
}

pub struct Subscriptions {
    config: Arc<Config>,
    store: Store,
    signer: Signer,
    notices: Arc<Notices>,
}

pub(crate) const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl Subscriptions {
    pub fn new(
        config: Arc<Config>,
        store: Store,
        signer: Signer,
        notices: Arc<Notices>,
    ) -> Subscriptions {
        Subscriptions {
            config,
            store,
            signer,
            notices,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn list(&self, name: &str) -> Result<&ListConfig> {
        self.config
            .list(name)
            .ok_or_else(|| SubscriptionError::UnknownList(name.to_string()))
    }

    /// The language to write to `address` in: theirs if tidings knows it, else the list's.
    pub async fn language_for(&self, list: &ListConfig, address: &str) -> Result<String> {
        Ok(self
            .store
            .language_of(address)
            .await?
            .unwrap_or_else(|| list.language.clone()))
    }

    /// Asks `address` to confirm that it wants to join or leave `list`.
    pub async fn request(
        &self,
        list: &ListConfig,
        kind: RequestKind,
        address: &str,
        language: &str,
    ) -> Result<Requested> {
        if kind == RequestKind::Subscribe && list.subscription == SubscriptionPolicy::Closed {
            return Ok(Requested::Closed);
        }
        let limits = &self.config.subscriptions;
        let bounds = RequestLimits {
            lifetime_ms: limits.confirmation_lifetime_days as i64 * DAY_MS,
            max_pending: limits.max_pending_per_list as i64,
            confirmations: limits.confirmations_per_address_per_day,
            confirmations_window_ms: DAY_MS,
        };
        let opened = self
            .store
            .open_request(&list.name, kind, address, language, &bounds)
            .await?;
        match opened {
            RequestOpened::Open(request) => self.send_confirmation(list, &request).await?,
            RequestOpened::TooManyPending => {
                tracing::warn!(list = %list.name, "too many requests waiting: request dropped");
            }
            RequestOpened::AddressLimited => {
                tracing::info!(list = %list.name, "confirmation not sent: address rate limit");
            }
        }
        Ok(Requested::Requested)
    }

    async fn send_confirmation(&self, list: &ListConfig, request: &Request) -> Result<()> {
        let (reply_to, confirm_url) = self.links().confirmation(&list.name, request.id);
        let name = match request.kind {
            RequestKind::Subscribe => "confirm_subscribe",
            RequestKind::Unsubscribe => "confirm_unsubscribe",
        };
        let notice = Notice {
            name,
            list,
            language: &request.language,
            recipients: vec![request.address.clone()],
            address: &request.address,
            reply_to: Some(reply_to.clone()),
            automatic: Automatic::Replied,
            extra: json!({
                "confirm_address": reply_to,
                "confirm_url": confirm_url,
                "expires_days": self.config.subscriptions.confirmation_lifetime_days,
            }),
        };
        Ok(self.notices.send(&self.store, notice).await?)
    }

    /// Confirms request `request_id` of `list`, by reply or button. Whatever the reply says:
    /// the token proves that the address received the request.
    pub async fn confirm(&self, list: &ListConfig, request_id: i64) -> Result<Confirmed> {
        let Some(request) = self.store.request(request_id).await? else {
            return Ok(Confirmed::Used);
        };
        if request.list_name != list.name || request.state != "confirming" {
            return Ok(Confirmed::Used);
        }
        if request.is_expired(crate::store::now_ms()) {
            self.store
                .advance_request(&request, "confirming", "expired", false, "")
                .await?;
            return Ok(Confirmed::Expired);
        }
        if request.kind == RequestKind::Unsubscribe {
            if !self
                .store
                .advance_request(&request, "confirming", "done", true, "")
                .await?
            {
                return Ok(Confirmed::Used);
            }
            self.send_simple(list, &request, "goodbye", json!({}))
                .await?;
            return Ok(Confirmed::Unsubscribed);
        }
        if self.needs_approval(list, &request.address).await? {
            if !self
                .store
                .advance_request(&request, "confirming", "approving", false, "")
                .await?
            {
                return Ok(Confirmed::Used);
            }
            self.ask_owners(list, &request).await?;
            self.send_simple(list, &request, "approval_pending", json!({}))
                .await?;
            return Ok(Confirmed::AwaitingApproval);
        }
        if !self
            .store
            .advance_request(&request, "confirming", "done", true, "")
            .await?
        {
            return Ok(Confirmed::Used);
        }
        self.welcome(list, &request).await?;
        Ok(Confirmed::Subscribed)
    }

    /// Whether a confirmed subscription still needs an owner's approval.
    async fn needs_approval(&self, list: &ListConfig, address: &str) -> Result<bool> {
        Ok(match list.subscription {
            SubscriptionPolicy::Confirm => false,
            SubscriptionPolicy::Approve | SubscriptionPolicy::Closed => true,
            SubscriptionPolicy::Members => self.store.organisation_of(address).await?.is_none(),
        })
    }

    async fn ask_owners(&self, list: &ListConfig, request: &Request) -> Result<()> {
        let approve_address =
            self.links()
                .answer_address(&list.name, Question::Approve, request.id);
        let extra = json!({
            "request_id": request.id,
            "requester": request.address,
            "approve_address": approve_address,
            "cli_approve": format!("tidings requests approve {}", request.id),
            "cli_reject": format!("tidings requests reject {}", request.id),
        });
        let notice = Notice {
            address: &request.address,
            reply_to: Some(approve_address.clone()),
            ..Notice::to_owners("approval_needed", list, extra)
        };
        Ok(self.notices.send(&self.store, notice).await?)
    }

    /// `actor`'s decision on a request waiting for approval, recorded in the audit trail.
    pub async fn decide(
        &self,
        actor: &Actor,
        request_id: i64,
        approve: bool,
        reason: &str,
    ) -> Result<Request> {
        let request = self
            .store
            .request(request_id)
            .await?
            .ok_or(SubscriptionError::NoSuchRequest(request_id))?;
        let not_waiting = || SubscriptionError::NotAwaitingApproval {
            id: request.id,
            state: request.state.clone(),
        };
        let list = self.list(&request.list_name)?;
        let to = if approve { "done" } else { "rejected" };
        if request.state != "approving"
            || !self
                .store
                .advance_request(&request, "approving", to, approve, reason)
                .await?
        {
            return Err(not_waiting());
        }
        if approve {
            self.welcome(list, &request).await?;
        } else {
            self.send_simple(list, &request, "rejected", json!({ "reason": reason }))
                .await?;
        }
        tracing::info!(list = %list.name, request = request.id, approve, "request decided");
        let event = Audited {
            action: if approve {
                "request.approve"
            } else {
                "request.reject"
            },
            list_name: Some(&list.name),
            object: Some(format!("request {}", request.id)),
            detail: (!reason.is_empty()).then(|| reason.to_owned()),
            ..Audited::default()
        };
        self.store.record_audit(actor, &event).await?;
        Ok(request)
    }

    async fn welcome(&self, list: &ListConfig, request: &Request) -> Result<()> {
        let unsubscribe_url = match self.store.member_by_address(&request.address).await? {
            Some(member) => self.unsubscribe_url(list, &member),
            None => String::new(),
        };
        self.send_simple(
            list,
            request,
            "welcome",
            json!({ "unsubscribe_url": unsubscribe_url }),
        )
        .await
    }

    /// The one-click unsubscribe URL of a member, as in List-Unsubscribe.
    pub fn unsubscribe_url(&self, list: &ListConfig, member: &Member) -> String {
        self.links().unsubscribe(&list.name, member.id).url
    }

    /// The addresses and links of this daemon, signed with its secret.
    pub fn links(&self) -> Links<'_> {
        self.config.links(&self.signer)
    }

    /// Sends notice `name` to `address`, about it, in `language`.
    pub async fn notify(
        &self,
        list: &ListConfig,
        (address, language): (&str, &str),
        name: &'static str,
        automatic: Automatic,
        extra: serde_json::Value,
    ) -> Result<()> {
        let notice = Notice {
            name,
            list,
            language,
            recipients: vec![address.to_string()],
            address,
            reply_to: None,
            automatic,
            extra,
        };
        Ok(self.notices.send(&self.store, notice).await?)
    }

    /// A notice about a request, to the requester, in the request's language.
    async fn send_simple(
        &self,
        list: &ListConfig,
        request: &Request,
        name: &'static str,
        extra: serde_json::Value,
    ) -> Result<()> {
        let to = (request.address.as_str(), request.language.as_str());
        self.notify(list, to, name, Automatic::Generated, extra)
            .await
    }

    /// Removes the member a signed unsubscribe token names, at once (RFC 8058 one-click and
    /// the List-Unsubscribe mailto). Returns the member when they were subscribed.
    pub async fn leave_by_token(
        &self,
        list: &ListConfig,
        member_id: i64,
    ) -> Result<Option<Member>> {
        let Some(member) = self
            .store
            .remove_member_by_id(&list.name, member_id)
            .await?
        else {
            return Ok(None);
        };
        tracing::info!(list = %list.name, member = member.id, "member left by unsubscribe link");
        let to = (member.address.as_str(), member.language.as_str());
        self.notify(list, to, "goodbye", Automatic::Generated, json!({}))
            .await?;
        Ok(Some(member))
    }
}

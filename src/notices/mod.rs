//! Messages tidings writes itself (confirmations, welcome and goodbye messages, replies to
//! commands, notices to owners): rendered from the templates in the recipient's language,
//! assembled as multipart/alternative, and queued like any other mail, so that they survive
//! a crash and are retried like postings.

pub mod templates;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::config::{Config, ListConfig, PostingPolicy, Visibility};
use crate::links::{self, Role};
use crate::message::{MessageBuilder, Part, TransferEncoding};
use crate::store::{ReadyNotice, Store, StoreError};

pub use templates::{RenderedText, TemplateError, Templates};

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// RFC 3834: what kind of automatic message a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// An answer to a message (a command, a confirmation reply).
    Replied,
    /// Sent on tidings' own initiative.
    Generated,
}

/// One notice to send.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// Template name (`welcome`, `confirm_subscribe`, ...).
    pub name: &'static str,
    pub list: &'a ListConfig,
    pub language: &'a str,
    pub recipients: Vec<String>,
    /// The address the notice is about (the member or requester).
    pub address: &'a str,
    /// Where a reply goes, when replying does something (confirmations).
    pub reply_to: Option<String>,
    pub automatic: Automatic,
    /// Template variables of this notice beyond those every notice gets.
    pub extra: Value,
}

impl<'a> Notice<'a> {
    /// A notice to the list's owners, in the list's language, about the list itself.
    pub fn to_owners(name: &'static str, list: &'a ListConfig, extra: Value) -> Notice<'a> {
        Notice {
            name,
            list,
            language: &list.language,
            recipients: list.owners.clone(),
            address: "",
            reply_to: None,
            automatic: Automatic::Generated,
            extra,
        }
    }
}

pub struct Notices {
    templates: Templates,
    config: Arc<Config>,
}

impl Notices {
    pub fn load(config: Arc<Config>) -> Result<Notices, TemplateError> {
        let templates = Templates::load(Path::new(&config.server.templates_dir))?;
        Ok(Notices { templates, config })
    }

    /// Renders and queues a notice.
    pub async fn send(&self, store: &Store, notice: Notice<'_>) -> Result<(), NoticeError> {
        let message = self.compose(&notice)?;
        store
            .queue_notice(&notice.list.name, &notice.recipients, &message)
            .await?;
        tracing::info!(list = %notice.list.name, notice = notice.name, recipients = notice.recipients.len(), "notice queued");
        Ok(())
    }

    /// Renders a notice for a store change that queues it in its own transaction, so that
    /// the change and the notice happen together, once.
    pub fn prepare(&self, notice: &Notice<'_>) -> Result<ReadyNotice, NoticeError> {
        Ok(ReadyNotice {
            list: notice.list.name.clone(),
            recipients: notice.recipients.clone(),
            message: self.compose(notice)?,
        })
    }

    /// The notice as a complete RFC 5322 message: multipart/alternative with a text and an
    /// HTML part, base64-encoded, which no relay mangles whatever the language or line
    /// length.
    pub fn compose(&self, notice: &Notice) -> Result<Vec<u8>, NoticeError> {
        let rendered = self.render(notice)?;
        let domain = &self.config.server.domain;
        let list = notice.list;
        let to = match notice.recipients.as_slice() {
            [one] => one.clone(),
            _ => links::address(&list.name, Role::Owner, domain),
        };
        let mut message = MessageBuilder::new();
        message
            .address(
                "From",
                &list.display_name,
                &links::address(&list.name, Role::Request, domain),
            )
            .field("To", &to);
        if let Some(reply_to) = &notice.reply_to {
            message.field("Reply-To", reply_to);
        }
        let automatic = match notice.automatic {
            Automatic::Replied => "auto-replied",
            Automatic::Generated => "auto-generated",
        };
        message
            .field("Subject", &rendered.subject)
            .date(chrono::Utc::now())
            .message_id("notice", domain)
            .field(
                "List-Id",
                &format!(
                    "{} <{}>",
                    list.display_name,
                    links::list_id(&list.name, domain)
                ),
            )
            .field("Auto-Submitted", automatic)
            .field("Content-Language", &rendered.lang);
        let body = Part::alternative(&rendered.text, &rendered.html, TransferEncoding::Base64);
        Ok(message.finish(&body))
    }

    /// The notice's subject and parts, for a message assembled elsewhere.
    pub fn render(&self, notice: &Notice) -> Result<templates::RenderedNotice, NoticeError> {
        let mut data = self.common(notice.list, notice.address);
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), &notice.extra) {
            data.extend(extra.clone());
        }
        Ok(self.templates.notice(notice.name, notice.language, &data)?)
    }

    /// A message of which the templates give the subject and the text only (a digest's
    /// table of contents), in `language`, with the variables every notice gets and `extra`.
    pub fn render_text(
        &self,
        name: &str,
        list: &ListConfig,
        language: &str,
        extra: Value,
    ) -> Result<RenderedText, NoticeError> {
        let mut data = self.common(list, "");
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        Ok(self.templates.text_notice(name, language, &data)?)
    }

    /// A web page in `language` about `list` (if the link named a real one) and `address`.
    pub fn page(
        &self,
        name: &str,
        language: &str,
        list: Option<&ListConfig>,
        address: &str,
        extra: Value,
    ) -> Result<String, TemplateError> {
        let mut data = match list {
            Some(list) => self.common(list, address),
            None => {
                json!({ "address": address, "base_url": self.config.server.base_url, "list": { "display_name": "", "address": "" } })
            }
        };
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        self.templates.page(name, language, &data)
    }

    /// A text snippet in the list's language, e.g. the confidentiality notice of its postings.
    pub fn snippet(&self, name: &str, list: &ListConfig) -> Result<String, TemplateError> {
        let data = self.common(list, "");
        self.templates.snippet(name, &list.language, &data)
    }

    /// The variables every notice and page gets.
    fn common(&self, list: &ListConfig, address: &str) -> Value {
        let domain = &self.config.server.domain;
        let name = &list.name;
        let mut data = Map::new();
        data.insert("address".into(), json!(address));
        data.insert("base_url".into(), json!(self.config.server.base_url));
        // Where a member manages their subscriptions, named in welcomes and footers.
        data.insert(
            "account_url".into(),
            json!(links::console_url(
                &self.config.server.base_url,
                links::ConsolePage::Account
            )),
        );
        data.insert(
            "list".into(),
            json!({
                "name": name,
                "display_name": list.display_name,
                "description": list.description,
                "address": links::address(name, Role::Post, domain),
                "request_address": links::address(name, Role::Request, domain),
                "join_address": links::address(name, Role::Join, domain),
                "leave_address": links::address(name, Role::Leave, domain),
                "owner_address": links::address(name, Role::Owner, domain),
                "members_may_post": list.posting != PostingPolicy::Announce,
                "confidential": list.visibility == Visibility::Confidential,
                // A publication's subscribers get its editions: it has no digests.
                "digests": self.config.publication(name).is_none(),
            }),
        );
        Value::Object(data)
    }
}

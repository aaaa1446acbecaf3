//! Newsletters: editors submit items (by mail to `NAME-submit@` or with `tidings items`),
//! the [`scheduler`] builds an edition per scheduled slot from the items waiting, per
//! language, through the templates ([`render`]); editors approve it (or it goes out at
//! once with `approval = "auto"`), and every subscriber gets it in their language, with
//! their own unsubscribe link put in by delivery.

pub mod archive;
pub mod clock;
pub mod editions;
pub mod items;
pub mod markdown;
pub mod mime;
pub mod render;
pub mod schedule;
pub mod scheduler;

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Notify;

use crate::config::{Config, ListConfig, PublicationConfig};
use crate::notices::{Automatic, Notice, NoticeError, Notices};
use crate::store::{Item, ItemChanges, NewItem, ReadyNotice, Store, StoreError};
use crate::tokens::Signer;

use clock::Clock;
use render::PublicationTemplates;

#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notice(#[from] NoticeError),
    #[error(transparent)]
    Template(#[from] render::TemplateError),
    #[error("no publication named {0:?} in the configuration")]
    UnknownPublication(String),
    #[error("no edition {0}; `tidings editions list` shows them")]
    NoSuchEdition(i64),
    #[error("edition {id} is {state}, not waiting for approval")]
    NotAwaitingApproval { id: i64, state: String },
    #[error("no item {0}; `tidings items list` shows them")]
    NoSuchItem(i64),
    #[error("item {0} is already in an edition or withdrawn, and can no longer change")]
    ItemNotWaiting(i64),
    #[error("{0}")]
    InvalidItem(String),
    #[error("other editions were being built at the same time; try again")]
    Busy,
}

pub type Result<T> = std::result::Result<T, PublicationError>;

/// An item as an editor gives it.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub title: String,
    pub section: Option<String>,
    pub language: Option<String>,
    pub key: Option<String>,
    pub body: String,
    pub author: String,
}

/// The publications service, shared by the daemon's scheduler and command runner and by
/// the `items` and `editions` commands.
pub struct Publications {
    config: Arc<Config>,
    store: Store,
    signer: Signer,
    notices: Arc<Notices>,
    templates: Arc<PublicationTemplates>,
    clock: Arc<dyn Clock>,
    /// Wakes the delivery workers when an edition is queued.
    queued: Option<Arc<Notify>>,
}

/// What the service is made of.
pub struct Parts {
    pub config: Arc<Config>,
    pub store: Store,
    pub signer: Signer,
    pub notices: Arc<Notices>,
    pub templates: Arc<PublicationTemplates>,
    pub clock: Arc<dyn Clock>,
    pub queued: Option<Arc<Notify>>,
}

impl Publications {
    pub fn new(parts: Parts) -> Publications {
        Publications {
            config: parts.config,
            store: parts.store,
            signer: parts.signer,
            notices: parts.notices,
            templates: parts.templates,
            clock: parts.clock,
            queued: parts.queued,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn publication(&self, name: &str) -> Result<&PublicationConfig> {
        self.config
            .publication(name)
            .ok_or_else(|| PublicationError::UnknownPublication(name.to_string()))
    }

    /// The list through which the publication is subscribed to, which its notices are from.
    fn list_of(&self, publication: &PublicationConfig) -> Result<&ListConfig> {
        self.config
            .list(&publication.name)
            .ok_or_else(|| PublicationError::UnknownPublication(publication.name.clone()))
    }

    /// Checks an item and stores it for the next edition.
    pub async fn add_item(&self, publication: &PublicationConfig, input: ItemInput) -> Result<i64> {
        let language = input
            .language
            .unwrap_or_else(|| publication.fallback_language.clone());
        check_language(publication, &language)?;
        let title = one_line(&input.title);
        if title.is_empty() {
            return Err(PublicationError::InvalidItem(
                "the item has no title (the Subject of the mail, or --title)".into(),
            ));
        }
        let key = match input.key.map(|k| one_line(&k)).filter(|k| !k.is_empty()) {
            Some(key) => key,
            None => items::key_from_title(&title),
        };
        let item = NewItem {
            publication: publication.name.clone(),
            language,
            translation_key: key,
            section: input.section.map(|s| one_line(&s)).unwrap_or_default(),
            title,
            body: input.body,
            author: input.author,
        };
        let id = self.store.add_item(&item).await?;
        tracing::info!(publication = %publication.name, item = id, language = %item.language, "item added");
        Ok(id)
    }

    /// Changes an item still waiting for an edition.
    pub async fn edit_item(&self, id: i64, mut changes: ItemChanges) -> Result<Item> {
        let item = self
            .store
            .item(id)
            .await?
            .ok_or(PublicationError::NoSuchItem(id))?;
        let publication = self.publication(&item.publication)?;
        if let Some(language) = &changes.language {
            check_language(publication, language)?;
        }
        changes.title = changes.title.map(|t| one_line(&t));
        changes.section = changes.section.map(|s| one_line(&s));
        if changes.title.as_deref() == Some("") {
            return Err(PublicationError::InvalidItem(
                "the title cannot be empty".into(),
            ));
        }
        if !self.store.update_item(id, &changes).await? {
            return Err(PublicationError::ItemNotWaiting(id));
        }
        self.store
            .item(id)
            .await?
            .ok_or(PublicationError::NoSuchItem(id))
    }

    pub async fn withdraw_item(&self, id: i64) -> Result<()> {
        if self.store.item(id).await?.is_none() {
            return Err(PublicationError::NoSuchItem(id));
        }
        if !self.store.withdraw_item(id).await? {
            return Err(PublicationError::ItemNotWaiting(id));
        }
        Ok(())
    }

    /// A notice to the publication's editors, in its fallback language.
    async fn tell_editors(
        &self,
        publication: &PublicationConfig,
        name: &'static str,
        reply_to: Option<String>,
        extra: serde_json::Value,
    ) -> Result<()> {
        let notice = self.editors_notice(publication, name, reply_to, extra)?;
        self.store
            .queue_notice(&notice.list, &notice.recipients, &notice.message)
            .await?;
        tracing::info!(publication = %publication.name, notice = name, "notice queued");
        Ok(())
    }

    /// The notice to the publication's editors, rendered for a change that commits it.
    fn editors_notice(
        &self,
        publication: &PublicationConfig,
        name: &'static str,
        reply_to: Option<String>,
        extra: serde_json::Value,
    ) -> Result<ReadyNotice> {
        let notice = Notice {
            name,
            list: self.list_of(publication)?,
            language: &publication.fallback_language,
            recipients: publication.editors.clone(),
            address: "",
            reply_to,
            automatic: Automatic::Generated,
            extra,
        };
        Ok(self.notices.prepare(&notice)?)
    }

    /// An item submitted by mail: stored, and its editor told either way.
    pub async fn take_mailed_item(
        &self,
        publication: &PublicationConfig,
        editor: &str,
        subject: &str,
        body: &str,
    ) -> Result<()> {
        let submission = items::parse_submission(subject, body);
        let input = ItemInput {
            title: submission.title.clone(),
            section: submission.section.clone(),
            language: submission.language.clone(),
            key: submission.key.clone(),
            body: submission.body,
            author: editor.to_string(),
        };
        let (item_id, problem) = match self.add_item(publication, input).await {
            Ok(id) => (Some(id), String::new()),
            Err(PublicationError::InvalidItem(problem)) => (None, problem),
            Err(other) => return Err(other),
        };
        let item = match item_id {
            Some(id) => self.store.item(id).await?,
            None => None,
        };
        let notice = Notice {
            name: "item_received",
            list: self.list_of(publication)?,
            language: &publication.fallback_language,
            recipients: vec![editor.to_string()],
            address: editor,
            reply_to: None,
            automatic: Automatic::Replied,
            extra: json!({
                "accepted": item.is_some(),
                "problem": problem,
                "title": submission.title,
                "item": item.as_ref().map(|i| json!({
                    "id": i.id,
                    "language": i.language,
                    "section": i.section,
                    "key": i.translation_key,
                })),
                "languages": publication.languages.join(", "),
                "cli_remove": item_id.map(|id| format!("tidings items remove {id}")),
            }),
        };
        Ok(self.notices.send(&self.store, notice).await?)
    }
}

fn check_language(publication: &PublicationConfig, language: &str) -> Result<()> {
    if publication.languages.iter().any(|l| l == language) {
        Ok(())
    } else {
        Err(PublicationError::InvalidItem(format!(
            "{} is written in {}, not {language:?}",
            publication.title,
            publication.languages.join(", ")
        )))
    }
}

/// Titles, sections and keys are single lines: they end up in headers and tables of
/// contents.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

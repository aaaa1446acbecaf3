//! Building an edition from the items waiting, and what follows: the preview to the editors,
//! approval, queueing for the subscribers, cancellation.
//!
//! A story (one translation key) appears in every language's edition: in that language
//! when an editor wrote it, else in the fallback language. A language gets an edition of
//! its own when at least one item is written in it; its subscribers get the fallback
//! language's edition otherwise.

use serde_json::json;

use crate::config::PublicationConfig;
use crate::links::{self, Question, Role};
use crate::store::{
    Actor, Audited, Edition, EditionInserted, EditionMessage, EditionRender, Item, NewEdition,
    ReadyNotice,
};

use super::mime::{self, Masthead};
use super::render::{EditionView, ItemView, Rendered, SectionView, UNSUBSCRIBE_PLACEHOLDER};
use super::{PublicationError, Publications, Result};

/// One language of an edition waiting for approval, as its preview shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewCopy {
    pub language: String,
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Why an edition is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The schedule's slot at this instant (epoch ms).
    Scheduled(i64),
    /// Asked for now, outside the schedule.
    Special,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Built {
    /// Edition `id`, number `number`: waiting for approval, or queued for `queued`
    /// subscribers when the publication needs none.
    Edition {
        id: i64,
        number: i64,
        queued: Option<u64>,
    },
    /// No item was waiting: nothing built.
    Empty,
    /// The slot already had its edition.
    AlreadyBuilt,
}

/// Times an edition is built again when other editions took its number or items meanwhile.
const ATTEMPTS: usize = 3;

impl Publications {
    /// Builds the edition of `slot` from the items waiting, once per slot however many
    /// callers race, then sends it to the editors for approval or to the subscribers. A
    /// built edition is recorded in the audit trail as `actor`'s.
    pub async fn build(
        &self,
        actor: &Actor,
        publication: &PublicationConfig,
        slot: Slot,
    ) -> Result<Built> {
        let (at, kind) = match slot {
            Slot::Scheduled(at) => (at, "scheduled"),
            Slot::Special => (self.clock.now_ms(), "special"),
        };
        for _ in 0..ATTEMPTS {
            let items = self.store.items(Some(&publication.name), true).await?;
            if items.is_empty() {
                return self.nothing_to_build(publication, slot, at).await;
            }
            let number = self.store.next_edition_number(&publication.name).await?;
            let renders = self.render_all(publication, number, at, &items)?;
            let item_ids: Vec<i64> = items.iter().map(|i| i.id).collect();
            let inserted = self
                .store
                .insert_edition(&NewEdition {
                    publication: &publication.name,
                    scheduled_at: at,
                    kind,
                    number,
                    state: "awaiting_approval",
                    item_ids: &item_ids,
                    renders: &renders,
                })
                .await?;
            match inserted {
                EditionInserted::Inserted(id) => {
                    tracing::info!(publication = %publication.name, edition = id, number, items = items.len(), kind, "edition built");
                    let noun = if items.len() == 1 { "item" } else { "items" };
                    let detail = format!("No. {number}, {kind}, {} {noun}", items.len());
                    self.audit(actor, "edition.build", &publication.name, id, Some(detail))
                        .await?;
                    let queued = self.after_build(actor, publication, id).await?;
                    return Ok(Built::Edition { id, number, queued });
                }
                EditionInserted::SlotTaken => return Ok(Built::AlreadyBuilt),
                EditionInserted::Raced => continue,
            }
        }
        Err(PublicationError::Busy)
    }

    async fn nothing_to_build(
        &self,
        publication: &PublicationConfig,
        slot: Slot,
        at: i64,
    ) -> Result<Built> {
        let Slot::Scheduled(_) = slot else {
            return Ok(Built::Empty);
        };
        // The editors' notice is committed with the empty slot: told once, or not recorded.
        let extra = json!({ "scheduled": self.local_date(publication, at) });
        let notice = self.editors_notice(publication, "edition_empty", None, extra)?;
        if self
            .store
            .record_empty_slot(&publication.name, (at, "scheduled"), &notice)
            .await?
            .is_none()
        {
            return Ok(Built::AlreadyBuilt);
        }
        tracing::info!(publication = %publication.name, "no items: edition not built");
        Ok(Built::Empty)
    }

    async fn after_build(
        &self,
        actor: &Actor,
        publication: &PublicationConfig,
        id: i64,
    ) -> Result<Option<u64>> {
        match publication.approval {
            crate::config::Approval::Auto => Ok(Some(self.approve(actor, id).await?)),
            crate::config::Approval::Manual => {
                self.send_preview(publication, id).await?;
                Ok(None)
            }
        }
    }

    /// Every language's rendering of an edition made of `items`.
    fn render_all(
        &self,
        publication: &PublicationConfig,
        number: i64,
        date_ms: i64,
        items: &[Item],
    ) -> Result<Vec<EditionRender>> {
        let generic = self.generic_unsubscribe_link(publication);
        edition_languages(publication, items)
            .into_iter()
            .map(|language| {
                let rendered = self.render_one(publication, language, number, date_ms, items)?;
                Ok(EditionRender {
                    language: language.to_string(),
                    web_html: rendered.html.replace(UNSUBSCRIBE_PLACEHOLDER, &generic),
                    subject: rendered.subject,
                    html: rendered.html,
                    text: rendered.text,
                })
            })
            .collect()
    }

    fn render_one(
        &self,
        publication: &PublicationConfig,
        language: &str,
        number: i64,
        date_ms: i64,
        items: &[Item],
    ) -> Result<Rendered> {
        let base_url = &self.config.server.base_url;
        let view = EditionView {
            publication: publication.name.clone(),
            title: publication.title.clone(),
            lang: language.to_string(),
            number,
            date_ms,
            time_zone: publication.time_zone.clone(),
            sections: sections(publication, language, items),
            web_url: links::edition_url(base_url, &publication.name, number, language),
            unsubscribe_url: UNSUBSCRIBE_PLACEHOLDER.to_string(),
        };
        Ok(self.templates.render(&view)?)
    }

    /// The next edition as it would be built now, in `language`, for `tidings editions
    /// preview`: nothing is stored.
    pub async fn preview(
        &self,
        publication: &PublicationConfig,
        language: &str,
    ) -> Result<Rendered> {
        super::check_language(publication, language)?;
        let items = self.store.items(Some(&publication.name), true).await?;
        let number = self.store.next_edition_number(&publication.name).await?;
        let mut rendered =
            self.render_one(publication, language, number, self.clock.now_ms(), &items)?;
        let generic = self.generic_unsubscribe_link(publication);
        rendered.html = rendered.html.replace(UNSUBSCRIBE_PLACEHOLDER, &generic);
        rendered.text = rendered.text.replace(UNSUBSCRIBE_PLACEHOLDER, &generic);
        Ok(rendered)
    }

    /// The unsubscribe link of copies that belong to nobody (the web page, the preview):
    /// leaving by mail, confirmed by the address itself.
    fn generic_unsubscribe_link(&self, publication: &PublicationConfig) -> String {
        format!(
            "mailto:{}?subject=unsubscribe",
            links::address(&publication.name, Role::Leave, &self.config.server.domain)
        )
    }

    /// Every language of an edition waiting for approval as its subscribers will get it,
    /// but with the link to leave that belongs to nobody: what the editors' preview by mail
    /// and the console's preview show.
    pub async fn preview_copies(&self, id: i64) -> Result<Vec<PreviewCopy>> {
        let edition = self.waiting_edition(id).await?;
        let publication = self.publication(&edition.publication)?;
        let generic = self.generic_unsubscribe_link(publication);
        Ok(self
            .store
            .edition_renders(id)
            .await?
            .into_iter()
            .map(|r| PreviewCopy {
                text: r.text.replace(UNSUBSCRIBE_PLACEHOLDER, &generic),
                html: r.web_html,
                subject: r.subject,
                language: r.language,
            })
            .collect())
    }

    /// The editors get every language of the edition, and an address to approve it by
    /// replying.
    async fn send_preview(&self, publication: &PublicationConfig, id: i64) -> Result<()> {
        let edition = self.waiting_edition(id).await?;
        let copies = self.preview_copies(id).await?;
        let domain = &self.config.server.domain;
        let approve_address = self.config.links(&self.signer).answer_address(
            &publication.name,
            Question::Edition,
            id,
        );
        let list = self.list_of(publication)?;
        let instructions = self.notices.render(&crate::notices::Notice {
            name: "edition_preview",
            list,
            language: &publication.fallback_language,
            recipients: publication.editors.clone(),
            address: "",
            reply_to: Some(approve_address.clone()),
            automatic: crate::notices::Automatic::Generated,
            extra: json!({
                "edition_id": id,
                "number": edition.number,
                "languages": copies.iter().map(|c| c.language.as_str()).collect::<Vec<_>>().join(", "),
                "items": self.store.edition_items(id).await?.len(),
                "approve_address": approve_address,
                "cli_approve": format!("tidings editions approve {id}"),
                "cli_cancel": format!("tidings editions cancel {id}"),
            }),
        })?;
        let borrowed: Vec<(&str, &str, &str)> = copies
            .iter()
            .map(|c| (c.language.as_str(), c.text.as_str(), c.html.as_str()))
            .collect();
        let message = mime::preview_message(
            &self.masthead(publication, &format!("preview.{id}"), self.clock.now_ms()),
            (
                &links::address(&publication.name, Role::Owner, domain),
                &approve_address,
            ),
            (&instructions.subject, &instructions.text),
            &borrowed,
        );
        let preview = ReadyNotice {
            list: publication.name.clone(),
            recipients: publication.editors.clone(),
            message,
        };
        if self.store.notify_edition(id, &preview).await? {
            tracing::info!(publication = %publication.name, edition = id, "preview sent to the editors");
        }
        Ok(())
    }

    /// Finishes the editions built before `built_before` (epoch ms, the database's time)
    /// whose daemon stopped between building one and telling its editors (or, with
    /// `approval = "auto"`, queueing it): each is sent to its editors, or queued, once,
    /// whichever daemon gets there first. How many were finished.
    pub async fn finish_interrupted_builds(&self, built_before: i64) -> Result<usize> {
        let mut finished = 0;
        for edition in self.store.editions_never_notified(built_before).await? {
            let Ok(publication) = self.publication(&edition.publication) else {
                continue;
            };
            tracing::info!(publication = %publication.name, edition = edition.id, "finishing an edition whose editors were never told");
            match self
                .after_build(&Actor::scheduler(), publication, edition.id)
                .await
            {
                Ok(_) => finished += 1,
                // Approved, cancelled or sent by someone else meanwhile: nothing left to do.
                Err(PublicationError::NotAwaitingApproval { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(finished)
    }

    fn masthead<'a>(
        &'a self,
        publication: &'a PublicationConfig,
        key: &'a str,
        date_ms: i64,
    ) -> Masthead<'a> {
        Masthead {
            publication: &publication.name,
            title: &publication.title,
            domain: &self.config.server.domain,
            base_url: &self.config.server.base_url,
            message_key: key,
            date_ms,
        }
    }

    async fn waiting_edition(&self, id: i64) -> Result<Edition> {
        let edition = self
            .store
            .edition(id)
            .await?
            .ok_or(PublicationError::NoSuchEdition(id))?;
        if edition.state != "awaiting_approval" {
            return Err(PublicationError::NotAwaitingApproval {
                id,
                state: edition.state,
            });
        }
        Ok(edition)
    }

    /// Records `action` on edition `id` of `publication` as `actor`'s.
    async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        publication: &str,
        id: i64,
        detail: Option<String>,
    ) -> Result<()> {
        let event = Audited {
            action,
            publication: Some(publication),
            object: Some(format!("edition {id}")),
            detail,
            ..Audited::default()
        };
        Ok(self.store.record_audit(actor, &event).await?)
    }

    /// Sends an edition waiting for approval to every subscriber, each in their language,
    /// on `actor`'s word (recorded in the audit trail). Returns the number of deliveries
    /// queued.
    pub async fn approve(&self, actor: &Actor, id: i64) -> Result<u64> {
        let edition = self.waiting_edition(id).await?;
        let publication = self.publication(&edition.publication)?;
        let renders = self.store.edition_renders(id).await?;
        let now = self.clock.now_ms();
        let messages: Vec<EditionMessage> = renders
            .iter()
            .map(|render| {
                let key = format!(
                    "edition.{}.{}",
                    edition.number.unwrap_or(0),
                    render.language
                );
                EditionMessage {
                    language: render.language.clone(),
                    message: mime::edition_message(
                        &self.masthead(publication, &key, now),
                        &render.language,
                        &render.subject,
                        &render.text,
                        &render.html,
                    ),
                    for_languages: vec![render.language.clone()],
                    fallback: render.language == publication.fallback_language,
                }
            })
            .collect();
        let queued = self
            .store
            .queue_edition(id, &publication.name, &messages)
            .await?
            .ok_or_else(|| PublicationError::NotAwaitingApproval {
                id,
                state: "no longer waiting".into(),
            })?;
        if let Some(queued) = &self.queued {
            queued.notify_waiters();
        }
        tracing::info!(publication = %publication.name, edition = id, deliveries = queued, "edition queued for the subscribers");
        let detail = format!("{queued} deliveries");
        self.audit(
            actor,
            "edition.approve",
            &publication.name,
            id,
            Some(detail),
        )
        .await?;
        Ok(queued)
    }

    /// Drops an edition waiting for approval on `actor`'s word (recorded in the audit
    /// trail); its items wait for the next one.
    pub async fn cancel(&self, actor: &Actor, id: i64) -> Result<()> {
        let edition = self.waiting_edition(id).await?;
        if !self.store.cancel_edition(id).await? {
            return Err(PublicationError::NotAwaitingApproval {
                id,
                state: edition.state,
            });
        }
        tracing::info!(publication = %edition.publication, edition = id, "edition cancelled");
        self.audit(actor, "edition.cancel", &edition.publication, id, None)
            .await
    }

    /// The next `count` slots of the publication's schedule (epoch ms), earliest first;
    /// none when its schedule or time zone does not parse (validation prevents that).
    pub fn upcoming_slots(&self, publication: &PublicationConfig, count: usize) -> Vec<i64> {
        let (Ok(cron), Ok(tz)) = (publication.cron(), publication.tz()) else {
            return Vec::new();
        };
        super::schedule::upcoming(&cron, tz, self.clock.now_ms(), count)
            .iter()
            .map(|slot| slot.timestamp_millis())
            .collect()
    }

    /// A slot's local date and time, for the editors.
    pub fn local_date(&self, publication: &PublicationConfig, at_ms: i64) -> String {
        let utc = chrono::DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
        match publication.tz() {
            Ok(tz) => utc
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string(),
            Err(_) => utc.format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }
}

/// The languages that get an edition of their own: the fallback, and every language some
/// item is written in, in the configured order.
fn edition_languages<'a>(publication: &'a PublicationConfig, items: &[Item]) -> Vec<&'a str> {
    publication
        .languages
        .iter()
        .filter(|l| **l == publication.fallback_language || items.iter().any(|i| &i.language == *l))
        .map(String::as_str)
        .collect()
}

/// The sections of the edition in `language`: configured sections in their order, then
/// others as items first name them; each story once, in `language` when written in it.
pub(super) fn sections(
    publication: &PublicationConfig,
    language: &str,
    items: &[Item],
) -> Vec<SectionView> {
    let mut stories: Vec<&Item> = Vec::new();
    for item in items {
        let chosen = stories
            .iter()
            .position(|s| s.translation_key == item.translation_key);
        match chosen {
            None => stories.push(item),
            Some(index)
                if rank(publication, language, item)
                    < rank(publication, language, stories[index]) =>
            {
                stories[index] = item;
            }
            Some(_) => {}
        }
    }
    let mut names: Vec<&str> = publication.sections.iter().map(String::as_str).collect();
    for story in &stories {
        if !names.contains(&story.section.as_str()) {
            names.push(&story.section);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let items: Vec<ItemView> = stories
                .iter()
                .filter(|s| s.section == name)
                .map(|s| ItemView {
                    title: s.title.clone(),
                    body_markdown: s.body.clone(),
                    translation_key: s.translation_key.clone(),
                })
                .collect();
            (!items.is_empty()).then(|| SectionView {
                title: name.to_string(),
                items,
            })
        })
        .collect()
}

/// Which version of a story an edition prefers: its own language, then the fallback, then
/// whichever came first.
fn rank(publication: &PublicationConfig, language: &str, item: &Item) -> u8 {
    if item.language == language {
        0
    } else if item.language == publication.fallback_language {
        1
    } else {
        2
    }
}

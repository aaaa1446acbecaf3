//! Newsletters: each publication is built from templates and editors' items on a cron
//! schedule and sent to its own subscribers, each in their language.

use serde::{Deserialize, Serialize};

use super::{ListConfig, PostingPolicy, SubscriptionPolicy, Visibility};

/// Whether a built edition waits for an editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// The edition waits until an editor approves it.
    Manual,
    /// The edition goes out as soon as it is built.
    Auto,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicationConfig {
    /// Local part of the publication's addresses (`NAME-join@`, `NAME-submit@`...).
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Languages editions are written in, e.g. `["en", "fr", "es"]`.
    pub languages: Vec<String>,
    /// The edition a subscriber gets when none exists in their language.
    pub fallback_language: String,
    /// Cron expression with a seconds field, as the `cron` crate reads it.
    pub schedule: String,
    /// IANA time zone the schedule is read in, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    pub approval: Approval,
    pub editors: Vec<String>,
    /// Section names in the order editions show them.
    #[serde(default)]
    pub sections: Vec<String>,
    /// Directory under `templates/publications/`; empty means `name`.
    #[serde(default)]
    pub templates: String,
}

impl PublicationConfig {
    pub fn templates_dir_name(&self) -> &str {
        if self.templates.is_empty() {
            &self.name
        } else {
            &self.templates
        }
    }
}

impl PublicationConfig {
    /// The parsed schedule; validation has checked that it parses.
    pub fn cron(&self) -> Result<cron::Schedule, cron::error::Error> {
        self.schedule.parse()
    }

    /// The parsed time zone; validation has checked that it parses.
    pub fn tz(&self) -> Result<chrono_tz::Tz, chrono_tz::ParseError> {
        self.time_zone.parse()
    }

    /// The list subscribers join: confirmed self-service subscription, notices in the
    /// fallback language, the editors as owners. Nobody may post to it: editions are the only
    /// mail its subscribers get.
    pub fn subscription_list(&self) -> ListConfig {
        ListConfig {
            name: self.name.clone(),
            display_name: self.title.clone(),
            description: self.description.clone(),
            language: self.fallback_language.clone(),
            posting: PostingPolicy::Announce,
            posters: Vec::new(),
            subscription: SubscriptionPolicy::Confirm,
            visibility: Visibility::Public,
            owners: self.editors.clone(),
            moderators: Vec::new(),
            subject_prefix: None,
            footer: None,
            rewrite_from: None,
            accept_these: Default::default(),
            hold_these: Default::default(),
            reject_these: Default::default(),
            discard_these: Default::default(),
            max_message_size: 0,
            allowed_types: Vec::new(),
            max_part_size: 0,
            attachment_action: Default::default(),
            // A publication's subscribers get its editions, never digests.
            digest_daily: String::new(),
            digest_weekly: String::new(),
            time_zone: self.time_zone.clone(),
        }
    }

    pub fn is_editor(&self, address: &str) -> bool {
        self.editors.iter().any(|e| e.eq_ignore_ascii_case(address))
    }
}

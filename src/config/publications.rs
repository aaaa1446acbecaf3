//! Newsletters: each publication is built from templates and editors' items on a cron
//! schedule and sent to its own subscribers, each in their language.

use serde::{Deserialize, Serialize};

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

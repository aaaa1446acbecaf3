//! Newsletters: each publication is built from templates and editors' items on a cron
//! schedule and sent to its own subscribers, each in their language.

use serde::{Deserialize, Serialize};

use crate::notices::templates::LANGUAGES;

use super::validate::{
    check_addresses, check_list_name, check_single_line, name_syntax_problem, Report,
};
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
        }
    }

    pub fn is_editor(&self, address: &str) -> bool {
        self.editors.iter().any(|e| e.eq_ignore_ascii_case(address))
    }
}

const SCHEDULE_HELP: &str = "write six fields, seconds first, as the cron crate reads them: \
    \"sec min hour day-of-month month day-of-week\", e.g. \"0 0 9 1 1/2 *\" for 09:00 on the 1st \
    of every second month";

pub(super) fn check(report: &mut Report, publications: &[PublicationConfig], lists: &[ListConfig]) {
    for (index, publication) in publications.iter().enumerate() {
        let at = if publication.name.is_empty() {
            format!("publications[{index}]")
        } else {
            format!("publications[{index}] ({})", publication.name)
        };
        check_list_name(report, &at, &publication.name, lists);
        check_name_unique(report, &at, index, publications, lists);
        check_single_line(report, &format!("{at}.title"), &publication.title);
        if publication.title.trim().is_empty() {
            report.add(
                format!("{at}.title"),
                "is empty",
                "give the publication the title readers know, e.g. \"The Bulletin\"",
            );
        }
        check_languages(report, &at, publication);
        check_timing(report, &at, publication);
        check_addresses(report, &at, "editors", &publication.editors);
        if publication.editors.is_empty() {
            report.add(
                format!("{at}.editors"),
                "a publication needs at least one editor to submit items and approve editions",
                "add editors = [\"editor@example.org\"]",
            );
        }
        check_sections(report, &at, &publication.sections);
        if !publication.templates.is_empty()
            && name_syntax_problem(&publication.templates).is_some()
        {
            report.add(
                format!("{at}.templates"),
                format!("{:?} is not a directory name", publication.templates),
                "name a directory under templates/publications/, e.g. \"bulletin\", or leave it out",
            );
        }
    }
}

/// A publication's name is also a list address: it may not clash with a list or another
/// publication.
fn check_name_unique(
    report: &mut Report,
    at: &str,
    index: usize,
    publications: &[PublicationConfig],
    lists: &[ListConfig],
) {
    let name = &publications[index].name;
    if lists.iter().any(|l| l.name.eq_ignore_ascii_case(name)) {
        report.add(
            format!("{at}.name"),
            format!("{name:?} is already the name of a list"),
            "give the publication a name of its own: lists and publications share addresses",
        );
    }
    if let Some(first) = publications[..index]
        .iter()
        .position(|p| p.name.eq_ignore_ascii_case(name))
    {
        report.add(
            format!("{at}.name"),
            format!("is already used by publications[{first}]"),
            "give every publication its own name",
        );
    }
}

fn check_languages(report: &mut Report, at: &str, publication: &PublicationConfig) {
    if publication.languages.is_empty() {
        report.add(
            format!("{at}.languages"),
            "is empty",
            "list the languages editions are written in, e.g. languages = [\"en\", \"fr\"]",
        );
    }
    for (index, language) in publication.languages.iter().enumerate() {
        if !LANGUAGES.contains(&language.as_str()) {
            report.add(
                format!("{at}.languages[{index}]"),
                format!("{language:?} is not a supported language"),
                format!("use one of {}", LANGUAGES.join(", ")),
            );
        } else if publication.languages[..index].contains(language) {
            report.add(
                format!("{at}.languages[{index}]"),
                format!("{language:?} is listed twice"),
                "list each language once",
            );
        }
    }
    if !publication
        .languages
        .contains(&publication.fallback_language)
    {
        report.add(
            format!("{at}.fallback_language"),
            format!(
                "{:?} is not one of the publication's languages",
                publication.fallback_language
            ),
            format!(
                "set fallback_language to one of {}",
                publication.languages.join(", ")
            ),
        );
    }
}

fn check_timing(report: &mut Report, at: &str, publication: &PublicationConfig) {
    if let Err(error) = publication.cron() {
        report.add(
            format!("{at}.schedule"),
            format!(
                "{:?} is not a cron expression ({error})",
                publication.schedule
            ),
            SCHEDULE_HELP,
        );
    }
    if publication.tz().is_err() {
        report.add(
            format!("{at}.time_zone"),
            format!("{:?} is not an IANA time zone name", publication.time_zone),
            "write a name such as \"Europe/Amsterdam\", \"Africa/Nairobi\" or \"UTC\"",
        );
    }
}

fn check_sections(report: &mut Report, at: &str, sections: &[String]) {
    for (index, section) in sections.iter().enumerate() {
        let key = format!("{at}.sections[{index}]");
        check_single_line(report, &key, section);
        if section.trim().is_empty() {
            report.add(
                key,
                "is empty",
                "name the section, e.g. \"News\", or remove it",
            );
        } else if sections[..index].contains(section) {
            report.add(
                key,
                format!("{section:?} is listed twice"),
                "list each section once",
            );
        }
    }
}

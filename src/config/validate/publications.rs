//! Checks of each publication: its name, languages, schedule, sections and editors.

use super::{check_addresses, check_list_name, check_single_line, name_syntax_problem, Report};
use crate::config::{ListConfig, PublicationConfig, LANGUAGES};

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

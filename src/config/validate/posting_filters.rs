//! Checks of each list's posting filters: sender patterns, size limits, attachment types.

use super::{list_key, Report};
use crate::config::filters::type_problem;
use crate::config::{Config, ListConfig};

const SENDER_FIX: &str = "write an address (\"someone@example.org\"), a whole domain \
                          (\"@example.org\") or a regular expression starting with ^ in single \
                          quotes, which keep backslashes as written ('^.*@(.+\\.)?example\\.org$')";

pub(super) fn check(report: &mut Report, config: &Config) {
    for (index, list) in config.lists.iter().enumerate() {
        let at = list_key(index, &list.name);
        check_senders(report, &at, list);
        check_size(report, &at, list, config.server.max_message_size as u64);
        check_types(report, &at, &list.allowed_types);
    }
}

fn check_senders(report: &mut Report, at: &str, list: &ListConfig) {
    for (field, _, patterns) in list.sender_filters() {
        for (index, _, problem) in patterns.problems() {
            report.add(format!("{at}.{field}[{index}]"), problem, SENDER_FIX);
        }
    }
}

/// A list limit above the server's would never be reached: the server refuses such a
/// message before any list sees it, which is likely not what the operator meant.
fn check_size(report: &mut Report, at: &str, list: &ListConfig, server_limit: u64) {
    if list.max_message_size > server_limit {
        report.add(
            format!("{at}.max_message_size"),
            format!(
                "is {} bytes, more than server.max_message_size ({server_limit}), which \
                 refuses larger messages before any list sees them",
                list.max_message_size
            ),
            format!("lower it to at most {server_limit}, or write 0 to keep the server's limit"),
        );
    }
}

fn check_types(report: &mut Report, at: &str, types: &[String]) {
    for (index, entry) in types.iter().enumerate() {
        if let Some(problem) = type_problem(entry) {
            report.add(
                format!("{at}.allowed_types[{index}]"),
                problem,
                "write type/subtype, e.g. \"application/pdf\", or a family such as \"image/*\"; \
                 leave allowed_types empty to take every type",
            );
        }
    }
}

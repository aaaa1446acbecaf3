//! A list's roster in the web console: its members a page at a time with a search, one
//! member's page with the forms that change their membership, adding one member, importing
//! pasted CSV and exporting the roster as CSV.
//!
//! - Who: the list's owners and `[web] admins`, for every list. Mailman 3 lets moderators
//!   see the members of a list that is not confidential; here a roster is owners' business
//!   on every list, so that who may see addresses does not hang on a setting that may
//!   change, and a moderator's duty (postings, requests) needs none.
//! - Every change goes through [`roster`], as `tidings members` does, and is logged at INFO
//!   with the person's role, never an address.
//! - Pages are keyset pages in address order, 50 a page ([`Store::roster_page`]): the
//!   first page and a search never load the roster. The import is a textarea of pasted CSV
//!   (a plain urlencoded form, no upload), bounded by the web listener's 2 MB body limit.
//! - The export is built from pages of the same query and guards every cell that a
//!   spreadsheet would read as a formula.
//!
//! [`Store::roster_page`]: crate::store::Store::roster_page

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::{Config, LANGUAGES};
use crate::links::{
    console_url, roster_export_url, roster_import_url, roster_member_url, roster_url, ConsolePage,
    RosterAt,
};
use crate::store::{MemberAdded, RosterPage, RosterRow, StoreError};
use crate::subscriptions::roster::{self, LineProblem, RosterError};
use crate::subscriptions::Subscriptions;

use super::access::{not_found, on_list, role, Duty, OnList};
use super::{endonym, form_field, render, see_other};
use crate::web::page::guarded;
use crate::web::unsubscribe::internal;

/// Members on one page of the roster.
const PAGE_SIZE: i64 = 50;
/// Members read per query while exporting.
const EXPORT_CHUNK: i64 = 1000;
/// The longest search taken; a longer one finds nobody anyway.
const SEARCH_CHARS: usize = 200;

/// Where the roster page of a request starts, and what it searches, from its query.
struct RosterQuery {
    search: String,
    after: Option<String>,
    before: Option<String>,
    last: bool,
    /// What was just done, from the redirect after a change: one of a few known words.
    done: String,
}

impl RosterQuery {
    fn read(query: Option<&str>) -> RosterQuery {
        let query = query.unwrap_or_default();
        let field = |name| form_field(query, name).filter(|v| !v.is_empty());
        let search: String = field("q")
            .unwrap_or_default()
            .trim()
            .chars()
            .take(SEARCH_CHARS)
            .collect();
        RosterQuery {
            search,
            after: field("after"),
            before: field("before"),
            last: field("last").is_some(),
            done: field("done").unwrap_or_default(),
        }
    }

    fn page(&self) -> RosterPage<'_> {
        match (&self.after, &self.before, self.last) {
            (Some(after), _, _) => RosterPage::After(after),
            (None, Some(before), _) => RosterPage::Before(before),
            (None, None, true) => RosterPage::Last,
            (None, None, false) => RosterPage::First,
        }
    }
}

/// A form's problem, as the page names it.
fn problem_code(problem: &LineProblem) -> &'static str {
    match problem {
        LineProblem::Address(_) => "address",
        LineProblem::Language(_) => "language",
        LineProblem::Name => "name",
    }
}

/// The languages of the forms' menus, `selected` marked.
fn language_choices(selected: &str) -> Vec<Value> {
    LANGUAGES
        .iter()
        .map(|l| json!({ "code": l, "name": endonym(l), "selected": *l == selected }))
        .collect()
}

/// A row as the roster and a member's page show it.
fn member_json(base_url: &str, list: &str, row: &RosterRow) -> Value {
    json!({
        "address": row.address,
        "name": row.display_name,
        "language": endonym(&row.language),
        "disabled": row.status == "disabled",
        "status": row.status,
        "score": row.bounce_score,
        "url": roster_member_url(base_url, list, row.member_id),
    })
}

/// The roster page, with what was just done (`done`) or a form's problem said above it,
/// and the add form filled in again after a problem.
struct Shown<'q> {
    query: &'q RosterQuery,
    status: StatusCode,
    problem: &'static str,
    typed: Value,
}

async fn roster_page(subscriptions: &Subscriptions, m: &OnList<'_>, shown: Shown<'_>) -> Response {
    let store = subscriptions.store();
    let list = &m.list.name;
    let query = shown.query;
    let page = query.page();
    let mut rows = match store
        .roster_page(list, &query.search, page, PAGE_SIZE + 1)
        .await
    {
        Ok(rows) => rows,
        Err(error) => return internal(&error),
    };
    // One more than a page was read, beyond the page's far end, to learn whether there is
    // more that way.
    let more = rows.len() as i64 > PAGE_SIZE;
    let backwards = matches!(page, RosterPage::Before(_) | RosterPage::Last);
    if more && backwards {
        rows.remove(0);
    } else {
        rows.truncate(PAGE_SIZE as usize);
    }
    let (has_previous, has_next) = match page {
        RosterPage::First => (false, more),
        RosterPage::After(_) => (true, more),
        RosterPage::Before(_) => (more, true),
        RosterPage::Last => (more, false),
    };
    let counts = match store.roster_status_counts(list).await {
        Ok(counts) => counts,
        Err(error) => return internal(&error),
    };
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let disabled = counts
        .iter()
        .find(|(status, _)| status == "disabled")
        .map_or(0, |(_, n)| *n);
    let matching = match query.search.is_empty() {
        true => total,
        false => match store.roster_count(list, &query.search).await {
            Ok(n) => n,
            Err(error) => return internal(&error),
        },
    };
    let base_url = &subscriptions.config().server.base_url;
    let search = &query.search;
    let url = |at| roster_url(base_url, list, search, at);
    let previous = match (has_previous, rows.first()) {
        (true, Some(row)) => url(RosterAt::Before(&row.address)),
        _ => String::new(),
    };
    let next = match (has_next, rows.last()) {
        (true, Some(row)) => url(RosterAt::After(&row.address)),
        _ => String::new(),
    };
    let members: Vec<Value> = rows
        .iter()
        .map(|r| member_json(base_url, list, r))
        .collect();
    let mut typed = shown.typed;
    let language = typed["language"]
        .as_str()
        .unwrap_or(&m.list.language)
        .to_owned();
    typed["languages"] = json!(language_choices(&language));
    render(
        subscriptions,
        shown.status,
        ("console_roster", &m.person.language),
        &m.person.session.address,
        json!({
            "list_name": list,
            "list_title": m.list.display_name,
            "members": members,
            "total": total,
            "disabled": disabled,
            "search": search,
            "matching": matching,
            "previous_url": previous,
            "next_url": next,
            "first_url": if has_previous { url(RosterAt::First) } else { String::new() },
            "last_url": if has_next { url(RosterAt::Last) } else { String::new() },
            "done": query.done,
            "problem": shown.problem,
            "typed": typed,
            "action_url": roster_url(base_url, list, "", RosterAt::First),
            "import_url": roster_import_url(base_url, list),
            "export_url": roster_export_url(base_url, list),
            "home_url": console_url(base_url, ConsolePage::Home),
            "csrf": m.person.session.csrf_secret,
        }),
        &[],
    )
}

/// GET of a list's roster: a page of its members, a search, the forms to add and import.
pub async fn members(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let query = RosterQuery::read(query.as_deref());
    let shown = Shown {
        query: &query,
        status: StatusCode::OK,
        problem: "",
        typed: json!({ "address": "", "name": "" }),
    };
    roster_page(&subscriptions, &m, shown).await
}

/// The roster page a change sends the browser back to, saying what was done.
fn back_to_roster(config: &Config, list: &str, done: &str) -> Response {
    let url = roster_url(&config.server.base_url, list, "", RosterAt::First);
    see_other(&format!("{url}?done={done}"), &[])
}

/// Logs a change of the roster made in the console: the list, what, and the person's role.
fn log_change(config: &Config, m: &OnList<'_>, action: &str, member: Option<i64>) {
    tracing::info!(
        list = %m.list.name,
        action,
        member,
        by = role(config, m.list, &m.person.session.address),
        "roster changed in the web console"
    );
    tracing::debug!(by = %m.person.session.address, "who changed the roster");
}

/// POST of the add form: subscribes one address, vouched for by the owner.
pub async fn add(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, true).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    if let Some(response) = m.person.form_refused(&subscriptions, &headers, &body) {
        return response;
    }
    let field = |name| form_field(&body, name).unwrap_or_default();
    let (address, name, language) = (field("address"), field("name"), field("language"));
    let line = match roster::member_line(&address, &name, &language) {
        Ok(line) => line,
        Err(problem) => {
            let query = RosterQuery::read(None);
            let shown = Shown {
                query: &query,
                status: StatusCode::UNPROCESSABLE_ENTITY,
                problem: problem_code(&problem),
                typed: json!({ "address": address, "name": name, "language": language }),
            };
            return roster_page(&subscriptions, &m, shown).await;
        }
    };
    let added = match roster::add(subscriptions.store(), &m.person.actor(), m.list, &line).await {
        Ok(added) => added,
        Err(error) => return internal(&error),
    };
    let config = subscriptions.config();
    log_change(config, &m, "add", None);
    let done = match added {
        MemberAdded::Added => "added",
        MemberAdded::AlreadyPresent => "present",
    };
    back_to_roster(config, &m.list.name, done)
}

/// POST of the import form: subscribes every member of the pasted CSV, and reports what
/// became of each line.
pub async fn import(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, true).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    if let Some(response) = m.person.form_refused(&subscriptions, &headers, &body) {
        return response;
    }
    let text = form_field(&body, "csv").unwrap_or_default();
    let report = match roster::import(subscriptions.store(), &m.person.actor(), m.list, &text).await
    {
        Ok(report) => report,
        Err(error) => return internal(&error),
    };
    let config = subscriptions.config();
    log_change(config, &m, "import", None);
    let invalid: Vec<Value> = report
        .invalid
        .iter()
        .map(|(line, problem)| json!({ "line": line, "problem": problem }))
        .collect();
    let base_url = &config.server.base_url;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_import", &m.person.language),
        &m.person.session.address,
        json!({
            "list_title": m.list.display_name,
            "added": report.added,
            "present": report.present,
            "skipped": invalid.len(),
            "invalid": invalid,
            "roster_url": roster_url(base_url, &m.list.name, "", RosterAt::First),
        }),
        &[],
    )
}

/// A CSV cell that no spreadsheet runs as a formula: one starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return, which some strip before looking) gets a leading `'`.
fn spreadsheet_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Csv(#[from] csv::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The roster as CSV, `address,name,language,status,bounce_score`: the first three columns
/// are what an import reads, so an export imports again as it is.
async fn roster_csv(subscriptions: &Subscriptions, list: &str) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = ["address", "name", "language", "status", "bounce_score"];
    writer.write_record(header)?;
    let store = subscriptions.store();
    let mut after: Option<String> = None;
    loop {
        let page = match &after {
            Some(address) => RosterPage::After(address),
            None => RosterPage::First,
        };
        let rows = store.roster_page(list, "", page, EXPORT_CHUNK).await?;
        for row in &rows {
            let score = row.bounce_score.to_string();
            let cells = [
                row.address.as_str(),
                &row.display_name,
                &row.language,
                &row.status,
                &score,
            ];
            writer.write_record(cells.map(spreadsheet_safe))?;
        }
        match rows.last() {
            Some(last) if rows.len() as i64 == EXPORT_CHUNK => after = Some(last.address.clone()),
            _ => break,
        }
    }
    writer
        .into_inner()
        .map_err(|error| error.into_error().into())
}

/// GET of the roster as a CSV download.
pub async fn export(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path(list_name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let bytes = match roster_csv(&subscriptions, &m.list.name).await {
        Ok(bytes) => bytes,
        Err(error) => return internal(&error),
    };
    log_change(subscriptions.config(), &m, "export", None);
    let mut response = guarded(
        StatusCode::OK,
        bytes,
        "text/csv; charset=utf-8",
        "default-src 'none'; sandbox",
    );
    // List names are letters, digits and `-._` (validated in the configuration).
    let disposition = format!("attachment; filename=\"{}-members.csv\"", m.list.name);
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The member `id` of the URL, when they are on the list.
async fn member_of(
    subscriptions: &Subscriptions,
    m: &OnList<'_>,
    id: &str,
) -> Result<RosterRow, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_found(subscriptions, &m.person.language));
    };
    match subscriptions.store().roster_member(&m.list.name, id).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(not_found(subscriptions, &m.person.language)),
        Err(error) => Err(internal(&error)),
    }
}

/// GET of one member: their membership, and the forms that change it.
pub async fn member(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, false).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    let row = match member_of(&subscriptions, &m, &id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    let done = RosterQuery::read(query.as_deref()).done;
    let base_url = &subscriptions.config().server.base_url;
    let name = &m.list.name;
    render(
        &subscriptions,
        StatusCode::OK,
        ("console_member", &m.person.language),
        &m.person.session.address,
        json!({
            "list_title": m.list.display_name,
            "member": member_json(base_url, name, &row),
            "languages": language_choices(&row.language),
            "done": done,
            "roster_url": roster_url(base_url, name, "", RosterAt::First),
            "csrf": m.person.session.csrf_secret,
        }),
        &[],
    )
}

/// POST of a member's forms: `action` is `language` (with `language`), `reenable` or
/// `remove`.
pub async fn change(
    State(subscriptions): State<Arc<Subscriptions>>,
    Path((list_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let m = match on_list(&subscriptions, &headers, &list_name, Duty::Own, true).await {
        Ok(m) => m,
        Err(response) => return response,
    };
    if let Some(response) = m.person.form_refused(&subscriptions, &headers, &body) {
        return response;
    }
    let row = match member_of(&subscriptions, &m, &id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    let store = subscriptions.store();
    let config = subscriptions.config();
    let actor = m.person.actor();
    let action = form_field(&body, "action").unwrap_or_default();
    let done = match action.as_str() {
        "language" => {
            let language = form_field(&body, "language").unwrap_or_default();
            match roster::set_language(store, &actor, m.list, (&row.address, &language)).await {
                Ok(_) => "language",
                Err(RosterError::Invalid(_)) => {
                    return not_found(&subscriptions, &m.person.language)
                }
                Err(RosterError::Store(error)) => return internal(&error),
            }
        }
        "reenable" => match roster::reenable(store, &actor, m.list, row.member_id).await {
            Ok(_) => "reenabled",
            Err(error) => return internal(&error),
        },
        "remove" => match roster::remove(store, &actor, m.list, &row.address).await {
            Ok(_) => {
                log_change(config, &m, "remove", Some(row.member_id));
                return back_to_roster(config, &m.list.name, "removed");
            }
            Err(error) => return internal(&error),
        },
        _ => return not_found(&subscriptions, &m.person.language),
    };
    log_change(config, &m, &action, Some(row.member_id));
    let url = roster_member_url(&config.server.base_url, &m.list.name, row.member_id);
    see_other(&format!("{url}?done={done}"), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_spreadsheets_would_run_are_quoted() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("+1"), "'+1");
        assert_eq!(spreadsheet_safe("-2"), "'-2");
        assert_eq!(spreadsheet_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(spreadsheet_safe("ana@ngo.example"), "ana@ngo.example");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn a_roster_query_reads_its_page_and_search() {
        let q = RosterQuery::read(Some("q=Ana%40&after=b%40x.org&done=added"));
        assert_eq!(q.search, "Ana@");
        assert_eq!(q.page(), RosterPage::After("b@x.org"));
        assert_eq!(q.done, "added");
        assert_eq!(RosterQuery::read(Some("last=1")).page(), RosterPage::Last);
        assert_eq!(RosterQuery::read(None).page(), RosterPage::First);
    }
}

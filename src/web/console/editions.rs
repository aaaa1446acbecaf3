//! The web console's pages for a publication's editors (and `[web] admins`): the items
//! waiting for the next edition, the schedule, a special edition built on request, and the
//! editions waiting for approval with their preview and decision.
//!
//! - Every route names its publication, and each checks on the server that the signed-in
//!   person edits that very publication; an item's or edition's id must be of that
//!   publication too. Anything else gets the one "not found" page.
//! - Every action goes through the same [`Publications`] function as `tidings items` and
//!   `tidings editions` (and, for decisions, the editors' replies by mail), so that each
//!   edition is decided once whichever way comes first: a second decision gets 409.
//! - An edition's HTML is shown only in a sandboxed frame whose own route forbids every
//!   fetch and script, its text escaped.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::config::{Config, PublicationConfig};
use crate::links::{
    build_edition_url, console_url, decide_edition_url, edition_console_url, edition_html_url,
    edition_url, item_url, new_item_url, publication_console_url, ConsolePage,
};
use crate::publications::editions::{Built, Slot};
use crate::publications::{PublicationError, Publications};
use crate::store::Edition;
use crate::subscriptions::Subscriptions;

use super::access::{not_found, signed_in, SignedIn};
use super::held::{received, FRAME_POLICY, POSTING_POLICY};
use super::{endonym, form_field, render, see_other};
use crate::web::page::guarded;
use crate::web::unsubscribe::internal;

/// Slots of the schedule shown ahead.
const UPCOMING_SLOTS: usize = 3;
/// Editions shown in the recent ones.
const RECENT_EDITIONS: i64 = 10;

/// What the editors' pages work with: the console's service and the publications'.
#[derive(Clone)]
pub struct Editing {
    pub subscriptions: Arc<Subscriptions>,
    pub publications: Arc<Publications>,
}

/// The signed-in person and the publication of the URL, which they edit.
pub(super) struct Editor<'a> {
    pub person: SignedIn,
    pub publication: &'a PublicationConfig,
}

impl Editor<'_> {
    /// What this person is to the publication, for the log: never their address at INFO.
    pub fn role(&self) -> &'static str {
        if self.publication.is_editor(&self.person.session.address) {
            "editor"
        } else {
            "admin"
        }
    }
}

/// The publication named `name` (spelled as configured) when `address` may edit it.
fn edited<'c>(config: &'c Config, address: &str, name: &str) -> Option<&'c PublicationConfig> {
    let publication = config.publication(name).filter(|p| p.name == name)?;
    (config.is_admin(address) || publication.is_editor(address)).then_some(publication)
}

/// The person and publication of a request to one of `name`'s pages (a GET).
pub(super) async fn editor<'a>(
    editing: &'a Editing,
    headers: &HeaderMap,
    name: &str,
) -> Result<Editor<'a>, Response> {
    editor_of(editing, headers, name, false).await
}

/// The person and publication of a form posted to one of `name`'s routes, when it carries
/// the session's CSRF token.
pub(super) async fn posting_editor<'a>(
    editing: &'a Editing,
    headers: &HeaderMap,
    name: &str,
    body: &str,
) -> Result<Editor<'a>, Response> {
    let editor = editor_of(editing, headers, name, true).await?;
    match editor
        .person
        .form_refused(&editing.subscriptions, headers, body)
    {
        Some(refusal) => Err(refusal),
        None => Ok(editor),
    }
}

async fn editor_of<'a>(
    editing: &'a Editing,
    headers: &HeaderMap,
    name: &str,
    form: bool,
) -> Result<Editor<'a>, Response> {
    let person = signed_in(&editing.subscriptions, headers, form).await?;
    let config = editing.publications.config();
    match edited(config, &person.session.address, name) {
        Some(publication) => Ok(Editor {
            person,
            publication,
        }),
        None => Err(not_found(&editing.subscriptions, &person.language)),
    }
}

/// A page of the editors' console, for `editor`.
pub(super) fn editor_page(
    editing: &Editing,
    editor: &Editor,
    status: StatusCode,
    name: &str,
    extra: Value,
) -> Response {
    render(
        &editing.subscriptions,
        status,
        (name, &editor.person.language),
        &editor.person.session.address,
        extra,
        &[],
    )
}

/// The page telling how an action on the publication ended (or why it could not be done).
pub(super) fn outcome_page(
    editing: &Editing,
    editor: &Editor,
    status: StatusCode,
    outcome: &str,
    extra: Value,
) -> Response {
    let base_url = &editing.publications.config().server.base_url;
    let mut data = json!({
        "outcome": outcome,
        "publication_title": editor.publication.title,
        "publication_url": publication_console_url(base_url, &editor.publication.name),
        "queued": 0,
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    editor_page(editing, editor, status, "console_editions_outcome", data)
}

/// The answer for an error of the publications service.
pub(super) fn failure(editing: &Editing, editor: &Editor, error: &PublicationError) -> Response {
    match error {
        PublicationError::NotAwaitingApproval { .. } => {
            outcome_page(editing, editor, StatusCode::CONFLICT, "already", json!({}))
        }
        PublicationError::ItemNotWaiting(_) => outcome_page(
            editing,
            editor,
            StatusCode::CONFLICT,
            "item_taken",
            json!({}),
        ),
        PublicationError::NoSuchEdition(_) | PublicationError::NoSuchItem(_) => {
            not_found(&editing.subscriptions, &editor.person.language)
        }
        other => internal(other),
    }
}

/// A slot as the editors are shown it: in the publication's time zone, and in UTC.
fn slot_view(publications: &Publications, publication: &PublicationConfig, at_ms: i64) -> Value {
    json!({
        "local": publications.local_date(publication, at_ms),
        "utc": received(at_ms),
    })
}

fn edition_view(base_url: &str, publication: &PublicationConfig, edition: &Edition) -> Value {
    let name = &publication.name;
    // A sent edition has its public page; one waiting, its preview here.
    let url = match (edition.state.as_str(), edition.number) {
        ("sent", Some(number)) => {
            edition_url(base_url, name, number, &publication.fallback_language)
        }
        ("awaiting_approval", _) => edition_console_url(base_url, name, edition.id),
        _ => String::new(),
    };
    json!({
        "id": edition.id,
        "number": edition.number.map(|n| n.to_string()).unwrap_or_default(),
        "special": edition.kind == "special",
        "state": edition.state,
        "built": received(edition.created_at),
        "sent": edition.sent_at.map(received).unwrap_or_default(),
        "url": url,
    })
}

/// GET of a publication's page: the items waiting per language, the schedule's next
/// slots, the editions waiting for approval and the recent ones.
pub async fn publication(
    State(editing): State<Editing>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let e = match editor(&editing, &headers, &name).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let publications = &editing.publications;
    let store = publications.store();
    let p = e.publication;
    let base_url = &publications.config().server.base_url;
    let loaded = async {
        let waiting = store.items(Some(&p.name), true).await?;
        let awaiting = store
            .editions_in_state(&p.name, "awaiting_approval")
            .await?;
        let recent = store.recent_editions(&p.name, RECENT_EDITIONS).await?;
        Ok::<_, crate::store::StoreError>((waiting, awaiting, recent))
    };
    let (waiting, awaiting, recent) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return internal(&error),
    };
    let languages: Vec<Value> = p
        .languages
        .iter()
        .map(|language| {
            let items: Vec<Value> = waiting
                .iter()
                .filter(|item| &item.language == language)
                .map(|item| {
                    json!({
                        "title": item.title,
                        "author": item.author,
                        "section": item.section,
                        "created": received(item.created_at),
                        "url": item_url(base_url, &p.name, item.id),
                    })
                })
                .collect();
            json!({ "code": language, "name": endonym(language), "items": items })
        })
        .collect();
    let slots: Vec<Value> = publications
        .upcoming_slots(p, UPCOMING_SLOTS)
        .into_iter()
        .map(|at| slot_view(publications, p, at))
        .collect();
    let editions = |list: &[Edition]| -> Vec<Value> {
        list.iter()
            .map(|ed| edition_view(base_url, p, ed))
            .collect()
    };
    editor_page(
        &editing,
        &e,
        StatusCode::OK,
        "console_publication",
        json!({
            "publication_name": p.name,
            "publication_title": p.title,
            "waiting": !waiting.is_empty(),
            "languages": languages,
            "schedule": p.schedule,
            "time_zone": p.time_zone,
            "manual": p.approval == crate::config::Approval::Manual,
            "slots": slots,
            "awaiting": editions(&awaiting),
            "recent": editions(&recent),
            "new_item_url": new_item_url(base_url, &p.name),
            "build_url": build_edition_url(base_url, &p.name),
            "home_url": console_url(base_url, ConsolePage::Home),
        }),
    )
}

/// GET of the special edition's confirmation: what it would carry, and the form that
/// builds it.
pub async fn confirm_build(
    State(editing): State<Editing>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let e = match editor(&editing, &headers, &name).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let p = e.publication;
    let waiting = match editing
        .publications
        .store()
        .items(Some(&p.name), true)
        .await
    {
        Ok(waiting) => waiting,
        Err(error) => return internal(&error),
    };
    let base_url = &editing.publications.config().server.base_url;
    let titles: Vec<Value> = waiting
        .iter()
        .map(|item| json!({ "title": item.title, "language": endonym(&item.language) }))
        .collect();
    editor_page(
        &editing,
        &e,
        StatusCode::OK,
        "console_edition_build",
        json!({
            "publication_title": p.title,
            "items": titles,
            "manual": p.approval == crate::config::Approval::Manual,
            "action_url": build_edition_url(base_url, &p.name),
            "publication_url": publication_console_url(base_url, &p.name),
            "csrf": e.person.session.csrf_secret,
        }),
    )
}

/// POST of the confirmation: a special edition now, as `tidings editions build` makes it.
pub async fn build(
    State(editing): State<Editing>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let e = match posting_editor(&editing, &headers, &name, &body).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let publications = &editing.publications;
    let base_url = &publications.config().server.base_url;
    let built = match publications
        .build(&e.person.actor(), e.publication, Slot::Special)
        .await
    {
        Ok(built) => built,
        Err(error) => return failure(&editing, &e, &error),
    };
    tracing::info!(publication = %e.publication.name, by = e.role(), ?built, "special edition asked for in the web console");
    tracing::debug!(by = %e.person.session.address, "who asked for the special edition");
    match built {
        Built::Edition {
            id, queued: None, ..
        } => see_other(&edition_console_url(base_url, &e.publication.name, id), &[]),
        Built::Edition {
            queued: Some(queued),
            ..
        } => outcome_page(
            &editing,
            &e,
            StatusCode::OK,
            "built_sent",
            json!({ "queued": queued }),
        ),
        Built::Empty | Built::AlreadyBuilt => {
            outcome_page(&editing, &e, StatusCode::CONFLICT, "empty", json!({}))
        }
    }
}

/// Edition `id` of the URL when it is of the editor's publication: `Ok(None)` otherwise.
async fn edition_of(
    editing: &Editing,
    editor: &Editor<'_>,
    id: &str,
) -> Result<Option<Edition>, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    match editing.publications.store().edition(id).await {
        Ok(found) => Ok(found.filter(|ed| ed.publication == editor.publication.name)),
        Err(error) => Err(internal(&error)),
    }
}

/// The edition of the URL when it waits for approval; the page to answer with otherwise:
/// not found for an edition of another publication (or none), 409 for one decided.
async fn awaiting_edition(
    editing: &Editing,
    editor: &Editor<'_>,
    id: &str,
) -> Result<Edition, Response> {
    match edition_of(editing, editor, id).await? {
        Some(edition) if edition.state == "awaiting_approval" => Ok(edition),
        Some(_) => Err(outcome_page(
            editing,
            editor,
            StatusCode::CONFLICT,
            "already",
            json!({}),
        )),
        None => Err(not_found(&editing.subscriptions, &editor.person.language)),
    }
}

/// GET of an edition waiting for approval: each language as its subscribers will get it
/// (the HTML framed, the text escaped), and the forms that decide it.
pub async fn edition(
    State(editing): State<Editing>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let e = match editor(&editing, &headers, &name).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let edition = match awaiting_edition(&editing, &e, &id).await {
        Ok(edition) => edition,
        Err(response) => return response,
    };
    let copies = match editing.publications.preview_copies(edition.id).await {
        Ok(copies) => copies,
        Err(error) => return failure(&editing, &e, &error),
    };
    let base_url = &editing.publications.config().server.base_url;
    let p = e.publication;
    let languages: Vec<Value> = copies
        .iter()
        .map(|copy| {
            json!({
                "code": copy.language,
                "name": endonym(&copy.language),
                "subject": copy.subject,
                "text": copy.text,
                "html_url": edition_html_url(base_url, &p.name, edition.id, &copy.language),
            })
        })
        .collect();
    let mut response = editor_page(
        &editing,
        &e,
        StatusCode::OK,
        "console_edition",
        json!({
            "publication_title": p.title,
            "edition": edition_view(base_url, p, &edition),
            "languages": languages,
            "decide_url": decide_edition_url(base_url, &p.name, edition.id),
            "publication_url": publication_console_url(base_url, &p.name),
            "csrf": e.person.session.csrf_secret,
        }),
    );
    if response.status() == StatusCode::OK {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POSTING_POLICY),
        );
    }
    response
}

/// GET of an edition's HTML part in one language, for the sandboxed frame of its page.
pub async fn edition_html(
    State(editing): State<Editing>,
    Path((name, id, lang)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let e = match editor(&editing, &headers, &name).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let edition = match edition_of(&editing, &e, &id).await {
        Ok(Some(edition)) if edition.state == "awaiting_approval" => edition,
        Ok(_) => return not_found(&editing.subscriptions, &e.person.language),
        Err(response) => return response,
    };
    let copies = match editing.publications.preview_copies(edition.id).await {
        Ok(copies) => copies,
        Err(error) => return failure(&editing, &e, &error),
    };
    match copies.into_iter().find(|copy| copy.language == lang) {
        Some(copy) => guarded(
            StatusCode::OK,
            copy.html.into_bytes(),
            "text/html; charset=utf-8",
            FRAME_POLICY,
        ),
        None => not_found(&editing.subscriptions, &e.person.language),
    }
}

/// POST of a decision: approve (the subscribers get it now) or cancel (its items wait for
/// the next edition), once, as `tidings editions approve|cancel` and editors' replies do.
pub async fn decide(
    State(editing): State<Editing>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let e = match posting_editor(&editing, &headers, &name, &body).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let edition = match awaiting_edition(&editing, &e, &id).await {
        Ok(edition) => edition,
        Err(response) => return response,
    };
    let publications = &editing.publications;
    let decided = match form_field(&body, "decision").as_deref() {
        Some("approve") => publications
            .approve(&e.person.actor(), edition.id)
            .await
            .map(Some),
        Some("cancel") => publications
            .cancel(&e.person.actor(), edition.id)
            .await
            .map(|()| None),
        _ => return not_found(&editing.subscriptions, &e.person.language),
    };
    let (outcome, queued) = match decided {
        Ok(Some(queued)) => ("approved", queued),
        Ok(None) => ("cancelled", 0),
        Err(error) => return failure(&editing, &e, &error),
    };
    tracing::info!(
        publication = %e.publication.name,
        edition = edition.id,
        decision = outcome,
        by = e.role(),
        "edition decided in the web console"
    );
    tracing::debug!(edition = edition.id, by = %e.person.session.address, "who decided");
    outcome_page(
        &editing,
        &e,
        StatusCode::OK,
        outcome,
        json!({ "queued": queued }),
    )
}

/// Each publication the person edits, for the home page.
pub fn edited_publications(config: &Config, address: &str) -> Vec<Value> {
    let base_url = &config.server.base_url;
    config
        .publications
        .iter()
        .filter(|p| config.is_admin(address) || p.is_editor(address))
        .map(|p| {
            json!({
                "name": p.name,
                "title": p.title,
                "url": publication_console_url(base_url, &p.name),
            })
        })
        .collect()
}

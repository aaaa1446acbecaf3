//! The web console's forms for a publication's items: a new one, changes to one waiting for
//! the next edition, its withdrawal, each through the same [`Publications`] function as
//! `tidings items add|edit|remove`, which refuses once an edition carries the item.
//!
//! Each form has a "Preview" button that posts the same form back and gets it again with
//! the body rendered below it, by the very renderer of the editions
//! ([`markdown::to_html`]): raw HTML escaped, only safe links and `https:` images kept. The
//! rendering is shown in a sandboxed frame (`srcdoc`), under the page's own policy.
//!
//! [`Publications`]: crate::publications::Publications

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::links::{item_url, new_item_url, publication_console_url, withdraw_item_url};
use crate::publications::markdown::{self, Direction};
use crate::publications::{ItemInput, PublicationError};
use crate::store::{Item, ItemChanges};

use super::access::not_found;
use super::editions::{
    editor, editor_page, failure, outcome_page, posting_editor, Editing, Editor,
};
use super::held::POSTING_POLICY;
use super::{endonym, form_field, see_other};
use crate::web::unsubscribe::internal;

/// An item's fields as its form sends them.
#[derive(Debug, Clone, Default)]
struct Fields {
    title: String,
    language: String,
    section: String,
    key: String,
    body: String,
}

impl Fields {
    fn from_form(body: &str) -> Fields {
        let field = |name| form_field(body, name).unwrap_or_default();
        Fields {
            title: field("title"),
            language: field("language"),
            section: field("section"),
            key: field("key"),
            // Browsers send CRLF line ends; the items of the CLI and of mail have LF.
            body: field("body").replace("\r\n", "\n"),
        }
    }

    fn from_item(item: &Item) -> Fields {
        Fields {
            title: item.title.clone(),
            language: item.language.clone(),
            section: item.section.clone(),
            key: item.translation_key.clone(),
            body: item.body.clone(),
        }
    }

    fn input(self, author: &str) -> ItemInput {
        let optional = |text: String| Some(text).filter(|t| !t.trim().is_empty());
        ItemInput {
            title: self.title,
            section: optional(self.section),
            language: optional(self.language),
            key: optional(self.key),
            body: self.body,
            author: author.to_owned(),
        }
    }

    /// Every field as the form gives it; an empty key keeps the item's.
    fn changes(self) -> ItemChanges {
        ItemChanges {
            title: Some(self.title),
            section: Some(self.section),
            body: Some(self.body),
            language: Some(self.language),
            translation_key: Some(self.key).filter(|k| !k.trim().is_empty()),
        }
    }
}

/// What a form is for: a new item, or item `id` waiting.
#[derive(Debug, Clone, Copy)]
enum Form {
    New,
    Edit(i64),
}

/// The item form, filled with `fields`; the rendered body when `preview`, the library's
/// words when `problem`.
fn form_page(
    editing: &Editing,
    e: &Editor,
    (form, fields): (Form, &Fields),
    preview: bool,
    problem: &str,
) -> Response {
    let base_url = &editing.publications.config().server.base_url;
    let p = e.publication;
    let (action_url, withdraw_url) = match form {
        Form::New => (new_item_url(base_url, &p.name), String::new()),
        Form::Edit(id) => (
            item_url(base_url, &p.name, id),
            withdraw_item_url(base_url, &p.name, id),
        ),
    };
    // Only one of the publication's: the value ends up in the preview's markup.
    let chosen = p
        .languages
        .iter()
        .find(|l| **l == fields.language)
        .unwrap_or(&p.fallback_language);
    let languages: Vec<Value> = p
        .languages
        .iter()
        .map(|l| json!({ "code": l, "name": endonym(l), "selected": l == chosen }))
        .collect();
    let preview_html = match preview {
        true => preview_document(&fields.body, chosen),
        false => String::new(),
    };
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut response = editor_page(
        editing,
        e,
        status,
        "console_item",
        json!({
            "editing": matches!(form, Form::Edit(_)),
            "publication_title": p.title,
            "title": fields.title,
            "section": fields.section,
            "key": fields.key,
            "body": fields.body,
            "languages": languages,
            "preview": preview,
            "preview_html": preview_html,
            "problem": problem,
            "action_url": action_url,
            "withdraw_url": withdraw_url,
            "publication_url": publication_console_url(base_url, &p.name),
            "csrf": e.person.session.csrf_secret,
        }),
    );
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POSTING_POLICY),
        );
    }
    response
}

/// The body rendered as editions render it, as a document of its own for the preview's
/// sandboxed frame (the page's template escapes it into the frame's `srcdoc`, so that no
/// template ever outputs unescaped HTML).
fn preview_document(body: &str, language: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{language}\" dir=\"{}\"><head><meta charset=\"utf-8\"></head>\
         <body style=\"margin:12px;font-family:system-ui,Arial,sans-serif;color:#1f2937;\">{}</body></html>",
        crate::templating::direction(language),
        markdown::to_html(body, Direction::of(language))
    )
}

/// The item `id` of the URL when it is of the editor's publication: `Ok(None)` otherwise.
async fn item_of(editing: &Editing, e: &Editor<'_>, id: &str) -> Result<Option<Item>, Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    match editing.publications.store().item(id).await {
        Ok(found) => Ok(found.filter(|item| item.publication == e.publication.name)),
        Err(error) => Err(internal(&error)),
    }
}

/// The item of the URL while it waits for an edition; the page to answer otherwise.
async fn waiting_item(editing: &Editing, e: &Editor<'_>, id: &str) -> Result<Item, Response> {
    match item_of(editing, e, id).await? {
        Some(item) if item.state == "accepted" && item.edition_id.is_none() => Ok(item),
        Some(_) => Err(outcome_page(
            editing,
            e,
            StatusCode::CONFLICT,
            "item_taken",
            json!({}),
        )),
        None => Err(not_found(&editing.subscriptions, &e.person.language)),
    }
}

/// Whether a form asks for its preview rather than to be saved.
fn wants_preview(body: &str) -> bool {
    form_field(body, "action").as_deref() == Some("preview")
}

/// The page after a saved form: back to the publication.
fn saved(editing: &Editing, e: &Editor) -> Response {
    let base_url = &editing.publications.config().server.base_url;
    see_other(&publication_console_url(base_url, &e.publication.name), &[])
}

/// The answer to an item the library refused: the form again with its reason, or the page
/// for the error.
fn refused_item(
    editing: &Editing,
    e: &Editor,
    form: (Form, &Fields),
    error: &PublicationError,
) -> Response {
    match error {
        PublicationError::InvalidItem(problem) => form_page(editing, e, form, false, problem),
        other => failure(editing, e, other),
    }
}

/// GET of the form for a new item.
pub async fn new_item(
    State(editing): State<Editing>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match editor(&editing, &headers, &name).await {
        Ok(e) => form_page(&editing, &e, (Form::New, &Fields::default()), false, ""),
        Err(response) => response,
    }
}

/// POST of the new item's form: its preview, or the item stored for the next edition.
pub async fn create_item(
    State(editing): State<Editing>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let e = match posting_editor(&editing, &headers, &name, &body).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let fields = Fields::from_form(&body);
    if wants_preview(&body) {
        return form_page(&editing, &e, (Form::New, &fields), true, "");
    }
    let input = fields.clone().input(&e.person.session.address);
    match editing.publications.add_item(e.publication, input).await {
        Ok(id) => {
            tracing::info!(publication = %e.publication.name, item = id, by = e.role(), "item added in the web console");
            saved(&editing, &e)
        }
        Err(error) => refused_item(&editing, &e, (Form::New, &fields), &error),
    }
}

/// GET of a waiting item's form.
pub async fn item(
    State(editing): State<Editing>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let e = match editor(&editing, &headers, &name).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    match waiting_item(&editing, &e, &id).await {
        Ok(item) => {
            let fields = Fields::from_item(&item);
            form_page(&editing, &e, (Form::Edit(item.id), &fields), false, "")
        }
        Err(response) => response,
    }
}

/// POST of a waiting item's form: its preview, or the changes saved.
pub async fn change_item(
    State(editing): State<Editing>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let e = match posting_editor(&editing, &headers, &name, &body).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let item = match waiting_item(&editing, &e, &id).await {
        Ok(item) => item,
        Err(response) => return response,
    };
    let fields = Fields::from_form(&body);
    let form = (Form::Edit(item.id), &fields);
    if wants_preview(&body) {
        return form_page(&editing, &e, form, true, "");
    }
    match editing
        .publications
        .edit_item(item.id, fields.clone().changes())
        .await
    {
        Ok(_) => {
            tracing::info!(publication = %e.publication.name, item = item.id, by = e.role(), "item changed in the web console");
            saved(&editing, &e)
        }
        Err(error) => refused_item(&editing, &e, form, &error),
    }
}

/// POST of a waiting item's withdrawal.
pub async fn withdraw_item(
    State(editing): State<Editing>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let e = match posting_editor(&editing, &headers, &name, &body).await {
        Ok(e) => e,
        Err(response) => return response,
    };
    let item = match item_of(&editing, &e, &id).await {
        Ok(Some(item)) => item,
        Ok(None) => return not_found(&editing.subscriptions, &e.person.language),
        Err(response) => return response,
    };
    match editing.publications.withdraw_item(item.id).await {
        Ok(()) => {
            tracing::info!(publication = %e.publication.name, item = item.id, by = e.role(), "item withdrawn in the web console");
            saved(&editing, &e)
        }
        Err(error) => failure(&editing, &e, &error),
    }
}

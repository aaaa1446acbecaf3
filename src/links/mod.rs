//! Every address and link tidings makes, and the reading of them back ([`Links::route`]). Nothing
//! else formats them, so the scheme below is the whole of it:
//!
//! | address                      | what it is                                              |
//! |------------------------------|---------------------------------------------------------|
//! | `LIST@domain`                | a posting                                               |
//! | `LIST-request@domain`        | email commands (`subscribe`, `help`…)                   |
//! | `LIST-join@`, `LIST-leave@`  | subscribe and leave in one message                      |
//! | `LIST-leave+TOKEN@domain`    | the List-Unsubscribe mailto; the token names the member |
//! | `LIST-owner@domain`          | the list's owners                                       |
//! | `LIST-bounces@domain`        | bounces of mail sent to several recipients at once      |
//! | `LIST-bounces+TOKEN@domain`  | VERP: the token names one delivery                      |
//! | `LIST-confirm+TOKEN@domain`  | a reply that answers a request, a held posting, an edition |
//! | `PUBLICATION-submit@domain`  | an editor's item for the next edition                   |
//! | `postmaster@`, `abuse@`      | forwarded to the postmaster (RFC 5321 §4.5.1, RFC 2142) |
//!
//! and under `base_url`: `/unsubscribe/LIST/TOKEN`, `/confirm/LIST/TOKEN`,
//! `/reenable/LIST/TOKEN`, and a publication's `/p/NAME/`, `/p/NAME/feed.xml` and
//! `/p/NAME/N/LANG`; the web console's `/console`, `/console/sign-in`,
//! `/console/sign-in/TOKEN` (the emailed link), `/console/sign-out`,
//! `/console/sign-out-everywhere`, a member's `/console/account` (with its forms'
//! `/console/account/leave`, `…/join`, `…/language`), the audit trail `/console/audit` and
//! `/console/lists/LIST/audit`, a list's held postings under `/console/lists/LIST/held`
//! (see [`held`]), its owners' pages under `/console/lists/LIST/members`, `/requests`,
//! `/bounces` and `/queue` (see [`roster`]), and a publication's pages for its editors under
//! `/console/publications/NAME` (see [`editing`]), and the lists' archives under
//! `/archive/LIST/` (see [`list_archive`]). Tokens are signed ([`crate::tokens`]) for one list (or
//! the console) and one use.
//!
//! This module knows the scheme and nothing of the configuration: [`Links::route`] asks a
//! [`Directory`] which names are lists, so that configuration can check list names against
//! the reserved ones here without the two depending on each other.

mod route;
#[cfg(test)]
mod tests;

use crate::tokens::{Purpose, Signer};

pub use route::{Destination, Directory, Unroutable};

/// The addresses of a list, each a suffix of its name (as in Mailman), and `-submit` of
/// publications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Post,
    Request,
    Join,
    Leave,
    Owner,
    Bounces,
    Confirm,
    Submit,
}

impl Role {
    /// The roles whose address adds a suffix to the list's name, in the order routing tries
    /// them.
    pub const SUFFIXED: [Role; 7] = [
        Role::Request,
        Role::Join,
        Role::Leave,
        Role::Owner,
        Role::Bounces,
        Role::Confirm,
        Role::Submit,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            Role::Post => "",
            Role::Request => "-request",
            Role::Join => "-join",
            Role::Leave => "-leave",
            Role::Owner => "-owner",
            Role::Bounces => "-bounces",
            Role::Confirm => "-confirm",
            Role::Submit => "-submit",
        }
    }
}

/// Local parts every mail domain must answer (RFC 5321 §4.5.1, RFC 2142), routed to the
/// postmaster.
pub const ROLE_ADDRESSES: [&str; 2] = ["postmaster", "abuse"];

/// Names no list may take: the role addresses, which must reach a person, and the sender
/// name of bounces.
pub const RESERVED_NAMES: [&str; 3] = ["postmaster", "abuse", "mailer-daemon"];

/// `NAME@domain`, or `NAME-suffix@domain` for `role`. Names and domains are validated where
/// they are configured; what cannot stand in an address is dropped all the same, so that
/// nothing built here can break out of the `<mailto:…>` or header it is placed in.
pub fn address(name: &str, role: Role, domain: &str) -> String {
    format!("{}{}@{}", clean(name), role.suffix(), clean(domain))
}

/// Every address of list `name` (a publication when `is_publication`) that mail may be sent
/// to, each without its `+TOKEN`: what a front MTA's table of valid recipients must hold.
/// Postfix, with `recipient_delimiter = +`, looks `LIST-bounces+TOKEN@` up as
/// `LIST-bounces@` when the whole address is not listed, so one line stands for every token;
/// tidings still checks each token at its own RCPT. `LIST-confirm@` is listed for its
/// `+TOKEN` forms only: tidings refuses it bare.
pub fn recipients(name: &str, is_publication: bool, domain: &str) -> Vec<String> {
    [Role::Post]
        .into_iter()
        .chain(Role::SUFFIXED)
        .filter(|role| match role {
            // A publication takes no postings, and only a publication takes items.
            Role::Post => !is_publication,
            Role::Submit => is_publication,
            _ => true,
        })
        .map(|role| address(name, role, domain))
        .collect()
}

/// `postmaster@domain` and `abuse@domain`, which every mail domain must answer.
pub fn role_recipients(domain: &str) -> Vec<String> {
    ROLE_ADDRESSES
        .iter()
        .map(|local| format!("{local}@{}", clean(domain)))
        .collect()
}

/// The RFC 2919 list identifier, `NAME.domain`.
pub fn list_id(name: &str, domain: &str) -> String {
    format!("{}.{}", clean(name), clean(domain))
}

fn clean(part: &str) -> String {
    part.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '<' | '>' | '@'))
        .collect()
}

/// The web pages a signed link opens, each answering one kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The one-click unsubscribe of List-Unsubscribe (RFC 8058); the token names a member.
    Unsubscribe,
    /// The confirmation of a request; the token names the request.
    Confirm,
    /// Deliveries turned back on for a member disabled for bouncing.
    Reenable,
}

impl Page {
    /// The route the web listener serves the page under (axum's syntax).
    pub fn route(self) -> &'static str {
        match self {
            Page::Unsubscribe => "/unsubscribe/{list}/{token}",
            Page::Confirm => "/confirm/{list}/{token}",
            Page::Reenable => "/reenable/{list}/{token}",
        }
    }

    fn segment(self) -> &'static str {
        match self {
            Page::Unsubscribe => "unsubscribe",
            Page::Confirm => "confirm",
            Page::Reenable => "reenable",
        }
    }

    fn purpose(self) -> Purpose {
        match self {
            Page::Unsubscribe => Purpose::Unsubscribe,
            Page::Confirm => Purpose::Confirm,
            Page::Reenable => Purpose::Reenable,
        }
    }
}

/// The page's link carrying `token`, as the page itself posts its form back to.
pub fn page_url(base_url: &str, page: Page, list: &str, token: &str) -> String {
    format!("{}/{}/{list}/{token}", base(base_url), page.segment())
}

/// Routes of a publication's pages on the web listener (axum's syntax).
pub mod published {
    /// `/p/NAME` without the slash, redirected to the archive.
    pub const BARE: &str = "/p/{name}";
    pub const ARCHIVE: &str = "/p/{name}/";
    pub const FEED: &str = "/p/{name}/feed.xml";
    pub const EDITION: &str = "/p/{name}/{number}/{lang}";
}

/// The page listing a publication's sent editions.
pub fn archive_url(base_url: &str, publication: &str) -> String {
    format!("{}/p/{publication}/", base(base_url))
}

/// The publication's Atom feed.
pub fn feed_url(base_url: &str, publication: &str) -> String {
    format!("{}/p/{publication}/feed.xml", base(base_url))
}

/// An edition's web page in one language.
pub fn edition_url(base_url: &str, publication: &str, number: i64, lang: &str) -> String {
    format!("{}/p/{publication}/{number}/{lang}", base(base_url))
}

/// `base_url` ready for a path: configuration refuses a trailing slash, and one left by a
/// hand-made configuration (a test's, a tool's) must not double it.
fn base(base_url: &str) -> &str {
    base_url.trim().trim_end_matches('/')
}

/// The web console's pages that name no list, so that none tells a visitor which lists
/// exist; a list's own pages are in [`held`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsolePage {
    /// What a signed-in person sees: their roles and their own subscriptions.
    Home,
    /// The form asking for an address, and where it posts.
    SignIn,
    /// Ends this browser's session.
    SignOut,
    /// Ends every session of the signed-in address.
    SignOutEverywhere,
    /// A member's own subscriptions: leave, join, language, digests. Named in welcome notices and
    /// postings' footers; it carries no token, the console's sign-in guards it.
    Account,
    /// Where the account page's forms post: leaving a list, …
    AccountLeave,
    /// … asking to join one, …
    AccountJoin,
    /// … changing the member's language, …
    AccountLanguage,
    /// … and choosing between every posting and a digest, per list.
    AccountDigest,
    /// Every list's and publication's audit trail, for admins.
    Audit,
}

impl ConsolePage {
    /// The route the web listener serves the page under, which is also its path.
    pub fn route(self) -> &'static str {
        match self {
            ConsolePage::Home => "/console",
            ConsolePage::SignIn => "/console/sign-in",
            ConsolePage::SignOut => "/console/sign-out",
            ConsolePage::SignOutEverywhere => "/console/sign-out-everywhere",
            ConsolePage::Account => "/console/account",
            ConsolePage::AccountLeave => "/console/account/leave",
            ConsolePage::AccountJoin => "/console/account/join",
            ConsolePage::AccountLanguage => "/console/account/language",
            ConsolePage::AccountDigest => "/console/account/digest",
            ConsolePage::Audit => "/console/audit",
        }
    }
}

/// Route of the emailed sign-in link (axum's syntax); its path is [`sign_in_link_url`]'s.
pub const SIGN_IN_LINK: &str = "/console/sign-in/{token}";

/// What sign-in tokens are signed for, in place of a list's name: no list's name can be
/// spelled with a space, so no list's token is worth anything here, nor the other way.
const CONSOLE_CONTEXT: &str = "web console";

/// A console page's address.
pub fn console_url(base_url: &str, page: ConsolePage) -> String {
    format!("{}{}", base(base_url), page.route())
}

/// The emailed sign-in link carrying `token`, as its page posts its form back to.
pub fn sign_in_link_url(base_url: &str, token: &str) -> String {
    format!("{}/console/sign-in/{token}", base(base_url))
}

/// Routes of the console's held postings, one list's each (axum's syntax). They name a
/// list, so each answers only someone who moderates it, and alike for a list that does not
/// exist.
pub mod held {
    /// The queue, newest first; `?page=N` for the later pages.
    pub const QUEUE: &str = "/console/lists/{list}/held";
    /// One posting, with the forms that decide it.
    pub const POSTING: &str = "/console/lists/{list}/held/{id}";
    /// The posting's HTML part alone, for a sandboxed frame.
    pub const HTML: &str = "/console/lists/{list}/held/{id}/html";
    /// The posting's attachment number `n` (from 0), as a download.
    pub const ATTACHMENT: &str = "/console/lists/{list}/held/{id}/attachments/{n}";
    /// Where the decision forms post.
    pub const DECIDE: &str = "/console/lists/{list}/held/{id}/decide";
}

/// Page `page` (from 1) of a list's queue of held postings.
pub fn held_queue_url(base_url: &str, list: &str, page: u32) -> String {
    match page {
        0 | 1 => format!("{}/console/lists/{list}/held", base(base_url)),
        page => format!("{}/console/lists/{list}/held?page={page}", base(base_url)),
    }
}

/// A held posting's page.
pub fn held_posting_url(base_url: &str, list: &str, id: i64) -> String {
    format!("{}/console/lists/{list}/held/{id}", base(base_url))
}

/// A held posting's HTML part, framed by its page.
pub fn held_html_url(base_url: &str, list: &str, id: i64) -> String {
    format!("{}/console/lists/{list}/held/{id}/html", base(base_url))
}

/// A held posting's attachment number `n`, counting from 0.
pub fn held_attachment_url(base_url: &str, list: &str, id: i64, n: usize) -> String {
    format!(
        "{}/console/lists/{list}/held/{id}/attachments/{n}",
        base(base_url)
    )
}

/// Where a held posting's decision forms post.
pub fn held_decide_url(base_url: &str, list: &str, id: i64) -> String {
    format!("{}/console/lists/{list}/held/{id}/decide", base(base_url))
}

/// Routes of the console's pages for a publication's editors (axum's syntax). They name a
/// publication, so each answers only its editors and `[web] admins`, and alike for a
/// publication that does not exist.
pub mod editing {
    /// The items waiting, the schedule, the editions waiting for approval and the recent ones.
    pub const PUBLICATION: &str = "/console/publications/{publication}";
    /// The form for a new item (GET), where it posts to preview or save it (POST).
    pub const NEW_ITEM: &str = "/console/publications/{publication}/items/new";
    /// A waiting item's form (GET), where it posts to preview or save changes (POST).
    pub const ITEM: &str = "/console/publications/{publication}/items/{id}";
    /// Where the form withdrawing a waiting item posts.
    pub const WITHDRAW_ITEM: &str = "/console/publications/{publication}/items/{id}/withdraw";
    /// The confirmation of a special edition (GET), and where it posts to build it.
    pub const BUILD: &str = "/console/publications/{publication}/build";
    /// An edition waiting for approval: every language, and the forms that decide it.
    pub const EDITION: &str = "/console/publications/{publication}/editions/{id}";
    /// An edition's HTML part in one language, for a sandboxed frame.
    pub const EDITION_HTML: &str = "/console/publications/{publication}/editions/{id}/html/{lang}";
    /// Where the decision forms of an edition post.
    pub const DECIDE_EDITION: &str = "/console/publications/{publication}/editions/{id}/decide";
}

/// A publication's page for its editors.
pub fn publication_console_url(base_url: &str, publication: &str) -> String {
    format!("{}/console/publications/{publication}", base(base_url))
}

/// The form for a new item of a publication.
pub fn new_item_url(base_url: &str, publication: &str) -> String {
    format!(
        "{}/items/new",
        publication_console_url(base_url, publication)
    )
}

/// A waiting item's form.
pub fn item_url(base_url: &str, publication: &str, id: i64) -> String {
    format!(
        "{}/items/{id}",
        publication_console_url(base_url, publication)
    )
}

/// Where a waiting item's withdrawal posts.
pub fn withdraw_item_url(base_url: &str, publication: &str, id: i64) -> String {
    format!("{}/withdraw", item_url(base_url, publication, id))
}

/// The confirmation of a special edition, and where it posts.
pub fn build_edition_url(base_url: &str, publication: &str) -> String {
    format!("{}/build", publication_console_url(base_url, publication))
}

/// An edition's page for its editors.
pub fn edition_console_url(base_url: &str, publication: &str, id: i64) -> String {
    format!(
        "{}/editions/{id}",
        publication_console_url(base_url, publication)
    )
}

/// An edition's HTML part in `lang`, framed by its page.
pub fn edition_html_url(base_url: &str, publication: &str, id: i64, lang: &str) -> String {
    format!(
        "{}/html/{lang}",
        edition_console_url(base_url, publication, id)
    )
}

/// Where an edition's decision forms post.
pub fn decide_edition_url(base_url: &str, publication: &str, id: i64) -> String {
    format!("{}/decide", edition_console_url(base_url, publication, id))
}

/// Route of a list's audit trail (axum's syntax), for its owners and admins; `?page=N` for
/// the later pages, as for the whole trail at [`ConsolePage::Audit`].
pub const LIST_AUDIT: &str = "/console/lists/{list}/audit";

/// Page `page` (from 1) of a list's audit trail, or of the whole trail (`list` `None`).
pub fn audit_url(base_url: &str, list: Option<&str>, page: u32) -> String {
    let path = match list {
        Some(list) => format!("{}/console/lists/{list}/audit", base(base_url)),
        None => console_url(base_url, ConsolePage::Audit),
    };
    match page {
        0 | 1 => path,
        page => format!("{path}?page={page}"),
    }
}

/// Routes of the console's pages for a list's owners (axum's syntax): its roster, one
/// member, the subscription requests waiting for approval, its bounces and its delivery
/// queue. Like [`held`], each answers only those who may see it, and alike for a list that
/// does not exist.
pub mod roster {
    /// The roster, a page at a time: `?q=` searches, `?after=`/`?before=` an address pages
    /// on, `?last=1` shows the last page; add-member form posts here.
    pub const MEMBERS: &str = "/console/lists/{list}/members";
    /// Where the import form posts.
    pub const IMPORT: &str = "/console/lists/{list}/members/import";
    /// The roster as CSV.
    pub const EXPORT: &str = "/console/lists/{list}/members/export";
    /// One member, with the forms that change their membership (and where they post).
    pub const MEMBER: &str = "/console/lists/{list}/members/{id}";
    /// Requests waiting for an owner's approval; `?page=N` for the later pages.
    pub const REQUESTS: &str = "/console/lists/{list}/requests";
    /// Where a request's decision form posts.
    pub const REQUEST_DECIDE: &str = "/console/lists/{list}/requests/{id}/decide";
    /// Bounce scores, members disabled for bouncing, failures by destination domain.
    pub const BOUNCES: &str = "/console/lists/{list}/bounces";
    /// Deliveries by state and the oldest due.
    pub const QUEUE: &str = "/console/lists/{list}/queue";
}

/// Where a page of a list's roster starts, in a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterAt<'a> {
    First,
    After(&'a str),
    Before(&'a str),
    Last,
}

/// A page of `list`'s roster, matching `search` (empty for all), from `at`.
pub fn roster_url(base_url: &str, list: &str, search: &str, at: RosterAt) -> String {
    let mut query = Vec::new();
    if !search.is_empty() {
        query.push(format!("q={}", query_escape(search)));
    }
    match at {
        RosterAt::First => {}
        RosterAt::After(address) => query.push(format!("after={}", query_escape(address))),
        RosterAt::Before(address) => query.push(format!("before={}", query_escape(address))),
        RosterAt::Last => query.push("last=1".into()),
    }
    let path = format!("{}/console/lists/{list}/members", base(base_url));
    match query.is_empty() {
        true => path,
        false => format!("{path}?{}", query.join("&")),
    }
}

/// Where `list`'s import form posts.
pub fn roster_import_url(base_url: &str, list: &str) -> String {
    format!("{}/console/lists/{list}/members/import", base(base_url))
}

/// `list`'s roster as CSV.
pub fn roster_export_url(base_url: &str, list: &str) -> String {
    format!("{}/console/lists/{list}/members/export", base(base_url))
}

/// Member `id`'s page on `list`, where its forms post too.
pub fn roster_member_url(base_url: &str, list: &str, id: i64) -> String {
    format!("{}/console/lists/{list}/members/{id}", base(base_url))
}

/// Page `page` (from 1) of `list`'s requests waiting for approval.
pub fn requests_url(base_url: &str, list: &str, page: u32) -> String {
    match page {
        0 | 1 => format!("{}/console/lists/{list}/requests", base(base_url)),
        page => format!(
            "{}/console/lists/{list}/requests?page={page}",
            base(base_url)
        ),
    }
}

/// Where request `id`'s decision form posts.
pub fn request_decide_url(base_url: &str, list: &str, id: i64) -> String {
    format!(
        "{}/console/lists/{list}/requests/{id}/decide",
        base(base_url)
    )
}

/// `list`'s bounce overview.
pub fn bounces_url(base_url: &str, list: &str) -> String {
    format!("{}/console/lists/{list}/bounces", base(base_url))
}

/// `list`'s delivery queue.
pub fn queue_url(base_url: &str, list: &str) -> String {
    format!("{}/console/lists/{list}/queue", base(base_url))
}

/// Routes of the lists' archives (axum's syntax): what each list said, month by month, by
/// thread, one message, a search, an mbox per month and an Atom feed. Not to be confused
/// with a publication's past editions under `/p/NAME/`. A confidential list's pages answer
/// only its members, its owners and `[web] admins`, and "not found" to everyone else, as
/// for a list that does not exist.
pub mod list_archive {
    /// Every list whose archive the visitor may read.
    pub const LISTS: &str = "/archive/";
    /// A list's months, with the number of messages in each.
    pub const LIST: &str = "/archive/{list}/";
    /// A month's threads (`YYYY-MM`).
    pub const MONTH: &str = "/archive/{list}/{month}/";
    /// A month's messages as one mbox file (mboxrd).
    pub const MBOX: &str = "/archive/{list}/{month}/mbox";
    /// A thread, named by its first message's key.
    pub const THREAD: &str = "/archive/{list}/thread/{key}";
    /// One message, named by its key: what `Archived-At` points at.
    pub const MESSAGE: &str = "/archive/{list}/message/{key}";
    /// A message's HTML part, cleaned, for a sandboxed frame of its page.
    pub const HTML: &str = "/archive/{list}/message/{key}/html";
    /// A message's attachment number `n` (from 0), as a download.
    pub const ATTACHMENT: &str = "/archive/{list}/message/{key}/attachments/{n}";
    /// Where the owners' form that removes a message posts.
    pub const REMOVE: &str = "/archive/{list}/message/{key}/remove";
    /// `?q=` words searched in subjects, authors and texts.
    pub const SEARCH: &str = "/archive/{list}/search";
    /// The latest messages of a public list as an Atom feed.
    pub const FEED: &str = "/archive/{list}/feed.xml";
}

/// The archive's name for a message: 24 letters and digits from the hash of its Message-ID
/// (the field's value, with or without its angle brackets), as Mailman 3's archiver does,
/// so that a copy's `Archived-At` is known before the archive has the message, and an id
/// that cannot stand in a URL still gives one that can.
pub fn archive_key(message_id: &str) -> String {
    use sha2::Digest;
    let id = normal_message_id(message_id);
    let hash = sha2::Sha256::digest(id.as_bytes());
    data_encoding::BASE32_NOPAD
        .encode(&hash[..15])
        .to_ascii_lowercase()
}

/// A Message-ID field's value as the archive keeps it: the id between its angle brackets,
/// without them and without folding white space; the trimmed value when it has none.
pub fn normal_message_id(field: &str) -> String {
    let field = field.trim();
    let inner = match (field.find('<'), field.find('>')) {
        (Some(open), Some(close)) if close > open => &field[open + 1..close],
        _ => field,
    };
    inner.split_whitespace().collect()
}

/// The page of every list whose archive the visitor may read.
pub fn list_archives_url(base_url: &str) -> String {
    format!("{}/archive/", base(base_url))
}

/// A list's archive: its months. What `List-Archive` names (RFC 2369).
pub fn list_archive_url(base_url: &str, list: &str) -> String {
    format!("{}/archive/{list}/", base(base_url))
}

/// A month (`YYYY-MM`) of a list's archive.
pub fn archive_month_url(base_url: &str, list: &str, month: &str) -> String {
    format!("{}/archive/{list}/{month}/", base(base_url))
}

/// A month of a list's archive as an mbox file.
pub fn archive_mbox_url(base_url: &str, list: &str, month: &str) -> String {
    format!("{}/archive/{list}/{month}/mbox", base(base_url))
}

/// A thread of a list's archive, by its first message's key.
pub fn archive_thread_url(base_url: &str, list: &str, key: &str) -> String {
    format!("{}/archive/{list}/thread/{key}", base(base_url))
}

/// One archived message: what `Archived-At` names (RFC 5064).
pub fn archived_message_url(base_url: &str, list: &str, key: &str) -> String {
    format!("{}/archive/{list}/message/{key}", base(base_url))
}

/// An archived message's HTML part, framed by its page.
pub fn archived_html_url(base_url: &str, list: &str, key: &str) -> String {
    format!("{}/archive/{list}/message/{key}/html", base(base_url))
}

/// An archived message's attachment number `n`, counting from 0.
pub fn archived_attachment_url(base_url: &str, list: &str, key: &str, n: usize) -> String {
    format!(
        "{}/archive/{list}/message/{key}/attachments/{n}",
        base(base_url)
    )
}

/// Where the form that removes an archived message posts.
pub fn archive_remove_url(base_url: &str, list: &str, key: &str) -> String {
    format!("{}/archive/{list}/message/{key}/remove", base(base_url))
}

/// A search of a list's archive for `words` (empty: the search form alone).
pub fn archive_search_url(base_url: &str, list: &str, words: &str) -> String {
    let path = format!("{}/archive/{list}/search", base(base_url));
    match words.is_empty() {
        true => path,
        false => format!("{path}?q={}", query_escape(words)),
    }
}

/// A public list's Atom feed of its latest messages.
pub fn archive_feed_url(base_url: &str, list: &str) -> String {
    format!("{}/archive/{list}/feed.xml", base(base_url))
}

/// `text` as a URL query value: everything but unreserved characters percent-encoded.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What a reply to `LIST-confirm+TOKEN@` answers: each question is its own token purpose,
/// so a token given for one is worthless for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// The requester, confirming a subscription or unsubscription request.
    Confirm,
    /// An owner, approving a request that waits for approval.
    Approve,
    /// A moderator, deciding on a held posting.
    Moderate,
    /// An editor, approving an edition.
    Edition,
}

impl Question {
    const ALL: [Question; 4] = [
        Question::Confirm,
        Question::Approve,
        Question::Moderate,
        Question::Edition,
    ];

    fn purpose(self) -> Purpose {
        match self {
            Question::Confirm => Purpose::Confirm,
            Question::Approve => Purpose::Approve,
            Question::Moderate => Purpose::Moderate,
            Question::Edition => Purpose::Edition,
        }
    }
}

/// A member's two ways out of a list (RFC 2369, RFC 8058), signed once.
pub struct Unsubscribe {
    /// `LIST-leave+TOKEN@domain`, for mail clients.
    pub address: String,
    /// `…/unsubscribe/LIST/TOKEN`, for one click.
    pub url: String,
}

/// The addresses and links that carry a signed token, for the daemon's domain and web
/// address.
#[derive(Clone, Copy)]
pub struct Links<'a> {
    domain: &'a str,
    base_url: &'a str,
    signer: &'a Signer,
}

impl<'a> Links<'a> {
    pub fn new(domain: &'a str, base_url: &'a str, signer: &'a Signer) -> Links<'a> {
        Links {
            domain,
            base_url,
            signer,
        }
    }

    /// `LIST-bounces+TOKEN@domain`: the envelope sender of one delivery, whose bounce names
    /// it (VERP).
    pub fn verp(&self, list: &str, delivery_id: i64) -> String {
        let token = self.sign(Purpose::Verp, list, delivery_id);
        self.with_token(list, Role::Bounces, &token)
    }

    /// `LIST-confirm+TOKEN@domain`, the address a reply to which answers `question` about
    /// `id` (a request, a held posting, an edition).
    pub fn answer_address(&self, list: &str, question: Question, id: i64) -> String {
        let token = self.sign(question.purpose(), list, id);
        self.with_token(list, Role::Confirm, &token)
    }

    /// The two ways to confirm a request, by reply and by link, with one token.
    pub fn confirmation(&self, list: &str, request_id: i64) -> (String, String) {
        let token = self.sign(Purpose::Confirm, list, request_id);
        (
            self.with_token(list, Role::Confirm, &token),
            page_url(self.base_url, Page::Confirm, list, &token),
        )
    }

    pub fn unsubscribe(&self, list: &str, member_id: i64) -> Unsubscribe {
        let token = self.sign(Purpose::Unsubscribe, list, member_id);
        Unsubscribe {
            address: self.with_token(list, Role::Leave, &token),
            url: page_url(self.base_url, Page::Unsubscribe, list, &token),
        }
    }

    /// The link of the notices sent to a member disabled for bouncing.
    pub fn reenable_url(&self, list: &str, member_id: i64) -> String {
        let token = self.sign(Purpose::Reenable, list, member_id);
        page_url(self.base_url, Page::Reenable, list, &token)
    }

    /// The emailed link that signs a person in: it names the sign-in request and carries
    /// the nonce whose hash the request keeps, so that the link is worth nothing to someone
    /// who can read the database (and with it, perhaps, the generated secret).
    pub fn sign_in_url(&self, request_id: i64, nonce: [u64; 2]) -> String {
        let fields = [request_id as u64, nonce[0], nonce[1]];
        let token = self.signer.sign(Purpose::SignIn, CONSOLE_CONTEXT, &fields);
        sign_in_link_url(self.base_url, &token)
    }

    /// The request and nonce a genuine sign-in token carries.
    pub fn verify_sign_in(&self, token: &str) -> Option<(i64, [u64; 2])> {
        match *self
            .signer
            .verify(Purpose::SignIn, CONSOLE_CONTEXT, token)?
            .as_slice()
        {
            [id, first, second] => Some((i64::try_from(id).ok()?, [first, second])),
            _ => None,
        }
    }

    /// The id a page's token carries when it is genuine for `list` and that page. The
    /// token is checked before anyone looks the list up (list names are lowercase, and
    /// tokens are signed for that spelling), so that a forged link costs the same whether or
    /// not its list exists.
    pub fn verify_page(&self, page: Page, list: &str, token: &str) -> Option<i64> {
        self.signer
            .verify_id(page.purpose(), &list.to_ascii_lowercase(), token)
    }

    /// The list and member a List-Unsubscribe target names, the mailto `LIST-leave+TOKEN@`
    /// or the one-click URL `…/unsubscribe/LIST/TOKEN`, when its token is genuine.
    pub fn unsubscribe_target(
        &self,
        target: &str,
        lists: &impl Directory,
    ) -> Option<(String, i64)> {
        if let Ok(Destination::Leave {
            list,
            member_id: Some(id),
        }) = self.route(target, lists)
        {
            return Some((list, id));
        }
        let marker = format!("/{}/", Page::Unsubscribe.segment());
        let (_, path) = target.split_once(&marker)?;
        let (list, token) = path.split_once('/')?;
        let list = lists.list(list)?;
        let id = self.verify_page(Page::Unsubscribe, list, token.trim_end_matches('/'))?;
        Some((list.to_owned(), id))
    }

    fn sign(&self, purpose: Purpose, list: &str, id: i64) -> String {
        self.signer.sign(purpose, list, &[id as u64])
    }

    fn with_token(&self, list: &str, role: Role, token: &str) -> String {
        address(
            &format!("{list}{}+{token}", role.suffix()),
            Role::Post,
            self.domain,
        )
    }
}

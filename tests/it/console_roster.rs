//! The web console's pages for a list's owners, over HTTP: the roster (keyset pages of 50, a
//! search, the count), adding, re-enabling, changing the language of and removing a member,
//! importing pasted CSV with its report, exporting CSV guarded against formulas; the
//! subscription requests waiting for approval, each decided once; the bounce and queue
//! pages. And the refusals: no session, no token, a member, a moderator (who may see
//! requests but not the roster), an owner of another list, a confidential list's roster.

use tidings::store::{
    AuditScope, BounceEvent, ImportLine, RequestKind, RequestLimits, RequestOpened, ScoreState,
};

use crate::common::browser::{Answer, Browser};
use crate::common::{Harness, TestDb, DOMAIN};

on_both_databases!(
    an_owner_pages_searches_and_changes_the_roster,
    an_owner_imports_and_exports_csv,
    subscription_requests_are_decided_once,
    bounces_and_the_queue_are_shown_to_owners,
    only_owners_and_admins_see_a_roster,
);

/// Owner of `forum` and `news` (not of the confidential `team`).
const OWNER: &str = "owner@coalition.test.example";
/// Moderator of `forum`.
const MODERATOR: &str = "mod@coalition.test.example";
/// Owner of `team` only.
const CHAIR: &str = "chair@coalition.test.example";
const ADMIN: &str = "ops@coalition.test.example";
const READER: &str = "reader@ngo.example";

const ROSTER: &str = "/console/lists/forum/members";

fn line(address: &str, name: &str) -> ImportLine {
    ImportLine {
        address: address.into(),
        display_name: name.into(),
        language: "en".into(),
    }
}

/// `forum` with 120 members `member000@ngo.example`… named "Member N", and the reader.
async fn seed_forum(h: &Harness) {
    let mut lines: Vec<ImportLine> = (0..120)
        .map(|n| line(&format!("member{n:03}@ngo.example"), &format!("Member {n}")))
        .collect();
    lines.push(line(READER, "Reader"));
    h.daemon
        .store
        .import_members("forum", &lines)
        .await
        .expect("import");
}

async fn start(db: &TestDb) -> Harness {
    Harness::start_with(db, |toml| {
        format!("{toml}\n[web]\nadmins = [\"{ADMIN}\"]\n")
    })
    .await
}

/// The path of an absolute URL of the daemon, `&amp;` read back as `&`.
fn path(url: &str) -> String {
    url.strip_prefix(&format!("https://{DOMAIN}"))
        .unwrap_or(url)
        .replace("&amp;", "&")
}

/// The links of a page whose path starts with `prefix`, in its order.
fn links(page: &Answer, prefix: &str) -> Vec<String> {
    page.body
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(path)
        .filter(|p| p.starts_with(prefix))
        .collect()
}

/// The member pages a roster page links to.
fn member_links(page: &Answer) -> Vec<String> {
    links(page, "/console/lists/forum/members/")
        .into_iter()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|id| id.parse::<i64>().is_ok())
        })
        .collect()
}

fn header(answer: &Answer, name: &str) -> String {
    answer
        .head
        .lines()
        .find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default()
}

async fn post(browser: &mut Browser, path: &str, csrf: &str, fields: &str) -> Answer {
    let body = format!("csrf={csrf}&{fields}");
    browser.request("POST", path, &body).await
}

/// Disables `address`'s deliveries on `list` as enough bounces would.
async fn disable(h: &Harness, list: &str, address: &str) {
    let store = &h.daemon.store;
    let member = store
        .member_by_address(address)
        .await
        .expect("read")
        .expect("member");
    let event = BounceEvent {
        list_name: list,
        member_id: Some(member.id),
        domain: "ngo.example",
        class: "mailbox",
        counts: true,
        status: "5.1.1",
        detail: "550 5.1.1 no such user",
    };
    let disabling = |state: ScoreState, now: i64| {
        (
            ScoreState {
                score: state.score + 5,
                last_bounce_at: now,
                ..state
            },
            true,
        )
    };
    store
        .record_bounce(&event, &disabling)
        .await
        .expect("bounce");
}

async fn an_owner_pages_searches_and_changes_the_roster(db: &TestDb) {
    let h = start(db).await;
    seed_forum(&h).await;
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;

    let home = owner.home().await;
    for page in ["members", "requests", "bounces", "queue"] {
        let link = format!("/console/lists/forum/{page}\"");
        assert!(home.body.contains(&link), "{link}: {}", home.body);
    }
    assert!(!home.body.contains("/console/lists/team/members"));

    // 121 members, 50 a page in address order, keyset links both ways.
    let first = owner.request("GET", ROSTER, "").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(first.body.contains("121 members"), "{}", first.body);
    let rows = member_links(&first);
    assert_eq!(rows.len(), 50);
    assert!(first.body.find("member000@") < first.body.find("member049@"));
    assert!(!first.body.contains("member050@"));
    let next = links(&first, "/console/lists/forum/members?after=");
    assert_eq!(next.len(), 1, "{}", first.body);
    let second = owner.request("GET", &next[0], "").await;
    assert_eq!(member_links(&second).len(), 50);
    assert!(second.body.contains("member050@") && second.body.contains("member099@"));
    let back = links(&second, "/console/lists/forum/members?before=");
    let again = owner.request("GET", &back[0], "").await;
    assert_eq!(member_links(&again), rows);
    let last = owner.request("GET", &format!("{ROSTER}?last=1"), "").await;
    assert_eq!(member_links(&last).len(), 50);
    assert!(last.body.contains(READER) && last.body.contains("member119@"));
    assert!(links(&last, "/console/lists/forum/members?after=").is_empty());

    // A search finds one address among many, by address or by name, whatever the case.
    let found = owner
        .request("GET", &format!("{ROSTER}?q=MEMBER077%40"), "")
        .await;
    assert_eq!(member_links(&found).len(), 1, "{}", found.body);
    assert!(found.body.contains("member077@ngo.example"));
    assert!(found.body.contains("1 members match"), "{}", found.body);
    let by_name = owner
        .request("GET", &format!("{ROSTER}?q=member+77"), "")
        .await;
    assert_eq!(member_links(&by_name).len(), 1, "{}", by_name.body);
    let wildcard = owner.request("GET", &format!("{ROSTER}?q=%25"), "").await;
    assert!(member_links(&wildcard).is_empty(), "{}", wildcard.body);

    // Adding: vouched for, once; an address that is none is refused.
    let csrf = first.csrf();
    let added = post(
        &mut owner,
        ROSTER,
        &csrf,
        "address=New%40ngo.example&name=New+One&language=fr",
    )
    .await;
    assert_eq!(added.status, 303, "{}", added.body);
    assert!(
        added.location().ends_with("?done=added"),
        "{}",
        added.location()
    );
    assert!(h.is_subscribed("forum", "new@ngo.example").await);
    let trail = h
        .daemon
        .store
        .audit_page(AuditScope::Of("forum"), 1, 0)
        .await
        .expect("audit trail");
    let recorded = (
        trail[0].action.as_str(),
        trail[0].channel.as_str(),
        trail[0].actor.as_str(),
    );
    assert_eq!(recorded, ("member.add", "web", OWNER));
    let page = owner.request("GET", &path(&added.location()), "").await;
    assert!(page.body.contains("The member was added."));
    assert!(page.body.contains("122 members"));
    let twice = post(
        &mut owner,
        ROSTER,
        &csrf,
        "address=new%40ngo.example&language=fr",
    )
    .await;
    assert!(twice.location().ends_with("?done=present"));
    let invalid = post(
        &mut owner,
        ROSTER,
        &csrf,
        "address=not-an-address&language=en",
    )
    .await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.body.contains("That is not an email address."));

    // A member's page: the language, a re-enable, a removal.
    let found = owner
        .request("GET", &format!("{ROSTER}?q=member010%40"), "")
        .await;
    let member = member_links(&found).remove(0);
    disable(&h, "forum", "member010@ngo.example").await;
    let page = owner.request("GET", &member, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("paused: this member"), "{}", page.body);
    let changed = post(&mut owner, &member, &csrf, "action=language&language=es").await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    let store = &h.daemon.store;
    let language = store
        .language_of("member010@ngo.example")
        .await
        .expect("read");
    assert_eq!(language.as_deref(), Some("es"));
    let reenabled = post(&mut owner, &member, &csrf, "action=reenable").await;
    assert_eq!(reenabled.status, 303);
    assert!(h.is_subscribed("forum", "member010@ngo.example").await);
    let page = owner.request("GET", &path(&reenabled.location()), "").await;
    assert!(
        page.body.contains("Deliveries are on again"),
        "{}",
        page.body
    );
    let removed = post(&mut owner, &member, &csrf, "action=remove").await;
    assert_eq!(removed.status, 303);
    assert!(removed
        .location()
        .ends_with("/console/lists/forum/members?done=removed"));
    assert!(!h.is_subscribed("forum", "member010@ngo.example").await);
    let gone = owner.request("GET", &member, "").await;
    assert_eq!(gone.status, 404);
    h.daemon.shutdown().await;
}

async fn an_owner_imports_and_exports_csv(db: &TestDb) {
    let h = start(db).await;
    seed_forum(&h).await;
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    let csrf = owner.request("GET", ROSTER, "").await.csrf();

    let csv = "address,name,language\n\
               ana@ngo.example,Ana,fr\n\
               member001@ngo.example\n\
               \n\
               not an address\n\
               evil@ngo.example,\"=HYPERLINK(\"\"https://x.example\"\")\",en\n";
    let body: String = csv
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let report = post(
        &mut owner,
        "/console/lists/forum/members/import",
        &csrf,
        &format!("csv={body}"),
    )
    .await;
    assert_eq!(report.status, 200, "{}", report.body);
    assert!(report.body.contains("Added: 2"), "{}", report.body);
    assert!(
        report.body.contains("Already members: 1"),
        "{}",
        report.body
    );
    assert!(report.body.contains("Lines skipped: 1"), "{}", report.body);
    assert!(report.body.contains("Line 5:"), "{}", report.body);
    assert!(h.is_subscribed("forum", "ana@ngo.example").await);
    let language = h
        .daemon
        .store
        .language_of("ana@ngo.example")
        .await
        .expect("read");
    assert_eq!(language.as_deref(), Some("fr"));

    let export = owner
        .request("GET", "/console/lists/forum/members/export", "")
        .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert!(header(&export, "content-type").starts_with("text/csv"));
    assert_eq!(
        header(&export, "content-disposition"),
        "attachment; filename=\"forum-members.csv\""
    );
    let lines: Vec<&str> = export.body.lines().collect();
    assert_eq!(lines[0], "address,name,language,status,bounce_score");
    // Every member once, in address order: 121 seeded and 2 imported.
    assert_eq!(lines.len(), 1 + 123, "{}", export.body);
    assert!(lines.contains(&"ana@ngo.example,Ana,fr,active,0"));
    assert!(
        lines.contains(&"evil@ngo.example,\"'=HYPERLINK(\"\"https://x.example\"\")\",en,active,0"),
        "{}",
        export.body
    );
    assert!(!export.body.contains(",=HYPERLINK") && !export.body.contains(",\"=HYPERLINK"));
    h.daemon.shutdown().await;
}

/// A request of `address` to join `list`, confirmed and waiting for an owner.
async fn approving_request(h: &Harness, list: &str, address: &str) -> i64 {
    let store = &h.daemon.store;
    let limits = RequestLimits {
        lifetime_ms: 3_600_000,
        max_pending: 100,
        confirmations: 100,
        confirmations_window_ms: 3_600_000,
    };
    let RequestOpened::Open(request) = store
        .open_request(list, RequestKind::Subscribe, address, "en", &limits)
        .await
        .expect("open")
    else {
        panic!("no request opened");
    };
    assert!(store
        .advance_request(&request, "confirming", "approving", false, "")
        .await
        .expect("advance"));
    request.id
}

async fn subscription_requests_are_decided_once(db: &TestDb) {
    let h = start(db).await;
    let first = approving_request(&h, "forum", "joiner@ngo.example").await;
    let second = approving_request(&h, "forum", "other@ngo.example").await;
    let elsewhere = approving_request(&h, "team", "teamer@ngo.example").await;
    // One still waiting for its address's confirmation is not the owner's to decide.
    let limits = RequestLimits {
        lifetime_ms: 3_600_000,
        max_pending: 100,
        confirmations: 100,
        confirmations_window_ms: 3_600_000,
    };
    let unconfirmed = match h
        .daemon
        .store
        .open_request(
            "forum",
            RequestKind::Subscribe,
            "unsure@ngo.example",
            "en",
            &limits,
        )
        .await
        .expect("open")
    {
        RequestOpened::Open(request) => request.id,
        _ => panic!("no request opened"),
    };

    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    let page = owner
        .request("GET", "/console/lists/forum/requests", "")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("joiner@ngo.example") && page.body.contains("other@ngo.example"));
    assert!(!page.body.contains("unsure@") && !page.body.contains("teamer@"));
    let csrf = page.csrf();
    let decide = |id: i64| format!("/console/lists/forum/requests/{id}/decide");

    let approved = post(&mut owner, &decide(first), &csrf, "decision=approve").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(approved.body.contains("The request is approved"));
    assert!(h.is_subscribed("forum", "joiner@ngo.example").await);
    let again = post(&mut owner, &decide(first), &csrf, "decision=reject").await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(h.is_subscribed("forum", "joiner@ngo.example").await);

    // The moderator decides too, as on held postings.
    let mut moderator = Browser::new(&h);
    moderator.sign_in(&h, MODERATOR, 1).await;
    let page = moderator
        .request("GET", "/console/lists/forum/requests", "")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rejected = post(
        &mut moderator,
        &decide(second),
        &page.csrf(),
        "decision=reject&reason=Members+only",
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    let request = h
        .daemon
        .store
        .request(second)
        .await
        .expect("read")
        .expect("request");
    assert_eq!(
        (request.state.as_str(), request.reason.as_str()),
        ("rejected", "Members only")
    );
    assert!(!h.is_subscribed("forum", "other@ngo.example").await);

    // Another list's request, or one not confirmed, is not found through this list.
    for id in [elsewhere, unconfirmed] {
        let answer = post(&mut owner, &decide(id), &csrf, "decision=approve").await;
        assert_eq!(answer.status, 404, "{id}");
    }
    assert!(!h.is_subscribed("team", "teamer@ngo.example").await);
    let missing_token = owner
        .request("POST", &decide(second), "decision=approve")
        .await;
    assert_eq!(missing_token.status, 403);
    h.daemon.shutdown().await;
}

async fn bounces_and_the_queue_are_shown_to_owners(db: &TestDb) {
    let h = start(db).await;
    seed_forum(&h).await;
    disable(&h, "forum", "member033@ngo.example").await;
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    let bounces = owner
        .request("GET", "/console/lists/forum/bounces", "")
        .await;
    assert_eq!(bounces.status, 200, "{}", bounces.body);
    assert!(
        bounces.body.contains("member033@ngo.example"),
        "{}",
        bounces.body
    );
    assert!(
        bounces.body.contains("address failure (counted)"),
        "{}",
        bounces.body
    );
    let roster = owner.request("GET", ROSTER, "").await;
    assert!(
        roster.body.contains("1 of them with deliveries paused"),
        "{}",
        roster.body
    );
    let queue = owner.request("GET", "/console/lists/forum/queue", "").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(queue.body.contains("Waiting to be sent"), "{}", queue.body);
    h.daemon.shutdown().await;
}

async fn only_owners_and_admins_see_a_roster(db: &TestDb) {
    let h = start(db).await;
    seed_forum(&h).await;
    h.daemon
        .store
        .import_members("team", &[line("secret@ngo.example", "Secret")])
        .await
        .expect("import");
    let pages = [
        ROSTER.to_owned(),
        format!("{ROSTER}/export"),
        "/console/lists/forum/bounces".to_owned(),
        "/console/lists/forum/queue".to_owned(),
    ];

    // No session: the sign-in form for a page, a refusal for a form.
    let mut visitor = Browser::new(&h);
    for page in &pages {
        let answer = visitor.request("GET", page, "").await;
        assert!(answer.is_sign_in_form(), "{page}: {}", answer.body);
    }
    let refused = visitor
        .request("POST", ROSTER, "csrf=x&address=a%40ngo.example")
        .await;
    assert_eq!(refused.status, 403);

    // A member, the moderator, an owner of another list: not found, as for no list at all.
    let nothing = {
        let mut reader = Browser::new(&h);
        reader.sign_in(&h, READER, 1).await;
        reader
            .request("GET", "/console/lists/no-such-list/members", "")
            .await
    };
    assert_eq!(nothing.status, 404);
    for (n, person) in [READER, MODERATOR, CHAIR].into_iter().enumerate() {
        let mut browser = Browser::new(&h);
        browser.sign_in(&h, person, 1 + usize::from(n == 0)).await;
        for page in &pages {
            let answer = browser.request("GET", page, "").await;
            assert_eq!(answer.status, 404, "{person} {page}");
            assert_eq!(answer.body, nothing.body, "{person} {page}");
        }
        let csrf = browser.home().await.csrf();
        let added = post(
            &mut browser,
            ROSTER,
            &csrf,
            "address=x%40ngo.example&language=en",
        )
        .await;
        assert_eq!(added.status, 404, "{person}");
    }
    assert!(!h.is_subscribed("forum", "x@ngo.example").await);

    // The owner: no token or a wrong one is refused, and nothing changes.
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    let roster = owner.request("GET", ROSTER, "").await;
    let member = member_links(&roster).remove(0);
    for body in [
        "address=y%40ngo.example&language=en",
        "csrf=wrong&address=y%40ngo.example",
    ] {
        assert_eq!(owner.request("POST", ROSTER, body).await.status, 403);
    }
    assert_eq!(
        owner.request("POST", &member, "action=remove").await.status,
        403
    );
    let wrong = owner
        .request("POST", &member, "csrf=wrong&action=remove")
        .await;
    assert_eq!(wrong.status, 403);
    assert!(h.is_subscribed("forum", "member000@ngo.example").await);
    assert!(!h.is_subscribed("forum", "y@ngo.example").await);

    // A confidential list's roster: only its owners and the admins.
    let team = "/console/lists/team/members";
    let answer = owner.request("GET", team, "").await;
    assert_eq!((answer.status, &answer.body), (404, &nothing.body));
    let mut chair = Browser::new(&h);
    chair.sign_in(&h, CHAIR, 2).await;
    let shown = chair.request("GET", team, "").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("secret@ngo.example"));
    let mut admin = Browser::new(&h);
    admin.sign_in(&h, ADMIN, 1).await;
    let shown = admin.request("GET", team, "").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("secret@ngo.example"));
    h.daemon.shutdown().await;
}

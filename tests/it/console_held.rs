//! The web console's held postings, as moderators and others meet them over HTTP: the queue
//! per list (newest first, 25 a page), a posting with its HTML framed apart and its
//! attachment as a download, the three decisions (each once, through the same path as the
//! CLI and email replies), and the same "not found" for everyone who does not moderate the
//! list, whatever id or list they put in the URL.

use crate::common::browser::{wait_for_mail, Answer, Browser};
use crate::common::{message, Harness, TestDb, DOMAIN};

on_both_databases!(
    a_moderator_reads_the_queue_and_decides_each_posting_once,
    only_those_who_moderate_the_list_see_anything_of_it,
);

const MODERATOR: &str = "mod@coalition.test.example";
/// Owner of `team` only.
const CHAIR: &str = "chair@coalition.test.example";
/// Owner of `forum` and of `news`.
const OWNER: &str = "owner@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";
const READER: &str = "reader@ngo.example";

/// A posting with a text part that looks like markup, an HTML part and a PDF attachment.
fn rich_posting() -> Vec<u8> {
    format!(
        "From: Author <{AUTHOR}>\r\nTo: forum@{DOMAIN}\r\nSubject: Rich posting\r\n\
Message-ID: <rich@client.test.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n\
--inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
Hello <script>alert(1)</script> all\r\n\
--inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>Hello <b>all</b></p><script>alert(2)</script>\r\n--inner--\r\n\
--outer\r\nContent-Type: application/pdf; name=\"plan.pdf\"\r\n\
Content-Disposition: attachment; filename=\"../plan.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\n--outer--\r\n"
    )
    .into_bytes()
}

/// The path of an absolute URL of the daemon.
fn path(url: &str) -> String {
    url.strip_prefix(&format!("https://{DOMAIN}"))
        .unwrap_or(url)
        .to_string()
}

/// The posting links of a queue page, in its order.
fn posting_paths(page: &Answer) -> Vec<String> {
    page.body
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(path)
        .filter(|p| {
            p.strip_prefix("/console/lists/forum/held/")
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

/// Holds `count` plain postings, then the rich one (the newest).
async fn hold_postings(h: &Harness, count: usize) {
    let to = format!("forum@{DOMAIN}");
    for n in 0..count {
        let subject = format!("Posting {n:02}");
        h.send(
            AUTHOR,
            &to,
            &message(AUTHOR, &to, &subject, "Dear all,\r\n"),
        )
        .await;
    }
    h.send(AUTHOR, &to, &rich_posting()).await;
    assert!(h.queue_drained().await, "the queue did not drain");
}

async fn decide(browser: &mut Browser, posting: &str, csrf: &str, fields: &str) -> Answer {
    let body = format!("csrf={csrf}&{fields}");
    browser
        .request("POST", &format!("{posting}/decide"), &body)
        .await
}

async fn a_moderator_reads_the_queue_and_decides_each_posting_once(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("forum", &[AUTHOR, READER]).await;
    hold_postings(&h, 26).await;
    let mut moderator = Browser::new(&h);
    moderator.sign_in(&h, MODERATOR, 1).await;

    let home = moderator.home().await;
    assert!(
        home.body.contains("/console/lists/forum/held\"") && home.body.contains("27 held"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("/console/lists/team/held"));

    // Newest first, 25 a page.
    let first = moderator
        .request("GET", "/console/lists/forum/held", "")
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let rows = posting_paths(&first);
    assert_eq!(rows.len(), 25);
    assert!(first.body.find("Rich posting") < first.body.find("Posting 25"));
    assert!(first.body.contains("/console/lists/forum/held?page=2\""));
    assert!(!first.body.contains("Posting 00"));
    let second = moderator
        .request("GET", "/console/lists/forum/held?page=2", "")
        .await;
    assert_eq!(posting_paths(&second).len(), 2);
    assert!(second.body.contains("Posting 00") && second.body.contains("Posting 01"));

    // The posting: text escaped, HTML only in a sandbox, the attachment listed.
    let rich = rows[0].clone();
    let page = moderator.request("GET", &rich, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains("Hello &lt;script&gt;alert(1)&lt;/script&gt; all"));
    assert!(!page.body.contains("<script>"), "{}", page.body);
    let frame = format!("<iframe class=\"posting\" sandbox src=\"https://{DOMAIN}{rich}/html\"");
    assert!(page.body.contains(&frame), "{}", page.body);
    assert!(header(&page, "content-security-policy").contains("frame-src 'self'"));
    assert!(
        page.body.contains("application/pdf, 6 bytes"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("reviewed by a moderator"),
        "why it is held"
    );
    moderator.language = "ar";
    let arabic = moderator.request("GET", &rich, "").await;
    assert!(arabic.body.contains("dir=\"rtl\"") && arabic.body.contains("المرفقات"));
    moderator.language = "en";

    let html = moderator.request("GET", &format!("{rich}/html"), "").await;
    assert_eq!(html.status, 200);
    assert!(header(&html, "content-security-policy")
        .starts_with("default-src 'none'; style-src 'unsafe-inline'; img-src data:"));
    assert_eq!(header(&html, "x-content-type-options"), "nosniff");
    assert!(html.body.contains("<p>Hello <b>all</b></p>"));

    let file = moderator
        .request("GET", &format!("{rich}/attachments/0"), "")
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(
        header(&file, "content-disposition"),
        "attachment; filename=\"_plan.pdf\""
    );
    assert_eq!(header(&file, "content-type"), "application/octet-stream");
    assert_eq!(header(&file, "x-content-type-options"), "nosniff");
    assert_eq!(file.body, "%PDF-1");
    let missing = moderator
        .request("GET", &format!("{rich}/attachments/1"), "")
        .await;
    assert_eq!(missing.status, 404);

    // Without its token, a decision is refused and nothing changes.
    let forged = moderator
        .request("POST", &format!("{rich}/decide"), "decision=approve")
        .await;
    assert_eq!(forged.status, 403);
    let csrf = page.csrf();
    let wrong = decide(&mut moderator, &rich, &"0".repeat(64), "decision=approve").await;
    assert_eq!(wrong.status, 403);
    assert!(h.received_by(READER).is_empty());

    // Approved: the subscribers get it. Twice: the already-decided page.
    let approved = decide(&mut moderator, &rich, &csrf, "decision=approve").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert!(approved.body.contains("Decision recorded"));
    assert!(
        wait_for_mail(&h, READER, 1).await,
        "approved posting delivered"
    );
    assert!(h.received_by(READER)[0]
        .subject()
        .is_some_and(|s| s.contains("Rich posting")));
    for again in ["decision=approve", "decision=discard"] {
        let twice = decide(&mut moderator, &rich, &csrf, again).await;
        assert_eq!(twice.status, 409, "{}", twice.body);
        assert!(twice.body.contains("already decided"), "{}", twice.body);
    }
    assert_eq!(moderator.request("GET", &rich, "").await.status, 409);

    // Rejected with a reason: the author is told it.
    let before = h.received_by(AUTHOR).len();
    let rejected = decide(
        &mut moderator,
        &rows[1],
        &csrf,
        "decision=reject&reason=off+topic+%3Chere%3E",
    )
    .await;
    assert_eq!(rejected.status, 200, "{}", rejected.body);
    assert!(wait_for_mail(&h, AUTHOR, before + 1).await, "author told");
    let told = h.received_by(AUTHOR);
    assert!(told
        .iter()
        .filter_map(|m| m.body_text(0).map(|t| t.to_string()))
        .any(|t| t.contains("off topic <here>")));

    // Discarded: nobody hears of it.
    let discarded = decide(&mut moderator, &rows[2], &csrf, "decision=discard").await;
    assert_eq!(discarded.status, 200, "{}", discarded.body);
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(READER).len(), 1);
    assert_eq!(h.received_by(AUTHOR).len(), before + 1);

    let home = moderator.home().await;
    assert!(home.body.contains("24 held"), "{}", home.body);
    let first = moderator
        .request("GET", "/console/lists/forum/held", "")
        .await;
    assert!(!posting_paths(&first).contains(&rich));
    h.daemon.shutdown().await;
}

async fn only_those_who_moderate_the_list_see_anything_of_it(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("forum", &[AUTHOR, READER]).await;
    hold_postings(&h, 0).await;
    let mut moderator = Browser::new(&h);
    moderator.sign_in(&h, MODERATOR, 1).await;
    let queue = moderator
        .request("GET", "/console/lists/forum/held", "")
        .await;
    let rich = posting_paths(&queue)[0].clone();
    let id = rich.rsplit('/').next().unwrap_or_default().to_string();
    let routes = |list: &str| {
        [
            ("GET", format!("/console/lists/{list}/held")),
            ("GET", format!("/console/lists/{list}/held/{id}")),
            ("GET", format!("/console/lists/{list}/held/{id}/html")),
            (
                "GET",
                format!("/console/lists/{list}/held/{id}/attachments/0"),
            ),
            ("POST", format!("/console/lists/{list}/held/{id}/decide")),
        ]
    };

    // A moderator of another list, and a member of this one: not found, everywhere, with
    // their own valid form token; the same page as for a list that does not exist.
    let mut chair = Browser::new(&h);
    chair.sign_in(&h, CHAIR, 1).await;
    let mut reader = Browser::new(&h);
    reader.sign_in(&h, READER, 1).await;
    let nowhere = chair
        .request("GET", "/console/lists/no-such-list/held", "")
        .await;
    assert_eq!(nowhere.status, 404);
    for browser in [&mut chair, &mut reader] {
        let csrf = browser.home().await.csrf();
        assert!(!browser.home().await.body.contains("/console/lists/forum"));
        for (method, route) in routes("forum") {
            let body = format!("csrf={csrf}&decision=approve");
            let answer = browser.request(method, &route, &body).await;
            assert_eq!(answer.status, 404, "{method} {route}");
            assert_eq!(answer.body, nowhere.body, "{method} {route}");
        }
    }
    let own = chair.request("GET", "/console/lists/team/held", "").await;
    assert_eq!(own.status, 200, "the chair moderates team");

    // The owner of forum and news: this posting is not news's, whatever the URL says.
    let mut owner = Browser::new(&h);
    owner.sign_in(&h, OWNER, 1).await;
    let csrf = owner.home().await.csrf();
    for (method, route) in routes("news") {
        let body = format!("csrf={csrf}&decision=approve");
        let answer = owner.request(method, &route, &body).await;
        let expected = if route.ends_with("/held") { 200 } else { 404 };
        assert_eq!(answer.status, expected, "{method} {route}");
    }
    assert_eq!(owner.request("GET", &rich, "").await.status, 200);

    // Nobody signed in: the sign-in form, or for a form post the refusal.
    let mut stranger = Browser::new(&h);
    let page = stranger.request("GET", &rich, "").await;
    assert!(page.is_sign_in_form(), "{}", page.body);
    let post = stranger
        .request("POST", &format!("{rich}/decide"), "decision=approve")
        .await;
    assert_eq!(post.status, 403);
    assert!(h.queue_drained().await);
    assert_eq!(h.held_reasons().await.len(), 1, "nothing was decided");
    let delivered = h
        .received_by(READER)
        .iter()
        .any(|m| m.subject().is_some_and(|s| s.contains("Rich posting")));
    assert!(!delivered, "nothing was approved");
    h.daemon.shutdown().await;
}

//! Joining and leaving, as members do it: email commands over SMTP, confirmation by reply
//! and by link over HTTP, one-click unsubscribe, owner approval, and the abuse guards.

use crate::common::{http, message, reply_to, Harness, TestDb, DOMAIN};
use mail_parser::{HeaderValue, Message, MimeHeaders};
use tidings::store::{Organisation, RequestKind};

on_both_databases!(
    join_by_email_then_confirm_by_reply_in_the_list_language,
    confirmation_link_shows_a_button_and_only_post_confirms,
    one_click_unsubscribe_post_removes_and_get_does_not,
    forged_used_and_expired_links_get_a_clear_page,
    members_policy_admits_member_organisations_and_asks_owners_about_others,
    owner_approves_by_email_reply,
    a_burst_of_join_requests_sends_at_most_the_rate_limited_confirmations,
    automatic_mail_and_null_senders_get_no_answer,
    request_address_takes_commands_and_answers_in_the_chosen_language,
    leaving_by_address_needs_confirmation_but_the_signed_mailto_does_not,
    a_closed_list_says_so,
    joins_over_lmtp_are_not_limited_by_the_front_mta_address,
);

fn header(message: &Message, name: &str) -> String {
    message
        .header_raw(name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn language(message: &Message) -> String {
    header(message, "Content-Language")
}

fn confirm_path(message: &Message) -> String {
    let text = message.body_text(0).unwrap_or_default();
    let start = text
        .find("/confirm/")
        .expect("confirmation link in the text part");
    text[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn notices_for(h: &Harness, address: &str) -> Vec<Message<'static>> {
    h.received_by(address)
}

async fn join(h: &Harness, address: &str, list: &str) {
    let to = format!("{list}-join@{DOMAIN}");
    h.write(address, &to, "join", "").await;
}

async fn join_by_email_then_confirm_by_reply_in_the_list_language(db: &TestDb) {
    let h = Harness::start(db).await;
    let marie = "marie@ngo.example";
    join(&h, marie, "nouvelles").await;
    let notices = notices_for(&h, marie);
    assert_eq!(notices.len(), 1, "one confirmation request");
    let confirmation = &notices[0];
    assert_eq!(language(confirmation), "fr");
    assert_eq!(header(confirmation, "Auto-Submitted"), "auto-replied");
    let confirm_to = reply_to(confirmation);
    assert!(confirm_to.starts_with("nouvelles-confirm+"), "{confirm_to}");
    assert!(confirmation
        .body_html(0)
        .is_some_and(|html| html.contains("lang=\"fr\"")));
    assert!(!h.is_subscribed("nouvelles", marie).await);

    // Any reply confirms, whatever it says.
    h.write(marie, &confirm_to, "Re: confirmation", "oui merci\r\n")
        .await;
    assert!(h.is_subscribed("nouvelles", marie).await);
    let notices = notices_for(&h, marie);
    assert_eq!(notices.len(), 2, "a welcome message follows");
    let welcome = &notices[1];
    assert_eq!(language(welcome), "fr");
    assert!(welcome
        .body_text(0)
        .is_some_and(|t| t.contains("/unsubscribe/nouvelles/")));

    // The same reply again does nothing more: the token worked once.
    h.write(marie, &confirm_to, "Re: confirmation", "encore\r\n")
        .await;
    assert_eq!(notices_for(&h, marie).len(), 2);
    h.daemon.shutdown().await;
}

async fn confirmation_link_shows_a_button_and_only_post_confirms(db: &TestDb) {
    let h = Harness::start(db).await;
    let ana = "ana@ngo.example";
    join(&h, ana, "open").await;
    let path = confirm_path(&notices_for(&h, ana)[0]);
    let web = h.daemon.http_addr.expect("http listener");
    let (status, headers, page) = http(web, "GET", &path, "").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<form") && page.contains("method=\"post\""),
        "{page}"
    );
    assert!(headers
        .to_ascii_lowercase()
        .contains("referrer-policy: no-referrer"));
    assert!(!h.is_subscribed("open", ana).await, "GET confirms nothing");
    let (status, _, page) = http(web, "POST", &path, "").await;
    assert_eq!(status, 200, "{page}");
    assert!(h.is_subscribed("open", ana).await);
    let (status, _, _) = http(web, "POST", &path, "").await;
    assert_eq!(status, 410, "a used link says so");
    h.daemon.shutdown().await;
}

/// The https URL of a delivered copy's List-Unsubscribe header, as a path.
fn unsubscribe_path(copy: &Message) -> String {
    let value = header(copy, "List-Unsubscribe");
    let start = value.find("/unsubscribe/").expect("https URL");
    value[start..]
        .split('>')
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn one_click_unsubscribe_post_removes_and_get_does_not(db: &TestDb) {
    let h = Harness::start(db).await;
    let ben = "ben@ngo.example";
    h.subscribe("open", &[ben]).await;
    h.post_and_drain("poster@ngo.example", "open").await;
    let path = unsubscribe_path(&notices_for(&h, ben)[0]);
    let web = h.daemon.http_addr.expect("http listener");

    let (status, _, page) = http(web, "GET", &path, "").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("List-Unsubscribe") && page.contains("One-Click"),
        "{page}"
    );
    assert!(
        h.is_subscribed("open", ben).await,
        "GET must not unsubscribe"
    );

    let (status, _, _) = http(web, "POST", &path, "List-Unsubscribe=One-Click").await;
    assert_eq!(status, 200);
    assert!(!h.is_subscribed("open", ben).await);
    assert!(h.queue_drained().await);
    let goodbye = notices_for(&h, ben);
    assert_eq!(goodbye.len(), 2, "the posting, then a goodbye");
    assert_eq!(header(&goodbye[1], "Auto-Submitted"), "auto-generated");
    // A second click is harmless and still answers 200.
    let (status, _, _) = http(web, "POST", &path, "List-Unsubscribe=One-Click").await;
    assert_eq!(status, 200);
    h.daemon.shutdown().await;
}

async fn forged_used_and_expired_links_get_a_clear_page(db: &TestDb) {
    let h = Harness::start(db).await;
    let web = h.daemon.http_addr.expect("http listener");
    for path in [
        "/unsubscribe/open/aaaaaaaaaaaaaaaaaaaa",
        "/confirm/open/aaaaaaaaaaaaaaaaaaaa",
        "/confirm/nosuch/x",
    ] {
        let (status, _, page) = http(web, "GET", path, "").await;
        assert_eq!(status, 404, "{path}");
        assert!(page.contains("<html") && !page.contains("<form"), "{page}");
        let (status, _, _) = http(web, "POST", path, "List-Unsubscribe=One-Click").await;
        assert_eq!(status, 404, "{path}");
    }
    let carla = "carla@ngo.example";
    join(&h, carla, "open").await;
    let path = confirm_path(&notices_for(&h, carla)[0]);
    expire_all_requests(db).await;
    let (status, _, page) = http(web, "GET", &path, "").await;
    assert_eq!(status, 410, "{page}");
    let (status, _, _) = http(web, "POST", &path, "").await;
    assert_eq!(status, 410);
    assert!(!h.is_subscribed("open", carla).await);
    h.daemon.shutdown().await;
}

/// Moves every confirmation deadline into the past, as if a week had gone by.
async fn expire_all_requests(db: &TestDb) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query("UPDATE requests SET expires_at = 1")
        .execute(&pool)
        .await
        .expect("expire");
    pool.close().await;
}

async fn members_policy_admits_member_organisations_and_asks_owners_about_others(db: &TestDb) {
    let h = Harness::start(db).await;
    h.daemon
        .store
        .import_organisations(&[Organisation {
            name: "Member NGO".into(),
            country: "KE".into(),
            region: "Africa".into(),
            domains: vec!["member-ngo.example".into()],
            contacts: vec![],
        }])
        .await
        .expect("orgs");
    let insider = "wanjiru@nairobi.member-ngo.example";
    let outsider = "someone@outsider.example";
    for address in [insider, outsider] {
        join(&h, address, "team").await;
        let confirm_to = reply_to(&notices_for(&h, address)[0]);
        h.write(address, &confirm_to, "Re: confirm", "yes\r\n")
            .await;
    }
    assert!(h.is_subscribed("team", insider).await);
    assert!(!h.is_subscribed("team", outsider).await);
    let pending = h
        .daemon
        .store
        .pending_requests(Some("team"))
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].state.as_str(), pending[0].address.as_str()),
        ("approving", outsider)
    );
    assert_eq!(
        notices_for(&h, "chair@coalition.test.example").len(),
        1,
        "owners are asked"
    );
    assert_eq!(
        notices_for(&h, outsider).len(),
        2,
        "confirmation, then 'awaiting approval'"
    );
    h.daemon.shutdown().await;
}

async fn owner_approves_by_email_reply(db: &TestDb) {
    let h = Harness::start(db).await;
    let outsider = "someone@outsider.example";
    join(&h, outsider, "team").await;
    let confirm_to = reply_to(&notices_for(&h, outsider)[0]);
    h.write(outsider, &confirm_to, "Re: confirm", "yes\r\n")
        .await;
    let owner = "chair@coalition.test.example";
    let approve_to = reply_to(&notices_for(&h, owner)[0]);
    // Someone who is not an owner cannot approve.
    h.write(outsider, &approve_to, "Re: request", "approve\r\n")
        .await;
    assert!(!h.is_subscribed("team", outsider).await);
    h.write_proven(owner, &approve_to, "Re: request", "approve\r\n> quoted\r\n")
        .await;
    assert!(h.is_subscribed("team", outsider).await);
    assert_eq!(
        notices_for(&h, outsider).len(),
        3,
        "confirmation, awaiting approval, welcome"
    );
    // The owner's decision is in the audit trail, by email, from the proven owner.
    let trail = h
        .daemon
        .store
        .audit_page(tidings::store::AuditScope::Of("team"), 10, 0)
        .await
        .expect("trail");
    assert_eq!(trail.len(), 1);
    assert_eq!(
        (
            trail[0].action.as_str(),
            trail[0].channel.as_str(),
            trail[0].actor.as_str()
        ),
        ("request.approve", "email", owner)
    );
    h.daemon.shutdown().await;
}

async fn a_burst_of_join_requests_sends_at_most_the_rate_limited_confirmations(db: &TestDb) {
    let h = Harness::start(db).await;
    let victim = "victim@ngo.example";
    let to = format!("open-join@{DOMAIN}");
    let mut client = h.smtp().await;
    for _ in 0..100 {
        let reply = client
            .post(victim, &to, &message(victim, &to, "join", ""))
            .await;
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert!(h.queue_drained().await);
    let received = notices_for(&h, victim).len();
    assert!(received >= 1, "the first request is answered");
    assert!(
        received <= 3,
        "{received} confirmations for one address (limit 3 a day)"
    );
    let pending = h
        .daemon
        .store
        .pending_requests(Some("open"))
        .await
        .expect("pending");
    assert_eq!(pending.len(), 1, "one request, however often it is made");
    h.daemon.shutdown().await;
}

async fn automatic_mail_and_null_senders_get_no_answer(db: &TestDb) {
    let h = Harness::start(db).await;
    let robot = "robot@ngo.example";
    let to = format!("open-request@{DOMAIN}");
    let mut vacation = b"Auto-Submitted: auto-replied\r\n".to_vec();
    vacation.extend(message(robot, &to, "Out of office", "subscribe\r\n"));
    h.send(robot, &to, &vacation).await;
    let join_to = format!("open-join@{DOMAIN}");
    h.send(
        "",
        &join_to,
        &message(robot, &join_to, "Delivery failure", ""),
    )
    .await;
    let mut bulk = b"Precedence: bulk\r\n".to_vec();
    bulk.extend(message(robot, &join_to, "news", ""));
    h.send(robot, &join_to, &bulk).await;
    assert!(h.queue_drained().await);
    assert_eq!(
        h.sink.count(),
        0,
        "nothing is ever sent in answer to a robot"
    );
    assert!(h
        .daemon
        .store
        .pending_requests(None)
        .await
        .expect("pending")
        .is_empty());
    h.daemon.shutdown().await;
}

async fn request_address_takes_commands_and_answers_in_the_chosen_language(db: &TestDb) {
    let h = Harness::start(db).await;
    let joao = "joao@ngo.example";
    let to = format!("open-request@{DOMAIN}");
    let body = "language pt\r\nsubscribe\r\nhelp\r\n\r\n-- \r\nJoão, ONG Exemplo\r\n";
    h.write(joao, &to, "", body).await;
    let notices = notices_for(&h, joao);
    let subjects: Vec<String> = notices
        .iter()
        .map(|m| m.subject().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        notices.len(),
        3,
        "confirmation, help and the summary: {subjects:?}"
    );
    assert!(
        notices.iter().all(|m| language(m) == "pt"),
        "{:?}",
        notices.iter().map(language).collect::<Vec<_>>()
    );
    let requests = h
        .daemon
        .store
        .pending_requests(Some("open"))
        .await
        .expect("pending");
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].kind, requests[0].language.as_str()),
        (RequestKind::Subscribe, "pt")
    );
    // The summary quotes each command; the signature was not read as one.
    let summary = notices
        .iter()
        .find(|m| m.body_text(0).is_some_and(|t| t.contains("language pt")))
        .expect("summary reply");
    let text = summary.body_text(0).unwrap_or_default();
    assert!(
        text.contains("subscribe") && !text.contains("João, ONG Exemplo"),
        "{text}"
    );
    assert!(matches!(
        summary.content_type().map(|c| c.ctype()),
        Some("multipart")
    ));
    assert!(!matches!(
        summary.header("Auto-Submitted"),
        None | Some(HeaderValue::Empty)
    ));
    h.daemon.shutdown().await;
}

async fn leaving_by_address_needs_confirmation_but_the_signed_mailto_does_not(db: &TestDb) {
    let h = Harness::start(db).await;
    let dora = "dora@ngo.example";
    h.subscribe("open", &[dora]).await;
    let leave = format!("open-leave@{DOMAIN}");
    h.write(dora, &leave, "leave", "").await;
    assert!(
        h.is_subscribed("open", dora).await,
        "not without confirmation"
    );
    assert_eq!(
        notices_for(&h, dora).len(),
        1,
        "a request to confirm leaving"
    );

    h.post_and_drain("poster@ngo.example", "open").await;
    let copy = notices_for(&h, dora).pop().expect("the posting");
    let value = header(&copy, "List-Unsubscribe");
    let mailto = value
        .split("mailto:")
        .nth(1)
        .and_then(|rest| rest.split(['?', '>']).next())
        .expect("mailto")
        .to_string();
    assert!(mailto.starts_with("open-leave+"), "{mailto}");
    // Sent from any address: the token alone proves the link came from dora's copy.
    h.write("client@mail.example", &mailto, "unsubscribe", "")
        .await;
    assert!(!h.is_subscribed("open", dora).await);
    h.daemon.shutdown().await;
}

async fn a_closed_list_says_so(db: &TestDb) {
    let h = Harness::start(db).await;
    let eve = "eve@ngo.example";
    join(&h, eve, "board").await;
    let notices = notices_for(&h, eve);
    assert_eq!(notices.len(), 1, "one reply explaining the list is closed");
    assert!(reply_to(&notices[0]).is_empty(), "no confirmation address");
    assert!(h
        .daemon
        .store
        .pending_requests(None)
        .await
        .expect("pending")
        .is_empty());
    h.daemon.shutdown().await;
}

async fn joins_over_lmtp_are_not_limited_by_the_front_mta_address(db: &TestDb) {
    let h = Harness::start(db).await;
    let to = format!("open-join@{DOMAIN}");
    // More members than one client IP may send commands per hour (30 in the test config).
    let members: Vec<String> = (0..35).map(|i| format!("member{i}@ngo.example")).collect();
    let mut lmtp = h.lmtp().await;
    for member in &members {
        let rcpt = lmtp.envelope("LHLO", member, &[&to]).await;
        assert!(rcpt[0].starts_with("250"), "{rcpt:?}");
        let replies = lmtp.data(&message(member, &to, "join", ""), 1).await;
        assert!(replies[0].starts_with("250"), "{replies:?}");
    }
    assert!(h.queue_drained().await);
    for member in &members {
        assert_eq!(
            notices_for(&h, member).len(),
            1,
            "{member} got no confirmation"
        );
    }
    h.daemon.shutdown().await;
}

//! The web console's sign-in, as a browser meets it: the form, the emailed link (a button,
//! good once, for 15 minutes), the session cookie, the home page, signing out here and
//! everywhere, and the limits on asking for links.

use std::time::Duration;

use crate::common::browser::{link, subscribe, wait_for_mail, Browser};
use crate::common::{Harness, TestDb, DOMAIN};

on_both_databases!(
    known_and_unknown_addresses_get_the_same_answer_and_only_the_known_one_mail,
    the_link_shows_a_button_signs_in_once_and_sets_a_tight_cookie,
    an_expired_link_signs_no_one_in,
    a_forged_or_absent_cookie_gets_the_sign_in_page,
    sign_out_needs_the_form_token_and_everywhere_ends_every_session,
    home_shows_roles_and_only_the_persons_own_subscriptions,
    links_are_limited_per_address_and_per_client,
    forms_without_their_token_are_refused_and_pages_speak_the_visitors_language,
);

const ANA: &str = "ana@ngo.example";
const BEN: &str = "ben@ngo.example";
const OWNER: &str = "owner@coalition.test.example";
const STRANGER: &str = "stranger@elsewhere.example";
const SESSION: &str = "__Host-tidings_session";

async fn sql(db: &TestDb, statement: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&pool)
        .await
        .expect("statement");
    pool.close().await;
}

async fn known_and_unknown_addresses_get_the_same_answer_and_only_the_known_one_mail(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "nouvelles", ANA, "fr").await;
    let mut browser = Browser::new(&h);
    let unknown = browser.ask_for_link(STRANGER).await;
    let known = browser.ask_for_link(ANA).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(known.status, 200);
    assert_eq!(known.body, unknown.body, "the answers differ");
    assert!(!known.body.contains(ANA) && !unknown.body.contains(STRANGER));
    assert!(known.set_cookies().is_empty() && unknown.set_cookies().is_empty());

    assert!(
        wait_for_mail(&h, ANA, 1).await,
        "the known address gets a link"
    );
    assert!(h.queue_drained().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.received_by(STRANGER).is_empty(),
        "nothing to the unknown one"
    );
    let mail = &h.received_by(ANA)[0];
    assert_eq!(
        mail.header_raw("Content-Language")
            .unwrap_or_default()
            .trim(),
        "fr",
        "in the member's language"
    );
    let text = mail.body_text(0).unwrap_or_default();
    assert!(
        text.contains(&format!("https://{DOMAIN}/console/sign-in/")),
        "{text}"
    );
    assert!(text.contains("15 minutes"), "{text}");
    h.daemon.shutdown().await;
}

async fn the_link_shows_a_button_signs_in_once_and_sets_a_tight_cookie(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    let mut browser = Browser::new(&h);
    browser.ask_for_link(ANA).await;
    let path = link(&h, ANA, 1).await;

    // Opening the link (as a link scanner does) signs no one in.
    let page = browser.request("GET", &path, "").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("method=\"post\""), "{}", page.body);
    assert!(!browser.cookies.contains_key(SESSION));
    let mut scanner = Browser::new(&h);
    scanner.request("GET", &path, "").await;
    scanner.request("GET", &path, "").await;
    assert!(browser.home().await.is_sign_in_form(), "GET signed in");

    let signed_in = browser
        .request("POST", &path, &format!("csrf={}", page.csrf()))
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), format!("https://{DOMAIN}/console"));
    let cookie = signed_in
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(SESSION))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag}: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let home = browser.home().await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(ANA) && home.body.contains("Coalition News"));

    // A second press does nothing, and says no more than a forged link does.
    let mut other = Browser::new(&h);
    let page = other.request("GET", "/console/sign-in", "").await;
    let again = other
        .request("POST", &path, &format!("csrf={}", page.csrf()))
        .await;
    assert_eq!(again.status, 404);
    assert!(!other.cookies.contains_key(SESSION));
    let forged = other
        .request(
            "GET",
            "/console/sign-in/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "",
        )
        .await;
    assert_eq!(forged.status, 404);
    assert_eq!(again.body, forged.body);
    let used = other.request("GET", &path, "").await;
    assert_eq!(used.body, forged.body);

    // Signing in again gives a new session id; the one presented is ended.
    let before = browser.cookies[SESSION].clone();
    browser.sign_in(&h, ANA, 2).await;
    let after = browser.cookies[SESSION].clone();
    assert_ne!(before, after);
    let mut stale = Browser::new(&h);
    stale.cookies.insert(SESSION.into(), before);
    assert!(
        stale.home().await.is_sign_in_form(),
        "the old session lives on"
    );
    assert!(browser.home().await.body.contains(ANA));
    h.daemon.shutdown().await;
}

async fn an_expired_link_signs_no_one_in(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    let mut browser = Browser::new(&h);
    browser.ask_for_link(ANA).await;
    let path = link(&h, ANA, 1).await;
    let page = browser.request("GET", &path, "").await;
    assert_eq!(page.status, 200);
    // As if the link's 15 minutes had gone by.
    sql(db, "UPDATE sign_in_requests SET expires_at = 1").await;
    let forged = browser
        .request(
            "GET",
            "/console/sign-in/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "",
        )
        .await;
    let expired = browser.request("GET", &path, "").await;
    assert_eq!(expired.status, 404);
    assert_eq!(expired.body, forged.body);
    let pressed = browser
        .request("POST", &path, &format!("csrf={}", page.csrf()))
        .await;
    assert_eq!(pressed.status, 404);
    assert!(!browser.cookies.contains_key(SESSION));
    assert!(browser.home().await.is_sign_in_form());
    h.daemon.shutdown().await;
}

async fn a_forged_or_absent_cookie_gets_the_sign_in_page(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    let mut browser = Browser::new(&h);
    let absent = browser.home().await;
    assert_eq!(absent.status, 200);
    assert!(absent.is_sign_in_form(), "{}", absent.body);
    for forged in ["0".repeat(64), "not-a-session".into(), String::new()] {
        let mut forger = Browser::new(&h);
        forger.cookies.insert(SESSION.into(), forged.clone());
        let answer = forger.home().await;
        assert!(answer.is_sign_in_form(), "{forged}: {}", answer.body);
        assert!(!answer.body.contains(ANA));
    }
    // A real session's id under the name of the other scheme's cookie is no session either.
    browser.sign_in(&h, ANA, 1).await;
    let id = browser.cookies[SESSION].clone();
    let mut renamed = Browser::new(&h);
    renamed.cookies.insert("tidings_session".into(), id);
    assert!(renamed.home().await.is_sign_in_form());
    h.daemon.shutdown().await;
}

async fn sign_out_needs_the_form_token_and_everywhere_ends_every_session(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    subscribe(&h, "news", BEN, "en").await;
    let mut laptop = Browser::new(&h);
    let mut phone = Browser::new(&h);
    let mut bens = Browser::new(&h);
    laptop.sign_in(&h, ANA, 1).await;
    phone.sign_in(&h, ANA, 2).await;
    bens.sign_in(&h, BEN, 1).await;

    let home = laptop.home().await;
    let token = home.csrf();
    for body in [
        String::new(),
        "csrf=".into(),
        format!("csrf={}", "f".repeat(64)),
    ] {
        for path in ["/console/sign-out", "/console/sign-out-everywhere"] {
            let refused = laptop.request("POST", path, &body).await;
            assert_eq!(refused.status, 403, "{path} with {body:?}");
        }
    }
    // Ben's token is no good in Ana's session.
    let bens_token = bens.home().await.csrf();
    let refused = laptop
        .request("POST", "/console/sign-out", &format!("csrf={bens_token}"))
        .await;
    assert_eq!(refused.status, 403);
    assert!(laptop.home().await.body.contains(ANA), "still signed in");

    let out = laptop
        .request(
            "POST",
            "/console/sign-out-everywhere",
            &format!("csrf={token}"),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(
        !laptop.cookies.contains_key(SESSION),
        "the cookie is cleared"
    );
    assert!(
        phone.home().await.is_sign_in_form(),
        "the phone is signed out"
    );
    let bens_home = bens.home().await;
    assert!(bens_home.body.contains(BEN), "someone else's session stays");

    let out = bens
        .request("POST", "/console/sign-out", &format!("csrf={bens_token}"))
        .await;
    assert_eq!(out.status, 200);
    assert!(bens.home().await.is_sign_in_form());
    h.daemon.shutdown().await;
}

async fn home_shows_roles_and_only_the_persons_own_subscriptions(db: &TestDb) {
    let admin = "it@coalition.test.example";
    let h = Harness::start_with(db, |toml| {
        format!("{toml}\n[web]\nadmins = [\"{admin}\"]\n")
    })
    .await;
    subscribe(&h, "nouvelles", ANA, "fr").await;
    subscribe(&h, "forum", ANA, "fr").await;
    subscribe(&h, "team", BEN, "en").await;
    // As if her mailbox had bounced the forum's mail.
    sql(
        db,
        "UPDATE subscriptions SET status = 'disabled' WHERE list_name = 'forum'",
    )
    .await;

    let mut anas = Browser::new(&h);
    anas.sign_in(&h, ANA, 1).await;
    let home = anas.home().await;
    assert_eq!(home.status, 200);
    let page = &home.body;
    assert!(page.contains("lang=\"fr\""), "in her language");
    assert!(page.contains("Nouvelles de la Coalition") && page.contains("Moderated Forum"));
    assert!(page.contains("Français") && page.contains("envois suspendus"));
    assert!(
        !page.contains("Gender Team") && !page.contains(BEN),
        "{page}"
    );
    assert!(page.contains("Vous n’avez aucun rôle"));

    let mut owners = Browser::new(&h);
    owners.sign_in(&h, OWNER, 1).await;
    let page = owners.home().await.body;
    assert!(page.contains(OWNER));
    for list in ["Coalition News", "Moderated Forum", "Open Forum", "Board"] {
        assert!(page.contains(list), "{list}: {page}");
    }
    assert!(page.contains(": owner"), "{page}");
    assert!(page.contains("You are not subscribed to any list."));
    assert!(!page.contains(ANA) && !page.contains("administrator"));

    let mut admins = Browser::new(&h);
    admins.sign_in(&h, admin, 1).await;
    let page = admins.home().await.body;
    assert!(
        page.contains("administrator") && page.contains(admin),
        "{page}"
    );
    h.daemon.shutdown().await;
}

async fn links_are_limited_per_address_and_per_client(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    let mut browser = Browser::new(&h);
    let first = browser.ask_for_link(ANA).await;
    for _ in 0..6 {
        let answer = browser.ask_for_link(ANA).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, first.body, "the limit is not told");
    }
    assert!(wait_for_mail(&h, ANA, 5).await);
    assert!(h.queue_drained().await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.received_by(ANA).len(), 5, "five links an hour, no more");

    // Thirty requests an hour from one client, whatever the addresses.
    for n in 7..30 {
        let answer = browser
            .ask_for_link(&format!("someone{n}@elsewhere.example"))
            .await;
        assert_eq!(answer.status, 200, "request {n}");
    }
    let refused = browser.ask_for_link("one-more@elsewhere.example").await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    h.daemon.shutdown().await;
}

async fn forms_without_their_token_are_refused_and_pages_speak_the_visitors_language(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    let mut browser = Browser::new(&h);
    // Another site's form: no cookie of ours, or a token that is not the cookie's.
    let body = format!("csrf={}&address=ana%40ngo.example", "a".repeat(64));
    let refused = browser.request("POST", "/console/sign-in", &body).await;
    assert_eq!(refused.status, 403);
    browser.request("GET", "/console/sign-in", "").await;
    let refused = browser.request("POST", "/console/sign-in", &body).await;
    assert_eq!(refused.status, 403);
    let invalid = browser.ask_for_link("not an address").await;
    assert_eq!(invalid.status, 422);
    assert!(invalid.is_sign_in_form());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(h.received_by(ANA).is_empty());

    browser.ask_for_link(ANA).await;
    let path = link(&h, ANA, 1).await;
    let page = browser.request("GET", &path, "").await;
    let mut elsewhere = Browser::new(&h);
    let pressed = elsewhere
        .request("POST", &path, &format!("csrf={}", page.csrf()))
        .await;
    assert_eq!(pressed.status, 403, "the button of another browser's page");

    let mut arabic = Browser::new(&h);
    arabic.language = "ar, en;q=0.5";
    let form = arabic.request("GET", "/console/sign-in", "").await;
    assert!(
        form.body.contains("<html lang=\"ar\" dir=\"rtl\">"),
        "{}",
        form.body
    );
    arabic.language = "es-MX";
    let form = arabic.request("GET", "/console/sign-in", "").await;
    assert!(form.body.contains("<html lang=\"es\" dir=\"ltr\">"));
    h.daemon.shutdown().await;
}

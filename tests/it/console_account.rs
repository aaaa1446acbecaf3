//! A member's own page in the web console (`/console/account`): their subscriptions and no
//! one else's, their language, leaving (with the goodbye of the unsubscribe link), joining a
//! public list (still confirmed by email), the refusals, and the links to the page in the
//! welcome notice and in every posting's footer.

use mail_parser::Message;

use crate::common::browser::{subscribe, wait_for_mail, Answer, Browser};
use crate::common::{reply_to, Harness, TestDb, DOMAIN};

on_both_databases!(
    a_member_sees_their_own_subscriptions_changes_language_leaves_and_joins,
    forged_and_tokenless_forms_change_nothing,
    a_relayed_posting_carries_the_account_link_in_its_footer,
);

const ANA: &str = "ana@ngo.example";
const BEN: &str = "ben@ngo.example";
const READER: &str = "reader@ngo.example";

fn account_url() -> String {
    format!("https://{DOMAIN}/console/account")
}

fn text(message: &Message) -> String {
    message.body_text(0).unwrap_or_default().to_string()
}

async fn post_form(browser: &mut Browser, path: &str, csrf: &str, fields: &str) -> Answer {
    let body = format!("csrf={csrf}&{fields}");
    browser.request("POST", path, &body).await
}

async fn a_member_sees_their_own_subscriptions_changes_language_leaves_and_joins(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    subscribe(&h, "team", ANA, "en").await;
    subscribe(&h, "board", BEN, "en").await;
    // The link of a welcome or a footer: the sign-in form, then this very page.
    let mut ana = Browser::new(&h);
    let page = ana.request("GET", "/console/account", "").await;
    assert!(page.is_sign_in_form(), "{}", page.body);
    let signed_in = ana.sign_in(&h, ANA, 1).await;
    assert_eq!(signed_in.location(), account_url());
    assert!(!ana.cookies.contains_key("__Host-tidings_next"));
    let mail_before = h.received_by(ANA).len();

    // Her lists, the confidential one she is on included; never a confidential list she
    // is not on, neither as hers nor as one to join.
    let page = ana.request("GET", "/console/account", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for own in ["<code>news</code>", "<code>team</code>"] {
        assert!(page.body.contains(own), "{own}: {}", page.body);
    }
    assert!(!page.body.contains("board"), "{}", page.body);
    for offered in [
        "<code>open</code>",
        "<code>forum</code>",
        "<code>nouvelles</code>",
    ] {
        assert!(page.body.contains(offered), "{offered}: {}", page.body);
    }
    assert_eq!(page.body.matches("<code>team</code>").count(), 1);
    let home = ana.home().await;
    assert!(home.body.contains(&format!("href=\"{}\"", account_url())));
    let csrf = page.csrf();

    // The language: one for all her lists, and her pages follow it.
    let set = post_form(&mut ana, "/console/account/language", &csrf, "language=fr").await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert!(set.body.contains("lang=\"fr\""), "{}", set.body);
    let language = h.daemon.store.language_of(ANA).await.expect("language");
    assert_eq!(language.as_deref(), Some("fr"));
    let page = ana.request("GET", "/console/account", "").await;
    assert!(page
        .body
        .contains("<option value=\"fr\" lang=\"fr\" selected>"));

    // Leaving: gone at once, and the goodbye of the unsubscribe link, in her language.
    let left = post_form(&mut ana, "/console/account/leave", &csrf, "list=news").await;
    assert_eq!(left.status, 200, "{}", left.body);
    assert!(!h.is_subscribed("news", ANA).await);
    assert!(h.is_subscribed("team", ANA).await);
    assert!(
        wait_for_mail(&h, ANA, mail_before + 1).await,
        "goodbye sent"
    );
    let goodbye = h.received_by(ANA).pop().expect("goodbye");
    assert!(
        goodbye
            .subject()
            .is_some_and(|s| s.contains("Coalition News")),
        "{:?}",
        goodbye.subject()
    );
    assert_eq!(
        goodbye.header_raw("Content-Language").map(str::trim),
        Some("fr")
    );
    let again = post_form(&mut ana, "/console/account/leave", &csrf, "list=news").await;
    assert_eq!(again.status, 404, "no longer hers");

    // Joining: a confirmation request, as by email; subscribed only once confirmed.
    let joining = post_form(&mut ana, "/console/account/join", &csrf, "list=open").await;
    assert_eq!(joining.status, 200, "{}", joining.body);
    assert!(
        wait_for_mail(&h, ANA, mail_before + 2).await,
        "confirmation sent"
    );
    let confirmation = h.received_by(ANA).pop().expect("confirmation");
    assert!(text(&confirmation).contains("/confirm/open/"));
    assert!(!h.is_subscribed("open", ANA).await);
    let confirm_to = reply_to(&confirmation);
    h.write(ANA, &confirm_to, "Re: confirmation", "yes\r\n")
        .await;
    assert!(h.is_subscribed("open", ANA).await);

    // The welcome names the account page.
    assert!(
        wait_for_mail(&h, ANA, mail_before + 3).await,
        "welcome sent"
    );
    let welcome = h.received_by(ANA).pop().expect("welcome");
    assert!(
        text(&welcome).contains(&account_url()),
        "{}",
        text(&welcome)
    );
    assert!(welcome
        .body_html(0)
        .is_some_and(|html| html.contains(&format!("href=\"{}\"", account_url()))));
    h.daemon.shutdown().await;
}

async fn forged_and_tokenless_forms_change_nothing(db: &TestDb) {
    let h = Harness::start(db).await;
    subscribe(&h, "news", ANA, "en").await;
    subscribe(&h, "board", BEN, "en").await;
    let mut ana = Browser::new(&h);
    ana.sign_in(&h, ANA, 1).await;
    let csrf = ana.request("GET", "/console/account", "").await.csrf();
    let mail_before = h.received_by(ANA).len();

    // Confidential lists, a closed one, one that does not exist: one "not found" for all.
    let nowhere = post_form(&mut ana, "/console/account/join", &csrf, "list=nosuch").await;
    assert_eq!(nowhere.status, 404);
    for forged in [
        ("/console/account/join", "list=team"),
        ("/console/account/join", "list=board"),
        ("/console/account/join", "list=NEWS"),
        ("/console/account/leave", "list=board"),
        ("/console/account/leave", "list=nosuch"),
        ("/console/account/language", "language=xx"),
    ] {
        let answer = post_form(&mut ana, forged.0, &csrf, forged.1).await;
        assert_eq!(answer.status, 404, "{forged:?}");
        assert_eq!(answer.body, nowhere.body, "{forged:?}");
    }
    assert!(h.is_subscribed("board", BEN).await);
    assert!(!h.is_subscribed("team", ANA).await);

    // Without the session's token, or without a session: refused, nothing done.
    let wrong = "0".repeat(64);
    for (path, fields) in [
        ("/console/account/leave", "list=news"),
        ("/console/account/join", "list=open"),
        ("/console/account/language", "language=ar"),
    ] {
        let answer = post_form(&mut ana, path, &wrong, fields).await;
        assert_eq!(answer.status, 403, "{path}");
        let mut stranger = Browser::new(&h);
        let answer = post_form(&mut stranger, path, &csrf, fields).await;
        assert_eq!(answer.status, 403, "{path}");
    }
    let mut stranger = Browser::new(&h);
    let page = stranger.request("GET", "/console/account", "").await;
    assert!(page.is_sign_in_form(), "{}", page.body);
    assert!(h.is_subscribed("news", ANA).await);
    let language = h.daemon.store.language_of(ANA).await.expect("language");
    assert_eq!(language.as_deref(), Some("en"));
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(ANA).len(), mail_before, "no mail was sent");
    assert!(h
        .daemon
        .store
        .pending_requests(None)
        .await
        .expect("requests")
        .is_empty());
    h.daemon.shutdown().await;
}

async fn a_relayed_posting_carries_the_account_link_in_its_footer(db: &TestDb) {
    let h = Harness::start(db).await;
    h.subscribe("team", &[ANA, READER]).await;
    h.subscribe("open", &[ANA, READER]).await;
    for list in ["team", "open"] {
        let to = format!("{list}@{DOMAIN}");
        h.write_proven(ANA, &to, &format!("Hello {list}"), "Dear all,\r\n")
            .await;
    }
    assert!(wait_for_mail(&h, READER, 2).await, "postings relayed");
    let body_of = |list: &str| {
        let subject = format!("Hello {list}");
        h.received_by(READER)
            .iter()
            .find(|m| m.subject().is_some_and(|s| s.contains(&subject)))
            .map(text)
            .expect("posting")
    };
    // The footer of a list that has one ends with the link; a list without a footer
    // leaves the body as its author signed it.
    let team = body_of("team");
    assert!(team.starts_with("Dear all,"), "{team}");
    let footer = team.find("for team members only").expect("footer");
    let link = team.find(&account_url()).expect("account link");
    assert!(footer < link, "{team}");
    assert_eq!(body_of("open").trim_end(), "Dear all,");
    h.daemon.shutdown().await;
}

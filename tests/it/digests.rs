//! Digests end to end, on both databases, with the digest scheduler's clock set by the test:
//! a member's choice by email command and in the web console, a daily digest in French
//! (contents, parts, list fields, personal unsubscribe link), a period without postings, a
//! held posting approved the next day, and each period sent once across a restart and a
//! second daemon.

use std::sync::Arc;

use tidings::publications::clock::ManualClock;
use tidings::store::{DeliveryMode, DigestKind};

use crate::common::browser::{subscribe, wait_for_mail, Browser};
use crate::common::{eventually, Harness, TestDb, DOMAIN};

on_both_databases!(
    a_french_daily_digest_carries_the_days_postings,
    a_held_posting_approved_the_next_day_is_in_the_next_digest,
    a_period_is_sent_once_across_a_restart_and_a_second_daemon,
    members_choose_by_email_command_and_in_the_console,
);

const REINE: &str = "reine@ngo.example";
const EACH: &str = "each@ngo.example";
const POSTER: &str = "poster@ngo.example";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Noon (UTC, the lists' time zone by default) on 11 March 2030: later than any real
/// posting's time, so that every posting the test sends counts as sent before the slots.
fn start_time() -> i64 {
    chrono::DateTime::parse_from_rfc3339("2030-03-11T12:00:00Z")
        .expect("date")
        .timestamp_millis()
}

/// 06:00 the next morning: the default daily slot.
fn first_slot() -> i64 {
    start_time() + 18 * HOUR
}

async fn start(db: &TestDb, clock: &Arc<ManualClock>) -> Harness {
    let h = Harness::start_with_clock(db, |toml| toml, Arc::clone(clock) as _).await;
    // The schedules count from now: what the scheduler records at its first tick, recorded
    // here too (the same value) so that moving the clock cannot overtake that tick.
    for list in ["open", "forum"] {
        for kind in ["daily", "weekly"] {
            h.daemon
                .store
                .setting_or_insert(&format!("digest_schedule_start:{list}:{kind}"), || {
                    start_time().to_string()
                })
                .await
                .expect("schedule start");
        }
    }
    h
}

async fn choose(h: &Harness, list: &str, address: &str, mode: DeliveryMode) {
    let changed = h
        .daemon
        .store
        .set_delivery_mode(list, address, mode)
        .await
        .expect("mode");
    assert!(changed, "{address} is not on {list}");
}

const DAILY: DeliveryMode = DeliveryMode::Digest(DigestKind::Daily);

/// Waits until the daily period of `list` ending at `slot` is recorded.
async fn period_recorded(h: &Harness, list: &str, slot: i64) -> bool {
    let store = &h.daemon.store;
    eventually(|| async move {
        let last = store
            .last_digest_period(list, DigestKind::Daily)
            .await
            .expect("periods");
        (last == Some(slot)).then_some(())
    })
    .await
    .is_some()
}

/// The raw copies `recipient` received, with their envelope senders.
fn raw_copies(h: &Harness, recipient: &str) -> Vec<(String, String)> {
    h.sink
        .messages()
        .into_iter()
        .filter(|m| m.recipients.iter().any(|r| r == recipient))
        .map(|m| (m.mail_from, String::from_utf8_lossy(&m.data).into_owned()))
        .collect()
}

/// The value of the first header field `name` of a raw message, unfolded.
fn header(raw: &str, name: &str) -> String {
    let head = raw.split("\r\n\r\n").next().unwrap_or_default();
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
        .unwrap_or_default()
        .to_owned()
}

async fn a_french_daily_digest_carries_the_days_postings(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = start(db, &clock).await;
    subscribe(&h, "open", REINE, "fr").await;
    subscribe(&h, "open", EACH, "en").await;
    choose(&h, "open", REINE, DAILY).await;
    let to = format!("open@{DOMAIN}");
    for subject in ["Première réunion", "Second meeting", "Third meeting"] {
        h.write(POSTER, &to, subject, "Hello all.\r\n").await;
    }
    // Every posting to the member who gets each one; none to the member in digest mode.
    assert_eq!(h.received_by(EACH).len(), 3);
    assert_eq!(h.received_by(REINE).len(), 0);

    clock.set(first_slot());
    assert!(wait_for_mail(&h, REINE, 1).await, "no digest");
    assert!(h.queue_drained().await);
    let copies = raw_copies(&h, REINE);
    assert_eq!(copies.len(), 1);
    let (envelope_from, raw) = &copies[0];
    assert!(
        envelope_from.starts_with("open-bounces+") && envelope_from.ends_with(DOMAIN),
        "VERP sender: {envelope_from}"
    );
    assert!(
        header(raw, "Content-Type").starts_with("multipart/mixed;"),
        "{raw}"
    );
    assert_eq!(header(raw, "Content-Language"), "fr");
    assert!(
        header(raw, "List-Id").contains(&format!("<open.{DOMAIN}>")),
        "{raw}"
    );
    assert!(
        header(raw, "From").contains(&format!("<open-request@{DOMAIN}>")),
        "{raw}"
    );
    let unsubscribe = header(raw, "List-Unsubscribe");
    assert!(
        unsubscribe.starts_with("<mailto:open-leave+"),
        "{unsubscribe}"
    );
    let url = unsubscribe
        .split('<')
        .nth(2)
        .and_then(|rest| rest.split('>').next())
        .expect("an https URL")
        .to_owned();
    assert!(url.starts_with(&format!("https://{DOMAIN}/")), "{url}");
    assert_eq!(
        header(raw, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(raw.matches("Content-Type: multipart/digest;").count(), 1);
    assert_eq!(raw.matches("Content-Type: message/rfc822").count(), 3);
    assert!(!raw.contains("unsubscribe.invalid"), "placeholder left");

    let parsed = &h.received_by(REINE)[0];
    assert_eq!(
        parsed.subject(),
        Some("Recueil quotidien de Open Forum, 2030-03-12")
    );
    let contents = parsed.body_text(0).expect("contents").to_string();
    assert!(contents.contains("Sujets du jour :"), "{contents}");
    let toc: Vec<&str> = contents
        .lines()
        .filter(|line| line.starts_with("  ") && line.contains(". "))
        .map(str::trim)
        .collect();
    assert_eq!(
        toc,
        [
            "1. Première réunion (Author)",
            "2. Second meeting (Author)",
            "3. Third meeting (Author)",
        ],
        "{contents}"
    );
    // The member's own one-click link, in the text as in the header.
    assert!(contents.contains(&url), "{contents}");
    assert!(contents.contains(&format!("open-request@{DOMAIN}")));
    let postings: Vec<String> = parsed
        .attachments()
        .filter_map(|part| part.message())
        .map(|m| m.subject().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        postings,
        ["Première réunion", "Second meeting", "Third meeting"]
    );
    // Only the fields a reader needs: no trace field of the list's relay in the postings.
    let inner = raw
        .split("Content-Type: message/rfc822")
        .nth(1)
        .expect("a posting");
    assert!(!inner.contains("Received: by"), "{inner}");

    // The next day had no posting: nothing is sent, and the period is done with.
    clock.set(first_slot() + DAY);
    assert!(period_recorded(&h, "open", first_slot() + DAY).await);
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(REINE).len(), 1);
    assert_eq!(h.received_by(EACH).len(), 3);
    h.daemon.shutdown().await;
}

async fn a_held_posting_approved_the_next_day_is_in_the_next_digest(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = start(db, &clock).await;
    subscribe(&h, "forum", REINE, "en").await;
    subscribe(&h, "forum", POSTER, "en").await;
    choose(&h, "forum", REINE, DAILY).await;
    let to = format!("forum@{DOMAIN}");
    h.send(
        POSTER,
        &to,
        &crate::common::message(POSTER, &to, "Held for a day", "Hello.\r\n"),
    )
    .await;
    let store = &h.daemon.store;
    let held = eventually(|| async move {
        let held = store.messages_in_state("held").await.expect("held");
        held.first().map(|m| m.id)
    })
    .await
    .expect("the posting is held");

    // The first morning's digest: the posting is still held, so it has nothing to carry.
    clock.set(first_slot());
    assert!(period_recorded(&h, "forum", first_slot()).await);
    assert!(h.queue_drained().await);
    assert_eq!(h.received_by(REINE).len(), 0);

    // Approved during the next day: it is sent then, so the next morning's digest has it.
    assert!(store.release_held(held).await.expect("approve"));
    assert!(h.queue_drained().await);
    assert_eq!(
        h.received_by(POSTER).len(),
        1,
        "the poster gets every posting"
    );
    clock.set(first_slot() + DAY);
    assert!(wait_for_mail(&h, REINE, 1).await, "no digest the next day");
    let digest = &h.received_by(REINE)[0];
    assert_eq!(
        digest.subject(),
        Some("Moderated Forum daily digest, 2030-03-13")
    );
    let postings: Vec<String> = digest
        .attachments()
        .filter_map(|part| part.message())
        .map(|m| m.subject().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(postings, ["Held for a day"]);
    h.daemon.shutdown().await;
}

async fn a_period_is_sent_once_across_a_restart_and_a_second_daemon(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = start(db, &clock).await;
    let members = ["m1@ngo.example", "m2@ngo.example", "m3@ngo.example"];
    for member in members {
        subscribe(&h, "open", member, "en").await;
        choose(&h, "open", member, DAILY).await;
    }
    let to = format!("open@{DOMAIN}");
    h.write(POSTER, &to, "Once only", "Hello.\r\n").await;

    // A second daemon on the same database, and both racing for the same slot, twice each.
    let other = start(db, &clock).await;
    let (mine, theirs) = (
        Arc::clone(&h.daemon.digests),
        Arc::clone(&other.daemon.digests),
    );
    let slot = first_slot();
    tokio::join!(
        mine.run_due(slot),
        theirs.run_due(slot),
        mine.run_due(slot + 1000),
        theirs.run_due(slot + 2000),
    );
    assert!(period_recorded(&h, "open", slot).await);
    // The first daemon stops at once, some copies perhaps still queued; it starts again.
    h.daemon.shutdown().await;
    let again = start(db, &clock).await;
    clock.set(slot + HOUR);
    assert!(again.queue_drained().await);
    assert!(other.queue_drained().await);
    for member in members {
        let received: usize = [&h.sink, &other.sink, &again.sink]
            .iter()
            .flat_map(|sink| sink.messages())
            .filter(|m| m.recipients.iter().any(|r| r == member))
            .count();
        assert_eq!(received, 1, "{member} got {received} digests");
        let deliveries = again
            .daemon
            .store
            .deliveries_of("open")
            .await
            .expect("deliveries")
            .into_iter()
            .filter(|d| d.0 == member)
            .count();
        assert_eq!(deliveries, 1, "{member}");
    }
    other.daemon.shutdown().await;
    again.daemon.shutdown().await;
}

async fn members_choose_by_email_command_and_in_the_console(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(start_time()));
    let h = start(db, &clock).await;
    subscribe(&h, "open", REINE, "fr").await;
    let request = format!("open-request@{DOMAIN}");
    let store = &h.daemon.store;

    // By email: applied, and answered in the member's language.
    h.write(REINE, &request, "", "digest weekly\r\n").await;
    let mode = store.delivery_mode("open", REINE).await.expect("mode");
    assert_eq!(mode, Some(DeliveryMode::Digest(DigestKind::Weekly)));
    let replies = h.received_by(REINE);
    let reply = replies.last().expect("a reply");
    let text = reply.body_text(0).expect("text").replace("\r\n", "\n");
    assert!(text.contains("> digest weekly"), "{text}");
    assert!(text.contains("un recueil par semaine"), "{text}");
    h.write(REINE, &request, "digest off", "").await;
    let mode = store.delivery_mode("open", REINE).await.expect("mode");
    assert_eq!(mode, Some(DeliveryMode::Each));
    // An argument that is not one of the three changes nothing.
    h.write(REINE, &request, "", "digest sometimes\r\n").await;
    let mode = store.delivery_mode("open", REINE).await.expect("mode");
    assert_eq!(mode, Some(DeliveryMode::Each));

    // In the web console: a choice per list on the member's own page, with the session's
    // CSRF token; a form without it changes nothing.
    let mut browser = Browser::new(&h);
    let mails = h.received_by(REINE).len();
    assert!(mails > 0);
    browser.sign_in(&h, REINE, 1).await;
    let page = browser.request("GET", "/console/account", "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<option value=\"each\" selected>Chaque message</option>"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let forged = browser
        .request(
            "POST",
            "/console/account/digest",
            "csrf=forged&list=open&mode=daily",
        )
        .await;
    assert_ne!(forged.status, 200, "{}", forged.body);
    assert_eq!(
        store.delivery_mode("open", REINE).await.expect("mode"),
        Some(DeliveryMode::Each)
    );
    let set = browser
        .request(
            "POST",
            "/console/account/digest",
            &format!("csrf={csrf}&list=open&mode=daily"),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert!(
        set.body.contains("Mode de réception enregistré"),
        "{}",
        set.body
    );
    assert_eq!(
        store.delivery_mode("open", REINE).await.expect("mode"),
        Some(DAILY)
    );
    let page = browser.request("GET", "/console/account", "").await;
    assert!(page
        .body
        .contains("<option value=\"daily\" selected>Recueil quotidien</option>"));
    // A list she is not on is not found, and nothing changes.
    let elsewhere = browser
        .request(
            "POST",
            "/console/account/digest",
            &format!("csrf={csrf}&list=forum&mode=daily"),
        )
        .await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    h.daemon.shutdown().await;
}

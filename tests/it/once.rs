//! Three daemons on one PostgreSQL database, as operators run them behind one Postfix that
//! hands each message to any of them: every kind of work other than delivery is done once.
//! Commands, bounces, moderators' decisions and notices, scheduled editions (with the
//! daemons' clocks a few seconds apart, and one of them down at the slot), and a bounce a
//! crashed daemon left half-read.
//!
//! PostgreSQL only: several daemons share a PostgreSQL database, never a SQLite file (the
//! claims themselves are tried on both in the store's own tests).

use std::path::Path;
use std::sync::Arc;

use crate::common::{
    eventually, message, reply_to, Harness, SmtpClient, TestDb, BULLETIN, DOMAIN, EDITOR,
};
use tidings::config::Config;
use tidings::daemon::Daemon;
use tidings::publications::clock::{Clock, ManualClock, SystemClock};
use tidings::publications::ItemInput;
use tidings::store::{Job, MessageKind, NewMessage, Store};

const MODERATOR: &str = "mod@coalition.test.example";
const AUTHOR: &str = "author@ngo.example";

/// 1 March 2027, 09:00 in Amsterdam (CET): the Bulletin's slot.
const MARCH: i64 = 1_803_888_000_000;
const DAY: i64 = 86_400_000;

/// Three daemons on one database, relaying to one sink: `first` is a [`Harness`] (its
/// sink, its DNS server and configuration are the cluster's), `others` run the same
/// configuration under their own node names.
struct Cluster {
    first: Harness,
    others: Vec<Daemon>,
}

/// The test configuration under node name `node`, with `extra` appended.
fn as_node(node: &'static str, extra: &'static str) -> impl FnOnce(String) -> String {
    move |toml| {
        let toml = toml.replace(
            "[delivery]\n",
            &format!("[delivery]\nnode_name = \"{node}\"\n"),
        );
        format!("{toml}\n{extra}\n")
    }
}

impl Cluster {
    /// Starts three daemons; each goes by its own clock.
    async fn start(db: &TestDb, extra: &'static str, clocks: [Arc<dyn Clock>; 3]) -> Cluster {
        let [first_clock, second, third] = clocks;
        let first = Harness::start_with_clock(db, as_node("node-a", extra), first_clock).await;
        let mut cluster = Cluster {
            first,
            others: Vec::new(),
        };
        for (node, clock) in [("node-b", second), ("node-c", third)] {
            let daemon = cluster.start_node(node, clock).await;
            cluster.others.push(daemon);
        }
        cluster
    }

    /// Another daemon on the cluster's database and sink, named `node`.
    async fn start_node(&self, node: &str, clock: Arc<dyn Clock>) -> Daemon {
        let toml = self
            .first
            .toml
            .replace("node_name = \"node-a\"", &format!("node_name = \"{node}\""));
        let config = Config::from_toml(
            &toml,
            Path::new("test.toml"),
            Vec::new(),
            &tidings::dkim::keys::Files,
        )
        .expect("test config is valid");
        Daemon::start_with_clock(config, clock)
            .await
            .expect("daemon starts")
    }

    fn store(&self) -> &Store {
        &self.first.daemon.store
    }

    /// Every daemon, the first one first.
    fn daemons(&self) -> Vec<&Daemon> {
        std::iter::once(&self.first.daemon)
            .chain(self.others.iter())
            .collect()
    }

    /// The LMTP address of daemon `n` (0, 1 or 2), as Postfix would pick one.
    fn lmtp_of(&self, n: usize) -> std::net::SocketAddr {
        let daemons = self.daemons();
        daemons[n % daemons.len()].lmtp_addr.expect("lmtp listener")
    }

    /// Hands `raw` to daemon `n` over LMTP, as the front MTA does; with `proven`, its
    /// Authentication-Results say the sender's domain passed DMARC.
    async fn hand_in(&self, n: usize, envelope_from: &str, to: &str, raw: &[u8], proven: bool) {
        let mut bytes = Vec::new();
        if proven {
            let domain = envelope_from.rsplit_once('@').map_or("", |(_, d)| d);
            bytes.extend_from_slice(
                format!("Authentication-Results: mx.{DOMAIN}; dmarc=pass header.from={domain}\r\n")
                    .as_bytes(),
            );
        }
        bytes.extend_from_slice(raw);
        let mut client = SmtpClient::connect(self.lmtp_of(n)).await;
        let rcpt = client.envelope("LHLO", envelope_from, &[to]).await;
        assert!(rcpt[0].starts_with("250"), "{to}: {rcpt:?}");
        let reply = client.data(&bytes, 1).await.remove(0);
        assert!(reply.starts_with("250"), "{to}: {reply}");
    }

    async fn shutdown(self) {
        for daemon in self.others {
            daemon.shutdown().await;
        }
        self.first.daemon.shutdown().await;
    }
}

fn system_clocks() -> [Arc<dyn Clock>; 3] {
    [
        Arc::new(SystemClock),
        Arc::new(SystemClock),
        Arc::new(SystemClock),
    ]
}

/// A fresh PostgreSQL schema, or `None` where PostgreSQL is not reachable outside CI.
async fn postgres(test: &str) -> Option<TestDb> {
    TestDb::postgres(test).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_joins_over_three_daemons_send_a_hundred_confirmations() {
    let Some(db) = postgres("hundred_joins").await else {
        return;
    };
    let cluster = Cluster::start(&db, "", system_clocks()).await;
    let joiners: Vec<String> = (0..100).map(|i| format!("joiner{i}@ngo.example")).collect();
    let to = format!("news-join@{DOMAIN}");
    for (n, joiner) in joiners.iter().enumerate() {
        let raw = message(joiner, &to, "join", "");
        cluster.hand_in(n, joiner, &to, &raw, false).await;
    }
    let sink = &cluster.first.sink;
    let received = eventually(|| async move {
        let to_joiners = sink
            .messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r.starts_with("joiner")))
            .count();
        (to_joiners >= 100).then_some(to_joiners)
    })
    .await;
    assert_eq!(received, Some(100), "every joiner asked to confirm");
    assert!(cluster.first.queue_drained().await);
    for joiner in &joiners {
        let requests = cluster.first.received_by(joiner);
        assert_eq!(requests.len(), 1, "{joiner}: one confirmation request");
        assert!(reply_to(&requests[0]).starts_with("news-confirm+"));
    }
    let counts = cluster.store().message_counts().await.expect("counts");
    let processed: i64 = counts
        .iter()
        .filter(|(list, state, _)| list == "news" && state == "processed")
        .map(|(_, _, n)| n)
        .sum();
    assert_eq!(processed, 100, "{counts:?}");
    cluster.shutdown().await;
    db.cleanup().await;
}

/// A delivery report for `recipient`.
fn report(recipient: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.ngo.example\r\nTo: bounces\r\nSubject: Undelivered Mail\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; \
         boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\
         --b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.ngo.example\r\n\
         \r\nFinal-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--b--\r\n"
    )
    .into_bytes()
}

/// Bounces counted for the open list: (score of each address, failures logged).
async fn bounce_counts(store: &Store) -> (Vec<(String, i64)>, i64) {
    let report = store.bounce_report(Some("open"), 30).await.expect("report");
    let scores = report
        .scores
        .into_iter()
        .map(|(_, address, score, ..)| (address, score))
        .collect();
    let logged = report.by_domain.iter().map(|(_, _, _, n, _)| n).sum();
    (scores, logged)
}

/// Subscribes `count` members to the open list, posts once through the first daemon and
/// returns each member's address with the VERP envelope sender of their copy.
async fn post_to_many(cluster: &Cluster, count: usize) -> Vec<(String, String)> {
    let members: Vec<String> = (0..count).map(|i| format!("gone{i}@ngo.example")).collect();
    let borrowed: Vec<&str> = members.iter().map(String::as_str).collect();
    cluster.first.subscribe("open", &borrowed).await;
    cluster
        .first
        .write(AUTHOR, &format!("open@{DOMAIN}"), "News", "Hello\r\n")
        .await;
    let copies = cluster.first.sink.messages();
    members
        .into_iter()
        .map(|member| {
            let copy = copies
                .iter()
                .find(|m| m.recipients.contains(&member))
                .unwrap_or_else(|| panic!("no copy for {member}"));
            (member, copy.mail_from.clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_bounce_is_counted_once_by_three_daemons() {
    let Some(db) = postgres("bounce_once").await else {
        return;
    };
    let cluster = Cluster::start(&db, "", system_clocks()).await;
    let copies = post_to_many(&cluster, 20).await;
    for (n, (member, verp)) in copies.iter().enumerate() {
        cluster.hand_in(n, "", verp, &report(member), false).await;
    }
    assert!(cluster.first.queue_drained().await);
    let (scores, logged) = bounce_counts(cluster.store()).await;
    assert_eq!(logged, 20, "each bounce logged once");
    assert_eq!(scores.len(), 20, "{scores:?}");
    assert!(
        scores.iter().all(|(_, score)| *score == 1),
        "each member scored once: {scores:?}"
    );
    cluster.shutdown().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bounce_a_crashed_daemon_left_half_read_is_read_after_its_lease() {
    let Some(db) = postgres("bounce_crashed").await else {
        return;
    };
    let cluster = Cluster::start(&db, "", system_clocks()).await;
    let copies = post_to_many(&cluster, 1).await;
    let (member, verp) = copies[0].clone();
    let url = db.url.clone();
    cluster.shutdown().await;

    // A daemon took the bounce in, claimed it, and died reading it: the bounce is
    // `processing`, claimed by a node that will never finish it, for a few more seconds.
    let store = Store::open(&url, 2).await.expect("store");
    let bounce = NewMessage {
        list_name: "open".into(),
        kind: MessageKind::Bounce,
        envelope_from: String::new(),
        message_id: String::new(),
        peer: String::new(),
        recipient: verp,
        hold_reason: None,
        proof: String::new(),
        author: String::new(),
        author_policy: None,
        arrival: None,
    };
    let id = store
        .insert_messages(&report(&member), &[bounce])
        .await
        .expect("insert")[0];
    let crashed = store
        .claim_messages(Job::Bounces, "crashed-node", 10, 3_000)
        .await
        .expect("claim");
    assert_eq!(crashed.messages.len(), 1);
    store.close().await;

    let cluster = Cluster::start(&db, "", system_clocks()).await;
    let store = cluster.store();
    let done = eventually(|| async move {
        let message = store.message(id).await.expect("read").expect("stored");
        (message.state != "processing").then_some(message.state)
    })
    .await;
    assert_eq!(done.as_deref(), Some("processed"));
    let (scores, logged) = bounce_counts(store).await;
    assert_eq!(logged, 1);
    assert_eq!(scores, [(member, 1)]);
    assert!(
        !store
            .complete_claim(id, &crashed.token, "ignored", "")
            .await
            .expect("complete"),
        "the crashed claim no longer counts"
    );
    cluster.shutdown().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_held_posting_is_announced_and_decided_once() {
    let Some(db) = postgres("held_once").await else {
        return;
    };
    let cluster = Cluster::start(&db, "", system_clocks()).await;
    cluster.first.subscribe("forum", &[AUTHOR]).await;
    let to = format!("forum@{DOMAIN}");
    for n in 0..3 {
        let subject = format!("Held {n}");
        let raw = message(AUTHOR, &to, &subject, "Dear all,\r\nplease read.\r\n");
        cluster.hand_in(n, AUTHOR, &to, &raw, false).await;
    }
    assert!(cluster.first.queue_drained().await);
    let notices = cluster.first.received_by(MODERATOR);
    assert_eq!(notices.len(), 3, "one notice per held posting");
    // The moderator's rejection of each reaches all three daemons, as when Postfix hands a
    // message in again after losing the first answer.
    for notice in &notices {
        let moderate = reply_to(notice);
        let raw = message(MODERATOR, &moderate, "Re: held", "reject off topic\r\n");
        for n in 0..3 {
            cluster.hand_in(n, MODERATOR, &moderate, &raw, true).await;
        }
    }
    assert!(cluster.first.queue_drained().await);
    let rejections = cluster
        .first
        .received_by(AUTHOR)
        .into_iter()
        .filter(|m| m.body_text(0).is_some_and(|t| t.contains("off topic")))
        .count();
    assert_eq!(rejections, 3, "the author hears once per posting");
    let rejected = cluster
        .store()
        .messages_in_state("rejected")
        .await
        .expect("rejected");
    assert_eq!(rejected.len(), 3);
    let ignored = cluster
        .store()
        .messages_in_state("ignored")
        .await
        .expect("ignored");
    assert_eq!(ignored.len(), 6, "the repeated decisions change nothing");
    assert!(ignored.iter().all(|m| m.error == "posting already decided"));
    assert_eq!(
        cluster.first.received_by(MODERATOR).len(),
        3,
        "no notice again"
    );
    cluster.shutdown().await;
    db.cleanup().await;
}

/// The editions of the Bulletin once `settled` holds for them (15 s at most).
async fn bulletin_editions(
    store: &Store,
    settled: impl Fn(&[tidings::store::Edition]) -> bool,
) -> Vec<tidings::store::Edition> {
    let settled = &settled;
    let seen = eventually(|| async move {
        let editions = store.editions(Some("bulletin")).await.expect("editions");
        settled(&editions).then_some(editions)
    })
    .await;
    match seen {
        Some(editions) => editions,
        None => store.editions(Some("bulletin")).await.expect("editions"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slot_is_built_once_by_daemons_whose_clocks_differ() {
    let Some(db) = postgres("slot_skewed").await else {
        return;
    };
    // Three seconds apart, and the slot still ahead for all of them.
    let clocks = [
        Arc::new(ManualClock::new(MARCH - DAY)),
        Arc::new(ManualClock::new(MARCH - DAY - 2_000)),
        Arc::new(ManualClock::new(MARCH - DAY + 1_000)),
    ];
    let dyn_clocks: [Arc<dyn Clock>; 3] = [
        Arc::clone(&clocks[0]) as _,
        Arc::clone(&clocks[1]) as _,
        Arc::clone(&clocks[2]) as _,
    ];
    let cluster = Cluster::start(&db, BULLETIN, dyn_clocks).await;
    let publications = &cluster.first.daemon.publications;
    let bulletin = publications.publication("bulletin").expect("configured");
    publications
        .add_item(
            bulletin,
            ItemInput {
                title: "First story".into(),
                section: Some("News".into()),
                language: Some("en".into()),
                key: Some("first".into()),
                body: "Text.".into(),
                author: EDITOR.into(),
            },
        )
        .await
        .expect("item added");
    // The slot comes to the fastest clock first; the others reach it seconds later.
    clocks[2].set(MARCH + 1_000);
    let built = bulletin_editions(cluster.store(), |e| !e.is_empty()).await;
    assert_eq!(built.len(), 1, "{built:?}");
    clocks[0].set(MARCH);
    clocks[1].set(MARCH + 1_500);
    // A daemon that was down at the slot starts after it, and finds it built.
    let late_clock = Arc::new(ManualClock::new(MARCH + 60_000));
    let late = cluster
        .start_node("node-d", Arc::clone(&late_clock) as _)
        .await;
    // Each daemon's scheduler runs besides; asked here too, each by its own clock, so that
    // every one of them has certainly looked at the slot.
    let daemons = cluster.daemons();
    tokio::join!(
        daemons[0].publications.run_due(clocks[0].now_ms()),
        daemons[1].publications.run_due(clocks[1].now_ms()),
        daemons[2].publications.run_due(clocks[2].now_ms()),
        late.publications.run_due(late_clock.now_ms()),
    );
    assert!(cluster.first.queue_drained().await);
    let built = cluster
        .store()
        .editions(Some("bulletin"))
        .await
        .expect("editions");
    assert_eq!(built.len(), 1, "{built:?}");
    assert_eq!(built[0].scheduled_at, MARCH);
    assert_eq!(built[0].state, "awaiting_approval");
    let previews = cluster.first.received_by(EDITOR);
    assert_eq!(previews.len(), 1, "the editor is told once");
    late.shutdown().await;
    cluster.shutdown().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edition_built_by_a_daemon_that_stopped_before_telling_is_told_once() {
    let Some(db) = postgres("edition_untold").await else {
        return;
    };
    let clocks: [Arc<dyn Clock>; 3] = [
        Arc::new(ManualClock::new(MARCH - DAY)),
        Arc::new(ManualClock::new(MARCH - DAY)),
        Arc::new(ManualClock::new(MARCH - DAY)),
    ];
    let cluster = Cluster::start(&db, BULLETIN, clocks).await;
    let store = cluster.store();
    // What a daemon that stopped right after building leaves: the edition, no preview.
    let render = tidings::store::EditionRender {
        language: "en".into(),
        subject: "The Bulletin No. 1".into(),
        html: "<p>News</p>".into(),
        text: "News".into(),
        web_html: "<p>News</p>".into(),
    };
    let inserted = store
        .insert_edition(&tidings::store::NewEdition {
            publication: "bulletin",
            scheduled_at: MARCH - 10 * DAY,
            kind: "special",
            number: 1,
            state: "awaiting_approval",
            item_ids: &[],
            renders: &[render],
        })
        .await
        .expect("insert");
    let tidings::store::EditionInserted::Inserted(id) = inserted else {
        panic!("{inserted:?}");
    };
    // Every daemon's pass finds it at once, as a minute later.
    let later = tidings::store::now_ms() + 1;
    let passes = cluster
        .daemons()
        .into_iter()
        .map(|d| Arc::clone(&d.publications))
        .collect::<Vec<_>>();
    let (a, b, c) = tokio::join!(
        passes[0].finish_interrupted_builds(later),
        passes[1].finish_interrupted_builds(later),
        passes[2].finish_interrupted_builds(later),
    );
    let finished = [a.expect("a"), b.expect("b"), c.expect("c")];
    // How many passes find it depends on timing: a pass that selects after another one
    // (or a scheduler tick) has told the editors finds nothing left to do. What must hold
    // is that at least one found it and that the editors are told once.
    let found = finished.iter().sum::<usize>();
    assert!((1..=3).contains(&found), "found by {found} passes");
    assert!(cluster.first.queue_drained().await);
    let previews = cluster.first.received_by(EDITOR);
    assert_eq!(previews.len(), 1, "the editor is told once");
    assert!(reply_to(&previews[0]).starts_with("bulletin-confirm+"));
    let again = passes[0]
        .finish_interrupted_builds(tidings::store::now_ms() + 1)
        .await
        .expect("again");
    assert_eq!(again, 0, "told: nothing left to finish");
    let edition = store.edition(id).await.expect("read").expect("there");
    assert_eq!(edition.state, "awaiting_approval");
    cluster.shutdown().await;
    db.cleanup().await;
}

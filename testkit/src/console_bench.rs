//! `tidings-bench console`: how quickly the web console answers an owner of a large list.
//! One list of `--members` members and `--held` held postings is seeded straight into the
//! database, the daemon is started with its real HTTP router on loopback, an owner's session
//! is opened through the store (as a used sign-in link would), and pages are fetched over
//! HTTP: the roster's first page, a search for one address, a late page, the last page and
//! the held queue's first page. Each is timed `--runs` times; the median is printed.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};

use tidings::daemon::Daemon;
use tidings::store::{ImportLine, MessageKind, NewMessage, NewSession, Store};
use tidings::tokens::{digest, random_secret};

use crate::bench::BenchDatabase;
use crate::web_bench::{config, time_pages, BenchList};

#[derive(Debug, Clone, clap::Args)]
pub struct ConsoleArgs {
    /// Members of the benchmark list.
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
    /// Postings held for a moderator on the list.
    #[arg(long, default_value_t = 1_000)]
    pub held: usize,
    /// Times each page is fetched; the median is reported.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Run on PostgreSQL too, in a schema of its own dropped afterwards.
    #[arg(long)]
    pub postgres: Option<String>,
}

const OWNER: &str = "owner@bench.example";
/// Members seeded per call, each call one transaction of multi-row inserts.
const SEED_CHUNK: usize = 10_000;

pub async fn run(args: ConsoleArgs) -> anyhow::Result<()> {
    if args.members == 0 || args.runs == 0 {
        bail!("--members and --runs must be at least 1");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let mut databases = vec![BenchDatabase::prepare(None, dir.path()).await?];
    if let Some(url) = &args.postgres {
        databases.push(BenchDatabase::prepare(Some(url), dir.path()).await?);
    }
    for database in &databases {
        let result = measure(&args, &database.url, dir.path()).await;
        database.drop_schema().await;
        result?;
    }
    Ok(())
}

async fn measure(args: &ConsoleArgs, url: &str, dir: &Path) -> anyhow::Result<()> {
    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let started = Instant::now();
    let cookie = seed(args, url).await?;
    let seeded = started.elapsed();
    let daemon = Daemon::start(config(
        url,
        dir,
        "console-bench.toml",
        BenchList {
            posting: "moderated",
            visibility: "confidential",
            owner: OWNER,
        },
    )?)
    .await?;
    let web = daemon
        .http_addr
        .context("the benchmark daemon has no HTTP listener")?;
    println!(
        "tidings-bench console: {} members, {} held postings, {backend}, seeded in {:.1} s; \
         median of {} runs",
        args.members,
        args.held,
        seeded.as_secs_f64(),
        args.runs
    );
    let probe = args.members / 2;
    let late = args.members.saturating_sub(100);
    let pages = [
        (
            "roster, first page",
            "/console/lists/bench/members".to_owned(),
        ),
        (
            "roster, search for one address",
            format!("/console/lists/bench/members?q=member{probe:07}%40"),
        ),
        (
            "roster, a late page",
            format!("/console/lists/bench/members?after=member{late:07}%40bench.example"),
        ),
        (
            "roster, last page",
            "/console/lists/bench/members?last=1".to_owned(),
        ),
        (
            "held queue, first page",
            "/console/lists/bench/held".to_owned(),
        ),
    ];
    let timed = time_pages(web, &pages, args.runs, Some(&cookie)).await;
    daemon.shutdown().await;
    timed
}

/// Seeds the list and the held postings, opens the owner's session; returns the cookie
/// that carries it.
async fn seed(args: &ConsoleArgs, url: &str) -> anyhow::Result<String> {
    let store = Store::open(url, 4).await?;
    let members: Vec<ImportLine> = (0..args.members)
        .map(|i| ImportLine {
            address: format!("member{i:07}@bench.example"),
            display_name: format!("Member {i}"),
            language: ["en", "fr", "es", "pt", "ar"][i % 5].into(),
        })
        .collect();
    for chunk in members.chunks(SEED_CHUNK) {
        store.import_members("bench", chunk).await?;
    }
    for n in 0..args.held {
        let raw = format!(
            "From: Author {n} <author{n}@ngo.example>\r\nTo: bench@bench.example\r\n\
             Subject: Held posting {n}\r\nMessage-ID: <held{n}@bench.example>\r\n\r\n\
             Dear all,\r\n"
        );
        let message = NewMessage {
            list_name: "bench".into(),
            kind: MessageKind::Posting,
            envelope_from: format!("author{n}@ngo.example"),
            message_id: format!("<held{n}@bench.example>"),
            peer: "127.0.0.1".into(),
            recipient: "bench@bench.example".into(),
            hold_reason: Some("moderated".into()),
            proof: String::new(),
            author: format!("author{n}@ngo.example"),
            author_policy: None,
            arrival: None,
        };
        // Its moderators told already: in the queue, rather than for the daemon to notify.
        for id in store.insert_messages(raw.as_bytes(), &[message]).await? {
            store.move_message(id, "held_new", "held", None).await?;
        }
    }
    let session = random_secret();
    let nonce = digest("benchmark nonce");
    let request = store
        .open_sign_in(OWNER, &nonce, 60_000, 12 * 3_600_000)
        .await?;
    let new = NewSession {
        id_hash: &digest(&session),
        csrf_secret: &random_secret(),
        replaces: None,
    };
    if store.redeem_sign_in(request, &nonce, new).await?.is_none() {
        bail!("the owner's session could not be opened");
    }
    store.close().await;
    Ok(format!("__Host-tidings_session={session}"))
}

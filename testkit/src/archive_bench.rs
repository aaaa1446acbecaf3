//! `tidings-bench archive`: how quickly a list's archive answers with `--messages` messages
//! in it. Synthetic postings (threads of a few answers, subjects and texts drawn from a
//! vocabulary of a few thousand words, spread over three years) are read by the archive's
//! own `list_archive::entry` and stored in batches, the daemon is started with its real
//! HTTP router on loopback, and pages of the public list are fetched over HTTP: the list's
//! months, a month's threads, a thread, a message and three searches (a common word, a rare
//! one, two words). Each is timed `--runs` times; the median is printed.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context};

use tidings::daemon::Daemon;
use tidings::list_archive::entry::{entry, Posted};
use tidings::store::Store;

use crate::bench::BenchDatabase;
use crate::web_bench::{config, time_pages, BenchList};

#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveArgs {
    /// Messages in the benchmark list's archive.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Times each page is fetched; the median is reported.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Run on PostgreSQL too, in a schema of its own dropped afterwards.
    #[arg(long)]
    pub postgres: Option<String>,
}

/// Messages stored per transaction while seeding.
const SEED_CHUNK: usize = 1_000;
/// Messages per thread: a posting and its answers.
const THREAD: usize = 5;
/// The seeded messages span this many days, ending now.
const DAYS: i64 = 3 * 365;
const DAY_MS: i64 = 24 * 3600 * 1000;

pub async fn run(args: ArchiveArgs) -> anyhow::Result<()> {
    if args.messages < THREAD || args.runs == 0 {
        bail!("--messages must be at least {THREAD} and --runs at least 1");
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

/// The `n`th word of a vocabulary of made-up words: a few are common, most are rare (each
/// message draws its words with a skew, as texts do).
fn word(n: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ba", "de", "fi", "go", "ha", "ju", "pe",
        "zu",
    ];
    let mut n = n;
    let mut out = String::new();
    for _ in 0..3 {
        out.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    out
}

/// A word drawn with a skew: low numbers (common words) far more often than high ones.
fn skewed(rng: &mut impl rand::Rng) -> String {
    let x: f64 = rng.random();
    word((x * x * x * 4_000.0) as usize)
}

fn sentence(rng: &mut impl rand::Rng, words: usize) -> String {
    (0..words)
        .map(|_| skewed(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Seeds the archive; returns (a month, a thread's key, a message's key) to fetch.
async fn seed(args: &ArchiveArgs, url: &str) -> anyhow::Result<(String, String, String)> {
    let store = Store::open(url, 4).await?;
    let mut rng = rand::rng();
    let now = tidings::store::now_ms();
    let start = now - DAYS * DAY_MS;
    let step = (DAYS * DAY_MS) / args.messages as i64;
    let mut entries = Vec::with_capacity(SEED_CHUNK);
    let mut subject = String::new();
    for n in 0..args.messages {
        let at = start + n as i64 * step;
        let position = n % THREAD;
        let root = n - position;
        let (subject_line, threading) = if position == 0 {
            subject = sentence(&mut rng, 5);
            (subject.clone(), String::new())
        } else {
            (
                format!("Re: {subject}"),
                format!(
                    "In-Reply-To: <m{}@bench.example>\r\nReferences: <m{root}@bench.example> <m{}@bench.example>\r\n",
                    n - 1,
                    n - 1
                ),
            )
        };
        let date = chrono::DateTime::from_timestamp_millis(at)
            .context("a date")?
            .to_rfc2822();
        let raw = format!(
            "From: Author {a} <author{a}@ngo{b}.example>\r\nTo: bench@bench.example\r\n\
             Subject: {subject_line}\r\nMessage-ID: <m{n}@bench.example>\r\n{threading}\
             Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             {body}\r\n\r\n{body2}\r\n",
            a = n % 997,
            b = n % 13,
            body = sentence(&mut rng, 60),
            body2 = sentence(&mut rng, 60),
        );
        let archived = entry("bench", raw.as_bytes(), Posted::ReceivedAt(at))
            .context("a synthetic message the archive cannot read")?;
        entries.push(archived);
        if entries.len() == SEED_CHUNK {
            store.archive_messages(&entries).await?;
            entries.clear();
        }
    }
    store.archive_messages(&entries).await?;
    let months = store.archive_months("bench").await?;
    let (month, _) = months
        .get(months.len() / 2)
        .cloned()
        .context("the seeded archive has no month")?;
    let heads = store.archive_month("bench", &month).await?;
    let head = heads
        .get(heads.len() / 2)
        .cloned()
        .context("the middle month is empty")?;
    store.close().await;
    Ok((month, head.thread_key, head.message_key))
}

async fn measure(args: &ArchiveArgs, url: &str, dir: &Path) -> anyhow::Result<()> {
    let backend = if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let started = Instant::now();
    let (month, thread, message) = seed(args, url).await?;
    let seeded = started.elapsed();
    let daemon = Daemon::start(config(
        url,
        dir,
        "archive-bench.toml",
        BenchList {
            posting: "members",
            visibility: "public",
            owner: "owner@bench.example",
        },
    )?)
    .await?;
    let web = daemon
        .http_addr
        .context("the benchmark daemon has no HTTP listener")?;
    println!(
        "tidings-bench archive: {} messages, {backend}, seeded in {:.1} s; median of {} runs",
        args.messages,
        seeded.as_secs_f64(),
        args.runs
    );
    let common = word(1);
    let rare = word(3_500);
    let pages = [
        ("list index (months, counts)", "/archive/bench/".to_owned()),
        ("month index (threads)", format!("/archive/bench/{month}/")),
        ("thread page", format!("/archive/bench/thread/{thread}")),
        ("message page", format!("/archive/bench/message/{message}")),
        (
            "search, a common word",
            format!("/archive/bench/search?q={common}"),
        ),
        (
            "search, a rare word",
            format!("/archive/bench/search?q={rare}"),
        ),
        (
            "search, two words",
            format!("/archive/bench/search?q={}+{}", word(2), word(40)),
        ),
    ];
    let timed = time_pages(web, &pages, args.runs, None).await;
    daemon.shutdown().await;
    timed
}

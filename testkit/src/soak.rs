//! `tidings-bench soak`: a simulated year of a busy installation, to show that the database
//! stops growing once `[retention] days` have passed. Each simulated day posts to a list
//! through the store's own functions (stored, expanded to every member, claimed and sent,
//! one copy in a hundred failed), opens subscription requests and rate-limit events, stamps
//! that day's rows with the simulated date, and purges as the retention service would at
//! the end of that day. The size of the database is printed every simulated week.
//!
//! Nothing leaves the machine: no mail is sent (the outcomes are recorded as a relay would
//! answer), and the database is a temporary SQLite file or a schema of its own in the
//! PostgreSQL named, dropped afterwards.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::AnyPool;

use tidings::config::RetentionConfig;
use tidings::store::{
    now_ms, Backend, Claim, DeliveryOutcome, ImportLine, MessageKind, NewMessage, RequestKind,
    RequestLimits, Store,
};

use crate::bench::BenchDatabase;

const DAY_MS: i64 = 24 * 3_600_000;
const LIST: &str = "soak";

#[derive(Debug, clap::Args)]
pub struct SoakArgs {
    /// Simulated days (at most 730).
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Members of the list.
    #[arg(long, default_value_t = 1_000)]
    pub members: usize,
    /// Postings per simulated day.
    #[arg(long, default_value_t = 3)]
    pub postings: usize,
    /// Size of each posting in bytes.
    #[arg(long, default_value_t = 20_000)]
    pub size: usize,
    /// `[retention] days`.
    #[arg(long, default_value_t = 30)]
    pub retention_days: u64,
    /// A postgres:// URL: the soak runs in a schema of its own there, dropped afterwards.
    /// Without it, a temporary SQLite file.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1_800)]
    pub timeout: u64,
}

pub async fn run(args: SoakArgs) -> anyhow::Result<()> {
    if args.days == 0 || args.days > 730 || args.members == 0 || args.members > 100_000 {
        bail!("--days must be 1 to 730 and --members 1 to 100000");
    }
    if args.postings == 0 || args.postings > 100 || args.size > 10_000_000 {
        bail!("--postings must be 1 to 100 and --size at most 10000000");
    }
    if let Some(url) = args
        .postgres
        .as_deref()
        .filter(|u| !u.starts_with("postgres"))
    {
        bail!("--postgres takes a postgres:// URL (SQLite runs in a temporary file); got {url:?}");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database = BenchDatabase::prepare(args.postgres.as_deref(), dir.path()).await?;
    let limit = Duration::from_secs(args.timeout);
    let result = tokio::time::timeout(limit, soak(&args, &database.url, dir.path())).await;
    database.drop_schema().await;
    match result {
        Ok(outcome) => outcome,
        Err(_) => bail!("the soak did not finish within {} s", args.timeout),
    }
}

async fn soak(args: &SoakArgs, url: &str, dir: &Path) -> anyhow::Result<()> {
    let store = Store::open(url, 4).await?;
    let raw = AnyPool::connect(url).await?;
    let backend = store.backend();
    let members: Vec<ImportLine> = (0..args.members)
        .map(|n| ImportLine {
            address: format!("member{n}@soak.example"),
            display_name: String::new(),
            language: "en".into(),
        })
        .collect();
    store.import_members(LIST, &members).await?;
    let settings = RetentionConfig {
        days: args.retention_days,
        // Simulated days pass in well under a second: no pause to wait for.
        pause_ms: 0,
        ..RetentionConfig::default()
    };
    // Simulated dates lie wholly in the past, so that a row stamped with one is told from a
    // row just written (stamped with the real time) by its time alone.
    let started = now_ms();
    let first_day = started.div_euclid(DAY_MS) - i64::from(args.days) - 2;
    let clock = Instant::now();
    println!(
        "soak on {}: {} members, {} postings of {} bytes a day, retention {} days",
        label(backend),
        args.members,
        args.postings,
        args.size,
        args.retention_days
    );
    println!(
        "{:>5} {:>4} {:>10} {:>9} {:>11} {:>12} {:>8}",
        "WEEK", "DAY", "DELIVERIES", "MESSAGES", "SIZE_MB", "IN_USE_MB", "SECONDS"
    );
    for day in 0..i64::from(args.days) {
        let today = (first_day + day) * DAY_MS;
        simulate_day(&store, args, day).await?;
        stamp_new_rows(&raw, started, today).await?;
        let end_of_day = today + DAY_MS - 1;
        tidings::retention::purge(&store, &settings, end_of_day).await?;
        if backend == Backend::Postgres {
            // Stands in for autovacuum, which a real day gives ample time to run.
            let vacuum = "VACUUM messages, message_bodies, deliveries, requests, rate_events";
            sqlx::query(vacuum).execute(&raw).await?;
        }
        if (day + 1) % 7 == 0 || day + 1 == i64::from(args.days) {
            let size = size(&raw, backend, dir).await?;
            let (deliveries, messages) = rows(&raw).await?;
            println!(
                "{:>5} {:>4} {:>10} {:>9} {:>11.2} {:>12.2} {:>8.1}",
                (day + 6) / 7,
                day + 1,
                deliveries,
                messages,
                size.total as f64 / 1e6,
                size.in_use as f64 / 1e6,
                clock.elapsed().as_secs_f64()
            );
        }
    }
    let queued = store.queue_counts().await?;
    if let Some(counts) = queued.iter().find(|c| c.list_name == LIST) {
        println!(
            "tidings queue still counts {} sent and {} failed copies",
            counts.sent, counts.failed
        );
    }
    raw.close().await;
    store.close().await;
    Ok(())
}

/// One day's traffic: the postings, expanded, claimed and answered; some requests; some
/// rate-limited events.
async fn simulate_day(store: &Store, args: &SoakArgs, day: i64) -> anyhow::Result<()> {
    for n in 0..args.postings {
        let raw = posting(args.size, day, n);
        let ids = store.insert_messages(&raw, &[new_posting(day, n)]).await?;
        for id in ids {
            store.expand_to_subscribers(id, &raw, None).await?;
        }
    }
    loop {
        let claimed = store.claim_deliveries("soak", 1_000, 60_000).await?;
        if claimed.is_empty() {
            break;
        }
        let outcomes: Vec<(Claim, DeliveryOutcome)> =
            claimed.iter().map(|d| (d.claim(), outcome(d.id))).collect();
        store.record_outcomes(&outcomes).await?;
    }
    let limits = RequestLimits {
        lifetime_ms: 7 * DAY_MS,
        max_pending: 1_000_000,
        confirmations: 3,
        confirmations_window_ms: DAY_MS,
    };
    for n in 0..5 {
        let address = format!("new{day}-{n}@soak.example");
        store
            .open_request(LIST, RequestKind::Subscribe, &address, "en", &limits)
            .await?;
        store.rate_allow("soak", &address, 10, DAY_MS).await?;
    }
    Ok(())
}

/// One copy in a hundred is refused for good, the rest are taken.
fn outcome(id: i64) -> DeliveryOutcome {
    if id % 100 == 0 {
        DeliveryOutcome::Failed {
            reply: "550 5.1.1 no such mailbox".into(),
        }
    } else {
        DeliveryOutcome::Sent
    }
}

fn new_posting(day: i64, n: usize) -> NewMessage {
    NewMessage {
        list_name: LIST.into(),
        kind: MessageKind::Posting,
        envelope_from: "author@soak.example".into(),
        message_id: format!("<{day}.{n}@soak.example>"),
        peer: "127.0.0.1".into(),
        recipient: format!("{LIST}@soak.example"),
        hold_reason: None,
        proof: String::new(),
        author: "author@soak.example".into(),
        author_policy: None,
        arrival: None,
    }
}

fn posting(size: usize, day: i64, n: usize) -> Vec<u8> {
    let mut message = format!(
        "From: author@soak.example\r\nTo: {LIST}@soak.example\r\nSubject: day {day} posting {n}\r\n\
         Message-ID: <{day}.{n}@soak.example>\r\n\r\n"
    )
    .into_bytes();
    while message.len() < size {
        message.extend_from_slice(b"The quick brown fox jumps over the lazy dog, again.\r\n");
    }
    message
}

/// The rows written today carry the real time; they are given the simulated day's instead.
/// (The store takes its times from the system clock; the purge is told the simulated one.)
async fn stamp_new_rows(raw: &AnyPool, started: i64, today: i64) -> anyhow::Result<()> {
    let updates = [
        "UPDATE messages SET received_at = $2, updated_at = $2 WHERE updated_at >= $1",
        "UPDATE message_bodies SET created_at = $2 WHERE created_at >= $1",
        "UPDATE deliveries SET created_at = $2, updated_at = $2, next_attempt_at = $2 \
         WHERE updated_at >= $1",
        "UPDATE requests SET created_at = $2, updated_at = $2, expires_at = $2 + 604800000 \
         WHERE created_at >= $1",
        "UPDATE rate_events SET at = $2 WHERE at >= $1",
    ];
    let mut tx = raw.begin().await?;
    for sql in updates {
        sqlx::query(sql)
            .bind(started)
            .bind(today)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

struct Size {
    /// What the database takes on disk.
    total: i64,
    /// Less the pages SQLite keeps free for reuse.
    in_use: i64,
}

async fn size(raw: &AnyPool, backend: Backend, dir: &Path) -> anyhow::Result<Size> {
    match backend {
        Backend::Sqlite => {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(raw)
                .await?;
            let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
                .fetch_one(raw)
                .await?;
            let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                .fetch_one(raw)
                .await?;
            let file = std::fs::metadata(dir.join("bench.db"))?.len() as i64;
            let wal = std::fs::metadata(dir.join("bench.db-wal")).map_or(0, |m| m.len() as i64);
            Ok(Size {
                total: file + wal,
                in_use: file - free * page_size,
            })
        }
        Backend::Postgres => {
            // Tables with their indexes and TOAST, in this schema only.
            let total: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'",
            )
            .fetch_one(raw)
            .await?;
            Ok(Size {
                total,
                in_use: total,
            })
        }
    }
}

async fn rows(raw: &AnyPool) -> anyhow::Result<(i64, i64)> {
    let deliveries = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries")
        .fetch_one(raw)
        .await?;
    let messages = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(raw)
        .await?;
    Ok((deliveries, messages))
}

fn label(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

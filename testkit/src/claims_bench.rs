//! `tidings-bench claims`: how fast daemons sharing one database get through a burst of
//! email commands when each must be carried out once. The commands are stored first, then
//! one to `--daemons` stores (each its own pool, as each daemon has) claim and complete
//! them in batches as the command runner does, with no work in between: what is measured
//! is the claim itself. Each run checks that every command was completed exactly once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use tidings::store::{Job, MessageKind, NewMessage, Store, JOB_LEASE_MS};

use crate::bench::BenchDatabase;

#[derive(Debug, clap::Args)]
pub struct ClaimsArgs {
    /// Commands in the burst.
    #[arg(long, default_value_t = 5_000)]
    pub commands: usize,
    /// The daemon counts to measure, one run each, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    pub daemons: Vec<usize>,
    /// Commands claimed at a time (the runner claims 4).
    #[arg(long, default_value_t = 4)]
    pub batch: i64,
    /// A postgres:// URL: each run works in a schema of its own there, dropped afterwards.
    /// Without it, a temporary SQLite file (one daemon per file is how SQLite is run; more
    /// show what its single writer does to them).
    #[arg(long)]
    pub postgres: Option<String>,
    /// Give up a run after this many seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

pub async fn run(args: ClaimsArgs) -> anyhow::Result<()> {
    if args.commands == 0 || args.commands > 1_000_000 || args.batch < 1 || args.batch > 1_000 {
        bail!("--commands must be 1 to 1000000 and --batch 1 to 1000");
    }
    if args.daemons.iter().any(|&d| d == 0 || d > 16) {
        bail!("--daemons takes counts from 1 to 16");
    }
    println!(
        "{:<10} {:>8} {:>8} {:>10} {:>12}",
        "DATABASE", "DAEMONS", "BATCH", "SECONDS", "COMMANDS/S"
    );
    for &daemons in &args.daemons {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let database = BenchDatabase::prepare(args.postgres.as_deref(), dir.path()).await?;
        let limit = Duration::from_secs(args.timeout);
        let result = tokio::time::timeout(limit, burst(&args, daemons, &database.url)).await;
        database.drop_schema().await;
        let elapsed = match result {
            Ok(outcome) => outcome?,
            Err(_) => bail!("{daemons} daemons did not finish within {} s", args.timeout),
        };
        let kind = if args.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        };
        println!(
            "{kind:<10} {daemons:>8} {:>8} {:>10.2} {:>12.0}",
            args.batch,
            elapsed.as_secs_f64(),
            args.commands as f64 / elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// Stores the burst, lets `daemons` stores claim and complete it, checks that each command
/// was completed once, and returns the time the claiming took.
async fn burst(args: &ClaimsArgs, daemons: usize, url: &str) -> anyhow::Result<Duration> {
    let setup = Store::open(url, 2).await?;
    let command = NewMessage {
        list_name: "news".into(),
        kind: MessageKind::Command,
        envelope_from: "joiner@ngo.example".into(),
        message_id: String::new(),
        peer: String::new(),
        recipient: "news-join@lists.example".into(),
        hold_reason: None,
        proof: String::new(),
        author: String::new(),
        author_policy: None,
        arrival: None,
    };
    for chunk in vec![command; args.commands].chunks(500) {
        setup
            .insert_messages(b"Subject: join\r\n\r\n", chunk)
            .await?;
    }
    let mut stores = Vec::with_capacity(daemons);
    for _ in 0..daemons {
        stores.push(Store::open(url, 2).await?);
    }
    let completed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut runners = Vec::new();
    for (n, store) in stores.iter().enumerate() {
        let (store, completed) = (store.clone(), Arc::clone(&completed));
        let node = format!("bench-{n}");
        // Bounded: no daemon needs more rounds than there are commands.
        let rounds = args.commands + 1;
        let batch = args.batch;
        runners.push(tokio::spawn(async move {
            for _ in 0..rounds {
                let claimed = store
                    .claim_messages(Job::Commands, &node, batch, JOB_LEASE_MS)
                    .await?;
                if claimed.messages.is_empty() {
                    break;
                }
                for message in &claimed.messages {
                    if store
                        .complete_claim(message.id, &claimed.token, "processed", "")
                        .await?
                    {
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for runner in runners {
        runner.await.context("a claimer panicked")??;
    }
    let elapsed = started.elapsed();
    let processed: i64 = setup
        .message_counts()
        .await?
        .iter()
        .filter(|(_, state, _)| state == "processed")
        .map(|(_, _, n)| n)
        .sum();
    let completed = completed.load(Ordering::Relaxed);
    if completed != args.commands as u64 || processed != args.commands as i64 {
        bail!(
            "{daemons} daemons completed {completed} claims and left {processed} commands \
             processed, of {}",
            args.commands
        );
    }
    for store in stores {
        store.close().await;
    }
    setup.close().await;
    Ok(elapsed)
}

//! `tidings-bench cluster`: several daemons on one PostgreSQL database.
//!
//! First the fan-out of one posting with 1, 2, 3… daemons (each a node of its own, with its
//! own database pool and relay connections, in this one process) into one loopback sink,
//! with the rows PostgreSQL wrote per copy; then the database's own write rate for the
//! delivery path, with the deliveries table holding `--rows` rows: rows inserted per second
//! (as an expansion inserts them), and copies claimed and recorded per second by the
//! store's own claim and outcome statements, the SMTP side left out.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::PgPool;

use tidings::config::Config;
use tidings::daemon::Daemon;
use tidings::store::{now_ms, Claim, DeliveryOutcome, ImportLine, Store};

use tidings_testkit::sink::Sink;

use crate::bench::{post, posting, BenchDatabase};

#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// The PostgreSQL database; the benchmark works in schemas of its own, dropped after.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub postgres: String,
    /// Subscribers of the benchmark list.
    #[arg(long, default_value_t = 30_000)]
    pub subscribers: usize,
    /// Daemons per fan-out, one fan-out each, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub daemons: Vec<usize>,
    /// Relay connections (delivery workers) per daemon.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Deliveries claimed per batch.
    #[arg(long, default_value_t = 200)]
    pub batch: usize,
    /// Size of the posting in bytes.
    #[arg(long, default_value_t = 20_000)]
    pub size: usize,
    /// Delivery rows in the table for the write-rate measurement (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: i64,
    /// Claiming tasks in the write-rate measurement (workers of all nodes together).
    #[arg(long, default_value_t = 12)]
    pub claimers: usize,
    /// Longest the claim-and-record measurement runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub write_seconds: u64,
    /// Give up on a fan-out after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    if !args.postgres.starts_with("postgres") {
        bail!(
            "--postgres takes a postgres:// URL (several daemons share PostgreSQL only); got {:?}",
            args.postgres
        );
    }
    if args.subscribers == 0 || args.connections == 0 || args.batch == 0 {
        bail!("--subscribers, --connections and --batch must be at least 1");
    }
    if args.daemons.iter().any(|&n| n == 0 || n > 16) {
        bail!("--daemons takes counts between 1 and 16, e.g. 1,2,3");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database = BenchDatabase::prepare(Some(&args.postgres), dir.path()).await?;
    let fan_outs = fan_outs(&args, &database.url).await;
    database.drop_schema().await;
    let fan_outs = fan_outs?;
    let writes = if args.rows > 0 {
        let database = BenchDatabase::prepare(Some(&args.postgres), dir.path()).await?;
        let writes = write_rate(&args, &database.url).await;
        database.drop_schema().await;
        Some(writes?)
    } else {
        None
    };
    let version = server_version(&args.postgres).await.unwrap_or_default();
    println!(
        "tidings-bench cluster: {} subscribers, {}-byte posting, {} relay connections per \
         daemon, batches of {}; {version}",
        args.subscribers, args.size, args.connections, args.batch
    );
    println!(
        "  daemons   seconds   copies/s   per daemon   rows written per copy (inserted + updated)   commits per copy (whole server)"
    );
    for run in &fan_outs {
        let seconds = run.elapsed.as_secs_f64();
        let rate = args.subscribers as f64 / seconds.max(1e-9);
        let copies = args.subscribers as f64;
        println!(
            "  {:>7} {:>9.2} {:>10.0} {:>12.0}   {:>5.2} ({:.2} + {:.2}){:>25.2}",
            run.daemons,
            seconds,
            rate,
            rate / run.daemons as f64,
            (run.inserted + run.updated) as f64 / copies,
            run.inserted as f64 / copies,
            run.updated as f64 / copies,
            run.commits as f64 / copies,
        );
    }
    println!("  (daemons in one process on this machine's cores; the sink in the same process)");
    if let Some(writes) = writes {
        println!("{writes}");
    }
    Ok(())
}

/// One fan-out with `daemons` daemons.
struct FanOut {
    daemons: usize,
    elapsed: Duration,
    /// Rows of `deliveries` PostgreSQL counted as inserted and updated during the fan-out.
    inserted: i64,
    updated: i64,
    /// Transactions committed in the database during the fan-out (all clients).
    commits: i64,
}

async fn fan_outs(args: &ClusterArgs, url: &str) -> anyhow::Result<Vec<FanOut>> {
    let store = Store::open(url, 4).await?;
    let members: Vec<ImportLine> = (0..args.subscribers)
        .map(|i| ImportLine {
            // Many domains, as a real list has: the per-domain limit is not what is measured.
            address: format!("member{i:07}@ngo{}.example", i % 97),
            display_name: String::new(),
            language: "en".into(),
        })
        .collect();
    for chunk in members.chunks(5_000) {
        store.import_members("bench", chunk).await?;
    }
    store.close().await;
    let stats = PgPool::connect(&args.postgres).await?;
    let schema = schema_of(url);
    let mut runs = Vec::new();
    for (number, &daemons) in args.daemons.iter().enumerate() {
        let sink = Sink::start(false)
            .await
            .context("cannot start the loopback sink")?;
        let mut started = Vec::new();
        for _ in 0..daemons {
            started.push(Daemon::start(daemon_config(args, url, sink.addr.port())?).await?);
        }
        let smtp = started[0]
            .smtp_addr
            .context("the benchmark daemon has no SMTP listener")?;
        let before = counters(&stats, &schema).await?;
        let clock = Instant::now();
        post(
            smtp.port(),
            &posting(args.size, &format!("cluster{number}")),
        )
        .await?;
        let delivered = sink
            .wait_for(args.subscribers as u64, Duration::from_secs(args.timeout))
            .await;
        let elapsed = clock.elapsed();
        for daemon in started {
            daemon.shutdown().await;
        }
        if delivered < args.subscribers as u64 {
            bail!(
                "{daemons} daemons: only {delivered} of {} copies within {} s",
                args.subscribers,
                args.timeout
            );
        }
        // PostgreSQL's statistics reach the views when a backend flushes them (at the
        // latest a second after its last transaction, or as it exits).
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let after = counters(&stats, &schema).await?;
        runs.push(FanOut {
            daemons,
            elapsed,
            inserted: after.inserted - before.inserted,
            updated: after.updated - before.updated,
            commits: after.commits - before.commits,
        });
    }
    stats.close().await;
    Ok(runs)
}

fn daemon_config(args: &ClusterArgs, url: &str, relay_port: u16) -> anyhow::Result<Config> {
    let text = format!(
        r#"
secret = "benchmark-secret-benchmark-secret-benchmark"
[server]
domain = "bench.example"
smtp_listen = "127.0.0.1:0"
lmtp_listen = ""
http_listen = ""
base_url = "https://bench.example"
[metrics]
listen = ""
[relay]
host = "127.0.0.1"
port = {relay_port}
pool_size = {connections}
[delivery]
batch_size = {batch}
poll_interval_ms = 200
[database]
url = "{url}"
max_connections = {pool}
[dns]
servers = ["127.0.0.1:9"]
[authentication]
verify_locally = false
[dmarc]
rewrite_from = "never"
[[lists]]
name = "bench"
display_name = "Benchmark"
posting = "open"
subscription = "closed"
visibility = "public"
owners = ["owner@bench.example"]
"#,
        connections = args.connections,
        batch = args.batch,
        pool = args.connections + 4,
    );
    Ok(Config::from_toml(
        &text,
        std::path::Path::new("<bench cluster>"),
        Vec::new(),
        &tidings::dkim::keys::Files,
    )?)
}

/// The schema a benchmark URL works in (`options[search_path]=…`).
fn schema_of(url: &str) -> String {
    url.rsplit_once("search_path]=")
        .map_or("public", |(_, schema)| schema)
        .to_string()
}

#[derive(Debug, Clone, Copy)]
struct Counters {
    inserted: i64,
    updated: i64,
    commits: i64,
}

/// Rows of the schema's `deliveries` inserted and updated so far, and the database's
/// committed transactions (every client's: other work on the server counts too).
async fn counters(pool: &PgPool, schema: &str) -> anyhow::Result<Counters> {
    let (inserted, updated): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(SUM(n_tup_ins), 0)::BIGINT, COALESCE(SUM(n_tup_upd), 0)::BIGINT \
         FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'deliveries'",
    )
    .bind(schema)
    .fetch_one(pool)
    .await?;
    let commits: i64 = sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await?;
    Ok(Counters {
        inserted,
        updated,
        commits,
    })
}

async fn server_version(url: &str) -> anyhow::Result<String> {
    let pool = PgPool::connect(url).await?;
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(format!("PostgreSQL {version}"))
}

/// The delivery path's writes with the table at `--rows` rows.
struct Writes {
    rows: i64,
    insert: Duration,
    claimers: usize,
    copies: u64,
    claim_and_record: Duration,
    table_mb: f64,
}

impl std::fmt::Display for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let insert = self.insert.as_secs_f64();
        let claimed = self.claim_and_record.as_secs_f64();
        let copies_per_second = self.copies as f64 / claimed.max(1e-9);
        writeln!(
            f,
            "  write rate at {} delivery rows ({:.0} MB with indexes):",
            self.rows, self.table_mb
        )?;
        writeln!(
            f,
            "    insert (as expansion)   {:>8.1} s  {:>9.0} rows/s inserted",
            insert,
            self.rows as f64 / insert.max(1e-9)
        )?;
        write!(
            f,
            "    claim + record          {:>8.1} s  {:>9.0} copies/s = {:.0} rows/s updated \
             ({} claiming tasks, {} copies; no SMTP)",
            claimed,
            copies_per_second,
            2.0 * copies_per_second,
            self.claimers,
            self.copies
        )
    }
}

/// Copies recorded per outcome transaction, as the outcome writer gathers them.
const OUTCOMES_PER_COMMIT: usize = 64;
/// Rows inserted per statement, as one expansion of a large list would.
const INSERT_CHUNK: i64 = 100_000;

async fn write_rate(args: &ClusterArgs, url: &str) -> anyhow::Result<Writes> {
    let store = Store::open(url, (args.claimers + 2) as u32).await?;
    let message_id = store
        .queue_notice(
            "bench",
            &["seed@ngo0.example".into()],
            &posting(args.size, "writes"),
        )
        .await?;
    let pool = PgPool::connect(url).await?;
    let clock = Instant::now();
    let mut first = 1;
    while first <= args.rows {
        let last = (first + INSERT_CHUNK - 1).min(args.rows);
        let now = now_ms();
        sqlx::query(
            "INSERT INTO deliveries (message_id, list_name, member_id, recipient, state, \
             next_attempt_at, created_at, updated_at) \
             SELECT $1, 'bench', g, 'member' || g || '@ngo' || (g % 97) || '.example', \
             'pending', $2, $2, $2 FROM generate_series($3::BIGINT, $4::BIGINT) g",
        )
        .bind(message_id)
        .bind(now)
        .bind(first)
        .bind(last)
        .execute(&pool)
        .await?;
        first = last + 1;
    }
    let insert = clock.elapsed();
    let table_mb: f64 =
        sqlx::query_scalar("SELECT pg_total_relation_size('deliveries')::FLOAT8 / 1048576.0")
            .fetch_one(&pool)
            .await?;
    pool.close().await;

    // Claim and record, as the workers and the outcome writer do, until the time is up
    // or the rows run out.
    let deadline = Instant::now() + Duration::from_secs(args.write_seconds);
    let clock = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for claimer in 0..args.claimers {
        let (store, batch) = (store.clone(), args.batch as i64);
        let node = format!("bench-node-{}", claimer % 3);
        tasks.spawn(async move {
            let mut copies = 0u64;
            while Instant::now() < deadline {
                let claimed = store.claim_deliveries(&node, batch, 300_000).await?;
                if claimed.is_empty() {
                    break;
                }
                let outcomes: Vec<(Claim, DeliveryOutcome)> = claimed
                    .iter()
                    .map(|d| (d.claim(), DeliveryOutcome::Sent))
                    .collect();
                for chunk in outcomes.chunks(OUTCOMES_PER_COMMIT) {
                    store.record_outcomes(chunk).await?;
                }
                copies += claimed.len() as u64;
            }
            anyhow::Ok(copies)
        });
    }
    let mut copies = 0;
    while let Some(done) = tasks.join_next().await {
        copies += done??;
    }
    let claim_and_record = clock.elapsed();
    store.close().await;
    Ok(Writes {
        rows: args.rows,
        insert,
        claimers: args.claimers,
        copies,
        claim_and_record,
        table_mb,
    })
}

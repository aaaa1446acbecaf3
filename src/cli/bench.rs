//! `tidings bench`: the fan-out rate of one posting to N subscribers, end to end (SMTP in,
//! storage, expansion, personalised copies, SMTP out) into a loopback sink that only counts.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::config::{Config, RelayConfig, TlsMode};
use crate::daemon::Daemon;
use crate::delivery::relay::{RelayClient, SendResult};
use crate::publications::editions::{Built, Slot};
use crate::publications::ItemInput;
use crate::sink::Sink;
use crate::store::{ImportLine, Store};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Subscribers of the benchmark list.
    #[arg(long, default_value_t = 10_000)]
    pub subscribers: usize,
    /// Size of the posting in bytes.
    #[arg(long, default_value_t = 20_000)]
    pub size: usize,
    /// Relay connections (delivery workers).
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Deliveries claimed per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Database: a temporary SQLite file by default; with a postgres:// URL the benchmark
    /// works in a schema of its own and drops it afterwards.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.subscribers == 0 || args.connections == 0 || args.batch == 0 {
        bail!("--subscribers, --connections and --batch must be at least 1");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let database = BenchDatabase::prepare(args.database_url.as_deref(), dir.path()).await?;
    let result = measure(&args, &database.url).await;
    database.drop_schema().await;
    let report = result?;
    print!("{report}");
    Ok(())
}

struct Report {
    backend: &'static str,
    subscribers: usize,
    size: usize,
    connections: usize,
    import: Duration,
    fan_out: Duration,
    peak_rss_kib: Option<u64>,
    edition: EditionReport,
}

/// A newsletter edition: built from 40 stories in three languages, then sent to every
/// subscriber in their language.
struct EditionReport {
    build: Duration,
    bytes: usize,
    send: Duration,
}

/// Stories in the benchmark edition, each in every language of the publication.
const EDITION_STORIES: usize = 40;
const EDITION_LANGUAGES: [&str; 3] = ["en", "fr", "es"];

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seconds = self.fan_out.as_secs_f64();
        writeln!(
            f,
            "tidings bench: {} subscribers, {}-byte posting, {}, {} relay connections",
            self.subscribers, self.size, self.backend, self.connections
        )?;
        writeln!(f, "  import     {:>10.2} s", self.import.as_secs_f64())?;
        writeln!(
            f,
            "  fan-out    {:>10.2} s  {:>10.0} deliveries/s",
            seconds,
            self.subscribers as f64 / seconds.max(1e-9)
        )?;
        match self.peak_rss_kib {
            Some(kib) => writeln!(
                f,
                "  peak RSS   {:>10.1} MB (during the fan-out; daemon and sink)",
                kib as f64 / 1024.0
            )?,
            None => writeln!(f, "  peak RSS   unknown on this system")?,
        }
        let edition = &self.edition;
        writeln!(
            f,
            "  edition    {:>10.3} s  build of {EDITION_STORIES} items in {} languages ({} KB of HTML)",
            edition.build.as_secs_f64(),
            EDITION_LANGUAGES.len(),
            edition.bytes / 1024
        )?;
        let seconds = edition.send.as_secs_f64();
        writeln!(
            f,
            "  edition    {:>10.2} s  {:>10.0} deliveries/s (queued and sent, each in the subscriber's language)",
            seconds,
            self.subscribers as f64 / seconds.max(1e-9)
        )
    }
}

async fn measure(args: &BenchArgs, database_url: &str) -> anyhow::Result<Report> {
    let sink = Sink::start(false)
        .await
        .context("cannot start the loopback sink")?;
    let config = bench_config(args, database_url, sink.addr.port())?;
    let store = Store::open(database_url, 4).await?;
    let started = Instant::now();
    let members: Vec<ImportLine> = (0..args.subscribers)
        .map(|i| ImportLine {
            address: format!("member{i:07}@bench.example"),
            display_name: String::new(),
            language: "en".into(),
        })
        .collect();
    for chunk in members.chunks(5_000) {
        store.import_members("bench", chunk).await?;
    }
    let readers: Vec<ImportLine> = members
        .iter()
        .enumerate()
        .map(|(i, member)| ImportLine {
            language: EDITION_LANGUAGES[i % EDITION_LANGUAGES.len()].into(),
            ..member.clone()
        })
        .collect();
    for chunk in readers.chunks(5_000) {
        store.import_members("bench-news", chunk).await?;
    }
    let import = started.elapsed();
    store.close().await;
    drop(members);
    reset_peak_rss();

    let daemon = Daemon::start(config).await?;
    let smtp = daemon
        .smtp_addr
        .context("the benchmark daemon has no SMTP listener")?;
    let started = Instant::now();
    post(smtp.port(), args.size).await?;
    let deadline = Duration::from_secs(args.timeout);
    let delivered = sink.wait_for(args.subscribers as u64, deadline).await;
    let fan_out = started.elapsed();
    if delivered < args.subscribers as u64 {
        daemon.shutdown().await;
        bail!(
            "only {delivered} of {} deliveries within {} s",
            args.subscribers,
            args.timeout
        );
    }
    let edition = edition(&daemon, &sink, args).await;
    daemon.shutdown().await;
    let edition = edition?;
    Ok(Report {
        backend: if database_url.starts_with("sqlite") {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        subscribers: args.subscribers,
        size: args.size,
        connections: args.connections,
        import,
        fan_out,
        peak_rss_kib: peak_rss_kib(),
        edition,
    })
}

/// Builds a special edition of 40 stories in three languages, then approves it and waits
/// until every subscriber has their copy.
async fn edition(daemon: &Daemon, sink: &Sink, args: &BenchArgs) -> anyhow::Result<EditionReport> {
    let publications = &daemon.publications;
    let publication = publications.publication("bench-news")?;
    for story in 0..EDITION_STORIES {
        for language in EDITION_LANGUAGES {
            let input = ItemInput {
                title: format!("Story {story} ({language})"),
                section: Some(["News", "Campaigns", "Events"][story % 3].into()),
                language: Some(language.into()),
                key: Some(format!("story-{story}")),
                body: story_body(story),
                author: "editor@bench.example".into(),
            };
            publications.add_item(publication, input).await?;
        }
    }
    let started = Instant::now();
    let Built::Edition { id, .. } = publications.build(publication, Slot::Special).await? else {
        bail!("the benchmark edition was not built");
    };
    let build = started.elapsed();
    let bytes = daemon
        .store
        .edition_renders(id)
        .await?
        .iter()
        .map(|r| r.html.len())
        .sum();
    // The preview to the editor may still be on its way: count from what the sink has then.
    let before = sink
        .wait_for(args.subscribers as u64 + 1, Duration::from_secs(10))
        .await;
    let started = Instant::now();
    publications.approve(id).await?;
    let target = before + args.subscribers as u64;
    let delivered = sink
        .wait_for(target, Duration::from_secs(args.timeout))
        .await;
    let send = started.elapsed();
    if delivered < target {
        bail!(
            "only {} of {} edition deliveries within {} s",
            delivered - before,
            args.subscribers,
            args.timeout
        );
    }
    Ok(EditionReport { build, bytes, send })
}

/// A Markdown story of a few paragraphs.
fn story_body(story: usize) -> String {
    let paragraph = "The Assembly of States Parties met in The Hague to discuss the budget of \
                     the Court, cooperation of States and the election of judges. **Members** \
                     of the Coalition followed the debates and [reported](https://example.org).";
    format!("{paragraph}\n\n{paragraph}\n\n- point one of story {story}\n- point two\n")
}

fn bench_config(args: &BenchArgs, database_url: &str, relay_port: u16) -> anyhow::Result<Config> {
    let text = format!(
        r#"
secret = "benchmark-secret-benchmark-secret-benchmark"
[server]
domain = "bench.example"
smtp_listen = "127.0.0.1:0"
lmtp_listen = ""
http_listen = ""
base_url = "https://bench.example"
[relay]
host = "127.0.0.1"
port = {relay_port}
pool_size = {connections}
[delivery]
batch_size = {batch}
poll_interval_ms = 200
[database]
url = "{database_url}"
max_connections = {pool}
# Loopback only: no DNS questions leave the machine, and the posting keeps its From.
[dns]
servers = ["127.0.0.1:9"]
[dmarc]
rewrite_from = "never"
[[lists]]
name = "bench"
display_name = "Benchmark"
posting = "open"
subscription = "closed"
visibility = "public"
owners = ["owner@bench.example"]
[[publications]]
name = "bench-news"
title = "Benchmark News"
languages = ["en", "fr", "es"]
fallback_language = "en"
schedule = "0 0 0 1 1 * 2099"
time_zone = "UTC"
approval = "manual"
editors = ["editor@bench.example"]
sections = ["News", "Campaigns", "Events"]
"#,
        connections = args.connections,
        batch = args.batch,
        pool = args.connections + 4,
    );
    Ok(Config::from_toml(&text, Path::new("<bench>"), Vec::new())?)
}

/// Posts the benchmark message through the daemon's SMTP listener, as a member would.
async fn post(port: u16, size: usize) -> anyhow::Result<()> {
    let relay = RelayConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        ..RelayConfig::default()
    };
    let mut client = RelayClient::connect(&relay, "bench.localhost").await?;
    let message = posting(size);
    match client
        .send("poster@bench.example", "bench@bench.example", &[&message])
        .await
    {
        SendResult::Accepted => Ok(()),
        refused => bail!("the daemon refused the benchmark posting: {refused:?}"),
    }
}

/// A plain-text posting of about `size` bytes.
fn posting(size: usize) -> Vec<u8> {
    let mut message = b"From: Poster <poster@bench.example>\r\nTo: bench@bench.example\r\n\
Subject: Benchmark posting\r\nMessage-ID: <bench@bench.example>\r\n\r\n"
        .to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while message.len() < size {
        message.extend_from_slice(line);
    }
    message
}

/// Starts the peak-RSS count afresh (Linux), so that the figure is the fan-out's alone.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident set size of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Where the benchmark keeps its data, so that it never touches a real installation's.
struct BenchDatabase {
    url: String,
    schema: Option<(String, String)>,
}

impl BenchDatabase {
    async fn prepare(url: Option<&str>, dir: &Path) -> anyhow::Result<BenchDatabase> {
        let Some(url) = url.filter(|u| u.starts_with("postgres")) else {
            if let Some(other) = url {
                bail!("--database-url takes a postgres:// URL (SQLite runs in a temporary file); got {other:?}");
            }
            return Ok(BenchDatabase {
                url: format!("sqlite://{}/bench.db", dir.display()),
                schema: None,
            });
        };
        let schema = format!("tidings_bench_{:08x}", rand::random::<u32>());
        let pool = sqlx::PgPool::connect(url)
            .await
            .context("cannot connect to PostgreSQL")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&pool)
            .await?;
        pool.close().await;
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(BenchDatabase {
            url: format!("{url}{separator}options[search_path]={schema}"),
            schema: Some((url.to_string(), schema)),
        })
    }

    async fn drop_schema(&self) {
        let Some((url, schema)) = &self.schema else {
            return;
        };
        if let Ok(pool) = sqlx::PgPool::connect(url).await {
            let drop = format!("DROP SCHEMA {schema} CASCADE");
            let _ = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await;
            pool.close().await;
        }
    }
}

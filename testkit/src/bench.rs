//! `tidings-bench`: the fan-out rate of one posting to N subscribers, end to end (SMTP in,
//! storage, expansion, personalised copies, DKIM signing, SMTP out) into a loopback sink
//! that only counts; once per signing mode asked for, on the same list.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use tidings::config::{Config, RelayConfig, TlsMode};
use tidings::daemon::Daemon;
use tidings::delivery::relay::{RelayClient, SendResult};
use tidings::dkim::{keys, Algorithm, Dkim, Prepared, SigningKey};
use tidings::publications::editions::{Built, Slot};
use tidings::publications::ItemInput;
use tidings::store::{ImportLine, Store};

use tidings_testkit::sink::Sink;

use crate::console_bench::ConsoleArgs;

#[derive(Debug, clap::Parser)]
#[command(name = "tidings-bench", version, about)]
pub struct BenchArgs {
    /// Another benchmark than the fan-out (whose options are the ones below).
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
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
    /// DKIM signing of the fan-outs to run, one after the other, comma-separated:
    /// none, rsa (RSA-2048), ed25519, both.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "none,rsa")]
    pub dkim: Vec<Signing>,
    /// Relay to an SMTP server already listening on this loopback port (Postfix's
    /// smtp-sink, for a comparison with smtp-source) instead of the benchmark's own sink;
    /// the end of a fan-out is then read from the queue, and no edition is sent.
    #[arg(long)]
    pub relay_port: Option<u16>,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// The web console's pages for an owner of a large list: roster, search, held queue.
    Console(ConsoleArgs),
    /// A simulated year of postings with retention purging: the database size per week.
    Soak(crate::soak::SoakArgs),
    /// A list's archive with many messages: its months, a month, a thread, a message and
    /// searches over HTTP.
    Archive(crate::archive_bench::ArchiveArgs),
    /// Daemons on one database claiming a burst of email commands, each done once.
    Claims(crate::claims_bench::ClaimsArgs),
    /// 1, 2 and 3 daemons on one PostgreSQL into one sink, and the database's write rate
    /// for deliveries at a million rows.
    Cluster(crate::cluster_bench::ClusterArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signing {
    None,
    Rsa,
    Ed25519,
    Both,
}

impl Signing {
    fn label(self) -> &'static str {
        match self {
            Signing::None => "unsigned",
            Signing::Rsa => "RSA-2048",
            Signing::Ed25519 => "Ed25519",
            Signing::Both => "RSA+Ed25519",
        }
    }

    fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Signing::None => &[],
            Signing::Rsa => &[Algorithm::Rsa],
            Signing::Ed25519 => &[Algorithm::Ed25519],
            Signing::Both => &[Algorithm::Rsa, Algorithm::Ed25519],
        }
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BenchCommand::Console(console)) => return crate::console_bench::run(console).await,
        Some(BenchCommand::Soak(soak)) => return crate::soak::run(soak).await,
        Some(BenchCommand::Archive(archive)) => return crate::archive_bench::run(archive).await,
        Some(BenchCommand::Claims(claims)) => return crate::claims_bench::run(claims).await,
        Some(BenchCommand::Cluster(cluster)) => return crate::cluster_bench::run(cluster).await,
        None => {}
    }
    if args.subscribers == 0 || args.connections == 0 || args.batch == 0 {
        bail!("--subscribers, --connections and --batch must be at least 1");
    }
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let keys = BenchKeys::generate(dir.path())?;
    let database = BenchDatabase::prepare(args.database_url.as_deref(), dir.path()).await?;
    let result = measure(&args, &database.url, &keys).await;
    database.drop_schema().await;
    let report = Report {
        signing_rates: signing_rates(&keys, &posting(args.size, "rates"))?,
        ..result?
    };
    print!("{report}");
    Ok(())
}

/// One key of each kind, in files as an operator would have them.
struct BenchKeys {
    rsa: PathBuf,
    ed25519: PathBuf,
}

impl BenchKeys {
    fn generate(dir: &Path) -> anyhow::Result<BenchKeys> {
        let write = |algorithm: Algorithm, name: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            keys::write_private_key(&path, &keys::generate(algorithm)?.private_pem)?;
            Ok(path)
        };
        Ok(BenchKeys {
            rsa: write(Algorithm::Rsa, "rsa.pem")?,
            ed25519: write(Algorithm::Ed25519, "ed25519.pem")?,
        })
    }

    fn path(&self, algorithm: Algorithm) -> &Path {
        match algorithm {
            Algorithm::Rsa => &self.rsa,
            Algorithm::Ed25519 => &self.ed25519,
        }
    }

    /// The `[dkim]` table of a fan-out signed as `signing`.
    fn config(&self, signing: Signing) -> String {
        let mut table = String::from("[dkim]\n");
        for algorithm in signing.algorithms() {
            let (selector, file) = match algorithm {
                Algorithm::Rsa => ("selector", "key_file"),
                Algorithm::Ed25519 => ("ed25519_selector", "ed25519_key_file"),
            };
            let path = self.path(*algorithm).display().to_string();
            table.push_str(&format!(
                "{selector} = \"bench-{}\"\n{file} = {path:?}\n",
                algorithm.name()
            ));
        }
        table
    }
}

struct Report {
    backend: &'static str,
    subscribers: usize,
    size: usize,
    connections: usize,
    import: Duration,
    runs: Vec<Run>,
    /// Measured in the first run, signed as it is; not with an outside relay.
    edition: Option<EditionReport>,
    /// Copies signed per second on one core, per key type.
    signing_rates: Vec<SigningRate>,
}

/// A newsletter edition: built from 40 stories in three languages, then sent to every
/// subscriber in their language.
struct EditionReport {
    build: Duration,
    bytes: usize,
    send: Duration,
}

impl EditionReport {
    fn fmt(
        &self,
        f: &mut std::fmt::Formatter<'_>,
        signing: &str,
        subscribers: usize,
    ) -> std::fmt::Result {
        writeln!(
            f,
            "  edition              {:>8.3} s  build of {EDITION_STORIES} items in {} languages ({} KB of HTML)",
            self.build.as_secs_f64(),
            EDITION_LANGUAGES.len(),
            self.bytes / 1024
        )?;
        let seconds = self.send.as_secs_f64();
        writeln!(
            f,
            "  edition {signing:<12} {:>8.2} s  {:>8.0} deliveries/s (queued and sent, each in the subscriber's language)",
            seconds,
            subscribers as f64 / seconds.max(1e-9)
        )
    }
}

/// Stories in the benchmark edition, each in every language of the publication.
const EDITION_STORIES: usize = 40;
const EDITION_LANGUAGES: [&str; 3] = ["en", "fr", "es"];

/// One fan-out.
struct Run {
    signing: Signing,
    fan_out: Duration,
    peak_rss_kib: Option<u64>,
    /// The process's RSS when the daemon was started: the benchmark's own setup.
    start_rss_kib: Option<u64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "tidings-bench: {} subscribers, {}-byte posting, {}, {} relay connections",
            self.subscribers, self.size, self.backend, self.connections
        )?;
        writeln!(
            f,
            "  import               {:>8.2} s",
            self.import.as_secs_f64()
        )?;
        for run in &self.runs {
            let seconds = run.fan_out.as_secs_f64();
            let megabytes = |kib: Option<u64>| {
                kib.map_or("unknown".to_owned(), |kib| {
                    format!("{:.1} MB", kib as f64 / 1024.0)
                })
            };
            let rss = format!(
                "{} ({} before the daemon started)",
                megabytes(run.peak_rss_kib),
                megabytes(run.start_rss_kib)
            );
            writeln!(
                f,
                "  fan-out {:<12} {:>8.2} s  {:>8.0} deliveries/s  peak RSS {rss}",
                run.signing.label(),
                seconds,
                self.subscribers as f64 / seconds.max(1e-9),
            )?;
        }
        let signing = self.runs.first().map_or("", |run| run.signing.label());
        if let Some(edition) = &self.edition {
            edition.fmt(f, signing, self.subscribers)?;
        }
        let cores = cores();
        for rate in &self.signing_rates {
            let label = match rate.algorithm {
                Algorithm::Rsa => "RSA-2048",
                Algorithm::Ed25519 => "Ed25519",
            };
            writeln!(
                f,
                "  signing alone, {label:<8} {:>8.0} copies/s on one core, {:.0} on {cores} \
                 (body hash once per posting)",
                rate.one_core, rate.all_cores
            )?;
        }
        if let Some((rate, signing)) = self.rsa_fan_out() {
            writeln!(
                f,
                "  RSA-signed fan-out: {:.0} % of {cores} cores x the one-core signing rate, \
                 {:.0} % of signing alone on {cores} cores",
                100.0 * rate / (signing.one_core * cores as f64),
                100.0 * rate / signing.all_cores,
            )?;
        }
        writeln!(f, "  (peak RSS: during the fan-out; daemon and sink)")
    }
}

impl Report {
    /// The RSA-signed fan-out's rate, and what signing alone does: the difference is the
    /// CPU that the rest of the fan-out (database, SMTP, the sink) takes from signing.
    fn rsa_fan_out(&self) -> Option<(f64, &SigningRate)> {
        let run = self.runs.iter().find(|run| run.signing == Signing::Rsa)?;
        let signing = self
            .signing_rates
            .iter()
            .find(|rate| rate.algorithm == Algorithm::Rsa)?;
        let rate = self.subscribers as f64 / run.fan_out.as_secs_f64().max(1e-9);
        Some((rate, signing))
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

async fn measure(args: &BenchArgs, database_url: &str, keys: &BenchKeys) -> anyhow::Result<Report> {
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
    // The member lists are the benchmark's, not the daemon's: gone before RSS is counted.
    drop((members, readers));
    let mut runs = Vec::new();
    let mut edition = None;
    for (number, signing) in args.dkim.iter().enumerate() {
        let (run, built) = fan_out(args, database_url, keys, *signing, number).await?;
        runs.push(run);
        edition = edition.or(built);
    }
    if runs.is_empty() {
        bail!("no fan-out ran: give --dkim at least one mode");
    }
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
        runs,
        edition,
        signing_rates: Vec::new(),
    })
}

/// Posts one message to the list and waits until every subscriber's copy reached the sink;
/// the first run then sends an edition too.
async fn fan_out(
    args: &BenchArgs,
    database_url: &str,
    keys: &BenchKeys,
    signing: Signing,
    number: usize,
) -> anyhow::Result<(Run, Option<EditionReport>)> {
    let sink = match args.relay_port {
        Some(_) => None,
        None => Some(
            Sink::start(false)
                .await
                .context("cannot start the loopback sink")?,
        ),
    };
    let relay_port = args
        .relay_port
        .or(sink.as_ref().map(|sink| sink.addr.port()))
        .context("no relay to send to")?;
    let config = bench_config(args, database_url, relay_port, &keys.config(signing))?;
    reset_peak_rss();
    let start_rss_kib = rss_kib();
    let daemon = Daemon::start(config).await?;
    let smtp = daemon
        .smtp_addr
        .context("the benchmark daemon has no SMTP listener")?;
    let already_sent = sent(&daemon.store).await?;
    let started = Instant::now();
    post(smtp.port(), &posting(args.size, &format!("run{number}"))).await?;
    let deadline = Duration::from_secs(args.timeout);
    let delivered = match &sink {
        Some(sink) => sink.wait_for(args.subscribers as u64, deadline).await,
        None => {
            let wanted = already_sent + args.subscribers as u64;
            wait_for_sent(&daemon.store, wanted, deadline).await? - already_sent
        }
    };
    let fan_out = started.elapsed();
    let peak_rss_kib = peak_rss_kib();
    if delivered < args.subscribers as u64 {
        daemon.shutdown().await;
        bail!(
            "{}: only {delivered} of {} deliveries within {} s",
            signing.label(),
            args.subscribers,
            args.timeout
        );
    }
    let built = match &sink {
        Some(sink) if number == 0 => Some(edition(&daemon, sink, args).await),
        _ => None,
    };
    daemon.shutdown().await;
    let run = Run {
        signing,
        fan_out,
        peak_rss_kib,
        start_rss_kib,
    };
    Ok((run, built.transpose()?))
}

/// Copies of the benchmark posting recorded as sent, all runs together.
async fn sent(store: &Store) -> anyhow::Result<u64> {
    let counts = store.queue_counts().await?;
    let sent = counts
        .iter()
        .find(|c| c.list_name == "bench")
        .map_or(0, |c| c.sent);
    Ok(u64::try_from(sent).unwrap_or(0))
}

/// Waits until `wanted` copies are recorded as sent, or `limit` passed; returns the count.
/// Counting the queue takes CPU from the fan-out (at 100,000 copies, a count every 50 ms
/// is a real load), so the wait between counts grows with the time already spent: the
/// figure is within 2 % or 50 ms.
async fn wait_for_sent(store: &Store, wanted: u64, limit: Duration) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        let sent = sent(store).await?;
        if sent >= wanted || started.elapsed() >= limit {
            return Ok(sent);
        }
        let pause = (started.elapsed() / 50).max(Duration::from_millis(50));
        tokio::time::sleep(pause).await;
    }
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
    let Built::Edition { id, .. } = publications
        .build(&tidings::store::Actor::cli(), publication, Slot::Special)
        .await?
    else {
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
    publications
        .approve(&tidings::store::Actor::cli(), id)
        .await?;
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

/// What signing alone does, without a fan-out around it.
struct SigningRate {
    algorithm: Algorithm,
    /// Personal copies signed per second on one thread.
    one_core: f64,
    /// The same with one thread per core: how far this machine's cores really add up.
    all_cores: f64,
}

/// Signs personal copies for about a second per key type, on one thread and then on one
/// thread per core: what a delivery worker does per recipient once the posting's body hash
/// is known.
fn signing_rates(keys: &BenchKeys, message: &[u8]) -> anyhow::Result<Vec<SigningRate>> {
    let prepared = Prepared::new(message)?;
    let own =
        b"List-Unsubscribe: <mailto:bench-leave+token@bench.example?subject=unsubscribe>,\r\n \
        <https://bench.example/unsubscribe/bench/token>\r\n\
        List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
    let mut rates = Vec::new();
    for algorithm in [Algorithm::Rsa, Algorithm::Ed25519] {
        let key = keys::load(keys.path(algorithm), algorithm)?;
        let key = SigningKey {
            domain: "bench.example".into(),
            selector: "bench".into(),
            key,
        };
        let dkim = Dkim::new("bench.example", vec![key]);
        let sign_for_a_second = || -> anyhow::Result<u64> {
            let started = Instant::now();
            let mut signed = 0u64;
            while started.elapsed() < Duration::from_secs(1) {
                dkim.sign(&prepared, own, 1)?;
                signed += 1;
            }
            Ok(signed)
        };
        let one_core = sign_for_a_second()? as f64;
        let started = Instant::now();
        let all_cores = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..cores())
                .map(|_| scope.spawn(sign_for_a_second))
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a signing thread panicked")))
                })
                .sum::<anyhow::Result<u64>>()
        })? as f64
            / started.elapsed().as_secs_f64();
        rates.push(SigningRate {
            algorithm,
            one_core,
            all_cores,
        });
    }
    Ok(rates)
}

fn bench_config(
    args: &BenchArgs,
    database_url: &str,
    relay_port: u16,
    dkim: &str,
) -> anyhow::Result<Config> {
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
# One destination domain: let every connection go to it.
destination_concurrency = {connections}
batch_size = {batch}
poll_interval_ms = 200
[database]
url = "{database_url}"
max_connections = {pool}
# Loopback only: no DNS questions leave the machine (none is asked: nothing is checked
# locally), and the posting keeps its From.
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
[[publications]]
name = "bench-news"
title = "Benchmark News"
languages = ["en", "fr", "es"]
fallback_language = "en"
schedule = "0 0 0 1 1 * 2099"
time_zone = "UTC"
approval = "manual"
editors = ["editor@bench.example"]
templates = "bulletin"
sections = ["News", "Campaigns", "Events"]
{dkim}
"#,
        connections = args.connections,
        batch = args.batch,
        pool = args.connections + 4,
    );
    Ok(Config::from_toml(
        &text,
        Path::new("<bench>"),
        Vec::new(),
        &tidings::dkim::keys::Files,
    )?)
}

/// Posts the benchmark message through the daemon's SMTP listener, as a member would.
pub(crate) async fn post(port: u16, message: &[u8]) -> anyhow::Result<()> {
    let relay = RelayConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        ..RelayConfig::default()
    };
    let mut client = RelayClient::connect(&relay, "bench.localhost").await?;
    match client
        .send("poster@bench.example", "bench@bench.example", &[message])
        .await
    {
        SendResult::Accepted => Ok(()),
        refused => bail!("the daemon refused the benchmark posting: {refused:?}"),
    }
}

/// A plain-text posting of about `size` bytes.
pub(crate) fn posting(size: usize, id: &str) -> Vec<u8> {
    let mut message = format!(
        "From: Poster <poster@bench.example>\r\nTo: bench@bench.example\r\n\
         Subject: Benchmark posting\r\nMessage-ID: <{id}@bench.example>\r\n\r\n"
    )
    .into_bytes();
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
    status_kib("VmHWM:")
}

fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

/// A `/proc/self/status` figure in KiB (Linux).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Where the benchmark keeps its data, so that it never touches a real installation's.
pub struct BenchDatabase {
    pub url: String,
    schema: Option<(String, String)>,
}

impl BenchDatabase {
    pub async fn prepare(url: Option<&str>, dir: &Path) -> anyhow::Result<BenchDatabase> {
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

    pub async fn drop_schema(&self) {
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

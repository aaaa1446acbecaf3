//! What the benchmarks of web pages share: a daemon's configuration with one list and its
//! HTTP listener on loopback, and a page fetched as a browser would.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use tidings::config::Config;

/// GET of `path` over a new loopback connection, with the session `cookie` when given;
/// the status and the body's length.
pub async fn get(
    web: SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> anyhow::Result<(u16, usize)> {
    let mut stream = TcpStream::connect(web).await?;
    stream.set_nodelay(true)?;
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: bench.example\r\n{cookie}Accept-Language: en\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or(0, |(_, body)| body.len());
    Ok((status, body))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Fetches each of `pages` (label, path) `runs` times and prints the median, fastest and
/// slowest time of each; an answer other than a full 200 page stops the benchmark.
pub async fn time_pages(
    web: SocketAddr,
    pages: &[(&str, String)],
    runs: usize,
    cookie: Option<&str>,
) -> anyhow::Result<()> {
    for (label, path) in pages {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs.max(1) {
            let started = std::time::Instant::now();
            let (status, bytes) = get(web, path, cookie).await?;
            times.push(started.elapsed());
            if status != 200 {
                anyhow::bail!("{path}: HTTP {status}");
            }
            if bytes == 0 {
                anyhow::bail!("{path}: empty page");
            }
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "  {label:<32} {:>8.1} ms  (fastest {:.1}, slowest {:.1})",
            ms(median),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}

/// How list `bench` is configured in a page benchmark.
pub struct BenchList<'a> {
    pub posting: &'a str,
    pub visibility: &'a str,
    pub owner: &'a str,
}

/// A daemon on `database_url` with its HTTP listener on loopback, no relay reached, and
/// the one list `bench`; `name` names the configuration file in `dir`.
pub fn config(
    database_url: &str,
    dir: &Path,
    name: &str,
    list: BenchList,
) -> anyhow::Result<Config> {
    let BenchList {
        posting,
        visibility,
        owner,
    } = list;
    let text = format!(
        r#"
secret = "benchmark-secret-benchmark-secret-benchmark"

[server]
domain = "bench.example"
smtp_listen = "127.0.0.1:0"
lmtp_listen = ""
http_listen = "127.0.0.1:0"
base_url = "https://bench.example"

[metrics]
listen = ""

[relay]
host = "127.0.0.1"
port = 9

[database]
url = "{database_url}"

[dns]
servers = ["127.0.0.1:9"]

[authentication]
verify_locally = false

[[lists]]
name = "bench"
display_name = "Benchmark"
posting = "{posting}"
subscription = "closed"
visibility = "{visibility}"
owners = ["{owner}"]
"#
    );
    Ok(Config::from_toml(
        &text,
        &dir.join(name),
        Vec::new(),
        &tidings::dkim::keys::Files,
    )?)
}

//! Checks a parsed configuration and reports every problem at once, so that an operator can
//! fix a file in one pass instead of restarting the daemon once per mistake.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::LANGUAGES;

mod posting_filters;
mod publications;

use super::{
    defaults, BouncesConfig, ClusterConfig, Config, DatabaseConfig, DeliveryConfig, DkimConfig,
    DnsConfig, KeyAlgorithm, KeyFiles, ListConfig, ModerationConfig, PostingPolicy, RelayConfig,
    RetentionConfig, ServerConfig, SubscriptionsConfig, Visibility,
};
use crate::address::{self, is_dns_label, is_dns_name};
use crate::links::{Role, RESERVED_NAMES};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("{}", lines(problems.iter().map(ToString::to_string)))]
    Env { problems: Vec<EnvProblem> },
    #[error("{}", lines(problems.iter().map(|p| format!("{}: {p}", path.display()))))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One setting that is wrong: which one, what is wrong with it, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the setting lives, e.g. `relay.port` or `lists[3] (team-gender).posters`.
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.key, self.problem, self.fix)
    }
}

/// A `TIDINGS_*` environment variable that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProblem {
    pub var: String,
    pub message: String,
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "environment variable {}: {}", self.var, self.message)
    }
}

fn lines(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("\n")
}

const EXAMPLE_ADDRESS: &str = "secretariat@example.org";

/// Requires each named setting of a section to be at least 1, suggesting its default:
/// `at_least_one!(report, "relay", relay, default, [pool_size, ...])`.
macro_rules! at_least_one {
    ($report:expr, $section:literal, $settings:expr, $default:expr, [$($field:ident),+ $(,)?]) => {
        $(
            $report.at_least(
                concat!($section, ".", stringify!($field)),
                $settings.$field as u64,
                1,
                $default.$field as u64,
            );
        )+
    };
}

pub(super) fn validate(
    config: &Config,
    path: &Path,
    keys: &dyn KeyFiles,
) -> Result<(), ConfigError> {
    let mut report = Report::default();
    check_secret(&mut report, &config.secret);
    check_server(&mut report, &config.server, &config.metrics.listen);
    check_relay(&mut report, &config.relay);
    check_delivery(&mut report, &config.delivery);
    check_database(&mut report, &config.database);
    check_subscriptions(&mut report, &config.subscriptions);
    report.at_least(
        "moderation.held_expiry_days",
        config.moderation.held_expiry_days,
        1,
        ModerationConfig::default().held_expiry_days,
    );
    at_least_one!(
        report,
        "retention",
        config.retention,
        RetentionConfig::default(),
        [days, shunted_days, batch_size, interval_seconds]
    );
    report.range(
        "cluster.takeover_seconds",
        config.cluster.takeover_seconds,
        2,
        3600,
        ClusterConfig::default().takeover_seconds,
    );
    check_dns(&mut report, &config.dns);
    check_ip_addresses(
        &mut report,
        "authentication.front_mta_addresses",
        &config.authentication.front_mta_addresses,
        "front MTA",
    );
    check_bounces(&mut report, &config.bounces);
    check_dkim(&mut report, &config.dkim, &config.server.domain, keys);
    check_addresses(&mut report, "web", "admins", &config.web.admins);
    check_ip_addresses(
        &mut report,
        "web.trusted_proxies",
        &config.web.trusted_proxies,
        "reverse proxy",
    );
    check_lists(&mut report, &config.lists);
    posting_filters::check(&mut report, config);
    publications::check(&mut report, &config.publications, &config.lists);
    report.finish(path)
}

#[derive(Default)]
pub(super) struct Report {
    problems: Vec<Problem>,
}

impl Report {
    pub(super) fn add(
        &mut self,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(Problem {
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    /// Requires `min <= value <= max`, suggesting the default as the fix.
    fn range(&mut self, key: &str, value: u64, min: u64, max: u64, default: u64) {
        if value >= min && value <= max {
            return;
        }
        let allowed = if max == u64::MAX {
            format!("at least {min}")
        } else {
            format!("between {min} and {max}")
        };
        self.add(
            key,
            format!("is {value} but must be {allowed}"),
            format!("set {key} = {default} (the default) or another value {allowed}"),
        );
    }

    fn at_least(&mut self, key: &str, value: u64, min: u64, default: u64) {
        self.range(key, value, min, u64::MAX, default);
    }

    fn finish(self, path: &Path) -> Result<(), ConfigError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems: self.problems,
            })
        }
    }
}

fn check_secret(report: &mut Report, secret: &str) {
    // The value is never echoed: problems end up in logs.
    let length = secret.chars().count();
    if length > 0 && length < 32 {
        report.add(
            "secret",
            format!("is {length} characters long, too short to resist guessing"),
            "use at least 32 random characters (e.g. the output of `openssl rand -hex 32`), \
             or leave it empty to let tidings generate one",
        );
    }
}

fn check_server(report: &mut Report, server: &ServerConfig, metrics_listen: &str) {
    check_dns_name(report, "server.domain", &server.domain);
    check_dns_name(report, "server.hostname", &server.hostname);
    check_listeners(report, server, metrics_listen);
    check_base_url(report, &server.base_url);
    check_server_limits(report, server);
}

fn check_dns_name(report: &mut Report, key: &str, value: &str) {
    if !is_dns_name(value) {
        report.add(
            key,
            format!("{value:?} is not a fully qualified domain name"),
            format!("write a name such as \"lists.example.org\" in {key}"),
        );
    }
}

fn check_listeners(report: &mut Report, server: &ServerConfig, metrics_listen: &str) {
    // Each with the port the shipped configuration gives it, for the example in the fix.
    let listeners = [
        ("server.smtp_listen", server.smtp_listen.as_str(), 2525),
        ("server.lmtp_listen", server.lmtp_listen.as_str(), 2424),
        ("server.http_listen", server.http_listen.as_str(), 8080),
        ("metrics.listen", metrics_listen, 9187),
    ];
    let mut bound: HashMap<SocketAddr, &str> = HashMap::new();
    for (key, value, port) in listeners {
        if value.is_empty() {
            continue;
        }
        match value.parse::<SocketAddr>() {
            Ok(addr) => check_listener_clash(report, &mut bound, key, addr),
            Err(_) => report.add(
                key,
                format!("{value:?} is not an IP address with a port"),
                format!(
                    "write {key} = \"127.0.0.1:{port}\" (or \"[::1]:{port}\"; host names are \
                     not resolved), or \"\" to disable this listener"
                ),
            ),
        }
    }
    if server.smtp_listen.is_empty() && server.lmtp_listen.is_empty() {
        report.add(
            "server.smtp_listen",
            "both smtp_listen and lmtp_listen are empty, so no mail can reach the lists",
            "enable at least one, e.g. smtp_listen = \"127.0.0.1:2525\"",
        );
    }
}

fn check_listener_clash<'a>(
    report: &mut Report,
    bound: &mut HashMap<SocketAddr, &'a str>,
    key: &'a str,
    addr: SocketAddr,
) {
    // Port 0 asks the system for a free port, so two such listeners never clash.
    if addr.port() == 0 {
        return;
    }
    if let Some(other) = bound.insert(addr, key) {
        report.add(
            key,
            format!("uses {addr}, which {other} already listens on"),
            "give each listener its own port",
        );
    }
}

/// A trailing slash is rejected rather than stripped: links are built as `base_url + "/path"`,
/// and one canonical spelling keeps the value shown in logs equal to the one in the file.
fn check_base_url(report: &mut Report, url: &str) {
    const KEY: &str = "server.base_url";
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        report.add(
            KEY,
            format!("{url:?} does not start with http:// or https://"),
            "write the address members use in their browser, e.g. \"https://lists.example.org\"",
        );
        return;
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || url.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        report.add(
            KEY,
            format!("{url:?} is not a plain http(s) address of a host"),
            "write scheme, host and optional path only, e.g. \"https://lists.example.org\"",
        );
    } else if url.ends_with('/') {
        report.add(
            KEY,
            format!("{url:?} ends with a slash"),
            format!(
                "write base_url = {:?} (links add their own slash)",
                url.trim_end_matches('/')
            ),
        );
    }
}

/// What works but should be put right before members rely on it: `check-config` prints
/// these and `serve` logs them, neither refuses the configuration.
pub(super) fn warnings(config: &Config) -> Vec<Problem> {
    base_url_warning(&config.server.base_url)
        .into_iter()
        .chain(takeover_warning(config))
        .collect()
}

/// A take-over slower than the lease never happens: the lease hands a dead daemon's claims
/// over first, and the setting only misleads.
fn takeover_warning(config: &Config) -> Option<Problem> {
    let (takeover, lease) = (
        config.cluster.takeover_seconds,
        config.delivery.lease_seconds,
    );
    (takeover >= lease).then(|| Problem {
        key: "cluster.takeover_seconds".into(),
        problem: format!(
            "is {takeover}, not less than delivery.lease_seconds ({lease}): a dead daemon's \
             claims come free when their lease runs out, before any take-over"
        ),
        fix: format!(
            "lower cluster.takeover_seconds below {lease} (default 30) or raise \
             delivery.lease_seconds"
        ),
    })
}

/// Mailbox providers offer one-click unsubscribe (RFC 8058) only for an https URI they can
/// reach: a plain http address works for the pages, but not for that button. On a loopback
/// host the address is a trial's or a test's, and nobody outside follows it anyway.
fn base_url_warning(url: &str) -> Option<Problem> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if is_loopback(authority) {
        return None;
    }
    Some(Problem {
        key: "server.base_url".into(),
        problem: format!("{url:?} is not an https:// address"),
        fix: format!(
            "one-click unsubscribe (RFC 8058), the button mailbox providers show, needs a \
             public https:// URL: put the web listener behind TLS and write base_url = {:?}",
            format!("https://{rest}")
        ),
    })
}

/// Whether the host of `authority` (`host`, `host:port`, `[v6]:port`) is this machine.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _port)| host),
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_server_limits(report: &mut Report, server: &ServerConfig) {
    report.at_least(
        "server.max_message_size",
        server.max_message_size as u64,
        1024,
        defaults::max_message_size() as u64,
    );
    // RFC 5322 asks senders to keep lines to 78 characters; a lower limit rejects good mail.
    report.at_least(
        "server.max_line_length",
        server.max_line_length as u64,
        78,
        defaults::max_line_length() as u64,
    );
    report.at_least(
        "server.max_recipients",
        server.max_recipients as u64,
        1,
        defaults::max_recipients() as u64,
    );
    report.at_least(
        "server.max_connections",
        server.max_connections as u64,
        1,
        defaults::max_connections() as u64,
    );
    report.at_least(
        "server.max_connections_per_ip",
        server.max_connections_per_ip as u64,
        1,
        defaults::max_connections_per_ip() as u64,
    );
    report.at_least(
        "server.idle_timeout_seconds",
        server.idle_timeout_seconds,
        1,
        defaults::idle_timeout_seconds(),
    );
    check_not_longer(
        report,
        ("server.idle_timeout_seconds", server.idle_timeout_seconds),
        (
            "server.session_timeout_seconds",
            server.session_timeout_seconds,
        ),
    );
    report.at_least(
        "server.min_data_rate",
        server.min_data_rate,
        1,
        defaults::min_data_rate(),
    );
    if !server.postmaster.is_empty() && address::check(&server.postmaster).is_err() {
        report.add(
            "server.postmaster",
            format!("{:?} is not an email address", server.postmaster),
            format!("write postmaster = \"{EXAMPLE_ADDRESS}\", or leave it empty for the first owner of the first list"),
        );
    }
    // Below it, the largest message allowed could never be taken.
    check_not_longer(
        report,
        ("server.max_message_size", server.max_message_size as u64),
        ("server.max_data_memory", server.max_data_memory as u64),
    );
    check_http_limits(report, server);
}

/// Each HTTP connection is an open file, and Linux lets no process open more than about a
/// million (fs.nr_open), so a larger cap is a mistake. An hour is far past any real client's
/// need to send headers or get an answer; longer would let idle clients hold slots for ever.
fn check_http_limits(report: &mut Report, server: &ServerConfig) {
    report.range(
        "server.max_http_connections",
        server.max_http_connections as u64,
        1,
        1_000_000,
        defaults::max_http_connections() as u64,
    );
    report.range(
        "server.http_header_timeout_seconds",
        server.http_header_timeout_seconds,
        1,
        3600,
        defaults::http_header_timeout_seconds(),
    );
    report.range(
        "server.http_request_timeout_seconds",
        server.http_request_timeout_seconds,
        1,
        3600,
        defaults::http_request_timeout_seconds(),
    );
}

fn check_relay(report: &mut Report, relay: &RelayConfig) {
    let default = RelayConfig::default();
    if relay.host.trim().is_empty() || relay.host.contains(char::is_whitespace) {
        report.add(
            "relay.host",
            format!("{:?} is not a host name or address", relay.host),
            format!("set relay.host = {:?} or your relay's name", default.host),
        );
    }
    report.at_least("relay.port", relay.port.into(), 1, default.port.into());
    report.range(
        "relay.pool_size",
        relay.pool_size as u64,
        1,
        256,
        default.pool_size as u64,
    );
    at_least_one!(
        report,
        "relay",
        relay,
        default,
        [
            max_recipients_per_transaction,
            connect_timeout_seconds,
            greeting_timeout_seconds,
            command_timeout_seconds,
            data_start_timeout_seconds,
            data_end_timeout_seconds,
        ]
    );
    check_relay_credentials(report, relay);
}

fn check_relay_credentials(report: &mut Report, relay: &RelayConfig) {
    match (relay.username.is_empty(), relay.password.is_empty()) {
        (false, true) => report.add(
            "relay.password",
            "is empty although relay.username is set",
            "set the password too (TIDINGS_RELAY_PASSWORD keeps it out of the file), \
             or remove username to send without authentication",
        ),
        (true, false) => report.add(
            "relay.username",
            "is empty although relay.password is set",
            "set the user name that goes with the password, or remove the password",
        ),
        _ => {}
    }
}

fn check_subscriptions(report: &mut Report, subscriptions: &SubscriptionsConfig) {
    let default = SubscriptionsConfig::default();
    at_least_one!(
        report,
        "subscriptions",
        subscriptions,
        default,
        [
            confirmation_lifetime_days,
            confirmations_per_address_per_day,
            replies_per_address_per_hour,
            requests_per_ip_per_hour,
            requests_per_sender_per_hour,
            max_pending_per_list,
        ]
    );
}

fn check_delivery(report: &mut Report, delivery: &DeliveryConfig) {
    let default = DeliveryConfig::default();
    at_least_one!(
        report,
        "delivery",
        delivery,
        default,
        [
            retry_initial_seconds,
            destination_concurrency,
            destination_backoff_seconds,
            lease_seconds,
            batch_size,
            poll_interval_ms,
        ]
    );
    check_not_longer(
        report,
        (
            "delivery.retry_initial_seconds",
            delivery.retry_initial_seconds,
        ),
        ("delivery.retry_max_seconds", delivery.retry_max_seconds),
    );
    check_not_longer(
        report,
        ("delivery.retry_max_seconds", delivery.retry_max_seconds),
        ("delivery.lifetime_seconds", delivery.lifetime_seconds),
    );
}

/// Requires `shorter.1 <= longer.1`, blaming the longer one.
fn check_not_longer(report: &mut Report, shorter: (&str, u64), longer: (&str, u64)) {
    if shorter.1 > longer.1 {
        report.add(
            longer.0,
            format!("is {}, less than {} ({})", longer.1, shorter.0, shorter.1),
            format!("raise {} or lower {}", longer.0, shorter.0),
        );
    }
}

fn check_database(report: &mut Report, database: &DatabaseConfig) {
    let url = &database.url;
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if !known.iter().any(|prefix| url.starts_with(prefix)) {
        // Only the scheme is shown: a postgres URL may carry a password.
        let scheme = url.split(':').next().unwrap_or_default();
        report.add(
            "database.url",
            format!("uses the unsupported scheme {scheme:?}"),
            "write \"sqlite://data/tidings.db\" or \"postgres://user@host/dbname\"",
        );
    }
    report.at_least(
        "database.max_connections",
        database.max_connections.into(),
        1,
        DatabaseConfig::default().max_connections.into(),
    );
}

fn check_bounces(report: &mut Report, bounces: &BouncesConfig) {
    let default = BouncesConfig::default();
    at_least_one!(
        report,
        "bounces",
        bounces,
        default,
        [score_threshold, daily_cap, decay_days, notice_interval_days]
    );
}

/// Addresses of machines that connect to tidings (a front MTA, a reverse proxy), which must
/// be IP addresses as they connect: host names are not resolved.
fn check_ip_addresses(report: &mut Report, at: &str, addresses: &[String], what: &str) {
    for (index, address) in addresses.iter().enumerate() {
        if address.parse::<std::net::IpAddr>().is_err() {
            report.add(
                format!("{at}[{index}]"),
                format!("{address:?} is not an IP address"),
                format!(
                    "write the {what}'s address as it connects, e.g. \"127.0.0.1\" or \"::1\" \
                     (host names are not resolved)"
                ),
            );
        }
    }
}

fn check_dns(report: &mut Report, dns: &DnsConfig) {
    for (index, server) in dns.servers.iter().enumerate() {
        if DnsConfig::name_server(server).is_none() {
            report.add(
                format!("dns.servers[{index}]"),
                format!("{server:?} is not an IP address or IP address and port"),
                "write e.g. \"127.0.0.1\", \"127.0.0.1:5353\" or \"[::1]:53\", or leave \
                 servers empty to use the system's resolver",
            );
        }
    }
    let default = DnsConfig::default();
    report.range(
        "dns.timeout_ms",
        dns.timeout_ms,
        100,
        60_000,
        default.timeout_ms,
    );
    report.at_least(
        "dns.failure_cache_seconds",
        dns.failure_cache_seconds,
        1,
        default.failure_cache_seconds,
    );
}

/// Key files are read here, not only at start, so that `check-config` reports a missing or
/// unusable key along with every other problem.
fn check_dkim(report: &mut Report, dkim: &DkimConfig, server_domain: &str, keys: &dyn KeyFiles) {
    // By default the domain is server.domain, whose problems are reported already.
    if dkim.domain != server_domain {
        check_dns_name(report, "dkim.domain", &dkim.domain);
    }
    let pairs = [
        (
            "dkim.selector",
            &dkim.selector,
            &dkim.key_file,
            KeyAlgorithm::Rsa,
        ),
        (
            "dkim.ed25519_selector",
            &dkim.ed25519_selector,
            &dkim.ed25519_key_file,
            KeyAlgorithm::Ed25519,
        ),
    ];
    for (selector_key, selector, file, algorithm) in pairs {
        let file_key = algorithm.key_file_setting();
        let keygen = keygen_command(algorithm, selector, file);
        match (selector.is_empty(), file.is_empty()) {
            (true, true) => continue,
            (true, false) => report.add(
                selector_key,
                format!("is empty although {file_key} is set"),
                format!(
                    "set the selector under which the key's DNS record is published \
                     (`{keygen}` printed it), or remove {file_key} to sign without this key"
                ),
            ),
            (false, true) => report.add(
                file_key,
                format!("is empty although {selector_key} is set"),
                format!("create a key with `{keygen}` and set {file_key} to its file"),
            ),
            (false, false) => {}
        }
        if !selector.is_empty() && !selector.split('.').all(is_dns_label) {
            report.add(
                selector_key,
                format!("{selector:?} is not a DNS label"),
                "use letters, digits and inner hyphens, e.g. \"rsa-202611\"",
            );
        }
    }
    if !dkim.selector.is_empty() && dkim.selector == dkim.ed25519_selector {
        report.add(
            "dkim.ed25519_selector",
            format!("is {:?}, the same as dkim.selector", dkim.selector),
            "give each key its own selector: each has its own DNS record",
        );
    }
    for (selector, file, algorithm) in [
        (&dkim.selector, &dkim.key_file, KeyAlgorithm::Rsa),
        (
            &dkim.ed25519_selector,
            &dkim.ed25519_key_file,
            KeyAlgorithm::Ed25519,
        ),
    ] {
        if !file.is_empty() {
            let setting = algorithm.key_file_setting();
            check_key_file(report, keys, setting, (selector, file, algorithm), None);
        }
    }
    check_other_domains_keys(report, dkim, keys);
}

/// `[[dkim.keys]]`: each a domain, a selector and a key file that loads, no two alike.
fn check_other_domains_keys(report: &mut Report, dkim: &DkimConfig, keys: &dyn KeyFiles) {
    let mut seen: Vec<(String, String)> = [&dkim.selector, &dkim.ed25519_selector]
        .into_iter()
        .filter(|selector| !selector.is_empty())
        .map(|selector| {
            (
                dkim.domain.to_ascii_lowercase(),
                selector.to_ascii_lowercase(),
            )
        })
        .collect();
    for (index, key) in dkim.keys.iter().enumerate() {
        let at = format!("dkim.keys[{index}]");
        check_dns_name(report, &format!("{at}.domain"), &key.domain);
        if key.selector.is_empty() || !key.selector.split('.').all(is_dns_label) {
            report.add(
                format!("{at}.selector"),
                format!("{:?} is not a DNS label", key.selector),
                "use letters, digits and inner hyphens, e.g. \"rsa-202611\"",
            );
        }
        let pair = (
            key.domain.to_ascii_lowercase(),
            key.selector.to_ascii_lowercase(),
        );
        if seen.contains(&pair) {
            report.add(
                format!("{at}.selector"),
                format!("{} is configured twice for {}", key.selector, key.domain),
                "give each key its own selector: each has its own DNS record",
            );
        }
        seen.push(pair);
        let setting = format!("{at}.key_file");
        let key_of = (key.selector.as_str(), key.key_file.as_str(), key.algorithm);
        check_key_file(report, keys, &setting, key_of, Some(&key.domain));
    }
}

/// Reports a key file that does not load, with the command that makes one (for `domain`
/// when it is not the list domain).
fn check_key_file(
    report: &mut Report,
    keys: &dyn KeyFiles,
    setting: &str,
    (selector, file, algorithm): (&str, &str, KeyAlgorithm),
    domain: Option<&str>,
) {
    let Some(problem) = keys.problem(Path::new(file), algorithm) else {
        return;
    };
    // keygen never overwrites: name the file only when it is missing.
    let out = if problem.missing { file } else { "" };
    let mut keygen = keygen_command(algorithm, selector, out);
    if let Some(domain) = domain {
        keygen.push_str(&format!(" --domain {domain}"));
    }
    report.add(
        setting,
        problem.message,
        format!(
            "create a key with `{keygen}` and publish the DNS record it prints, \
             or point {setting} at an existing {} key file",
            algorithm.name()
        ),
    );
}

/// The `tidings dkim keygen` command line that makes the key a setting asks for.
fn keygen_command(algorithm: KeyAlgorithm, selector: &str, file: &str) -> String {
    let mut command = String::from("tidings dkim keygen");
    if algorithm == KeyAlgorithm::Ed25519 {
        command.push_str(" --algorithm ed25519");
    }
    if !selector.is_empty() {
        command.push_str(&format!(" --selector {selector}"));
    }
    if !file.is_empty() {
        command.push_str(&format!(" --out {file}"));
    }
    command
}

fn check_lists(report: &mut Report, lists: &[ListConfig]) {
    if lists.is_empty() {
        report.add(
            "lists",
            "no list is configured",
            "add at least one [[lists]] table (see the shipped config/tidings.toml)",
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, list) in lists.iter().enumerate() {
        let at = list_key(index, &list.name);
        check_list_name(report, &at, &list.name, lists);
        let first = *seen.entry(list.name.to_ascii_lowercase()).or_insert(index);
        if first != index {
            report.add(
                format!("{at}.name"),
                format!("is already used by lists[{first}]"),
                "give every list its own name (names are compared without regard to case)",
            );
        }
        check_list(report, &at, list);
    }
}

/// How problems point at a list: its position, which survives an empty or broken name, and
/// the name, which is what an operator searches the file for.
fn list_key(index: usize, name: &str) -> String {
    if name.is_empty() {
        format!("lists[{index}]")
    } else {
        format!("lists[{index}] ({name})")
    }
}

pub(super) fn check_list_name(report: &mut Report, at: &str, name: &str, lists: &[ListConfig]) {
    let key = format!("{at}.name");
    if let Some((problem, fix)) = name_syntax_problem(name) {
        report.add(key, problem, fix);
    } else if let Some(suffix) = reserved_suffix(name) {
        let base = &name[..name.len() - suffix.len()];
        let problem = if lists.iter().any(|l| l.name.eq_ignore_ascii_case(base)) {
            format!("{name:?} is the {suffix} address of list {base:?}")
        } else {
            format!("{name:?} ends with {suffix:?}, which is kept for list addresses")
        };
        let fix = format!(
            "rename the list; names may not end with {}",
            Role::SUFFIXED.map(Role::suffix).join(", ")
        );
        report.add(key, problem, fix);
    } else if RESERVED_NAMES.contains(&name) {
        report.add(
            key,
            format!("{name:?} is a mailbox that must reach a person, not a list"),
            "choose another name",
        );
    }
}

/// The suffix of a list's own address (`LIST-owner@domain`, ...) that `name` ends with: a
/// list so named would shadow, or be shadowed by, another list's address.
fn reserved_suffix(name: &str) -> Option<&'static str> {
    Role::SUFFIXED
        .map(Role::suffix)
        .into_iter()
        .find(|suffix| name.ends_with(suffix))
}

/// Why `name` is not a usable lowercase local part, with a fix, or `None` when it is.
pub(super) fn name_syntax_problem(name: &str) -> Option<(String, String)> {
    const SHAPE: &str = "use lowercase letters, digits, '.' and '-', starting with a letter or \
                         digit, e.g. \"team-gender\"";
    if name.is_empty() {
        return Some(("is empty".into(), SHAPE.into()));
    }
    if name.contains('+') {
        let fix = format!("remove the '+', e.g. {:?}", name.replace('+', "-"));
        return Some((
            format!("{name:?} contains '+', which separates sub-addresses in mail"),
            fix,
        ));
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) && is_list_name(&name.to_ascii_lowercase()) {
        let fix = format!("write it as {:?}", name.to_ascii_lowercase());
        return Some((format!("{name:?} contains uppercase letters"), fix));
    }
    if !is_list_name(name) {
        return Some((
            format!("{name:?} is not a valid list address"),
            SHAPE.into(),
        ));
    }
    None
}

/// `[a-z0-9][a-z0-9.-]*`, also usable as the local part of an address: at most 64 bytes, no
/// trailing or doubled dot.
fn is_list_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    first_ok
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.len() <= 64
        && !name.ends_with('.')
        && !name.contains("..")
}

fn check_list(report: &mut Report, at: &str, list: &ListConfig) {
    check_single_line(report, &format!("{at}.display_name"), &list.display_name);
    if list.display_name.trim().is_empty() {
        report.add(
            format!("{at}.display_name"),
            "is empty",
            "give the list a name people recognise, e.g. \"Coalition Info (English)\"",
        );
    }
    if let Some(prefix) = &list.subject_prefix {
        check_single_line(report, &format!("{at}.subject_prefix"), prefix);
    }
    if !LANGUAGES.contains(&list.language.as_str()) {
        report.add(
            format!("{at}.language"),
            format!("{:?} is not a supported language", list.language),
            format!("use one of {}", LANGUAGES.join(", ")),
        );
    }
    check_people(report, at, list);
    check_digest_timing(report, at, list);
}

/// The digest schedules and the time zone they are read in.
fn check_digest_timing(report: &mut Report, at: &str, list: &ListConfig) {
    for (key, schedule) in [
        ("digest_daily", &list.digest_daily),
        ("digest_weekly", &list.digest_weekly),
    ] {
        if let Err(error) = schedule.parse::<cron::Schedule>() {
            report.add(
                format!("{at}.{key}"),
                format!("{schedule:?} is not a cron expression ({error})"),
                "write six fields, seconds first: \"sec min hour day-of-month month                  day-of-week\", e.g. \"0 0 6 * * *\" for 06:00 every day or \"0 0 6 * * Mon\" \
                 for 06:00 on Mondays (name weekdays: the cron crate counts 1 as Sunday)",
            );
        }
    }
    if list.tz().is_err() {
        report.add(
            format!("{at}.time_zone"),
            format!("{:?} is not an IANA time zone name", list.time_zone),
            "write a name such as \"Europe/Amsterdam\", \"Africa/Nairobi\" or \"UTC\"",
        );
    }
}

/// Header values: a line break would let the value forge extra header fields.
pub(super) fn check_single_line(report: &mut Report, key: &str, value: &str) {
    if value.contains(char::is_control) {
        report.add(
            key,
            "contains a line break or another control character",
            "keep it on one line",
        );
    }
}

fn check_people(report: &mut Report, at: &str, list: &ListConfig) {
    check_addresses(report, at, "posters", &list.posters);
    check_addresses(report, at, "owners", &list.owners);
    check_addresses(report, at, "moderators", &list.moderators);
    let example = list
        .owners
        .iter()
        .find(|a| address::check(a).is_ok())
        .map_or(EXAMPLE_ADDRESS, String::as_str);
    if list.posting == PostingPolicy::Announce && list.posters.is_empty() {
        report.add(
            format!("{at}.posters"),
            "posting = \"announce\" needs at least one address in posters",
            format!("add posters = [\"{example}\"]"),
        );
    }
    if list.visibility == Visibility::Confidential && list.posting == PostingPolicy::Open {
        report.add(
            format!("{at}.posting"),
            "a confidential list cannot take postings from anyone",
            "write posting = \"members\" (or \"moderated\" or \"announce\")",
        );
    }
    if list.owners.is_empty() {
        report.add(
            format!("{at}.owners"),
            "a list needs at least one owner to receive its bounces and requests",
            format!("add owners = [\"{EXAMPLE_ADDRESS}\"]"),
        );
    }
}

pub(super) fn check_addresses(report: &mut Report, at: &str, field: &str, addresses: &[String]) {
    for (index, address) in addresses.iter().enumerate() {
        if address::check(address).is_err() {
            report.add(
                format!("{at}.{field}[{index}]"),
                format!("{address:?} is not an email address"),
                format!("write it as local@domain, e.g. \"{EXAMPLE_ADDRESS}\""),
            );
        }
    }
}

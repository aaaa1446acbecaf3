//! The resolver behind sender authentication and DMARC policy lookups: mail-auth's
//! `MessageAuthenticator` over hickory, whose cache keeps every answer for its TTL. What
//! hickory does not give is a bound on a whole lookup (its time-out is per attempt and per
//! server) nor a memory of servers that did not answer; both live here, so that a machine
//! without DNS never holds a posting for longer than `dns.timeout_ms`, and then not again
//! for `dns.failure_cache_seconds`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::system_conf::read_system_conf;
use mail_auth::MessageAuthenticator;

use crate::config::DnsConfig;

/// Failed names remembered at most; past this the oldest memories are dropped first.
const MAX_REMEMBERED_FAILURES: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    #[error("cannot read the system's DNS configuration ({0}); list name servers in dns.servers")]
    SystemConf(String),
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
}

pub struct Dns {
    authenticator: MessageAuthenticator,
    timeout: Duration,
    failure_ttl: Duration,
    /// Names whose lookup got no answer, with when they may be tried again.
    failures: Mutex<HashMap<String, Instant>>,
}

/// What a bounded lookup came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    Answered(T),
    /// No answer in time now, or recently: the caller applies its default.
    Unavailable,
}

impl Dns {
    pub fn new(config: &DnsConfig) -> Result<Dns, DnsSetupError> {
        let (resolver_config, mut options) = if config.servers.is_empty() {
            read_system_conf().unwrap_or_else(|error| {
                // An offline machine may have no resolver configured at all: mail still
                // flows, with every lookup unavailable and the configured defaults applied.
                tracing::warn!(%error, "no system DNS configuration; set dns.servers to check senders and DMARC policies");
                (ResolverConfig::from_name_servers(Vec::new()), ResolverOpts::default())
            })
        } else {
            let servers = config
                .servers
                .iter()
                .filter_map(|s| DnsConfig::name_server(s));
            (
                ResolverConfig::from_name_servers(servers.map(udp_and_tcp).collect()),
                ResolverOpts::default(),
            )
        };
        // One try per server inside the overall deadline enforced by `bounded`.
        options.timeout = Duration::from_millis(config.timeout_ms);
        options.attempts = 1;
        let authenticator = MessageAuthenticator::new(resolver_config, options)
            .map_err(|e| DnsSetupError::Resolver(e.to_string()))?;
        Ok(Dns {
            authenticator,
            timeout: Duration::from_millis(config.timeout_ms),
            failure_ttl: Duration::from_secs(config.failure_cache_seconds),
            failures: Mutex::new(HashMap::new()),
        })
    }

    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.authenticator
    }

    /// Runs `lookup` for `name` within the deadline. `lookup` says itself whether its
    /// result is an answer (`Some`) or a failure to get one (`None`); a failure, or running
    /// out of time, makes the name unavailable for a while.
    pub async fn bounded<T>(
        &self,
        name: &str,
        lookup: impl Future<Output = Option<T>>,
    ) -> Lookup<T> {
        let name = &name.to_ascii_lowercase();
        if self.recently_failed(name) {
            return Lookup::Unavailable;
        }
        match tokio::time::timeout(self.timeout, lookup).await {
            Ok(Some(answer)) => Lookup::Answered(answer),
            Ok(None) | Err(_) => {
                tracing::warn!(
                    name,
                    "no DNS answer; using the configured default for a while"
                );
                self.remember_failure(name);
                Lookup::Unavailable
            }
        }
    }

    fn recently_failed(&self, name: &str) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(name) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                failures.remove(name);
                false
            }
            None => false,
        }
    }

    fn remember_failure(&self, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if failures.len() >= MAX_REMEMBERED_FAILURES {
            failures.retain(|_, until| *until > now);
        }
        if failures.len() < MAX_REMEMBERED_FAILURES {
            failures.insert(name.to_string(), now + self.failure_ttl);
        }
    }
}

fn udp_and_tcp(address: SocketAddr) -> NameServerConfig {
    let connection = |mut config: ConnectionConfig| {
        config.port = address.port();
        config
    };
    let mut server = NameServerConfig::udp_and_tcp(address.ip());
    server.connections = vec![
        connection(ConnectionConfig::udp()),
        connection(ConnectionConfig::tcp()),
    ];
    server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_name_is_not_tried_again_for_a_while() {
        let dns = Dns::new(&DnsConfig {
            servers: vec!["127.0.0.1:9".into()],
            timeout_ms: 100,
            failure_cache_seconds: 60,
        })
        .expect("resolver");
        let never = std::future::pending::<Option<()>>();
        assert_eq!(dns.bounded("example.org", never).await, Lookup::Unavailable);
        let tried = std::sync::atomic::AtomicBool::new(false);
        let second = async {
            tried.store(true, std::sync::atomic::Ordering::SeqCst);
            Some(())
        };
        assert_eq!(
            dns.bounded("example.org", second).await,
            Lookup::Unavailable
        );
        assert!(!tried.load(std::sync::atomic::Ordering::SeqCst));
    }
}

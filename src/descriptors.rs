//! The daemon's budget of file descriptors. Every connection (on any listener, to the
//! database, to the relay) is an open file, and a process may open only so many
//! (RLIMIT_NOFILE); past that, accepting fails on every listener alike. Service managers and
//! shells often set a soft limit of 1,024 under a much higher hard one, so `serve` raises the
//! soft limit to the hard one at start, and tidings warns (at start and in `check-config`)
//! when its configured caps could together need more than that.

use std::fmt;

use crate::config::Config;

/// The process's limit on open files: the one in force, and the most it may raise it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot raise the limit on open files from {soft} to {hard}: {source}")]
pub struct RaiseError {
    soft: u64,
    hard: u64,
    source: std::io::Error,
}

/// Open files besides connections: standard streams, the listening sockets, the runtime's
/// own (epoll, wakers), DNS sockets, files read at start. An idle daemon on SQLite with the
/// shipped configuration holds about 30; this leaves room for the rest.
const RESERVE: u64 = 64;

/// What the configured caps may hold open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `server.max_connections` for each enabled mail listener: SMTP and LMTP each have
    /// their own cap.
    pub mail: u64,
    /// `server.max_http_connections`, when the HTTP listener is enabled.
    pub http: u64,
    /// `database.max_connections`, three files each on SQLite (the database, its WAL and
    /// its shared-memory index), one socket each on PostgreSQL.
    pub database: u64,
    /// `relay.pool_size`: one connection per delivery worker.
    pub relay: u64,
}

impl Budget {
    pub fn of(config: &Config) -> Budget {
        let server = &config.server;
        let mail_listeners = [&server.smtp_listen, &server.lmtp_listen]
            .into_iter()
            .filter(|listen| !listen.is_empty())
            .count() as u64;
        let http = if server.http_listen.is_empty() {
            0
        } else {
            server.max_http_connections as u64
        };
        let per_database_connection = if config.database.url.starts_with("sqlite:") {
            3
        } else {
            1
        };
        Budget {
            mail: mail_listeners * server.max_connections as u64,
            http,
            database: u64::from(config.database.max_connections) * per_database_connection,
            relay: config.relay.pool_size as u64,
        }
    }

    pub fn total(&self) -> u64 {
        self.mail + self.http + self.database + self.relay + RESERVE
    }

    /// Whether the caps fit under `limit` open files; if not, what to say about it.
    pub fn check(self, limit: u64) -> Option<Shortfall> {
        (self.total() > limit).then_some(Shortfall {
            budget: self,
            limit,
        })
    }
}

/// Caps that do not fit the limit on open files: the numbers, and what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub budget: Budget,
    pub limit: u64,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Budget {
            mail,
            http,
            database,
            relay,
        } = self.budget;
        write!(
            f,
            "the configured connection caps may need {} open files (mail sessions {mail}, \
             HTTP {http}, database {database}, relay {relay}, other {RESERVE}) but the limit \
             is {}, so listeners could fail to accept; raise the limit (LimitNOFILE= in a \
             systemd unit, `ulimit -n` before starting) or lower server.max_connections, \
             server.max_http_connections, database.max_connections or relay.pool_size",
            self.budget.total(),
            self.limit
        )
    }
}

/// Logs a warning when the caps of `config` do not fit the limit now in force.
pub fn warn_if_short(config: &Config) {
    let short = limits().and_then(|limits| Budget::of(config).check(limits.soft));
    if let Some(short) = short {
        tracing::warn!(
            needed = short.budget.total(),
            limit = short.limit,
            "{short}"
        );
    }
}

/// The process's limit on open files, where tidings can read it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn limits() -> Option<OpenFiles> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (status == 0).then_some(OpenFiles {
        soft: limit.rlim_cur,
        hard: limit.rlim_max,
    })
}

/// Raises the soft limit on open files to the hard one, and returns the limits then in force
/// (`None` where tidings cannot read them). Raising is always allowed up to the hard limit.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn raise_limit() -> Result<Option<OpenFiles>, RaiseError> {
    let Some(OpenFiles { soft, hard }) = limits() else {
        return Ok(None);
    };
    if soft < hard {
        let raised = libc::rlimit {
            rlim_cur: hard,
            rlim_max: hard,
        };
        // SAFETY: setrlimit only reads the struct it is given, which lives for the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            let source = std::io::Error::last_os_error();
            return Err(RaiseError { soft, hard, source });
        }
    }
    Ok(limits())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limits() -> Option<OpenFiles> {
    None
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn raise_limit() -> Result<Option<OpenFiles>, RaiseError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(server: &str, database: &str) -> Config {
        let text = format!(
            r#"
[server]
domain = "lists.example.org"
base_url = "https://lists.example.org"
{server}

[relay]
pool_size = 4

[database]
{database}

[[lists]]
name = "info-en"
display_name = "Coalition Info"
posting = "members"
subscription = "confirm"
visibility = "public"
owners = ["secretariat@example.org"]
"#
        );
        Config::from_toml(
            &text,
            Path::new("test.toml"),
            Vec::new(),
            &crate::dkim::keys::Files,
        )
        .expect("valid")
    }

    #[test]
    fn each_enabled_listener_and_pool_counts() {
        let both = config(
            "lmtp_listen = \"127.0.0.1:2424\"\nmax_connections = 100\nmax_http_connections = 50",
            "url = \"sqlite://data/t.db\"\nmax_connections = 8",
        );
        let budget = Budget::of(&both);
        assert_eq!(
            budget,
            Budget {
                mail: 200,
                http: 50,
                database: 24,
                relay: 4
            }
        );
        assert_eq!(budget.total(), 200 + 50 + 24 + 4 + RESERVE);

        let smtp_only = config(
            "http_listen = \"\"\nmax_connections = 100",
            "url = \"postgres://tidings@db/tidings\"\nmax_connections = 8",
        );
        let budget = Budget::of(&smtp_only);
        assert_eq!((budget.mail, budget.http, budget.database), (100, 0, 8));
    }

    #[test]
    fn a_limit_below_the_total_is_reported_with_the_fix() {
        let budget = Budget::of(&config("", ""));
        assert_eq!(budget.check(budget.total()), None);
        let short = budget.check(budget.total() - 1).expect("short");
        let message = short.to_string();
        assert!(
            message.contains(&format!("need {}", budget.total())),
            "{message}"
        );
        assert!(message.contains("server.max_http_connections"), "{message}");
        assert!(message.contains("LimitNOFILE"), "{message}");
    }

    #[test]
    fn the_shipped_configuration_fits_a_limit_of_1024() {
        let shipped = include_str!("../config/tidings.toml");
        let config = Config::from_toml(
            shipped,
            Path::new("tidings.toml"),
            Vec::new(),
            &crate::dkim::keys::Files,
        );
        let budget = Budget::of(&config.expect("the shipped file is valid"));
        assert_eq!(budget.check(1024), None, "{budget:?}");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn raising_reaches_the_hard_limit() -> Result<(), RaiseError> {
        let raised = raise_limit()?.expect("readable on Linux");
        assert_eq!(raised.soft, raised.hard);
        Ok(())
    }
}

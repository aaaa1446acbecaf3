//! The daemon's configuration: one TOML file (`config/tidings.toml` by default), with every
//! scalar setting overridable by a `TIDINGS_<SECTION>_<KEY>` environment variable so that an
//! operator can keep secrets out of the file.

mod env;
mod filters;
mod publications;
#[cfg(test)]
mod tests;
mod validate;

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::links::{Directory, Links};
use crate::tokens::Signer;

pub use filters::{AddressPatterns, AttachmentAction, SenderAction};
pub use publications::{Approval, PublicationConfig};
pub use validate::{ConfigError, EnvProblem, Problem};

/// The languages a list, a member or a publication may be set to: those tidings ships
/// templates for (`templates/messages/LANG`). Templates in another language can be added
/// by creating its directory; `Templates::has_language` reports what was actually loaded.
pub const LANGUAGES: [&str; 5] = ["en", "fr", "es", "pt", "ar"];

/// The whole configuration, as read from the file and the environment, after validation.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// HMAC secret for tokens. Empty: one is generated once and kept in the database.
    #[serde(default)]
    pub secret: String,
    pub server: ServerConfig,
    #[serde(default)]
    pub relay: RelayConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub subscriptions: SubscriptionsConfig,
    #[serde(default)]
    pub moderation: ModerationConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub cluster: ClusterConfig,
    #[serde(default)]
    pub dns: DnsConfig,
    #[serde(default)]
    pub authentication: AuthenticationConfig,
    #[serde(default)]
    pub dmarc: DmarcConfig,
    #[serde(default)]
    pub bounces: BouncesConfig,
    #[serde(default)]
    pub dkim: DkimConfig,
    #[serde(default)]
    pub web: WebConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub lists: Vec<ListConfig>,
    #[serde(default)]
    pub publications: Vec<PublicationConfig>,
    /// One list per publication, derived at load time, so that subscribing, leaving and
    /// `tidings members` work on publications exactly as on lists.
    #[serde(skip)]
    pub publication_lists: Vec<ListConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The mail domain of every list address (`LIST@domain`).
    pub domain: String,
    /// Name announced in the SMTP greeting and EHLO. Defaults to `domain`.
    #[serde(default)]
    pub hostname: String,
    /// `host:port` of the SMTP listener; empty disables it.
    #[serde(default = "defaults::smtp_listen")]
    pub smtp_listen: String,
    /// `host:port` of the LMTP listener for a front MTA; empty disables it.
    #[serde(default)]
    pub lmtp_listen: String,
    /// `host:port` of the HTTP listener; empty disables it.
    #[serde(default = "defaults::http_listen")]
    pub http_listen: String,
    /// Public base URL of the HTTP listener, used in links sent to members.
    pub base_url: String,
    #[serde(default = "defaults::max_message_size")]
    pub max_message_size: usize,
    /// Longest accepted line of a message, in bytes, CRLF excluded.
    #[serde(default = "defaults::max_line_length")]
    pub max_line_length: usize,
    #[serde(default = "defaults::max_recipients")]
    pub max_recipients: usize,
    /// Simultaneous sessions of each mail listener (SMTP and LMTP each have their own).
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
    /// Simultaneous SMTP sessions from one client address (LMTP's client is the front MTA).
    #[serde(default = "defaults::max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    #[serde(default = "defaults::idle_timeout_seconds")]
    pub idle_timeout_seconds: u64,
    /// The longest an SMTP or LMTP session may last.
    #[serde(default = "defaults::session_timeout_seconds")]
    pub session_timeout_seconds: u64,
    /// Bytes per second a client must keep up while sending a message.
    #[serde(default = "defaults::min_data_rate")]
    pub min_data_rate: u64,
    /// Memory all sessions' messages in transit may take together, in bytes.
    #[serde(default = "defaults::max_data_memory")]
    pub max_data_memory: usize,
    /// Most simultaneous HTTP connections; past it a new one is refused at once, so that web
    /// clients can never take the descriptors the mail listeners need.
    #[serde(default = "defaults::max_http_connections")]
    pub max_http_connections: usize,
    /// Seconds an HTTP client has to send a request's headers, and the longest an idle
    /// keep-alive connection waits for the next request.
    #[serde(default = "defaults::http_header_timeout_seconds")]
    pub http_header_timeout_seconds: u64,
    /// Seconds from a request's headers to its answer: reading the body and the handler.
    #[serde(default = "defaults::http_request_timeout_seconds")]
    pub http_request_timeout_seconds: u64,
    /// Directory of the notice and page templates (`messages/LANG/`, `web/LANG/`).
    #[serde(default = "defaults::templates_dir")]
    pub templates_dir: String,
    /// Where mail to `postmaster@` and `abuse@` the list domain goes; empty means the first
    /// owner of the first list.
    #[serde(default)]
    pub postmaster: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// Long-lived connections kept open to the relay, one delivery worker each.
    pub pool_size: usize,
    /// Recipients in one transaction for messages that are not personalised.
    pub max_recipients_per_transaction: usize,
    /// Opening the TCP connection.
    pub connect_timeout_seconds: u64,
    /// The greeting, EHLO, STARTTLS and AUTH, once connected (RFC 5321: 5 minutes).
    pub greeting_timeout_seconds: u64,
    /// The answer to MAIL, RCPT, RSET and QUIT (RFC 5321: 5 minutes).
    pub command_timeout_seconds: u64,
    /// The answer to DATA (RFC 5321: 2 minutes).
    pub data_start_timeout_seconds: u64,
    /// Sending the message and the answer to its final dot (RFC 5321: 10 minutes).
    pub data_end_timeout_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Wait before the first retry of a temporary failure; doubles on each of the first
    /// `retry_doublings` retries.
    pub retry_initial_seconds: u64,
    /// Retries whose wait doubles, starting from `retry_initial_seconds`.
    pub retry_doublings: u64,
    /// Wait between later retries, and the longest wait between two retries.
    pub retry_max_seconds: u64,
    /// A delivery still failing temporarily this long after it was queued is marked failed.
    pub lifetime_seconds: u64,
    /// Transactions to one recipient domain at a time, all workers together.
    pub destination_concurrency: usize,
    /// Pause before sending again to a domain that answered 4xx; doubles while it goes on.
    pub destination_backoff_seconds: u64,
    /// How long a claimed delivery stays reserved for the daemon that claimed it; a daemon
    /// that dies mid-delivery leaves its claims to be taken over after this.
    pub lease_seconds: u64,
    /// Deliveries claimed from the queue at once by one worker.
    pub batch_size: usize,
    /// How often idle workers look at the queue (new work also wakes them at once).
    pub poll_interval_ms: u64,
    /// The readable part of this daemon's node identity (see `crate::cluster`), which adds
    /// the process id and a random suffix so that two daemons never share one. Empty: the
    /// machine's host name.
    pub node_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path` (created on first start) or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
}

/// Self-service subscription by email and link, and the limits that keep it from being
/// turned against anyone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// Days a confirmation request stays valid.
    pub confirmation_lifetime_days: u64,
    /// Confirmation messages one address receives per day, all lists together: the limit
    /// per target of commands naming another address.
    pub confirmations_per_address_per_day: u64,
    /// Replies to email commands one address receives per hour.
    pub replies_per_address_per_hour: u64,
    /// Commands taken from one SMTP client IP address per hour: a `-request@` message
    /// counts once per command that makes tidings write to someone (at least once), any
    /// other command message once. LMTP mail comes from the front MTA, whose address says
    /// nothing about the sender.
    pub requests_per_ip_per_hour: u64,
    /// The same count per envelope sender, over SMTP and LMTP alike, for the self-service
    /// addresses (`-join@`, `-leave@`, `-request@`).
    pub requests_per_sender_per_hour: u64,
    /// Requests waiting for confirmation or approval, per list.
    pub max_pending_per_list: u64,
}

impl Default for SubscriptionsConfig {
    fn default() -> Self {
        SubscriptionsConfig {
            confirmation_lifetime_days: 7,
            confirmations_per_address_per_day: 3,
            replies_per_address_per_hour: 10,
            requests_per_ip_per_hour: 30,
            requests_per_sender_per_hour: 10,
            max_pending_per_list: 10_000,
        }
    }
}

/// Postings held for a moderator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModerationConfig {
    /// Days a held posting waits for a decision before it is discarded and its author told.
    pub held_expiry_days: u64,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig {
            held_expiry_days: 14,
        }
    }
}

/// How long what has served its purpose is kept before it is purged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a message whose every delivery is final keeps its bodies and delivery rows; the
    /// counts per list and day stay for the reports. Also the age at which other spent
    /// records (decided held postings, processed commands and bounces, answered requests)
    /// go.
    pub days: u64,
    /// Days a message set aside for the operator is kept.
    pub shunted_days: u64,
    /// Rows purged per transaction: small, so that delivery's transactions interleave.
    pub batch_size: u64,
    /// Pause between two batches, so that a large purge never holds the writer for long.
    pub pause_ms: u64,
    /// Seconds between two purges.
    pub interval_seconds: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            days: 30,
            shunted_days: 90,
            batch_size: 500,
            pause_ms: 50,
            interval_seconds: 3600,
        }
    }
}

/// Several daemons on one PostgreSQL database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// A daemon whose heartbeat stopped this long ago is dead: any live daemon releases its
    /// delivery claims, without waiting for their leases.
    pub takeover_seconds: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            takeover_seconds: 30,
        }
    }
}

/// The resolver behind sender authentication and DMARC policy lookups.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsConfig {
    /// Name servers as `ip` or `ip:port`; empty means the system's (`/etc/resolv.conf`).
    pub servers: Vec<String>,
    /// Longest wait for one lookup, all retries included: mail never waits longer on DNS.
    pub timeout_ms: u64,
    /// How long a lookup that got no answer is not tried again.
    pub failure_cache_seconds: u64,
}

impl DnsConfig {
    /// A name server written `ip` or `ip:port` (`[v6]:port`), port 53 by default.
    pub fn name_server(text: &str) -> Option<SocketAddr> {
        let text = text.trim();
        text.parse::<SocketAddr>().ok().or_else(|| {
            text.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
    }
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            servers: Vec::new(),
            timeout_ms: 3000,
            failure_cache_seconds: 60,
        }
    }
}

/// How the sender of a posting to a confidential list is authenticated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// authserv-ids of front MTAs whose `Authentication-Results` header is believed, on mail
    /// that came through a front MTA; such headers naming anyone else are removed from
    /// postings.
    pub trusted_authserv_ids: Vec<String>,
    /// IP addresses of front MTAs that hand mail over SMTP rather than LMTP: only mail from
    /// them (or over LMTP) has its Authentication-Results believed.
    pub front_mta_addresses: Vec<String>,
    /// Check DKIM (and, for mail received over SMTP, SPF) here, with DNS lookups.
    pub verify_locally: bool,
}

impl Default for AuthenticationConfig {
    fn default() -> Self {
        AuthenticationConfig {
            trusted_authserv_ids: Vec::new(),
            front_mta_addresses: Vec::new(),
            verify_locally: true,
        }
    }
}

impl AuthenticationConfig {
    /// Whether mail handed in by `client` (`None` over LMTP, whose client is always the
    /// front MTA) came through a front MTA, whose Authentication-Results may be believed.
    pub fn through_front_mta(&self, client: Option<std::net::IpAddr>) -> bool {
        match client {
            None => true,
            Some(ip) => self
                .front_mta_addresses
                .iter()
                .any(|a| a.parse::<std::net::IpAddr>() == Ok(ip)),
        }
    }
}

/// When a posting's From is replaced by the list's address, so that members' mailbox
/// providers do not reject it on the author's domain's DMARC policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FromRewrite {
    /// When the author's domain publishes `p=reject` or `p=quarantine`.
    Policy,
    Always,
    Never,
}

/// What to assume when the author domain's DMARC policy cannot be learnt (no DNS answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownPolicy {
    Rewrite,
    Keep,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmarcConfig {
    pub rewrite_from: FromRewrite,
    pub when_policy_unknown: UnknownPolicy,
}

impl Default for DmarcConfig {
    fn default() -> Self {
        DmarcConfig {
            rewrite_from: FromRewrite::Policy,
            when_policy_unknown: UnknownPolicy::Rewrite,
        }
    }
}

/// What bounces do to a membership (see `bounces::score`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BouncesConfig {
    /// Score at which a member's deliveries are disabled.
    pub score_threshold: u64,
    /// Most points one day's mailbox failures can add.
    pub daily_cap: u64,
    /// Days without a scored bounce after which the score starts again from zero.
    pub decay_days: u64,
    /// Re-enable notices a disabled member gets before being removed.
    pub reenable_notices: u64,
    /// Days between two re-enable notices, and after the last one before removal.
    pub notice_interval_days: u64,
}

impl Default for BouncesConfig {
    fn default() -> Self {
        BouncesConfig {
            score_threshold: 5,
            daily_cap: 1,
            decay_days: 7,
            reenable_notices: 3,
            notice_interval_days: 7,
        }
    }
}

/// DKIM signing of everything tidings sends: an RSA key, an Ed25519 key, or both (receivers
/// that do not know Ed25519 yet ignore its signature and check the RSA one). No key: no
/// signing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DkimConfig {
    /// The signing domain (`d=`). Empty: `server.domain`.
    pub domain: String,
    /// Selector of the RSA key: its public key is published at
    /// `SELECTOR._domainkey.DOMAIN`.
    pub selector: String,
    /// PEM file of the RSA private key (PKCS#8 or PKCS#1).
    pub key_file: String,
    pub ed25519_selector: String,
    /// PEM file of the Ed25519 private key (PKCS#8).
    pub ed25519_key_file: String,
    /// Keys of other domains (`[[dkim.keys]]`): a copy whose From is aligned with one of
    /// them is signed with it too, so that it passes DMARC for its author's domain.
    pub keys: Vec<DkimKeyConfig>,
}

/// One signing key of any domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimKeyConfig {
    pub domain: String,
    pub selector: String,
    pub key_file: String,
    #[serde(default)]
    pub algorithm: KeyAlgorithm,
}

/// The two DKIM key types receivers know: RSA (RFC 6376, everyone) and Ed25519 (RFC 8463,
/// smaller and faster, not yet checked everywhere).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlgorithm {
    #[default]
    Rsa,
    Ed25519,
}

impl KeyAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "RSA",
            KeyAlgorithm::Ed25519 => "Ed25519",
        }
    }

    /// The setting a key file of this type goes into.
    pub fn key_file_setting(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa => "dkim.key_file",
            KeyAlgorithm::Ed25519 => "dkim.ed25519_key_file",
        }
    }
}

/// Reads the key files the configuration names. Validation asks it, so that a key that
/// cannot be used is reported along with every other problem, while reading keys stays the
/// signer's business (`dkim::keys::Files` is the reader).
pub trait KeyFiles {
    /// Why `file` cannot be used as a key of `algorithm`, or `None` when it can.
    fn problem(&self, file: &Path, algorithm: KeyAlgorithm) -> Option<KeyProblem>;
}

/// A key file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// What is wrong, naming the file.
    pub message: String,
    /// The file does not exist, so that `tidings dkim keygen` may create it.
    pub missing: bool,
}

impl DkimConfig {
    /// Whether any key is configured.
    pub fn enabled(&self) -> bool {
        !self.key_file.is_empty() || !self.ed25519_key_file.is_empty() || !self.keys.is_empty()
    }

    /// Every configured key as (domain, selector, key file, algorithm): the list domain's
    /// keys of `[dkim]` first, then `[[dkim.keys]]`.
    pub fn all_keys(&self) -> impl Iterator<Item = (&str, &str, &str, KeyAlgorithm)> {
        [
            (&self.selector, &self.key_file, KeyAlgorithm::Rsa),
            (
                &self.ed25519_selector,
                &self.ed25519_key_file,
                KeyAlgorithm::Ed25519,
            ),
        ]
        .into_iter()
        .filter(|(_, file, _)| !file.is_empty())
        .map(|(selector, file, algorithm)| {
            (
                self.domain.as_str(),
                selector.as_str(),
                file.as_str(),
                algorithm,
            )
        })
        .chain(self.keys.iter().map(|key| {
            (
                key.domain.as_str(),
                key.selector.as_str(),
                key.key_file.as_str(),
                key.algorithm,
            )
        }))
    }
}

/// The web console.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Addresses that may sign in to the console whatever their roles on lists.
    pub admins: Vec<String>,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
}

impl WebConfig {
    /// Whether `ip` is one of the trusted reverse proxies.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies
            .iter()
            .any(|a| a.parse::<std::net::IpAddr>() == Ok(ip))
    }
}

/// Prometheus metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where `GET /metrics` answers, loopback by default; empty disables it.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9187".to_string(),
        }
    }
}

/// A duty the configuration gives an address on one list or publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    Owner,
    Moderator,
    Poster,
    Editor,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Owner => "owner",
            Duty::Moderator => "moderator",
            Duty::Poster => "poster",
            Duty::Editor => "editor",
        }
    }
}

/// One duty of an address: on which list or publication (its name and the name people
/// know it by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub title: String,
    pub duty: Duty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingPolicy {
    /// Only the addresses in `posters` may post.
    Announce,
    /// Only subscribers may post.
    Members,
    /// Anyone may post.
    Open,
    /// Subscribers may post, and every posting waits for a moderator.
    Moderated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionPolicy {
    Confirm,
    Approve,
    Members,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Confidential,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConfig {
    /// Local part of the list address: `name@domain`.
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// Language of the list's notices (`en`, `fr`, `es`, `pt`, `ar`).
    #[serde(default = "defaults::language")]
    pub language: String,
    pub posting: PostingPolicy,
    /// Addresses allowed to post to an `announce` list.
    #[serde(default)]
    pub posters: Vec<String>,
    pub subscription: SubscriptionPolicy,
    pub visibility: Visibility,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub moderators: Vec<String>,
    /// Added to the Subject of postings, e.g. `[info-en]`; never doubled on replies.
    #[serde(default)]
    pub subject_prefix: Option<String>,
    /// Text added at the end of every posting.
    #[serde(default)]
    pub footer: Option<String>,
    /// This list's own `[dmarc] rewrite_from`; `None` follows the global setting.
    #[serde(default)]
    pub rewrite_from: Option<FromRewrite>,
    /// Senders let through whatever `posting` says (Mailman's accept_these_nonmembers).
    #[serde(default)]
    pub accept_these: AddressPatterns,
    /// Senders whose postings wait for a moderator.
    #[serde(default)]
    pub hold_these: AddressPatterns,
    /// Senders refused during the SMTP transaction.
    #[serde(default)]
    pub reject_these: AddressPatterns,
    /// Senders whose postings are dropped without a word.
    #[serde(default)]
    pub discard_these: AddressPatterns,
    /// Largest posting in bytes, as received; a larger one is held. 0: the server's limit only.
    #[serde(default)]
    pub max_message_size: u64,
    /// MIME types of attachments the list takes (`application/pdf`, `image/*`); empty: any.
    #[serde(default)]
    pub allowed_types: Vec<String>,
    /// Largest attachment in bytes, decoded; 0: no limit of its own.
    #[serde(default)]
    pub max_part_size: u64,
    /// What happens to a posting with an attachment the list does not take.
    #[serde(default)]
    pub attachment_action: AttachmentAction,
    /// When members who chose a daily digest get it: cron with seconds, read in `time_zone`.
    #[serde(default = "defaults::digest_daily")]
    pub digest_daily: String,
    /// When members who chose a weekly digest get it, likewise.
    #[serde(default = "defaults::digest_weekly")]
    pub digest_weekly: String,
    /// The IANA time zone the list's digest schedules are read in.
    #[serde(default = "defaults::time_zone")]
    pub time_zone: String,
}

impl ListConfig {
    /// Whether `address` may decide on the list's held postings: its owners and its
    /// moderators, by email reply and in the web console alike.
    pub fn may_moderate(&self, address: &str) -> bool {
        self.owners
            .iter()
            .chain(&self.moderators)
            .any(|person| person.eq_ignore_ascii_case(address))
    }

    /// The schedule of the list's digests of `kind`; validation has checked that it parses.
    pub fn digest_schedule(
        &self,
        kind: crate::store::DigestKind,
    ) -> Result<cron::Schedule, cron::error::Error> {
        match kind {
            crate::store::DigestKind::Daily => self.digest_daily.parse(),
            crate::store::DigestKind::Weekly => self.digest_weekly.parse(),
        }
    }

    /// The list's time zone; validation has checked that it parses.
    pub fn tz(&self) -> Result<chrono_tz::Tz, chrono_tz::ParseError> {
        self.time_zone.parse()
    }

    /// Whether `address` is one of the list's owners.
    pub fn is_owner(&self, address: &str) -> bool {
        self.owners
            .iter()
            .any(|person| person.eq_ignore_ascii_case(address))
    }
}

impl Config {
    /// Reads the file, applies the `TIDINGS_*` environment overrides and validates the
    /// result, the key files it names read by `keys`.
    pub fn load(path: &Path, keys: &dyn KeyFiles) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, path, std::env::vars(), keys)
    }

    /// Parses TOML text, applies overrides from `vars` (name, value) and validates.
    pub fn from_toml(
        text: &str,
        path: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
        keys: &dyn KeyFiles,
    ) -> Result<Config, ConfigError> {
        let mut value: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        env::apply_overrides(&mut value, vars)?;
        let mut config: Config = Config::deserialize(value).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if config.server.hostname.is_empty() {
            config.server.hostname = config.server.domain.clone();
        }
        if config.dkim.domain.is_empty() {
            config.dkim.domain = config.server.domain.clone();
        }
        if config.delivery.node_name.is_empty() {
            config.delivery.node_name = hostname::get()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "tidings".into());
        }
        validate::validate(&config, path, keys)?;
        config.publication_lists = config
            .publications
            .iter()
            .map(PublicationConfig::subscription_list)
            .collect();
        Ok(config)
    }

    /// Settings that work but should be put right, for `check-config` and the log.
    pub fn warnings(&self) -> Vec<Problem> {
        validate::warnings(self)
    }

    /// Whether `list`'s postings go out under its own address: its own setting, or else
    /// the `[dmarc]` one.
    pub fn rewrite_from(&self, list: &ListConfig) -> FromRewrite {
        list.rewrite_from.unwrap_or(self.dmarc.rewrite_from)
    }

    /// A list, or the list through which a publication is subscribed to.
    pub fn list(&self, name: &str) -> Option<&ListConfig> {
        self.lists
            .iter()
            .chain(&self.publication_lists)
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The addresses and links of this daemon, signed with `signer`.
    pub fn links<'a>(&'a self, signer: &'a Signer) -> Links<'a> {
        Links::new(&self.server.domain, &self.server.base_url, signer)
    }

    /// The address mail to `postmaster@` and `abuse@` is forwarded to: `server.postmaster`,
    /// or the first owner of the first list (validation makes sure there is one).
    pub fn postmaster(&self) -> &str {
        if !self.server.postmaster.is_empty() {
            return &self.server.postmaster;
        }
        self.lists
            .iter()
            .flat_map(|list| list.owners.first())
            .next()
            .map_or("", String::as_str)
    }

    /// Whether `address` is one of `[web] admins`.
    pub fn is_admin(&self, address: &str) -> bool {
        self.web
            .admins
            .iter()
            .any(|admin| admin.eq_ignore_ascii_case(address))
    }

    /// Every duty the configuration gives `address`, lists first, in the file's order. A
    /// publication's editors are the owners of its subscription list too; they are named
    /// once, as editors.
    pub fn duties_of(&self, address: &str) -> Vec<Assignment> {
        let named = |people: &[String]| people.iter().any(|p| p.eq_ignore_ascii_case(address));
        let mut duties = Vec::new();
        for list in &self.lists {
            for (people, duty) in [
                (&list.owners, Duty::Owner),
                (&list.moderators, Duty::Moderator),
                (&list.posters, Duty::Poster),
            ] {
                if named(people) {
                    duties.push(Assignment {
                        name: list.name.clone(),
                        title: list.display_name.clone(),
                        duty,
                    });
                }
            }
        }
        for publication in &self.publications {
            if named(&publication.editors) {
                duties.push(Assignment {
                    name: publication.name.clone(),
                    title: publication.title.clone(),
                    duty: Duty::Editor,
                });
            }
        }
        duties
    }

    pub fn publication(&self, name: &str) -> Option<&PublicationConfig> {
        self.publications
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Parsed listener address, or `None` when the listener is disabled. Validation has
    /// already checked that a non-empty value parses.
    pub fn listen_addr(value: &str) -> Option<SocketAddr> {
        if value.is_empty() {
            None
        } else {
            value.parse().ok()
        }
    }
}

impl Directory for Config {
    fn list(&self, name: &str) -> Option<&str> {
        Config::list(self, name).map(|list| list.name.as_str())
    }

    fn publication(&self, name: &str) -> Option<&str> {
        Config::publication(self, name).map(|publication| publication.name.as_str())
    }

    fn postmaster_list(&self) -> Option<&str> {
        self.lists.first().map(|list| list.name.as_str())
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            host: "127.0.0.1".into(),
            port: 25,
            tls: TlsMode::None,
            username: String::new(),
            password: String::new(),
            pool_size: 4,
            max_recipients_per_transaction: 50,
            connect_timeout_seconds: 30,
            greeting_timeout_seconds: 300,
            command_timeout_seconds: 300,
            data_start_timeout_seconds: 120,
            data_end_timeout_seconds: 600,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_initial_seconds: 300,
            retry_doublings: 4,
            retry_max_seconds: 3 * 3600,
            lifetime_seconds: 5 * 24 * 3600,
            destination_concurrency: 10,
            destination_backoff_seconds: 60,
            lease_seconds: 300,
            batch_size: 200,
            poll_interval_ms: 1000,
            node_name: String::new(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://data/tidings.db".into(),
            max_connections: 8,
        }
    }
}

mod defaults {
    pub fn smtp_listen() -> String {
        "127.0.0.1:2525".into()
    }
    pub fn http_listen() -> String {
        "127.0.0.1:8080".into()
    }
    pub fn max_message_size() -> usize {
        10 * 1024 * 1024
    }
    pub fn max_line_length() -> usize {
        998
    }
    pub fn max_recipients() -> usize {
        100
    }
    pub fn max_connections() -> usize {
        200
    }
    pub fn max_connections_per_ip() -> usize {
        20
    }
    pub fn idle_timeout_seconds() -> u64 {
        300
    }
    pub fn session_timeout_seconds() -> u64 {
        1800
    }
    pub fn min_data_rate() -> u64 {
        500
    }
    pub fn max_data_memory() -> usize {
        256 * 1024 * 1024
    }
    pub fn max_http_connections() -> usize {
        256
    }
    pub fn http_header_timeout_seconds() -> u64 {
        10
    }
    pub fn http_request_timeout_seconds() -> u64 {
        30
    }
    pub fn templates_dir() -> String {
        "templates".into()
    }
    pub fn language() -> String {
        "en".into()
    }
    /// 06:00 every day, before the working day starts.
    pub fn digest_daily() -> String {
        "0 0 6 * * *".into()
    }
    /// 06:00 on Mondays (named: the cron crate counts weekdays from 1 = Sunday).
    pub fn digest_weekly() -> String {
        "0 0 6 * * Mon".into()
    }
    pub fn time_zone() -> String {
        "UTC".into()
    }
}

/// Secrets stay out of logs and debug output.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("secret", &"<redacted>")
            .field("server", &self.server)
            .field("relay", &self.relay)
            .field("delivery", &self.delivery)
            .field("database", &"<redacted>")
            .field("subscriptions", &self.subscriptions)
            .field("moderation", &self.moderation)
            .field("retention", &self.retention)
            .field("cluster", &self.cluster)
            .field("dns", &self.dns)
            .field("authentication", &self.authentication)
            .field("dmarc", &self.dmarc)
            .field("bounces", &self.bounces)
            .field("dkim", &self.dkim)
            .field("web", &self.web)
            .field("lists", &self.lists)
            .field("publications", &self.publications)
            .finish()
    }
}

impl std::fmt::Debug for RelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

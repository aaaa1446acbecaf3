//! The running daemon: listeners, expander and delivery workers around one store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::authentication::dns::{Dns, DnsSetupError};
use crate::authentication::Authenticator;
use crate::config::Config;
use crate::delivery;
use crate::descriptors;
use crate::dkim::{Dkim, KeyError};
use crate::inbound::accept::ListHandler;
use crate::inbound::{DataBudget, Extensions, Limits, Protocol, Server};
use crate::notices::{Notices, TemplateError};
use crate::publications::clock::{Clock, SystemClock};
use crate::publications::render::{self as edition_render, PublicationTemplates};
use crate::publications::{self, Publications};
use crate::runner;
use crate::signals::Signals;
use crate::store::{Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::tokens::{generate_secret, Signer};
use crate::web;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    #[error("{0}; set server.templates_dir (TIDINGS_SERVER_TEMPLATES_DIR) to the templates directory, or start tidings from the directory that holds templates/")]
    Templates(#[from] TemplateError),
    #[error("{0}; set server.templates_dir (TIDINGS_SERVER_TEMPLATES_DIR) to the templates directory, or start tidings from the directory that holds templates/")]
    PublicationTemplates(#[from] edition_render::TemplateError),
    #[error("{0}; fix the [dkim] settings (`tidings check-config` shows how; `tidings dkim keygen` makes a key)")]
    Dkim(#[from] KeyError),
    #[error("cannot listen on {addr} (server.{setting}): {source}; is another process using it? Change {setting} or set TIDINGS_SERVER_{setting_upper}")]
    Bind {
        setting: &'static str,
        setting_upper: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started daemon. Dropping it does not stop it: call [`Daemon::shutdown`].
pub struct Daemon {
    pub smtp_addr: Option<SocketAddr>,
    pub lmtp_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    pub store: Store,
    /// The publications service the daemon's scheduler runs.
    pub publications: Arc<Publications>,
    /// The memory the mail listeners' messages in transit share.
    pub data_budget: Arc<DataBudget>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// The HMAC key: from the configuration, or generated once and kept in the database.
pub async fn signer(config: &Config, store: &Store) -> Result<Signer, StoreError> {
    if !config.secret.is_empty() {
        return Ok(Signer::new(&config.secret));
    }
    let secret = store
        .setting_or_insert("hmac_secret", generate_secret)
        .await?;
    Ok(Signer::new(&secret))
}

/// What the services are started from, each built once and shared.
struct Parts {
    config: Arc<Config>,
    store: Store,
    signer: Signer,
    dkim: Option<Arc<Dkim>>,
    notices: Arc<Notices>,
    authenticator: Arc<Authenticator>,
    subscriptions: Arc<Subscriptions>,
    publications: Arc<Publications>,
    signals: Signals,
    clock: Arc<dyn Clock>,
}

/// A service of the daemon: the tasks it starts from the shared parts.
type Service = fn(&Parts, &mut JoinSet<()>);

/// Every service but the listeners (which bind first, so that a port in use stops the start
/// before anything runs). Adding one is adding a line.
const SERVICES: [(&str, Service); 3] = [
    ("delivery", start_delivery),
    ("command runner", start_runner),
    ("publication scheduler", start_scheduler),
];

impl Daemon {
    pub async fn start(config: Config) -> Result<Daemon, DaemonError> {
        Daemon::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts with the scheduler going by `clock` (tests move it instead of waiting).
    pub async fn start_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        let config = Arc::new(config);
        descriptors::warn_if_short(&config);
        for warning in config.warnings() {
            tracing::warn!(key = %warning.key, "{warning}");
        }
        let (shutdown, shutdown_rx) = watch::channel(false);
        let parts = Parts::build(config, clock, shutdown_rx).await?;
        let mut tasks = JoinSet::new();
        let budget = Arc::new(DataBudget::new(parts.config.server.max_data_memory));
        let [smtp_addr, lmtp_addr] = start_mail_listeners(&parts, &budget, &mut tasks).await?;
        let http_addr = start_web(&parts, &mut tasks).await?;
        for (name, start) in SERVICES {
            start(&parts, &mut tasks);
            tracing::debug!(service = name, "started");
        }
        Ok(Daemon {
            smtp_addr,
            lmtp_addr,
            http_addr,
            store: parts.store,
            publications: parts.publications,
            data_budget: budget,
            shutdown,
            tasks,
        })
    }

    /// Stops accepting, lets workers finish the transaction in hand, and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("some tasks did not stop within 30 s; their claims will be retried");
            self.tasks.abort_all();
        }
        self.store.close().await;
    }
}

impl Parts {
    async fn build(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Parts, DaemonError> {
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        let released = store.release_claims_of(&config.delivery.node_name).await?;
        if released > 0 {
            tracing::info!(released, "resuming deliveries interrupted by the last stop");
        }
        let signer = signer(&config, &store).await?;
        let dkim = Dkim::from_config(&config.dkim)?.map(Arc::new);
        for (domain, selector, algorithm) in dkim.iter().flat_map(|dkim| dkim.selectors()) {
            let algorithm = algorithm.name();
            tracing::info!(domain, selector, algorithm, "signing with DKIM");
        }
        let notices = Arc::new(Notices::load(Arc::clone(&config))?);
        let dns = Arc::new(Dns::new(&config.dns)?);
        let authenticator = Arc::new(Authenticator::new(
            dns,
            config.authentication.clone(),
            config.server.hostname.clone(),
        ));
        let subscriptions = Arc::new(Subscriptions::new(
            Arc::clone(&config),
            store.clone(),
            signer.clone(),
            Arc::clone(&notices),
        ));
        let signals = Signals {
            accepted: Arc::new(Notify::new()),
            queued: Arc::new(Notify::new()),
            commands: Arc::new(Notify::new()),
            shutdown,
            poll_interval: Duration::from_millis(config.delivery.poll_interval_ms),
        };
        let templates = PublicationTemplates::load(
            std::path::Path::new(&config.server.templates_dir),
            &config.publications,
        )?;
        let publications = Arc::new(Publications::new(publications::Parts {
            config: Arc::clone(&config),
            store: store.clone(),
            signer: signer.clone(),
            notices: Arc::clone(&notices),
            templates: Arc::new(templates),
            clock: Arc::clone(&clock),
            queued: Some(Arc::clone(&signals.queued)),
        }));
        Ok(Parts {
            config,
            store,
            signer,
            dkim,
            notices,
            authenticator,
            subscriptions,
            publications,
            signals,
            clock,
        })
    }
}

fn start_delivery(parts: &Parts, tasks: &mut JoinSet<()>) {
    delivery::start(
        &parts.config,
        &parts.store,
        &parts.signer,
        (&parts.notices, &parts.authenticator),
        parts.dkim.as_ref(),
        &parts.signals,
        tasks,
    );
}

fn start_runner(parts: &Parts, tasks: &mut JoinSet<()>) {
    tasks.spawn(runner::run(
        Arc::clone(&parts.subscriptions),
        Arc::clone(&parts.publications),
        parts.signals.clone(),
    ));
}

fn start_scheduler(parts: &Parts, tasks: &mut JoinSet<()>) {
    tasks.spawn(publications::scheduler::run(
        Arc::clone(&parts.publications),
        Arc::clone(&parts.clock),
        parts.signals.clone(),
    ));
}

/// The SMTP and LMTP listeners, each unless its setting is empty; their addresses.
async fn start_mail_listeners(
    parts: &Parts,
    budget: &Arc<DataBudget>,
    tasks: &mut JoinSet<()>,
) -> Result<[Option<SocketAddr>; 2], DaemonError> {
    let config = &parts.config;
    let handler = Arc::new(ListHandler::new(
        Arc::clone(config),
        parts.store.clone(),
        parts.signer.clone(),
        Arc::clone(&parts.authenticator),
        parts
            .dkim
            .as_ref()
            .is_some_and(|dkim| dkim.sealer().is_some()),
        parts.signals.clone(),
    ));
    let shutdown = &parts.signals.shutdown;
    let smtp = ("smtp_listen", config.server.smtp_listen.as_str());
    let lmtp = ("lmtp_listen", config.server.lmtp_listen.as_str());
    let with = (config.as_ref(), &handler, budget);
    Ok([
        start_mail_listener(smtp, Protocol::Smtp, with, shutdown, tasks).await?,
        start_mail_listener(lmtp, Protocol::Lmtp, with, shutdown, tasks).await?,
    ])
}

/// The HTTP listener, unless its setting is empty; its address.
async fn start_web(
    parts: &Parts,
    tasks: &mut JoinSet<()>,
) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(addr) = Config::listen_addr(&parts.config.server.http_listen) else {
        return Ok(None);
    };
    let listener = bind("http_listen", addr).await?;
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, "listening for HTTP");
    tasks.spawn(web::serve(
        listener,
        Arc::clone(&parts.subscriptions),
        Arc::clone(&parts.publications),
        web::Limits::of(&parts.config.server),
        parts.signals.shutdown.clone(),
    ));
    Ok(local)
}

/// Binds one SMTP or LMTP listener (unless its setting is empty) and starts serving it.
async fn start_mail_listener(
    (setting, value): (&'static str, &str),
    protocol: Protocol,
    (config, handler, budget): (&Config, &Arc<ListHandler>, &Arc<DataBudget>),
    shutdown: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(addr) = Config::listen_addr(value) else {
        return Ok(None);
    };
    let listener = bind(setting, addr).await?;
    let local = listener.local_addr().ok();
    tracing::info!(addr = ?local, ?protocol, "listening");
    let server = Arc::new(Server {
        protocol,
        hostname: config.server.hostname.clone(),
        limits: limits(config, protocol),
        extensions: Extensions::ALL,
        handler: Arc::clone(handler),
        budget: Arc::clone(budget),
    });
    tasks.spawn(server.serve(listener, shutdown.clone()));
    Ok(local)
}

fn limits(config: &Config, protocol: Protocol) -> Limits {
    let server = &config.server;
    Limits {
        max_message_size: server.max_message_size,
        max_line_length: server.max_line_length,
        max_recipients: server.max_recipients,
        max_connections: server.max_connections,
        // Every LMTP session comes from the front MTA: a limit per address would be a limit
        // on all mail.
        max_connections_per_ip: match protocol {
            Protocol::Smtp => Some(server.max_connections_per_ip),
            Protocol::Lmtp => None,
        },
        idle_timeout: Duration::from_secs(server.idle_timeout_seconds),
        session_timeout: Duration::from_secs(server.session_timeout_seconds),
        min_data_rate: server.min_data_rate,
    }
}

async fn bind(setting: &'static str, addr: SocketAddr) -> Result<TcpListener, DaemonError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| DaemonError::Bind {
            setting,
            setting_upper: setting.to_ascii_uppercase(),
            addr,
            source,
        })
}

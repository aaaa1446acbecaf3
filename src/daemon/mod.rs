//! The running daemon: listeners, expander and delivery workers around one store.

mod figures;
mod readiness;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::authentication::dns::{Dns, DnsSetupError};
use crate::authentication::Authenticator;
use crate::cluster::{self, Membership, NodeIdentity};
use crate::config::Config;
use crate::delivery;
use crate::delivery::destinations::Destinations;
use crate::descriptors;
use crate::digests::Digests;
use crate::dkim::{Dkim, KeyError};
use crate::health::RelayContact;
use crate::inbound::accept::ListHandler;
use crate::inbound::{DataBudget, Extensions, Limits, Protocol, Server};
use crate::notices::{Notices, TemplateError};
use crate::publications::clock::{Clock, SystemClock};
use crate::publications::render::{self as edition_render, PublicationTemplates};
use crate::publications::{self, Publications};
use crate::retention;
use crate::runner;
use crate::signals::Signals;
use crate::store::{Store, StoreError};
use crate::subscriptions::Subscriptions;
use crate::supervisor::{Policy, Supervisor};
use crate::tokens::{generate_secret, Signer};
use crate::web;
use crate::web::readiness::Readiness;

use crate::web::metrics::Metrics;
use figures::DaemonMetrics;
use readiness::DaemonReadiness;

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
    #[error("cannot listen on {addr} ({setting}): {source}; is another process using it? Change {setting} or set {variable}")]
    Bind {
        setting: &'static str,
        variable: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started daemon. Dropping it does not stop it: call [`Daemon::shutdown`].
pub struct Daemon {
    pub smtp_addr: Option<SocketAddr>,
    pub lmtp_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    /// Where `/metrics` answers, unless `[metrics] listen` is empty.
    pub metrics_addr: Option<SocketAddr>,
    pub store: Store,
    /// The publications service the daemon's scheduler runs.
    pub publications: Arc<Publications>,
    /// The digests service the daemon's digest scheduler runs.
    pub digests: Arc<Digests>,
    /// The memory the mail listeners' messages in transit share.
    pub data_budget: Arc<DataBudget>,
    shutdown: watch::Sender<bool>,
    tasks: Supervisor,
    /// The listening sockets, which a reload hands to the next configuration.
    sockets: Sockets,
    /// How fast each destination may be sent to, which a reload carries over too.
    destinations: Arc<Destinations>,
    /// This process among the daemons on the database, the same across reloads.
    node: Arc<NodeIdentity>,
    membership: Arc<Membership>,
}

/// What a daemon hands the next on a reload: its listening sockets, so that connections
/// are taken all along, every destination's pacing, and the node it is.
pub struct Carried {
    listeners: Vec<Listener>,
    destinations: Arc<Destinations>,
    node: Arc<NodeIdentity>,
    membership: Arc<Membership>,
}

/// A daemon that gave its sockets away and is finishing what it had in progress: sessions
/// and requests under its configuration, each worker's transaction in hand.
pub struct Draining {
    tasks: Supervisor,
    /// Retired and closed once the tasks end when stopping for good (the node's remaining
    /// claims are then due at once). On a reload it is not: the node goes on under the next
    /// configuration, and mail sessions in progress hold the store and may still commit
    /// what they receive; it closes when the last of them ends.
    closing: Option<(Store, Arc<NodeIdentity>)>,
}

impl Draining {
    /// Waits for what was in progress to end (30 s at most).
    pub async fn finish(mut self) {
        let joining = self.tasks.join(Duration::from_secs(30));
        let joined = match &self.closing {
            // Stopping for good: the node beats on until its workers are done.
            Some((store, node)) => cluster::beating_while(store, node, joining).await,
            // A reload: the next configuration's heartbeat goes on for the node.
            None => joining.await,
        };
        if !joined {
            tracing::warn!("some tasks did not stop within 30 s; their claims will be retried");
        }
        if let Some((store, node)) = self.closing {
            cluster::retire(&store, &node).await;
            store.close().await;
        }
    }
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
    /// This daemon's node id as commands' and bounces' claims carry it (its `node`'s).
    claimer: Arc<str>,
    store: Store,
    signer: Signer,
    dkim: Option<Arc<Dkim>>,
    notices: Arc<Notices>,
    authenticator: Arc<Authenticator>,
    subscriptions: Arc<Subscriptions>,
    publications: Arc<Publications>,
    digests: Arc<Digests>,
    signals: Signals,
    clock: Arc<dyn Clock>,
    /// When a delivery worker last reached the relay, for the readiness check.
    relay_contact: Arc<RelayContact>,
    destinations: Arc<Destinations>,
    node: Arc<NodeIdentity>,
    membership: Arc<Membership>,
}

/// What the listeners are started with besides the parts.
struct Starting<'a> {
    tasks: &'a mut Supervisor,
    sockets: &'a mut Sockets,
}

/// A service of the daemon: the tasks it starts from the shared parts.
type Service = fn(&Parts, &mut Supervisor);

/// Every service but the listeners (which bind first, so that a port in use stops the start
/// before anything runs). Adding one is adding a line.
const SERVICES: [(&str, Service); 6] = [
    ("heartbeat", start_heartbeat),
    ("delivery", start_delivery),
    ("command runner", start_runner),
    ("publication scheduler", start_scheduler),
    ("digest scheduler", start_digests),
    ("retention", start_retention),
];

impl Daemon {
    pub async fn start(config: Config) -> Result<Daemon, DaemonError> {
        Daemon::start_from(config, Arc::new(SystemClock), None).await
    }

    /// Starts with the scheduler going by `clock` (tests move it instead of waiting).
    pub async fn start_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Daemon, DaemonError> {
        Daemon::start_from(config, clock, None).await
    }

    /// Starts with what the daemon of the previous configuration handed over.
    pub async fn start_carrying(config: Config, carried: Carried) -> Result<Daemon, DaemonError> {
        Daemon::start_from(config, Arc::new(SystemClock), Some(carried)).await
    }

    async fn start_from(
        config: Config,
        clock: Arc<dyn Clock>,
        carried: Option<Carried>,
    ) -> Result<Daemon, DaemonError> {
        let config = Arc::new(config);
        descriptors::warn_if_short(&config);
        for warning in config.warnings() {
            tracing::warn!(key = %warning.key, "{warning}");
        }
        let delivery = &config.delivery;
        let (concurrency, backoff) = (
            delivery.destination_concurrency,
            delivery.destination_backoff_seconds,
        );
        let (mut sockets, cluster) = match carried {
            Some(carried) => {
                carried.destinations.reconfigure(concurrency, backoff);
                let cluster = Cluster {
                    destinations: carried.destinations,
                    node: carried.node,
                    membership: carried.membership,
                    joined: true,
                };
                (Sockets::carrying(carried.listeners), cluster)
            }
            None => {
                let membership = Arc::new(Membership::default());
                let destinations =
                    Destinations::new(concurrency, backoff).shared_by(Arc::clone(&membership));
                let cluster = Cluster {
                    destinations,
                    node: Arc::new(NodeIdentity::new(&config.delivery.node_name)),
                    membership,
                    joined: false,
                };
                (Sockets::default(), cluster)
            }
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let parts = Parts::build(config, clock, shutdown_rx, cluster).await?;
        let mut tasks = Supervisor::new(Policy::default(), parts.signals.shutdown.clone());
        let budget = Arc::new(DataBudget::new(parts.config.server.max_data_memory));
        let starting = &mut Starting {
            tasks: &mut tasks,
            sockets: &mut sockets,
        };
        let [smtp_addr, lmtp_addr] = start_mail_listeners(&parts, &budget, starting).await?;
        let http_addr = start_web(&parts, starting).await?;
        let metrics_addr = start_metrics(&parts, starting).await?;
        for (name, start) in SERVICES {
            start(&parts, &mut tasks);
            tracing::debug!(service = name, "started");
        }
        Ok(Daemon {
            smtp_addr,
            lmtp_addr,
            http_addr,
            metrics_addr,
            store: parts.store,
            publications: parts.publications,
            digests: parts.digests,
            data_budget: budget,
            shutdown,
            tasks,
            sockets,
            destinations: parts.destinations,
            node: parts.node,
            membership: parts.membership,
        })
    }

    /// Resolves with the name of a task that kept failing, once one has: the daemon is then
    /// missing a part and should be stopped and started afresh.
    pub fn given_up(&self) -> impl std::future::Future<Output = String> + Send + 'static {
        self.tasks.given_up()
    }

    /// Stops accepting (closing the sockets), lets workers finish the transaction in hand,
    /// and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        Draining {
            tasks: self.tasks,
            closing: Some((self.store, self.node)),
        }
        .finish()
        .await;
    }

    /// Stops, keeping the listening sockets open for the next configuration: what it hands
    /// over, and what is still finishing. Nothing here refuses a connection: until the next
    /// daemon accepts, the kernel queues them.
    pub async fn hand_over(self) -> (Carried, Draining) {
        self.sockets.keep_open();
        let _ = self.shutdown.send(true);
        for listener in &self.sockets.open {
            if !listener.given_back(Duration::from_secs(5)).await {
                tracing::warn!(addr = %listener.local, "a listener kept its socket; the next configuration binds the address anew");
            }
        }
        let carried = Carried {
            listeners: self.sockets.open,
            destinations: self.destinations,
            node: self.node,
            membership: self.membership,
        };
        let draining = Draining {
            tasks: self.tasks,
            closing: None,
        };
        (carried, draining)
    }
}

impl Parts {
    async fn build(
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        shutdown: watch::Receiver<bool>,
        cluster: Cluster,
    ) -> Result<Parts, DaemonError> {
        let store = Store::open(&config.database.url, config.database.max_connections).await?;
        // A reload goes on as the same node, whose claims are its workers' in hand.
        if !cluster.joined {
            cluster::join(&store, &cluster.node).await?;
        }
        let claimer: Arc<str> = Arc::from(cluster.node.id());
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
        let digests = Arc::new(Digests::new(
            Arc::clone(&config),
            store.clone(),
            Arc::clone(&notices),
            Arc::clone(&clock),
            Some(Arc::clone(&signals.queued)),
        ));
        Ok(Parts {
            config,
            claimer,
            store,
            signer,
            dkim,
            notices,
            authenticator,
            subscriptions,
            publications,
            digests,
            signals,
            clock,
            relay_contact: Arc::default(),
            destinations: cluster.destinations,
            node: cluster.node,
            membership: cluster.membership,
        })
    }
}

/// The node a daemon is, and what it shares with the others; carried over on a reload.
struct Cluster {
    destinations: Arc<Destinations>,
    node: Arc<NodeIdentity>,
    membership: Arc<Membership>,
    /// Registered already: the daemon is a reload of a running one.
    joined: bool,
}

fn start_heartbeat(parts: &Parts, tasks: &mut Supervisor) {
    let heartbeat = cluster::Heartbeat {
        node: Arc::clone(&parts.node),
        store: parts.store.clone(),
        takeover: Duration::from_secs(parts.config.cluster.takeover_seconds),
        membership: Arc::clone(&parts.membership),
        signals: parts.signals.clone(),
    };
    tasks.spawn("heartbeat", move || cluster::run(heartbeat.clone()));
}

fn start_delivery(parts: &Parts, tasks: &mut Supervisor) {
    delivery::start(
        &parts.config,
        &parts.store,
        &parts.signer,
        (&parts.notices, &parts.authenticator, &parts.relay_contact),
        (parts.dkim.as_ref(), &parts.destinations, &parts.node),
        &parts.signals,
        tasks,
    );
}

fn start_runner(parts: &Parts, tasks: &mut Supervisor) {
    let (subscriptions, publications) = (&parts.subscriptions, &parts.publications);
    let (subscriptions, publications) = (Arc::clone(subscriptions), Arc::clone(publications));
    let (signals, node) = (parts.signals.clone(), Arc::clone(&parts.claimer));
    tasks.spawn("command runner", move || {
        runner::run(
            Arc::clone(&subscriptions),
            Arc::clone(&publications),
            signals.clone(),
            Arc::clone(&node),
        )
    });
}

fn start_scheduler(parts: &Parts, tasks: &mut Supervisor) {
    let (publications, clock) = (Arc::clone(&parts.publications), Arc::clone(&parts.clock));
    let signals = parts.signals.clone();
    tasks.spawn("publication scheduler", move || {
        publications::scheduler::run(
            Arc::clone(&publications),
            Arc::clone(&clock),
            signals.clone(),
        )
    });
}

fn start_digests(parts: &Parts, tasks: &mut Supervisor) {
    let digests = Arc::clone(&parts.digests);
    let signals = parts.signals.clone();
    tasks.spawn("digest scheduler", move || {
        crate::digests::run(Arc::clone(&digests), signals.clone())
    });
}

fn start_retention(parts: &Parts, tasks: &mut Supervisor) {
    let (store, clock) = (parts.store.clone(), Arc::clone(&parts.clock));
    let (settings, signals) = (parts.config.retention.clone(), parts.signals.clone());
    tasks.spawn("retention", move || {
        retention::run(
            store.clone(),
            settings.clone(),
            Arc::clone(&clock),
            signals.clone(),
        )
    });
}

/// The SMTP and LMTP listeners, each unless its setting is empty; their addresses.
async fn start_mail_listeners(
    parts: &Parts,
    budget: &Arc<DataBudget>,
    starting: &mut Starting<'_>,
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
    let smtp = ("server.smtp_listen", config.server.smtp_listen.as_str());
    let lmtp = ("server.lmtp_listen", config.server.lmtp_listen.as_str());
    let with = (config.as_ref(), &handler, budget);
    Ok([
        start_mail_listener(smtp, Protocol::Smtp, with, shutdown, starting).await?,
        start_mail_listener(lmtp, Protocol::Lmtp, with, shutdown, starting).await?,
    ])
}

/// The HTTP listener, unless its setting is empty; its address.
async fn start_web(
    parts: &Parts,
    starting: &mut Starting<'_>,
) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(addr) = Config::listen_addr(&parts.config.server.http_listen) else {
        return Ok(None);
    };
    let listener = starting.sockets.open("server.http_listen", addr).await?;
    let release = starting.sockets.release();
    let local = listener.local;
    tracing::info!(addr = ?local, "listening for HTTP");
    let (subscriptions, publications) = (&parts.subscriptions, &parts.publications);
    let (subscriptions, publications) = (Arc::clone(subscriptions), Arc::clone(publications));
    let limits = web::Limits::of(&parts.config.server);
    let shutdown = parts.signals.shutdown.clone();
    let readiness: Arc<dyn Readiness> = Arc::new(DaemonReadiness {
        store: parts.store.clone(),
        relay: parts.config.relay.clone(),
        relay_contact: Arc::clone(&parts.relay_contact),
        liveness: starting.tasks.liveness(),
    });
    starting.tasks.spawn("HTTP listener", move || {
        let (listener, release) = (listener.clone(), release.clone());
        let (subscriptions, publications) = (Arc::clone(&subscriptions), Arc::clone(&publications));
        let (readiness, shutdown) = (Arc::clone(&readiness), shutdown.clone());
        async move {
            if let Some(socket) = listener.take().await {
                let release = release.to(&listener);
                let (services, limits) = ((subscriptions, publications, readiness), limits);
                web::serve(socket, services, limits, shutdown, release).await;
            }
        }
    });
    Ok(Some(local))
}

/// The metrics listener, unless its setting is empty (or the process records no metrics);
/// its address.
async fn start_metrics(
    parts: &Parts,
    starting: &mut Starting<'_>,
) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(addr) = Config::listen_addr(&parts.config.metrics.listen) else {
        return Ok(None);
    };
    let Some(handle) = figures::recorder() else {
        return Ok(None);
    };
    let listener = starting.sockets.open("metrics.listen", addr).await?;
    let release = starting.sockets.release();
    let local = listener.local;
    tracing::info!(addr = ?local, "serving metrics");
    let figures: Arc<dyn Metrics> = Arc::new(DaemonMetrics {
        store: parts.store.clone(),
        handle,
    });
    let limits = web::Limits::of(&parts.config.server);
    let shutdown = parts.signals.shutdown.clone();
    starting.tasks.spawn("metrics listener", move || {
        let (listener, figures, shutdown) =
            (listener.clone(), Arc::clone(&figures), shutdown.clone());
        let release = release.clone();
        async move {
            if let Some(socket) = listener.take().await {
                let release = release.to(&listener);
                web::metrics::serve(socket, figures, limits, shutdown, release).await;
            }
        }
    });
    Ok(Some(local))
}

/// Binds one SMTP or LMTP listener (unless its setting is empty) and starts serving it.
async fn start_mail_listener(
    (setting, value): (&'static str, &str),
    protocol: Protocol,
    (config, handler, budget): (&Config, &Arc<ListHandler>, &Arc<DataBudget>),
    shutdown: &watch::Receiver<bool>,
    starting: &mut Starting<'_>,
) -> Result<Option<SocketAddr>, DaemonError> {
    let Some(addr) = Config::listen_addr(value) else {
        return Ok(None);
    };
    let listener = starting.sockets.open(setting, addr).await?;
    let release = starting.sockets.release();
    let local = listener.local;
    tracing::info!(addr = ?local, ?protocol, "listening");
    let server = Arc::new(Server {
        protocol,
        hostname: config.server.hostname.clone(),
        limits: limits(config, protocol),
        extensions: Extensions::ALL,
        handler: Arc::clone(handler),
        budget: Arc::clone(budget),
    });
    let shutdown = shutdown.clone();
    let name = match protocol {
        Protocol::Smtp => "SMTP listener",
        Protocol::Lmtp => "LMTP listener",
    };
    starting.tasks.spawn(name, move || {
        let (listener, server, shutdown) =
            (listener.clone(), Arc::clone(&server), shutdown.clone());
        let release = release.clone();
        async move {
            if let Some(socket) = listener.take().await {
                server.serve(socket, shutdown, release.to(&listener)).await;
            }
        }
    });
    Ok(Some(local))
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

/// A listening socket bound at start, so that a port in use stops the start; a listener
/// task started again after a failure binds the same address anew, since the socket went
/// with the failed task. On a reload the task gives the socket back here, for the next
/// configuration's listener to take.
#[derive(Clone)]
pub struct Listener {
    setting: &'static str,
    local: SocketAddr,
    bound: Arc<std::sync::Mutex<Option<TcpListener>>>,
    given_back: Arc<Notify>,
}

impl Listener {
    async fn bind(setting: &'static str, addr: SocketAddr) -> Result<Listener, DaemonError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| DaemonError::Bind {
                setting,
                variable: format!("TIDINGS_{}", setting.replace('.', "_").to_ascii_uppercase()),
                addr,
                source,
            })?;
        let local = listener.local_addr().unwrap_or(addr);
        Ok(Listener {
            setting,
            local,
            bound: Arc::new(std::sync::Mutex::new(Some(listener))),
            given_back: Arc::new(Notify::new()),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<TcpListener>> {
        // The slot is only ever swapped whole: a panic elsewhere cannot leave it half-written.
        self.bound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The socket bound at start (or given back by the previous configuration's task), a
    /// new one on the same address after a failure; `None` (logged) when the address cannot
    /// be bound again, which the supervisor counts as a failure.
    async fn take(&self) -> Option<TcpListener> {
        if let Some(bound) = self.slot().take() {
            return Some(bound);
        }
        match TcpListener::bind(self.local).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::error!(addr = %self.local, %error, "cannot listen again");
                None
            }
        }
    }

    fn give_back(&self, socket: TcpListener) {
        *self.slot() = Some(socket);
        self.given_back.notify_one();
    }

    /// Whether the socket is back within `limit`.
    async fn given_back(&self, limit: Duration) -> bool {
        let back = async {
            while self.slot().is_none() {
                self.given_back.notified().await;
            }
        };
        tokio::time::timeout(limit, back).await.is_ok()
    }
}

/// The daemon's listening sockets: those the previous configuration handed over, to be
/// taken again, and those open for this one.
#[derive(Default)]
struct Sockets {
    carried: Vec<Listener>,
    open: Vec<Listener>,
    /// Set when handing over: the listener tasks then give their sockets back instead of
    /// closing them.
    keep: Arc<AtomicBool>,
}

/// What a listener task does with its socket when it stops.
#[derive(Clone)]
struct Release {
    keep: Arc<AtomicBool>,
}

impl Release {
    fn to(&self, listener: &Listener) -> impl FnOnce(TcpListener) {
        let (keep, listener) = (Arc::clone(&self.keep), listener.clone());
        move |socket| {
            if keep.load(Ordering::SeqCst) {
                listener.give_back(socket);
            }
        }
    }
}

impl Sockets {
    fn carrying(carried: Vec<Listener>) -> Sockets {
        Sockets {
            carried,
            ..Sockets::default()
        }
    }

    /// The socket of `setting`: the one carried over, else one bound to `addr`. (A reload
    /// keeps the listen settings, so a carried socket is on the configured address.)
    async fn open(
        &mut self,
        setting: &'static str,
        addr: SocketAddr,
    ) -> Result<Listener, DaemonError> {
        let carried = self.carried.iter().position(|l| l.setting == setting);
        let listener = match carried {
            Some(index) => self.carried.swap_remove(index),
            None => Listener::bind(setting, addr).await?,
        };
        self.open.push(listener.clone());
        Ok(listener)
    }

    fn release(&self) -> Release {
        Release {
            keep: Arc::clone(&self.keep),
        }
    }

    fn keep_open(&self) {
        self.keep.store(true, Ordering::SeqCst);
    }
}

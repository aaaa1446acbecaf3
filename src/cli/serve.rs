//! `tidings serve`: runs the daemon until SIGTERM or SIGINT, which let the transactions in
//! progress finish and their outcomes be recorded before the process exits.
//!
//! SIGHUP reloads the configuration file: it is read and validated first, and a file with
//! problems is reported and ignored. A valid one replaces the running configuration without
//! refusing a connection: the running daemon hands its listening sockets and its pacing of
//! destinations to a daemon started with the new configuration, which takes new
//! connections at once, while the old one finishes the sessions, requests and transactions
//! it had in progress, under the configuration they started with (nothing in flight is
//! lost: accepted mail and the queue are in the database). The listen addresses and the
//! database stay as they were: a change to those needs a restart.
//!
//! A task of the daemon that keeps failing (see `supervisor`) makes `serve` stop and exit
//! with an error, for systemd's `Restart=` to start it afresh.

use std::path::Path;

use crate::config::Config;
use crate::daemon::Daemon;
use crate::descriptors;

enum Wanted {
    Stop,
    Reload,
}

pub async fn run(path: &Path, mut config: Config) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    // Every connection is an open file: take all the system allows before listening (the
    // daemon then warns if its caps do not fit).
    match descriptors::raise_limit() {
        Ok(Some(limits)) => tracing::info!(open_files = limits.soft, "limit on open files"),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "keeping the limit on open files"),
    }
    let mut daemon = Daemon::start(config.clone()).await?;
    // Daemons of earlier configurations finishing what they had in progress.
    let mut finishing = Vec::new();
    loop {
        let wanted = tokio::select! {
            wanted = signals.next() => wanted,
            task = daemon.given_up() => {
                daemon.shutdown().await;
                anyhow::bail!("the {task} kept failing (see the errors above); stopped so that the service manager starts tidings afresh");
            }
        };
        match wanted {
            Wanted::Stop => break,
            Wanted::Reload => {
                let Some(new) = reload(path, &config) else {
                    continue;
                };
                tracing::info!("reloading: the sockets stay open, connections in progress finish under the old configuration");
                let (carried, draining) = daemon.hand_over().await;
                match Daemon::start_carrying(new.clone(), carried).await {
                    Ok(started) => {
                        daemon = started;
                        config = new;
                        tracing::info!(lists = config.lists.len(), "configuration reloaded");
                        // The new daemon takes connections while the old one's end.
                        finishing
                            .retain(|earlier: &tokio::task::JoinHandle<()>| !earlier.is_finished());
                        finishing.push(tokio::spawn(draining.finish()));
                    }
                    Err(error) => {
                        tracing::error!(%error, "the new configuration cannot run; going on with the previous one");
                        draining.finish().await;
                        daemon = Daemon::start(config.clone()).await?;
                    }
                }
            }
        }
    }
    tracing::info!("stopping: finishing transactions in progress");
    daemon.shutdown().await;
    for earlier in finishing {
        let _ = earlier.await;
    }
    Ok(())
}

/// The configuration file as it is now, with what cannot change live taken from `running`;
/// `None` (and the problems logged) when it is not valid.
fn reload(path: &Path, running: &Config) -> Option<Config> {
    let mut new = match Config::load(path, &crate::dkim::keys::Files) {
        Ok(new) => new,
        Err(error) => {
            tracing::error!(%error, "configuration not reloaded; the running one stays");
            return None;
        }
    };
    let fixed: [(&str, &mut String, &String); 4] = [
        (
            "server.smtp_listen",
            &mut new.server.smtp_listen,
            &running.server.smtp_listen,
        ),
        (
            "server.lmtp_listen",
            &mut new.server.lmtp_listen,
            &running.server.lmtp_listen,
        ),
        (
            "server.http_listen",
            &mut new.server.http_listen,
            &running.server.http_listen,
        ),
        ("database.url", &mut new.database.url, &running.database.url),
    ];
    for (setting, value, kept) in fixed {
        if value != kept {
            tracing::warn!(
                setting,
                "changed in the file but not on reload: restart tidings to apply it"
            );
            value.clone_from(kept);
        }
    }
    Some(new)
}

/// The signals `serve` answers to.
struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> Wanted {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            tokio::select! {
                _ = interrupt => Wanted::Stop,
                _ = self.terminate.recv() => Wanted::Stop,
                _ = self.hangup.recv() => Wanted::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = interrupt.await;
            Wanted::Stop
        }
    }
}

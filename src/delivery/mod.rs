//! Mail going out: [`expand`] turns an accepted message into one queued delivery per
//! recipient, [`worker`]s claim due deliveries and send them through the [`relay`], each
//! recipient getting its own [`render`]ed copy, and [`retry`] decides what a failure means.

pub mod expand;
pub mod relay;
pub mod render;
pub mod retry;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::config::Config;
use crate::store::Store;
use crate::tokens::Signer;

/// How the stages wake each other, and how they learn to stop.
#[derive(Clone)]
pub struct Signals {
    /// A message was committed by the inbound side.
    pub accepted: Arc<Notify>,
    /// Deliveries were queued.
    pub queued: Arc<Notify>,
    /// An email command was committed.
    pub commands: Arc<Notify>,
    pub shutdown: watch::Receiver<bool>,
    /// Fallback for work queued by another process on the same database.
    pub poll_interval: Duration,
}

/// Starts the expander and one worker per relay connection.
pub fn start(
    config: &Arc<Config>,
    store: &Store,
    signer: &Signer,
    signals: &Signals,
    tasks: &mut JoinSet<()>,
) {
    tasks.spawn(expand::run(
        Arc::clone(config),
        store.clone(),
        signals.clone(),
    ));
    for number in 0..config.relay.pool_size {
        let worker = worker::Worker {
            number,
            config: Arc::clone(config),
            store: store.clone(),
            signer: signer.clone(),
            signals: signals.clone(),
        };
        tasks.spawn(worker.run());
    }
}

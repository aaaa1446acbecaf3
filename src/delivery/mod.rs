//! Mail going out: [`expand`] turns an accepted message into one queued delivery per
//! recipient, [`worker`]s claim due deliveries and send them through the [`relay`], each
//! recipient getting its own [`render`]ed copy, paced per recipient domain by
//! [`destinations`]; [`retry`] decides what a failure means, [`outcomes`] records what
//! became of each copy as it happens, and [`expiry`] tells owners about deliveries that ran
//! out of retries.

pub mod destinations;
pub mod expand;
pub mod expiry;
pub mod outcomes;
pub mod relay;
pub mod render;
pub mod retry;
pub mod worker;

use std::sync::Arc;

use crate::authentication::Authenticator;
use crate::cluster::NodeIdentity;
use crate::config::Config;
use crate::dkim::Dkim;
use crate::health::RelayContact;
use crate::notices::Notices;
use crate::signals::Signals;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::tokens::Signer;

/// Starts the expander, one worker per relay connection, and the writer of their outcomes;
/// the workers claim in the name of `node` and pace their sending by `destinations`, which
/// outlive a reload.
pub fn start(
    config: &Arc<Config>,
    store: &Store,
    signer: &Signer,
    (notices, authenticator, relay_contact): (
        &Arc<Notices>,
        &Arc<Authenticator>,
        &Arc<RelayContact>,
    ),
    (dkim, destinations, node): (
        Option<&Arc<Dkim>>,
        &Arc<destinations::Destinations>,
        &Arc<NodeIdentity>,
    ),
    signals: &Signals,
    tasks: &mut Supervisor,
) {
    let expander = expand::Expander {
        config: Arc::clone(config),
        store: store.clone(),
        notices: Arc::clone(notices),
        authenticator: Arc::clone(authenticator),
        dkim: dkim.cloned(),
    };
    let signals_of_expander = signals.clone();
    tasks.spawn("expander", move || {
        expand::run(expander.clone(), signals_of_expander.clone())
    });
    let (outcomes, writer) = outcomes::writer(
        Arc::clone(config),
        store.clone(),
        Arc::clone(notices),
        config.relay.pool_size,
    );
    tasks.spawn("outcome writer", move || writer.clone().run());
    for number in 0..config.relay.pool_size {
        let worker = worker::Worker {
            number,
            node: Arc::clone(node),
            config: Arc::clone(config),
            store: store.clone(),
            signer: signer.clone(),
            dkim: dkim.cloned(),
            outcomes: outcomes.clone(),
            destinations: Arc::clone(destinations),
            relay_contact: Arc::clone(relay_contact),
            signals: signals.clone(),
        };
        tasks.spawn(format!("delivery worker {number}"), move || {
            worker.clone().run()
        });
    }
}

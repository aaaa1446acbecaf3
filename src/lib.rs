//! tidings: mailing lists and scheduled newsletters for organisations that talk through email.
//!
//! The path of a posting through the crate:
//! [`inbound`] (SMTP/LMTP sessions; [`links`] says where each address leads) → [`pipeline`]
//! (rules decide accept / hold / discard / reject) → [`store`] (committed before the 250,
//! with what acceptance learned of it) → [`delivery`] (decoration with the list's headers
//! and footer, expansion into one queued delivery per subscriber, workers that send through
//! the relay, retries).
//!
//! Modules are layered: each uses only modules of the layers above it in this list, never
//! one of its own layer or below, so that there are no circles and each can be read
//! knowing only what it stands on. `layering_tests` holds the code to this table.
//!
//! 1. Ground, using no other module: [`address`] (the address grammar, domains),
//!    [`health`] (what readiness is judged by),
//!    [`message`] (building messages, and editing a raw message's header), [`signals`]
//!    (waking and stopping stages), [`store`] (the database), [`supervisor`] (restarting
//!    tasks that fail), [`templating`] (reading templates, escaping HTML), [`tokens`] (signed
//!    tokens).
//! 2. [`links`]: every address and link tidings makes, and their reading back;
//!    [`cluster`]: this process's node identity among the daemons sharing the database,
//!    its heartbeat, and the take-over of dead nodes' claims.
//! 3. [`config`]: the configuration, plain data; checks that need more are asked of the
//!    layers below through traits ([`config::KeyFiles`], [`links::Directory`] the other way).
//! 4. What messages are made of and checked with: [`authentication`] (SPF, DKIM, DMARC,
//!    ARC on arrival), [`dkim`] (signing and sealing), [`notices`] (templated messages to
//!    people), [`descriptors`] (the file-descriptor budget).
//! 5. The lists' and newsletters' own rules: [`pipeline`] (a posting's fate and
//!    decoration), [`subscriptions`], [`publications`], [`list_archive`] (what each list
//!    said, as its members received it).
//! 6. What acts on those: [`bounces`], [`moderation`], [`inbound`] (the SMTP/LMTP
//!    listeners), [`retention`] (purging what has served its purpose), [`digests`] (a
//!    list's postings together, daily or weekly, for the members who chose it).
//! 7. The workers: [`delivery`], [`runner`] (mail to the lists' own addresses), [`web`].
//! 8. [`daemon`]: starts and stops the services.
//! 9. [`cli`]: the commands.
//!
//! What only tests and benchmarks need (the loopback sink they relay into, the
//! `tidings-bench` program) is the workspace crate `testkit/`, outside the daemon's binary.

pub mod address;
pub mod authentication;
pub mod bounces;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod descriptors;
pub mod digests;
pub mod dkim;
pub mod health;
pub mod inbound;
pub mod links;
pub mod list_archive;
pub mod message;
pub mod moderation;
pub mod notices;
pub mod pipeline;
pub mod publications;
pub mod retention;
pub mod runner;
pub mod signals;
pub mod store;
pub mod subscriptions;
pub mod supervisor;
pub mod templating;
pub mod tokens;
pub mod web;

#[cfg(test)]
mod layering_tests;

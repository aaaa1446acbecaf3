//! tidings: mailing lists and scheduled newsletters for organisations that talk through email.
//!
//! The path of a posting through the crate:
//! [`inbound`] (SMTP/LMTP sessions, address routing) → [`pipeline`] (rules decide accept /
//! discard / reject; decoration adds the list's headers and footer) → [`store`] (committed
//! before the 250) → [`delivery`] (expansion into one queued delivery per subscriber, workers
//! that send through the relay, retries).

pub mod address;
pub mod authentication;
pub mod bounces;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod delivery;
pub mod descriptors;
pub mod dkim;
pub mod inbound;
pub mod links;
pub mod message;
pub mod moderation;
pub mod notices;
pub mod pipeline;
pub mod publications;
pub mod runner;
pub mod signals;
pub mod sink;
pub mod store;
pub mod subscriptions;
pub mod tokens;
pub mod web;

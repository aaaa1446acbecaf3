//! tidings' integration tests, in one binary so that the whole dependency tree is linked
//! once: each module is one area, run against real sockets on loopback and, where storage is
//! involved, on both SQLite and PostgreSQL (see `common::on_both_databases`).
//!
//! Run one area with a filter, e.g. `cargo test --test it relay::` or
//! `cargo test --test it bounce_samples -- --nocapture`.

// First, so that its `on_both_databases!` is in scope in every module after it.
#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod bounce_corpus;
mod bounce_samples;
mod bounces;
mod browser;
mod cli;
mod cluster;
mod confidential;
mod console;
mod console_account;
mod console_audit;
mod console_editions;
mod console_held;
mod console_roster;
mod crash;
mod digests;
mod dkim;
mod health;
mod hostile;
mod limits;
mod list_archive;
mod logs;
mod moderation;
mod once;
mod policies;
mod postfix;
mod publication_templates;
mod publication_web;
mod publications;
mod relay;
mod retention;
mod screenshots;
mod signals;
mod subscriptions;

//! tidings as an attacker meets it: raw bytes on real SMTP, LMTP and HTTP sockets on
//! loopback, against the test configuration, on both databases. Each module covers one way
//! in that was found open, and says what it sends and what it must see.

mod accept_these;
mod amplification;
mod commands;
mod http;
mod planted_results;
mod postmaster;
mod privileged;
mod roster;
mod slow_clients;
mod smuggling;
